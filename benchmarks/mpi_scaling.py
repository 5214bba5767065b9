#!/usr/bin/python3
"""mpi_scaling.py: data-parallel speed on one machine: 1 rank x 1 thread, 2 ranks x 1 thread
(mpirun, the B rows shared) and 1 rank x 2 threads (BLIS and the library's threads), one table.

    python3 benchmarks/mpi_scaling.py --build build --data /work/shared/data/ptb/ptb.train.txt
    python3 benchmarks/mpi_scaling.py --configs ptb-medium --rounds 3 --dry-run

Each measurement is <build>/benchmarks/bench_train on the words of --data (its own vocabulary,
ids folded into the configuration's V), reporting the median tokens/s of --reps repetitions of
--steps windows after --warmup; the 2-rank run is `mpirun -np 2` and reports the tokens/s of
both ranks together, the share of its time spent in the gradient sum and, of that, the share
spent waiting for the other rank to arrive (the rest is the sum itself). Within a round
the three set-ups alternate (the order flips every round); each keeps its best median. The
table is markdown; the lines before it state the date, CPU and load. Standard library only.
"""
import argparse
import datetime
import os
import re
import shlex
import subprocess
import sys

SETUPS = ("1 rank x 1 thread", "2 ranks x 1 thread", "1 rank x 2 threads")


def parse_args(argv):
    p = argparse.ArgumentParser(description="tokens/s of 1 and 2 ranks and of 2 threads")
    p.add_argument("--build", default="build", help="meson build directory (default: build)")
    p.add_argument("--data", required=True, help="word-level training text, e.g. ptb.train.txt")
    p.add_argument("--configs", default="ptb-small,ptb-medium", help="comma-separated names")
    p.add_argument("--rounds", type=int, default=2, help="alternations; best median kept")
    p.add_argument("--reps", type=int, default=5, help="timed repetitions per run")
    p.add_argument("--steps", type=int, default=10, help="windows per repetition")
    p.add_argument("--warmup", type=int, default=3, help="untimed windows per run")
    p.add_argument("--mpirun", default="mpirun", help="the MPI launcher (default: mpirun)")
    p.add_argument("--dry-run", action="store_true", help="print the commands only")
    return p.parse_args(argv)


def command(a, config, setup):
    bench = [os.path.join(a.build, "benchmarks", "bench_train"), "--config", config, "--data",
             a.data, "--reps", str(a.reps), "--steps", str(a.steps), "--warmup", str(a.warmup)]
    if setup == SETUPS[1]:
        return [a.mpirun, "--allow-run-as-root", "--oversubscribe", "-np", "2"] + bench + [
            "--threads", "1"]
    return bench + ["--threads", "2" if setup == SETUPS[2] else "1"]


def run(cmd, threads):
    env = dict(os.environ, BLIS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    m = re.search(r"^RESULT (.*)$", r.stdout, re.M)
    if r.returncode != 0 or not m:
        sys.exit(f"failed: {shlex.join(cmd)}\n{r.stdout[-800:]}{r.stderr[-800:]}")
    return dict(re.findall(r'(\w+)=("[^"]*"|\S+)', m.group(1)))


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            return re.search(r"^model name\s*:\s*(.*)$", f.read(), re.M).group(1)
    except (OSError, AttributeError):
        return "unknown CPU"


def main(argv):
    a = parse_args(argv)
    configs = [c for c in a.configs.split(",") if c]
    if a.dry_run:
        for c in configs:
            for s in SETUPS:
                print(shlex.join(command(a, c, s)))
        return 0
    start = datetime.datetime.now(datetime.timezone.utc)
    load0 = os.getloadavg()
    best = {}  # (config, setup) -> RESULT fields of the best median
    for rnd in range(a.rounds):
        for c in configs:
            order = SETUPS if rnd % 2 == 0 else SETUPS[::-1]
            for s in order:
                res = run(command(a, c, s), 2 if s == SETUPS[2] else 1)
                key = (c, s)
                if key not in best or float(res["tokens_per_s"]) > float(
                        best[key]["tokens_per_s"]):
                    best[key] = res
    load1 = os.getloadavg()
    print(f"{start:%Y-%m-%d %H:%M} UTC, {cpu_model()}, {os.cpu_count()} CPUs; load average "
          f"{load0[0]:.1f} before, {load1[0]:.1f} after; {a.rounds} rounds of {a.reps} x "
          f"{a.steps} windows, best median kept; data {a.data}")
    print()
    print("| config | 1 rank x 1 thread (tok/s) | 2 ranks x 1 thread | speed-up | "
          "1 rank x 2 threads | speed-up | all-reduce share (2 ranks) | of which waiting | "
          "GEMM GFLOP/s (1 x 1) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for c in configs:
        one, two, thr = (float(best[(c, s)]["tokens_per_s"]) for s in SETUPS)
        frac = float(best[(c, SETUPS[1])]["allreduce_frac"])
        wait = float(best[(c, SETUPS[1])]["allreduce_wait_frac"])
        g = float(best[(c, SETUPS[0])]["gemm_gflops"])
        print(f"| {c} | {one:.0f} | {two:.0f} | {two / one:.2f}x | {thr:.0f} | {thr / one:.2f}x "
              f"| {100 * frac:.1f}% | {100 * wait:.1f}% | {g:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
