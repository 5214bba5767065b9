#!/usr/bin/env python3
"""Check that a committed SVG is what its program draws today.

Usage: check_picture_drawn.py COMMITTED.svg PROGRAM OUT.svg [ARGS...]
Runs PROGRAM ARGS... OUT.svg and compares OUT.svg with COMMITTED.svg token by token: text must
be equal, numbers may differ in their last printed digit (another CPU's rounding).
"""
import re
import subprocess
import sys

committed, prog, out, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
subprocess.run([prog] + args + [out], check=True, stdout=subprocess.DEVNULL)
TOKEN = re.compile(r"-?\d+\.\d+|-?\d+|\s+|[^\s\d-]+|-")


def tokens(path):
    return [t for t in TOKEN.findall(open(path, encoding="utf-8").read()) if not t.isspace()]


want, got = tokens(committed), tokens(out)
if len(want) != len(got):
    sys.exit(f"{committed}: {len(want)} tokens, the program draws {len(got)} today: redraw it "
             f"with {prog} {' '.join(args)} {committed}")
for i, (a, b) in enumerate(zip(want, got)):
    if a == b:
        continue
    try:
        step = 10.0 ** -len(a.split(".")[1]) if "." in a else 1.0
        if abs(float(a) - float(b)) <= step * 1.01:
            continue
    except ValueError:
        pass
    sys.exit(f"{committed}: token {i} is {a!r}, the program draws {b!r} today: redraw it with "
             f"{prog} {' '.join(args)} {committed}")
print(f"{committed}: as drawn today ({len(want)} tokens)")
