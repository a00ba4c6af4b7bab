#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR/../..
# preflight in real containers, with every file of docker/: a Docker engine of its own (dockerd on
# a socket in a temporary folder, vfs storage, no bridge, no iptables; stopped by its pid at the
# end), a Debian bookworm base image made locally with debootstrap (no registry is needed), and a
# throwaway PostgreSQL 15 on the host, which the containers reach over the host network.
#
#   tests/container/run.sh      (as root: dockerd and debootstrap need it)
#
# It builds the preflight image from docker/Dockerfile (PREFLIGHT_BINARY=dist: the static binary
# that scripts/build-static.sh already built, so OpenSSL is not compiled again inside Docker), the
# demo app from docker/Dockerfile.example through docker/compose.yaml's build section, and checks:
# the scratch image's contents, labels and user; repair + exec; docker stop with and without
# PREFLIGHT_INIT (and while preflight still waits); --read-only --cap-drop ALL with an arbitrary
# UID as OpenShift assigns; the Kubernetes manifests of docker/k8s/ run as a kubelet would (their
# ConfigMap and Secret mounted through `..data` symlinks, their securityContext applied), both
# migration patterns; docker-compose up with docker/compose.yaml; the .deb from scripts/release.sh
# installed with apt in the Debian image; the arm64 image under qemu-user-static.
#
# The Debian base tarball is cached in $PF_CONTAINER_CACHE (default ~/.cache/preflight-container).
# Prints one line per check and, last, "N passed, M failed"; exits non-zero if any check failed.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=$ROOT/dist/preflight
DOCKER=/usr/bin/docker            # Debian's CLI: /usr/local/bin/docker may want a buildx plugin
COMPOSE=/usr/bin/docker-compose
CACHE=${PF_CONTAINER_CACHE:-${HOME:-/root}/.cache/preflight-container}
VERSION=$(sed -n 's/^project(preflight VERSION \([0-9][0-9.]*\).*/\1/p' "$ROOT/CMakeLists.txt")
PASSED=0
FAILED=0
SKIPPED=0
T0=$SECONDS

say() { printf 'container: %s\n' "$*"; }
pass() { PASSED=$((PASSED + 1)); printf 'ok      %s\n' "$1"; }
fail() {
    FAILED=$((FAILED + 1))
    printf 'FAILED  %s\n' "$1"
    [ -z "${2:-}" ] || printf '%s\n' "$2" | sed 's/^/        /'
}
skip() { SKIPPED=$((SKIPPED + 1)); printf 'skipped %s\n' "$1"; }
# check NAME COMMAND...: passes if the command succeeds, else fails showing its output.
check() {
    local name=$1 out
    shift
    if out=$("$@" 2>&1); then pass "$name"; else fail "$name" "$out"; fi
}
finish() {
    say "took $((SECONDS - T0)) s"
    printf '%d passed, %d failed, %d skipped\n' "$PASSED" "$FAILED" "$SKIPPED"
    [ "$FAILED" = 0 ] && exit 0
    exit 1
}

if [ "$(id -u)" != 0 ]; then
    fail "running as root (dockerd, debootstrap)"
    finish
fi
# shellcheck source=scripts/lib/need-debs.sh
. "$ROOT/scripts/lib/need-debs.sh"
need_debs docker.io docker-compose debootstrap python3-yaml curl openssl tar \
    || { fail "the packages the test needs are installed"; finish; }
for cmd in "$DOCKER" "$COMPOSE" dockerd debootstrap python3 curl; do
    command -v "$cmd" >/dev/null || { fail "$cmd is installed (docker.io docker-compose debootstrap python3-yaml curl)"; finish; }
done
python3 -c 'import yaml' 2>/dev/null || { fail "python3-yaml is installed"; finish; }

# dist/preflight is stale when any file it is built from is newer.
stale=""
if [ -x "$BIN" ]; then
    stale=$(find "$ROOT/src" "$ROOT/include" "$ROOT/CMakeLists.txt" "$ROOT/scripts/build-static.sh" \
        "$ROOT/scripts/static-sources.lock" -newer "$BIN" -print -quit 2>/dev/null)
fi
if [ ! -x "$BIN" ] || [ -n "$stale" ]; then
    say "building dist/preflight (scripts/build-static.sh)"
    "$ROOT/scripts/build-static.sh" || { fail "scripts/build-static.sh builds dist/preflight"; finish; }
fi

WORK=$(mktemp -d /tmp/pfct.XXXXXX)
chmod 755 "$WORK"
DK=$WORK/d
mkdir -p "$DK"
export DOCKER_HOST=unix://$DK/docker.sock
export DOCKER_BUILDKIT=1 COMPOSE_PROJECT_NAME=pftest
unset DOCKER_CONTEXT DOCKER_CONFIG

