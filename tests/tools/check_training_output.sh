#!/bin/sh
# What the training programs print (issue 11): progress lines with the loss, its perplexity
# (and tg_charlm's bits per character), the gradient norm and "clipped C of N"; tg_charlm's
# validation lines with the per-character perplexity and its clipping summary; tg_wordlm's
# epoch lines with the epoch's clipped windows. Tiny runs: a clip norm of 0.01 clips every
# window, 0 (off) none. Every perplexity must be exp of its loss, every bpc loss / ln 2.
#   check_training_output.sh TG_CHARLM TG_WORDLM
set -eu
charlm=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
wordlm=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cd "$d"
fail() { echo "FAIL: $1"; cat out; exit 1; }
i=0
while [ $i -lt 30 ]; do echo "the cat sat on the mat $i"; i=$((i + 1)); done > train.txt
head -10 train.txt > valid.txt

"$charlm" train train.txt --hidden 8 --layers 1 --seq 4 --batch 2 --steps 20 --eval-every 10 \
    --sample-every 0 --sample-len 5 --clip 0.01 > out
grep -Eq '^step 20/20  loss [0-9.]+  bpc [0-9.]+  ppl [0-9.]+  grad norm [0-9.e+-]+  clipped 20 of 20  [0-9]+ tok/s' out ||
    fail "tg_charlm progress line"
grep -Eq '^epoch 1 step 10: validation loss [0-9.]+ nats, [0-9.]+ bits per character, perplexity [0-9.]+ per character$' out ||
    fail "tg_charlm validation line"
grep -q '^gradient clipped to norm 0.01 in 20 of 20 windows$' out || fail "tg_charlm clipping summary"
[ "$(grep -c 'validation loss' out)" = 2 ] ||
    fail "tg_charlm: validation at steps 10 and 20, once each (the last step is on --eval-every)"
# ppl = exp(loss), bpc = loss / ln 2, to the printed digits
awk '/^step /   { if ((exp($4) - $8) ^ 2 > 1e-4 * $8 ^ 2 || ($4 / log(2) - $6) ^ 2 > 1e-7) bad = 1 }
     /^epoch /  { if ((exp($7) - $14) ^ 2 > 1e-5 * $14 ^ 2) bad = 1 }
     END        { exit bad }' out || fail "tg_charlm: a perplexity or bpc is not exp(loss) or loss/ln 2"
"$charlm" train train.txt --hidden 8 --layers 1 --seq 4 --batch 2 --steps 20 --eval-every 0 \
    --sample-every 0 --sample-len 5 --clip 0 > out
grep -Eq '^step 20/20 .* clipped 0 of 20 ' out || fail "tg_charlm with --clip 0"

"$wordlm" train --train train.txt --valid valid.txt --hidden 8 --batch 2 --seq 5 --epochs 2 \
    --clip 0.01 --threads 1 > out
[ "$(grep -Ec '^step 24/24  loss [0-9.]+  ppl [0-9.]+  grad norm [0-9.e+-]+  clipped 24 of 24  ' out)" = 2 ] ||
    fail "tg_wordlm progress lines (one per epoch, counting from the epoch's start)"
[ "$(grep -Ec '^epoch [12]  lr 1  train ppl [0-9.]+  valid ppl [0-9.]+  clipped 24 of 24  ' out)" = 2 ] ||
    fail "tg_wordlm epoch lines"
awk '/^step / { if ((exp($4) - $6) ^ 2 > 1e-4 * $6 ^ 2) bad = 1 } END { exit bad }' out ||
    fail "tg_wordlm: a perplexity is not exp(loss)"
echo "ok: both programs print perplexity, the gradient norm and the clipped windows"
