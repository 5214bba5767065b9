#!/usr/bin/python3
"""run.py: tapegrad against PyTorch, configuration by configuration, one table.

    python3 benchmarks/run.py --build build                 # every configuration
    python3 benchmarks/run.py --configs ptb-small,char-h100-b1 --rounds 3
    python3 benchmarks/run.py --scaling ptb-small           # tokens/s and memory against T and B
    python3 benchmarks/run.py --dry-run                     # print the commands only
    python3 benchmarks/run.py --contend                     # with a busy process alongside
    python3 benchmarks/run.py --contend --paired 8          # default against 1 thread, in pairs

Each measurement is its own process, so peak RSS belongs to one configuration: tapegrad is
<build>/benchmarks/bench_train, PyTorch is benchmarks/torch_bench.py with 1 and with 2 threads.
Within a round the three alternate (their order flips every round, so neither side always runs
right after the other); --rounds repeats this and each side keeps its best median tokens/s,
which is the least disturbed by whatever else the machine is doing. Both programs end with a
`RESULT key=value ...` line, which is all this script reads. The table is markdown.

Only the standard library is used here; torch is needed by torch_bench.py alone, and when it is
missing the PyTorch columns stay empty.
"""
import argparse
import datetime
import os
import re
import shlex
import statistics
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TORCH_BENCH = os.path.join(HERE, "torch_bench.py")

# name: (T, B, target speed-up over PyTorch). Sizes are in bench_train.c and torch_bench.py.
CONFIGS = {
    "ptb-small": (20, 20, 3),
    "ptb-medium": (35, 20, 3),
    "char-h100-b1": (25, 1, 10),
    "char-h100-b32": (25, 32, 10),
    "char-h512-b32": (25, 32, 3),
    "ptb-small-gru": (20, 20, 3),
    "ptb-small-rnn": (20, 20, 3),
}
SCALING_T = (20, 50, 100, 200)
SCALING_B = (1, 8, 32, 128)
BUSY = [sys.executable, "-c", "while True: pass"]  # --contend's busy process
NO_TORCH = "python3-torch is not installed: apt-get install python3-torch (PyTorch columns left empty)"


def parse_args(argv):
    p = argparse.ArgumentParser(description="Benchmark tapegrad against PyTorch, side by side.")
    p.add_argument("--build", default="build", help="meson build directory (default: build)")
    p.add_argument("--configs", default="", help="comma-separated names (default: all)")
    p.add_argument("--rounds", type=int, default=2, help="alternations; best median kept")
    p.add_argument("--reps", type=int, default=5, help="timed repetitions per run")
    p.add_argument("--steps", type=int, default=10, help="training steps per repetition")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps per run")
    p.add_argument("--threads", default="",
                   help="tapegrad thread counts to try, e.g. 1,2; the better figure is kept "
                        "(default: BLIS's default count only)")
    p.add_argument("--torch-threads", default="1,2", help="PyTorch thread counts to try")
    p.add_argument("--peak", type=float, default=0.0,
                   help="one core's peak FP32 GFLOP/s (default: measured by bench_matmul)")
    p.add_argument("--scaling", metavar="CONFIG", help="T and B scaling table for CONFIG")
    p.add_argument("--python", default=sys.executable, help="interpreter for torch_bench.py")
    p.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    p.add_argument("--contend", action="store_true",
                   help="run a CPU-bound process beside every measurement and compare each "
                        "side's default thread count with 1 thread (and 2)")
    p.add_argument("--paired", type=int, default=0, metavar="N",
                   help="with --contend: instead of the table, N pairs a configuration of a "
                        "default-threads run and a 1-thread run (order alternating), and the "
                        "mean ratio with its standard error; --aa pairs 1 thread with itself")
    p.add_argument("--aa", action="store_true", help="with --paired: both runs of a pair 1 thread")
    a = p.parse_args(argv)
    names = [c for c in a.configs.split(",") if c] or list(CONFIGS)
    unknown = [c for c in names + ([a.scaling] if a.scaling else []) if c not in CONFIGS]
    if unknown:
        p.error("unknown configuration %s; known: %s" % (", ".join(unknown), ", ".join(CONFIGS)))
    a.names = names
    a.torch_threads = [int(n) for n in a.torch_threads.split(",") if n]
    a.tg_threads = [int(n) for n in a.threads.split(",") if n] or [0]
    if a.contend:  # the default (0), one thread and two, on each side
        a.tg_threads, a.torch_threads = [0, 1, 2], [1, 2]
    if (a.paired or a.aa) and not a.contend or a.aa and a.paired < 2 or a.paired < 0:
        p.error("--paired N (N >= 2 with --aa) goes with --contend; --aa with --paired")
    if a.rounds < 1 or not a.torch_threads or min(a.torch_threads) < 1 or (
            a.threads and min(a.tg_threads) < 1):
        p.error("--rounds and every --threads and --torch-threads count must be >= 1")
    return a


