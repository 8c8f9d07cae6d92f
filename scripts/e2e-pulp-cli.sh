#!/usr/bin/env bash
# End to end with the real pulp client (pulp-cli from PyPI) against
# `pulp-app dev`: the file workflow, a cancel of a running sync, orphan
# cleanup, error paths, and then every served file's sha256 against its
# source. Everything listens on 127.0.0.1; every process started here is
# stopped by its PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

WORK=${E2E_WORK:-$(mktemp -d -t pulp-app-e2e-XXXXXX)}
mkdir -p "$WORK"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
fail() { echo "E2E FAILED: $*" >&2; [ -f "$WORK/dev.log" ] && tail -40 "$WORK/dev.log" >&2; exit 1; }

PULP_BIN=$(pulp_cli_venv "${E2E_VENV:-$PWD/target/e2e-venv}")
cargo build -q -p pulp-app
APP=$PWD/target/debug/pulp-app

# Remote content: a fast file repository and a slow one (for the cancel).
bash pulp-app/tests/fixtures/make_file_repo.sh 40 "$WORK/files" >/dev/null
SLOW_FILES=$WORK/slow-files
mkdir -p "$SLOW_FILES"
for i in $(seq 1 30); do head -c 2048 /dev/urandom > "$SLOW_FILES/s$i.bin"; done
(cd "$SLOW_FILES" && for f in s*.bin; do echo "$f,$(sha256sum "$f" | cut -d' ' -f1),$(stat -c %s "$f")"; done) > "$SLOW_FILES/PULP_MANIFEST"
FILES_PORT=$(free_port)
python3 -m http.server "$FILES_PORT" --bind 127.0.0.1 --directory "$WORK/files" >"$WORK/files.log" 2>&1 &
PIDS+=($!)
SLOW_PORT=$(free_port)
python3 - "$SLOW_PORT" "$SLOW_FILES" >"$WORK/slow.log" 2>&1 <<'PY' &
import functools, http.server, sys, time
class Slow(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        if not self.path.endswith("PULP_MANIFEST"):
            time.sleep(0.5)
        return super().do_GET()
handler = functools.partial(Slow, directory=sys.argv[2])
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), handler).serve_forever()
PY
PIDS+=($!)

# pulp-app in single-machine mode, with its private redis-server.
API_PORT=$(free_port)
CONTENT_PORT=$(free_port)
PULP_DATA_DIR=$WORK/data PULP_API_BIND=127.0.0.1:$API_PORT PULP_CONTENT_BIND=127.0.0.1:$CONTENT_PORT \
  PULP_ADMIN_PASSWORD=e2e-secret "$APP" dev >"$WORK/dev.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$API_PORT/pulp/api/v3/status/" >/dev/null 2>&1 && break
  sleep 0.2
done

