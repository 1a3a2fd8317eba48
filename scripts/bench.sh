#!/usr/bin/env bash
# Throughput and peak-memory benchmark of `akko-audit run` on a generated "large day".
#
#   scripts/bench.sh [OUTDIR]            # default OUTDIR=/tmp/akko-large-day
#
# Sizes (defaults = the full large day; data is regenerated when they differ from OUTDIR's):
#   BENCH_USERS=2000 BENCH_TRINO=200000 BENCH_OPA=5000000 BENCH_LLM=300000 BENCH_SEED=1
# Other knobs:
#   BENCH_RUNS=1      runs per config; the table shows the median wall time and the max RSS
#   BENCH_REGEN=1     regenerate the data even if it matches
#   BENCH_CONFIGS="trino opa all opa_half litellm"   which configs to run, in order
#   BENCH_BIN=path    benchmark this binary instead of building target/release/akko-audit
#
# Needs: cargo, python3 (>= 3.11, for tomllib), GNU time at /usr/bin/time (Debian: apt-get
# install time). Exit code 3 from akko-audit is expected (a config that configures only some
# sources is "partial") and counts as success; any other non-zero exit fails the bench.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUTDIR="${1:-/tmp/akko-large-day}"
USERS="${BENCH_USERS:-2000}"
TRINO="${BENCH_TRINO:-200000}"
OPA="${BENCH_OPA:-5000000}"
LLM="${BENCH_LLM:-300000}"
SEED="${BENCH_SEED:-1}"
RUNS="${BENCH_RUNS:-1}"
CONFIGS="${BENCH_CONFIGS:-trino opa all opa_half litellm}"
BIN="${BENCH_BIN:-$ROOT/target/release/akko-audit}"

if [[ ! -x /usr/bin/time ]]; then
  echo "error: /usr/bin/time (GNU time) not found; install it: apt-get install time" >&2
  exit 1
fi
command -v python3 >/dev/null || { echo "error: python3 not found" >&2; exit 1; }

# --- build ---------------------------------------------------------------------------------
# cargo is a no-op when the binary is up to date; it waits by itself if another build holds the
# target-dir lock.
if [[ -z "${BENCH_BIN:-}" ]]; then
  echo "== cargo build --release" >&2
  (cd "$ROOT" && cargo build --release --quiet)
  [[ -x "$BIN" ]] || { echo "error: $BIN was not built" >&2; exit 1; }
  echo "== binary: $("$BIN" --version 2>/dev/null || echo akko-audit), tree $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$( [[ -n "$(git -C "$ROOT" status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null)" ]] && echo ' + uncommitted changes in src/Cargo')" >&2
else
  [[ -x "$BIN" ]] || { echo "error: BENCH_BIN=$BIN is not executable" >&2; exit 1; }
  echo "== binary: $BIN ($("$BIN" --version 2>/dev/null || echo '?')), not rebuilt" >&2
fi
echo "== machine: $(nproc) CPUs, $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), $(awk '/MemTotal/ {printf "%.0f GiB RAM", $2/1048576}' /proc/meminfo)" >&2

# --- data ----------------------------------------------------------------------------------
want_args="$(python3 -c 'import json,sys; print(json.dumps({"users":int(sys.argv[1]),"trino":int(sys.argv[2]),"opa":int(sys.argv[3]),"llm":int(sys.argv[4]),"seed":int(sys.argv[5])},sort_keys=True))' \
  "$USERS" "$TRINO" "$OPA" "$LLM" "$SEED")"
have_args=""
if [[ -f "$OUTDIR/expected.json" ]]; then
  have_args="$(python3 -c 'import json,sys; a=json.load(open(sys.argv[1]))["args"]; print(json.dumps({k:a[k] for k in ("users","trino","opa","llm","seed")},sort_keys=True)) if not a.get("no_half") else print("")' \
    "$OUTDIR/expected.json")"
fi
if [[ "${BENCH_REGEN:-0}" == 1 || "$have_args" != "$want_args" ]]; then
  echo "== generating $OUTDIR (users=$USERS trino=$TRINO opa=$OPA llm=$LLM seed=$SEED)" >&2
  gen_start=$(date +%s.%N)
  python3 "$ROOT/scripts/gen_large_day.py" "$OUTDIR" --users "$USERS" --trino "$TRINO" \
    --opa "$OPA" --llm "$LLM" --seed "$SEED"
  gen_end=$(date +%s.%N)
  python3 -c 'import sys; print("== generated in %.0f s" % (float(sys.argv[2]) - float(sys.argv[1])))' \
    "$gen_start" "$gen_end" >&2
