"""Throwaway PostgreSQL clusters, pgbouncer and the preflight runner for the end-to-end tests.

The approach is pgbouncer's test suite's (and scripts/lib/pgtmp.sh's): `initdb --nosync -A trust`
into a temporary folder owned by the postgres user, a free loopback port held by a lock file, the
Unix socket inside the folder, fsync off, `pg_ctl -w start -l logfile`. As root, every server
command runs as postgres through runuser, since PostgreSQL refuses to run as root.

No Python driver: SQL goes through /usr/bin/psql, which is what a person would type.
"""

from __future__ import annotations

import dataclasses
import fcntl
import glob
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PSQL = "/usr/bin/psql"
IS_ROOT = os.geteuid() == 0

# The environment every child starts from: nothing of the caller's leaks in (no PG*, no
# DATABASE_URL, no PREFLIGHT_*), except the sanitizer settings a developer may have chosen.
BASE_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
}
for _k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
    if _k in os.environ:
        BASE_ENV[_k] = os.environ[_k]


def pg_bindir() -> str:
    """Returns the folder of the newest installed PostgreSQL server's binaries."""
    if os.environ.get("PGTMP_BINDIR"):
        return os.environ["PGTMP_BINDIR"]
    found = [d for d in glob.glob("/usr/lib/postgresql/*/bin") if os.path.exists(d + "/initdb")]
    if not found:
        raise RuntimeError("no PostgreSQL server under /usr/lib/postgresql/*/bin")
    return sorted(found, key=lambda d: int(re.search(r"/(\d+)/bin", d).group(1)))[-1]


_SERVER_MAJOR: dict = {}


def server_major(bindir: str | None = None) -> int:
    """The major version of the server binaries the harness runs (PGTMP_BINDIR or the newest
    installed), from `postgres --version`: tests compare what preflight reports with this."""
    bindir = bindir or pg_bindir()
    if bindir not in _SERVER_MAJOR:
        out = subprocess.run([f"{bindir}/postgres", "--version"], capture_output=True, text=True,
                             check=True).stdout
        _SERVER_MAJOR[bindir] = int(re.search(r"\) (\d+)", out).group(1))
    return _SERVER_MAJOR[bindir]


def as_postgres(cmd: list[str]) -> list[str]:
    """Wraps a command so that it runs as the postgres user when we are root."""
    return ["runuser", "-u", "postgres", "--", *cmd] if IS_ROOT else cmd