export XDG_CONFIG_HOME=$WORK/cli-config XDG_CACHE_HOME=$WORK/cli-cache
pulp() { "$PULP_BIN" --base-url "http://127.0.0.1:$API_PORT" --username admin --password e2e-secret "$@"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

echo "-- status"
pulp status | json 'd["redis_connection"]["connected"]' | grep -qx True || fail "status"

echo "-- file workflow"
pulp file remote create --name frem --url "http://127.0.0.1:$FILES_PORT/PULP_MANIFEST" >/dev/null 2>"$WORK/err" || fail "remote create"
pulp file repository create --name frepo --remote frem >/dev/null || fail "repository create"
pulp file repository sync --name frepo || fail "sync"
pulp file publication create --repository frepo >"$WORK/pub.json" || fail "publication create"
PUB=$(json 'd["pulp_href"]' <"$WORK/pub.json")
pulp file distribution create --name fdist --base-path e2e/files --publication "$PUB" >/dev/null || fail "distribution create (publication)"
pulp file distribution create --name fdist2 --base-path e2e/latest --repository frepo >/dev/null || fail "distribution create (repository)"
[ "$(pulp file content list --limit 1000 | json 'len(d)')" = 40 ] || fail "content list"
[ "$(pulp task list --limit 100 | json 'len(d)')" -ge 4 ] || fail "task list"
TASK=$(pulp task list --limit 1 | json 'd[0]["pulp_href"]')
[ "$(pulp task show --href "$TASK" | json 'd["state"]')" = completed ] || fail "task show"
[ "$(pulp repository version list | json 'len(d)')" = 2 ] || fail "repository version list"
[ "$(pulp file repository version list --repository frepo | json 'd[0]["number"]')" = 1 ] || fail "file repository version list"
pulp file repository version destroy --repository frepo --version 0 >/dev/null || fail "repository version destroy"
[ "$(pulp file repository version list --repository frepo | json '[v["number"] for v in d]')" = "[1]" ] || fail "version 0 still listed"

echo "-- updates and deletes run as tasks (pulp-cli waits for them)"
pulp file remote update --name frem --download-concurrency 3 || fail "remote update"
[ "$(pulp file remote show --name frem | json 'd["download_concurrency"]')" = 3 ] || fail "remote update not applied"
pulp file repository update --name frepo --description "mirrored by e2e" || fail "repository update"
[ "$(pulp file repository show --name frepo | json 'd["description"]')" = "mirrored by e2e" ] || fail "repository update not applied"
pulp file remote create --name gone --url "http://127.0.0.1:$FILES_PORT/PULP_MANIFEST" >/dev/null || fail "remote create (gone)"
pulp file remote destroy --name gone || fail "remote destroy"
if pulp file remote show --name gone >/dev/null 2>&1; then fail "destroyed remote still shown"; fi

echo "-- cancel a running sync"
pulp file remote create --name slow --url "http://127.0.0.1:$SLOW_PORT/PULP_MANIFEST" --download-concurrency 1 >/dev/null 2>&1
pulp file repository create --name slowrepo --remote slow >/dev/null
pulp --background file repository sync --name slowrepo >"$WORK/bg.txt" 2>&1 || fail "background sync"
SYNC=""
for _ in $(seq 1 100); do
  SYNC=$(pulp task list --state running --limit 10 | json '" ".join(t["pulp_href"] for t in d if t["name"].endswith("synchronize"))')
  [ -n "$SYNC" ] && break
  sleep 0.2
done
[ -n "$SYNC" ] || fail "the slow sync never ran"
sleep 1
pulp task cancel --href "$SYNC" || fail "task cancel"
[ "$(pulp task show --href "$SYNC" | json 'd["state"]')" = canceled ] || fail "not canceled"
[ "$(pulp file repository show --name slowrepo | json 'd["latest_version_href"].rstrip("/").split("/")[-1]')" = 0 ] || fail "a canceled sync left a version"

echo "-- error paths"
if pulp file repository create --name frepo >"$WORK/dup.txt" 2>&1; then fail "duplicate name accepted"; fi
grep -q "This field must be unique" "$WORK/dup.txt" || fail "duplicate name message: $(cat "$WORK/dup.txt")"
if "$PULP_BIN" --base-url "http://127.0.0.1:$API_PORT" --username admin --password wrong file repository list >"$WORK/auth.txt" 2>&1; then fail "wrong password accepted"; fi
grep -qi "authentication failed" "$WORK/auth.txt" || fail "wrong password message: $(cat "$WORK/auth.txt")"
CODE=$(curl -s -o "$WORK/missing.json" -w '%{http_code}' -u admin:e2e-secret -H 'Content-Type: application/json' \
  -d '{"name":"no-url"}' "http://127.0.0.1:$API_PORT/pulp/api/v3/remotes/file/file/")
[ "$CODE" = 400 ] && grep -q '"url":\["This field is required."\]' "$WORK/missing.json" || fail "missing field: $CODE $(cat "$WORK/missing.json")"

echo "-- orphan cleanup"
pulp file repository destroy --name slowrepo >/dev/null 2>&1 || fail "repository destroy"
pulp orphan cleanup --protection-time 0 >/dev/null || fail "orphan cleanup"

echo "-- served files match their source"
for base in e2e/files e2e/latest; do
  while IFS=, read -r path sum size; do
    got=$(curl -fs "http://127.0.0.1:$CONTENT_PORT/pulp/content/$base/$path" | sha256sum | cut -d' ' -f1)
    [ "$got" = "$sum" ] || fail "$base/$path: sha256 $got, expected $sum"
  done <"$WORK/files/PULP_MANIFEST"
done
curl -fs "http://127.0.0.1:$CONTENT_PORT/pulp/content/e2e/files/PULP_MANIFEST" | sort | cmp -s - <(sort "$WORK/files/PULP_MANIFEST") || fail "published PULP_MANIFEST differs"

if [ -x scripts/e2e-rpm.sh ]; then
  API_PORT=$API_PORT CONTENT_PORT=$CONTENT_PORT WORK=$WORK PULP_BIN=$PULP_BIN bash scripts/e2e-rpm.sh || fail "rpm workflow"
fi
echo "E2E OK"