else
  echo "== reusing data in $OUTDIR (matches the requested sizes)" >&2
fi

# --- helpers -------------------------------------------------------------------------------
# Input bytes of a config: the sum of the files it lists (relative to the config's folder).
input_bytes() {
  python3 - "$1" <<'PY'
import os, sys, tomllib
cfg = sys.argv[1]
base = os.path.dirname(os.path.abspath(cfg))
with open(cfg, "rb") as f:
    c = tomllib.load(f)
files = {os.path.join(base, p) for s in c.get("sources", {}).values() for p in s.get("files", [])}
print(sum(os.path.getsize(p) for p in files))
PY
}

# Warm the page cache the same way for every run (reads each input file once).
warm() {
  python3 - "$1" <<'PY' | while IFS= read -r f; do cat -- "$f" >/dev/null; done
import os, sys, tomllib
cfg = sys.argv[1]
base = os.path.dirname(os.path.abspath(cfg))
with open(cfg, "rb") as f:
    c = tomllib.load(f)
for p in sorted({os.path.join(base, p) for s in c.get("sources", {}).values()
                 for p in s.get("files", [])}):
    print(p)
PY
}

# Compares usage_by_user.csv with the generator's expected_usage.csv on the columns of the
# sources the config reads, and prints "<rejected lines> <OK|FAIL...>".
verify() {
  python3 - "$1" "$2" "$OUTDIR/expected_usage.csv" <<'PY'
import csv, json, os, sys, tomllib
cfg, out, expected = sys.argv[1:4]
with open(cfg, "rb") as f:
    sources = set(tomllib.load(f).get("sources", {}))
cols = {"trino": ["trino_queries", "trino_failed_queries", "trino_denied_queries",
                  "trino_rows_scanned", "trino_bytes_scanned", "trino_cpu_seconds"],
        "opa": ["opa_denials"],
        "litellm": ["llm_requests", "llm_failed_requests", "llm_prompt_tokens",
                    "llm_completion_tokens", "llm_total_tokens", "llm_cost_usd"]}
check = [c for s in ("trino", "opa", "litellm") if s in sources for c in cols[s]]
manifest = json.load(open(os.path.join(out, "manifest.json")))
rejected = sum(s.get("lines_rejected", 0) for s in manifest["sources"])
exp = {r["user"]: r for r in csv.DictReader(open(expected))}
got = {r["user"]: r for r in csv.DictReader(open(os.path.join(out, "usage_by_user.csv")))}
totals = json.load(open(os.path.join(os.path.dirname(expected), "expected.json")))
zero = lambda v: v in ("", "0") or (v.replace("0", "").replace(".", "") == "")
bad = []
want_rows = None
# Ledger rows: every user seen with anything in the window.
files = {p for s in tomllib.load(open(cfg, "rb"))["sources"].values() for p in s["files"]}
if files == {"opa_half.jsonl"}:
    # Half of the OPA lines: only totals are known (expected_usage.csv is for the full file).
    d = sum(int(r["opa_denials"] or 0) for r in got.values())
    if d != totals["opa"]["half_denials"]:
        bad.append("opa_denials total %d, expected %d" % (d, totals["opa"]["half_denials"]))
    if len(got) != totals["opa"]["half_users_with_decisions"]:
        bad.append("%d rows, expected %d" % (len(got), totals["opa"]["half_users_with_decisions"]))
    check, exp = [], {}
elif sources == {"opa"}:
    want_rows = totals["opa"]["users_with_decisions"]
elif sources == {"trino"}:
    want_rows = sum(1 for r in exp.values() if r["trino_queries"] != "0")
elif sources == {"litellm"}:
    want_rows = sum(1 for r in exp.values() if r["llm_requests"] != "0")
elif sources == {"trino", "opa", "litellm"}:
    want_rows = totals["users_in_any_source"]
if check and want_rows is not None and len(got) != want_rows:
    bad.append("%d rows, expected %d" % (len(got), want_rows))
for user in sorted(set(exp) | set(got)):
    e, g = exp.get(user), got.get(user)
    for c in check:
        ev = e[c] if e else "0"
        if g is None:
            if not zero(ev):
                bad.append("%s missing (expected %s=%s)" % (user, c, ev))
                break
            continue
        gv = g.get(c, "")
        if gv != ev and not (zero(gv) and zero(ev)):
            bad.append("%s %s=%s, expected %s" % (user, c, gv, ev))
status = "OK" if not bad else "FAIL(%d): %s" % (len(bad), "; ".join(bad[:3]))
print(rejected, status)
PY
}