def _port_span() -> tuple[int, int]:
    """Where test ports are picked: below the kernel's ephemeral range (ip_local_port_range,
    32768-60999 by default). A port in it may be handed to an outgoing connection (preflight's own,
    retrying a server that is not up yet) in the moment before the server binds it: the server then
    fails with EADDRINUSE, or the connection reaches itself (TCP self-connect)."""
    try:
        low, high = (int(x) for x in open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    if low > 22000:
        return 20000, low - 1
    return high + 1, 65535


class PortLock:
    """A loopback TCP port that nothing listens on, reserved for as long as this object lives.

    The reservation is an flock on /tmp/pgtmp-port-PORT.lock, the same files pgtmp.sh uses, so
    concurrent suites never pick the same port, and a crashed holder releases it automatically."""

    def __init__(self, port: int | None = None):
        for _ in range(200):
            p = port or random.randint(*_port_span())
            f = open(f"/tmp/pgtmp-port-{p}.lock", "a")
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                f.close()
                if port:
                    raise RuntimeError(f"port {port} is reserved by another test run")
                continue
            if not port_is_open(p):
                with socket.socket() as s:
                    try:
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                        s.bind(("127.0.0.1", p))
                    except OSError:
                        f.close()
                        if port:
                            raise
                        continue
                self.port = p
                self._file = f
                return
            f.close()
            if port:
                raise RuntimeError(f"port {port} is busy")
        raise RuntimeError("no free port")

    def release(self) -> None:
        if self._file:
            self._file.close()
            self._file = None


def port_is_open(port: int, host: str = "127.0.0.1") -> bool:
    """True if something accepts TCP connections on host:port."""
    with socket.socket() as s:
        s.settimeout(0.5)
        try:
            s.connect((host, port))
            return True
        except OSError:
            return False


class SqlError(RuntimeError):
    pass


class PgCluster:
    """One throwaway PostgreSQL cluster. `init()` creates it, `start()` starts it (on the port
    reserved at init), `stop()` stops it, `destroy()` also removes its folder and frees the port."""

    def __init__(self, hba: str | None = None, conf: str = "", port: int | None = None):
        self.bindir = pg_bindir()
        self.hba = hba
        self.conf = conf
        self.dir = Path(tempfile.mkdtemp(prefix="pgtmp.", dir="/tmp"))
        os.chmod(self.dir, 0o755)
        if IS_ROOT:
            shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        self.sockdir = str(self.dir)
        self.log = self.dir / "postgresql.log"
        self.host = "127.0.0.1"
        self._port_lock = PortLock(port)
        self.port = self._port_lock.port
        self.running = False

    def _run_as_pg(self, cmd: list[str], **kw) -> subprocess.CompletedProcess:
        return subprocess.run(as_postgres(cmd), cwd=self.dir, env=BASE_ENV,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)

    def init(self) -> "PgCluster":
        r = self._run_as_pg([f"{self.bindir}/initdb", "--nosync", "-A", "trust", "-U", "postgres",
                             "-E", "UTF8", "--locale=C", "-D", str(self.data)])
        if r.returncode != 0:
            raise RuntimeError("initdb failed:\n" + r.stdout)
        conf = f"""
# pgtmp (tests/e2e/pgharness.py)
listen_addresses = '127.0.0.1'
port = {self.port}
unix_socket_directories = '{self.sockdir}'
fsync = off
full_page_writes = off
synchronous_commit = off
logging_collector = off
log_line_prefix = '%m [%p] %d %u '
max_connections = 200
shared_buffers = 32MB
password_encryption = 'scram-sha-256'
{self.conf}
"""
        with open(self.data / "postgresql.conf", "a") as f:
            f.write(conf)
        if self.hba is not None:
            (self.data / "pg_hba.conf").write_text(self.hba)
        return self

    def start(self) -> "PgCluster":
        r = self._run_as_pg([f"{self.bindir}/pg_ctl", "-w", "-t", "60", "-D", str(self.data),
                             "-l", str(self.log), "start"])
        if r.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed:\n{r.stdout}\n--- server log:\n{self.log_tail()}")
        self.running = True
        return self

    def stop(self, mode: str = "immediate") -> None:
        if not (self.data / "postmaster.pid").exists():
            self.running = False
            return
        self._run_as_pg([f"{self.bindir}/pg_ctl", "-w", "-t", "30", "-D", str(self.data),
                         "-m", mode, "stop"])
        pidfile = self.data / "postmaster.pid"
        if pidfile.exists():  # pg_ctl failed: never leave a server behind
            try:
                os.kill(int(pidfile.read_text().split()[0]), signal.SIGQUIT)
            except (OSError, ValueError, IndexError):
                pass
        self.running = False

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
        self._port_lock.release()

    # --- the server log

    def log_size(self) -> int:
        try:
            return self.log.stat().st_size
        except OSError:
            return 0

    def log_since(self, offset: int) -> str:
        try:
            with open(self.log, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text("utf-8", "replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    # --- SQL

    def url(self, dbname: str = "postgres", user: str = "postgres", password: str | None = None,
            host: str | None = None, port: int | None = None) -> str:
        cred = user if password is None else f"{user}:{password}"
        return f"postgresql://{cred}@{host or self.host}:{port or self.port}/{dbname}"

    def psql(self, sql: str, dbname: str = "postgres", check: bool = True,
             user: str = "postgres") -> str:
        """Runs SQL (one or more statements) over the Unix socket; returns unaligned, tuples-only
        output, fields separated by '|'. Raises SqlError on failure when check is true."""
        r = subprocess.run(
            [PSQL, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", self.sockdir,
             "-p", str(self.port), "-U", user, "-d", dbname, "-f", "-"],
            input=sql, env=BASE_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            timeout=120)
        if check and r.returncode != 0:
            raise SqlError(f"psql failed ({r.returncode}): {r.stderr.strip()}\nSQL: {sql[:2000]}")
        return r.stdout.rstrip("\n")

    def scalar(self, sql: str, dbname: str = "postgres") -> str:
        return self.psql(sql, dbname).strip()


class Database:
    """A database created for one test in a shared cluster (dropped at teardown)."""

    def __init__(self, cluster: PgCluster, name: str):
        self.cluster = cluster
        self.name = name
        self.host = cluster.host
        self.port = cluster.port

    @property
    def url(self) -> str:
        return self.cluster.url(self.name)

    def url_as(self, user: str, password: str | None = None) -> str:
        return self.cluster.url(self.name, user=user, password=password)

    def sql(self, sql: str, check: bool = True) -> str:
        return self.cluster.psql(sql, self.name, check=check)

    def scalar(self, sql: str) -> str:
        return self.cluster.scalar(sql, self.name)

    def exists(self, regclass: str) -> bool:
        """True if the relation exists (name written as SQL would, e.g. 'public."avatar_projects"')."""
        return self.scalar(f"SELECT to_regclass($q${regclass}$q$) IS NOT NULL") == "t"

    def has_column(self, table: str, column: str, schema: str = "public") -> bool:
        return self.scalar(
            "SELECT count(*) FROM information_schema.columns "
            f"WHERE table_schema = $q${schema}$q$ AND table_name = $q${table}$q$ "
            f"AND column_name = $q${column}$q$") == "1"

    def catalog_snapshot(self) -> str:
        """Everything that preflight could have created or changed, as text: schemas, relations,
        columns, functions, types, extensions, triggers, policies, constraints, in every schema but
        the system ones. Two equal snapshots mean nothing was written to the catalog."""
        return self.sql("""
SELECT 'ns ' || nspname FROM pg_namespace ORDER BY 1;
SELECT 'rel ' || c.oid::regclass::text || ' ' || c.relkind::text
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1;
SELECT 'col ' || a.attrelid::regclass::text || '.' || a.attname || ' '
       || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull::text
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND a.attnum > 0
   AND NOT a.attisdropped ORDER BY 1;
SELECT 'fn ' || p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1;
SELECT 'type ' || t.oid::regtype::text FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1;
SELECT 'ext ' || extname || ' ' || extversion FROM pg_extension ORDER BY 1;
SELECT 'trg ' || tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1;
SELECT 'pol ' || polname FROM pg_policy ORDER BY 1;
SELECT 'con ' || conname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1;
SELECT 'enum ' || enumtypid::regtype::text || ' ' || enumlabel FROM pg_enum ORDER BY 1;
""")


@dataclasses.dataclass(repr=False)
class Result:
    code: int
    stdout: str
    stderr: str
    duration: float
    args: list

    def __str__(self) -> str:
        return (f"preflight {self.args!r}\n-> exit {self.code} after {self.duration:.2f}s\n"
                f"--- stdout:\n{self.stdout}\n--- stderr:\n{self.stderr}")

    __repr__ = __str__


def preflight_bin() -> str:
    path = os.environ.get("PREFLIGHT_BIN") or str(REPO / "build" / "preflight")
    if not os.access(path, os.X_OK):
        raise AssertionError(f"preflight binary not found at {path} (set PREFLIGHT_BIN)")
    return path


def preflight_env(env: dict | None) -> dict:
    e = dict(BASE_ENV)
    if env:
        e.update({k: str(v) for k, v in env.items()})
    return e


def run_preflight(args: list, env: dict | None = None, timeout: float = 60, cwd=None,
                  wrapper: list | None = None) -> Result:
    """Runs the preflight binary with a clean environment (BASE_ENV plus `env`), waits at most
    `timeout` seconds, and returns its exit status, stdout, stderr and duration. A negative status
    means it died of that signal."""
    argv = [*(wrapper or []), preflight_bin(), *map(str, args)]
    t0 = time.monotonic()
    p = subprocess.Popen(argv, env=preflight_env(env), cwd=cwd, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        raise AssertionError(
            f"preflight {args!r} still running after {timeout}s; killed\n--- stdout:\n"
            f"{out.decode(errors='replace')}\n--- stderr:\n{err.decode(errors='replace')}")
    return Result(p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"),
                  time.monotonic() - t0, [str(a) for a in args])


def spawn_preflight(args: list, env: dict | None = None, cwd=None, stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE) -> subprocess.Popen:
    """Starts preflight without waiting (for signals and concurrency); the caller collects it."""
    p = subprocess.Popen([preflight_bin(), *map(str, args)], env=preflight_env(env), cwd=cwd,
                         stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr)
    p.started_at = time.monotonic()
    return p


class PgBouncer:
    """pgbouncer in transaction pooling mode in front of a cluster, every database passed through
    (`* = host=... port=...`), trust authentication with a userlist, run as postgres."""

    def __init__(self, cluster: PgCluster, pool_mode: str = "transaction", pool_size: int = 5):
        self.cluster = cluster
        self.dir = Path(tempfile.mkdtemp(prefix="pgbouncer.", dir="/tmp"))
        os.chmod(self.dir, 0o755)
        self._port_lock = PortLock()
        self.port = self._port_lock.port
        self.host = "127.0.0.1"
        self.log = self.dir / "pgbouncer.log"
        self.pidfile = self.dir / "pgbouncer.pid"
        (self.dir / "userlist.txt").write_text('"postgres" ""\n"app" ""\n')
        (self.dir / "pgbouncer.ini").write_text(f"""
[databases]
* = host={cluster.host} port={cluster.port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir = {self.dir}
auth_type = trust
auth_file = {self.dir}/userlist.txt
pool_mode = {pool_mode}
default_pool_size = {pool_size}
max_client_conn = 500
ignore_startup_parameters = extra_float_digits,options
logfile = {self.log}
pidfile = {self.pidfile}
admin_users = postgres
server_login_retry = 1
""")
        if IS_ROOT:
            for p in [self.dir, *self.dir.iterdir()]:
                shutil.chown(p, "postgres", "postgres")

    def start(self) -> "PgBouncer":
        r = subprocess.run(as_postgres(["pgbouncer", "-d", str(self.dir / "pgbouncer.ini")]),
                           cwd=self.dir, env=BASE_ENV, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if port_is_open(self.port):
                return self
            time.sleep(0.05)
        raise RuntimeError(f"pgbouncer did not start ({r.returncode}): {r.stdout}\n{self.log_tail()}")

    def url(self, dbname: str, user: str = "postgres") -> str:
        return f"postgresql://{user}@{self.host}:{self.port}/{dbname}"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text("utf-8", "replace").splitlines()[-lines:])
        except OSError:
            return "(no pgbouncer log)"

    def stop(self) -> None:
        try:
            pid = int(self.pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pid = None
        if pid:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pid = None
            deadline = time.monotonic() + 10
            while pid and time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
            else:
                if pid:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        shutil.rmtree(self.dir, ignore_errors=True)
        self._port_lock.release()


# log_line_prefix = '%m [%p] %d %u ': "2026-01-01 10:00:00.123 UTC [123] dbname user LOG:  ..."
_LOG_STMT = re.compile(r"^\S+ \S+ \S+ \[(\d+)\] (\S*) (\S*) LOG:  (statement|execute [^:]*): ",
                       re.M)


def count_logged_statements(log_text: str, dbname: str) -> int:
    """Counts the statements that log_statement=all logged for one database: simple-protocol
    `statement:` lines and extended-protocol `execute ...:` lines."""
    return sum(1 for m in _LOG_STMT.finditer(log_text) if m.group(2) == dbname)


def logged_statements(log_text: str, dbname: str) -> list[str]:
    out = []
    for line in log_text.splitlines():
        m = _LOG_STMT.match(line)
        if m and m.group(2) == dbname:
            out.append(line)
    return out
