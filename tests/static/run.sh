#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/../..
# The static release binary in an empty root, as in a `FROM scratch` image: dist/preflight is copied
# alone into a folder with only etc/hosts (db.preflight.test -> 127.0.0.1), a manifest and its
# fallback file in /etc/preflight, a CA certificate, and a static test program /app; no /etc/passwd,
# no resolv.conf, no shell. Run with chroot and an empty environment, it must reach a throwaway
# PostgreSQL 15 by host name over TLS (pg_hba allows `hostssl` only), find one table missing,
# create it from the fallback file, and exec /app.
#
#   tests/static/run.sh      (as root: chroot and the server's postgres user need it)
#
# Builds dist/preflight with scripts/build-static.sh when it is missing or older than the sources.
# Prints one line per check and, last, "N passed, M failed"; exits non-zero if any check failed.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=$ROOT/dist/preflight
HOSTNAME_DB=db.preflight.test
APP_PASSWORD=St4tic-pw_q7   # distinctive, so finding it in any output means a leak

say() { printf 'static: %s\n' "$*"; }
# shellcheck source=scripts/lib/checks.sh
. "$ROOT/scripts/lib/checks.sh"

if [ "$(id -u)" != 0 ]; then
    say "needs root (chroot, and runuser for the server)"
    fail "running as root"
    finish
fi

# --- the binaries ---------------------------------------------------------------------------------

# dist/preflight is stale when any file it is built from is newer.
stale=""
if [ -x "$BIN" ]; then
    stale=$(find "$ROOT/src" "$ROOT/include" "$ROOT/CMakeLists.txt" "$ROOT/scripts/build-static.sh" \
        "$ROOT/scripts/static-sources.lock" -newer "$BIN" -print -quit 2>/dev/null)
fi
if [ ! -x "$BIN" ] || [ -n "$stale" ]; then
    say "building dist/preflight (${stale:+$stale is newer; }scripts/build-static.sh)"
    if ! "$ROOT/scripts/build-static.sh"; then
        fail "scripts/build-static.sh builds dist/preflight"
        finish
    fi
fi

# The test program /app is built with Debian's musl-gcc (build-static.sh builds its own musl).
# shellcheck source=scripts/lib/need-debs.sh
. "$ROOT/scripts/lib/need-debs.sh"
need_debs musl-tools openssl || { fail "musl-tools is installed"; finish; }

# env -i leaves no PATH, so chroot is named by its path.
CHROOT=$(command -v chroot) || { fail "chroot is installed"; finish; }

WORK=$(mktemp -d /tmp/preflight-static.XXXXXX)
chmod 755 "$WORK"
JAIL=$WORK/root

# shellcheck source=scripts/lib/pgtmp.sh
. "$ROOT/scripts/lib/pgtmp.sh"
PGTMP_NO_TRAP=1
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    pgtmp_stop
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ! musl-gcc -static -Os -Wall -Werror -o "$WORK/app" "$ROOT/tests/static/app.c"; then
    fail "musl-gcc builds tests/static/app.c"
    finish
fi

# --- the server: TLS only, with a self-signed certificate for db.preflight.test --------------------

mkdir -p "$WORK/tls"
if ! openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$HOSTNAME_DB" \
        -addext "subjectAltName=DNS:$HOSTNAME_DB" \
        -keyout "$WORK/tls/server.key" -out "$WORK/tls/server.crt" 2>"$WORK/tls/openssl.log"; then
    fail "openssl makes a self-signed certificate" "$(cat "$WORK/tls/openssl.log")"
    finish
fi
chown -R postgres: "$WORK/tls"
chmod 600 "$WORK/tls/server.key"

PGTMP_CONF="ssl = on
ssl_cert_file = '$WORK/tls/server.crt'
ssl_key_file = '$WORK/tls/server.key'"
# Over TCP only TLS is accepted, so a connection that did not negotiate TLS cannot succeed.
PGTMP_HBA="local    all all                trust
hostssl  all all 127.0.0.1/32   scram-sha-256"
# shellcheck disable=SC2119  # no port: pgtmp_start picks a free one
if ! pgtmp_start; then
    fail "a throwaway PostgreSQL with ssl=on starts"
    finish
fi
say "PostgreSQL on 127.0.0.1:$PGTMP_PORT (TLS only)"

if ! pgtmp_psql -d postgres >"$WORK/setup.log" 2>&1 <<SQL
CREATE ROLE app LOGIN PASSWORD '$APP_PASSWORD';
CREATE DATABASE appdb OWNER app;
\connect appdb
SET ROLE app;
CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);
SQL
then
    fail "the test database is set up" "$(cat "$WORK/setup.log")"
    finish
fi

# --- the empty root -------------------------------------------------------------------------------

mkdir -p "$JAIL/etc/preflight/sql"
cp "$BIN" "$JAIL/preflight"
cp "$WORK/app" "$JAIL/app"
printf '127.0.0.1\t%s\n' "$HOSTNAME_DB" >"$JAIL/etc/hosts"
cp "$WORK/tls/server.crt" "$JAIL/etc/preflight/ca.crt"
cat >"$JAIL/etc/preflight/preflight.yaml" <<'YAML'
# users exists; projects is missing and comes from its fallback file.
version: 1
database:
  connect_timeout: 5s
