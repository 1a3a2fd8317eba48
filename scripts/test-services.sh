#!/usr/bin/env bash
# Installs and starts the real servers the integration tests talk to, on a fresh Debian machine:
#   - Prometheus + promtool (Debian package `prometheus`): the tests backfill and start their own
#     instances on free loopback ports, so only the binaries are needed here;
#   - poppler-utils (pdftotext, pdftoppm, pdfinfo, pdffonts) for the PDF report test;
#   - PostgreSQL (Debian package `postgresql`): a private cluster in $STATE/pg on 127.0.0.1:15432
#     (not the host's 5432), with the real "LiteLLM_SpendLogs" schema and the demo rows loaded;
#   - the Prometheus pushgateway (Debian `prometheus-pushgateway`): tests/pushgateway.rs starts
#     its own on a free port;
#   - aiosmtpd (PyPI) in a venv in $STATE/venv: tests/smtp_delivery.rs starts its own relays
#     (tests/support/smtp_server.py) with certificates made by the openssl CLI;
#   - kubernetes-validate (PyPI, same venv; it ships the Kubernetes OpenAPI schemas, no cluster
#     needed): tests/deploy.rs validates cronjobs/ with --strict, as the API server would.
# Prints the env the tests read; scripts/test.sh sources it. Run as root (CI is) or via sudo.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=${AKKO_TEST_STATE:-/tmp/akko-audit-test}
PGPORT=${AKKO_TEST_PGPORT:-15432}

missing=()
command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
# tests/pdf_render.rs reads the rendered PDF back with pdftotext, pdftoppm, pdfinfo and pdffonts.
command -v pdftotext >/dev/null 2>&1 && command -v pdftoppm >/dev/null 2>&1 || missing+=(poppler-utils)
command -v prometheus-pushgateway >/dev/null 2>&1 || missing+=(prometheus-pushgateway)
# tests/smtp_delivery.rs makes the relay's certificates with openssl.
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

VENV=$STATE/venv
if ! "$VENV/bin/python" -c 'import aiosmtpd' >/dev/null 2>&1; then
  mkdir -p "$STATE"
  rm -rf "$VENV"
  if ! python3 -m venv "$VENV" >&2; then
    # Debian ships venv's pip bootstrap in a separate package.
    rm -rf "$VENV"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >&2
    python3 -m venv "$VENV" >&2
  fi
  "$VENV/bin/pip" install -q 'aiosmtpd==1.4.6' >&2
fi
if [ ! -x "$VENV/bin/kubernetes-validate" ]; then
  "$VENV/bin/pip" install -q 'kubernetes-validate==1.37.0' >&2
fi

PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
PGDATA=$STATE/pg
mkdir -p "$STATE"
chmod 0755 "$STATE"
as_pg() { if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi; }
if ! as_pg "$PGBIN/pg_ctl" status -D "$PGDATA" >/dev/null 2>&1; then
  rm -rf "$PGDATA"
  mkdir -p "$PGDATA"
  chown postgres "$PGDATA"
  as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust >/dev/null
  as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w \
    -o "-p $PGPORT -k $PGDATA -c listen_addresses=127.0.0.1" start >&2
fi
psql_pg() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" "$@"; }
psql_pg -U postgres -d postgres >&2 <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'akko') THEN
    CREATE ROLE akko LOGIN PASSWORD 'akko';
  END IF;
END $$;
DROP DATABASE IF EXISTS litellm_demo;
CREATE DATABASE litellm_demo OWNER akko;
SQL
psql_pg -U akko -d litellm_demo -f "$ROOT/fixtures/litellm/schema.sql" >&2
psql_pg -U akko -d litellm_demo -v csv="$ROOT/fixtures/demo/litellm_spendlogs.csv" -f "$ROOT/fixtures/litellm/load.sql" >&2

echo "export AKKO_TEST_PG_URL='postgresql://akko:akko@127.0.0.1:$PGPORT/litellm_demo'"
echo "export AKKO_TEST_PROMETHEUS='$(command -v prometheus)'"
echo "export AKKO_TEST_PROMTOOL='$(command -v promtool)'"
echo "export AKKO_TEST_PYTHON='$VENV/bin/python'"
echo "export AKKO_TEST_KUBERNETES_VALIDATE='$VENV/bin/kubernetes-validate'"
echo "export AKKO_TEST_PUSHGATEWAY='$(command -v prometheus-pushgateway)'"
