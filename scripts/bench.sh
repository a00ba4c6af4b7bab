#!/usr/bin/env bash
# Measures what preflight costs, side by side in one run, against one throwaway PostgreSQL 15
# (scram-sha-256 over loopback, every object present), at four sizes:
#
#   10 tables / 50 columns / 5 functions; 100 / 500 / 50; 1,000 / 5,000 / 500; and a
#   GitLab-sized schema of ~32,000 items (1,000 tables, 21,000 columns, 6,000 indexes, 3,000
#   constraints, 500 functions, 500 sequences).
#
# For each size, hyperfine medians of:
#   floor        one libpq connection + SELECT 1 (scripts/lib/floor.c): the cost of any gate
#   dynamic      build/preflight check
#   static       dist/preflight check (scripts/build-static.sh: musl, the binary people ship)
#   pg_isready   what most entrypoints wait with (it verifies nothing)
#   pgTAP        the same objects as pgTAP assertions in one psql session
#   shell        the seed-style entrypoint: one psql per object (past BENCH_SHELL_SAMPLE objects,
#                default 1,000, that many are timed and the total extrapolated, unless BENCH_FULL=1)
# plus the peak RSS of both preflight builds, the statements the server logs for one check, the
# pages the server's backend touches for one check (against the floor's: on the virtual machines
# CI uses a first touch of a page costs ~12 us, and a fresh backend's catalog caches are most of
# the query's cost), the server's own time for the verification query (parse, plan and execute,
# from its log: what no client can save, set beside the floor), the snapshot time, the manifest
# parsing rate (lint of the largest manifest, beside libyaml's own rate on it:
# scripts/lib/yamlrate.c), and the detection latency: from the
# server's "ready to accept connections" log line to the application's exec (5 trials, preflight
# started before the server), beside the same latency for the floor program retrying every 5 ms:
# what any gate that waits would pay.
#
# Writes scripts/bench-results/results.txt, results.dat and bench.png (cost versus size, gnuplot). Asserts
# nothing: these machines are shared and noisy; timing never goes into the tests.
#
# About 10 minutes on an idle 2-core machine, plus the static build the first time.
#
# Environment: BENCH_STATIC_BIN (a static binary already built: skips build-static.sh),
# BENCH_SIZES (a subset of "s10 s100 s1000 s32k", for a quick look), BENCH_RUNS (hyperfine runs
# of the fast commands, default 20), BENCH_FULL=1 (time the whole shell loop at every size: an
# hour or more), PF_STATIC_CACHE (see build-static.sh), BENCH_OUT (default scripts/bench-results).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${BENCH_RUNS:-20}
SAMPLE=${BENCH_SHELL_SAMPLE:-1000}
OUT=${BENCH_OUT:-$ROOT/scripts/bench-results}
mkdir -p "$OUT"

say() { printf 'bench: %s\n' "$*" >&2; }

# ---- what a fresh Debian 12 machine lacks -------------------------------------------------
PACKAGES=(build-essential cmake pkg-config libpq-dev libyaml-dev libuv1-dev postgresql-15 postgresql-client-15
          postgresql-15-pgtap hyperfine gnuplot-nox time python3)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing: ${missing[*]}"
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null
fi

# ---- the programs -------------------------------------------------------------------------
say "building build/preflight and dist/preflight (static, musl)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j 2 --target preflight >/dev/null
DYN=$ROOT/build/preflight
STA=${BENCH_STATIC_BIN:-$ROOT/dist/preflight}
[ -n "${BENCH_STATIC_BIN:-}" ] || scripts/build-static.sh >/dev/null
W=$(mktemp -d)
cc -O2 -o "$W/floor" scripts/lib/floor.c -I"$(pg_config --includedir)" -lpq
cc -O2 -o "$W/yamlrate" scripts/lib/yamlrate.c -lyaml

