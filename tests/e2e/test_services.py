"""Other services (wait.services, PREFLIGHT_SERVICES, --service): tcp://, http:// and redis://,
waited for concurrently with PostgreSQL on the same loop, within the same budget, stopped by
SIGTERM, and named in the 69 message when they do not come. The services are small real servers
written here (a TCP listener, an HTTP server, a Redis-protocol server) that come up late."""

import re
import signal
import socket
import subprocess
import threading
import time

import pytest

import pgharness
from pgharness import spawn_preflight

MANIFEST = "version: 1\n"


class LateServer:
    """A loopback server on a reserved port. `listen_after`: seconds before it even listens
    (connections are refused until then). `ready_after`: seconds (from creation) before it answers
    well: HTTP 503 -> 200, Redis -LOADING -> +PONG. kind: tcp | http | redis."""

    def __init__(self, kind, listen_after=0.0, ready_after=0.0, password=None):
        self.kind, self.password = kind, password
        self.t0 = time.monotonic()
        self.listen_after, self.ready_after = listen_after, ready_after
        self._lock = pgharness.PortLock()
        self.port = self._lock.port
        self.connections = 0
        self.requests = []
        self._stop = False
        # Bound now, listening only after listen_after: a bound socket that does not listen
        # refuses connections as a free port does, and holds the port meanwhile. Binding it late
        # let the kernel hand the port to one of preflight's own outgoing connections (the test
        # ports are in the ephemeral range): the late bind then failed with EADDRINUSE, or the
        # connection reached itself (TCP self-connect) and the service looked ready.
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", self.port))
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def ready(self):
        return time.monotonic() - self.t0 >= self.ready_after

    def _run(self):
        while not self._stop and time.monotonic() - self.t0 < self.listen_after:
            time.sleep(0.02)
        s = self._sock
        if self._stop:
            s.close()
            return
        s.listen(64)
        s.settimeout(0.1)
        while not self._stop:
            try:
                conn, _ = s.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()
        s.close()

    def _serve(self, conn):
        conn.settimeout(5)
        try:
            if self.kind == "tcp":
                time.sleep(0.2)
                return
            data = b""
            while b"\r\n\r\n" not in data if self.kind == "http" else b"PING" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            self.requests.append(data)
            if self.kind == "http":
                if self.ready():
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                else:
                    conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
            else:
                out = b""
                if self.password is not None:
                    if self.password.encode() in data:
                        out += b"+OK\r\n"
                    else:
                        conn.sendall(b"-NOAUTH Authentication required.\r\n" if b"AUTH" not in data
                                     else b"-WRONGPASS invalid username-password pair\r\n")
                        return
                out += b"+PONG\r\n" if self.ready() else b"-LOADING Redis is loading the dataset in memory\r\n"
                conn.sendall(out)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self._stop = True
        self._thread.join(timeout=5)
        self._lock.release()


@pytest.fixture
def servers():
    made = []

    def make(*a, **kw):
        s = LateServer(*a, **kw)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


def test_a_late_server_holds_its_port_before_it_listens(servers):
    """Until it listens, a late server refuses connections, and nobody else can bind its port: an
    outgoing connection given that port as its source could otherwise make it fail to bind."""
    late = servers("tcp", listen_after=30)
    with socket.socket() as other:
        with pytest.raises(OSError):
            other.bind(("127.0.0.1", late.port))
    with socket.socket() as client, pytest.raises(ConnectionRefusedError):
        client.connect(("127.0.0.1", late.port))


def test_late_tcp_http_and_redis_services_are_waited_for(db, preflight, manifest, servers):
    tcp = servers("tcp", listen_after=1.5)
    http = servers("http", listen_after=0.5, ready_after=2.0)
    redis = servers("redis", ready_after=1.5)
    m = manifest(f"""
        version: 1
        wait:
          services:
            - tcp://127.0.0.1:{tcp.port}
            - http://localhost:{http.port}/health?deep=1
    """)
    r = preflight(["run", "-f", m, "-d", db.url, "-t", "30s", "--", "sh", "-c", "echo app-ran"],
                  timeout=90)
    assert r.code == 0, str(r)
    assert r.duration >= 2.0, str(r)
    assert f"service tcp://127.0.0.1:{tcp.port} ready" in r.stderr, r.stderr
    assert f"service http://localhost:{http.port}/health?deep=1 ready" in r.stderr, r.stderr
    assert "answered \"503 Service Unavailable\"" in r.stderr, "the 503 is the logged cause"
    assert r.stdout == "app-ran\n"
    assert any(req.startswith(b"GET /health?deep=1 HTTP/1.1\r\n") and b"\r\nHost: localhost:" in req
               for req in http.requests), http.requests

    # The same, from the environment: PREFLIGHT_SERVICES replaces wait.services.
    r = preflight(["wait", "-f", manifest(MANIFEST), "-d", db.url, "-t", "30s"],
                  env={"PREFLIGHT_SERVICES": f" redis://127.0.0.1:{redis.port} ,tcp://127.0.0.1:{tcp.port}"},
                  timeout=90)
    assert r.code == 0, str(r)
    assert f"service redis://127.0.0.1:{redis.port} ready" in r.stderr, r.stderr