class Runner:
    """Builds the commands, runs them one at a time and remembers each side's best result."""

    def __init__(self, a):
        self.a = a
        self.bench_train = os.path.join(a.build, "benchmarks", "bench_train")
        self.bench_matmul = os.path.join(a.build, "benchmarks", "bench_matmul")
        self.have_tg = os.access(self.bench_train, os.X_OK)
        self.have_torch = a.dry_run or self.torch_importable()
        self.failed = False
        self.by_count = {}  # (point, side, threads asked) -> best result

    def torch_importable(self):
        r = subprocess.run([self.a.python, "-c", "import torch"], capture_output=True)
        return r.returncode == 0

    def common(self, T, B):
        """Options both programs take. In a scaling run each repetition covers about as many
        tokens as --steps steps of the configuration's own T and B, so T = 200, B = 128 does not
        take a hundred times longer than the base point."""
        a, steps, warmup = self.a, self.a.steps, self.a.warmup
        if a.scaling:
            T0, B0, _ = CONFIGS[a.scaling]
            steps = max(1, round(steps * T0 * B0 / (T * B)))
            warmup = max(1, round(warmup * T0 * B0 / (T * B))) if warmup else 0
        return ["--T", str(T), "--B", str(B), "--reps", str(a.reps), "--steps", str(steps),
                "--warmup", str(warmup)]

    def tg_cmd(self, name, T, B, n):
        cmd = [self.bench_train, "--config", name] + self.common(T, B)
        return cmd + (["--threads", str(n)] if n else [])

    def torch_cmd(self, name, T, B, n):
        return [self.a.python, TORCH_BENCH, "--config", name, "--threads", str(n)] + self.common(T, B)

    def run(self, cmd):
        """The RESULT fields of one run as a dict, or None (the failure is reported). With
        --contend a CPU-bound process runs from just before the command to its end."""
        if self.a.dry_run:
            print(("%s  # beside: %s" % (" ".join(shlex.quote(c) for c in cmd), " ".join(BUSY)))
                  if self.a.contend else " ".join(shlex.quote(c) for c in cmd))
            return None
        print("running: " + " ".join(shlex.quote(c) for c in cmd), file=sys.stderr, flush=True)
        busy = subprocess.Popen(BUSY) if self.a.contend else None
        try:
            r = subprocess.run(cmd, capture_output=True, text=True)
        finally:
            if busy:
                busy.kill()
                busy.wait()
        res = parse_result(r.stdout)
        if r.returncode != 0 or res is None:
            self.failed = True
            tail = (r.stderr or r.stdout).strip().splitlines()[-3:]
            print("  failed (exit %d): %s" % (r.returncode, " | ".join(tail)), file=sys.stderr)
            return None
        return res

    def measure(self, name, T, B, rnd):
        """One round for one point: tapegrad and PyTorch at each thread count, in turn."""
        jobs = []
        if self.have_tg or self.a.dry_run:
            jobs += [("tg", n, self.tg_cmd(name, T, B, n)) for n in self.a.tg_threads]
        if self.have_torch:
            jobs += [("torch", n, self.torch_cmd(name, T, B, n)) for n in self.a.torch_threads]
        if rnd % 2:
            jobs.reverse()
        return [(side, n, self.run(cmd)) for side, n, cmd in jobs]

    def best_of(self, points):
        """points: list of (name, T, B). Returns {(name, T, B): {"tg": res, "torch": res}}."""
        best = {p: {"tg": None, "torch": None} for p in points}
        for rnd in range(self.a.rounds):
            if self.a.dry_run:
                print("# round %d" % (rnd + 1))
            for p in points:
                for side, n, res in self.measure(*p, rnd):
                    if res and (best[p][side] is None or rate(res) > rate(best[p][side])):
                        best[p][side] = res
                    old = self.by_count.get((p, side, n))
                    if res and (old is None or rate(res) > rate(old)):
                        self.by_count[(p, side, n)] = res
        return best

    def peak_per_core(self):
        """One core's FP32 peak in GFLOP/s from bench_matmul's first lines, or None."""
        if self.a.peak > 0:
            return self.a.peak
        if self.a.dry_run:
            print(self.bench_matmul + "   # for the peak line only")
            return None
        if not os.access(self.bench_matmul, os.X_OK):
            return None
        print("running: %s (for its peak line)" % self.bench_matmul, file=sys.stderr, flush=True)
        # Line-buffered if stdbuf exists, so the peak arrives before the products are timed.
        cmd = (["stdbuf", "-oL"] if shutil.which("stdbuf") else []) + [self.bench_matmul]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        peak = None
        for line in p.stdout:  # the peak comes first; the rest of the run is not needed
            m = re.search(r"peak FP32.*?([0-9.]+) GFLOP/s", line)
            if m:
                peak = float(m.group(1))
                break
            if line.startswith("peak FP32"):  # "not measured"
                break
        p.kill()
        p.wait()
        return peak


