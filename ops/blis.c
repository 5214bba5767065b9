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
 * How many threads each product uses is ops/threads.c's business.
 *
 * Read next: ops/matmul.c, the one caller of BLIS's products.
 */
#include "ops/matmul.h"

#include "ops/internal.h"

#include <blis.h>
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

static int registered(arch_t id)
{
    cntx_t **c = bli_gks_lookup_id(id); /* NULL when this BLIS was built without it */
    return c && c[BLIS_NAT];
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
    return bli_gks_lookup_id((arch_t)(atomic_load(&choice) >> 8))[BLIS_NAT];
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
    snprintf(line, sizeof line,
             "BLIS %s (%s, %s), BLIS detected %s, kernels %s (%s%s%s), threads %s",
             bli_info_get_version_str(), threading, linkage, bli_arch_string(blis_arch),
             bli_arch_string((arch_t)(c >> 8)), why_text[c & 0x7f], c & ENV_IGNORED ? "; " : "",
             c & ENV_IGNORED ? env_note : "", threads);
    return line;
}
