#!/usr/bin/env bash
# Benchmark of the live Loki path: the generated large day (scripts/gen_large_day.py) served by
# the Loki API emulator (examples/loki_emulator.rs), read by akko-audit through its Loki backend
# (paging, sub-ranges, concurrency), measured with /usr/bin/time -v. Reports wall time, peak
# RSS, requests made, and checks the ledger equals the one the file backend gives.
#
#   scripts/bench-loki.sh [DATA_DIR]        (default /tmp/akko-large-day, generated if missing)
#   LOKI_FAIL_EVERY=7 scripts/bench-loki.sh  # every 7th request answered with HTTP 500
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=${1:-/tmp/akko-large-day}
PORT=${BENCH_LOKI_PORT:-13100}
cd "$ROOT"
command -v /usr/bin/time >/dev/null || { echo "install Debian's 'time' package" >&2; exit 1; }
[ -f "$DATA/trino.jsonl" ] && [ -f "$DATA/opa.jsonl" ] || python3 scripts/gen_large_day.py "$DATA"
cargo build --release --quiet --bin akko-audit --example loki_emulator

head=$(sed -n '1,/^\[sources\./p' "$ROOT/fixtures/demo/akko-audit.toml" | sed '$d' | sed '/^\[identity/,$d')
cat > "$DATA/loki.toml" <<TOML
$head
[backends.loki]
url = "http://127.0.0.1:$PORT"
retries = 8
retention = "36500d"   # the generated day is pinned in 2026-11

[sources.trino]
backend = "loki"
selector = '{filename="trino.jsonl"}'

[sources.opa]
backend = "loki"
selector = '{filename="opa.jsonl"}'
TOML
cat > "$DATA/files-trino-opa.toml" <<TOML
$head
[sources.trino]
backend = "files"
files = ["trino.jsonl"]

[sources.opa]
backend = "files"
files = ["opa.jsonl"]
TOML

echo "loading the emulator (this takes a while for 5M lines)..." >&2
target/release/examples/loki_emulator "127.0.0.1:$PORT" "$DATA/trino.jsonl" "$DATA/opa.jsonl" \
  > "$DATA/emulator.out" 2> "$DATA/emulator.err" &
EMU=$!
trap 'kill $EMU 2>/dev/null || true' EXIT
until grep -q listening "$DATA/emulator.out" 2>/dev/null; do
  kill -0 $EMU 2>/dev/null || { cat "$DATA/emulator.err" >&2; exit 1; }
  sleep 1
done
grep loaded "$DATA/emulator.err" >&2

set +e
/usr/bin/time -v -o "$DATA/loki.time" target/release/akko-audit run --config "$DATA/loki.toml" --out "$DATA/out-loki" > "$DATA/loki.stdout"
code=$?
/usr/bin/time -v -o "$DATA/files.time" target/release/akko-audit run --config "$DATA/files-trino-opa.toml" --out "$DATA/out-files" > /dev/null
set -e
wall=$(grep 'Elapsed (wall clock)' "$DATA/loki.time" | awk '{print $NF}')
rss=$(grep 'Maximum resident set size' "$DATA/loki.time" | awk '{print $NF}')
fwall=$(grep 'Elapsed (wall clock)' "$DATA/files.time" | awk '{print $NF}')
frss=$(grep 'Maximum resident set size' "$DATA/files.time" | awk '{print $NF}')
python3 - "$DATA" <<'PY'
import json, sys
m = json.load(open(sys.argv[1] + "/out-loki/manifest.json"))
for s in m["sources"]:
    if s["backend"] == "loki":
        print(f'  {s["source"]:<6} {s["status"]:<9} lines {s["lines_read"]:>9}  {"; ".join(s["notes"])}  {s["error"] or ""}')
PY
echo "loki path : exit $code, wall $wall, peak RSS $((rss / 1024)) MiB"
echo "file path : wall $fwall, peak RSS $((frss / 1024)) MiB"
if cmp -s "$DATA/out-loki/usage_by_user.csv" "$DATA/out-files/usage_by_user.csv"; then
  echo "usage_by_user.csv: identical through Loki and files"
else
  echo "usage_by_user.csv DIFFERS between Loki and files" >&2
  exit 1
fi
