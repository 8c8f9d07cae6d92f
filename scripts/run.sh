#!/usr/bin/env bash
# The main job: a taskq worker and a producer in one process, on a private
# redis-server (or $REDIS_URL). Installs redis-server if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_cargo
ensure_commands redis-server:redis-server
exec cargo run --release -p examples --example producer_worker -- "$@"
