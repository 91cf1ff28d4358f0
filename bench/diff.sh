#!/usr/bin/env bash
# Benchmark of `ddbsync diff` on a large copy with planted differences.
#
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres bench/diff.sh [ITEMS] [DIFFS]
#
# Writes an ITEMS-item (default 1,000,000) sample export once (kept in
# bench/out), loads it into a fresh database, then plants DIFFS (default
# 1,000) differences in the copy: a third of the rows deleted (missing in
# PostgreSQL), a third added (extra), a third with a nested number changed
# (different). It then runs `ddbsync diff --against` the export, prints the
# time, peak RSS and the counts, and checks that every planted difference,
# and nothing else, was found. A second run with --repair and a third diff
# check the repair.
set -euo pipefail
cd "$(dirname "$0")/.."
items=${1:-1000000}
diffs=${2:-1000}
admin=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
out=bench/out
mkdir -p "$out"
psql_bin=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql | tail -n 1)

go build -o "$out/ddbsync" ./cmd/ddbsync
export_dir="$out/diff-export-$items"
if [ ! -f "$export_dir/manifest-summary.json" ]; then
  echo "== writing a $items-item sample export to $export_dir"
  "$out/ddbsync" sample-export --items "$items" --files 16 --seed 1 --export-time 2026-11-01T12:00:00Z --out "$export_dir" >/dev/null
fi

db=ddbsync_bench_diff
"$psql_bin" "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
url=$(python3 -c 'import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(p._replace(path="/"+sys.argv[2]).geturl())' "$admin" "$db")

echo "== ddbsync load ($items items)"
"$out/ddbsync" load --export "$export_dir" --key id --database-url "$url" --progress none --log-level warn

third=$((diffs / 3))
echo "== planting $diffs differences in the copy"
"$psql_bin" "$url" -q <<SQL
CREATE TEMP TABLE victims AS SELECT id, row_number() OVER () AS n
  FROM (SELECT id FROM dynamodb.tenure_information ORDER BY md5(id) LIMIT $((diffs - third))) s;
DELETE FROM dynamodb.tenure_information t USING victims v WHERE t.id = v.id AND v.n <= $third;
UPDATE dynamodb.tenure_information t SET item = jsonb_set(t.item, '{charges,M,rent,N}', '"0.01"')
  FROM victims v WHERE t.id = v.id AND v.n > $third;
INSERT INTO dynamodb.tenure_information (id, item, origin, origin_time)
  SELECT 'planted-' || g, jsonb_build_object('id', jsonb_build_object('S', 'planted-' || g)),
    'export', '2026-11-01T12:00:00Z'
  FROM generate_series(1, $third) g;
SQL
want_missing=$third; want_extra=$third; want_different=$((diffs - 2 * third))

echo "== ddbsync diff"
set +e
/usr/bin/time -v -o "$out/diff.time" "$out/ddbsync" diff --table TenureInformation --against "$export_dir" \
  --database-url "$url" --format json --out "$out/diff.jsonl" --log-level warn
code=$?
set -e
echo "exit status $code (1 = inconsistencies found)"
diff_s=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$out/diff.time")
rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out/diff.time")
python3 - "$out/diff.jsonl" "$items" "$diff_s" "$rss_kb" "$want_missing" "$want_extra" "$want_different" <<'PY'
import json, sys
path, items, secs, rss_kb, wm, we, wd = sys.argv[1:]
kinds = {"missing": 0, "extra": 0, "different": 0}
summary = None
for line in open(path):
    o = json.loads(line)
    if o["type"] == "finding":
        kinds[o["kind"]] += 1
        if o["kind"] == "different":
            assert [d["path"] for d in o["differences"]] == ["charges.rent"], o
    else:
        summary = o
print(f"ddbsync diff: {float(secs):6.1f} s for {int(items):,} items  peak RSS {int(rss_kb)/1024:.0f} MB")
print(f"found: {kinds}  (summary: missing {summary['missing']}, extra {summary['extra']}, different {summary['different']}, in flight {summary['in_flight']})")
want = {"missing": int(wm), "extra": int(we), "different": int(wd)}
assert kinds == want, f"expected {want}"
print("all planted differences found, and nothing else")
PY

echo "== ddbsync diff --repair, then diff again"
set +e
/usr/bin/time -v -o "$out/repair.time" "$out/ddbsync" diff --table TenureInformation --against "$export_dir" \
  --database-url "$url" --repair --limit 0 --log-level warn > "$out/repair.txt"
set -e
grep -m1 repaired "$out/repair.txt"
repair_s=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$out/repair.time")
echo "diff --repair: ${repair_s} s"
/usr/bin/time -f "second diff: %e s, peak RSS %M KB" "$out/ddbsync" diff --table TenureInformation --against "$export_dir" \
  --database-url "$url" --log-level warn | head -n 4
