#!/usr/bin/env bash
# Real peers for the tests: install when missing, start on a free loopback
# port with throwaway state, wait until each answers, stop by pid.
#
# Source it and call, in this order:
#   peers_init                # a temporary folder for every peer's state
#   peers_start_postgres      # exports LEXIGRAM_TEST_POSTGRES_URL
#   peers_start_redis         # exports LEXIGRAM_TEST_REDIS_URL and LEXIGRAM_TEST_REDIS_CTL
#   peers_stop_all            # stops every started peer by pid, removes the folder
# A new peer (LDAP, oidc-provider, ...) adds a peers_start_NAME that records
# its stop command with peers_on_stop.
#
# Or run it: `bash scripts/peers.sh redis-ctl DIR stop|start|pause|resume`
# stops or starts (same port, same data) the Redis whose state is in DIR, or
# freezes and thaws it; LEXIGRAM_TEST_REDIS_CTL is a small script doing that,
# so tests can take Redis away and bring it back.
#
# Works as root (PostgreSQL then runs as the `postgres` user) or as a user
# who can run the servers; never reads standard input.

PEERS_PG_BIN="${PEERS_PG_BIN:-/usr/lib/postgresql/15/bin}"
PEERS_SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
PEERS_DIR=""
PEERS_STOPS=()

peers_log() { printf '[peers] %s\n' "$*" >&2; }

# Seconds since the epoch, with milliseconds.
peers_now() { date +%s.%3N; }
peers_since() { awk -v a="$1" -v b="$(peers_now)" 'BEGIN { printf "%.2f", b - a }'; }

peers_init() {
    PEERS_DIR="$(mktemp -d "${TMPDIR:-/tmp}/lexigram-peers.XXXXXX")"
    chmod 755 "$PEERS_DIR"
}

# Registers a command that peers_stop_all runs (last registered, first run).
peers_on_stop() { PEERS_STOPS+=("$1"); }

