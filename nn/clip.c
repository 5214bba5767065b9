/* clip.c: global-norm clipping, two flat loops over the store's gradient block.
 *
 * Read next: optim.c.
 */
#include "nn/clip.h"

#include <math.h>

double tg_grad_norm(tg_params *ps)
{
    const tg_real *g = tg_params_grads(ps);
    size_t n = tg_params_numel(ps);
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += (double)g[i] * (double)g[i]; // Σ g²
    return sqrt(sum);
}

double tg_clip_grad_norm(tg_params *ps, double max_norm)
{
    if (!(max_norm >= 0)) return NAN;
    double norm = tg_grad_norm(ps);
    if (!isfinite(norm) || norm <= max_norm) return norm;
    double scale = max_norm / norm;
    tg_real *g = tg_params_grads(ps);
    size_t n = tg_params_numel(ps);
    for (size_t i = 0; i < n; i++) g[i] = (tg_real)((double)g[i] * scale); // g *= max / norm
    return norm;
}