wait:
  timeout: 20s
tables:
  - name: users
    columns:
      - {name: id, type: bigint, nullable: false}
      - {name: email, type: text}
  - name: projects
    fallback_file: sql/projects.sql
    columns:
      - {name: id, type: bigint}
      - {name: owner_id, type: bigint}
YAML
cat >"$JAIL/etc/preflight/sql/projects.sql" <<'SQL'
CREATE TABLE projects (
    id bigint PRIMARY KEY,
    owner_id bigint NOT NULL REFERENCES users (id),
    name text NOT NULL
);
SQL

URL_BASE="postgresql://app:$APP_PASSWORD@$HOSTNAME_DB:$PGTMP_PORT/appdb"

# Runs preflight (or any path in the root) in the empty root with an empty environment plus the
# given VAR=value words, then `--` and the arguments. Sets RC, OUT (stdout) and ERR (stderr).
in_jail() {
    local -a envs=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    env -i "${envs[@]}" "$CHROOT" "$JAIL" "$@" >"$WORK/out" 2>"$WORK/err"
    RC=$?
    OUT=$(cat "$WORK/out")
    ERR=$(cat "$WORK/err")
    cat "$WORK/out" "$WORK/err" >>"$WORK/all-output"
}

# Fails check $1 unless RC is $2; then shows what the program printed.
expect_rc() {
    if [ "$RC" = "$2" ]; then
        return 0
    fi
    fail "$1" "exit $RC, expected $2
stdout: $OUT
stderr: $ERR"
    return 1
}

table_exists() {
    [ "$(pgtmp_psql -d appdb -Atc "SELECT to_regclass('public.$1') IS NOT NULL")" = t ]
}

# --- the checks -----------------------------------------------------------------------------------

FILE_DESC=$(file -b "$BIN")
DYNAMIC=$(readelf -d "$BIN")
if [[ $FILE_DESC == *"statically linked"* && $DYNAMIC != *"Dynamic section"* ]]; then
    pass "dist/preflight is static, without a dynamic section"
else
    fail "dist/preflight is static, without a dynamic section" "$FILE_DESC"
fi

in_jail -- /preflight --version
if expect_rc "--version in the empty root" 0; then
    if [[ $OUT == *preflight* ]]; then pass "--version in the empty root: $OUT"
    else fail "--version in the empty root names preflight" "$OUT"; fi
fi

# The manifest is found at its default path, /etc/preflight/preflight.yaml (the cwd, /, has none).
in_jail -- /preflight lint
expect_rc "lint reads /etc/preflight/preflight.yaml and its fallback file" 0 \
    && pass "lint reads /etc/preflight/preflight.yaml and its fallback file"

# Without TLS the server's pg_hba rejects the session: authentication failure, not retried (77).
in_jail "DATABASE_URL=$URL_BASE?sslmode=disable" PREFLIGHT_TIMEOUT=10s -- /preflight wait
expect_rc "without TLS pg_hba rejects preflight (77): proves the other sessions used TLS" 77 \
    && pass "without TLS pg_hba rejects preflight (77): proves the other sessions used TLS"

in_jail "DATABASE_URL=$URL_BASE?sslmode=require" PREFLIGHT_TIMEOUT=20s -- /preflight check
if expect_rc "check by host name over TLS reports the missing table (65)" 65; then
    if table_exists projects; then fail "check wrote nothing" "projects exists after check"
    else pass "check by host name over TLS reports the missing table (65) and writes nothing"; fi
fi

in_jail "DATABASE_URL=$URL_BASE?sslmode=require" PREFLIGHT_TIMEOUT=20s -- \
    /preflight -- /app first "second arg"
if expect_rc "run repairs the table and execs /app" 0; then
    if [[ $OUT == *"preflight-static-app: ran with 2 argument(s): first second arg"* \
            && $OUT == *"DATABASE_URL is set"* ]]; then
        pass "run execs /app with its arguments and environment"
    else
        fail "run execs /app with its arguments and environment" "stdout: $OUT
stderr: $ERR"
    fi
    if table_exists projects; then pass "the fallback created table projects"
    else fail "the fallback created table projects" "psql finds no public.projects"; fi
fi

# The server's certificate verified against a CA file in the root, with the host name checked.
in_jail "DATABASE_URL=$URL_BASE?sslmode=verify-full&sslrootcert=/etc/preflight/ca.crt" \
    PREFLIGHT_TIMEOUT=20s -- /preflight check
expect_rc "check with sslmode=verify-full and a CA file finds everything (0)" 0 \
    && pass "check with sslmode=verify-full and a CA file finds everything (0)"

# No output may carry the password, in URL or key=value form.
if grep -qF "$APP_PASSWORD" "$WORK/all-output"; then
    fail "no output shows the password"
else
    pass "no output shows the password"
fi

if [ "$FAILED" != 0 ]; then
    say "server log (last 30 lines):"
    pgtmp_log_tail 30
fi
finish
