/* blis.c: which BLIS kernels tg_matmul runs.
 *
 * Debian 12's BLIS 0.9.0 holds kernels for many CPUs and picks one configuration at start-up
 * from the CPU's family and model; a CPU it does not know (AMD Zen 5, family 0x1A) gets the
 * portable `generic` kernels, several times slower. Its own override, BLIS_ARCH_TYPE, aborts the
 * process in 0.9.0. The static archive exposes the registry of configuration contexts
 * (bli_gks_lookup_id; meson then defines TG_BLIS_GKS), and bli_?gemm_ex takes a context, so
 * tapegrad chooses the context itself, once, and passes it to every product.
 *
 * Invariant: the context in use always belongs to a configuration this CPU (and its OS) can
 * run; every name is checked against the CPU's features, since running a context whose
 * instructions the CPU lacks ends in SIGILL. Without the registry, or off x86-64, only BLIS's
 * own choice exists and the context is NULL (BLIS's default).
 *
 * The context passed is tapegrad's own copy of BLIS's for the chosen kernels, with the cache
 * blocksizes changed where measurement on a CPU family found better ones (`tunings` below); the
 * kernels are never changed. The copies are made once and never written after, so a product
 * running on another thread while tg_blis_select changes the choice still reads a whole context.
 * With skx's kernels, products (tgi_blis_gemm) hand BLIS tapegrad's packing of 32-row panels
 * (pack32 below), which BLIS 0.9.0's context has no slot for: the same values, moved sooner.
 *
 * How many threads each product uses is ops/threads.c's business.
 *
 * Read next: ops/matmul.c, the one caller of BLIS's products.
 */
#include "ops/matmul.h"

#include "ops/internal.h"

#include <blis.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#endif
#if TGI_SIMD
#include <immintrin.h>
#endif
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

#if defined(TG_BLIS_GKS) && defined(__x86_64__) && defined(__GNUC__)
#define CAN_CHOOSE 1
#else
#define CAN_CHOOSE 0
#endif

/* Why the kernels in use were chosen; the low byte of `choice`. */
enum {
    WHY_BLIS,           /* BLIS's own detection, kept */
    WHY_AUTO_AVX512,    /* BLIS fell back to generic; we took skx */
    WHY_AUTO_AVX2,      /* BLIS fell back to generic; we took haswell */
    WHY_AUTO_NONE,      /* BLIS fell back to generic; nothing faster can run */
    WHY_SELECTED,       /* tg_blis_select(name) */
    WHY_ENV,            /* TG_BLIS_ARCH=name */
    WHY_FIXED,          /* this build cannot choose */
    ENV_IGNORED = 0x80, /* flag: TG_BLIS_ARCH was set but unusable (env_note says why) */
};

static const char *const why_text[] = {
    [WHY_BLIS] = "BLIS's choice",
    [WHY_AUTO_AVX512] = "BLIS does not recognise this CPU; AVX-512 present",
    [WHY_AUTO_AVX2] = "BLIS does not recognise this CPU; AVX2 and FMA present",
    [WHY_AUTO_NONE] = "BLIS does not recognise this CPU; no AVX2/FMA, generic kept",
    [WHY_SELECTED] = "chosen by tg_blis_select",
    [WHY_ENV] = "chosen by TG_BLIS_ARCH",
#ifdef TG_BLIS_GKS
    [WHY_FIXED] = "BLIS's choice; tapegrad chooses kernels on x86-64 only",
#else
    [WHY_FIXED] = "BLIS's choice; the shared BLIS library does not let tapegrad choose",
#endif
};

static once_flag init_once = ONCE_FLAG_INIT;
static atomic_int choice;  /* (arch_t << 8) | WHY_* [| ENV_IGNORED] */
static arch_t blis_arch;   /* what BLIS detected; written once by init */
static char env_note[128]; /* why TG_BLIS_ARCH was ignored; written once by init */

static int pack(arch_t id, int why)
{
    return (int)id << 8 | why;
}

#if CAN_CHOOSE
/* The configurations tapegrad will run, with the instructions each needs. The haswell and zen
 * kernels need AVX2 and FMA; their configurations are compiled with -march=haswell/znverN,
 * which lets GCC use BMI2 in ordinary code, so that is checked too (virtual machines hide it
 * at times). __builtin_cpu_supports also checks that the OS saves the AVX/AVX-512 registers. */