# shellcheck source=scripts/lib/pgtmp.sh
. "$ROOT/scripts/lib/pgtmp.sh"
PGTMP_NO_TRAP=1

# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    local pid
    if [ -S "$DK/docker.sock" ]; then
        # shellcheck disable=SC2046
        "$DOCKER" rm -f $("$DOCKER" ps -aq 2>/dev/null) >/dev/null 2>&1 || true
    fi
    pid=$(cat "$DK/dockerd.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; then
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    pgtmp_stop
    # Anything dockerd left mounted under the folder (it unmounts what it can on SIGTERM).
    grep -o " ${WORK}[^ ]*" /proc/mounts 2>/dev/null | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- the engine -----------------------------------------------------------------------------------

say "starting dockerd in $DK"
dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs \
    --data-root "$DK/data" --exec-root "$DK/exec" --pidfile "$DK/dockerd.pid" \
    --host "$DOCKER_HOST" >"$DK/dockerd.log" 2>&1 &
for _ in $(seq 1 150); do
    "$DOCKER" version >/dev/null 2>&1 && break
    sleep 0.2
done
if ! "$DOCKER" version >/dev/null 2>&1; then
    fail "dockerd starts" "$(tail -20 "$DK/dockerd.log")"
    finish
fi
pass "dockerd $("$DOCKER" version -f '{{.Server.Version}}') runs on its own socket (pid $(cat "$DK/dockerd.pid"))"

# --- the Debian base image, made locally ------------------------------------------------------------

BASE_TAR=$CACHE/debian-bookworm-minbase.tar
if [ ! -s "$BASE_TAR" ]; then
    say "debootstrap --variant=minbase bookworm (cached in $BASE_TAR afterwards)"
    mkdir -p "$CACHE"
    t=$SECONDS
    if ! debootstrap --variant=minbase bookworm "$WORK/rootfs" http://deb.debian.org/debian \
            >"$WORK/debootstrap.log" 2>&1; then
        fail "debootstrap makes a bookworm root" "$(tail -20 "$WORK/debootstrap.log")"
        finish
    fi
    rm -rf "$WORK/rootfs/var/cache/apt/archives/"*.deb
    tar -C "$WORK/rootfs" -c . >"$BASE_TAR.tmp" && mv "$BASE_TAR.tmp" "$BASE_TAR"
    rm -rf "$WORK/rootfs"
    say "debootstrap took $((SECONDS - t)) s"
fi
if "$DOCKER" import - debian:bookworm <"$BASE_TAR" >/dev/null \
        && "$DOCKER" tag debian:bookworm debian:bookworm-slim; then
    pass "a bookworm base imported as debian:bookworm and debian:bookworm-slim"
else
    fail "the bookworm base image is imported"
    finish
fi

# --- the database ---------------------------------------------------------------------------------

mkdir -p "$WORK/tls"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=postgres.db.svc" \
    -keyout "$WORK/tls/server.key" -out "$WORK/tls/server.crt" >/dev/null 2>&1
chown -R postgres: "$WORK/tls"
chmod 600 "$WORK/tls/server.key"
PGTMP_CONF="ssl = on
ssl_cert_file = '$WORK/tls/server.crt'
ssl_key_file = '$WORK/tls/server.key'"
# Passwords over TCP, so a run that did not read the secret file cannot get in.
PGTMP_HBA="local all all trust
host  all all 127.0.0.1/32 scram-sha-256"
# shellcheck disable=SC2119
if ! pgtmp_start; then
    fail "a throwaway PostgreSQL starts"
    finish
fi
PORT=$PGTMP_PORT
say "PostgreSQL on 127.0.0.1:$PORT"
pgtmp_psql -d postgres -c "CREATE ROLE app LOGIN PASSWORD 'example-password'" >/dev/null

# Recreates database app empty (owned by app) and sets app's password to $1.
fresh_db() {
    pgtmp_psql -d postgres -c "DROP DATABASE IF EXISTS app WITH (FORCE)" \
        -c "CREATE DATABASE app OWNER app" -c "ALTER ROLE app PASSWORD '$1'" >/dev/null
}
sql() { pgtmp_psql -d app -Atc "$1"; }

# --- what this preflight supports (the v2 keys land separately) -----------------------------------

printf 'example-password\n' >"$WORK/pw"
fresh_db example-password
HAS_MIGRATE=0
if "$BIN" lint -f "$ROOT/docker/example/preflight/preflight.yaml" >/dev/null 2>&1; then HAS_MIGRATE=1; fi
HAS_PWFILE=0
printf 'version: 1\n' >"$WORK/min.yaml"
if env -u PGPASSWORD PGPASSWORD_FILE="$WORK/pw" "$BIN" wait -q -t 10s -f "$WORK/min.yaml" \
        -d "postgresql://app@127.0.0.1:$PORT/app" >/dev/null 2>&1; then HAS_PWFILE=1; fi
say "this preflight: migrate/wait.schema keys $([ $HAS_MIGRATE = 1 ] && echo yes || echo no), PGPASSWORD_FILE $([ $HAS_PWFILE = 1 ] && echo yes || echo no)"

# The files under test, copied so that a preflight without the v2 keys can still run the rest:
# then the manifest's migrate: block is left out of the copy (and the migration patterns skipped).
cp -a "$ROOT/docker" "$WORK/docker"
if [ "$HAS_MIGRATE" = 0 ]; then
    f=$WORK/docker/example/preflight/preflight.yaml
    awk '/^migrate:/ { skip = 1; next } skip && /^  / { next } { skip = 0; print }' "$f" >"$f.tmp" && mv "$f.tmp" "$f"
    python3 - "$WORK/docker" <<'PY'
import sys, yaml
d = sys.argv[1]
p = d + "/k8s/configmap.yaml"
text = open(p).read()
doc = yaml.safe_load(text)
doc["data"]["preflight.yaml"] = open(d + "/example/preflight/preflight.yaml").read()
open(p, "w").write(yaml.safe_dump(doc, sort_keys=False))
PY
fi
# Without PGPASSWORD_FILE support the password goes in PGPASSWORD (which preflight's libpq reads).
PWENV=()
[ "$HAS_PWFILE" = 1 ] || PWENV=(-e PGPASSWORD=example-password)

# --- the preflight image: docker/Dockerfile from dist/ ----------------------------------------------

t=$SECONDS
if "$DOCKER" build -q -f "$ROOT/docker/Dockerfile" --build-arg PREFLIGHT_BINARY=dist \
        --build-arg VERSION="$VERSION" --build-arg REVISION="$(git -C "$ROOT" rev-parse HEAD 2>/dev/null)" \
        -t "preflight:$VERSION" "$ROOT" >"$WORK/build.log" 2>&1; then
    pass "docker/Dockerfile builds preflight:$VERSION from dist/linux-amd64/preflight ($((SECONDS - t)) s)"
else
    fail "docker/Dockerfile builds the image from dist/" "$(tail -20 "$WORK/build.log")"
    finish
fi
cid=$("$DOCKER" create "preflight:$VERSION")
files=$("$DOCKER" export "$cid" | tar -t | grep -v -e '^\.dockerenv$' -e '^dev/' -e '^proc/' -e '^sys/' \
    -e '^etc/$' -e '^etc/hostname$' -e '^etc/hosts$' -e '^etc/resolv.conf$' -e '^etc/mtab$' \
    -e '^dev$' -e '^proc$' -e '^sys$' | tr '\n' ' ')
"$DOCKER" rm "$cid" >/dev/null
if [ "$files" = "preflight " ]; then pass "the image holds /preflight and nothing else"
else fail "the image holds /preflight and nothing else" "$files"; fi
if cmp -s <("$DOCKER" run --rm "preflight:$VERSION" --version) <("$BIN" --version); then
    pass "the image's /preflight is dist/preflight"
else
    fail "the image's /preflight is dist/preflight"
fi
meta=$("$DOCKER" inspect -f '{{.Config.User}} {{json .Config.Entrypoint}} {{index .Config.Labels "org.opencontainers.image.version"}} {{index .Config.Labels "org.opencontainers.image.licenses"}}' "preflight:$VERSION")
if [ "$meta" = "65532:65532 [\"/preflight\"] $VERSION MIT" ]; then pass "image metadata: numeric USER, ENTRYPOINT, OCI labels ($meta)"
else fail "image metadata: numeric USER, ENTRYPOINT, OCI labels" "$meta"; fi
# The repository's .dockerignore sends only what docker/Dockerfile uses: the context itself,
# copied out of BuildKit, must be exactly these files.
printf 'FROM scratch\nCOPY . /\n' >"$WORK/Dockerfile.ctx"
rm -rf "$WORK/ctx"
if "$DOCKER" build -q -f "$WORK/Dockerfile.ctx" -o "type=local,dest=$WORK/ctx" "$ROOT" >"$WORK/ctx.log" 2>&1; then
    ctx=$(cd "$WORK/ctx" && find . -type f | sed 's|^\./||' | grep -v -e '^src/' -e '^include/' | sort | tr '\n' ' ')
    want="CMakeLists.txt $(cd "$ROOT" && find dist/linux-amd64/preflight dist/linux-arm64/preflight 2>/dev/null | tr '\n' ' ')scripts/build-static.sh scripts/static-sources.lock "
    want=$(tr ' ' '\n' <<<"$want" | grep . | sort | tr '\n' ' ')
    n=$(find "$WORK/ctx" -type f | wc -l)
    if [ "$ctx" = "$want" ] && [ -d "$WORK/ctx/src" ] && [ ! -e "$WORK/ctx/.git" ]; then
        pass ".dockerignore: the context is src/, include/, CMakeLists.txt, the build script and lock, dist/linux-*/preflight ($n files)"
    else
        fail ".dockerignore: the context holds only what the Dockerfile uses" "got: $ctx
want: $want"
    fi
else
    fail "the build context can be listed" "$(tail "$WORK/ctx.log")"
fi
rm -rf "$WORK/ctx"

# --- the app image: docker/Dockerfile.example through compose's build section ------------------------

# The test's override: the host network (no bridge here) for the build and the containers, the
# database on the host, a health check interval short enough to watch.
cat >"$WORK/docker/compose.test.yaml" <<EOF
x-host: &host
  network_mode: host
  environment:
    DATABASE_URL: postgresql://app@127.0.0.1:$PORT/app?sslmode=require
    ${PWENV:+PGPASSWORD: example-password}
  healthcheck:
    interval: 2s
    start_period: 60s
services:
  app:
    <<: *host
    build: {network: host}
  migrate:
    <<: *host
    build: {network: host}
    healthcheck: {disable: true}
  app-job:
    <<: *host
    build: {network: host}
EOF
# docker-compose 1.29 builds with BuildKit through the `docker` command it finds first on PATH,
# so that must be Debian's (its own legacy builder would copy the whole image for every step on
# vfs: minutes).
DC=(env PATH="/usr/bin:$PATH" DOCKER_BUILDKIT=1 COMPOSE_DOCKER_CLI_BUILD=1 "$COMPOSE" -f "$WORK/docker/compose.yaml" -f "$WORK/docker/compose.test.yaml")
t=$SECONDS
if "${DC[@]}" build --build-arg "PREFLIGHT_IMAGE=preflight:$VERSION" app >"$WORK/compose-build.log" 2>&1; then
    pass "docker-compose build: Dockerfile.example on the local bookworm base ($((SECONDS - t)) s)"
else
    fail "docker-compose build builds Dockerfile.example" "$(tail -30 "$WORK/compose-build.log")"
    finish
fi
APP=example/app:latest
meta=$("$DOCKER" inspect -f '{{.Config.User}} {{json .Config.Entrypoint}} {{json .Config.Cmd}} {{json .Config.Healthcheck.Test}}' "$APP")
if [ "$meta" = '10001:10001 ["preflight","--"] ["/app/server"] ["CMD","preflight","check","--quiet","--timeout","5s"]' ]; then
    pass "app image: numeric USER, preflight as ENTRYPOINT, HEALTHCHECK with preflight check"
else
    fail "app image: numeric USER, preflight as ENTRYPOINT, HEALTHCHECK with preflight check" "$meta"
fi

# Common options of a container of the app image against the host's database.
db_env() {
    printf '%s\n' --network host -v "$WORK/pw:/run/secrets/db_password:ro" \
        -e "DATABASE_URL=postgresql://app@127.0.0.1:$PORT/app?sslmode=require" \
        -e PGPASSWORD_FILE=/run/secrets/db_password "${PWENV[@]}"
}
mapfile -t DBENV < <(db_env)

# Waits up to $2 s for container $1's log to contain $3; fails if it exits first.
wait_log() {
    local c=$1 n=$(( $2 * 5 )) s=$3
    while [ $n -gt 0 ]; do
        "$DOCKER" logs "$c" 2>&1 | grep -qF -- "$s" && return 0
        [ "$("$DOCKER" inspect -f '{{.State.Running}}' "$c" 2>/dev/null)" = true ] || { "$DOCKER" logs "$c" 2>&1 | grep -qF -- "$s"; return; }
        sleep 0.2
        n=$((n - 1))
    done
    return 1
}

# --- repair + exec ----------------------------------------------------------------------------------

fresh_db example-password
if [ "$HAS_MIGRATE" = 1 ]; then
    out=$("$DOCKER" run --rm "${DBENV[@]}" "$APP" /bin/sh -c 'echo exec ok' 2>&1); rc=$?
    if [ $rc = 0 ] && [[ $out == *"exec ok"* ]] && [ "$(sql 'SELECT count(*) FROM schema_migrations')" = 2 ]; then
        pass "empty database: preflight runs the app's migrations (migrate:), then execs the command"
    else
        fail "empty database: preflight runs the app's migrations, then execs" "rc=$rc
$out"
    fi
else
    skip "empty database: preflight runs the app's migrations (this preflight has no migrate: key)"
    pgtmp_psql -d app -q -c "SET ROLE app" -f "$ROOT/docker/example/migrations/001_users.sql" \
        -f "$ROOT/docker/example/migrations/002_projects.sql"
fi
sql "DROP INDEX projects_owner_id_idx" >/dev/null
cname=pf-repair
"$DOCKER" run -d --name "$cname" "${DBENV[@]}" "$APP" >/dev/null
if wait_log "$cname" 60 "app: serving as uid 10001 with 0 project(s)" \
        && [ "$(sql "SELECT to_regclass('projects_owner_id_idx') IS NOT NULL")" = t ]; then
    pass "a dropped index is repaired from its fallback file, then the app starts (as uid 10001)"
else
    fail "a dropped index is repaired, then the app starts" "$("$DOCKER" logs "$cname" 2>&1 | tail -15)"
fi

# --- docker stop ------------------------------------------------------------------------------------

# Stops container $1 with `docker stop -t $2`; sets STOP_S (seconds, 1 decimal) and STOP_RC.
timed_stop() {
    local t0 t1
    t0=$(date +%s%N)
    "$DOCKER" stop -t "$2" "$1" >/dev/null
    t1=$(date +%s%N)
    STOP_S=$(( (t1 - t0) / 100000000 ))
    STOP_S="$((STOP_S / 10)).$((STOP_S % 10))"
    STOP_RC=$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$1")
    "$DOCKER" rm "$1" >/dev/null
}
# (a) PREFLIGHT_INIT=1 (the image's default) and /app/server: preflight is PID 1 and forwards TERM.
timed_stop "$cname" 10
if [ "$STOP_RC" = 0 ] && [ "${STOP_S%.*}" -lt 5 ]; then
    pass "docker stop, PREFLIGHT_INIT=1: SIGTERM forwarded, the server exits 0 in ${STOP_S} s"
else
    fail "docker stop, PREFLIGHT_INIT=1: SIGTERM forwarded" "exit $STOP_RC after $STOP_S s"
fi
# (b) PREFLIGHT_INIT=1 and a command without any SIGTERM handler (sleep): still quick, 143.
"$DOCKER" run -d --name pf-stop-b "${DBENV[@]}" "$APP" sleep 1000 >/dev/null
sleep 0.5
for _ in $(seq 1 100); do "$DOCKER" top pf-stop-b 2>/dev/null | grep -q 'sleep 1000' && break; sleep 0.2; done
timed_stop pf-stop-b 10
if [ "$STOP_RC" = 143 ] && [ "${STOP_S%.*}" -lt 5 ]; then
    pass "docker stop, PREFLIGHT_INIT=1, a command with no handler: ends by SIGTERM (143) in ${STOP_S} s"
else
    fail "docker stop, PREFLIGHT_INIT=1, a command with no handler" "exit $STOP_RC after $STOP_S s"
fi
# (c) PREFLIGHT_INIT=0: preflight execs the server, which is PID 1 and handles SIGTERM itself.
"$DOCKER" run -d --name pf-stop-c -e PREFLIGHT_INIT=0 "${DBENV[@]}" "$APP" >/dev/null
if wait_log pf-stop-c 60 "app: serving" && "$DOCKER" exec pf-stop-c cat /proc/1/cmdline | tr '\0' ' ' | grep -q '/app/server'; then
    timed_stop pf-stop-c 10
    if [ "$STOP_RC" = 0 ] && [ "${STOP_S%.*}" -lt 5 ]; then
        pass "docker stop, PREFLIGHT_INIT=0: the exec'd server is PID 1 and stops on SIGTERM in ${STOP_S} s"
    else
        fail "docker stop, PREFLIGHT_INIT=0: the server stops on SIGTERM" "exit $STOP_RC after $STOP_S s"
    fi
else
    fail "PREFLIGHT_INIT=0: the server is exec'd as PID 1" "$("$DOCKER" logs pf-stop-c 2>&1 | tail)"
    "$DOCKER" rm -f pf-stop-c >/dev/null
fi
# (d) the control: PREFLIGHT_INIT=0 and no handler: PID 1 ignores SIGTERM, only SIGKILL ends it.
"$DOCKER" run -d --name pf-stop-d -e PREFLIGHT_INIT=0 "${DBENV[@]}" "$APP" sleep 1000 >/dev/null
for _ in $(seq 1 100); do "$DOCKER" top pf-stop-d 2>/dev/null | grep -q 'sleep 1000' && break; sleep 0.2; done
timed_stop pf-stop-d 2
if [ "$STOP_RC" = 137 ]; then
    pass "control: without PREFLIGHT_INIT a handler-less PID 1 ignores SIGTERM and is killed (137)"
else
    fail "control: without PREFLIGHT_INIT a handler-less PID 1 is killed" "exit $STOP_RC after $STOP_S s"
fi
# (e) while preflight still waits for a database that does not answer.
"$DOCKER" run -d --name pf-stop-e --network host -e PREFLIGHT_TIMEOUT=5m \
    -e DATABASE_URL=postgresql://app@127.0.0.1:1/app "$APP" >/dev/null
sleep 1
timed_stop pf-stop-e 10
if [ "$STOP_RC" = 143 ] && [ "${STOP_S%.*}" -lt 3 ]; then
    pass "docker stop while preflight waits for the database: 143 in ${STOP_S} s"
else
    fail "docker stop while preflight waits for the database" "exit $STOP_RC after $STOP_S s"
fi

# --- read-only, no capabilities, an arbitrary UID (OpenShift) -----------------------------------------

HARD=(--read-only --cap-drop ALL --security-opt no-new-privileges --user 1000770000:0)
check "scratch image: check with --read-only --cap-drop ALL --user 1000770000:0" \
    "$DOCKER" run --rm "${HARD[@]}" "${DBENV[@]}" -v "$WORK/docker/example/preflight:/etc/preflight:ro" \
    "preflight:$VERSION" check
out=$("$DOCKER" run --rm "${HARD[@]}" "${DBENV[@]}" "$APP" /bin/sh -c 'id -u; touch /x 2>&1 || echo read-only' 2>&1)
if [[ $out == *1000770000*read-only* ]]; then
    pass "app image: runs and execs with --read-only --cap-drop ALL --user 1000770000:0"
else
    fail "app image with --read-only --cap-drop ALL --user 1000770000:0" "$out"
fi

# --- Kubernetes: docker/k8s/ as a kubelet would run it ------------------------------------------------

VOL=$WORK/k8s
mkdir -p "$VOL"
if FSGROUP=10001 EXAMPLE_DIR="$WORK/docker/example/preflight" \
        python3 "$ROOT/tests/container/k8s_pod.py" volumes "$WORK/docker/k8s" "$VOL" 2>"$WORK/k8s.err"; then
    pass "k8s ConfigMap equals docker/example/preflight/; ConfigMap and Secret laid out with ..data symlinks"
else
    fail "k8s ConfigMap and Secret volumes" "$(cat "$WORK/k8s.err")"
fi
K8S_PW=$(cat "$VOL/secretvalue-app-db-password")
HEALTH_PORT=$(( (RANDOM % 12000) + 20000 ))  # below the ephemeral range (see pgtmp.sh)
# Prints the docker run arguments for container $2 of docker/k8s/$1.
pod() {
    python3 "$ROOT/tests/container/k8s_pod.py" run "$WORK/docker/k8s/$1" "$2" "$VOL" \
        "registry.example.com/preflight:0.1.0=preflight:$VERSION" \
        "registry.example.com/app:1.0.0=$APP" \
        --replace "postgres.db.svc:5432=127.0.0.1:$PORT" --replace "0.0.0.0:8081=127.0.0.1:$HEALTH_PORT"
}
# Runs container $2 of $1 detached as $3 (host network, the secret's host name resolving).
pod_start() {
    local -a a
    mapfile -t a < <(pod "$1" "$2")
    [ ${#a[@]} -gt 0 ] || return 1
    local -a pw=()
    [ "$HAS_PWFILE" = 1 ] || pw=(-e "PGPASSWORD=$K8S_PW")
    "$DOCKER" run -d --name "$3" --network host "${pw[@]}" "${a[@]}" >/dev/null
}
wait_exit() {  # container, seconds: prints the exit code once it exited
    local n=$(( $2 * 5 ))
    while [ $n -gt 0 ] && [ "$("$DOCKER" inspect -f '{{.State.Running}}' "$1")" = true ]; do sleep 0.2; n=$((n - 1)); done
    "$DOCKER" inspect -f '{{.State.Running}} {{.State.ExitCode}}' "$1" | sed 's/^false //'
}
ready() { curl -fsS -m 3 "http://127.0.0.1:$HEALTH_PORT/ready" >/dev/null 2>&1; }
wait_ready() { local n=$(( $1 * 5 )); while [ $n -gt 0 ]; do ready && return 0; sleep 0.2; n=$((n - 1)); done; return 1; }

# Pattern (b): the init container (preflight image, check + PREFLIGHT_AWAIT_SCHEMA) waits while the
# Job (app image, preflight without a command) migrates; then the app container starts.
fresh_db "$K8S_PW"
if pod_start deployment-init-container.yaml preflight pf-init; then
    if [ "$HAS_MIGRATE" = 1 ]; then
        sleep 2
        if [ "$("$DOCKER" inspect -f '{{.State.Running}}' pf-init)" = true ]; then
            pass "k8s init container (preflight image, read-only, uid 65532) awaits the missing schema"
        else
            fail "k8s init container awaits the missing schema" "$("$DOCKER" logs pf-init 2>&1 | tail)"
        fi
        pod_start job-migrate.yaml migrate pf-job
        rc=$(wait_exit pf-job 120)
        if [ "$rc" = 0 ] && [ "$(sql 'SELECT count(*) FROM schema_migrations')" = 2 ]; then
            pass "k8s Job: preflight runs the migrations once and exits 0"
        else
            fail "k8s Job: preflight runs the migrations" "exit $rc; $("$DOCKER" logs pf-job 2>&1 | tail)"
        fi
    else
        skip "k8s init container awaits a migration Job (this preflight has no wait.schema)"
        "$DOCKER" rm -f pf-init >/dev/null
        pgtmp_psql -d app -q -c "SET ROLE app" -f "$ROOT/docker/example/migrations/001_users.sql" \
            -f "$ROOT/docker/example/migrations/002_projects.sql"
        pod_start deployment-init-container.yaml preflight pf-init
    fi
    rc=$(wait_exit pf-init 60)
    if [ "$rc" = 0 ]; then
        pass "k8s init container: check passes over the ..data-symlinked ConfigMap and the Secret file"
    else
        fail "k8s init container exits 0" "exit $rc; $("$DOCKER" logs pf-init 2>&1 | tail)"
    fi
    pod_start deployment-init-container.yaml app pf-app
    if wait_ready 60 && wait_log pf-app 10 "app: serving as uid 10001"; then
        pass "k8s app container (same ConfigMap): verifies, serves /ready, runs the server as uid 10001"
    else
        fail "k8s app container serves /ready" "$("$DOCKER" logs pf-app 2>&1 | tail)"
    fi
    "$DOCKER" rm -f pf-init pf-job pf-app >/dev/null 2>&1
else
    fail "deployment-init-container.yaml can be run" "$(pod deployment-init-container.yaml preflight 2>&1)"
fi

# Pattern (a): three replicas of deployment-entrypoint.yaml start together on an empty database;
# their preflights migrate exactly once between them, and every one serves.
if [ "$HAS_MIGRATE" = 1 ]; then
    fresh_db "$K8S_PW"
    ports=()
    for r in 1 2 3; do
        HEALTH_PORT=$(( (RANDOM % 12000) + 20000 ))  # below the ephemeral range (see pgtmp.sh)
        ports+=("$HEALTH_PORT")
        pod_start deployment-entrypoint.yaml app "pf-rep$r"
    done
    ok=1
    for p in "${ports[@]}"; do HEALTH_PORT=$p; wait_ready 120 || ok=0; done
    n=$(sql 'SELECT count(*) FROM schema_migrations' 2>&1)
    if [ "$ok" = 1 ] && [ "$n" = 2 ]; then
        pass "k8s entrypoint deployment, 3 replicas at once: one migrates (2 migrations, once each), all ready"
    else
        fail "k8s entrypoint deployment, 3 replicas" "ready=$ok migrations=$n
$("$DOCKER" logs pf-rep1 2>&1 | tail -5)"
    fi
    "$DOCKER" rm -f pf-rep1 pf-rep2 pf-rep3 >/dev/null 2>&1
else
    skip "k8s entrypoint deployment migrates on an empty database (this preflight has no migrate: key)"
fi

# --- docker-compose up ----------------------------------------------------------------------------

fresh_db example-password
if [ "$HAS_MIGRATE" = 0 ]; then
    pgtmp_psql -d app -q -c "SET ROLE app" -f "$ROOT/docker/example/migrations/001_users.sql" \
        -f "$ROOT/docker/example/migrations/002_projects.sql"
fi
# The db service (the postgres:15 image) cannot be had without a registry: --no-deps, and the
# host's database instead.
if "${DC[@]}" up -d --no-deps app >"$WORK/compose-up.log" 2>&1; then
    c=$("${DC[@]}" ps -q app)
    if wait_log "$c" 60 "app: serving"; then
        pass "docker-compose up: the app starts behind preflight (password from the secret file)"
    else
        fail "docker-compose up: the app starts" "$("$DOCKER" logs "$c" 2>&1 | tail)"
    fi
    h=""
    for _ in $(seq 1 150); do
        h=$("$DOCKER" inspect -f '{{.State.Health.Status}}' "$c")
        [ "$h" = healthy ] && break
        sleep 0.2
    done
    if [ "$h" = healthy ]; then pass "the image's HEALTHCHECK (preflight check) reports healthy"
    else fail "the image's HEALTHCHECK reports healthy" "status: $h"; fi
    sql "ALTER TABLE users DROP COLUMN avatar_url" >/dev/null
    for _ in $(seq 1 150); do
        h=$("$DOCKER" inspect -f '{{.State.Health.Status}}' "$c")
        [ "$h" = unhealthy ] && break
        sleep 0.2
    done
    if [ "$h" = unhealthy ]; then pass "HEALTHCHECK turns unhealthy when a column the app needs is dropped"
    else fail "HEALTHCHECK turns unhealthy when a column is dropped" "status: $h"; fi
    t0=$(date +%s%N)
    "${DC[@]}" stop -t 10 app >/dev/null 2>&1
    t1=$(date +%s%N)
    rc=$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$c")
    ms=$(( (t1 - t0) / 1000000 ))
    # Exit 0 is the server's own SIGTERM handler (SIGKILL after the 10 s would be 137); the time
    # is compose's as much as the app's, so it is shown, not judged.
    if [ "$rc" = 0 ]; then pass "docker-compose stop: the app ends cleanly on SIGTERM (exit 0) in $ms ms"
    else fail "docker-compose stop ends the app on SIGTERM" "exit $rc after $ms ms"; fi
    "${DC[@]}" down -t 10 >/dev/null 2>&1
else
    fail "docker-compose up" "$(tail -20 "$WORK/compose-up.log")"
fi
if [ "$HAS_MIGRATE" = 1 ]; then
    fresh_db example-password
    if "${DC[@]}" --profile job up -d --no-deps app-job >/dev/null 2>&1; then
        sleep 2
        c=$("${DC[@]}" ps -q app-job)
        "${DC[@]}" --profile job up -d --no-deps migrate >/dev/null 2>&1
        m=$("${DC[@]}" ps -q migrate)
        if wait_log "$c" 120 "app: serving" && [ "$(wait_exit "$m" 60)" = 0 ]; then
            pass "docker-compose, profile job: the migrate service migrates, app-job awaits it and starts"
        else
            fail "docker-compose, profile job" "$("$DOCKER" logs "$c" 2>&1 | tail -5)
$("$DOCKER" logs "$m" 2>&1 | tail -5)"
        fi
    else
        fail "docker-compose --profile job up"
    fi
    "${DC[@]}" --profile job down -t 10 >/dev/null 2>&1
else
    skip "docker-compose, profile job: migrate service + app awaiting it (this preflight has no wait.schema)"
fi

# --- the release's .deb, installed with apt -----------------------------------------------------------

deb=$(find "$ROOT/dist/release" -name "preflight_*_amd64.deb" 2>/dev/null | head -n 1)
if [ -n "$deb" ]; then
    out=$("$DOCKER" run --rm --network none -v "$deb:/tmp/preflight.deb:ro" debian:bookworm \
        sh -c 'apt-get install -y -q /tmp/preflight.deb >/dev/null 2>&1 && preflight --version && dpkg -s preflight | grep ^Version' 2>&1)
    if [[ $out == *"Version: $VERSION"* ]]; then pass "apt install ./$(basename "$deb") in bookworm, offline: $(head -1 <<<"$out")"
    else fail "apt install of the .deb in bookworm" "$out"; fi
else
    skip "apt install of the .deb (no dist/release: run scripts/release.sh)"
fi

# --- arm64 --------------------------------------------------------------------------------------------

if [ -x "$ROOT/dist/linux-arm64/preflight" ] && [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    if "$DOCKER" build -q -f "$ROOT/docker/Dockerfile" --platform linux/arm64 --build-arg PREFLIGHT_BINARY=dist \
            -t "preflight:$VERSION-arm64" "$ROOT" >/dev/null 2>&1 \
            && [ "$("$DOCKER" inspect -f '{{.Architecture}}' "preflight:$VERSION-arm64")" = arm64 ]; then
        pass "docker/Dockerfile builds the arm64 image by TARGETARCH"
        check "the arm64 image checks the database under qemu-user-static" \
            "$DOCKER" run --rm --platform linux/arm64 "${DBENV[@]}" -v "$WORK/docker/example/preflight:/etc/preflight:ro" \
            "preflight:$VERSION-arm64" check
    else
        fail "docker/Dockerfile builds the arm64 image"
    fi
else
    skip "arm64 image (no dist/linux-arm64/preflight or no qemu-aarch64 binfmt handler)"
fi

if [ "$FAILED" != 0 ]; then
    say "server log (last 20 lines):"
    pgtmp_log_tail 20
fi
finish