# Busy CPU ticks of the whole machine so far (user+nice+system+irq+softirq+steal).
cpu_busy() { awk '/^cpu / {print $2+$3+$4+$7+$8+$9; exit}' /proc/stat; }

# --- runs ----------------------------------------------------------------------------------
RESULTS="$(mktemp)"
LOGDIR="$OUTDIR/bench-logs"
mkdir -p "$LOGDIR"
trap 'rm -f "$RESULTS"' EXIT
failed=0
for name in $CONFIGS; do
  cfg="$OUTDIR/$name.toml"
  if [[ ! -f "$cfg" ]]; then
    echo "== skip $name: $cfg does not exist" >&2
    continue
  fi
  bytes="$(input_bytes "$cfg")"
  for run in $(seq 1 "$RUNS"); do
    warm "$cfg"
    busy0="$(cpu_busy)"
    out="$OUTDIR/out-$name"
    rm -rf "$out"
    tlog="$LOGDIR/$name.$run.time"
    set +e
    /usr/bin/time -v -o "$tlog" "$BIN" run --config "$cfg" --out "$out" \
      >"$LOGDIR/$name.$run.stdout" 2>"$LOGDIR/$name.$run.stderr"
    rc=$?
    set -e
    busy1="$(cpu_busy)"
    if [[ $rc -ne 0 && $rc -ne 3 ]]; then
      echo "== $name run $run: akko-audit exited $rc" >&2
      cat "$LOGDIR/$name.$run.stderr" >&2
      failed=1
      ver="- run-failed"
    else
      ver="$(verify "$cfg" "$out")"
    fi
    wall="$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$tlog")"
    cpu="$(awk -F': ' '/User time \(seconds\)/ {u=$2} /System time \(seconds\)/ {s=$2} END {printf "%.2f", u+s}' "$tlog")"
    rss="$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tlog")"
    # CPU seconds the rest of the machine used during the run (all CPUs busy time minus ours)
    load="$(awk -v a="$busy0" -v b="$busy1" -v c="$cpu" -v hz="$(getconf CLK_TCK)" \
      'BEGIN {o=(b-a)/hz-c; if (o<0) o=0; printf "%.2f", o}')"
    echo "$name $run $bytes $wall $cpu $rss $load $rc $ver" >>"$RESULTS"
    echo "== $name run $run: wall ${wall}s cpu ${cpu}s rss ${rss}kB other-cpu ${load}s exit $rc rejected/verify: $ver" >&2
    sed 's/^/     /' "$LOGDIR/$name.$run.stdout" >&2
  done
done

# --- table ---------------------------------------------------------------------------------
python3 - "$RESULTS" <<'PY'
import statistics, sys
rows = {}
order = []
for line in open(sys.argv[1]):
    name, run, b, wall, cpu, rss, load, rc, rej, ver = line.rstrip("\n").split(" ", 9)
    if name not in rows:
        order.append(name)
        rows[name] = []
    rows[name].append((int(b), float(wall), float(cpu), int(rss), int(rc), rej, ver,
                       float(load)))
hdr = ("config", "input MB", "wall s", "MB/s", "CPU s", "peak RSS MB", "exit", "rejected",
       "verify", "other CPU s")
print()
print("| " + " | ".join(hdr) + " |")
print("|" + "|".join("---" if i in (0, 8) else "---:" for i in range(len(hdr))) + "|")
for name in order:
    r = rows[name]
    b = r[0][0]
    wall = statistics.median(x[1] for x in r)
    cpu = statistics.median(x[2] for x in r)
    rss = max(x[3] for x in r)
    rcs = ",".join(sorted({str(x[4]) for x in r}))
    rej = ",".join(sorted({x[5] for x in r}))
    ver = "; ".join(sorted({x[6] for x in r}))
    load = statistics.median(x[7] for x in r)
    mbs = b / 1e6 / wall if wall > 0 else float("nan")
    print("| %s.toml | %.1f | %.2f | %.1f | %.2f | %.1f | %s | %s | %s | %.2f |"
          % (name, b / 1e6, wall, mbs, cpu, rss / 1024.0, rcs, rej, ver, load))
print()
print("MB = 10^6 bytes of input files; MB/s = input bytes / wall time; peak RSS from GNU time")
print("(\"Maximum resident set size\"). Each source is read on one thread, so a single-source")
print("config's MB/s is the throughput of one core. Exit 3 = sources not configured (expected).")
print("other CPU s = CPU time the rest of the machine used during the run (from /proc/stat);")
print("near 0 means the box was otherwise idle.")
if len(next(iter(rows.values()))) > 1:
    print("Runs per config: %d (median wall/CPU, max RSS)." % len(next(iter(rows.values()))))
PY
exit "$failed"
