#!/usr/bin/env python3
"""Check that every ```c block of README.md stands verbatim in one of the given source files,
so a snippet quoted in the README cannot drift from the code meson builds and runs.

Usage: check_readme_snippets.py README.md SOURCE...
Exits 1 naming the first block found in none of them.
"""
import re
import sys

readme, sources = sys.argv[1], sys.argv[2:]
text = open(readme, encoding="utf-8").read()
code = [open(s, encoding="utf-8").read() for s in sources]
blocks = re.findall(r"```c\n(.*?)```", text, re.S)
if not blocks:
    sys.exit(f"{readme}: no ```c block found")
for b in blocks:
    if not any(b in c for c in code):
        first = b.strip().splitlines()[0]
        sys.exit(f"{readme}: the C block starting '{first}' is in none of {', '.join(sources)}")
print(f"{len(blocks)} C blocks of {readme} match the sources")
