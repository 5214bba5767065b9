#!/usr/bin/env python3
"""Use a staged install of tapegrad the way a user would: through PKG_CONFIG_PATH alone.

Usage: check_install.py MESON BUILDDIR DESTDIR EXAMPLE.c EXPECTED_OUTPUT_PROGRAM CC...
Installs the build under DESTDIR, then checks that
  - <tapegrad.h> includes every installed header (it is the whole API);
  - the programs are installed;
  - `pkg-config --static --libs` names no library by an absolute path;
  - EXAMPLE.c (docs/examples/expression.c) compiles with `pkg-config --cflags --libs` against
    tapegrad and tapegrad-f64 and links with `--static --libs` into a static program (no
    libtapegrad.so needed), and each of the four programs prints what the in-tree build of the
    example prints (EXPECTED_OUTPUT_PROGRAM).
"""
import os
import shlex
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from staged_install import fail, stage  # noqa: E402


def run(cmd, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        fail(f"{' '.join(cmd)} exited {r.returncode}:\n{r.stdout}{r.stderr}")
    return r.stdout


def main():
    meson, builddir, destdir, example, expected_prog = sys.argv[1:6]
    cc = sys.argv[6:]
    where = stage([meson], builddir, destdir)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PKG_CONFIG")}
    env["PKG_CONFIG_PATH"] = where["pcdir"]

    # The umbrella header reaches every installed header.
    deps = run(cc + ["-M", "-I", where["incdir"], os.path.join(where["incdir"], "tapegrad.h")])
    reached = {os.path.realpath(p) for p in deps.replace("\\\n", " ").split()[1:]}
    for d, _, files in os.walk(where["incdir"]):
        for f in files:
            if f.endswith(".h") and os.path.realpath(os.path.join(d, f)) not in reached:
                fail(f"<tapegrad.h> does not include {os.path.relpath(os.path.join(d, f), where['incdir'])}")

    for prog in ("tg_charlm", "tg_wordlm", "tg_gradflow"):
        if not os.access(os.path.join(where["bindir"], prog), os.X_OK):
            fail(f"{prog} is not installed in {where['bindir']}")

    expected = run([expected_prog]).strip()
    workdir = os.path.join(destdir, "programs")
    os.makedirs(workdir, exist_ok=True)
    for pc in ("tapegrad", "tapegrad-f64"):
        cflags = shlex.split(run(["pkg-config", "--cflags", pc], env))
        libs = shlex.split(run(["pkg-config", "--libs", pc], env))
        static_libs = shlex.split(run(["pkg-config", "--static", "--libs", pc], env))
        absolute = [a for a in static_libs if "/" in a and not a.startswith("-L")]
        if absolute:
            fail(f"pkg-config --static --libs {pc} names a library by path: {absolute}")
        shared_exe = os.path.join(workdir, pc + "-shared")
        static_exe = os.path.join(workdir, pc + "-static")
        run(cc + cflags + [example, "-o", shared_exe] + libs, env)
        run(cc + cflags + [example, "-o", static_exe, "-static"] + static_libs, env)
        if "libtapegrad" in run(["readelf", "-d", static_exe]):
            fail(f"{static_exe} still needs a shared libtapegrad")
        runenv = dict(env, LD_LIBRARY_PATH=where["libdir"])
        for exe in (shared_exe, static_exe):
            out = run([exe], runenv).strip()
            if out != expected:
                fail(f"{exe} prints `{out}`, the in-tree example `{expected}`")
        print(f"{pc}: shared and static programs print `{expected}`")
    print("the staged install is usable through PKG_CONFIG_PATH alone")


main()
