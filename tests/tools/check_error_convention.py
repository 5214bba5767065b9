"""One error channel outside recording calls (issue 10), checked on every `meson test`.

In the library (autograd/, ops/, io/, nn/, include/) and the programs' support code (models/):
- no call takes a caller's message buffer: no `errsz`, no `char *err` parameter, no
  `err, sizeof err` argument;
- no per-object error getter: the only `const char *..._error(...)` in a header is
  tg_tape_error, the sticky error of recording calls;
- no second message formatter beside tg_status_set (`lm_fail`, `tgi_errf`, or a new
  `..._errf`/`..._fail(int code, char *` function);
- in every header, a `tg_status *` parameter comes last, and a call taking one returns its
  TG_* code (`int`, or `long` for a count that is -1 on failure), not a pointer or nothing;
- a public call that returns an `int` code takes a `tg_status *` or records on a tape (takes a
  `tg_tape *`), unless it is one of BARE_CODES below, each with its reason: a new bare code
  (a failure with no message) fails the test.

autograd/status.h itself (tg_status_set, tg_status_clear) is the channel, not a user of it.

Usage: check_error_convention.py SOURCE_ROOT
"""
import glob
import os
import re
import sys

DIRS = ["autograd", "ops", "io", "nn", "models", "include"]
BUFFER = re.compile(r"\berrsz\b|\bchar\s*\*\s*err\s*[,)]|\berr,\s*sizeof\s*\(?err\b")
GETTER = re.compile(r"const\s+char\s*\*\s*(\w+_error)\s*\(")
FORMATTER = re.compile(r"\b(lm_fail|tgi_errf|\w+_errf)\s*\(|\b\w+_fail\s*\(\s*int\s+code\s*,\s*char\s*\*")
STATUS_NOT_LAST = re.compile(r"tg_status\s*\*\s*\w*\s*,")
DECL = re.compile(r"(?:^|(?<=[;}]))\s*([A-Za-z_][\w\s\*]*?)\b(\w+)\s*\(([^;{}()]*\btg_status\s*\*[^;{}()]*)\)\s*;")
ALLOWED_GETTERS = {"tg_tape_error"}
INT_DECL = re.compile(r"(?:^|(?<=[;}]))\s*int\s+(tg_\w+)\s*\(([^;{}]*?)\)\s*;", re.S)
BARE_CODES = {
    "tg_requires_grad": "a predicate, not a failure",
    "tg_utf8_valid": "a predicate; the offset of the bad byte comes back in *bad",
    "tg_dist_available": "a predicate: was MPI built in",
    "tg_tape_dot": "writes to the caller's FILE; TG_EIO is the stream's own error (ferror)",
    "tg_bptt_report_print": "writes to the caller's FILE; TG_EIO is the stream's own error",
}


def strip_comments(text):
    """Comments and preprocessor lines blanked (newlines kept); a directive or a declaration
    guard becomes ';', so the declaration after it starts cleanly."""
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"^[ \t]*#(?:[^\n]*\\\n)*[^\n]*", ";", text, flags=re.M)
    return re.sub(r"\bTG_(BEGIN|END)_DECLS\b", ";", text)


def line_of(text, pos):
    return text.count("\n", 0, pos) + 1


def main():
    root = sys.argv[1]
    errors = []
    files = []
    for d in DIRS:
        files += glob.glob(os.path.join(root, d, "**", "*.[ch]"), recursive=True)
    for path in sorted(files):
        rel = os.path.relpath(path, root)
        text = strip_comments(open(path, encoding="utf-8").read())
        for m in BUFFER.finditer(text):
            errors.append(f"{rel}:{line_of(text, m.start())}: a message buffer "
                          f"('{m.group(0)}'): take a tg_status *st last instead")
        for m in FORMATTER.finditer(text):
            errors.append(f"{rel}:{line_of(text, m.start())}: '{m.group(1) or m.group(0)}' "
                          f"formats messages a second way: use tg_status_set")
        if not rel.endswith(".h") or rel == "autograd/status.h":
            continue
        for m in GETTER.finditer(text):
            if m.group(1) not in ALLOWED_GETTERS:
                errors.append(f"{rel}:{line_of(text, m.start())}: {m.group(1)} is a per-object "
                              f"error getter: report through the call's tg_status")
        for m in STATUS_NOT_LAST.finditer(text):
            errors.append(f"{rel}:{line_of(text, m.start())}: a tg_status * parameter that is "
                          f"not the last one")
        for m in INT_DECL.finditer(text):
            name, params = m.group(1), m.group(2)
            if "tg_status" in params or "tg_tape" in params or name in BARE_CODES:
                continue
            if "internal" in rel or rel.startswith("models/"):
                continue
            errors.append(f"{rel}:{line_of(text, m.start(1))}: {name} returns a code with no "
                          f"message: take a tg_status *st last")
        for m in DECL.finditer(text):
            ret = m.group(1).split()
            if not ret or ret[-1] not in ("int", "long") or "*" in m.group(1):
                errors.append(f"{rel}:{line_of(text, m.start(2))}: {m.group(2)} takes a "
                              f"tg_status but returns '{' '.join(ret)}', not its TG_* code")
    for e in errors:
        print(e)
    if errors:
        print(f"{len(errors)} place(s) break the one error channel (autograd/status.h)")
        return 1
    print(f"{len(files)} files: one error channel")
    return 0


if __name__ == "__main__":
    sys.exit(main())
