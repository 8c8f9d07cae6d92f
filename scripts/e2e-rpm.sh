#!/usr/bin/env bash
# The RPM leg of scripts/e2e-pulp-cli.sh (which starts pulp-app and sets
# API_PORT, CONTENT_PORT, WORK and PULP_BIN): builds a real yum repository
# with rpmbuild and createrepo_c, serves it on loopback, mirrors it with the
# stock pulp client, and checks what pulp-app serves with the real dnf.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
fail() { echo "E2E RPM FAILED: $*" >&2; exit 1; }

N=${E2E_RPM_PACKAGES:-60}
REPO=$WORK/rpm-$N
bash pulp-app/tests/fixtures/make_rpm_repo.sh "$N" "$REPO" >"$WORK/rpm-build.log" 2>&1 || fail "fixture build: $(tail -5 "$WORK/rpm-build.log")"
RPM_PORT=$(free_port)
python3 -m http.server "$RPM_PORT" --bind 127.0.0.1 --directory "$REPO" >"$WORK/rpm-http.log" 2>&1 &
RPM_PID=$!
trap 'kill $RPM_PID 2>/dev/null || true' EXIT

pulp() { "$PULP_BIN" --base-url "http://127.0.0.1:$API_PORT" --username admin --password e2e-secret "$@"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

echo "-- rpm workflow"
pulp rpm remote create --name rrem --url "http://127.0.0.1:$RPM_PORT/" --policy immediate >/dev/null || fail "remote create"
pulp rpm repository create --name rrepo --remote rrem >/dev/null || fail "repository create"
pulp rpm repository sync --name rrepo || fail "sync"
pulp rpm publication create --repository rrepo >"$WORK/rpub.json" || fail "publication create"
RPUB=$(json 'd["pulp_href"]' <"$WORK/rpub.json")
pulp rpm distribution create --name rdist --base-path e2e/rpm --publication "$RPUB" >/dev/null || fail "distribution create"
COUNT=$(pulp rpm content list --limit 1000 | json 'len(d)')
[ "$COUNT" = "$N" ] || fail "content list: $COUNT packages, expected $N"

echo "-- dnf against the distribution"
BASE="http://127.0.0.1:$CONTENT_PORT/pulp/content/e2e/rpm/"
DNF=(dnf -q --setopt=reposdir=/dev/null --setopt=cachedir="$WORK/dnf-cache" --setopt=logdir="$WORK/dnf-log"
     --releasever=e2e --repofrompath=e2e,"$BASE" --repo=e2e)
LISTED=$("${DNF[@]}" list available --showduplicates 2>"$WORK/dnf.err" | grep -cE '^[^ ]+\.(noarch|x86_64)( |$)' || true)
[ "$LISTED" = "$N" ] || fail "dnf lists $LISTED packages, expected $N: $(head -5 "$WORK/dnf.err")"
SOME=$(tail -n +2 "$REPO/fixture-packages.tsv" | head -3 | cut -f1 | tr '\n' ' ')
mkdir -p "$WORK/dl"
# shellcheck disable=SC2086
"${DNF[@]}" download --destdir="$WORK/dl" $SOME >/dev/null 2>"$WORK/dl.err" || fail "dnf download: $(cat "$WORK/dl.err")"
for f in "$WORK"/dl/*.rpm; do
  sum=$(sha256sum "$f" | cut -d' ' -f1)
  grep -q "$sum" "$REPO/fixture-packages.tsv" || fail "downloaded $(basename "$f") does not match the source"
done
CLOSURE=$("${DNF[@]}" repoclosure --check e2e 2>&1) || fail "repoclosure failed: $CLOSURE"
[ -z "$CLOSURE" ] || fail "repoclosure reports: $CLOSURE"
echo "-- rpm OK ($N packages listed, $(ls "$WORK"/dl/*.rpm | wc -l) downloaded and verified, repoclosure clean)"