def parse_result(text):
    """The key=value fields of the last RESULT line (values may be double-quoted)."""
    lines = [l for l in text.splitlines() if l.startswith("RESULT ")]
    if not lines:
        return None
    return {k: v1 if v1 else v2
            for k, v1, v2 in re.findall(r'(\w+)=(?:"([^"]*)"|(\S*))', lines[-1])}


def rate(res):
    return float(res["tokens_per_s"])


def cores_used(res):
    """Threads tapegrad's products ran on: the BLIS line's own count, else the flag, else 1."""
    m = re.search(r"threads (\d+)", res.get("blis", ""))
    n = int(m.group(1)) if m else int(res.get("threads", "0") or 0)
    return max(n, 1)


def machine_cores():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def with_threads(res):
    """ "4776 (2)": tokens/s and the thread count that gave them."""
    return "%.0f (%d)" % (rate(res), cores_used(res)) if res else ""


def fmt(x, spec="%.0f"):
    return "" if x is None else spec % x


def main_table(r, names, peak):
    a = r.a
    points = [(n, CONFIGS[n][0], CONFIGS[n][1]) for n in names]
    best = r.best_of(points)
    if a.dry_run:
        return
    print("| config | tapegrad tok/s (threads) | PyTorch tok/s (threads) | ratio | target | met "
          "| ratio bound | tapegrad peak RSS MB | PyTorch peak RSS MB | RSS ratio "
          "| tapegrad % of peak FP32 |")
    print("|---|---:|---:|---:|---:|:---:|---:|---:|---:|---:|---:|")
    for p in points:
        tg, pt = best[p]["tg"], best[p]["torch"]
        target = CONFIGS[p[0]][2]
        ratio = rate(tg) / rate(pt) if tg and pt else None
        rss_ratio = (float(tg["peak_rss_mb"]) / float(pt["peak_rss_mb"])) if tg and pt else None
        pct = bound = None
        if tg and peak:
            pct = 100.0 * float(tg["gemm_gflops"]) / (cores_used(tg) * peak)  # of its threads' peak
        if ratio is not None and peak and float(tg["gemm_gflops"]) > 0:
            bound = ratio * machine_cores() * peak / float(tg["gemm_gflops"])
        met = "" if ratio is None else ("pass" if ratio >= target else "FAIL")
        print("| %s | %s | %s | %s | %dx | %s | %s | %s | %s | %s | %s |" % (
            p[0], with_threads(tg), with_threads(pt),
            fmt(ratio, "%.2fx"), target, met, fmt(bound, "%.1fx"),
            fmt(tg and float(tg["peak_rss_mb"]), "%.1f"),
            fmt(pt and float(pt["peak_rss_mb"]), "%.1f"),
            fmt(rss_ratio, "%.2f"), fmt(pct, "%.1f%%")))
    facts(r, best, peak)


def contend_table(r, names):
    """--contend: each side's figure at each thread count, with a busy process alongside."""
    points = [(n, CONFIGS[n][0], CONFIGS[n][1]) for n in names]
    best = r.best_of(points)
    if r.a.dry_run:
        return
    print("With one CPU-bound process beside every run (%s):\n" % " ".join(BUSY))
    print("| config | tapegrad default (threads at the end) | tapegrad 1 thread | tapegrad 2 threads "
          "| default >= 1 thread | PyTorch 1 thread | PyTorch 2 threads |")
    print("|---|---:|---:|---:|:---:|---:|---:|")
    for p in points:
        got = {(side, n): r.by_count.get((p, side, n)) for side in ("tg", "torch") for n in (0, 1, 2)}
        d, one = got[("tg", 0)], got[("tg", 1)]
        ok = "" if not (d and one) else ("pass" if rate(d) >= rate(one) else "FAIL")
        print("| %s | %s | %s | %s | %s | %s | %s |" % (
            p[0], with_threads(d), fmt(one and rate(one)), fmt(got[("tg", 2)] and rate(got[("tg", 2)])),
            ok, fmt(got[("torch", 1)] and rate(got[("torch", 1)])),
            fmt(got[("torch", 2)] and rate(got[("torch", 2)]))))
    facts(r, best, None)


