#!/usr/bin/env bash
# The whole test suite. Installs the system packages it needs when run as
# root; otherwise prints the exact command to install them.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_cargo
ensure_commands redis-server:redis-server

echo ">> cargo test (unit, integration against private redis-servers, doc and UI tests)"
cargo test --workspace --all-targets
cargo test --workspace --doc
echo ">> all tests passed"
