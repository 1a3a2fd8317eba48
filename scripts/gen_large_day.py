#!/usr/bin/env python3
"""Generate a deterministic "large day" of audit exports for benchmarking akko-audit.

    scripts/gen_large_day.py OUTDIR [--users 2000] [--trino 200000] [--opa 5000000]
                                    [--llm 300000] [--seed 1] [--no-half]

The day is the window [2026-11-30T00:00:00Z, 2026-12-01T00:00:00Z) (the demo config's window).
Everything is written in the file-backend formats (docs/counting-rules.md,
/work/shared/reference/source-formats.md):

  trino.jsonl              logcli jsonl; per completed query one line: ~2/3 airlift text log lines
                           from the logger listener (`... QUERY_COMPLETED: {event}`), ~1/3 bare
                           http-listener event JSON. ~25% of the logger-listener queries also have a
                           QUERY_CREATED line (skipped by the parser). ~3% FAILED, ~1% of all
                           queries PERMISSION_DENIED. --trino counts completed queries.
  opa.jsonl                logcli jsonl wrapping OPA console decision-log lines (~25 decisions per
                           query: trino/allow, trino/batch Filter*, trino/columnMask,
                           trino/rowFilters), plus a few non-decision OPA server lines.
                           --opa counts all lines.
  opa_half.jsonl           every second line of opa.jsonl (same day span, half the lines).
  litellm_spendlogs.csv    `\\copy "LiteLLM_SpendLogs" TO ... CSV HEADER` as PostgreSQL prints it.
  trino.toml, opa.toml, opa_half.toml, litellm.toml, all.toml
                           configs (paths relative to OUTDIR); all.toml = trino + opa + litellm.
  expected_usage.csv       the per-user figures akko-audit must produce for these three sources,
                           computed here independently (used by scripts/bench.sh to verify).
  expected.json            totals, line counts and sizes.

The same arguments always produce byte-identical files. Every record is inside the window, every
line is well-formed: a correct reader rejects 0 lines.
"""

import argparse
import bisect
import csv
import heapq
import io
import json
import os
import random
import sys
import time
from decimal import ROUND_HALF_UP, Decimal
from json.encoder import encode_basestring_ascii as jstr  # C: str -> "quoted, escaped"

DAY_START = 1795996800  # 2026-11-30T00:00:00Z
DAY_SECONDS = 86400
NS = 1_000_000_000

WINDOW_TOML = """\
[window]
schedule = "0 2 * * *"
schedule_time_zone = "UTC"
time_zone = "UTC"
period = "daily"
at = "2026-12-01T02:00:00Z"
late_margin = "15m"
lookback = "7d"
"""

FIRST = """adam ada alan alice amir ana anna arjun aylin ben bianca carla chen chris clara dan daria
david diego elena emil emma eva farah felix fatima gia hana hugo ian ines ivan jack jana jin joao
jonas julia kai karl kate lars lea leo lina luca maja marco maria mateo mia mika nadia nina noah
olga omar oscar paul pia raj rosa sam sara sofia tariq tom uma vera yuki zoe""".split()
LAST = """abe bauer berg costa dahl diaz eriksen fischer garcia gomez hansen horvat ito jensen kaur
keller klein kovac lang lopez meyer moreau muller nagy novak olsen park patel peters rossi sato
schmidt silva smith suzuki tanaka vogel wagner weber wolf yilmaz young zhang""".split()

GROUPS = ["analysts", "data-eng", "data-science", "finance", "marketing", "ops", "research"]
CATALOGS = {
    "hive": {
        "sales": {"orders": ["id", "amount", "cid", "region", "ts", "status"],
                  "order_items": ["order_id", "sku", "qty", "price"],
                  "returns": ["order_id", "reason", "ts"]},
        "crm": {"customers": ["id", "name", "email", "country", "segment"],
                "contacts": ["id", "cid", "phone", "email"]},
        "hr": {"employees": ["id", "name", "dept", "salary", "ssn"],
               "payroll": ["emp_id", "month", "gross", "net"]},
        "web": {"pageviews": ["ts", "session_id", "url", "referrer", "ua"],
                "sessions": ["id", "user_id", "start_ts", "end_ts"]},
    },
    "iceberg": {
        "finance": {"ledger": ["id", "account", "amount", "currency", "booked_at"],
                    "fx_rates": ["day", "currency", "rate"]},
        "ml": {"features": ["entity_id", "f1", "f2", "f3", "label"],
               "predictions": ["entity_id", "model", "score", "ts"]},
    },
    "postgresql": {
        "public": {"accounts": ["id", "owner", "plan", "created_at"],
                   "invoices": ["id", "account_id", "total", "due"]},
    },
}
TABLES = [(c, s, t, cols) for c, ss in CATALOGS.items() for s, ts in ss.items()
          for t, cols in ts.items()]
