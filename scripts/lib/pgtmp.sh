# shellcheck shell=bash
# pgtmp.sh: a throwaway PostgreSQL cluster for tests and demos, in the style of pgbouncer's test
# suite: `initdb --nosync -A trust` into a temporary folder, a free loopback port, `pg_ctl -w start`,
# the Unix socket inside the folder, fsync off. Source it, then:
#
#   pgtmp_start [PORT]   initdb + start; sets PGTMP_DIR PGTMP_DATA PGTMP_PORT PGTMP_HOST PGTMP_SOCKDIR
#                        PGTMP_LOG PGTMP_URL (postgresql://postgres@127.0.0.1:PORT/postgres)
#   pgtmp_psql ARGS...   psql as postgres over the cluster's Unix socket (-X, ON_ERROR_STOP)
#   pgtmp_log_tail [N]   prints the last N (default 50) lines of the server log
#   pgtmp_stop           stops the server and removes the folder; safe to call twice or after a
#                        failed start
#
# pgtmp_start installs an EXIT/INT/TERM trap that calls pgtmp_stop (and then any EXIT trap that was
# set before), so the server never outlives the script, even when `set -e` aborts it. Set
# PGTMP_NO_TRAP=1 to manage that yourself. PostgreSQL refuses to run as root, so when the script runs
# as root every server command runs as the `postgres` user through runuser.
#
# Settings: PGTMP_BINDIR (default: the newest /usr/lib/postgresql/*/bin), PGTMP_ROOT (parent of the
# temporary folder, default /tmp: it must be reachable by the postgres user), PGTMP_CONF (extra
# postgresql.conf lines), PGTMP_HBA (replaces pg_hba.conf when set).

PGTMP_DIR=""
PGTMP_DATA=""
PGTMP_PORT=""
PGTMP_HOST="127.0.0.1"
PGTMP_SOCKDIR=""
PGTMP_LOG=""
PGTMP_URL=""
_PGTMP_LOCK_FD=""
_PGTMP_PREV_EXIT_TRAP=""

# Prints the folder of the PostgreSQL server binaries, or fails.
_pgtmp_bindir() {
  if [ -n "${PGTMP_BINDIR:-}" ]; then
    printf '%s\n' "$PGTMP_BINDIR"
    return 0
  fi
  local d best=""
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && best="$d"
  done
  # The glob sorts 10 before 9; every supported Debian ships one server version, so the last is fine.
  if [ -z "$best" ]; then
    echo "pgtmp: no PostgreSQL server found under /usr/lib/postgresql/*/bin" >&2
    return 1
  fi
  printf '%s\n' "$best"
}

# Runs a command as the postgres user when we are root (the server refuses to run as root), as
# ourselves otherwise. It runs from the cluster folder, because postgres may not be able to enter the
# caller's working directory (root's home, for one).
_pgtmp_as_pg() {
  if [ "$(id -u)" = 0 ]; then
    (cd "${PGTMP_DIR:-/}" && runuser -u postgres -- "$@")
  else
    (cd "${PGTMP_DIR:-/}" && "$@")
  fi
}

# Prints a TCP port on 127.0.0.1 that nothing listens on and that no other pgtmp user holds: the
# lock file /tmp/pgtmp-port-PORT.lock stays locked (flock) by this shell until pgtmp_stop, and the
# Python harness uses the same files, so concurrent suites never pick the same port.
# Ports are picked below the kernel's ephemeral range (ip_local_port_range, 32768-60999 by
# default): one in it may be handed to an outgoing connection (a client retrying a server that is
# not up yet) just before the server binds it, which then fails with EADDRINUSE or, worse, the
# client's connection reaches itself (TCP self-connect).
_pgtmp_claim_port() {
  local want="${1:-}" port tries=0 fd lo=32768 hi=60999 first=20000 last
  read -r lo hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
  if [ "$lo" -gt 22000 ]; then last=$((lo - 1)); else first=$((hi + 1)); last=65535; fi
  while [ $tries -lt 200 ]; do
    tries=$((tries + 1))
    if [ -n "$want" ]; then
      port="$want"
    else
      port=$(( (RANDOM * 32768 + RANDOM) % (last - first + 1) + first ))
    fi
    exec {fd}>"/tmp/pgtmp-port-$port.lock" || return 1
    if flock -n "$fd"; then
      # A lock is not enough: something that does not use the lock files may listen there.
      if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        _PGTMP_LOCK_FD="$fd"
        PGTMP_PORT="$port"
        return 0
      fi
    fi
    exec {fd}>&-
    if [ -n "$want" ]; then
      echo "pgtmp: port $want is busy" >&2
      return 1
    fi
  done
  echo "pgtmp: no free port found" >&2
  return 1
}

_pgtmp_release_port() {
  if [ -n "$_PGTMP_LOCK_FD" ]; then
    exec {_PGTMP_LOCK_FD}>&-
    _PGTMP_LOCK_FD=""
  fi
}

_pgtmp_on_exit() {
  local rc=$?
  pgtmp_stop
  if [ -n "$_PGTMP_PREV_EXIT_TRAP" ]; then
    eval "$_PGTMP_PREV_EXIT_TRAP"
  fi
  return $rc
}

_pgtmp_on_signal() {
  local sig="$1"
  trap - EXIT INT TERM
  pgtmp_stop
  if [ "$sig" = INT ]; then exit 130; else exit 143; fi
}

