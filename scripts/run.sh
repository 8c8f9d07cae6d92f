#!/usr/bin/env bash
# The main job: pulp-app in single-machine mode (`pulp-app dev`: REST API,
# content app and a worker in one process, with a private redis-server whose
# data, with everything else, lives under ./pulp-data). Installs
# redis-server if it is missing. Extra arguments go to `pulp-app dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_cargo
ensure_commands redis-server:redis-server
exec cargo run --release -p pulp-app -- dev "$@"
