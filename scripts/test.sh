#!/usr/bin/env bash
# The whole test suite (unit, property, real Kafka broker, embedded ClickHouse, Spark, HDFS, browser).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
