#!/usr/bin/env python3
"""Write the PyTorch reference fixtures that tests/test_nn_torch.c reads.

For torch.nn.RNN (tanh), nn.LSTM and nn.GRU, each with 2 layers, T = 5 steps, B = 3 rows,
I = 4 inputs, H = 6 hidden units, batch_first=False, in double precision, it records the
weights, the input, the initial states, the outputs, the final states, the loss

    loss = sum(output * G)      (G a fixed random (T, B, H) tensor, so dL/d output = G)

and the gradient of the loss with respect to every weight, the input and the initial states.

Run from the repository root (only needed when the fixtures must change; the C tests read the
committed files and do not need Python):

    /usr/bin/python3 tests/tools/make_torch_fixtures.py            # writes tests/data/torch_*.txt
    /usr/bin/python3 tests/tools/make_torch_fixtures.py OUTDIR     # writes OUTDIR/torch_*.txt

Seeds are fixed, so a rerun with the same PyTorch writes the same numbers.

Format (plain text, one tensor after another; '#' lines are comments):

    <name> <rows> <cols>
    <rows * cols values, row-major, %.17g, whitespace separated>

Every tensor is written as a 2-D matrix: a (T, B, N) tensor as (T*B x N), step t in rows
[t*B, t*B + B); a (L, B, H) state as (L*B x H), layer k in rows [k*B, k*B + B); a bias as
(1 x N); the loss as (1 x 1). Gradients are named "grad.<name>".
"""
import os
import sys

import torch

T, B, I, H, L = 5, 3, 4, 6, 2
SEEDS = {"rnn_tanh": 101, "lstm": 202, "gru": 303}


def write(f, name, t):
    t = t.detach()
    m = t.reshape(1, -1) if t.dim() <= 1 else t.reshape(-1, t.shape[-1])
    f.write("%s %d %d\n" % (name, m.shape[0], m.shape[1]))
    for row in m.tolist():
        f.write(" ".join("%.17g" % v for v in row) + "\n")


def fixture(kind, path):
    torch.manual_seed(SEEDS[kind])
    if kind == "rnn_tanh":
        net = torch.nn.RNN(I, H, num_layers=L, nonlinearity="tanh")
    elif kind == "lstm":
        net = torch.nn.LSTM(I, H, num_layers=L)
    else:
        net = torch.nn.GRU(I, H, num_layers=L)
    net = net.double()
    x = torch.randn(T, B, I, dtype=torch.float64, requires_grad=True)
    h0 = (0.5 * torch.randn(L, B, H, dtype=torch.float64)).requires_grad_()
    c0 = (0.5 * torch.randn(L, B, H, dtype=torch.float64)).requires_grad_()
    G = torch.randn(T, B, H, dtype=torch.float64)
    if kind == "lstm":
        out, (hn, cn) = net(x, (h0, c0))
    else:
        out, hn = net(x, h0)
    loss = (out * G).sum()
    loss.backward()

    with open(path, "w") as f:
        f.write("# %s: torch %s, %d layers, T=%d B=%d I=%d H=%d, float64\n"
                % (kind, torch.__version__, L, T, B, I, H))
        f.write("# written by tests/tools/make_torch_fixtures.py; loss = sum(output * G)\n")
        for name, p in net.named_parameters():
            write(f, name, p)
        write(f, "x", x)
        write(f, "h0", h0)
        if kind == "lstm":
            write(f, "c0", c0)
        write(f, "G", G)
        write(f, "output", out)
        write(f, "hn", hn)
        if kind == "lstm":
            write(f, "cn", cn)
        write(f, "loss", loss)
        for name, p in net.named_parameters():
            write(f, "grad." + name, p.grad)
        write(f, "grad.x", x.grad)
        write(f, "grad.h0", h0.grad)
        if kind == "lstm":
            write(f, "grad.c0", c0.grad)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "data")
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    for kind in SEEDS:
        path = os.path.join(out, "torch_%s.txt" % kind)
        fixture(kind, path)
        print("wrote", os.path.normpath(path))


if __name__ == "__main__":
    main()
