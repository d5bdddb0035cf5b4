#!/usr/bin/env bash
# Runs every fuzz target of the module briefly: `go test -fuzz` takes one target at a time.
# The budget is a count of executions per target (default 50000x), not a duration: Go 1.26's fuzz coordinator can
# fail a target with a bare "context deadline exceeded" when a duration-based -fuzztime ends while a worker is busy
# (golang/go#75804, fixed in Go 1.27); a count has no deadline to race. Minimizing a new interesting input is capped
# by count too; a crashing input is still saved under testdata/fuzz for `go test` to replay.
set -euo pipefail
fuzztime=${1:-50000x}
cd "$(dirname "$0")/.."
status=0
while IFS=: read -r file name; do
  pkg="$(dirname "$file")"
  echo "fuzz: $pkg $name ($fuzztime)"
  if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime 200x "$pkg" >/tmp/stellad-fuzz.$$ 2>&1; then
    cat /tmp/stellad-fuzz.$$; status=1
  else
    tail -n 1 /tmp/stellad-fuzz.$$
  fi
done < <(grep -rHoE --include='*_test.go' '^func (Fuzz[A-Za-z0-9_]+)' . | sed -E 's/:func /:/' | sort)
rm -f /tmp/stellad-fuzz.$$
exit $status
