#!/usr/bin/env bash
# The README's test command: every test of the workspace, with all features.
#
# Tests that need a real peer (PostgreSQL, Redis, OpenLDAP, oidc-provider, ...)
# read its address from a LEXIGRAM_TEST_* variable. This script is where each
# peer is installed, started on a loopback port with throwaway state, and
# stopped again; the issues that bring such tests add their peer here. No test
# needs a peer yet.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# The ui tests compare compiler output with the committed .stderr files; never
# let an inherited TRYBUILD=overwrite rewrite them during a test run.
unset TRYBUILD

echo "== cargo test --workspace --all-features"
cargo test --workspace --all-features "$@"