static int runs_avx(void)
{
    return __builtin_cpu_supports("avx");
}

static int runs_avx2(void)
{
    return runs_avx() && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("bmi2");
}

static int runs_avx512(void)
{
    return runs_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl");
}

static int runs_anything(void)
{
    return 1;
}

static const struct kernels {
    const char *name;
    arch_t id;
    int (*cpu_runs)(void);
} whitelist[] = {
    {"skx", BLIS_ARCH_SKX, runs_avx512},              /* Skylake-X and later, Zen 4/5 */
    {"zen3", BLIS_ARCH_ZEN3, runs_avx2},              /* AMD Zen 3 */
    {"zen2", BLIS_ARCH_ZEN2, runs_avx2},              /* AMD Zen 2 */
    {"zen", BLIS_ARCH_ZEN, runs_avx2},                /* AMD Zen */
    {"haswell", BLIS_ARCH_HASWELL, runs_avx2},        /* Intel Haswell to Comet Lake */
    {"sandybridge", BLIS_ARCH_SANDYBRIDGE, runs_avx}, /* Intel Sandy/Ivy Bridge */
    {"generic", BLIS_ARCH_GENERIC, runs_anything},    /* portable C */
};

enum { N_SETS = sizeof whitelist / sizeof whitelist[0] };

static int registered(arch_t id)
{
    cntx_t **c = bli_gks_lookup_id(id); /* NULL when this BLIS was built without it */
    return c && c[BLIS_NAT];
}

/* Cache blocksizes better than BLIS's for one kernel set on one CPU family; single precision
 * only (0: BLIS's value kept). BLIS splits a dimension into blocks of `def` unless what is left
 * is at most `max`, which then goes in one block.
 *
 * Zen 5 (AMD family 0x1A; 48 KB L1d, 1 MB L2 a core) with the skx kernels (MR 32, NR 12): KC up
 * to 768 instead of 480 reads an inner dimension of 481-768 (650, 700 in the PTB models) in one
 * pass instead of 384 + the rest; a micro-panel of B (768 x 12 floats, 36 KB) still fits L1.
 * bench_matmul --cpu-time 1, 1 thread, 2026-12-02: +3 to +8% (net of a same-blocks control,
 * five runs each) on ptb-medium's decoder, gate and weight-gradient products of k = 650 or 700,
 * no change past the noise elsewhere (benchmarks/README.md). A smaller MC gained as much again on some of these
 * shapes but lost 2-5% on (700 x 10000)·(10000 x 650), so BLIS's 480 stays. */
static const struct tuning {
    const char *vendor;
    unsigned family;
    arch_t id;
    dim_t kc_max;
} tunings[] = {
    {"AuthenticAMD", 0x1A, BLIS_ARCH_SKX, 768},
};

/* This CPU's vendor string and family (base + extended), from CPUID leaves 0 and 1. */
static unsigned cpu_family(char vendor[13])
{
    unsigned a, b, c, d;
    memset(vendor, 0, 13);
    if (!__get_cpuid(0, &a, &b, &c, &d)) return 0;
    memcpy(vendor, &b, 4), memcpy(vendor + 4, &d, 4), memcpy(vendor + 8, &c, 4);
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    unsigned base = (a >> 8) & 0xf;
    return base == 0xf ? base + ((a >> 20) & 0xff) : base;
}

/* The tuning of kernel set id on this CPU, or NULL. */
static const struct tuning *tuning_for(arch_t id)
{
    char vendor[13];
    unsigned family = cpu_family(vendor);
    for (size_t i = 0; i < sizeof tunings / sizeof tunings[0]; i++)
        if (tunings[i].id == id && tunings[i].family == family &&
            strcmp(tunings[i].vendor, vendor) == 0)
            return &tunings[i];
    return NULL;
}

/* tapegrad's copies of the registered contexts, tuned where `tunings` says; [i] for whitelist[i]. */
static cntx_t own[N_SETS];
static const struct tuning *tuned[N_SETS];

