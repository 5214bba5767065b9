#!/bin/sh
# Build tests/subproject, a project that uses tapegrad as a subproject, in a temporary folder and
# run its tests (each checks a gradient). Run by .ci/run.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$root/tests/subproject/meson.build" "$root/tests/subproject/main.c" "$work/"
mkdir "$work/subprojects"
ln -s "$root" "$work/subprojects/tapegrad"
meson setup "$work/build" "$work" >/dev/null
meson compile -C "$work/build" >/dev/null
meson test -C "$work/build" --print-errorlogs
echo "tapegrad works as a meson subproject"
