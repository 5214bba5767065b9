#!/usr/bin/env python3
"""seqtask_plot.py: the held-out loss over training of tg_seqtask runs, as one SVG.

    python3 models/seqtask_plot.py OUT.svg RUN.log...

Each RUN.log is the standard output of one `tg_seqtask TASK --cell CELL --T T --log-every N ...`
run: its first line names the task, cell and T (and for copy the symbols recalled, S, and an
LSTM's forget-gate bias when the program printed them), its `step N train X eval Y acc Z` lines are the
curve, its `result:` line gives the memoryless baseline (for a copy run stopped before it, the
baseline is computed as the program does). A run stopped early keeps the x axis of the steps it
was given. One panel per (task, T), one curve per cell, the loss on a log scale, the baseline
dashed. Standard library only.
"""
import math
import re
import sys

COLOURS = {"rnn": "#c0392b", "rnn-relu": "#e67e22", "lstm": "#2456a6", "gru": "#1e8449"}
OTHER = ["#7d3c98", "#117a65", "#7f8c8d"]
PW, PH = 300, 200  # panel plot area
ML, MR, MT, MB = 62, 16, 34, 40  # margins around a panel's plot area


def read_run(path):
    head = step = None
    curve, baseline, planned = [], None, 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"task (\S+) cell (\S+) T (\d+)", line)
            if m and head is None:
                task = m.group(1)
                s = re.search(r" symbols (\d+)", line)
                if s:
                    task += " (S = %s)" % s.group(1)
                cell = m.group(2)
                f = re.search(r" forget-bias (\S+)", line)
                if f:
                    cell += ", forget bias " + f.group(1)
                head = (task, int(m.group(3)), cell)
                n = re.search(r" steps (\d+)", line)
                planned = int(n.group(1)) if n else 0
            m = re.match(r"step (\d+) train \S+ eval (\S+)", line)
            if m:
                step = int(m.group(1))
                curve.append((step, float(m.group(2))))
            m = re.search(r"baseline (\S+)", line)
            if line.startswith("result:") and m:
                baseline = float(m.group(1))
    if head is None or not curve:
        sys.exit("seqtask_plot: %s: no 'task ...' line or no 'step ...' lines" % path)
    if baseline is None and head[0].startswith("copy (S = "):  # stopped before its result line
        S = int(head[0].split()[-1].rstrip(")"))
        baseline = S * math.log(8) / (head[1] + 2 * S)  # models/seqtask.c's baseline_copy
    # a run stopped early keeps the x axis of the steps it was given
    return head, curve + [(planned, None)] if planned > curve[-1][0] else curve, baseline


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def panel(out, x0, y0, title, runs, ylabel, colours):
    xmax = max(s for _, c, _ in runs for s, _ in c)
    ys = [v for _, c, _ in runs for _, v in c if v and v > 0] + [b for _, _, b in runs if b]
    lo = math.floor(math.log10(min(ys)))
    hi = math.ceil(math.log10(max(ys)))
    hi = hi if hi > lo else lo + 1

    def X(s):
        return x0 + PW * s / xmax

    def Y(v):
        return y0 + PH * (hi - math.log10(max(v, 10.0**lo))) / (hi - lo)

    out.append('<rect x="%g" y="%g" width="%d" height="%d" fill="none" stroke="#444"/>' %
               (x0, y0, PW, PH))
    out.append('<text x="%g" y="%g" text-anchor="middle" font-size="13">%s</text>' %
               (x0 + PW / 2, y0 - 10, esc(title)))
    for e in range(lo, hi + 1):
        y = Y(10.0**e)
        out.append('<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#ddd"/>' % (x0, y, x0 + PW, y))
        out.append('<text x="%g" y="%g" text-anchor="end" font-size="10">1e%d</text>' %
                   (x0 - 4, y + 3, e))
    for k in range(5):
        s = xmax * k / 4
        out.append('<text x="%g" y="%g" text-anchor="middle" font-size="10">%d</text>' %
                   (X(s), y0 + PH + 14, round(s)))
    out.append('<text x="%g" y="%g" text-anchor="middle" font-size="11">step</text>' %
               (x0 + PW / 2, y0 + PH + 30))
    out.append('<text x="%g" y="%g" font-size="11" transform="rotate(-90 %g %g)" '
               'text-anchor="middle">%s</text>' %
               (x0 - 46, y0 + PH / 2, x0 - 46, y0 + PH / 2, esc(ylabel)))
    base = [b for _, _, b in runs if b]
    if base:
        y = Y(base[0])
        out.append('<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#555" stroke-dasharray="5,4"/>'
                   % (x0, y, x0 + PW, y))
    for cell, curve, _ in runs:
        colour = colours[cell]
        pts = " ".join("%.1f,%.1f" % (X(s), Y(v)) for s, v in curve if v is not None)
        out.append('<polyline points="%s" fill="none" stroke="%s" stroke-width="1.6"/>' %
                   (pts, colour))


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    panels = {}
    for path in argv[2:]:
        (task, T, cell), curve, baseline = read_run(path)
        panels.setdefault((task, T), []).append((cell, curve, baseline))
    keys = sorted(panels)
    tasks = sorted({t for t, _ in keys})
    lengths = sorted({T for _, T in keys})
    cells = []
    for k in keys:
        for cell, _, _ in panels[k]:
            if cell not in cells:
                cells.append(cell)
    others = [c for c in cells if c not in COLOURS]
    colours = {c: COLOURS.get(c) or OTHER[others.index(c) % len(OTHER)] for c in cells}
    W = len(lengths) * (ML + PW + MR)
    H = len(tasks) * (MT + PH + MB) + 30
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif">' % (W, H),
           '<rect width="100%" height="100%" fill="white"/>']
    label = {"adding": "held-out MSE", "copy": "held-out cross-entropy"}
    for (task, T), runs in panels.items():
        x0 = lengths.index(T) * (ML + PW + MR) + ML
        y0 = tasks.index(task) * (MT + PH + MB) + MT
        panel(out, x0, y0, "%s, T = %d" % (task, T), runs,
              label.get(task.split()[0], "held-out loss"), colours)
    y = H - 12
    x = ML
    for cell in cells:
        colour = colours[cell]
        out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>' %
                   (x, y - 4, x + 24, y - 4, colour))
        out.append('<text x="%d" y="%d" font-size="12">%s</text>' % (x + 30, y, esc(cell)))
        x += 50 + 7 * len(cell)
    out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#555" stroke-dasharray="5,4"/>' %
               (x, y - 4, x + 24, y - 4))
    out.append('<text x="%d" y="%d" font-size="12">memoryless baseline</text>' % (x + 30, y))
    out.append("</svg>")
    with open(argv[1], "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main(sys.argv)