def paired_table(r, names):
    """--contend --paired N: tapegrad's default against 1 thread in N pairs a configuration, each
    run beside its own busy process, the pair's order alternating; the mean of the pairs'
    ratios and its standard error tell a difference from the run-to-run spread (which --aa,
    1 thread against itself, measures)."""
    a = r.a
    if not a.dry_run:
        print("| config | pairs | %s / 1 thread, mean (standard error) | median | %s median tok/s "
              "| 1 thread median tok/s |" % (("1 thread",) * 2 if a.aa else ("default",) * 2))
        print("|---|---:|---:|---:|---:|---:|")
    for name in names:
        T, B, _ = CONFIGS[name]
        first = r.tg_cmd(name, T, B, 1 if a.aa else 0)
        got = {0: [], 1: []}
        for i in range(a.paired):
            for side in ((0, 1) if i % 2 == 0 else (1, 0)):
                res = r.run(first if side == 0 else r.tg_cmd(name, T, B, 1))
                if res:
                    got[side].append(rate(res))
        if a.dry_run or len(got[0]) != a.paired or len(got[1]) != a.paired:
            continue
        q = [x / y for x, y in zip(got[0], got[1])]
        se = statistics.stdev(q) / len(q) ** 0.5 if len(q) > 1 else float("nan")
        print("| %s | %d | %.3f (%.3f) | %.3f | %.0f | %.0f |" % (
            name, len(q), statistics.mean(q), se, statistics.median(q),
            statistics.median(got[0]), statistics.median(got[1])))


def scaling_table(r, name, peak):
    T0, B0, _ = CONFIGS[name]
    points = [(name, T, B0) for T in SCALING_T] + [(name, T0, B) for B in SCALING_B]
    points = list(dict.fromkeys(points))
    best = r.best_of(points)
    if r.a.dry_run:
        return
    print("\nScaling of %s (T varies at B %d, then B varies at T %d):\n" % (name, B0, T0))
    print("| T | B | tapegrad tok/s (threads) | PyTorch tok/s (threads) | ratio "
          "| tapegrad peak RSS MB | PyTorch peak RSS MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for p in points:
        tg, pt = best[p]["tg"], best[p]["torch"]
        print("| %d | %d | %s | %s | %s | %s | %s |" % (
            p[1], p[2], with_threads(tg), with_threads(pt),
            fmt(rate(tg) / rate(pt) if tg and pt else None, "%.2fx"),
            fmt(tg and float(tg["peak_rss_mb"]), "%.1f"),
            fmt(pt and float(pt["peak_rss_mb"]), "%.1f")))
    facts(r, best, peak)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def facts(r, best, peak):
    tg = next((b["tg"] for b in best.values() if b["tg"]), None)
    pt = next((b["torch"] for b in best.values() if b["torch"]), None)
    cores = machine_cores()
    print()
    print("- machine: %s, %d cores available, load average %s (1, 5, 15 min) at the end"
          % (cpu_model(), cores, " ".join("%.2f" % x for x in os.getloadavg())))
    print("- date: %s" % datetime.datetime.now().strftime("%Y-%m-%d %H:%M"))
    if tg:
        print("- tapegrad: %s; best of --threads %s"
              % (re.sub(r", threads \d+$", "", tg.get("blis", "?")), r.a.threads or "default"))
    if peak:
        print("- peak FP32: %.1f GFLOP/s per core (%s); %% of peak = GEMM GFLOP/s of wall time "
              "/ (threads x that)" % (peak, "--peak" if r.a.peak > 0 else "bench_matmul's FMA loop"))
    if pt:
        print("- PyTorch %s, best of %s thread(s), its products through the system BLAS"
              % (pt.get("torch", "?"), ",".join(map(str, r.a.torch_threads))))
    print("- best of %d round(s); each run: %d warm-up steps, median of %d x %d steps%s"
          % (r.a.rounds, r.a.warmup, r.a.reps, r.a.steps,
             " (at the base T and B; scaled to the same tokens per repetition elsewhere)"
             if r.a.scaling else ""))


def main(argv):
    a = parse_args(argv)
    r = Runner(a)
    if not r.have_tg:
        print("%s not found: build it with `meson setup %s && meson compile -C %s`%s"
              % (r.bench_train, a.build, a.build,
                 " (commands below assume it exists)" if a.dry_run else
                 " (tapegrad columns left empty)"), file=sys.stderr)
    if not r.have_torch:
        print(NO_TORCH)
    peak = None if a.contend else r.peak_per_core()
    if a.paired:
        paired_table(r, a.names)
    elif a.contend:
        contend_table(r, a.names)
    elif a.scaling:
        scaling_table(r, a.scaling, peak)
    else:
        main_table(r, a.names, peak)
    return 1 if r.failed or not r.have_tg else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
