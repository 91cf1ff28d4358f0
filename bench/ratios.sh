#!/usr/bin/env bash
# ddbsync's figures side by side with their physical limits, on the same
# machine in the same run, with the ratios:
#
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres bench/ratios.sh [ITEMS] [flags of bench/ratios]
#
#   bench/ratios.sh 1000000            # tenure items (default), load, resumed load, diff
#   bench/ratios.sh 200000 -doc        # and a load with --doc beside it (time, storage, queries)
#   bench/ratios.sh 1000000 -shape small
#
# Builds ddbsync, writes an ITEMS-item (default 1,000,000) sample export once
# (kept in bench/out), and measures, each in scratch databases it drops at
# the end: the load against PostgreSQL's own binary COPY of the same
# (key, item) rows prepared in advance, plus adding the primary key; a load
# killed with SIGKILL halfway and resumed (time, peak RSS); the diff against
# that export with 1,000 planted differences, against reading and decoding
# the export alone and against the load; storage per million items; the
# README's analyst queries. Follow's apply against a set-based upsert:
# go test ./reconcile/follow -run '^$' -bench BenchmarkFollowApply.
set -euo pipefail
cd "$(dirname "$0")/.."
items=${1:-1000000}
shift || true
: "${DATABASE_URL:=postgres://postgres@127.0.0.1:5432/postgres}"
export DATABASE_URL
mkdir -p bench/out
go build -o bench/out/ddbsync ./cmd/ddbsync
go build -o bench/out/ratios ./bench/ratios
exec bench/out/ratios -bin bench/out/ddbsync -items "$items" "$@"
