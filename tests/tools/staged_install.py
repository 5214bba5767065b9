"""A staged install of a tapegrad build (meson install --destdir), for the packaging checks.

stage(meson, builddir, destdir) installs the build's files under destdir and returns a dict:
  pcdir   the folder holding tapegrad.pc (the one thing a user puts in PKG_CONFIG_PATH)
  incdir  the folder holding tapegrad.h (<prefix>/include/tapegrad)
  libdir  the folder holding libtapegrad.so
  bindir  the folder holding the programs
"""
import glob
import os
import shutil
import subprocess
import sys


def fail(msg):
    sys.exit("FAIL: " + msg)


def find_one(root, pattern):
    hits = glob.glob(os.path.join(root, "**", pattern), recursive=True)
    if len(hits) != 1:
        fail(f"expected one {pattern} under {root}, found {hits}")
    return hits[0]


def stage(meson, builddir, destdir):
    shutil.rmtree(destdir, ignore_errors=True)
    cmd = meson + ["install", "-C", builddir, "--destdir", destdir, "--no-rebuild", "--quiet"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"{' '.join(cmd)} failed:\n{r.stdout}{r.stderr}")
    pc = find_one(destdir, "tapegrad.pc")
    umbrella = find_one(destdir, "tapegrad.h")
    so = find_one(destdir, "libtapegrad.so")
    return {
        "pcdir": os.path.dirname(pc),
        "incdir": os.path.dirname(umbrella),
        "libdir": os.path.dirname(so),
        "bindir": os.path.dirname(find_one(destdir, "tg_charlm")),
    }
