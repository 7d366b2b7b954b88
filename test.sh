#!/usr/bin/env bash
# Every test of the workspace (`cargo test --workspace`, with any extra
# arguments), then one last line naming every suite that skipped tests and
# why, from the skip log that test-skip/src/lib.rs writes: a test without
# its PostgreSQL, Chromium, bitcoind or CPU feature says so there instead
# of passing silently. Exits with cargo's status.
set -uo pipefail
cd "$(dirname "$0")"

target=${CARGO_TARGET_DIR:-target}
# Absolute: each test binary runs in its own package's directory.
[[ $target == /* ]] || target="$PWD/$target"
export POOL_TEST_SKIP_DIR="$target/test-skips"
rm -rf "$POOL_TEST_SKIP_DIR"
mkdir -p "$POOL_TEST_SKIP_DIR"

cargo test --workspace "$@"
status=$?

# `suite<TAB>reason` per skipped test -> `suite (reason, N tests)`, in order.
log="$POOL_TEST_SKIP_DIR/skipped.tsv"
if [[ -s "$log" ]]; then
    echo "skipped: $(awk -F '\t' '
        !(($1 FS $2) in count) { order[++n] = $1 FS $2 }
        { count[$1 FS $2]++ }
        END {
            for (i = 1; i <= n; i++) {
                split(order[i], field, FS)
                tests = count[order[i]] == 1 ? "1 test" : count[order[i]] " tests"
                printf "%s%s (%s; %s)", (i > 1 ? "; " : ""), field[1], field[2], tests
            }
        }' "$log")"
else
    echo "skipped: none"
fi
exit "$status"
