#!/usr/bin/env bash
# Benchmark of `ddbsync load` against PostgreSQL's own COPY.
#
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres bench/load.sh [ITEMS]
#
# Writes an ITEMS-item (default 1,000,000) sample export once (kept in
# bench/out), loads it with ddbsync into a fresh database and prints items/s,
# MB/s and peak RSS. It then dumps the loaded rows to a binary COPY file
# (the same rows, prepared in advance), times PostgreSQL's COPY of that file
# into an empty table of the same definition, and prints the ratio.
# bench/ratios.sh compares the load with the COPY of just (key, item), and
# measures the diff, a resumed load and storage beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
items=${1:-1000000}
admin=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
out=bench/out
mkdir -p "$out"
psql_bin=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql | tail -n 1)

go build -o "$out/ddbsync" ./cmd/ddbsync
export_dir="$out/export-$items"
if [ ! -f "$export_dir/manifest-summary.json" ]; then
  echo "== writing a $items-item sample export to $export_dir"
  "$out/ddbsync" sample-export --items "$items" --files 16 --seed 1 --out "$export_dir" >/dev/null
fi
export_mb=$(du -sm "$export_dir" | cut -f1)

db=ddbsync_bench
"$psql_bin" "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
url=$(python3 -c 'import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(p._replace(path="/"+sys.argv[2]).geturl())' "$admin" "$db")

echo "== ddbsync load ($items items, $export_mb MB compressed)"
"$out/ddbsync" migrate --database-url "$url" >/dev/null
/usr/bin/time -v -o "$out/load.time" "$out/ddbsync" load --export "$export_dir" --key id --database-url "$url" --progress none --log-level warn | tee "$out/load.txt"
load_s=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$out/load.time")
rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out/load.time")

echo "== PostgreSQL COPY of the same rows, prepared in advance"
cols="id, item, origin, origin_time, shard_id, sequence_number"
"$psql_bin" "$url" -qc "\copy (SELECT $cols FROM dynamodb.tenure_information) TO '$out/rows.bin' WITH (FORMAT binary)"
rows_mb=$(du -m "$out/rows.bin" | cut -f1)
"$psql_bin" "$url" -qc "CREATE TABLE public.copy_baseline (LIKE dynamodb.tenure_information INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING COMPRESSION)"
copy_ms=$("$psql_bin" "$url" -c '\timing on' -c "\copy public.copy_baseline ($cols) FROM '$out/rows.bin' WITH (FORMAT binary)" | awk '/^Time:/ {print $2}')
pk_ms=$("$psql_bin" "$url" -c '\timing on' -c "ALTER TABLE public.copy_baseline ADD PRIMARY KEY (id)" | awk '/^Time:/ {print $2}')
rm -f "$out/rows.bin"

python3 - "$items" "$load_s" "$rss_kb" "$export_mb" "$rows_mb" "$copy_ms" "$pk_ms" <<'PY'
import sys
items, load_s, rss_kb, export_mb, rows_mb, copy_ms, pk_ms = sys.argv[1:]
items, load_s, rss_kb = int(items), float(load_s), int(rss_kb)
copy_s, pk_s = float(copy_ms) / 1000, float(pk_ms) / 1000
print(f"ddbsync load:     {load_s:8.1f} s  {items/load_s:10.0f} items/s  {int(export_mb)/load_s:6.1f} MB/s compressed  "
      f"{int(rows_mb)/load_s:6.1f} MB/s of rows  peak RSS {rss_kb/1024:.0f} MB")
print(f"PostgreSQL COPY:  {copy_s:8.1f} s  (+ {pk_s:.1f} s to add the primary key)")
print(f"ratio load / COPY: {load_s/copy_s:.2f}   (load / (COPY + primary key): {load_s/(copy_s+pk_s):.2f})")
PY
