#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/../..
# The arm64 static binary, dist/linux-arm64/preflight, run under qemu-user-static
# (qemu-aarch64-static, called explicitly: no binfmt handler is needed) against a real throwaway
# PostgreSQL 15: it must be a static aarch64 executable without a dynamic section, wait for the
# server, report a missing table in `check` (65) without writing, create it from its fallback in
# `run` and exec a command, and then find everything in `check` (0).
#
#   tests/arm64/run.sh      (as root, for the server's postgres user)
#
# Builds the binary with `scripts/build-static.sh --arch arm64` when it is missing or older than
# the sources. Prints one line per check and, last, "N passed, M failed".
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=$ROOT/dist/linux-arm64/preflight
QEMU=qemu-aarch64-static

say() { printf 'arm64: %s\n' "$*"; }
# shellcheck source=scripts/lib/checks.sh
. "$ROOT/scripts/lib/checks.sh"

# shellcheck source=scripts/lib/need-debs.sh
. "$ROOT/scripts/lib/need-debs.sh"
need_debs qemu-user-static binfmt-support file binutils || { fail "qemu-user-static is installed"; finish; }
command -v "$QEMU" >/dev/null || { fail "$QEMU is installed (Debian: qemu-user-static)"; finish; }

stale=""
if [ -x "$BIN" ]; then
    stale=$(find "$ROOT/src" "$ROOT/include" "$ROOT/CMakeLists.txt" "$ROOT/scripts/build-static.sh" \
        "$ROOT/scripts/static-sources.lock" -newer "$BIN" -print -quit 2>/dev/null)
fi
if [ ! -x "$BIN" ] || [ -n "$stale" ]; then
    say "building $BIN (scripts/build-static.sh --arch arm64)"
    "$ROOT/scripts/build-static.sh" --arch arm64 || { fail "scripts/build-static.sh --arch arm64"; finish; }
fi

WORK=$(mktemp -d /tmp/preflight-arm64.XXXXXX)
# shellcheck source=scripts/lib/pgtmp.sh
. "$ROOT/scripts/lib/pgtmp.sh"
PGTMP_NO_TRAP=1
# shellcheck disable=SC2317
cleanup() { pgtmp_stop; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

desc=$(file -b "$BIN")
if [[ $desc == *"ARM aarch64"* && $desc == *"statically linked"* ]] && ! readelf -d "$BIN" | grep -q "Dynamic section"; then
    pass "static aarch64 executable, no dynamic section: ${desc%%,*}"
else
    fail "static aarch64 executable, no dynamic section" "$desc"
fi
machine=$(readelf -h "$BIN" | sed -n 's/^ *Machine: *//p')
[ "$machine" = AArch64 ] && pass "readelf: Machine $machine" || fail "readelf: Machine AArch64" "$machine"

PGTMP_HBA="local all all trust
host  all all 127.0.0.1/32 scram-sha-256"
# shellcheck disable=SC2119
pgtmp_start || { fail "a throwaway PostgreSQL starts"; finish; }
pgtmp_psql -d postgres -q -c "CREATE ROLE app LOGIN PASSWORD 'Arm-pw_64'" -c "CREATE DATABASE appdb OWNER app"
pgtmp_psql -d appdb -q -c "SET ROLE app" -c "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL)"
export DATABASE_URL="postgresql://app:Arm-pw_64@127.0.0.1:$PGTMP_PORT/appdb"

mkdir -p "$WORK/sql"
cat >"$WORK/preflight.yaml" <<'YAML'
version: 1
wait:
  timeout: 60s
tables:
  - name: users
    columns:
      - {name: id, type: bigint, nullable: false}
      - {name: email, type: text}
  - name: projects
    fallback_file: sql/projects.sql
    columns:
      - {name: id, type: bigint}
YAML
echo 'CREATE TABLE projects (id bigint PRIMARY KEY, owner_id bigint REFERENCES users (id));' >"$WORK/sql/projects.sql"

# Runs the arm64 preflight under qemu with the arguments; sets RC and OUT (stdout and stderr).
arm() { OUT=$("$QEMU" "$BIN" "$@" 2>&1); RC=$?; printf '%s\n' "$OUT" >>"$WORK/all-output"; }

arm --version
[ "$RC" = 0 ] && [[ $OUT == preflight* ]] && pass "--version: $OUT" || fail "--version" "rc=$RC $OUT"
arm wait -t 60s -f "$WORK/preflight.yaml"
[ "$RC" = 0 ] && pass "wait: the server accepts a session" || fail "wait" "rc=$RC $OUT"
arm check -f "$WORK/preflight.yaml"
if [ "$RC" = 65 ] && [ "$(pgtmp_psql -d appdb -Atc "SELECT to_regclass('projects') IS NULL")" = t ]; then
    pass "check: the missing table is reported (65) and nothing is written"
else
    fail "check reports the missing table (65)" "rc=$RC $OUT"
fi
arm -f "$WORK/preflight.yaml" -- /bin/sh -c 'echo "exec'"'"'d with $0"' arm64-test
if [ "$RC" = 0 ] && [[ $OUT == *"exec'd with arm64-test"* ]] \
        && [ "$(pgtmp_psql -d appdb -Atc "SELECT to_regclass('projects') IS NOT NULL")" = t ]; then
    pass "run: the table is created from its fallback file, then the command is exec'd"
else
    fail "run repairs and execs" "rc=$RC $OUT"
fi
arm check -f "$WORK/preflight.yaml"
[ "$RC" = 0 ] && pass "check after the repair: everything present (0)" || fail "check after the repair" "rc=$RC $OUT"
if grep -q Arm-pw_64 "$WORK/all-output"; then fail "no output shows the password"; else pass "no output shows the password"; fi

finish
