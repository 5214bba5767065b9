#!/usr/bin/env python3
"""Check that README.md shows docs/examples/expression.c verbatim and the output it prints.

Usage: check_readme_example.py README.md docs/examples/expression.c path/to/built/example
Exits 1 with a message naming what drifted.
"""
import re
import subprocess
import sys

readme, source, exe = sys.argv[1:4]
text = open(readme, encoding="utf-8").read()
code = open(source, encoding="utf-8").read()
blocks = re.findall(r"```c\n(.*?)```", text, re.S)
if code not in blocks:
    sys.exit(f"{readme}: no ```c block equals {source}; copy the file into the README")
out = subprocess.run([exe], check=True, capture_output=True, text=True).stdout.strip()
if f"`{out}`" not in text:
    sys.exit(f"{readme}: the example now prints `{out}`; update the README")
print("README example and its output match")