def test_services_wait_concurrently_within_one_budget(preflight, manifest, closed_port, servers):
    # Neither the database nor the service ever comes: both are waited for at once, so the run
    # takes the budget once (not twice), and the 69 message names both.
    dead = pgharness.PortLock()
    try:
        url = f"postgresql://postgres@127.0.0.1:{closed_port}/app"
        r = preflight(["wait", "-f", manifest(MANIFEST), "-d", url, "-t", "2s",
                       "--service", f"tcp://127.0.0.1:{dead.port}"], timeout=60)
    finally:
        dead.release()
    assert r.code == 69, str(r)
    assert 1.9 <= r.duration < 8, str(r)
    last = r.stderr.strip().splitlines()[-1]
    assert "database 127.0.0.1:" in last and "refused" in last, last
    assert f"also not ready: tcp://127.0.0.1:{dead.port} (cannot connect to 127.0.0.1:{dead.port}: " \
           "connection refused)" in last, last
    # Both waits logged their first failure before the end.
    assert f"waiting for service tcp://127.0.0.1:{dead.port}: attempt 1 failed" in r.stderr, r.stderr


def test_a_service_that_never_answers_is_69_and_named(db, preflight, manifest, servers):
    http = servers("http", ready_after=3600)
    r = preflight(["run", "-f", manifest(MANIFEST), "-d", db.url, "-t", "2s",
                   "--service", f"http://127.0.0.1:{http.port}/ready", "--", "sh", "-c", "echo app-ran"],
                  timeout=60)
    assert r.code == 69, str(r)
    assert r.stdout == "", "the app must not start"
    last = r.stderr.strip().splitlines()[-1]
    assert re.search(rf"service http://127\.0\.0\.1:{http.port}/ready not ready after 2s(\d+ms)? \(\d+ attempts\); "
                     r"last error: GET /ready answered \"503 Service Unavailable\" \(not 2xx\)", last), last
    assert "database ready" in r.stderr


def test_redis_auth_password_is_sent_and_never_printed(db, preflight, manifest, servers):
    secret = "r3dis-Pa55word-xyzzy"
    ok = servers("redis", password=secret)
    r = preflight(["wait", "-f", manifest(MANIFEST), "-d", db.url, "-t", "20s", "-v",
                   "--service", f"redis://:{secret}@127.0.0.1:{ok.port}/0"], timeout=60)
    assert r.code == 0, str(r)
    assert f"service redis://***@127.0.0.1:{ok.port} ready" in r.stderr, r.stderr
    assert secret not in r.stderr + r.stdout
    wrong = servers("redis", password="other")
    r = preflight(["wait", "-f", manifest(MANIFEST), "-d", db.url, "-t", "1s",
                   "--service", f"redis://:{secret}@127.0.0.1:{wrong.port}"], timeout=60)
    assert r.code == 69, str(r)
    assert "AUTH answered \"-WRONGPASS" in r.stderr, r.stderr
    assert secret not in r.stderr + r.stdout


def test_sigterm_while_waiting_for_a_service(db, manifest, servers):
    http = servers("http", ready_after=3600)
    p = spawn_preflight(["run", "-f", manifest(MANIFEST), "-d", db.url, "-t", "60s",
                         "--service", f"http://127.0.0.1:{http.port}/", "--", "true"])
    try:
        time.sleep(1.5)
        assert p.poll() is None
        sent = time.monotonic()
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 143, err.decode()
    assert time.monotonic() - sent < 5, "SIGTERM must end the wait at once (generous: the machine may be loaded)"


def test_a_service_behind_an_unanswering_resolver_respects_the_budget(db, preflight, manifest):
    # 192.0.2.1 (TEST-NET-1) is never routed: the connect hangs; the per-attempt limit and the
    # budget still end the wait on time.
    m = manifest("version: 1\ndatabase:\n  connect_timeout: 500ms\n")
    r = preflight(["wait", "-f", m, "-d", db.url, "-t", "2s", "--service", "tcp://192.0.2.1:9"], timeout=60)
    assert r.code == 69, str(r)
    assert r.duration < 5, str(r)
    assert "tcp://192.0.2.1:9" in r.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("where,value,code,words", [
    ("env", "ftp://x:21", 78, "PREFLIGHT_SERVICES: service \"ftp://x:21\": expected tcp://HOST:PORT"),
    ("env", "tcp://redis", 78, "tcp:// needs a port"),
    ("env", "https://auth/health", 78, "TLS is not supported"),
    ("cli", "tcp://db:99999", 64, "--service: service \"tcp://db:99999\": invalid port"),
    ("cli", "http://user:hunter22@auth/", 64, "user information is only supported for redis://"),
    ("manifest", "tcp://:80", 78, "wait.services: service \"tcp://:80\": no host"),
])
def test_bad_service_urls(preflight, manifest, where, value, code, words):
    args, env = ["lint"], None
    if where == "manifest":
        m = manifest(f"version: 1\nwait:\n  services:\n    - {value}\n")
    else:
        m = manifest(MANIFEST)
    args += ["-f", m]
    if where == "env":
        env = {"PREFLIGHT_SERVICES": value}
    elif where == "cli":
        args += ["--service", value]
    r = preflight(args, env=env)
    assert r.code == code, str(r)
    assert words in r.stderr, r.stderr
    assert "hunter22" not in r.stderr
    if where == "manifest":
        assert re.search(r"preflight\.yaml:4:\d+: ", r.stderr), r.stderr
