#!/usr/bin/python3
"""torch_bench.py: the PyTorch side of benchmarks/bench_train, one configuration per process.

    torch_bench.py --config NAME [--T n] [--B n] [--reps n] [--steps n] [--warmup n]
                   [--threads n] [--seed n]

The model is the one bench_train trains, in float32 on the CPU: nn.Embedding(V, E), then
nn.LSTM / nn.GRU / nn.RNN(tanh)(E, H, L) with time first, then nn.Linear(H, V). One step is a
window of T tokens for each of B rows: forward, cross-entropy over the T*B predictions,
backward, clip_grad_norm_(5.0), SGD (lr 1.0), zero_grad. The hidden state is carried from one
window to the next and detached, as in truncated BPTT. Token ids are synthetic (fixed seed).

tokens/s is T*B*steps over the wall time of --steps steps, the median of --reps repetitions
after --warmup steps. Peak RSS is ru_maxrss of this process, which includes PyTorch's own
libraries (base_rss_mb is the resident size just after `import torch`): run one configuration
per process so the figure belongs to it. The last line is machine-readable for run.py:

    RESULT config=<name> tokens_per_s=<f> gemm_gflops=<f> peak_rss_mb=<f> base_rss_mb=<f>
           threads=<n> torch=<version> T=<n> B=<n>

Threads: torch.set_num_threads(n) sets PyTorch's own OpenMP pool, but Debian's PyTorch does its
matrix products through the system BLAS (BLIS here), which takes its thread count from
BLIS_NUM_THREADS / OMP_NUM_THREADS when it is loaded. Both are therefore set to n before
torch is imported, or --threads 2 would leave every GEMM on one core.
"""
import argparse
import os
import resource
import statistics
import sys
import time

# name: (cell, V, E, H, L, T, B), the same table as bench_train.c. The character models use an
# embedding of the hidden size (100 or 512) rather than one-hot inputs.
CONFIGS = {
    "ptb-small": ("lstm", 10000, 200, 200, 2, 20, 20),
    "ptb-medium": ("lstm", 10000, 650, 650, 2, 35, 20),
    "char-h100-b1": ("lstm", 65, 100, 100, 1, 25, 1),
    "char-h100-b32": ("lstm", 65, 100, 100, 1, 25, 32),
    "char-h512-b32": ("lstm", 65, 512, 512, 1, 25, 32),
    "ptb-small-gru": ("gru", 10000, 200, 200, 2, 20, 20),
    "ptb-small-rnn": ("rnn", 10000, 200, 200, 2, 20, 20),
}
GATES = {"lstm": 4, "gru": 3, "rnn": 1}


def parse_args(argv):
    p = argparse.ArgumentParser(description="Time PyTorch training steps of a recurrent LM.")
    p.add_argument("--config", required=True, choices=sorted(CONFIGS))
    p.add_argument("--T", type=int, default=0, help="time steps per window (default: config's)")
    p.add_argument("--B", type=int, default=0, help="rows per batch (default: config's)")
    p.add_argument("--reps", type=int, default=5, help="timed repetitions (median reported)")
    p.add_argument("--steps", type=int, default=10, help="training steps per repetition")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    p.add_argument("--threads", type=int, default=1, help="PyTorch and BLAS threads")
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args(argv)
    if min(a.reps, a.steps, a.threads) < 1 or min(a.T, a.B, a.warmup) < 0:
        p.error("--reps, --steps, --threads must be >= 1; --T, --B, --warmup >= 0")
    return a


def rss_now_mb():
    """Resident size of this process now, from /proc (0 where there is no /proc)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def gemm_flops_per_token(cell, V, E, H, L):
    """Matrix-product FLOPs per token, forward and backward (3x forward), as bench_train counts."""
    f = 0
    for k in range(L):
        i = H if k else E
        f += 2 * (i + H) * GATES[cell] * H  # x.W_ih^T and h.W_hh^T
    f += 2 * H * V  # decoder
    return 3 * f


def build(torch, cell, V, E, H, L):
    nn = torch.nn
    rnn = {"lstm": nn.LSTM, "gru": nn.GRU}.get(cell)
    rnn = rnn(E, H, L) if rnn else nn.RNN(E, H, L, nonlinearity="tanh")
    model = nn.ModuleDict({"emb": nn.Embedding(V, E), "rnn": rnn, "dec": nn.Linear(H, V)})
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-0.1, 0.1)  # bench_train's init; the speed does not depend on it
    return model


def main(argv):
    a = parse_args(argv)
    os.environ["BLIS_NUM_THREADS"] = str(a.threads)  # read by BLIS when torch loads it
    os.environ["OMP_NUM_THREADS"] = str(a.threads)
    import torch
    import torch.nn.functional as F

    base_rss = rss_now_mb()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    cell, V, E, H, L, T, B = CONFIGS[a.config]
    T, B = a.T or T, a.B or B

    model = build(torch, cell, V, E, H, L)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    windows = a.warmup + a.reps * a.steps
    # Column b is row b's own stream; window k reads rows k*T .. k*T+T of it, targets one later.
    data = torch.randint(0, V, (T * windows + 1, B), dtype=torch.long)
    state = None
    k = 0

    def step():
        nonlocal state, k
        x, y = data[k * T:(k + 1) * T], data[k * T + 1:(k + 1) * T + 1]
        k += 1
        out, state = model["rnn"](model["emb"](x), state)
        loss = F.cross_entropy(model["dec"](out).view(T * B, V), y.reshape(T * B))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
        return loss

    for _ in range(a.warmup):
        step()
    rates = []
    for _ in range(a.reps):
        t0 = time.perf_counter()
        for _ in range(a.steps):
            loss = step()
        rates.append(T * B * a.steps / (time.perf_counter() - t0))
    tps = statistics.median(rates)
    gflops = gemm_flops_per_token(cell, V, E, H, L) * tps * 1e-9
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KB on Linux
    nparams = sum(p.numel() for p in model.parameters())
    print("%s: %s V %d E %d H %d L %d T %d B %d, %d parameters, torch %s, %d thread(s)"
          % (a.config, cell.upper(), V, E, H, L, T, B, nparams, torch.__version__, a.threads))
    print("  %.0f tokens/s (median of %d x %d steps; min %.0f, max %.0f), loss %.3f"
          % (tps, a.reps, a.steps, min(rates), max(rates), loss.item()))
    print("  GEMM work %.1f GFLOP/s of wall time, peak RSS %.1f MB (%.1f MB after import torch)"
          % (gflops, peak, base_rss))
    print("RESULT config=%s tokens_per_s=%.1f gemm_gflops=%.2f peak_rss_mb=%.1f base_rss_mb=%.1f "
          "threads=%d torch=%s T=%d B=%d"
          % (a.config, tps, gflops, peak, base_rss, a.threads, torch.__version__, T, B))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
