#!/bin/sh
# tg_charlm visualize --state all records every state of every layer of any registered cell
# type, a user's as well as a built-in one (issue 11), ranks them together and names the best;
# one state is still recorded by name, and an unknown name is refused naming the cell's states.
#   check_visualize_states.sh CHARLM_PROGRAM CELL STATES...   (STATES: the cell's state names)
set -eu
prog=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
cell=$2
shift 2
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cd "$d"
fail() { echo "FAIL: $1"; cat out; exit 1; }
i=0
while [ $i -lt 40 ]; do echo "(a b) \"c\" d (e (f))"; i=$((i + 1)); done > text.txt
"$prog" train text.txt --cell "$cell" --layers 2 --hidden 6 --seq 8 --batch 2 --steps 5 \
    --eval-every 0 --sample-every 0 --sample-len 1 --save m.st > /dev/null
"$prog" visualize m.st text.txt --state all --pattern parens --top 200 --out all.html > out
k=$((2 * $#))
grep -q "^units of all layers and states ($k recordings) most correlated with 'parens'" out ||
    fail "no ranking over $k recordings"
for s in "$@"; do
    for l in 0 1; do
        grep -Eq "^ +[0-9]+ +$l +$s +[0-9]+ +[-+]" out || fail "no unit of layer $l state $s"
    done
done
grep -Eq '^best: layer [01], state [a-z]+, unit [0-9]+, r = [-+][0-9.]+$' out || fail "no best line"
grep -q '<html lang="und-Latn">' all.html || fail "the page's lang is not und-Latn"
"$prog" visualize m.st text.txt --state "$1" --layer 0 --lang en --out one.html > out
grep -q "^units of layer 0 ($1) with the largest variance" out || fail "one named state"
grep -q '<html lang="en">' one.html || fail "--lang en"
if "$prog" visualize m.st text.txt --state nope --out x.html > out 2>&1; then
    fail "an unknown state was accepted"
fi
grep -q "carries no state of that name (it has $(echo "$@" | sed 's/ /, /g'); or all)" out ||
    fail "the refusal does not name the states"
echo "ok: --state all over $k recordings of $cell"
