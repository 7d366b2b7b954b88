#!/usr/bin/env bash
# One load run on a freshly started pool: builds both binaries (release),
# starts `pool run` with benches/load/<mode>.toml in a scratch directory,
# runs the harness against it with the pool's pid, then stops the pool.
#   benches/load/run.sh reject --connections 100 --in-flight 16 --duration 10
#   benches/load/run.sh notify --connections 9000 --in-flight 0 --blocks 10
# LOAD_POOL_BIN / LOAD_BIN use other binaries (a baseline build); other POOL_*
# variables reach the pool (POOL_DATABASE_URL=postgres://... for PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:?usage: run.sh reject|accept|notify [load options]}
shift
if [[ -z "${LOAD_POOL_BIN:-}" || -z "${LOAD_BIN:-}" ]]; then
    cargo build --release --quiet -p pool --bin pool -p benches --bin load
fi
pool_bin=${LOAD_POOL_BIN:-target/release/pool}
load_bin=${LOAD_BIN:-target/release/load}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/pool-load.XXXXXX")
export POOL_DATABASE_URL=${POOL_DATABASE_URL:-sqlite://$scratch/load.db}
export POOL_CHAIN_BLOCKS_DIR=$scratch/blocks
# Many connections: the pool raises its own descriptor limit to the hard one.
ulimit -n "$(ulimit -Hn)"
"$pool_bin" run --config "benches/load/$mode.toml" >"$scratch/pool.log" 2>&1 &
pool_pid=$!
trap 'kill $pool_pid 2>/dev/null; wait $pool_pid 2>/dev/null; rm -rf "$scratch"' EXIT
for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/3333) 2>/dev/null && break
    kill -0 $pool_pid 2>/dev/null || { cat "$scratch/pool.log"; exit 1; }
    sleep 0.1
done
"$load_bin" --mode "$mode" --pid "$pool_pid" "$@"
