#!/usr/bin/env bash
# The main job, end to end, on a fresh Debian 12 machine:
#   1. preflight starts BEFORE the database exists and waits (connection refused, then
#      "database does not exist" while it is being created), retrying with backoff;
#   2. the database appears with the schema a half-migrated deploy leaves behind: users lacks
#      avatar_url, interview_sessions and get_nodes_system(uuid, integer) are missing;
#   3. preflight finds the three, repairs them from config/preflight.yaml's fallbacks in one
#      transaction, verifies again, and execs the demo app (config/demo/app.sh), which uses them.
# Installs what it needs (apt-get, as root), builds preflight, and runs a throwaway PostgreSQL
# cluster that is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

PACKAGES=(build-essential cmake pkg-config libpq-dev libyaml-dev libuv1-dev postgresql-15 postgresql-client-15)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing ${missing[*]}"
  [ "$(id -u)" = 0 ] || { echo "demo.sh: run as root to install ${missing[*]}" >&2; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

echo "==> building preflight"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j 2 --target preflight >/dev/null
PREFLIGHT=$ROOT/build/preflight

# shellcheck source=lib/pgtmp.sh
. "$ROOT/scripts/lib/pgtmp.sh"
PGTMP_NO_TRAP=1
PF_PID=""
WORK=$(mktemp -d)
cleanup() {
  [ -n "$PF_PID" ] && kill "$PF_PID" 2>/dev/null || true
  pgtmp_stop
  rm -rf "$WORK"
}
trap cleanup EXIT

# Choose a free port for the server that does not exist yet, and point preflight at it.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export DATABASE_URL="postgresql://postgres@127.0.0.1:$PORT/demo"
export PREFLIGHT_DEMO_TIMEOUT=60s

echo "==> starting preflight first: nothing listens on 127.0.0.1:$PORT yet"
"$PREFLIGHT" run -f config/preflight.yaml --report "$WORK/report.json" -- config/demo/app.sh &
PF_PID=$!

sleep 1
echo "==> starting PostgreSQL on port $PORT"
pgtmp_start "$PORT" >/dev/null
echo "==> creating the half-migrated database 'demo'"
pgtmp_psql -d postgres -qc "CREATE DATABASE demo_template"
pgtmp_psql -d demo_template -q -f config/demo/schema.sql
sleep 0.5
# CREATE DATABASE ... TEMPLATE makes the whole broken schema appear at once.
pgtmp_psql -d postgres -qc "CREATE DATABASE demo TEMPLATE demo_template"

set +e
wait "$PF_PID"
status=$?
set -e
PF_PID=""
echo "==> preflight handed over; the app exited with status $status"
echo "==> report ($WORK/report.json):"
python3 - "$WORK/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"   status={r['status']}  wait={r['timings_ms']['wait']}ms verify={r['timings_ms']['verify']}ms "
      f"fallback={r['timings_ms']['fallback']}ms total={r['timings_ms']['total']}ms queries={r['queries']}")
for i in r["items"]:
    if i["status"] != "present":
        print(f"   {i['status']:8} {i['kind']:9} {i['name']}  ({i.get('detail', '')})")
PY
echo "==> a second start finds everything present:"
"$PREFLIGHT" check -f config/preflight.yaml
exit "$status"
