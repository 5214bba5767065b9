#!/usr/bin/env python3
"""Check that nothing quoted in docs/ has drifted from the code.

Usage: check_docs.py SOURCE_ROOT BUILD_ROOT
Exits 1 with one line per problem, each naming the page, the line and what to update.

1. Every table and every fenced block that is not code (```c, ```sh) in docs/*.md carries a
   marker, an HTML comment on the line before it (blank lines between are allowed), unless it
   is a ```text block of a page that docs/meson.build gives to check_doc_output.py (which
   compares every such block with its example's output):
     <!-- checked: build/PROGRAM ARGS -->   run now and compared with the page (below);
     <!-- record: YYYY-MM-DD, `COMMAND` -->  a dated record of a run, kept as it was;
     <!-- reference -->                     written by hand, not a program's output
                                            (formulas, the folder table, a diagram).
2. A checked fenced block: each of its lines (but blank ones and `...`, which elides) is a
   line of the output, in order. A checked table: each row is an output line, its cells the
   line's fields (separated by two or more spaces); with {1} in the command, each row runs it
   with its first cell as the arguments (`none`: no arguments) and its second cell names the
   output line. Cells are compared without `backticks` and **bold**.
   Numbers are compared as printed, to within 1e-3 relatively (the last digit of a 4-digit
   figure may flip with another CPU's kernels), except where the output is rounding noise or
   chaos:
   - a row of a tg_bptt report whose elements all agree (over = 0, first over = -) is
     compared on its quantity, element count and verdict, and its max abs and max rel need
     only both be at most 1e-12: they are rounding, which depends on the CPU's kernels, and
     so are the position of the worst element and the values shown there; likewise the
     worst relative difference of an `agree:` line;
   - a tg_gradflow row whose verdict is `explodes` is compared on its label and verdict: the
     forward pass of those RNNs is chaotic, so rounding (another CPU's kernels, a change in
     the order of a sum) moves their norms by orders of magnitude.
3. docs/tour.md: each "`path` (N)" is the file's line count (wc -l), and each
   "(folder/, ~N lines with headers)" is the folder's .c and .h lines rounded to hundreds.
   The paragraph after <!-- checked: sources without a test file --> names, in backticks,
   exactly the .c files of autograd/, ops/, io/, nn/ and models/ that have no
   tests/test_<folder>_<file>.c.
"""
import glob
import os
import re
import subprocess
import sys
import tempfile

MARKER = re.compile(r"<!--\s*(checked|record|reference)\b:?\s*(.*?)\s*-->")
NOISE = 1e-12
RELATIVE = 1e-3
problems = []


def problem(page, line, msg):
    problems.append(f"{page}:{line}: {msg}")


def number(s):
    try:
        return float(s)
    except ValueError:
        return None


def same_token(a, b):
    """Equal as printed, or numbers within 1e-3 of each other relatively: the last printed
    digit of a 4-digit figure may flip on another CPU's kernels; anything larger is drift."""
    if a == b:
        return True
    x, y = number(a), number(b)
    return x is not None and y is not None and abs(x - y) <= RELATIVE * max(abs(x), abs(y))


def noise(a, b):
    x, y = number(a), number(b)
    return x is not None and y is not None and abs(x) <= NOISE and abs(y) <= NOISE


def clean(cell):
    return cell.replace("`", "").replace("**", "").strip()


