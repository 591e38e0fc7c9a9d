#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets) with cargo fuzz on the nightly
# toolchain, SECONDS_PER_TARGET seconds each (default 60), and prints for
# each its executions, executions per second and whether it found a crash.
# Installs cargo-fuzz first if it is missing. Exit status 1 if any target
# crashed (the input is left in fuzz/artifacts/<target>/).
#
#   bash scripts/fuzz.sh                 # every target, 60 s each
#   SECONDS_PER_TARGET=600 bash scripts/fuzz.sh token token_claims
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${SECONDS_PER_TARGET:-60}"
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cd fuzz && cargo +nightly fuzz list)
fi

failed=0
summary=()
for target in "${targets[@]}"; do
    echo "== $target: building"
    (cd fuzz && cargo +nightly fuzz build --release "$target")
    log="$(mktemp)"
    echo "== $target: running ${seconds} s"
    set +e
    mkdir -p "fuzz/corpus/$target"
    (cd fuzz && cargo +nightly fuzz run --release "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -max_len=4096 -print_final_stats=1) >"$log" 2>&1
    status=$?
    set -e
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    if [ "$status" -eq 0 ]; then
        verdict="0 crashes"
    else
        verdict="CRASH (status $status, see fuzz/artifacts/$target/)"
        tail -40 "$log"
        failed=1
    fi
    summary+=("$target: $runs executions in ${seconds} s, $rate/s, $verdict")
    rm -f "$log"
done

echo "== summary"
printf '%s\n' "${summary[@]}"
exit "$failed"
