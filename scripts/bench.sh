#!/usr/bin/env bash
# Measures what preflight costs, against a throwaway PostgreSQL on loopback:
#   1. start-up overhead against a ready database: `preflight run -- true` with a 100-table
#      manifest (tables and 5 columns each present) versus `true` alone (hyperfine medians);
#   2. the shell entrypoint it replaces: pg_isready, then one psql per table;
#   3. statements the server logs for one `check` with 5 and with 400 tables (log_statement=all);
#   4. the time from the server being ready (its log line) to the application's exec.
# Prints medians and ratios; asserts nothing (these machines are shared and noisy).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null; }
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j 2 --target preflight >/dev/null
PF=$ROOT/build/preflight
# shellcheck source=lib/pgtmp.sh
. "$ROOT/scripts/lib/pgtmp.sh"
PGTMP_CONF="log_statement = 'all'" pgtmp_start >/dev/null
W=$(mktemp -d)
trap 'rm -rf "$W"; pgtmp_stop' EXIT
pgtmp_psql -d postgres -qc "CREATE DATABASE bench"
export DATABASE_URL="postgresql://postgres@127.0.0.1:$PGTMP_PORT/bench"

manifest() {  # manifest N FILE: N tables t1..tN with five typed columns each
  local n=$1 f=$2 i
  { echo "version: 1"; echo "tables:"
    for i in $(seq 1 "$n"); do
      echo "  - name: t$i"
      echo "    columns: [{name: id, type: bigint, nullable: false}, {name: name, type: varchar(100)}, {name: created_at, type: timestamptz}, {name: data, type: jsonb}, {name: flag, type: boolean}]"
    done; } >"$f"
}
{ for i in $(seq 1 400); do
    echo "CREATE TABLE t$i (id bigint NOT NULL, name varchar(100), created_at timestamptz, data jsonb, flag boolean);"
  done; } | pgtmp_psql -d bench -q
manifest 5 "$W/m5.yaml"; manifest 100 "$W/m100.yaml"; manifest 400 "$W/m400.yaml"

echo "== 1. start-up overhead against a ready database (100 tables, 500 columns)"
hyperfine -N --warmup 5 --runs 60 --export-json "$W/h1.json" \
  "true" "$PF run -q -f $W/m100.yaml -- true" "$PF run -q -f $W/m400.yaml -- true" >/dev/null
if [ -x "$ROOT/dist/preflight" ]; then
  cp "$W/m100.yaml" "$W/s100.yaml"
  hyperfine -N --warmup 5 --runs 60 --export-json "$W/h3.json" "$ROOT/dist/preflight run -q -f $W/s100.yaml -- true" >/dev/null
fi
echo "== 2. the shell entrypoint it replaces: pg_isready + one psql per table (100 tables)"
cat >"$W/entrypoint.sh" <<SH
#!/bin/sh
until pg_isready -q -d "\$DATABASE_URL"; do sleep 2; done
for i in \$(seq 1 100); do psql -X -q -d "\$DATABASE_URL" -c "SELECT 1 FROM t\$i LIMIT 0" >/dev/null || exit 1; done
exec true
SH
chmod +x "$W/entrypoint.sh"
hyperfine -N --warmup 1 --runs 10 --export-json "$W/h2.json" "$W/entrypoint.sh" >/dev/null
python3 - "$W/h1.json" "$W/h2.json" "$W/h3.json" <<'PY'
import json, sys
import os
rows = json.load(open(sys.argv[1]))["results"] + json.load(open(sys.argv[2]))["results"]
if os.path.exists(sys.argv[3]): rows += json.load(open(sys.argv[3]))["results"]
med = {r["command"].split("/")[-1] if "entrypoint" in r["command"] else r["command"].split(" -f ")[-1].split(" ")[0].split("/")[-1] if " -f " in r["command"] else r["command"]: r["median"] * 1000 for r in rows}
base = med.pop("true")
for k, v in med.items():
    print(f"   {k:18} median {v:8.2f} ms   overhead over `true` {v - base:8.2f} ms")
pf = med["m100.yaml"]; sh = med["entrypoint.sh"]
print(f"   shell entrypoint / preflight (100 tables): {sh / pf:.0f}x")
PY

echo "== 3. statements logged by the server for one check"
for n in 5 400; do
  before=$(grep -c " bench postgres LOG:  \(statement\|execute\)" "$PGTMP_LOG" || true)
  "$PF" check -q -f "$W/m$n.yaml"
  sleep 0.2
  after=$(grep -c " bench postgres LOG:  \(statement\|execute\)" "$PGTMP_LOG" || true)
  echo "   $n tables: $((after - before)) statements"
done

echo "== 4. from the server becoming ready to the application's exec"
pgtmp_stop; trap 'rm -rf "$W"' EXIT
for run in 1 2 3 4 5; do
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  DATABASE_URL="postgresql://postgres@127.0.0.1:$PORT/app" "$PF" run -q -f "$W/m5.yaml" --check -t 60s -- \
    sh -c 'date +%s%3N > '"$W/exec_at" 2>/dev/null &
  pid=$!
  PGTMP_NO_TRAP=1 pgtmp_start "$PORT" >/dev/null
  # The schema appears at once (CREATE DATABASE ... TEMPLATE), so preflight never sees half of it.
  pgtmp_psql -d postgres -qc "CREATE DATABASE tpl"
  pgtmp_psql -d tpl -q -f - <<<"$(for i in 1 2 3 4 5; do echo "CREATE TABLE t$i (id bigint NOT NULL, name varchar(100), created_at timestamptz, data jsonb, flag boolean);"; done)"
  pgtmp_psql -d postgres -qc "CREATE DATABASE app TEMPLATE tpl"
  created=$(date +%s%3N)
  wait $pid || true
  ready=$(grep -m1 "database system is ready to accept connections" "$PGTMP_LOG" | awk '{print $1" "$2}')
  ready_ms=$(date -d "$ready" +%s%3N)
  echo "   run $run: server ready -> exec $(( $(cat "$W/exec_at") - ready_ms )) ms (schema complete -> exec $(( $(cat "$W/exec_at") - created )) ms)"
  pgtmp_stop
done
