#!/usr/bin/env bash
# soak.sh [DURATION] [PARALLEL]: run random scenario seeds of the
# consistency-proof harness (internal/scenario) for DURATION (default 30m),
# PARALLEL at a time (default 2), and print the figures: scenarios run,
# crashes injected, faults injected, changes applied, divergences found
# (must be 0), refusals that were correct. A failing seed is printed with
# the command that replays it. Uses TEST_DATABASE_URL when set, else a
# throwaway PostgreSQL cluster. SOAK_BASE=N starts at seed N+1.
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
exec go test ./internal/scenario -run '^TestSoak$' -count=1 -timeout "${secs}s" \
	-soak="$dur" -soak.parallel="$par" -soak.base="$base"