CLIENTS = [  # (source, userAgent, weight)
    ("trino-python-client", "trino-python-client/0.330.0", 40),
    ("jupyterhub", "trino-python-client/0.330.0", 25),
    ("trino-cli", "StatementClientV1/470", 12),
    ("superset", "trino-python-client/0.328.0", 12),
    ("dbt-trino", "trino-python-client/0.330.0", 8),
    ("trino-jdbc", "Trino JDBC Driver/470", 3),
]
OTHER_FAILURES = [  # (code, name, type, failureType, message)
    (131079, "EXCEEDED_TIME_LIMIT", "INSUFFICIENT_RESOURCES", "io.trino.spi.TrinoException",
     "Query exceeded the maximum execution time limit of 10.00m"),
    (1, "SYNTAX_ERROR", "USER_ERROR", "io.trino.sql.parser.ParsingException",
     "line 1:15: mismatched input 'FORM'. Expecting: ',', 'FROM', <EOF>"),
    (46, "TABLE_NOT_FOUND", "USER_ERROR", "io.trino.spi.TrinoException",
     "line 1:20: Table 'hive.sales.order_archive' does not exist"),
    (131073, "EXCEEDED_LOCAL_MEMORY_LIMIT", "INSUFFICIENT_RESOURCES",
     "io.trino.ExceededMemoryLimitException",
     "Query exceeded per-node memory limit of 4GB [Allocated: 3.99GB, Delta: 12.00MB]"),
    (65536, "GENERIC_INTERNAL_ERROR", "INTERNAL_ERROR", "io.trino.spi.TrinoException",
     "Error opening Hive split s3a://warehouse/sales/orders/part-00042.parquet: Read timed out"),
]
LLM_MODELS = [  # (model_group, model, provider, api_base, $/1k prompt, $/1k completion, weight)
    ("gpt-4o-mini", "gpt-4o-mini", "openai", "https://api.openai.com/v1", 0.00015, 0.0006, 40),
    ("gpt-4o", "gpt-4o", "openai", "https://api.openai.com/v1", 0.0025, 0.01, 15),
    ("claude-sonnet", "claude-sonnet-4-20250514", "anthropic", "https://api.anthropic.com",
     0.003, 0.015, 15),
    ("llama-3.1-70b", "hosted_vllm/meta-llama/Llama-3.1-70B-Instruct", "hosted_vllm",
     "http://vllm.llm.svc:8000/v1", 0.0, 0.0, 20),
    ("text-embedding-3-small", "text-embedding-3-small", "openai", "https://api.openai.com/v1",
     0.00002, 0.0, 10),
]


def hourly_cdf():
    """A working-day profile: cumulative share of the day's activity at each hour boundary."""
    w = [1, 1, 1, 1, 1, 2, 4, 8, 14, 16, 16, 15, 12, 15, 16, 15, 13, 9, 6, 4, 3, 2, 2, 1]
    tot = float(sum(w))
    cdf = [0.0]
    for x in w:
        cdf.append(cdf[-1] + x / tot)
    cdf[-1] = 1.0
    return cdf


CDF = hourly_cdf()


def day_offset_ns(u, span_s):
    """Maps u in [0,1) to ns after midnight through the hourly profile, within [0, span_s)."""
    h = bisect.bisect_right(CDF, u) - 1
    if h > 23:
        h = 23
    frac = (u - CDF[h]) / (CDF[h + 1] - CDF[h])
    t = (h + frac) * 3600.0 * span_s / DAY_SECONDS
    return int(t * NS)


