#!/usr/bin/env bash
# Runs each of rnc's fuzz targets for MINUTES minutes, then minimises its corpus in place.
#
#     fuzz/run.sh MINUTES [TARGET...]      # all targets when none are named
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a nightly toolchain (libFuzzer's
# instrumentation and AddressSanitizer take `-Z` flags); FUZZ_TOOLCHAIN picks another one
# (default `nightly`): stable works with RUSTC_BOOTSTRAP=1 set,
#     FUZZ_TOOLCHAIN=stable RUSTC_BOOTSTRAP=1 fuzz/run.sh 2 The corpus of each target is fuzz/corpus/TARGET (committed); a
# crash lands in fuzz/artifacts/TARGET/ and stops the run. Each run's libFuzzer output is
# kept in fuzz/logs/TARGET.log; the last lines (executions, coverage, features) are printed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

if [[ $# -lt 1 || ! $1 =~ ^[0-9]+$ ]]; then
    echo "usage: fuzz/run.sh MINUTES [TARGET...]" >&2
    exit 2
fi
minutes=$1
shift
toolchain=${FUZZ_TOOLCHAIN:-nightly}
if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo "+$toolchain" fuzz list)
fi

mkdir -p logs
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target"
    echo "==> $target: $minutes min"
    cargo "+$toolchain" fuzz run -O "$target" "corpus/$target" -- \
        -max_total_time=$((minutes * 60)) -print_final_stats=1 -max_len=4096 \
        >"logs/$target.log" 2>&1 || {
        tail -n 40 "logs/$target.log"
        echo "!!! $target failed: see fuzz/logs/$target.log and fuzz/artifacts/$target/" >&2
        exit 1
    }
    # The last status line (`#N DONE cov: … ft: … corp: …`) and the final stats.
    grep -E '^#[0-9]+[[:space:]]+DONE|^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' \
        "logs/$target.log" || tail -n 5 "logs/$target.log"
    # Keep only the inputs that add coverage, so the committed corpus stays small.
    cargo "+$toolchain" fuzz cmin -O "$target" "corpus/$target" >>"logs/$target.log" 2>&1
    echo "corpus: $(find "corpus/$target" -type f | wc -l) files, $(cat "corpus/$target"/* 2>/dev/null | wc -c) bytes"
done
