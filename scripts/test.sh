#!/usr/bin/env bash
# Installs and starts what the test suite needs on a fresh Debian machine (Prometheus,
# PostgreSQL), then runs every test. Loki cannot be installed here: the tests run a Loki API
# emulator (tests/support/loki_emulator.rs).
# Used by CI (.ci/run) and by developers: `scripts/test.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install the Rust toolchain (rustup, rustc >= 1.95) first" >&2
  exit 1
fi

# Real servers for the live-backend tests: Prometheus binaries and a PostgreSQL holding the
# real "LiteLLM_SpendLogs" schema with the demo rows (see scripts/test-services.sh).
eval "$(scripts/test-services.sh)"

# One build profile (dev) for the whole suite: a cold build of the dependencies is the
# expensive part on 2 cores, so nothing here builds a second profile.
export CARGO_INCREMENTAL=0
export CARGO_TERM_COLOR=never

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --locked --all-targets 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line with the totals of every test binary (cargo's last line is a per-binary
# count, often an example's "0 passed").
passed=$(awk '/^test result:/ {s += $4} END {print s + 0}' "$log")
failed=$(awk '/^test result:/ {s += $6} END {print s + 0}' "$log")
echo "tests: $passed passed, $failed failed"
exit "$status"
