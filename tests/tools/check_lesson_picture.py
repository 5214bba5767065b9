#!/usr/bin/env python3
"""Check that a lesson's picture is its program's graph, rendered by Graphviz.

Usage: check_lesson_picture.py PROGRAM PICTURE.svg OUT.svg

Runs `PROGRAM --dot` (the tape after backward, with signed values and gradients), renders it
with Graphviz's `dot -Tsvg` into OUT.svg (so a fresh machine set up by .ci/setup draws it), and
requires the text of every node and edge label in OUT.svg to be the text of PICTURE.svg, the
picture the page shows (layout coordinates may differ between Graphviz versions; the words and
numbers may not). Exits 1 naming what differs; regenerate with
`PROGRAM --dot | dot -Tsvg -o PICTURE.svg`.
"""
import html
import re
import subprocess
import sys


def texts(svg):
    return sorted(html.unescape(t) for t in re.findall(r"<text[^>]*>(.*?)</text>", svg, re.S))


def main():
    exe, picture, out = sys.argv[1:4]
    graph = subprocess.run([exe, "--dot"], check=True, capture_output=True, text=True).stdout
    svg = subprocess.run(["dot", "-Tsvg"], input=graph, check=True, capture_output=True,
                         text=True).stdout
    open(out, "w", encoding="utf-8").write(svg)
    want, got = texts(open(picture, encoding="utf-8").read()), texts(svg)
    if not got:
        sys.exit(f"{out}: Graphviz drew no labels")
    if want != got:
        missing = sorted(set(got) - set(want)) + sorted(set(want) - set(got))
        sys.exit(f"{picture} is not {exe}'s graph today; differing labels: {missing}\n"
                 f"regenerate: {exe} --dot | dot -Tsvg -o {picture}")
    print(f"{picture}: {len(got)} labels, as {exe} draws them")


main()
