#!/usr/bin/env bash
# The main job on the local default: Kafka broker + stream worker + board, fed with generated FWJRs.
# Ctrl-C stops everything. State lives in $FWJR_HOME (default ~/.fwjr).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/fwjr up --feed-rate "${FWJR_FEED_RATE:-50}" "$@"
