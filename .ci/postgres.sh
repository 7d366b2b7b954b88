# Sourced by .ci/run and packaging/local-cluster.sh: a throwaway PostgreSQL
# server on a free loopback port (start_test_postgres exports its URL as
# POOL_TEST_POSTGRES_URL; stop_test_postgres removes it).

# The ledger tests run against SQLite and PostgreSQL: unless
# POOL_TEST_POSTGRES_URL names a server already, start a throwaway one
# (installed from Debian's packages if absent) on a free loopback port,
# and stop it when this script exits.
start_test_postgres() {
    if [[ -n "${POOL_TEST_POSTGRES_URL:-}" ]]; then
        echo "PostgreSQL for the tests: POOL_TEST_POSTGRES_URL from the environment"
        return
    fi
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [[ -z "$bin" || ! -x "$bin/initdb" ]]; then
        echo "installing PostgreSQL (Debian package postgresql)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
        bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    fi
    # initdb refuses to run as root: run the server as `postgres` then.
    local as_server=()
    if [[ $(id -u) -eq 0 ]]; then
        id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
        as_server=(runuser -u postgres --)
    fi
    PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pool-ci-postgres.XXXXXX")
    chmod 755 "$PG_DIR"
    [[ ${#as_server[@]} -eq 0 ]] || chown postgres: "$PG_DIR"
    PG_CTL=("${as_server[@]}" "$bin/pg_ctl" -D "$PG_DIR/data")
    trap stop_test_postgres EXIT
    "${as_server[@]}" "$bin/initdb" -D "$PG_DIR/data" -U postgres --auth=trust \
        -E UTF8 --no-sync >"$PG_DIR/initdb.log" 2>&1 ||
        { cat "$PG_DIR/initdb.log"; return 1; }
    local port attempt
    for attempt in 1 2 3 4 5; do
        port=$((20000 + RANDOM % 40000))
        # Taken if something answers there.
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi
        if "${PG_CTL[@]}" -w -t 60 -l "$PG_DIR/server.log" start \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_DIR -c max_connections=200" \
            >/dev/null; then
            "$bin/psql" -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres \
                -c "CREATE USER pool_test PASSWORD 'pool_test'" \
                -c "CREATE DATABASE pool_test OWNER pool_test" >/dev/null
            export POOL_TEST_POSTGRES_URL="postgres://pool_test:pool_test@127.0.0.1:$port/pool_test"
            echo "PostgreSQL for the tests: $("$bin/postgres" --version) on 127.0.0.1:$port"
            return
        fi
        echo "PostgreSQL did not start on port $port (attempt $attempt):"
        tail -n 5 "$PG_DIR/server.log" || true
    done
    return 1
}

stop_test_postgres() {
    "${PG_CTL[@]}" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
}
