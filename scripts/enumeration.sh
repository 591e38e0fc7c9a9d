#!/usr/bin/env bash
# SECURITY.md's login-enumeration figure, measured (a script, not a test:
# timings never gate the test suite).
#
# Starts a real axum server with users in SQLite and the default Argon2id
# hasher, then over HTTP makes 200 logins each, interleaved, for an unknown
# e-mail address, a wrong password and an inactive account; prints each
# median, the largest difference between medians (target: under 5 ms) and
# whether every refusal had the same status and body; then 200 attempts on a
# locked account (target: under 1 ms, no hash). Exits non-zero when a target
# is missed. Needs nothing but cargo.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
cargo bench -q -p lexigram-auth --features sqlite --bench login -- enumeration | tee "$out"
if grep -q "NOT met" "$out"; then
  echo "enumeration: a target was missed" >&2
  exit 1
fi
