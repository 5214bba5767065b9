#!/bin/bash
# kjv_corpus.sh OUT: write the King James Bible to OUT as a character-LM corpus.
#
# The text comes from Debian's bible-kjv package: `bible -f Gen1:1-Rev22:21` prints every verse
# on one line after its reference ("Ge1:1 In the beginning God created ..."; -f turns the
# default pretty-printing off). We keep one verse per line, so a newline marks the end of a
# verse, drop the reference, squeeze runs of spaces and drop trailing spaces. The result is
# plain ASCII: 4,137,847 bytes in 31,102 lines, 63 distinct characters. OUT is written through a temporary file and
# renamed, so it is never left half-written.
set -euo pipefail

die() {
    echo "kjv_corpus.sh: $*" >&2
    exit 1
}

[ $# -eq 1 ] || { echo "usage: kjv_corpus.sh OUT   (writes the KJV text, one verse per line)" >&2; exit 2; }
out=$1
command -v bible >/dev/null 2>&1 ||
    die "the 'bible' program is missing; install it: apt-get install bible-kjv"

tmp=$(mktemp "${out}.tmp.XXXXXX") || die "cannot create a temporary file next to $out"
trap 'rm -f "$tmp"' EXIT

# A reference is an optional digit, letters (the book), then chapter:verse and a space.
bible -f Gen1:1-Rev22:21 </dev/null | awk '
    !/^[1-3]?[A-Za-z]+[0-9]+:[0-9]+ / { bad = NR; exit 1 }
    {
        sub(/^[^ ]+ /, "")
        gsub(/  +/, " ")
        sub(/ +$/, "")
        print
    }
    END { if (bad) printf "line %d of bible'"'"'s output has no verse reference\n", bad > "/dev/stderr" }
' >"$tmp" || die "bible failed or printed something unexpected (is bible-kjv-text installed?)"

verses=$(wc -l <"$tmp")
[ "$verses" -eq 31102 ] ||
    die "got $verses verses, the KJV has 31102; is the bible-kjv-text data complete?"
chmod 644 "$tmp"
mv "$tmp" "$out"
trap - EXIT
