#!/usr/bin/env bash
# Benchmark of `ddbsync publish`: a Parquet cut of ITEMS tenure items.
#
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres bench/publish.sh [ITEMS]
#
# Writes an ITEMS-item (default 1,000,000) sample export once (kept in
# bench/out, shared with bench/load.sh), loads it into a fresh database, then
# publishes the copy to a local folder and prints rows/s, MB/s (of Parquet
# written, and of the item column read) and publish's peak RSS. Rows stream
# and row groups are bounded, so the RSS should not grow with ITEMS: run it
# with two sizes to see.
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

db=ddbsync_bench_publish
"$psql_bin" "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
url=$(python3 -c 'import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(p._replace(path="/"+sys.argv[2]).geturl())' "$admin" "$db")
"$out/ddbsync" migrate --database-url "$url" >/dev/null
echo "== ddbsync load ($items items)"
"$out/ddbsync" load --export "$export_dir" --key id --database-url "$url" --progress none --log-level warn
item_mb=$("$psql_bin" "$url" -Atc "SELECT sum(octet_length(item::text)) / 1e6 FROM dynamodb.tenure_information")

lake="$out/lake-$items"
rm -rf "$lake"
echo "== ddbsync publish to $lake"
/usr/bin/time -v -o "$out/publish.time" "$out/ddbsync" publish --table TenureInformation --to "$lake" --database-url "$url" \
  --log-level warn | tee "$out/publish.txt"
publish_s=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$out/publish.time")
rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out/publish.time")
parquet_mb=$(du -sm "$lake" | cut -f1)

echo "== PostgreSQL alone: the same rows, in the same order, read out with COPY to /dev/null"
copy_ms=$("$psql_bin" "$url" -c '\timing on' -c "\copy (SELECT id, item::text FROM dynamodb.tenure_information ORDER BY id) TO '/dev/null'" |
  awk '/^Time:/ {print $2}')

python3 - "$items" "$publish_s" "$rss_kb" "$parquet_mb" "$item_mb" "$copy_ms" <<'PY'
import sys
items, s, rss_kb, parquet_mb, item_mb, copy_ms = sys.argv[1:]
items, s, rss_kb, parquet_mb, item_mb = int(items), float(s), int(rss_kb), int(parquet_mb), float(item_mb)
copy_s = float(copy_ms) / 1000
print(f"ddbsync publish: {items} rows in {s:.1f} s  {items/s:10.0f} rows/s  "
      f"{parquet_mb/s:6.1f} MB/s of Parquet ({parquet_mb} MB)  {item_mb/s:6.1f} MB/s of item JSON ({item_mb:.0f} MB)  "
      f"peak RSS {rss_kb/1024:.0f} MB")
print(f"PostgreSQL COPY of the same rows: {copy_s:.1f} s; ratio publish / COPY: {s/copy_s:.2f}")
PY
