#!/usr/bin/env bash
# Runs every fuzz target of the module briefly (default 5s each): `go test -fuzz` takes one target at a time.
# Minimizing a new interesting input can take far longer than the run itself (the default is 60s), so it is
# capped; a crashing input is still saved under testdata/fuzz for `go test` to replay.
set -euo pipefail
fuzztime=${1:-5s}
cd "$(dirname "$0")/.."
status=0
while IFS=: read -r file name; do
  pkg="$(dirname "$file")"
  echo "fuzz: $pkg $name ($fuzztime)"
  if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime 1s "$pkg" >/tmp/stellad-fuzz.$$ 2>&1; then
    cat /tmp/stellad-fuzz.$$; status=1
  else
    tail -n 1 /tmp/stellad-fuzz.$$
  fi
done < <(grep -rHoE --include='*_test.go' '^func (Fuzz[A-Za-z0-9_]+)' . | sed -E 's/:func /:/' | sort)
rm -f /tmp/stellad-fuzz.$$
exit $status
