#!/bin/sh
# tg_charlm's --prime (issue 11): a character the model never saw is an error naming it, escaped
# when it is a control character (issue 13), and its index, in `train` (before any training) and
# in `sample`; it used to be dropped silently. A known prime is echoed at the sample's start.
#   check_charlm_prime.sh TG_CHARLM
set -eu
prog=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cd "$d"
printf 'hello world, hello tapegrad\n' > text.txt
"$prog" train text.txt --hidden 8 --layers 1 --seq 4 --batch 2 --steps 2 --val-frac 0 \
    --eval-every 0 --sample-every 0 --sample-len 5 --save m.st > train.out
want="--prime: character 3, U+0007 '\\x07', is not in the vocabulary"
if "$prog" sample m.st --prime "$(printf 'hel\007o')" --len 5 > out 2> err; then
    echo "FAIL: sample accepted an unknown prime character"; exit 1
fi
grep -qF -- "$want" err || { echo "FAIL: sample said:"; cat err; exit 1; }
if "$prog" train text.txt --hidden 8 --seq 4 --batch 2 --steps 2 --prime "$(printf 'hel\007o')" > out 2> err; then
    echo "FAIL: train accepted an unknown prime character"; exit 1
fi
grep -qF -- "$want" err || { echo "FAIL: train said:"; cat err; exit 1; }
grep -q '^trained' out && { echo "FAIL: train trained before refusing the prime"; exit 1; }
"$prog" sample m.st --prime 'hello' --len 5 > out
grep -q '^hello' out || { echo "FAIL: the prime does not start the sample:"; cat out; exit 1; }
grep -q 'gradient clipped to norm 5 in [0-9]* of 2 windows' train.out ||
    { echo "FAIL: no clipping summary:"; cat train.out; exit 1; }
echo "ok: an unknown --prime character is refused by train and sample, naming it"
