"""The tape core stays short and names no op; every op's forward and backward stay together.

Issue 10's bar, checked on every `meson test`:
- autograd/tape.c + autograd/backward.c have at most 250 lines (the arena apart);
- neither names an op: no op descriptor's name (from every `static const tg_op` in ops/*.c
  and docs/examples/*.c), with or without its "tg_", appears in them as a word;
- in every file that defines an op, its forward and backward functions start at most 15 lines
  apart.

Usage: check_tape_core.py SOURCE_ROOT
"""
import glob
import os
import re
import sys

MAX_CORE_LINES = 250
MAX_APART = 15
CORE = ["autograd/tape.c", "autograd/backward.c"]
DESCRIPTOR = re.compile(r'static const tg_op (\w+) = \{\s*"(\w+)",\s*(\w+),\s*(\w+)')
DEFINITION = re.compile(r"^static void (\w+)\(tg_tape \*t,", re.M)


def main():
    root = sys.argv[1]
    errors = []
    core = {f: open(os.path.join(root, f)).read() for f in CORE}
    lines = sum(text.count("\n") for text in core.values())
    if lines > MAX_CORE_LINES:
        errors.append(f"{' + '.join(CORE)}: {lines} lines, more than {MAX_CORE_LINES}")
    names = set()
    ops = 0
    for path in sorted(glob.glob(os.path.join(root, "ops", "*.c"))
                       + glob.glob(os.path.join(root, "docs", "examples", "*.c"))):
        text = open(path).read()
        starts = {m.group(1): text.count("\n", 0, m.start()) + 1 for m in DEFINITION.finditer(text)}
        for m in DESCRIPTOR.finditer(text):
            ops += 1
            desc, name, fw, bw = m.groups()
            names.add(name[3:] if name.startswith("tg_") else name)
            if fw == "NULL" or bw == "NULL":
                continue  # a view: no forward, no backward
            if fw not in starts or bw not in starts:
                errors.append(f"{path}: {desc}: {fw} or {bw} not found as a static function")
                continue
            apart = abs(starts[bw] - starts[fw])
            if apart > MAX_APART:
                errors.append(f"{path}: {desc}: forward (line {starts[fw]}) and backward "
                              f"(line {starts[bw]}) are {apart} lines apart, more than {MAX_APART}")
    for f, text in core.items():
        for name in sorted(names):
            hit = re.search(r"\b(tg_)?%s\b" % re.escape(name), text, re.I)
            if hit:
                line = text.count("\n", 0, hit.start()) + 1
                errors.append(f"{f}:{line}: names the op {name}")
    if ops < 10:
        errors.append(f"only {ops} op descriptors found: the pattern no longer matches the code")
    for e in errors:
        print("FAIL:", e, file=sys.stderr)
    print(f"tape core: {lines} lines; {ops} op descriptors, {len(names)} names checked")
    sys.exit(1 if errors else 0)


main()