static void copy_contexts(void)
{
    for (size_t i = 0; i < N_SETS; i++) {
        if (!registered(whitelist[i].id)) continue;
        own[i] = *bli_gks_lookup_id(whitelist[i].id)[BLIS_NAT];
        tuned[i] = tuning_for(whitelist[i].id);
        if (tuned[i] && tuned[i]->kc_max > 0)
            bli_blksz_set_max(tuned[i]->kc_max, BLIS_FLOAT, bli_cntx_get_blksz(BLIS_KC, &own[i]));
    }
}

#if CAN_CHOOSE && TGI_SIMD
/* Packing the skx kernels' 32-row float micro-panels.
 *
 * Before BLIS's micro-kernel runs, each 32-row block of one operand (the one that ends up as A
 * after BLIS puts C by columns: for tapegrad's row-major products that is op(b) transposed) is
 * copied into a micro-panel: for each p along k, the 32 values of column p, contiguous. BLIS
 * 0.9.0's context has packing kernels only for panels of up to 31 rows, so for skx's MR = 32 it
 * falls back to a strided copy one column of 32 values at a time: 10-12% of the decoder and
 * gate products on Zen 5 (perf, benchmarks/README.md). A kernel given through the operands'
 * pack_params (bli_packm_blk_var1 reads it) replaces that: where the 32 rows are stored with k
 * contiguous, it loads 16 rows x 16 floats and transposes them in registers; where the panel's
 * columns are contiguous it copies them whole. Packing only moves values (kappa is 1 in
 * tapegrad's products; another kappa multiplies once, as BLIS does), so products are
 * bit-identical with and without it. Anything else goes to BLIS's own packer. */
static atomic_int packer_on = 1; /* tgi_blis_fast_pack */

/* The transpose of 16 rows of 16 floats: r[j][q] becomes r[q][j]. */
TGI_AVX512 TGI_INLINE void transpose16(__m512 r[16])
{
    __m512 t[16];
    for (int j = 0; j < 8; j++) {
        t[2 * j] = _mm512_unpacklo_ps(r[2 * j], r[2 * j + 1]);
        t[2 * j + 1] = _mm512_unpackhi_ps(r[2 * j], r[2 * j + 1]);
    }
    for (int j = 0; j < 4; j++) { /* lane L of r[4j+q]: rows 4j..4j+3 of column 4L+q */
        r[4 * j] = _mm512_shuffle_ps(t[4 * j], t[4 * j + 2], 0x44);
        r[4 * j + 1] = _mm512_shuffle_ps(t[4 * j], t[4 * j + 2], 0xEE);
        r[4 * j + 2] = _mm512_shuffle_ps(t[4 * j + 1], t[4 * j + 3], 0x44);
        r[4 * j + 3] = _mm512_shuffle_ps(t[4 * j + 1], t[4 * j + 3], 0xEE);
    }
    for (int q = 0; q < 4; q++) {
        __m512 a = _mm512_shuffle_f32x4(r[q], r[4 + q], 0x88);
        __m512 b = _mm512_shuffle_f32x4(r[q], r[4 + q], 0xDD);
        __m512 c = _mm512_shuffle_f32x4(r[8 + q], r[12 + q], 0x88);
        __m512 d = _mm512_shuffle_f32x4(r[8 + q], r[12 + q], 0xDD);
        t[q] = _mm512_shuffle_f32x4(a, c, 0x88);
        t[8 + q] = _mm512_shuffle_f32x4(a, c, 0xDD);
        t[4 + q] = _mm512_shuffle_f32x4(b, d, 0x88);
        t[12 + q] = _mm512_shuffle_f32x4(b, d, 0xDD);
    }
    for (int q = 0; q < 16; q++) r[q] = t[q];
}

/* The first n bits set (n <= 16). */
TGI_AVX512 TGI_INLINE __mmask16 first(dim_t n)
{
    return (__mmask16)((1u << n) - 1);
}

/* BLIS's packm kernel type (bli_packm_blk_var1 calls it once per micro-panel): rows
 * 0..dim-1 of the panel are c[i*incc + l*ldc] for l < len; p[i + l*ldp] gets them, zeros in rows
 * dim..dim_max-1 and in columns len..len_max-1. */
