#!/usr/bin/env bash
# Installs the interop peers for the token tests (node `jose` from the lockfile,
# PyJWT in a virtualenv under target/) and prints the variables that point the
# tests at them. Idempotent; used by scripts/test.sh.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

(cd "$root/interop/node" && npm ci --no-audit --no-fund --silent >/dev/null)

venv="$root/target/interop-venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/interop/python/requirements.txt"

echo "export LEXIGRAM_TEST_JOSE=\"node $root/interop/node/jwt.mjs\""
echo "export LEXIGRAM_TEST_PYJWT=\"$venv/bin/python $root/interop/python/jwt_peer.py\""
