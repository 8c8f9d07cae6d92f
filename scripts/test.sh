#!/usr/bin/env bash
# The whole test suite. Installs the system packages it needs when run as
# root; otherwise prints the exact command to install them.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_cargo
ensure_commands redis-server:redis-server
# pulp-app's RPM tests build real packages and repositories and check them
# with the real clients; without these tools they skip (loudly).
ensure_commands rpmbuild:rpm createrepo_c:createrepo-c python3:python3 \
  dnf:dnf zstd:zstd xz:xz-utils bzip2:bzip2 curl:curl
ensure_packages dnf-plugins-core
# The puppet plugin's test installs modules with the real `puppet module`.
ensure_commands puppet:puppet
python3 -m venv --help >/dev/null 2>&1 || ensure_packages python3-venv

echo ">> pulp-cli 0.41.1 in a venv (the stock client the tests drive pulp-app with)"
export PULP_CLI
PULP_CLI=$(pulp_cli_venv "${E2E_VENV:-$PWD/target/e2e-venv}")
export E2E_VENV=${E2E_VENV:-$PWD/target/e2e-venv}
# In the test suite a missing tool is a failure, not a skip.
export PULP_APP_REQUIRE_TOOLS=1

echo ">> cargo test (unit, integration against private redis-servers, doc and UI tests)"
cargo test --workspace --all-targets
cargo test --workspace --doc

echo ">> end to end with the stock pulp command line client and dnf"
bash scripts/e2e-pulp-cli.sh
echo ">> all tests passed"