TGI_AVX512 static void pack32(struc_t struc, diag_t diag, uplo_t uplo, conj_t conj, pack_t schema,
                              bool invdiag, dim_t dim, dim_t len, dim_t dim_max, dim_t len_max,
                              dim_t dim_off, dim_t len_off, float *restrict kappa,
                              float *restrict c, inc_t incc, inc_t ldc, float *restrict p,
                              inc_t ldp, inc_t is_p, cntx_t *cntx, void *params)
{
    float k = *kappa;
    if (!bli_is_general(struc) || dim_max != 32 || ldp != 32 || k == 0 || (incc != 1 && ldc != 1) ||
        !atomic_load_explicit(&packer_on, memory_order_relaxed)) {
        bli_spackm_struc_cxk(struc, diag, uplo, conj, schema, invdiag, dim, len, dim_max, len_max,
                             dim_off, len_off, kappa, c, incc, ldc, p, ldp, is_p, cntx);
        return;
    }
    __m512 kv = _mm512_set1_ps(k);
    int scale = k != 1; /* rows past the edge stay +0, as BLIS leaves them */
    __mmask16 m0 = first(dim < 16 ? dim : 16), m1 = first(dim > 16 ? dim - 16 : 0);
    if (incc == 1) { /* columns contiguous: copy each */
        for (dim_t l = 0; l < len; l++) {
            __m512 v0 = _mm512_maskz_loadu_ps(m0, c + l * ldc);
            __m512 v1 = _mm512_maskz_loadu_ps(m1, c + l * ldc + 16);
            if (scale) v0 = _mm512_maskz_mul_ps(m0, v0, kv), v1 = _mm512_maskz_mul_ps(m1, v1, kv);
            _mm512_storeu_ps(p + l * 32, v0);
            _mm512_storeu_ps(p + l * 32 + 16, v1);
        }
    } else { /* k contiguous: 16 x 16 tiles, transposed */
        for (dim_t l = 0; l < len; l += 16) {
            dim_t w = len - l < 16 ? len - l : 16;
            __mmask16 mw = first(w);
            for (dim_t i0 = 0; i0 < 32; i0 += 16) {
                __m512 r[16];
                for (dim_t j = 0; j < 16; j++)
                    r[j] = i0 + j < dim ? _mm512_maskz_loadu_ps(mw, c + (i0 + j) * incc + l)
                                        : _mm512_setzero_ps();
                transpose16(r);
                for (dim_t q = 0; q < w; q++)
                    _mm512_storeu_ps(p + (l + q) * 32 + i0,
                                     scale ? _mm512_maskz_mul_ps(i0 ? m1 : m0, r[q], kv) : r[q]);
            }
        }
    }
    for (dim_t l = len; l < len_max; l++) { /* columns past the edge */
        _mm512_storeu_ps(p + l * 32, _mm512_setzero_ps());
        _mm512_storeu_ps(p + l * 32 + 16, _mm512_setzero_ps());
    }
}

/* The kernel, for BLIS's float operands, in the obj_t field bli_packm_blk_var1 reads. */
static packm_blk_var1_params_t pack_params = {.ukr_fn[BLIS_FLOAT][BLIS_FLOAT] =
                                                  (packm_ker_vft)pack32};
#endif

/* The whitelist index of kernel set id, or N_SETS for a set BLIS chose itself that tapegrad
 * does not list (knl, penryn, bulldozer...): that one runs with BLIS's own context. */
static size_t set_index(arch_t id)
{
    size_t i = 0;
    while (i < N_SETS && whitelist[i].id != id) i++;
    return i;
}

/* The packed choice for a whitelisted name, or TG_EINVAL / TG_ECPU. */
static int choose(const char *name, int why, int *packed)
{
    for (size_t i = 0; i < sizeof whitelist / sizeof whitelist[0]; i++) {
        if (strcmp(name, whitelist[i].name) != 0) continue;
        if (!registered(whitelist[i].id)) return TG_EINVAL;
        if (!whitelist[i].cpu_runs()) return TG_ECPU;
        *packed = pack(whitelist[i].id, why);
        return TG_OK;
    }
    return TG_EINVAL;
}

