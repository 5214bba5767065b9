#!/usr/bin/env python3
"""Check that the shared libraries export exactly the API their installed headers declare.

Usage: check_exports.py MESON BUILDDIR DESTDIR CC...
Installs the build under DESTDIR, then for each precision (libtapegrad.so; libtapegrad-f64.so
with -DTG_DOUBLE) compares the symbols `nm -D --defined-only` lists with the functions and
objects declared by the installed headers (every .h under <prefix>/include/tapegrad, read
after the preprocessor). Fails naming every symbol exported but not declared (a hidden `tgi_`
or BLIS name leaking, or a stray one), every name declared but not exported (a declaration
with no definition, or one outside TG_BEGIN_DECLS), and any export not named tg_.
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from staged_install import fail, stage  # noqa: E402


def top_level_statements(code):
    """Split preprocessed C into top-level declarations; function bodies are dropped and
    their statement marked 'definition'."""
    out, cur, i = [], "", 0
    while i < len(code):
        c = code[i]
        if c == "{":
            depth, j = 1, i + 1
            while depth:
                depth += {"{": 1, "}": -1}.get(code[j], 0)
                j += 1
            if cur.rstrip().endswith(")"):  # a function body: the statement ends here
                out.append(("definition", cur))
                cur = ""
            else:  # a struct, union or enum body: the statement goes on to its ';'
                cur += " {} "
            i = j
            continue
        if c == ";":
            out.append(("declaration", cur))
            cur = ""
        else:
            cur += c
        i += 1
    return out


def strip_attributes(s):
    while "__attribute__" in s:
        k = s.index("__attribute__")
        j = s.index("(", k)
        depth, j = 1, j + 1
        while depth:
            depth += {"(": 1, ")": -1}.get(s[j], 0)
            j += 1
        s = s[:k] + s[j:]
    return s


def declared_names(cc, incdir, defines):
    headers = sorted(
        os.path.relpath(os.path.join(d, f), incdir)
        for d, _, fs in os.walk(incdir) for f in fs if f.endswith(".h"))
    if not headers:
        fail(f"no headers under {incdir}")
    src = "".join(f'#include "{h}"\n' for h in headers)
    r = subprocess.run(cc + ["-E", "-I", incdir] + defines + ["-x", "c", "-"],
                       input=src, capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"preprocessing the installed headers failed:\n{r.stderr}")
    # Keep the lines the installed headers wrote, not those of the system headers they include.
    lines, ours = [], False
    for line in r.stdout.splitlines():
        m = re.match(r'# \d+ "([^"]*)"', line)
        if m:
            ours = os.path.abspath(m.group(1)).startswith(os.path.abspath(incdir) + os.sep)
        elif ours and not line.lstrip().startswith("#"):
            lines.append(line)
    code = "\n".join(lines)
    names = set()
    for kind, stmt in top_level_statements(code):
        stmt = strip_attributes(stmt).strip()
        if kind == "definition" or not stmt or re.match(r"(typedef|static)\b", stmt):
            continue
        if "(" in stmt:  # a function: the name before the first parenthesis
            m = re.search(r"(\w+)\s*$", stmt[: stmt.index("(")])
        elif stmt.endswith("{}"):  # a struct, union or enum definition, no object
            continue
        else:  # an object: the last name before any initialiser
            m = re.search(r"(\w+)\s*(\[[^\]]*\])?\s*$", stmt.split("=")[0])
        if m:
            names.add(m.group(1))
    return headers, names


def exported_names(so):
    r = subprocess.run(["nm", "-D", "--defined-only", so], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"nm -D {so}: {r.stderr}")
    return {l.split()[-1] for l in r.stdout.splitlines() if l.strip()}


def main():
    meson, builddir, destdir, cc = [sys.argv[1]], sys.argv[2], sys.argv[3], sys.argv[4:]
    where = stage(meson, builddir, destdir)
    problems = []
    for lib, defines in (("libtapegrad.so", []), ("libtapegrad-f64.so", ["-DTG_DOUBLE"])):
        so = os.path.join(where["libdir"], lib)
        headers, declared = declared_names(cc, where["incdir"], defines)
        exported = exported_names(so)
        extra = sorted(exported - declared)
        missing = sorted(declared - exported)
        not_tg = sorted(n for n in exported if not n.startswith("tg_"))
        if extra:
            problems.append(f"{lib} exports {len(extra)} names no installed header declares: "
                            + " ".join(extra[:40]))
        if missing:
            problems.append(f"{lib} does not export {len(missing)} declared names: "
                            + " ".join(missing))
        if not_tg:
            problems.append(f"{lib} exports names outside tg_: " + " ".join(not_tg[:40]))
        if len(declared) < 100:
            problems.append(f"only {len(declared)} names found in {len(headers)} headers")
        print(f"{lib}: {len(exported)} exported, {len(declared)} declared in "
              f"{len(headers)} installed headers")
    if problems:
        fail("\n".join(problems))
    print("exports match the installed headers")


main()