# ---- the server: scram-sha-256 over loopback ------------------------------------------------
# shellcheck source=lib/pgtmp.sh
. "$ROOT/scripts/lib/pgtmp.sh"
PGTMP_HBA="local all all trust
host all all 127.0.0.1/32 scram-sha-256" PGTMP_CONF="password_encryption = 'scram-sha-256'
log_timezone = 'UTC'" pgtmp_start >/dev/null
trap 'rm -rf "$W"; pgtmp_stop' EXIT
pgtmp_psql -d postgres -qc "ALTER ROLE postgres PASSWORD 'bench'"
URL="postgresql://postgres:bench@127.0.0.1:$PGTMP_PORT"

read -r -a SIZES <<<"${BENCH_SIZES:-s10 s100 s1000 s32k}"
declare -A SPEC=([s10]="10 5 5" [s100]="100 5 50" [s1000]="1000 5 500" [s32k]="1000 19 500 6 2 500")
declare -A LABEL=([s10]="10 tables" [s100]="100 tables" [s1000]="1,000 tables" [s32k]="32,000 items")
say "creating the schemas and their manifests (preflight snapshot)"
for s in "${SIZES[@]}"; do
  pgtmp_psql -d postgres -qc "CREATE DATABASE $s"
  # shellcheck disable=SC2086
  python3 scripts/lib/bench_schema.py ${SPEC[$s]} | pgtmp_psql -d "$s" -q
  "$DYN" snapshot -q -d "$URL/$s" >"$W/$s.yaml"
  # The same objects for pgTAP (one session) and for the shell (one psql per object).
  pgtmp_psql -d "$s" -qc "CREATE SCHEMA tap; CREATE EXTENSION pgtap SCHEMA tap"
  pgtmp_psql -d "$s" -At -f - >"$W/$s.objects" <<'SQL'
