#!/usr/bin/env bash
# How long a month composed from the daily history takes, and its peak memory: the finance
# entry point `akko-audit chargeback --month 2026-11` over 30 days of history for a large
# platform (the generated large day's users).
#
#   scripts/bench-month.sh [OUTDIR]      # default OUTDIR=/tmp/akko-month
#
# 1. Generates a large day (scripts/gen_large_day.py; BENCH_USERS=2000 users, BENCH_TRINO,
#    BENCH_LLM as bench.sh, but only BENCH_OPA=200000 OPA lines: the history's size depends on
#    users, not on log lines, so the full 5M lines would only cost generation time).
# 2. Runs that day once with `[history] dir`, a rate card and the demo fixtures' other sources
#    (all.toml + the lines below).
# 3. Copies the day's partitions to the other 29 days of November (same users every day).
# 4. Runs `chargeback --month 2026-11` BENCH_RUNS times (default 3) under /usr/bin/time -v and
#    prints wall time and peak RSS of each, and checks the composed ledger is 30 × the day's
#    Trino queries (the sum composes) and that focus_costs.csv was written.
#
# Needs: a release binary (BENCH_BIN, default target/release/akko-audit; built if missing),
# python3, GNU time at /usr/bin/time.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUTDIR="${1:-/tmp/akko-month}"
RUNS="${BENCH_RUNS:-3}"
BIN="${BENCH_BIN:-$ROOT/target/release/akko-audit}"

[[ -x /usr/bin/time ]] || { echo "error: /usr/bin/time (GNU time) not found: apt-get install time" >&2; exit 1; }
if [[ ! -x "$BIN" ]]; then
  (cd "$ROOT" && cargo build --release --quiet --bin akko-audit)
fi

if [[ ! -f "$OUTDIR/all.toml" ]]; then
  python3 "$ROOT/scripts/gen_large_day.py" "$OUTDIR" --users "${BENCH_USERS:-2000}" \
    --trino "${BENCH_TRINO:-200000}" --opa "${BENCH_OPA:-200000}" --llm "${BENCH_LLM:-300000}" \
    --seed "${BENCH_SEED:-1}" --no-half >&2
fi

cfg="$OUTDIR/month.toml"
rm -rf "$OUTDIR/history" "$OUTDIR/out-day" "$OUTDIR"/out-month-*
# The other sources from the demo fixtures (same day), so every column of the month is known and
# every service priced: a month with an unknown service writes no focus_costs.csv.
demo="$ROOT/fixtures/demo"
cat "$OUTDIR/all.toml" - >"$cfg" <<TOML

[sources.keycloak]
backend = "files"
files = ["$demo/keycloak.jsonl"]

[sources.jupyterhub]
backend = "files"
files = ["$demo/jupyterhub.jsonl"]

[sources.storage]
backend = "files"
files = ["$demo/metrics.om"]

[sources.databases]
backend = "files"
files = ["$demo/metrics.om"]

[sources.pods]
backend = "files"
files = ["$demo/metrics.om"]

[storage]
owner_patterns = ["home-{user}", "u-{user}"]

[history]
dir = "history"

[chargeback]
currency = "EUR"
usd_exchange_rate = "0.92"
shared_split = "usage"
trino_per_tb_scanned = "5.00"
trino_per_cpu_hour = "0.05"
notebook_per_hour = "0.10"
storage_per_gb_month = "0.023"
llm_markup = "0.10"
TOML

echo "== the day (2026-11-30) once, writing the history" >&2
set +e
(cd "$OUTDIR" && "$BIN" run --config "$cfg" --out "$OUTDIR/out-day" >/dev/null 2>"$OUTDIR/day.log")
code=$?
set -e
[[ $code == 0 ]] || { echo "error: the day run exited $code (see $OUTDIR/day.log)" >&2; exit 1; }

for table in "$OUTDIR"/history/*/; do
  for d in $(seq -w 1 29); do
    mkdir -p "$table/date=2026-11-$d"
    cp "$table/date=2026-11-30/part-0.parquet" "$table/date=2026-11-$d/part-0.parquet"
  done
done
echo "== history: $(du -sh "$OUTDIR/history" | cut -f1), $(find "$OUTDIR/history" -name '*.parquet' | wc -l) files" >&2

for i in $(seq 1 "$RUNS"); do
  out="$OUTDIR/out-month-$i"
  set +e
  (cd "$OUTDIR" && /usr/bin/time -v "$BIN" chargeback --config "$cfg" --month 2026-11 \
    --out "$out" --at 2026-12-01T08:00:00Z >/dev/null 2>"$OUTDIR/month-$i.log")
  code=$?
  set -e
  [[ $code == 0 ]] || { echo "error: chargeback exited $code (see $OUTDIR/month-$i.log)" >&2; exit 1; }
  wall=$(sed -n 's/.*Elapsed (wall clock) time.*: //p' "$OUTDIR/month-$i.log")
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$OUTDIR/month-$i.log")
  python3 - "$OUTDIR/out-day/usage_by_user.csv" "$out" "$wall" "$rss" <<'PY'
import csv, os, sys
day, out, wall, rss = sys.argv[1:5]
q = lambda f: sum(int(r["trino_queries"] or 0) for r in csv.DictReader(open(f)))
rows = sum(1 for _ in csv.DictReader(open(os.path.join(out, "usage_by_user.csv"))))
ok = q(os.path.join(out, "usage_by_user.csv")) == 30 * q(day)
focus = os.path.exists(os.path.join(out, "focus_costs.csv"))
print("month: %s wall, %.0f MiB peak RSS, %d users, trino sum %s, focus_costs.csv %s"
      % (wall, int(rss) / 1024, rows, "= 30 x day" if ok else "MISMATCH", "written" if focus else "NOT written"))
sys.exit(0 if ok else 1)
PY
done
