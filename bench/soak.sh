#!/usr/bin/env bash
# soak.sh [DURATION] [PARALLEL]: run random scenario seeds of the
# consistency-proof harness (internal/scenario) for DURATION (default 30m),
# PARALLEL at a time (default 2), and print the figures at the end, as
# "name: value" lines the README's figures table quotes: the commit and the
# command, scenarios run, crashes injected, faults injected, changes
# applied, divergences found (must be 0), the seeds that diverged, each with
# the command that replays it, and the refusals that were correct. Exits 1
# if a seed diverged. Uses TEST_DATABASE_URL when set, else a throwaway
# PostgreSQL cluster. SOAK_BASE=N starts at seed N+1.
set -euo pipefail
cd "$(dirname "$0")/.."
dur="${1:-30m}"
par="${2:-2}"
base="${SOAK_BASE:-0}"
# go test's own timeout: the soak plus room for the scenarios in flight.
case "$dur" in
*h) secs=$(( ${dur%h} * 3600 )) ;;
*m) secs=$(( ${dur%m} * 60 )) ;;
*s) secs=${dur%s} ;;
*) echo "soak.sh: DURATION like 90s, 30m or 2h" >&2; exit 2 ;;
esac
secs=$(( secs + 600 ))
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
	commit="$commit with uncommitted changes"
fi
status=0
go test ./internal/scenario -run '^TestSoak$' -count=1 -timeout "${secs}s" \
	-soak="$dur" -soak.parallel="$par" -soak.base="$base" -soak.out="$out" || status=$?
echo
echo "commit: $commit"
echo "command: ${SOAK_BASE:+SOAK_BASE=$SOAK_BASE }bench/soak.sh $dur $par"
if [ -s "$out" ]; then
	cat "$out"
else
	echo "soak.sh: the soak printed no figures (go test exited with $status)" >&2
	[ "$status" -ne 0 ] || status=2
fi
exit "$status"
