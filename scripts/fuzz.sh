#!/usr/bin/env bash
# fuzz.sh [seconds]
#
# Runs every Go fuzz target of the module (func FuzzXxx, found with
# `go test -list '^Fuzz'`), one after another, each for the given number
# of seconds (default 10), printing each name as it starts, and fails if
# any of them fails. The targets' seed corpora (f.Add and
# testdata/fuzz/FuzzXxx/) also run in a plain `go test`.
#
# A failing input is written by go test to the package's
# testdata/fuzz/FuzzXxx/; keep it there as a regression seed and fix the
# code (or, for a documented difference, the oracle). Inputs that only
# widened coverage stay in go's cache ($(go env GOCACHE)/fuzz), so later
# runs start from them.
#
# Environment: GO (default go); FUZZ_MINIMIZE (default 5s), how long go
# may spend shrinking each new input, which otherwise can take a minute of
# a short run; FUZZ_PARALLEL, the number of fuzzing workers (default: one
# per CPU).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
secs=${1:-10}
case $secs in
  '' | *[!0-9]* | 0) echo "usage: $0 [seconds per target, default 10]" >&2; exit 2 ;;
esac
GO=${GO:-go}
minimize=${FUZZ_MINIMIZE:-5s}
parallel=()
if [ -n "${FUZZ_PARALLEL:-}" ]; then parallel=(-parallel "$FUZZ_PARALLEL"); fi

# Only packages with a "func Fuzz…" in a test file are listed: listing ./...
# would run every package's TestMain (cmd/sluice's builds the binary).
# `go test -list` prints a package's matching names, then "ok <package> <time>".
# A package that does not build fails the listing, and so this script.
pkgs=$(grep -rlE --include='*_test.go' '^func Fuzz[A-Z0-9_]' . | xargs -r -n1 dirname | sort -u)
if [ -z "$pkgs" ]; then
  echo "fuzz.sh: no fuzz targets found" >&2
  exit 1
fi
# shellcheck disable=SC2086 # one package per word
if ! listing=$("$GO" test -list '^Fuzz' $pkgs 2>&1); then
  printf '%s\n' "$listing" | grep -v '^Fuzz' >&2
  echo "fuzz.sh: listing the fuzz targets failed (does every package build?)" >&2
  exit 1
fi
targets=$(printf '%s\n' "$listing" | awk '
  /^Fuzz/ { names[++n] = $1; next }
  /^ok/   { for (i = 1; i <= n; i++) print $2, names[i]; n = 0 }')
if [ -z "$targets" ]; then
  echo "fuzz.sh: no fuzz targets found" >&2
  exit 1
fi

count=$(printf '%s\n' "$targets" | wc -l)
echo "fuzz.sh: $count targets, ${secs}s each"
# files counts the inputs in a corpus directory (0 when there is none).
files() { if [ -d "$1" ]; then find "$1" -maxdepth 1 -type f | wc -l; else echo 0; fi; }

failed=()
flaked=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT
while read -r pkg name; do
  echo "=== $name ($pkg)"
  dir=$("$GO" list -f '{{.Dir}}' "$pkg" </dev/null)/testdata/fuzz/$name
  before=$(files "$dir")
  if "$GO" test -run '^$' -fuzz "^${name}\$" -fuzztime "${secs}s" -fuzzminimizetime "$minimize" ${parallel[@]+"${parallel[@]}"} "$pkg" </dev/null 2>&1 | tee "$log"; then
    continue
  fi
  # Go before 1.27 can fail a run at the end of -fuzztime with a bare
  # "context deadline exceeded" and no failing input (go.dev/issue/75804):
  # that is the toolchain's race, not a finding.
  if grep -q '^    context deadline exceeded$' "$log" && [ "$(files "$dir")" -eq "$before" ]; then
    echo "fuzz.sh: $name: ignoring Go's end-of-fuzztime race (go.dev/issue/75804): no failing input" >&2
    flaked+=("$name ($pkg)")
    continue
  fi
  failed+=("$name ($pkg)")
done <<<"$targets"

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: ${#failed[@]} of $count targets failed:" >&2
  printf '  %s\n' "${failed[@]}" >&2
  exit 1
fi
if [ ${#flaked[@]} -gt 0 ]; then
  echo "fuzz.sh: all $count targets passed (${#flaked[@]} cut short by the fuzztime race above)"
else
  echo "fuzz.sh: all $count targets passed"
fi