class Clock:
    """Formats epoch-ns instants; caches the per-second prefix (instants mostly increase)."""

    def __init__(self):
        self.sec = None
        self.prefix = None
        self.sec2 = None
        self.prefix2 = None

    def _pref(self, sec):
        # Only days in Nov/Dec 2026 occur; keep it simple and exact with time.gmtime.
        t = time.gmtime(sec)
        return "%04d-%02d-%02dT%02d:%02d:%02d" % t[:6]

    def prefix_of(self, sec):
        if sec != self.sec:
            if sec == self.sec2:
                self.sec, self.sec2 = self.sec2, self.sec
                self.prefix, self.prefix2 = self.prefix2, self.prefix
            else:
                self.sec2, self.prefix2 = self.sec, self.prefix
                self.sec, self.prefix = sec, self._pref(sec)
        return self.prefix

    def nano(self, ns):  # 2026-11-30T10:15:02.117523912Z
        s, f = divmod(ns, NS)
        return "%s.%09dZ" % (self.prefix_of(s), f)

    def milli(self, ns):  # 2026-11-30T10:15:02.117Z
        s, f = divmod(ns, NS)
        return "%s.%03dZ" % (self.prefix_of(s), f // 1_000_000)

    def second(self, ns):  # 2026-11-30T10:15:02Z
        return self.prefix_of(ns // NS) + "Z"

    def pg(self, ns):  # PostgreSQL TIMESTAMP(3) text: 2026-11-30 10:20:11.402 (zeros trimmed)
        s, f = divmod(ns, NS)
        p = self.prefix_of(s).replace("T", " ")
        ms = f // 1_000_000
        if ms == 0:
            return p
        return (p + ".%03d" % ms).rstrip("0")


def uuid4(rnd):
    h = "%032x" % rnd.getrandbits(128)
    return "%s-%s-4%s-%s%s-%s" % (h[:8], h[8:12], h[13:16], "89ab"[int(h[16], 16) & 3], h[17:20],
                                 h[20:32])


def make_users(n, rnd):
    names = ["%s.%s" % (f, l) for f in FIRST for l in LAST]
    rnd.shuffle(names)
    users = []
    for i in range(n):
        base = names[i % len(names)]
        users.append(base if i < len(names) else "%s%d" % (base, i // len(names) + 1))
    return users


def zipf_cum(n, s, rnd):
    """Cumulative Zipf-ish weights over n users, heavy users at random positions."""
    order = list(range(n))
    rnd.shuffle(order)
    w = [0.0] * n
    for rank, u in enumerate(order):
        w[u] = 1.0 / (rank + 5) ** s
    cum, acc = [], 0.0
    for x in w:
        acc += x
        cum.append(acc)
    return cum


class Writer:
    """Buffered text writer with an optional second sink for every other line."""

    def __init__(self, path, half_path=None):
        self.f = open(path, "w", encoding="ascii", newline="\n", buffering=1 << 22)
        self.h = open(half_path, "w", encoding="ascii", newline="\n",
                      buffering=1 << 22) if half_path else None
        self.buf = []
        self.hbuf = []
        self.n = 0

    def line(self, s):
        self.buf.append(s)
        if self.h is not None and not (self.n & 1):
            self.hbuf.append(s)
        self.n += 1
        if len(self.buf) >= 4096:
            self.flush()

    def flush(self):
        self.f.write("".join(self.buf))
        self.buf.clear()
        if self.h is not None:
            self.h.write("".join(self.hbuf))
            self.hbuf.clear()

    def close(self):
        self.flush()
        self.f.close()
        if self.h is not None:
            self.h.close()


# ------------------------------------------------------------------------------------- Trino

def trino_plan(args, users, rnd):
    """Per-query user, create time and id: shared by the Trino and OPA generators."""
    n = args.trino
    # ~70% of the users run Trino queries; Zipf-ish load.
    active = [u for u in range(len(users)) if rnd.random() < 0.7] or [0]
    cum = zipf_cum(len(active), 0.9, rnd)
    total = cum[-1]
    span = DAY_SECONDS - 900  # every query ends (wall <= 10 min) inside the window
    q_user, q_create = [], []
    for q in range(n):
        u = active[min(bisect.bisect_right(cum, rnd.random() * total), len(active) - 1)]
        q_user.append(u)
        q_create.append(DAY_START * NS + day_offset_ns((q + rnd.random()) / n, span))
    clock = Clock()
    q_id = []
    counters = {}
    for q in range(n):
        # Trino: yyyyMMdd_HHmmss_<counter>_<coordinator id>; the counter rolls at 99999.
        prefix = clock.second(q_create[q])[:19]
        day = prefix[0:4] + prefix[5:7] + prefix[8:10]
        hms = prefix[11:13] + prefix[14:16] + prefix[17:19]
        c = counters.get(day, 0)
        counters[day] = c + 1
        q_id.append("%s_%s_%05d_x7k2p" % (day, hms, c % 100000))
    return q_user, q_create, q_id


def gen_trino(path, args, users, plan, rnd, exp):
    q_user, q_create, q_id = plan
    n = len(q_user)
    clock = Clock()
    labels = '{"labels":{"namespace":"trino","container":"trino-coordinator"},"line":'
    logger = "io.trino.plugin.eventlistener.logger.LoggerEventListener"
    client_cum, acc = [], 0
    for c in CLIENTS:
        acc += c[2]
        client_cum.append(acc)
    # Per-user pieces of the context, pre-serialised.
    user_groups = []
    user_ip = []
    for i, u in enumerate(users):
        g = sorted(rnd.sample(GROUPS, rnd.randint(1, 2)))
        user_groups.append(json.dumps(g, separators=(",", ":")))
        user_ip.append("10.42.%d.%d" % (rnd.randint(1, 30), rnd.randint(2, 250)))
    # SQL / ioMetadata shapes: a pool of (query text, inputs) combinations.
    shapes = []
    for _ in range(400):
        k = rnd.choice([1, 1, 1, 2, 2, 3])
        tabs = rnd.sample(TABLES, k)
        cols = [rnd.sample(t[3], rnd.randint(1, len(t[3]))) for t in tabs]
        alias = "abcdefgh"
        sel = ", ".join("%s.%s" % (alias[i], c) for i, cs in enumerate(cols) for c in cs)
        frm = "%s.%s.%s %s" % (tabs[0][0], tabs[0][1], tabs[0][2], alias[0])
        for i in range(1, k):
            frm += " JOIN %s.%s.%s %s ON %s.%s = %s.%s" % (
                tabs[i][0], tabs[i][1], tabs[i][2], alias[i], alias[i], tabs[i][3][0], alias[0],
                tabs[0][3][0])
        where = rnd.choice(["", " WHERE a.%s IS NOT NULL" % tabs[0][3][0],
                            " WHERE a.%s > DATE '2026-11-01' AND a.%s <> 'test'"
                            % (tabs[0][3][-1], tabs[0][3][0])])
        tail = rnd.choice(["", " ORDER BY 1 LIMIT 1000", " GROUP BY 1", ""])
        sql = "SELECT %s FROM %s%s%s" % (sel, frm, where, tail)
        if rnd.random() < 0.3:
            sql = "-- %s\n%s" % (rnd.choice(["daily revenue", "notebook cell 12", "dashboard",
                                                "ad-hoc"]), sql)
        shapes.append((json.dumps(sql), tabs, cols))
    # A denied query: what it tried to read.
    denied_shapes = []
    for c, s, t, cols in TABLES:
        sql = "SELECT %s FROM %s.%s.%s" % (cols[-1], c, s, t)
        msg = "Access Denied: Cannot select from columns [%s] in table or view %s.%s.%s" % (
            cols[-1], c, s, t)
        denied_shapes.append((json.dumps(sql), c, s, msg))
    other_fail = []
    for code, name, typ, ftype, msg in OTHER_FAILURES:
        fj = json.dumps([{"type": ftype, "message": msg, "suppressed": [], "stack": []}],
                        separators=(",", ":"))
        other_fail.append(
            ',"failureInfo":{"errorCode":{"code":%d,"name":"%s","type":"%s","fatal":false},'
            '"failureType":"%s","failureMessage":%s,"failureHost":"10.42.0.7",'
            '"failuresJson":%s}' % (code, name, typ, ftype, json.dumps(msg), json.dumps(fj)))

    ev_tmpl = (
        '{"metadata":{"queryId":"%s","transactionId":"%s","query":%s,"queryState":"%s",'
        '"tables":[],"routines":[],"uri":"http://trino:8080/v1/query/%s"},'
        '"statistics":{"cpuTime":%s,"failedCpuTime":%s,"wallTime":%s,"queuedTime":%s,'
        '"scheduledTime":%s,"resourceWaitingTime":%s,"analysisTime":%s,"planningTime":%s,'
        '"executionTime":%s,"peakUserMemoryBytes":%d,"peakTaskUserMemory":%d,'
        '"peakTaskTotalMemory":%d,"physicalInputBytes":%d,"physicalInputRows":%d,'
        '"internalNetworkBytes":%d,"internalNetworkRows":%d,"totalBytes":%d,"totalRows":%d,'
        '"outputBytes":%d,"outputRows":%d,"writtenBytes":0,"writtenRows":0,'
        '"cumulativeMemory":%r,"failedCumulativeMemory":0.0,"stageGcStatistics":[],'
        '"completedSplits":%d,"complete":true,"cpuTimeDistribution":[],"operatorSummaries":[]},'
        '"context":{"user":"%s","originalUser":"%s","principal":"%s@EXAMPLE.ORG",'
        '"enabledRoles":[],"groups":%s,"remoteClientAddress":"%s","userAgent":"%s",'
        '"clientTags":[],"clientCapabilities":["PATH","PARAMETRIC_DATETIME","SESSION_AUTHORIZATION"],'
        '"source":"%s","timezone":"UTC","catalog":"%s","schema":"%s",'
        '"resourceGroupId":["global","%s"],"sessionProperties":{},"resourceEstimates":{},'
        '"serverAddress":"10.42.0.5","serverVersion":"470","environment":"prod",'
        '"queryType":"SELECT","retryPolicy":"NONE"},'
        '"ioMetadata":{"inputs":[%s]}%s,"warnings":[],'
        '"createTime":"%s","executionStartTime":"%s","endTime":"%s"}')
    input_tmpl = ('{"catalogName":"%s","catalogVersion":"default","schema":"%s","table":"%s",'
                  '"columns":%s,"connectorMetrics":{},"physicalInputBytes":%d,'
                  '"physicalInputRows":%d}')
    created_tmpl = (
        '{"createTime":"%s","context":{"user":"%s","originalUser":"%s",'
        '"principal":"%s@EXAMPLE.ORG","enabledRoles":[],"groups":%s,"remoteClientAddress":"%s",'
        '"userAgent":"%s","clientTags":[],"source":"%s","timezone":"UTC","catalog":"%s",'
        '"schema":"%s","resourceGroupId":["global","%s"],"sessionProperties":{},'
        '"resourceEstimates":{},"serverAddress":"10.42.0.5","serverVersion":"470",'
        '"environment":"prod","queryType":"SELECT","retryPolicy":"NONE"},'
        '"metadata":{"queryId":"%s","transactionId":"%s","query":%s,"queryState":"QUEUED",'
        '"tables":[],"routines":[],"uri":"http://trino:8080/v1/query/%s"}}')

    def dur(ms):
        return "%d.%03d000000" % divmod(ms, 1000)

    w = Writer(path)
    heap = []  # (loki ts ns, seq, line) so the file is in timestamp order like logcli forward
    seq = 0
    rr = rnd.random
    ri = rnd.randint
    per_user = exp["users"]
    lines = created_lines = bare = 0
    thread = 40
    for q in range(n):
        create = q_create[q]
        while heap and heap[0][0] <= create:
            w.line(heapq.heappop(heap)[2])
        u = q_user[q]
        name = users[u]
        qid = q_id[q]
        c = CLIENTS[bisect.bisect_right(client_cum, rr() * acc)]
        x = rr()
        if x < 0.01:
            kind = "denied"
        elif x < 0.03:
            kind = "failed"
        else:
            kind = "ok"
        if kind == "denied":
            sqlj, cat, sch, msg = denied_shapes[ri(0, len(denied_shapes) - 1)]
            inputs = ""
            rows = nbytes = 0
            cpu_ms = 0
            wall_ms = ri(15, 80)
            failure = (',"failureInfo":{"errorCode":{"code":4,"name":"PERMISSION_DENIED",'
                       '"type":"USER_ERROR","fatal":true},'
                       '"failureType":"io.trino.spi.security.AccessDeniedException",'
                       '"failureMessage":%s,"failuresJson":%s}'
                       % (json.dumps(msg), json.dumps(json.dumps(
                           [{"type": "io.trino.spi.security.AccessDeniedException",
                             "message": msg, "suppressed": [], "stack": []}],
                           separators=(",", ":")))))
            state = "FAILED"
        else:
            sqlj, tabs, cols = shapes[ri(0, len(shapes) - 1)]
            cat, sch = tabs[0][0], tabs[0][1]
            parts = []
            rows = nbytes = 0
            scale = 10 ** ri(2, 7)
            for t, cs in zip(tabs, cols):
                r = ri(1, 10) * scale + ri(0, scale)
                b = r * ri(20, 120)
                rows += r
                nbytes += b
                parts.append(input_tmpl % (t[0], t[1], t[2],
                                           json.dumps(cs, separators=(",", ":")), b, r))
            inputs = ",".join(parts)
            wall_ms = min(int(rnd.lognormvariate(7.5, 1.3)), 590_000) + 5
            cpu_ms = max(1, int(wall_ms * (0.2 + 3.0 * rr()) * (1 + rows / 5e7)))
            if kind == "failed":
                failure = other_fail[ri(0, len(other_fail) - 1)]
                state = "FAILED"
            else:
                failure = ""
                state = "FINISHED"
        queued_ms = ri(0, 40)
        analysis_ms = ri(5, 120)
        planning_ms = ri(10, 200)
        exec_start = create + (queued_ms + analysis_ms) * 1_000_000 + ri(0, 999_999)
        end = create + wall_ms * 1_000_000 + ri(0, 999_999)
        if exec_start > end:
            exec_start = end
        exec_ms = max(0, (end - exec_start) // 1_000_000)
        peak = ri(1, 400) * 1_048_576
        ev = ev_tmpl % (
            qid, uuid4(rnd), sqlj, state, qid,
            dur(cpu_ms), "0.0" if state == "FINISHED" else dur(cpu_ms // 3), dur(wall_ms),
            dur(queued_ms), dur(cpu_ms + ri(0, 500)), dur(ri(0, 50)), dur(analysis_ms),
            dur(planning_ms), dur(exec_ms),
            peak, peak // 2, peak // 2 + ri(0, 10) * 1_048_576, nbytes, rows,
            nbytes // 50, rows // 100, nbytes, rows, ri(100, 10 ** 7), ri(1, 10 ** 5),
            float(peak) * wall_ms, ri(1, 2000),
            name, name, name, user_groups[u], user_ip[u], c[1], c[0], cat, sch,
            "adhoc" if c[0] in ("trino-cli", "jupyterhub", "trino-python-client") else "bi",
            inputs, failure,
            clock.milli(create), clock.milli(exec_start), clock.milli(end))
        thread += 1
        if rr() < 1 / 3:
            # http listener -> collector -> Loki: the line is the bare event
            line = ev
            bare += 1
        else:
            line = "%s\tINFO\tdispatcher-query-%d\t%s\tQUERY_COMPLETED: %s" % (
                clock.milli(end + 16_000_000), thread, logger, ev)
            if rr() < 0.25:
                cr = created_tmpl % (
                    clock.milli(create), name, name, name, user_groups[u], user_ip[u], c[1],
                    c[0], cat, sch,
                    "adhoc" if c[0] in ("trino-cli", "jupyterhub", "trino-python-client")
                    else "bi", qid, uuid4(rnd), sqlj, qid)
                cline = "%s\tINFO\tdispatcher-query-%d\t%s\tQUERY_CREATED: %s" % (
                    clock.milli(create + 3_000_000), thread, logger, cr)
                ts = create + 3_000_000 + ri(1_000_000, 900_000_000)
                seq += 1
                heapq.heappush(heap, (ts, seq, "%s%s,\"timestamp\":\"%s\"}\n" % (
                    labels, jstr(cline), clock.nano(ts))))
                created_lines += 1
        ts = end + 16_000_000 + ri(1_000_000, 900_000_000)
        seq += 1
        heapq.heappush(heap, (ts, seq, "%s%s,\"timestamp\":\"%s\"}\n" % (
            labels, jstr(line), clock.nano(ts))))
        lines += 1
        pu = per_user[name]
        pu["trino_queries"] += 1
        pu["trino_failed_queries"] += state == "FAILED"
        pu["trino_denied_queries"] += kind == "denied"
        pu["trino_rows_scanned"] += rows
        pu["trino_bytes_scanned"] += nbytes
        pu["trino_cpu_ms"] += cpu_ms
    while heap:
        w.line(heapq.heappop(heap)[2])
    w.close()
    exp["trino"] = {"completed_queries": lines, "created_lines": created_lines,
                    "bare_http_lines": bare, "lines": lines + created_lines}


# ---------------------------------------------------------------------------------------- OPA

def gen_opa(path, half_path, args, users, plan, rnd, exp):
    q_user, q_create, q_id = plan
    nq = len(q_user)
    n = args.opa
    clock = Clock()
    labels = '{"labels":{"namespace":"opa","container":"opa"},"line":'
    user_groups = []
    for u in users:
        g = sorted(rnd.sample(GROUPS, rnd.randint(1, 2)))
        user_groups.append(json.dumps(g, separators=(",", ":")))
    opa_id = "4f0e1d8e-2b7b-4c77-9d7a-5b2d1f7e0c33"

    def table_res(c, s, t, cols):
        return ('"resource":{"table":{"catalogName":"%s","columns":%s,"schemaName":"%s",'
                '"tableName":"%s"}}' % (c, json.dumps(cols, separators=(",", ":")), s, t))

    # (weight, path, action JSON, allowed result, can deny, denial result on deny)
    kinds = []
    kinds.append((20, "trino/allow", '{"operation":"ExecuteQuery"}', "true", True))
    kinds.append((2, "trino/allow", '{"operation":"ImpersonateUser","resource":{"user":'
                  '{"user":"svc-superset"}}}', "true", True))
    for c in CATALOGS:
        kinds.append((4, "trino/allow", '{"operation":"AccessCatalog","resource":{"catalog":'
                      '{"name":"%s"}}}' % c, "true", True))
    for c, s, t, cols in TABLES:
        kinds.append((1.5, "trino/allow", '{"operation":"SelectFromColumns",%s}'
                       % table_res(c, s, t, cols), "true", True))
        kinds.append((0.3, "trino/allow", '{"operation":"ShowColumns",%s}'
                       % table_res(c, s, t, []).replace('"columns":[],', ""), "true", True))
        # non-batched filter checks on the allow path: false just hides an item
        kinds.append((0.4, "trino/allow", '{"operation":"FilterColumns",%s}'
                       % table_res(c, s, t, cols[:1]), "true", False))
        for col in cols[-2:]:
            kinds.append((0.4, "trino/columnMask",
                          '{"operation":"GetColumnMask","resource":{"column":{"catalogName":'
                          '"%s","columnName":"%s","columnType":"varchar","schemaName":"%s",'
                          '"tableName":"%s"}}}' % (c, col, s, t),
                          None if col != "ssn" and col != "email" else '{"expression":"NULL"}',
                          False))
        kinds.append((0.2, "trino/rowFilters", '{"operation":"GetRowFilters",%s}'
                      % table_res(c, s, t, []).replace('"columns":[],', ""),
                      '[{"expression":"region = \'eu\'"}]' if t == "orders" else "[]", False))
    for c in CATALOGS:
        schemas = list(CATALOGS[c])
        fr = ",".join('{"schema":{"catalogName":"%s","schemaName":"%s"}}' % (c, s)
                      for s in schemas)
        kinds.append((1.5, "trino/batch", '{"filterResources":[%s],"operation":"FilterSchemas"}'
                      % fr, "[%s]" % ",".join(str(i) for i in range(len(schemas))), False))
        for s in schemas:
            tabs = list(CATALOGS[c][s])
            fr = ",".join('{"table":{"catalogName":"%s","schemaName":"%s","tableName":"%s"}}'
                          % (c, s, t) for t in tabs)
            kinds.append((0.8, "trino/batch",
                          '{"filterResources":[%s],"operation":"FilterTables"}' % fr,
                          "[%s]" % ",".join(str(i) for i in range(len(tabs) - 1)), False))
    fr = ",".join('{"catalog":{"name":"%s"}}' % c for c in list(CATALOGS) + ["system"])
    kinds.append((3, "trino/batch", '{"filterResources":[%s],"operation":"FilterCatalogs"}' % fr,
                  "[0,1,2,3]", False))
    kind_cum, acc = [], 0.0
    for k in kinds:
        acc += k[0]
        kind_cum.append(acc)
    share_allow = sum(k[0] for k in kinds if k[1] == "trino/allow" and k[4]) / acc
    p_deny = 0.005 / share_allow  # ~0.5% of all decision lines are denials

    tmpl = ('{"decision_id":"%s","input":{"action":%s,"context":{"identity":{"groups":%s,'
            '"user":"%s"},"queryId":"%s","softwareStack":{"trinoVersion":"470"}}},'
            '"labels":{"id":"' + opa_id + '","version":"1.4.2"},"level":"info",'
            '"metrics":{"counter_server_query_cache_hit":%d,"timer_rego_query_eval_ns":%d,'
            '"timer_server_handler_ns":%d},"msg":"Decision Log","path":"%s","req_id":%d,'
            '"requested_by":"10.42.0.5:%d",%s"time":"%s","timestamp":"%s",'
            '"type":"openpolicyagent.org/decision_logs"}')
    other = ('{"client_addr":"10.42.0.5:%d","level":"info","msg":"Received request.",'
             '"req_id":%d,"req_method":"POST","req_path":"/v1/data/trino/allow","time":"%s"}')
    w = Writer(path, half_path)
    rr = rnd.random
    ri = rnd.randint
    per_user = exp["users"]
    denials = decisions = others = 0
    half_denials = 0
    users_seen, half_users_seen = set(), set()
    span = DAY_SECONDS - 60
    base = DAY_START * NS
    nk = len(kinds)
    for i in range(n):
        t = base + day_offset_ns((i + rr()) / n, span)
        q = i * nq // n if nq else 0
        u = q_user[q] if nq else i % len(users)
        req = 9000 + i
        port = 40000 + (i * 7919) % 20000
        if rr() < 0.001:
            line = other % (port, req, clock.second(t))
            others += 1
        else:
            k = kinds[min(bisect.bisect_right(kind_cum, rr() * acc), nk - 1)]
            result = k[3]
            denied = False
            if k[4] and rr() < p_deny:
                denied = True
                # undefined (no result) 1 in 10, else false
                result = None if rr() < 0.1 else "false"
            res = "" if result is None else '"result":%s,' % result
            name = users[u]
            line = tmpl % (uuid4(rnd), k[2], user_groups[u], name,
                           q_id[q] if nq else "20261130_000000_00000_x7k2p",
                           rr() < 0.8, 40_000 + int(rr() * 860_000), 80_000 + int(rr() * 1_420_000), k[1], req,
                           port, res, clock.second(t), clock.nano(t))
            decisions += 1
            users_seen.add(name)
            if not (i & 1):
                half_users_seen.add(name)
            if denied:
                denials += 1
                per_user[name]["opa_denials"] += 1
                if not (i & 1):
                    half_denials += 1
        ts = t + 2_000_000 + int(rr() * 398_000_000)
        w.line("%s%s,\"timestamp\":\"%s\"}\n" % (labels, jstr(line), clock.nano(ts)))
    w.close()
    exp["opa"] = {"lines": n, "decision_lines": decisions, "other_lines": others,
                  "denials": denials, "users_with_decisions": len(users_seen),
                  "half_lines": (n + 1) // 2, "half_denials": half_denials,
                  "half_users_with_decisions": len(half_users_seen)}
    return users_seen


# ------------------------------------------------------------------------------------ LiteLLM

LLM_HEADER = ("request_id,call_type,api_key,spend,total_tokens,prompt_tokens,completion_tokens,"
              "startTime,endTime,completionStartTime,model,model_id,model_group,"
              "custom_llm_provider,api_base,user,metadata,cache_hit,cache_key,request_tags,"
              "team_id,end_user,requester_ip_address,messages,response,session_id,status,"
              "proxy_server_request,request_duration_ms,organization_id,created_at,updated_at")


def pg_csv(s):
    """A text cell as PostgreSQL's CSV COPY prints it (quoted only when needed)."""
    if s == "" or any(ch in s for ch in ',"\n\r'):
        return '"' + s.replace('"', '""') + '"'
    return s


def pg_jsonb(obj):
    """jsonb's text output: ', ' and ': ' separators."""
    return json.dumps(obj, separators=(", ", ": "))


def gen_llm(path, args, users, rnd, exp):
    n = args.llm
    clock = Clock()
    active = [u for u in range(len(users)) if rnd.random() < 0.5] or [0]
    cum = zipf_cum(len(active), 1.0, rnd)
    total = cum[-1]
    model_cum, acc = [], 0
    for m in LLM_MODELS:
        acc += m[6]
        model_cum.append(acc)
    model_ids = {m[0]: "%064x" % rnd.getrandbits(256) for m in LLM_MODELS}
    # Each user has one or two virtual keys; the key alias and team go into metadata.
    ukeys = {}
    uteam = {}
    uip = {}
    for u in active:
        uteam[u] = rnd.choice(["data-science", "analytics", "platform", "research", ""])
        uip[u] = "10.42.%d.%d" % (rnd.randint(1, 30), rnd.randint(2, 250))
        ukeys[u] = []
        for alias in rnd.sample(["notebook", "cli", "app", "eval"], rnd.randint(1, 2)):
            key = "%064x" % rnd.getrandbits(256)
            meta = pg_jsonb({"user_api_key": key, "user_api_key_alias":
                             "%s-%s" % (users[u], alias), "user_api_key_team_id":
                             uteam[u] or None, "user_api_key_user_id": users[u],
                             "user_api_key_org_id": None, "spend_logs_metadata": None,
                             "requester_ip_address": uip[u], "applied_guardrails": [],
                             "batch_models": None, "additional_usage_values": {}})
            ukeys[u].append((key, pg_csv(meta)))
    svc_key = "%064x" % rnd.getrandbits(256)
    svc_meta = pg_csv(pg_jsonb({"user_api_key": svc_key, "user_api_key_alias": "batch-pipeline",
                                "user_api_key_team_id": None, "user_api_key_user_id": None}))
    tags = [pg_csv('["jupyter"]'), pg_csv('["batch"]'), pg_csv("[]"), pg_csv('["eval", "nightly"]')]
    per_user = exp["users"]
    span = DAY_SECONDS - 120
    base = DAY_START * NS
    rr = rnd.random
    ri = rnd.randint
    failed_n = unattributed = 0
    total_cost = Decimal(0)
    with open(path, "w", encoding="ascii", newline="\n", buffering=1 << 22) as f:
        f.write(LLM_HEADER + "\n")
        buf = []
        for i in range(n):
            start = base + day_offset_ns((i + rr()) / n, span)
            start -= start % 1_000_000  # TIMESTAMP(3)
            m = LLM_MODELS[bisect.bisect_right(model_cum, rr() * acc)]
            embedding = m[0].startswith("text-embedding")
            if rr() < 0.01:
                u, user, key, meta, team, ip = None, "", svc_key, svc_meta, "", "10.42.9.9"
                unattributed += 1
            else:
                u = active[min(bisect.bisect_right(cum, rr() * total), len(active) - 1)]
                user = users[u]
                key, meta = ukeys[u][ri(0, len(ukeys[u]) - 1)]
                team, ip = uteam[u], uip[u]
            failed = rr() < 0.02
            if failed:
                prompt = completion = 0
                dur_ms = ri(50, 30_000)
            elif embedding:
                prompt, completion = ri(8, 8000), 0
                dur_ms = ri(40, 900)
            else:
                prompt = int(rnd.lognormvariate(6.5, 1.1)) + 5
                completion = int(rnd.lognormvariate(5.3, 1.0)) + 1
                dur_ms = 200 + completion * ri(8, 40)
            cost = round((prompt * m[4] + completion * m[5]) / 1000.0, 9)
            spend = repr(cost) if cost else "0.0"
            end = start + dur_ms * 1_000_000
            cst = "" if embedding or failed else clock.pg(start + min(ri(150, 900), dur_ms) * 1_000_000)
            cache_hit = "False" if rr() < 0.97 else "None"
            row = ",".join((
                "chatcmpl-" + uuid4(rnd) if not embedding else uuid4(rnd),
                "aembedding" if embedding else "acompletion", key, spend,
                str(prompt + completion), str(prompt), str(completion),
                clock.pg(start), clock.pg(end), cst, m[1], model_ids[m[0]], m[0], m[2], m[3],
                user, meta, cache_hit, "", tags[i & 3], team, "", ip, "{}", "{}", uuid4(rnd),
                "failure" if failed else "success", "{}", str(dur_ms), "",
                clock.pg(end + 1_000_000_000), clock.pg(end + 1_000_000_000)))
            buf.append(row)
            if len(buf) >= 4096:
                f.write("\n".join(buf) + "\n")
                buf.clear()
            pu = per_user[user or "(unattributed)"]
            pu["llm_requests"] += 1
            pu["llm_failed_requests"] += failed
            pu["llm_prompt_tokens"] += prompt
            pu["llm_completion_tokens"] += completion
            pu["llm_total_tokens"] += prompt + completion
            d = Decimal(spend)
            pu["llm_cost"] += d
            total_cost += d
            failed_n += failed
        if buf:
            f.write("\n".join(buf) + "\n")
    exp["litellm"] = {"rows": n, "failed": failed_n, "unattributed": unattributed,
                      "cost_usd": str(total_cost)}


# ------------------------------------------------------------------------------------ configs

def write_configs(out, sources):
    def src(kind, files):
        return '[sources.%s]\nbackend = "files"\nfiles = [%s]\n' % (
            kind, ", ".join('"%s"' % f for f in files))

    heads = "# Generated by scripts/gen_large_day.py; paths are relative to this file.\n\n"
    configs = {
        "trino.toml": [("trino", ["trino.jsonl"])],
        "opa.toml": [("opa", ["opa.jsonl"])],
        "opa_half.toml": [("opa", ["opa_half.jsonl"])],
        "litellm.toml": [("litellm", ["litellm_spendlogs.csv"])],
        "all.toml": [("trino", ["trino.jsonl"]), ("opa", ["opa.jsonl"]),
                     ("litellm", ["litellm_spendlogs.csv"])],
    }
    for name, srcs in configs.items():
        if not all(s in sources for s, _ in srcs):
            continue
        body = heads + WINDOW_TOML + '\n[output]\ndir = "out"\n\n' + "\n".join(
            src(k, f) for k, f in srcs)
        with open(os.path.join(out, name), "w") as f:
            f.write(body)


def write_expected(out, exp, sources):
    cols = ["trino_queries", "trino_failed_queries", "trino_denied_queries", "trino_rows_scanned",
            "trino_bytes_scanned", "trino_cpu_seconds", "opa_denials", "llm_requests",
            "llm_failed_requests", "llm_prompt_tokens", "llm_completion_tokens",
            "llm_total_tokens", "llm_cost_usd"]
    with open(os.path.join(out, "expected_usage.csv"), "w", newline="") as f:
        wr = csv.writer(f, lineterminator="\n")
        wr.writerow(["user"] + cols)
        for user in sorted(exp["users"], key=lambda s: s.encode()):
            pu = exp["users"][user]
            cpu = (Decimal(pu["trino_cpu_ms"]) / 1000).quantize(Decimal("0.001"), ROUND_HALF_UP)
            cost = pu["llm_cost"].quantize(Decimal("0.000001"), ROUND_HALF_UP)
            wr.writerow([user] + [pu[c] for c in cols[:5]] + [str(cpu), pu["opa_denials"]]
                        + [pu[c] for c in cols[7:12]] + [str(cost)])


class PerUser(dict):
    def __missing__(self, key):
        v = {"trino_queries": 0, "trino_failed_queries": 0, "trino_denied_queries": 0,
             "trino_rows_scanned": 0, "trino_bytes_scanned": 0, "trino_cpu_ms": 0,
             "opa_denials": 0, "llm_requests": 0, "llm_failed_requests": 0,
             "llm_prompt_tokens": 0, "llm_completion_tokens": 0, "llm_total_tokens": 0,
             "llm_cost": Decimal(0)}
        self[key] = v
        return v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--users", type=int, default=2000)
    ap.add_argument("--trino", type=int, default=200_000, help="completed Trino queries")
    ap.add_argument("--opa", type=int, default=5_000_000, help="OPA log lines")
    ap.add_argument("--llm", type=int, default=300_000, help="LiteLLM spend-log rows")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-half", action="store_true", help="skip opa_half.jsonl")
    args = ap.parse_args()
    if args.users < 1 or min(args.trino, args.opa, args.llm) < 0:
        ap.error("--users must be >= 1 and counts >= 0")
    os.makedirs(args.outdir, exist_ok=True)
    out = args.outdir
    exp = {"args": vars(args), "window": ["2026-11-30T00:00:00Z", "2026-12-01T00:00:00Z"],
           "users": PerUser()}
    # Independent streams per source, so changing one size does not change the others' data
    # (except OPA decisions, which follow the Trino queries they belong to).
    users = make_users(args.users, random.Random("users-%d" % args.seed))
    plan = trino_plan(args, users, random.Random("plan-%d" % args.seed))
    files = []
    t0 = time.time()
    gen_trino(os.path.join(out, "trino.jsonl"), args, users, plan,
              random.Random("trino-%d" % args.seed), exp)
    files.append("trino.jsonl")
    print("trino.jsonl generated in %.1fs" % (time.time() - t0), file=sys.stderr)
    t0 = time.time()
    half = None if args.no_half else os.path.join(out, "opa_half.jsonl")
    opa_users = gen_opa(os.path.join(out, "opa.jsonl"), half, args, users, plan,
                        random.Random("opa-%d" % args.seed), exp)
    files.append("opa.jsonl")
    if half:
        files.append("opa_half.jsonl")
    print("opa.jsonl generated in %.1fs" % (time.time() - t0), file=sys.stderr)
    t0 = time.time()
    gen_llm(os.path.join(out, "litellm_spendlogs.csv"), args, users,
            random.Random("llm-%d" % args.seed), exp)
    files.append("litellm_spendlogs.csv")
    print("litellm_spendlogs.csv generated in %.1fs" % (time.time() - t0), file=sys.stderr)

    sources = {"trino", "opa", "litellm"}
    write_configs(out, sources)
    if not half:
        try:
            os.remove(os.path.join(out, "opa_half.toml"))
        except FileNotFoundError:
            pass
    write_expected(out, exp, sources)
    sizes = {f: os.path.getsize(os.path.join(out, f)) for f in files}
    summary = {k: v for k, v in exp.items() if k != "users"}
    # Ledger rows of all.toml: anyone with a query, an LLM row or any OPA decision.
    summary["users_in_any_source"] = len(set(exp["users"]) | opa_users)
    summary["sizes_bytes"] = sizes
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(summary, f, indent=2, sort_keys=True)
        f.write("\n")
    for name, size in sizes.items():
        print("%-24s %12d bytes  %9.1f MB" % (name, size, size / 1e6))
    print("configs: trino.toml opa.toml%s litellm.toml all.toml  (in %s)"
          % ("" if args.no_half else " opa_half.toml", out))


if __name__ == "__main__":
    main()
