#!/usr/bin/env python3
"""Check that a docs page quotes a program's output and source as they are.

Usage: check_doc_output.py PAGE.md EXAMPLE [SOURCE.c ...]

Every ```text block of PAGE must appear in what EXAMPLE prints, and every ```c block in one of
the SOURCE files. In both, a line "..." stands for lines left out: the pieces between such lines
each match consecutive lines, in order. In a ```text line, a token "…" stands for any tokens
(the page's way to skip a location or values that are rounding noise), and numbers match when
they agree to 1e-3 relative, or are both below 1e-10 in magnitude (rounding noise, which differs
between CPUs and BLIS kernels). Exits 1 with a message naming what drifted.
"""
import re
import subprocess
import sys


def number(tok):
    try:
        return float(tok)
    except ValueError:
        return None


def tokens_match(want, got):
    if want == got:
        return True
    a, b = number(want), number(got)
    if a is None or b is None:
        return False
    big = max(abs(a), abs(b))
    return big < 1e-10 or abs(a - b) <= 1e-3 * big


def line_match(want, got):
    """Token lists; '…' in want matches any run of tokens of got."""
    if not want:
        return not got
    if want[0] == "…":
        return any(line_match(want[1:], got[i:]) for i in range(len(got) + 1))
    return bool(got) and tokens_match(want[0], got[0]) and line_match(want[1:], got[1:])


def pieces(block):
    """The block's lines split at '...' lines, empty pieces dropped."""
    out, cur = [], []
    for line in block.rstrip("\n").split("\n"):
        if line.strip() == "...":
            out.append(cur)
            cur = []
        else:
            cur.append(line.rstrip())
    out.append(cur)
    return [p for p in out if p]


def find_pieces(block, lines, same):
    """None when each piece matches consecutive lines, in order; else the first piece that does not."""
    at = 0
    for piece in pieces(block):
        for start in range(at, len(lines) - len(piece) + 1):
            if all(same(w, lines[start + k]) for k, w in enumerate(piece)):
                at = start + len(piece)
                break
        else:
            return piece
    return None


def main():
    page, exe, sources = sys.argv[1], sys.argv[2], sys.argv[3:]
    text = open(page, encoding="utf-8").read()
    out = subprocess.run([exe], check=True, capture_output=True, text=True).stdout.split("\n")
    outputs = re.findall(r"```text\n(.*?)```", text, re.S)
    if not outputs:
        sys.exit(f"{page}: no ```text block quotes the output of {exe}")
    for block in outputs:
        miss = find_pieces(block, out, lambda w, g: line_match(w.split(), g.split()))
        if miss is not None:
            sys.exit(f"{page}: {exe} no longer prints these lines:\n" + "\n".join(miss))
    files = [open(s, encoding="utf-8").read().split("\n") for s in sources]
    for block in re.findall(r"```c\n(.*?)```", text, re.S):
        if not any(find_pieces(block, f, lambda w, g: w == g.rstrip()) is None for f in files):
            sys.exit(f"{page}: this ```c block is in none of {', '.join(sources)}:\n{block}")
    print(f"{page}: {len(outputs)} output block(s) and the code quoted match")


main()