SELECT q FROM (
  SELECT 1 AS k, c.relname AS o, format('%s|SELECT 1 FROM public.%I LIMIT 0|SELECT tap.has_table(''public'', %L::name, '''');', 'table', c.relname, c.relname) AS q
    FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
  UNION ALL
  SELECT 2, c.relname || a.attname, format('column|SELECT %I FROM public.%I LIMIT 0|SELECT tap.col_type_is(''public'', %L::name, %L::name, %L, '''');',
                a.attname, c.relname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod))
    FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
   WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
  UNION ALL
  SELECT 3, p.proname, format('function|SELECT %L::regprocedure|SELECT tap.has_function(''public'', %L::name, %L::name[], '''');',
                'public.' || p.proname || '(' || pg_catalog.oidvectortypes(p.proargtypes) || ')', p.proname,
                string_to_array(pg_catalog.oidvectortypes(p.proargtypes), ', '))
    FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
  UNION ALL
  SELECT 4, c.relname, format('%s|SELECT %L::regclass|SELECT tap.%s(''public'', %L::name, '''');', CASE c.relkind WHEN 'i' THEN 'index' ELSE 'sequence' END,
                'public.' || quote_ident(c.relname), CASE c.relkind WHEN 'i' THEN 'has_relation' ELSE 'has_sequence' END, c.relname)
    FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('i', 'S')
      AND NOT EXISTS (SELECT 1 FROM pg_constraint co WHERE co.conindid = c.oid)
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'i')
  UNION ALL
  SELECT 5, co.conname, format('constraint|SELECT 1 FROM pg_constraint WHERE conrelid = %L::regclass AND conname = %L|SELECT tap.ok(EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = %L::regclass AND conname = %L), '''');',
                'public.' || quote_ident(c.relname), co.conname, 'public.' || quote_ident(c.relname), co.conname)
    FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid WHERE c.relnamespace = 'public'::regnamespace
) x ORDER BY k, o
SQL
  n=$(wc -l <"$W/$s.objects")
  { echo "SET search_path = public, tap;"; echo "SELECT tap.plan($n);"; cut -d'|' -f3 "$W/$s.objects"; echo "SELECT * FROM tap.finish();"; } >"$W/$s.tap.sql"
  cut -d'|' -f2 "$W/$s.objects" >"$W/$s.shell.sql"
  printf '%s\n' "$n" >"$W/$s.count"
done
# Catalogs that thousands of CREATEs just filled are what autovacuum works on next, a minute
# later, in the middle of the measurements (one run had the 1,000-table check at 159 ms instead of
# ~100). A deployed database has analyzed catalogs anyway; so analyze now, then checkpoint.
for s in "${SIZES[@]}"; do pgtmp_psql -d "$s" -qc "VACUUM (ANALYZE)"; done
pgtmp_psql -d postgres -qc "CHECKPOINT"

# The seed-style entrypoint: wait with pg_isready, then one psql per object. SAMPLE limits how
# many objects are timed.
cat >"$W/shell.sh" <<'SH'
#!/bin/sh
until pg_isready -q -d "$1"; do sleep 1; done
head -n "${3:-999999999}" "$2" | while IFS= read -r q; do
  psql -X -q -d "$1" -c "$q" >/dev/null || exit 1
done
SH
chmod +x "$W/shell.sh"

median() {  # median FILE.json: the median in ms of hyperfine's only result
  python3 -c 'import json,sys; print("%.2f" % (json.load(open(sys.argv[1]))["results"][0]["median"] * 1000))' "$1"
}
hf() {  # hf NAME RUNS COMMAND...: hyperfine median in ms, into $W/NAME.ms
  local name=$1 runs=$2; shift 2
  local warmup=1
  if [ "$runs" -gt 3 ]; then warmup=3; elif [ "$runs" -eq 1 ]; then warmup=0; fi
  hyperfine -N --warmup "$warmup" --runs "$runs" --export-json "$W/$name.json" "$*" >/dev/null 2>&1
  median "$W/$name.json" >"$W/$name.ms"
}
hfmix() {  # hfmix RUNS NAME COMMAND [NAME COMMAND]...: medians in ms into $W/NAME.ms, interleaved
  # The commands compared with each other (the floor, the dynamic and the static binary) are run
  # in turns, five rounds of RUNS/5 runs each in a rotating order, so that a slower stretch of a
  # shared machine, or the server's state after the previous command, weighs on all of them
  # alike: measured one after the other, the command measured later came out up to 20% slower.
  local runs=$1; shift
  local -a names=() cmds=()
  while [ $# -gt 1 ]; do names+=("$1"); cmds+=("$2"); shift 2; done
  local per=$(( (runs + 4) / 5 )) r j i
  for i in "${!names[@]}"; do
    : >"$W/${names[$i]}.times"
    hyperfine -N --warmup 2 --runs 2 "${cmds[$i]}" >/dev/null 2>&1
  done
  for r in 0 1 2 3 4; do
    for j in "${!names[@]}"; do
      i=$(( (j + r) % ${#names[@]} ))
      hyperfine -N --warmup 0 --runs "$per" --export-json "$W/mix.json" "${cmds[$i]}" >/dev/null 2>&1
      python3 -c 'import json,sys; print("\n".join(str(t) for t in json.load(open(sys.argv[1]))["results"][0]["times"]))' \
        "$W/mix.json" >>"$W/${names[$i]}.times"
    done
  done
  for i in "${!names[@]}"; do
    python3 -c 'import statistics,sys; print("%.2f" % (statistics.median(float(x) for x in open(sys.argv[1])) * 1000))' \
      "$W/${names[$i]}.times" >"$W/${names[$i]}.ms"
  done
}
rss() {  # rss COMMAND...: peak resident set in KiB
  /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -n 1
}
statements() {  # statements BIN DB: statements the server logs for one check
  local before after
  before=$(grep -c "LOG:  \(statement\|execute\)" "$PGTMP_LOG" || true)
  PGOPTIONS="-c log_statement=all" "$1" check -q -d "$URL/$2" -f "$W/$2.yaml"
  sleep 0.3
  after=$(grep -c "LOG:  \(statement\|execute\)" "$PGTMP_LOG" || true)
  echo $((after - before))
}

backend_faults() {  # backend_faults COMMAND...: minor page faults of the backend that served it
  # log_statement_stats logs getrusage per statement; the bracketed figure is the backend's
  # total since it started, so the largest one covers the whole session, start-up included.
  local before
  before=$(stat -c %s "$PGTMP_LOG")
  PGOPTIONS="-c log_statement_stats=on" "$@" >/dev/null
  sleep 0.3
  tail -c +"$((before + 1))" "$PGTMP_LOG" | sed -n 's/.*\[[0-9]*\/\([0-9]*\)\] page faults\/reclaims.*/\1/p' | sort -n | tail -n 1
}

server_query() {  # server_query BIN DB: the server's own time for the verification query
  # log_min_duration_statement logs each protocol step of every statement with its duration; the
  # verification query is the one statement that reads unnest(...) arrays (on any of its lines:
  # a statement runs until the next line that starts with a log prefix's date). Medians of 7
  # checks of parse (raw parse and analysis), bind (the parameters read, and planning: the
  # statement is unnamed, so it is planned with them) and execute, in ms: "parse bind execute".
  local before
  before=$(stat -c %s "$PGTMP_LOG")
  for _ in 1 2 3 4 5 6 7; do
    PGOPTIONS="-c log_min_duration_statement=0 -c log_parameter_max_length=0" "$1" check -q -d "$URL/$2" -f "$W/$2.yaml"
  done
  sleep 0.3
  tail -c +"$((before + 1))" "$PGTMP_LOG" | python3 -c '
import re, statistics, sys
steps = {"parse": [], "bind": [], "execute": []}
log = sys.stdin.read()
for m in re.finditer(r"duration: ([0-9.]+) ms  (parse|bind|execute) <unnamed>: (.*?)(?=\n\d{4}-\d\d-\d\d |\Z)", log, re.S):
    if "unnest(" in m.group(3):
        steps[m.group(2)].append(float(m.group(1)))
print(" ".join("%.2f" % (statistics.median(v) if v else float("nan")) for v in steps.values()))'
}

for s in "${SIZES[@]}"; do
  n=$(cat "$W/$s.count")
  say "measuring ${LABEL[$s]} ($n items)"
  hfmix "$RUNS" "$s.floor" "$W/floor $URL/$s" \
    "$s.dyn" "$DYN check -q -d $URL/$s -f $W/$s.yaml" "$s.sta" "$STA check -q -d $URL/$s -f $W/$s.yaml"
  hf "$s.isready" "$RUNS" pg_isready -q -d "$URL/$s"
  hf "$s.tap" "$([ "$s" = s32k ] && echo 1 || echo 3)" psql -X -q -o /dev/null -d "$URL/$s" -f "$W/$s.tap.sql"
  if [ "$n" -gt "$SAMPLE" ] && [ "${BENCH_FULL:-0}" != 1 ]; then
    hf "$s.shell1k" 1 "$W/shell.sh" "$URL/$s" "$W/$s.shell.sql" "$SAMPLE"
    python3 -c "import sys; print('%.2f' % (float(open(sys.argv[1]).read()) * int(sys.argv[2]) / int(sys.argv[3])))" "$W/$s.shell1k.ms" "$n" "$SAMPLE" >"$W/$s.shell.ms"
    echo "extrapolated from the first $SAMPLE objects" >"$W/$s.shell.note"
  else
    hf "$s.shell" "$([ "$s" = s10 ] && echo 3 || echo 1)" "$W/shell.sh" "$URL/$s" "$W/$s.shell.sql"
  fi
  rss "$DYN" check -q -d "$URL/$s" -f "$W/$s.yaml" >"$W/$s.dyn.rss"
  rss "$STA" check -q -d "$URL/$s" -f "$W/$s.yaml" >"$W/$s.sta.rss"
  statements "$DYN" "$s" >"$W/$s.stmts"
  backend_faults "$W/floor" "$URL/$s" >"$W/$s.floor.bf"
  backend_faults "$DYN" check -q -d "$URL/$s" -f "$W/$s.yaml" >"$W/$s.dyn.bf"
  server_query "$STA" "$s" >"$W/$s.srv"
done
SNAP=${SIZES[-1]}
say "snapshot of $SNAP"
hfmix 10 snap.dyn "$DYN snapshot -q -d $URL/$SNAP" snap.sta "$STA snapshot -q -d $URL/$SNAP"
rss "$DYN" snapshot -q -d "$URL/$SNAP" >"$W/snap.dyn.rss"
echo "$SNAP" >"$W/snap.size"

# ---- manifest parsing: lint reads and validates the largest manifest, with no server ---------
# The rate is the file's size over the time beyond a lint of the 10-table manifest (the cost of
# starting the process), beside libyaml's own rate on the same file (yamlrate.c: events only).
if [ "$SNAP" != s10 ] && [ -f "$W/s10.yaml" ]; then
  say "manifest parsing ($SNAP)"
  hfmix 20 lint.big.dyn "$DYN lint -q -f $W/$SNAP.yaml" lint.big.sta "$STA lint -q -f $W/$SNAP.yaml" \
    lint.small.dyn "$DYN lint -q -f $W/s10.yaml" lint.small.sta "$STA lint -q -f $W/s10.yaml"
  stat -c %s "$W/$SNAP.yaml" >"$W/lint.bytes"
  "$W/yamlrate" "$W/$SNAP.yaml" >"$W/lint.libyaml"
fi

# ---- detection latency: preflight waits, then the server starts -----------------------------
# The schema is in place before the server starts, so what is measured is how soon preflight
# notices a ready server, verifies and execs; the application is `date`, exec'd directly.
say "detection latency (5 trials each: the floor, dynamic, static)"
BINDIR=$(_pgtmp_bindir)
detect() {  # detect COMMAND...: ms from "ready to accept connections" to the exec COMMAND does
  _pgtmp_as_pg "$BINDIR/pg_ctl" -w -D "$PGTMP_DATA" -m fast stop >/dev/null
  local lines
  lines=$(wc -l <"$PGTMP_LOG")
  "$@" >"$W/exec_at" &
  local pid=$!
  sleep 0.$((RANDOM % 5 + 3))
  _pgtmp_as_pg "$BINDIR/pg_ctl" -w -D "$PGTMP_DATA" -l "$PGTMP_LOG" start >/dev/null
  wait "$pid"
  local ready
  ready=$(tail -n +"$((lines + 1))" "$PGTMP_LOG" | grep -m1 "ready to accept connections" | awk '{print $1" "$2}')
  python3 -c '
import sys, datetime
ready = datetime.datetime.strptime(sys.argv[1], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc).timestamp()
print("%.1f" % (int(open(sys.argv[2]).read()) / 1e6 - ready * 1000))' "$ready" "$W/exec_at"
}
# The floor of it: the floor program retrying every 5 ms (floor.c --wait), then the same exec.
: >"$W/detect.floor"
: >"$W/detect.dyn"
: >"$W/detect.sta"
for t in 1 2 3 4 5; do  # in turns, as hfmix does
  detect sh -c "\"\$0\" \"\$1\" --wait && exec date +%s%N" "$W/floor" "$URL/s10" >>"$W/detect.floor"
  detect "$DYN" run -q -d "$URL/s10" -f "$W/s10.yaml" -t 60s -- date +%s%N >>"$W/detect.dyn"
  detect "$STA" run -q -d "$URL/s10" -f "$W/s10.yaml" -t 60s -- date +%s%N >>"$W/detect.sta"
done

# ---- the report -----------------------------------------------------------------------------
python3 - "$W" "$OUT" <<'PY'
import os, statistics, sys
w, out = sys.argv[1], sys.argv[2]
def ms(name):
    return float(open(os.path.join(w, name + ".ms")).read())
def text(name):
    p = os.path.join(w, name)
    return open(p).read().strip() if os.path.exists(p) else ""
sizes = [(s, l) for s, l in (("s10", "10 tables"), ("s100", "100 tables"), ("s1000", "1,000 tables"), ("s32k", "32,000 items"))
         if os.path.exists(os.path.join(w, s + ".count"))]
lines = []
lines.append("%-13s %6s | %7s | %8s %5s | %8s %5s | %10s | %9s %6s | %10s %6s | %9s %9s | %5s" % (
    "size", "items", "floor", "dynamic", "x", "static", "x", "pg_isready", "pgTAP", "x", "shell", "x",
    "RSS dyn", "RSS sta", "stmts"))
dat = ["# items floor dynamic static pg_isready pgtap shell (ms, hyperfine medians)"]
for s, label in sizes:
    n = int(text(s + ".count"))
    f, d, st, ir, tap, sh = (ms(s + x) for x in (".floor", ".dyn", ".sta", ".isready", ".tap", ".shell"))
    lines.append("%-13s %6d | %5.1fms | %6.1fms %4.2fx | %6.1fms %4.2fx | %8.1fms | %7.0fms %5.0fx | %8.0fms %5.0fx | %6.1f MB %6.1f MB | %5s" % (
        label, n, f, d, d / f, st, st / f, ir, tap, tap / d, sh, sh / d,
        int(text(s + ".dyn.rss")) / 1024, int(text(s + ".sta.rss")) / 1024, text(s + ".stmts")))
    dat.append("%d %.2f %.2f %.2f %.2f %.2f %.2f" % (n, f, d, st, ir, tap, sh))
lines.append("(x: dynamic and static against the floor; pgTAP and shell against dynamic preflight)")
for s, label in sizes:
    if text(s + ".shell.note"):
        lines.append("shell at %s: %s" % (label, text(s + ".shell.note")))
for s, label in sizes:
    if text(s + ".dyn.bf"):
        lines.append("server side at %s: the backend of one check touched %s fresh pages (minor faults), the floor's %s" % (
            label, text(s + ".dyn.bf"), text(s + ".floor.bf")))
for s, label in sizes:
    srv = text(s + ".srv").split()
    if len(srv) == 3 and "nan" not in srv:
        p, b, e = (float(x) for x in srv)
        f = ms(s + ".floor")
        lines.append("server side at %s: the verification query itself costs the server %.1f ms (parse %.1f, plan %.1f, "
                     "execute %.1f) = %.2fx the floor, before any connection or client work" % (
                         label, p + b + e, p, b, e, (p + b + e) / f))
lines.append("snapshot of the %s database: dynamic %.1f ms, static %.1f ms, RSS %.1f MB" % (
    dict(sizes)[text("snap.size")], ms("snap.dyn"), ms("snap.sta"), int(text("snap.dyn.rss")) / 1024))
if os.path.exists(os.path.join(w, "lint.bytes")):
    size = int(text("lint.bytes"))
    rates = ["%s %.1f MB/s (%.1f ms)" % (name, size / 1e3 / (ms("lint.big." + b) - ms("lint.small." + b)), ms("lint.big." + b))
             for b, name in (("dyn", "dynamic"), ("sta", "static"))]
    lines.append("manifest parsing (lint of the %s manifest, %.2f MB, less a lint of the 10-table one): %s; libyaml alone: %s MB/s" % (
        dict(sizes).get(text("snap.size"), text("snap.size")), size / 1e6, ", ".join(rates), text("lint.libyaml")))
for b, name in (("floor", "the floor (connect + SELECT 1, retried every 5 ms)"), ("dyn", "dynamic"), ("sta", "static")):
    v = [float(x) for x in text("detect." + b).split()]
    lines.append("detection (server ready -> exec), %s: median %.1f ms (trials: %s)" % (
        name, statistics.median(v), ", ".join("%.1f" % x for x in v)))
report = "\n".join(lines) + "\n"
sys.stdout.write(report)
open(os.path.join(out, "results.txt"), "w").write(report)
open(os.path.join(out, "results.dat"), "w").write("\n".join(dat) + "\n")
PY

gnuplot <<GP
set terminal pngcairo size 900,560 font "sans,10" noenhanced
set output "$OUT/bench.png"
set title "preflight check: cost versus manifest size (PostgreSQL 15, scram-sha-256 over loopback, hyperfine medians)"
set logscale xy
set xlabel "objects verified"
set ylabel "wall time (ms)"
set key top left
set grid
plot "$OUT/results.dat" using 1:2 with linespoints title "floor: libpq connect + SELECT 1", \
     "" using 1:3 with linespoints title "preflight check (dynamic)", \
     "" using 1:4 with linespoints title "preflight check (static, musl)", \
     "" using 1:5 with linespoints title "pg_isready (verifies nothing)", \
     "" using 1:6 with linespoints title "pgTAP, one psql session", \
     "" using 1:7 with linespoints title "shell: one psql per object"
GP
say "wrote $OUT/results.txt, results.dat and bench.png"