/* "auto": BLIS's choice unless it fell back to generic, then the best set this CPU runs. */
static int auto_choice(void)
{
    if (blis_arch != BLIS_ARCH_GENERIC) return pack(blis_arch, WHY_BLIS);
    if (registered(BLIS_ARCH_SKX) && runs_avx512()) return pack(BLIS_ARCH_SKX, WHY_AUTO_AVX512);
    if (registered(BLIS_ARCH_HASWELL) && runs_avx2()) return pack(BLIS_ARCH_HASWELL, WHY_AUTO_AVX2);
    return pack(BLIS_ARCH_GENERIC, WHY_AUTO_NONE);
}
#else
static int choose(const char *name, int why, int *packed)
{
    (void)name, (void)why, (void)packed;
    return TG_EINVAL;
}

static int auto_choice(void)
{
    return pack(blis_arch, WHY_FIXED);
}
#endif

static void init(void)
{
    bli_init();
#if CAN_CHOOSE
    __builtin_cpu_init();
#endif
    blis_arch = bli_arch_query_id();
#if CAN_CHOOSE
    copy_contexts();
#endif
    int packed = auto_choice(), chosen;
    const char *env = getenv("TG_BLIS_ARCH");
    if (env && *env && strcmp(env, "auto") != 0) {
        int rc = choose(env, WHY_ENV, &chosen);
        if (rc == TG_OK) {
            packed = chosen;
        } else {
            snprintf(env_note, sizeof env_note, "TG_BLIS_ARCH=\"%.24s\" ignored (%s), auto used",
                     env,
                     rc == TG_ECPU ? "this CPU lacks its instructions"
                                   : "not a kernel set tapegrad can choose");
            packed |= ENV_IGNORED;
        }
    }
    atomic_store(&choice, packed);
}

void *tgi_blis_context(void)
{
    call_once(&init_once, init);
#if CAN_CHOOSE
    size_t i = set_index((arch_t)(atomic_load(&choice) >> 8));
    return i < N_SETS && registered(whitelist[i].id) ? &own[i] : tgi_blis_stock_context();
#else
    return NULL;
#endif
}

/* Whether products of the context in use give BLIS pack32 (skx's, on a CPU running AVX-512). */
static int packs(const cntx_t *cx)
{
#if CAN_CHOOSE && TGI_SIMD
    size_t i = set_index(BLIS_ARCH_SKX);
    return i < N_SETS && cx == &own[i] && runs_avx512() &&
           atomic_load_explicit(&packer_on, memory_order_relaxed);
#else
    (void)cx;
    return 0;
#endif
}

int tgi_blis_fast_pack(int on)
{
#if CAN_CHOOSE && TGI_SIMD
    if (on >= 0) atomic_store(&packer_on, on != 0);
#else
    (void)on;
#endif
    return packs(tgi_blis_context());
}

tgi_fn tgi_blis_packer(void)
{
#if CAN_CHOOSE && TGI_SIMD
    call_once(&init_once, init);
    return runs_avx512() ? (tgi_fn)pack32 : NULL;
#else
    return NULL;
#endif
}

void tgi_blis_gemm(int ta, int tb, size_t m, size_t n, size_t k, const tg_real *a, const tg_real *b,
                   tg_real beta, tg_real *c, long threads)
{
    num_t dt = sizeof(tg_real) == sizeof(double) ? BLIS_DOUBLE : BLIS_FLOAT;
    tg_real one = 1;
    rntm_t rntm;
    bli_rntm_init_from_global(&rntm);
    bli_rntm_set_num_threads(threads, &rntm);
    /* BLIS's library makes the objects: its inline setters in blis.h shift into the sign bit,
     * which -fsanitize=undefined stops at when they are compiled here. */
    obj_t alpha_o, beta_o, a_o, b_o, c_o;
    bli_obj_create_1x1_with_attached_buffer(dt, &one, &alpha_o);
    bli_obj_create_1x1_with_attached_buffer(dt, &beta, &beta_o);
    bli_obj_create_with_attached_buffer(dt, (dim_t)(ta ? k : m), (dim_t)(ta ? m : k), (void *)a,
                                        (inc_t)(ta ? m : k), 1, &a_o);
    bli_obj_create_with_attached_buffer(dt, (dim_t)(tb ? n : k), (dim_t)(tb ? k : n), (void *)b,
                                        (inc_t)(tb ? k : n), 1, &b_o);
    bli_obj_create_with_attached_buffer(dt, (dim_t)m, (dim_t)n, c, (inc_t)n, 1, &c_o);
    bli_obj_set_conjtrans(ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, &a_o);
    bli_obj_set_conjtrans(tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, &b_o);
    cntx_t *cx = tgi_blis_context();
#if CAN_CHOOSE && TGI_SIMD
    if (packs(cx)) { /* BLIS only reads the parameters */
        bli_obj_set_pack_params(&pack_params, &a_o);
        bli_obj_set_pack_params(&pack_params, &b_o);
    }
#endif
    bli_gemm_ex(&alpha_o, &a_o, &b_o, &beta_o, &c_o, cx, &rntm);
}

