#!/bin/sh
# Item 6 of the reliability issue: `tg_gradflow --plot` used to build a system() command from
# TMPDIR, so a quote in it ran an arbitrary command. Run it with a TMPDIR and a plot name that
# hold commands, against a stand-in gnuplot (first on PATH) that saves the script it
# is given: the command must not run, and the names must reach gnuplot quoted as data.
#   check_gradflow_plot.sh TG_GRADFLOW
set -eu
prog=$1
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
prog=$(cd "$(dirname "$prog")" && pwd)/$(basename "$prog")
cd "$d"
mkdir bin "t';touch pwned;'"
printf '#!/bin/sh\ncat > "%s/script.gp"\n' "$d" > "$d/bin/gnuplot"
chmod +x "$d/bin/gnuplot"
PATH="$d/bin:$PATH" TMPDIR="$d/t';touch pwned;'" "$prog" --seq 50 --hidden 4 --batch 1 \
    --inputs 2 --csv g.csv --plot 'a$(touch pwned2).png' >/dev/null
[ ! -e "$d/pwned" ] || { echo "FAIL: a command in TMPDIR ran"; exit 1; }
[ ! -e "$d/pwned2" ] || { echo "FAIL: a command in the plot name ran"; exit 1; }
grep -qF "set output 'a\$(touch pwned2).png'" "$d/script.gp" ||
    { echo "FAIL: the plot name is not quoted as data:"; cat "$d/script.gp"; exit 1; }
echo "ok: no shell, names quoted"
