#!/usr/bin/env bash
# The README's test command: every test of the workspace, with all features,
# against real peers.
#
# Tests that need a real peer (PostgreSQL, Redis, OpenLDAP, oidc-provider, ...)
# read its address from a LEXIGRAM_TEST_* variable. This script installs each
# peer when missing, starts it on a free loopback port with throwaway state
# (scripts/peers.sh), exports the variables, runs the tests and always stops
# the peers again, by pid, even when the tests fail or the run is interrupted.
# Plain `cargo test` without the variables skips those tests with one line
# naming the variable; this command never skips them.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# The ui tests compare compiler output with the committed .stderr files; never
# let an inherited TRYBUILD=overwrite rewrite them during a test run.
unset TRYBUILD

# shellcheck source=scripts/peers.sh
source scripts/peers.sh

run_start="$(peers_now)"
peers_init
trap peers_stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== peers"
peers_start_postgres
peers_start_redis
echo "peers ready in $(peers_since "$run_start") s"

echo "== interop peers (node jose, PyJWT)"
eval "$(bash scripts/interop.sh)"

echo "== reference argon2 CLI (password cross-checks)"
if ! command -v argon2 >/dev/null 2>&1; then
  apt-get install -y argon2 >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y argon2 >/dev/null; }
fi
LEXIGRAM_TEST_ARGON2_CLI="$(command -v argon2)"
export LEXIGRAM_TEST_ARGON2_CLI

echo "== cargo test --workspace --all-features"
cargo test --workspace --all-features "$@" </dev/null
echo "== done in $(peers_since "$run_start") s"
