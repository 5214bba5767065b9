#!/bin/sh
# tg_gradflow --plot draws its SVG itself: no shell and no other program runs, whatever the plot
# name or TMPDIR hold (item 6 of the reliability issue: the plot once went through a system()
# command built from TMPDIR, then through gnuplot). Run it with names that hold commands and a
# stand-in gnuplot first on PATH: nothing may run, and the picture is written, well-formed,
# under exactly the name given. With PICTURE, the committed figure of the classic experiment must
# carry the texts (title, ticks, legend with each sigma_max) the program draws today.
#   check_gradflow_plot.sh TG_GRADFLOW [PICTURE.svg]
set -eu
prog=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
pic=""
[ $# -lt 2 ] || pic=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cd "$d"
mkdir bin "t';touch pwned;'"
printf '#!/bin/sh\ntouch "%s/ran"\n' "$d" > bin/gnuplot
chmod +x bin/gnuplot
name='a$(touch pwned2).svg'
PATH="$d/bin:$PATH" TMPDIR="$d/t';touch pwned;'" "$prog" --classic --csv g.csv --plot "$name" \
    >/dev/null
[ ! -e pwned ] || { echo "FAIL: a command in TMPDIR ran"; exit 1; }
[ ! -e pwned2 ] || { echo "FAIL: a command in the plot name ran"; exit 1; }
[ ! -e ran ] || { echo "FAIL: tg_gradflow started another program (gnuplot)"; exit 1; }
python3 -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' "$name" ||
    { echo "FAIL: the plot is not well-formed XML"; exit 1; }
grep -q '<polyline' "$name" || { echo "FAIL: the plot has no curve"; exit 1; }
if [ -n "$pic" ]; then
    texts() { grep -o '<text[^>]*>[^<]*</text>' "$1" | sed 's/<[^>]*>//g'; }
    texts "$name" > now.txt
    texts "$pic" > committed.txt
    if ! cmp -s committed.txt now.txt; then
        echo "FAIL: $2 is not what tg_gradflow --classic draws today:"
        diff committed.txt now.txt || true
        echo "regenerate: tg_gradflow --classic --csv /dev/null --plot $2"
        exit 1
    fi
fi
echo "ok: no shell, no other program, the name as given${pic:+, $2 as drawn today}"