void *tgi_blis_stock_context(void)
{
    call_once(&init_once, init);
#if CAN_CHOOSE
    cntx_t **c = bli_gks_lookup_id((arch_t)(atomic_load(&choice) >> 8));
    return c ? c[BLIS_NAT] : NULL;
#else
    return NULL;
#endif
}

/* name for a message: kernel set names are printable ASCII, so any other byte (a control
 * character from a file or the environment) shows as '?'; at most 32 bytes. */
static const char *printable(char out[33], const char *name)
{
    size_t i = 0;
    for (; name[i] && i < 32; i++) out[i] = name[i] >= 0x20 && name[i] < 0x7f ? name[i] : '?';
    out[i] = 0;
    return out;
}

int tg_blis_select(const char *name, tg_status *st)
{
    call_once(&init_once, init);
    if (!name) return tg_status_set(st, TG_EINVAL, "tg_blis_select: the name is NULL");
    int packed = auto_choice();
    int rc = strcmp(name, "auto") == 0 ? TG_OK : choose(name, WHY_SELECTED, &packed);
    if (rc == TG_OK) {
        atomic_store(&choice, packed);
        return TG_OK;
    }
    char shown[33];
    if (rc == TG_ECPU)
        return tg_status_set(st, rc,
                             "tg_blis_select: this CPU lacks the instructions of the \"%s\" "
                             "kernels; the choice is unchanged",
                             printable(shown, name));
    return tg_status_set(st, rc,
                         "tg_blis_select: \"%s\" is not a kernel set this build can choose "
                         "(auto, or one of skx zen3 zen2 zen haswell sandybridge generic that "
                         "this BLIS was built with); the choice is unchanged",
                         printable(shown, name));
}

/* ", KC up to 768 for this CPU" when the chosen kernels run with tuned blocksizes, else "". */
static const char *tuning_text(int c, char out[64])
{
    out[0] = 0;
#if CAN_CHOOSE
    size_t i = set_index((arch_t)(c >> 8));
    if (i < N_SETS && tuned[i])
        snprintf(out, 64, ", KC up to %ld for this CPU", (long)tuned[i]->kc_max);
#else
    (void)c;
#endif
    return out;
}

const char *tg_blis_config(void)
{
    static _Thread_local char line[400];
    call_once(&init_once, init);
    int c = atomic_load(&choice);
    const char *threading = bli_info_get_enable_openmp()     ? "openmp"
                            : bli_info_get_enable_pthreads() ? "pthreads"
                                                             : "single-threaded";
#ifdef TG_BLIS_GKS
    const char *linkage = "static";
#else
    const char *linkage = "shared";
#endif
    char threads[64];
    if (tgi_blis_threads() > 0)
        snprintf(threads, sizeof threads, "%d", tgi_blis_threads());
    else
        snprintf(threads, sizeof threads, "%ld (default: as many of %ld as are free)",
                 tgi_threads_now(), tgi_threads_ceiling());
    char tuning[64];
    snprintf(line, sizeof line,
             "BLIS %s (%s, %s), BLIS detected %s, kernels %s (%s%s%s%s), threads %s",
             bli_info_get_version_str(), threading, linkage, bli_arch_string(blis_arch),
             bli_arch_string((arch_t)(c >> 8)), why_text[c & 0x7f], c & ENV_IGNORED ? "; " : "",
             c & ENV_IGNORED ? env_note : "", tuning_text(c, tuning), threads);
    return line;
}