def blocks(text):
    """(kind, first line number, lines, language) for each fenced block and table; markers
    as ('marker', line, (kind, rest), None)."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        m = MARKER.search(line)
        if m:
            yield "marker", i + 1, (m.group(1), m.group(2)), None
            i += 1
        elif line.startswith("```"):
            lang, j = line[3:].strip(), i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            yield "fence", i + 1, lines[i + 1: j], lang
            i = j + 1
        elif line.startswith("|"):
            j = i
            while j < len(lines) and lines[j].startswith("|"):
                j += 1
            yield "table", i + 1, lines[i:j], None
            i = j
        else:
            if line.strip():
                yield "text", i + 1, [line], None
            i += 1


class Runner:
    def __init__(self, build):
        self.build, self.cache = build, {}
        self.tmp = tempfile.mkdtemp(prefix="check_docs.")

    def run(self, command):
        if command not in self.cache:
            args = command.split()
            if not args or not args[0].startswith("build/"):
                return None, f"`{command}`: a checked command starts with build/"
            args[0] = os.path.join(self.build, args[0][len("build/"):])
            env = dict(os.environ, BLIS_NUM_THREADS="1", OMP_NUM_THREADS="1")
            r = subprocess.run(args, capture_output=True, text=True, cwd=self.tmp, env=env)
            if r.returncode != 0:
                self.cache[command] = (None, f"`{command}` exited {r.returncode}: {r.stderr[-300:]}")
            else:
                self.cache[command] = (r.stdout.split("\n"), None)
        return self.cache[command]


def bptt_agreeing(tokens):
    return len(tokens) >= 6 and tokens[-2:] == ["0", "-"]


def same_line(doc, out):
    a, b = doc.split(), out.split()
    if bptt_agreeing(a) and bptt_agreeing(b):
        return a[:2] + a[-2:] == b[:2] + b[-2:] and noise(a[2], b[2]) and noise(a[3], b[3])
    if a[:1] == b[:1] == ["agree:"]:
        return a[:-1] == b[:-1] and noise(a[-1], b[-1])
    return len(a) == len(b) and all(same_token(x, y) for x, y in zip(a, b))


def check_fence(page, line, body, out, command):
    k = 0
    for n, doc in enumerate(body):
        if not doc.strip() or doc.strip() == "...":
            continue
        while k < len(out) and not same_line(doc, out[k]):
            k += 1
        if k == len(out):
            problem(page, line + 1 + n, f"`{command}` no longer prints (in this order):\n"
                    f"    {doc.strip()}\n  paste its output here")
            return
        k += 1


def fields(out_line):
    return [f for f in re.split(r"\s{2,}", out_line.strip()) if f]


def check_row(page, line, cells, out, command):
    label = cells[0]
    for o in out:
        f = fields(o)
        if not f or f[0] != label:
            continue
        if f[-1] == "explodes" and cells[-1] == "explodes":
            return
        if len(f) == len(cells) and all(same_token(x, y) for x, y in zip(cells, f)):
            return
        problem(page, line, f"`{command}` prints `{'  '.join(f)}`, the page "
                f"`{' | '.join(cells)}`; update the row")
        return
    problem(page, line, f"`{command}` prints no line `{label}`")


def check_table(page, line, rows, runner, command):
    for n, row in enumerate(rows[2:]):  # header and separator are the page's own words
        cells = [clean(c).replace("\\|", "|")
                 for c in re.split(r"(?<!\\)\|", row.strip().strip("|"))]
        cmd = command
        if "{1}" in command:
            cmd = command.replace("{1}", "" if cells[0] == "none" else cells[0]).strip()
            cells = cells[1:]
        cells = [c for c in cells if c]
        out, err = runner.run(cmd)
        if err:
            problem(page, line, err)
            return
        check_row(page, line + 2 + n, cells, out, cmd)


def pages_of_check_doc_output(root):
    text = open(os.path.join(root, "docs", "meson.build"), encoding="utf-8").read()
    return set(re.findall(r"check_doc_output\.py'\),\s*files\('([\w.-]+\.md)'\)", text))


def check_page(path, rel, runner, whole_page_checked):
    items = list(blocks(open(path, encoding="utf-8").read()))
    for i, (kind, line, body, lang) in enumerate(items):
        if kind not in ("fence", "table") or (kind == "fence" and lang in ("c", "sh")):
            continue
        if kind == "fence" and lang == "text" and whole_page_checked:
            continue
        prev = items[i - 1] if i else None
        if not prev or prev[0] != "marker":
            problem(rel, line, f"a {'table' if kind == 'table' else 'block'} with no marker: "
                    "put <!-- checked: build/PROGRAM ARGS -->, <!-- record: DATE, `COMMAND` -->"
                    " or <!-- reference --> on the line before it")
            continue
        what, rest = prev[2]
        if what == "record":
            if not re.search(r"\d{4}-\d{2}-\d{2}", rest) or "`" not in rest:
                problem(rel, prev[1], "a record marker names its date (YYYY-MM-DD) and its "
                        "`command`")
        elif what == "checked":
            if kind == "fence":
                out, err = runner.run(rest)
                if err:
                    problem(rel, prev[1], err)
                else:
                    check_fence(rel, line, body, out, rest)
            else:
                check_table(rel, line, body, runner, rest)


def check_tour(root):
    rel = "docs/tour.md"
    text = open(os.path.join(root, rel), encoding="utf-8").read()
    check_untested(root, rel, text)
    for n, line in enumerate(text.split("\n"), 1):
        for path, count in re.findall(r"`([\w/.-]+\.[ch])` \((\d[\d,]*)\)", line):
            full = os.path.join(root, path)
            if not os.path.exists(full):
                problem(rel, n, f"{path} does not exist")
                continue
            real = sum(1 for _ in open(full, encoding="utf-8"))
            if real != int(count.replace(",", "")):
                problem(rel, n, f"{path} has {real} lines, the tour says {count}")
        for folder, count in re.findall(r"\((\w+)/, ~([\d,]+) lines with headers\)", line):
            files = glob.glob(os.path.join(root, folder, "*.[ch]"))
            real = sum(sum(1 for _ in open(f, encoding="utf-8")) for f in files)
            rounded = int(round(real, -2))
            if rounded != int(count.replace(",", "")):
                problem(rel, n, f"{folder}/ has {real} lines in .c and .h files, "
                        f"~{rounded:,} rounded; the tour says ~{count}")


def check_untested(root, rel, text):
    m = re.search(r"<!-- checked: sources without a test file -->\n(.*?)(\n\n|$)", text, re.S)
    if not m:
        problem(rel, 1, "no <!-- checked: sources without a test file --> paragraph")
        return
    listed = set(re.findall(r"`([\w/]+\.c)`", m.group(1)))
    real = set()
    for folder in ("autograd", "ops", "io", "nn", "models"):
        for f in glob.glob(os.path.join(root, folder, "*.c")):
            name = os.path.basename(f)[:-2]
            if not os.path.exists(os.path.join(root, "tests", f"test_{folder}_{name}.c")):
                real.add(f"{folder}/{name}.c")
    line = text[: m.start()].count("\n") + 2
    for f in sorted(real - listed):
        problem(rel, line, f"{f} has no test file and is not listed here")
    for f in sorted(listed - real):
        problem(rel, line, f"{f} is listed as having no test file, but it has one (or is gone)")


def main():
    root, build = sys.argv[1], os.path.abspath(sys.argv[2])
    runner = Runner(build)
    pages = sorted(glob.glob(os.path.join(root, "docs", "*.md")))
    by_example = pages_of_check_doc_output(root)
    for page in pages:
        check_page(page, os.path.relpath(page, root), runner, os.path.basename(page) in by_example)
    check_tour(root)
    if problems:
        sys.exit("\n".join(problems))
    print(f"{len(pages)} pages: every quoted output matches its program or is a dated record")


main()
