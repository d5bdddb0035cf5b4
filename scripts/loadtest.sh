#!/usr/bin/env bash
# A bounded load run: starts a fresh stellad (development keys, temp data dir, loopback), drives it with
# `stellactl bench sign` (N requests from C clients, stops by itself), prints the figures next to the raw ECDSA
# signing rate measured in the same run and the daemon's peak resident memory, then stops the daemon.
# Usage: scripts/loadtest.sh [N] [C]   (defaults 20000 and 64; needs `make build` first)
set -euo pipefail
n=${1:-20000}
c=${2:-64}
here=$(cd "$(dirname "$0")/.." && pwd)
data=$(mktemp -d)
port=${LOADTEST_PORT:-18480}
"$here/bin/stellad" serve --dev --data-dir "$data" --listen "127.0.0.1:$port" --log-level warn >"$data/stellad.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then break; fi
  sleep 0.1
done
idle=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
echo "stellad idle RSS: $((idle / 1024)) MiB"
# Development mode wrote a token for the local user and its DPoP key: every request is authenticated,
# entitled and audited as in production.
export STELLAD_TOKEN_FILE="$data/dev/token" STELLAD_DPOP_KEY="$data/dev/dpop-key.pem"
"$here/bin/stellactl" --server "http://127.0.0.1:$port" bench sign -n "$n" -c "$c" --verify-sample 20
