#!/usr/bin/env python3
"""Check that a program cannot be linked against the library of the other precision.

Usage: check_precision_link.py LIBDIR SOURCE.c CC... -- INCLUDE_DIRS...
Builds SOURCE.c four ways against LIBDIR's libtapegrad.so and libtapegrad-f64.so: float
against tapegrad and double (-DTG_DOUBLE) against tapegrad-f64 must link and run; float against
tapegrad-f64 must fail to link naming tg_precision_f32_link_tapegrad, and double against
tapegrad must fail naming tg_precision_f64_link_tapegrad_f64 (autograd/export.h).
"""
import os
import subprocess
import sys
import tempfile

libdir, source = sys.argv[1], sys.argv[2]
rest = sys.argv[3:]
cc, incs = rest[: rest.index("--")], rest[rest.index("--") + 1:]
failures = []
with tempfile.TemporaryDirectory() as tmp:
    for defines, lib, tag in (([], "tapegrad", None),
                              (["-DTG_DOUBLE"], "tapegrad-f64", None),
                              ([], "tapegrad-f64", "tg_precision_f32_link_tapegrad"),
                              (["-DTG_DOUBLE"], "tapegrad", "tg_precision_f64_link_tapegrad_f64")):
        exe = os.path.join(tmp, "prog")
        cmd = (cc + defines + [f"-I{d}" for d in incs] + [source, "-o", exe,
               os.path.join(libdir, f"lib{lib}.so")])
        r = subprocess.run(cmd, capture_output=True, text=True)
        what = f"{'double' if defines else 'float'} program against {lib}"
        if tag is None:
            if r.returncode != 0:
                failures.append(f"{what} does not link:\n{r.stderr}")
                continue
            run = subprocess.run([exe], capture_output=True, text=True,
                                 env=dict(os.environ, LD_LIBRARY_PATH=libdir))
            if run.returncode != 0:
                failures.append(f"{what} links but exits {run.returncode}: {run.stderr}")
            else:
                print(f"{what}: links and runs")
        elif r.returncode == 0:
            failures.append(f"{what} links: the precisions mix silently")
        elif tag not in r.stderr:
            failures.append(f"{what} fails without naming {tag}:\n{r.stderr}")
        else:
            line = next(l for l in r.stderr.splitlines() if tag in l)
            print(f"{what}: fails to link, {line.strip()}")
if failures:
    sys.exit("FAIL: " + "\n".join(failures))