peers_stop_all() {
    local i
    for ((i = ${#PEERS_STOPS[@]} - 1; i >= 0; i--)); do
        eval "${PEERS_STOPS[$i]}" || true
    done
    PEERS_STOPS=()
    if [[ -n "$PEERS_DIR" && -d "$PEERS_DIR" ]]; then
        rm -rf "$PEERS_DIR"
    fi
    PEERS_DIR=""
}

# Whether pid runs. A daemon that exited stays a zombie until the init
# process reaps it, which can take a second or two here: that counts as gone.
peers_pid_alive() {
    local state
    state="$(ps -o stat= -p "$1" 2>/dev/null || true)"
    [[ -n "$state" && "$state" != Z* ]]
}

# Sends SIGNAL (default TERM) to a pid, waits up to 10 s for it to go, then
# KILLs it.
peers_kill_pid() {
    local pid="$1" signal="${2:-TERM}" i
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    kill "-$signal" "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 200; i++)); do
        peers_pid_alive "$pid" || return 0
        sleep 0.05
    done
    peers_log "pid $pid did not stop on $signal; killing it"
    kill -KILL "$pid" 2>/dev/null || true
}

# Whether something accepts TCP connections on 127.0.0.1:PORT.
peers_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A port in 20000-59999 that nothing listens on now. Another process may
# still take it first, so each start retries on a new port when binding fails.
peers_free_port() {
    local port i
    for ((i = 0; i < 200; i++)); do
        port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        if ! peers_port_open "$port"; then
            echo "$port"
            return 0
        fi
    done
    peers_log "no free loopback port found"
    return 1
}

# apt-get install, non-interactive; apt-get update only when the install
# fails without it (a fresh machine has no package lists).
peers_apt_install() {
    if [[ "$(id -u)" != 0 ]]; then
        peers_log "missing $*: install it (apt-get install -y $*) or run as root"
        return 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    local apt=(apt-get -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
    if ! "${apt[@]}" install "$@" </dev/null >"$PEERS_DIR/apt.log" 2>&1; then
        peers_log "apt-get install $* failed; running apt-get update first"
        apt-get -q update </dev/null >>"$PEERS_DIR/apt.log" 2>&1 || true
        if ! "${apt[@]}" install "$@" </dev/null >>"$PEERS_DIR/apt.log" 2>&1; then
            tail -n 20 "$PEERS_DIR/apt.log" >&2
            return 1
        fi
    fi
}

# Runs a command as the postgres user when we are root (PostgreSQL refuses
# to run as root), as ourselves otherwise.
peers_as_postgres() {
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

peers_start_postgres() {
    local start
    start="$(peers_now)"
    if [[ ! -x "$PEERS_PG_BIN/initdb" ]]; then
        peers_log "installing postgresql-15"
        peers_apt_install postgresql-15 || return 1
    fi
    local dir="$PEERS_DIR/postgres"
    mkdir -p "$dir"
    if [[ "$(id -u)" == 0 ]]; then
        chown postgres: "$dir"
    fi
    peers_as_postgres "$PEERS_PG_BIN/initdb" -D "$dir/data" -A trust -U postgres \
        --no-sync >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        return 1
    }
    local port attempt
    for attempt in 1 2 3 4 5; do
        port="$(peers_free_port)" || return 1
        if peers_as_postgres "$PEERS_PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
            -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off" start \
            >"$dir/pg_ctl.log" 2>&1; then
            break
        fi
        peers_log "postgres did not start on port $port (attempt $attempt)"
        tail -n 5 "$dir/server.log" >&2 || true
        port=""
    done
    [[ -n "$port" ]] || return 1
    local pid
    pid="$(head -n 1 "$dir/data/postmaster.pid")"
    # INT is PostgreSQL's fast shutdown: it does not wait for clients.
    peers_on_stop "peers_kill_pid $pid INT"
    # pg_ctl -w returns once the server accepts connections; check over TCP.
    local i
    for ((i = 0; i < 100; i++)); do
        if "$PEERS_PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres; then
            break
        fi
        sleep 0.1
    done
    "$PEERS_PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres || {
        peers_log "postgres on port $port does not answer"
        return 1
    }
    export LEXIGRAM_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
    peers_log "postgres 15 on 127.0.0.1:$port (pid $pid), ready in $(peers_since "$start") s"
}

# Starts the Redis whose state is in DIR on PORT and waits until it answers.
peers_redis_up() {
    local dir="$1" port="$2" i
    redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' --appendonly yes \
        --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
        </dev/null >/dev/null 2>&1 || return 1
    for ((i = 0; i < 100; i++)); do
        if [[ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" == PONG ]]; then
            return 0
        fi
        sleep 0.05
    done
    tail -n 5 "$dir/redis.log" >&2 || true
    return 1
}

# Stops the Redis whose state is in DIR by the pid in its pidfile.
peers_redis_down() {
    local dir="$1" pid
    pid="$(cat "$dir/redis.pid" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -CONT "$pid" 2>/dev/null # if a test froze it
    peers_kill_pid "$pid"
    rm -f "$dir/redis.pid"
}

peers_start_redis() {
    local start
    start="$(peers_now)"
    if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
        peers_log "installing redis-server"
        peers_apt_install redis-server || return 1
    fi
    local dir="$PEERS_DIR/redis"
    mkdir -p "$dir"
    local port attempt
    for attempt in 1 2 3 4 5; do
        port="$(peers_free_port)" || return 1
        if peers_redis_up "$dir" "$port"; then
            break
        fi
        peers_log "redis did not start on port $port (attempt $attempt)"
        peers_redis_down "$dir"
        port=""
    done
    [[ -n "$port" ]] || return 1
    echo "$port" >"$dir/port"
    # The pid is read at stop time: a test may have restarted Redis.
    peers_on_stop "peers_redis_down '$dir'"
    cat >"$dir/ctl" <<EOF
#!/usr/bin/env bash
# stop|start|pause|resume the test Redis on 127.0.0.1:$port, state in $dir.
exec bash '$PEERS_SELF' redis-ctl '$dir' "\$@"
EOF
    chmod +x "$dir/ctl"
    export LEXIGRAM_TEST_REDIS_URL="redis://127.0.0.1:$port/0"
    export LEXIGRAM_TEST_REDIS_CTL="$dir/ctl"
    peers_log "redis $(redis-server --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p') on 127.0.0.1:$port (pid $(cat "$dir/redis.pid")), ready in $(peers_since "$start") s"
}

# `bash peers.sh redis-ctl DIR stop|start`
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
    case "${1:-}:${3:-}" in
    redis-ctl:stop)
        peers_redis_down "$2"
        ;;
    redis-ctl:start)
        peers_redis_up "$2" "$(cat "$2/port")"
        ;;
    redis-ctl:pause) # a server that hangs: connections open, no answers
        kill -STOP "$(cat "$2/redis.pid")"
        ;;
    redis-ctl:resume)
        kill -CONT "$(cat "$2/redis.pid")"
        ;;
    *)
        echo "usage: $0 redis-ctl DIR stop|start|pause|resume" >&2
        exit 2
        ;;
    esac
fi
