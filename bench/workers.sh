#!/usr/bin/env bash
# Benchmark of `ddbsync load --worker`: one export loaded by one process,
# then by 2 worker processes sharing it, each time into a fresh database.
#
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres bench/workers.sh [ITEMS] [FILES]
#
# Both runs copy at most 4 files at once in all (one process with
# --workers 4, or two with --workers 2), so the figures compare one
# process with two at the same parallelism: what the split costs or buys
# on this host. It prints the wall time, items/s and each process's peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
items=${1:-200000}
files=${2:-16}
admin=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
out=bench/out
mkdir -p "$out"
psql_bin=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql | tail -n 1)

go build -o "$out/ddbsync" ./cmd/ddbsync
export_dir="$out/export-$items-$files"
if [ ! -f "$export_dir/manifest-summary.json" ]; then
  "$out/ddbsync" sample-export --items "$items" --files "$files" --seed 1 --out "$export_dir" >/dev/null
fi
echo "export: $items items, $files files, $(du -sm "$export_dir" | cut -f1) MB compressed; $(nproc) CPUs"

db=ddbsync_bench_workers
url=$(python3 -c 'import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(p._replace(path="/"+sys.argv[2]).geturl())' "$admin" "$db")
fresh() {
  "$psql_bin" "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
  "$out/ddbsync" migrate --database-url "$url" >/dev/null
}
rss() { awk -F': ' '/Maximum resident set size/ {printf "%d MB", $2/1024}' "$1"; }

fresh
start=$(date +%s.%N)
/usr/bin/time -v -o "$out/w1.time" "$out/ddbsync" load --export "$export_dir" --key id --database-url "$url" \
  --workers 4 --progress none --log-level warn >/dev/null
t1=$(echo "$(date +%s.%N) - $start" | bc)
printf '1 process  (--workers 4):        %6.1f s, %8.0f items/s, peak RSS %s\n' "$t1" "$(echo "$items / $t1" | bc -l)" "$(rss "$out/w1.time")"

fresh
start=$(date +%s.%N)
for i in 1 2; do
  /usr/bin/time -v -o "$out/w2-$i.time" "$out/ddbsync" load --worker --export "$export_dir" --key id --database-url "$url" \
    --workers 2 --progress none --log-level warn >"$out/w2-$i.txt" &
done
wait
t2=$(echo "$(date +%s.%N) - $start" | bc)
printf '2 workers  (--worker --workers 2): %6.1f s, %8.0f items/s, peak RSS %s and %s\n' "$t2" "$(echo "$items / $t2" | bc -l)" \
  "$(rss "$out/w2-1.time")" "$(rss "$out/w2-2.time")"
cat "$out/w2-1.txt" "$out/w2-2.txt"
"$psql_bin" "$url" -Atc "SELECT 'files per worker: ' || string_agg(n::text, ' + ') FROM (SELECT count(*) n FROM ddbsync.load_files GROUP BY worker) c"
"$psql_bin" "$admin" -qc "DROP DATABASE $db WITH (FORCE)"
