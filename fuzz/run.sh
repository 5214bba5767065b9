#!/bin/sh
# Run every libFuzzer target for SECONDS each (default 20), one after another, from the committed
# seeds (fuzz/corpus/<target>, shared read-only) with the dictionary; new inputs go to a scratch
# corpus in WORK. Exits non-zero at the first crash, leak, sanitizer report or timeout; the input
# that caused it is left in WORK.
#   sh fuzz/run.sh BUILD_DIR [SECONDS] [WORK]     e.g. sh fuzz/run.sh build-fuzz 14400 /tmp/fz
# BUILD_DIR is configured for fuzzing (see fuzz/README.md). Prints each target's executions.
set -eu
build=$1
secs=${2:-20}
work=${3:-$(mktemp -d)}
src=$(cd "$(dirname "$0")" && pwd)
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
for t in safetensors lm_ckpt vocab utf8 options; do
    mkdir -p "$work/$t"
    log="$work/$t.log"
    "$build/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -max_len=16384 -dict="$src/safetensors.dict" -artifact_prefix="$work/$t-" \
        -print_final_stats=1 "$work/$t" "$src/corpus/$t" >"$log" 2>&1 || {
        tail -n 60 "$log"
        echo "fuzz_$t: FAILED (log $log)"
        exit 1
    }
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "fuzz_$t: $runs executions in ${secs}s, no crash"
done