# Writes the configuration of a fresh data directory: loopback only, the socket in our folder,
# durability off (a test cluster never survives a crash), and a log prefix that names the database
# and user of every line so tests can count one database's statements.
_pgtmp_configure() {
  local conf="$PGTMP_DATA/postgresql.conf"
  {
    echo "# pgtmp"
    echo "listen_addresses = '127.0.0.1'"
    echo "port = $PGTMP_PORT"
    echo "unix_socket_directories = '$PGTMP_SOCKDIR'"
    echo "fsync = off"
    echo "full_page_writes = off"
    echo "synchronous_commit = off"
    echo "logging_collector = off"
    echo "log_line_prefix = '%m [%p] %d %u '"
    echo "max_connections = 200"
    echo "shared_buffers = 32MB"
    # 13 still defaults to md5: store SCRAM verifiers, as every later major does.
    echo "password_encryption = 'scram-sha-256'"
    if [ -n "${PGTMP_CONF:-}" ]; then printf '%s\n' "$PGTMP_CONF"; fi
  } >>"$conf"
  if [ -n "${PGTMP_HBA:-}" ]; then
    printf '%s\n' "$PGTMP_HBA" >"$PGTMP_DATA/pg_hba.conf"
  fi
  if [ "$(id -u)" = 0 ]; then chown postgres: "$conf" "$PGTMP_DATA/pg_hba.conf"; fi
}

# Creates and starts the cluster; PORT is optional (a free one is chosen). Returns non-zero, with
# the server log on stderr, if it cannot.
pgtmp_start() {
  local want_port="${1:-}" bindir attempt
  bindir=$(_pgtmp_bindir) || return 1
  if [ -n "$PGTMP_DIR" ]; then
    echo "pgtmp: a cluster is already running in $PGTMP_DIR" >&2
    return 1
  fi
  if [ "${PGTMP_NO_TRAP:-0}" != 1 ]; then
    _PGTMP_PREV_EXIT_TRAP=$(trap -p EXIT | sed -e "s/^trap -- '//" -e "s/' EXIT\$//")
    trap _pgtmp_on_exit EXIT
    trap '_pgtmp_on_signal INT' INT
    trap '_pgtmp_on_signal TERM' TERM
  fi
  PGTMP_DIR=$(mktemp -d "${PGTMP_ROOT:-/tmp}/pgtmp.XXXXXX") || return 1
  chmod 755 "$PGTMP_DIR"
  PGTMP_DATA="$PGTMP_DIR/data"
  PGTMP_SOCKDIR="$PGTMP_DIR"
  PGTMP_LOG="$PGTMP_DIR/postgresql.log"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$PGTMP_DIR"; fi
  if ! _pgtmp_as_pg "$bindir/initdb" --nosync -A trust -U postgres -E UTF8 --locale=C \
      -D "$PGTMP_DATA" >"$PGTMP_DIR/initdb.log" 2>&1; then
    echo "pgtmp: initdb failed:" >&2
    cat "$PGTMP_DIR/initdb.log" >&2
    pgtmp_stop
    return 1
  fi
  # Another program may take the port between our check and the server's bind: retry with a new one.
  for attempt in 1 2 3 4 5; do
    _pgtmp_claim_port "$want_port" || { pgtmp_stop; return 1; }
    _pgtmp_configure
    if _pgtmp_as_pg "$bindir/pg_ctl" -w -t 60 -D "$PGTMP_DATA" -l "$PGTMP_LOG" start >/dev/null; then
      PGTMP_URL="postgresql://postgres@127.0.0.1:$PGTMP_PORT/postgres"
      export PGTMP_DIR PGTMP_DATA PGTMP_PORT PGTMP_HOST PGTMP_SOCKDIR PGTMP_LOG PGTMP_URL
      return 0
    fi
    _pgtmp_release_port
    if [ -n "$want_port" ] || ! grep -q "could not bind\|Address already in use" "$PGTMP_LOG" 2>/dev/null; then
      break
    fi
  done
  echo "pgtmp: the server did not start; its log:" >&2
  tail -n 50 "$PGTMP_LOG" >&2 2>/dev/null || true
  pgtmp_stop
  return 1
}

pgtmp_psql() {
  psql -X -q -v ON_ERROR_STOP=1 -h "$PGTMP_SOCKDIR" -p "$PGTMP_PORT" -U postgres "$@"
}

pgtmp_log_tail() {
  [ -n "$PGTMP_LOG" ] && [ -f "$PGTMP_LOG" ] && tail -n "${1:-50}" "$PGTMP_LOG"
}

# Stops the server (immediate mode: nothing in a test cluster is worth a checkpoint) and removes the
# folder. Idempotent, and quiet when there is nothing to stop.
pgtmp_stop() {
  local bindir
  if [ -z "$PGTMP_DIR" ]; then
    _pgtmp_release_port
    return 0
  fi
  if [ -f "$PGTMP_DATA/postmaster.pid" ]; then
    bindir=$(_pgtmp_bindir) || bindir=""
    if [ -n "$bindir" ]; then
      _pgtmp_as_pg "$bindir/pg_ctl" -w -t 30 -D "$PGTMP_DATA" -m immediate stop >/dev/null 2>&1 || true
    fi
    # If pg_ctl could not stop it, do not leave a server behind.
    if [ -f "$PGTMP_DATA/postmaster.pid" ]; then
      local pid
      pid=$(head -n 1 "$PGTMP_DATA/postmaster.pid" 2>/dev/null || true)
      if [ -n "$pid" ]; then kill -QUIT "$pid" 2>/dev/null || true; fi
    fi
  fi
  rm -rf "$PGTMP_DIR"
  _pgtmp_release_port
  PGTMP_DIR="" PGTMP_DATA="" PGTMP_PORT="" PGTMP_SOCKDIR="" PGTMP_LOG="" PGTMP_URL=""
}
