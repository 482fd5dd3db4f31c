#!/usr/bin/env bash
# Installs what the project needs on a fresh machine (Python venv, Chromium for the browser
# tests, Prometheus and Alertmanager for the on-call tests, the Kafka jars from Maven Central).
# Safe to re-run: each step is skipped when done.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=$(command -v python3.11 || command -v python3)
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# The install also compiles the core with mypyc (setup.py, ~30 CPU-seconds), so it is redone only
# when its extensions are missing or older than pyproject.toml, setup.py or a source in fwjr/.
library=$(find . -maxdepth 1 -name 'fwjr_core__mypyc.*.so' -print -quit)
if [ ! -x .venv/bin/fwjr ] || [ -z "$library" ] || [ -n "$(find pyproject.toml setup.py fwjr -newer "$library" \( -name '*.py' -o -name '*.toml' \) -print -quit)" ]; then
  .venv/bin/python -m pip install -q -e ".[test]"
fi

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "setup: chromium/chromedriver missing and not root: the browser tests will fail (FWJR_TESTS_ALLOW_SKIPS=1 lets them skip)" >&2
  fi
fi

# Prometheus (with promtool) and Alertmanager (with amtool): the on-call tests run the real ones.
if ! command -v promtool >/dev/null 2>&1 || ! command -v amtool >/dev/null 2>&1 \
   || ! { command -v prometheus-alertmanager || command -v alertmanager; } >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus prometheus-alertmanager >/dev/null
  else
    echo "setup: prometheus/alertmanager missing and not root: the on-call tests will fail (FWJR_TESTS_ALLOW_SKIPS=1 lets them skip)" >&2
  fi
fi

# PostgreSQL for the operational-data tests (tests/fixtures/postgres.py starts a throwaway cluster).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "setup: PostgreSQL missing and not root: the PostgreSQL tests will fail (FWJR_TESTS_ALLOW_SKIPS=1 lets them skip)" >&2
  fi
fi

.venv/bin/python -c "from fwjr.devstack.broker import default_cache_dir, ensure_kafka_jars; ensure_kafka_jars(default_cache_dir())"

# The board's plotly.js (the cartesian bundle, from the npm registry). Without it the board still
# works with Dash's full plotly.js, only slower to draw its first charts, so a failed fetch warns.
.venv/bin/python -m dashboard.plotly_bundle || echo "setup: continuing without the plotly.js cartesian bundle" >&2
