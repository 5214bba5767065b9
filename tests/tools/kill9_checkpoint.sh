#!/bin/sh
# kill -9 at random moments during checkpointing (reliability issue): RUNS times (default 100),
# start kill9_saver saving a 4 MB checkpoint over and over, kill it with SIGKILL after a random
# 0-400 ms, then check that the checkpoint loads whole (checksums verified) and count the
# temporary files left; then one more save must remove every stale one.
#   sh tests/tools/kill9_checkpoint.sh build/tests/kill9_saver [RUNS]
set -eu
saver=$1
runs=${2:-100}
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
ck="$d/model.safetensors"
"$saver" once "$ck" # a file exists before the first kill
loadable=0 left_after_kill=0 left_after_save=0
for i in $(seq 1 "$runs"); do
    "$saver" save "$ck" &
    pid=$!
    ms=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
    sleep "$(printf '0.%03d' $((ms % 400)))"
    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true
    if "$saver" check "$ck"; then loadable=$((loadable + 1)); fi
    n=$(find "$d" -name 'model.safetensors.tmp.*' | wc -l)
    left_after_kill=$((left_after_kill + (n > 0)))
    "$saver" once "$ck"
    n=$(find "$d" -name 'model.safetensors.tmp.*' | wc -l)
    left_after_save=$((left_after_save + n))
done
echo "runs $runs: loadable after kill -9: $loadable; runs that left a temporary: $left_after_kill;" \
    "temporaries left after the next save: $left_after_save"
[ "$loadable" -eq "$runs" ] && [ "$left_after_save" -eq 0 ]
