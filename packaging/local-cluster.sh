#!/usr/bin/env bash
# Several `pool run` nodes on one PostgreSQL, on this machine, for a test of
# the multi-node set-up (README, "Several nodes behind one load balancer"):
# a throwaway PostgreSQL (.ci/postgres.sh), then NODES nodes (default 2),
# each on its own simnet chain, with its own node_prefix, Stratum port
# 3333+n and web port 8080+n, all writing one ledger. Ctrl-C stops them all
# and removes the database. Point miners (or benches/load/run.sh's harness,
# `target/release/load --pool 127.0.0.1:3334`) at any node.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/postgres.sh
nodes=${NODES:-2}
cargo build --release --quiet -p pool --bin pool
start_test_postgres
scratch=$(mktemp -d "${TMPDIR:-/tmp}/pool-cluster.XXXXXX")
pids=()
cleanup() {
    kill "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
    stop_test_postgres
    rm -rf "$scratch"
}
trap cleanup EXIT
for ((node = 0; node < nodes; node++)); do
    POOL_DATABASE_URL=$POOL_TEST_POSTGRES_URL \
        POOL_STRATUM_NODE_PREFIX=$node \
        POOL_STRATUM_LISTEN=127.0.0.1:$((3333 + node)) \
        POOL_WEB_LISTEN=127.0.0.1:$((8080 + node)) \
        POOL_CHAIN_SOURCE=simnet \
        POOL_CHAIN_BLOCKS_DIR="$scratch/blocks-$node" \
        target/release/pool run >"$scratch/node-$node.log" 2>&1 &
    pids+=($!)
    echo "node $node: stratum+tcp://127.0.0.1:$((3333 + node)), http://127.0.0.1:$((8080 + node))/, log $scratch/node-$node.log"
done
echo "ledger: $POOL_TEST_POSTGRES_URL"
echo "Ctrl-C stops every node and removes the database."
wait -n "${pids[@]}" || true
echo "a node stopped; its log:" >&2
tail -n 20 "$scratch"/node-*.log >&2
exit 1
