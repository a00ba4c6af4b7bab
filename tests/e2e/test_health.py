"""--health-listen: the HTTP endpoint on the --init loop, through tests/tools/health_driver.

The driver serves /health and /ready with a fake probe whose answer is the first word of a state
file (healthy, degraded, unhealthy, or hang) and which writes how often it ran to a count file,
while it supervises a command on the same loop, as `preflight --init --health-listen` does.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DRIVER = os.environ.get("PF_HEALTH_DRIVER") or str(ROOT / "build" / "tests" / "health_driver")


@pytest.fixture(scope="module", autouse=True)
def _driver_built():
    if not os.path.exists(DRIVER):
        pytest.fail(f"health driver not built: {DRIVER} (set PF_HEALTH_DRIVER)")


def wait_for(pred, timeout: float = 5.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Server:
    def __init__(self, tmp: Path, interval_ms=1000, read_timeout_ms=500, probe_timeout_ms=1000,
                 max_conns=64, probe_delay_ms=0, state="healthy", wrap=None,
                 listen="127.0.0.1:0", command=("sleep", "60")):
        self.state_file = tmp / "state"
        self.count_file = tmp / "count"
        self.port_file = tmp / "port"
        self.stderr_path = tmp / "health.stderr"
        self.set_state(state)
        cmd = (wrap or []) + [
            DRIVER, "--listen", listen, "--state", str(self.state_file),
            "--count", str(self.count_file), "--port-file", str(self.port_file),
            "--interval", str(interval_ms), "--read-timeout", str(read_timeout_ms),
            "--probe-timeout", str(probe_timeout_ms), "--max-conns", str(max_conns),
            "--probe-delay", str(probe_delay_ms), "--", *command]
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err,
                                         start_new_session=True)
        self.port = 0

    def wait_listening(self, timeout=30.0):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"driver exited {self.proc.returncode}: {self.stderr()}")
            text = self.port_file.read_text() if self.port_file.exists() else ""
            return text.endswith("\n") and int(text)
        self.port = wait_for(ready, timeout=timeout, what="the server to listen")
        return self

    def set_state(self, state: str):
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(state + "\n")
        tmp.rename(self.state_file)

    def probes(self) -> int:
        text = self.count_file.read_text() if self.count_file.exists() else ""
        return int(text) if text.endswith("\n") else 0

    def get(self, path: str, method: str = "GET", timeout: float = 5.0):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path)
            r = conn.getresponse()
            body = r.read()
            return r.status, dict(r.getheaders()), body
        finally:
            conn.close()

    def raw(self, data: bytes, timeout: float = 5.0, shut: bool = False) -> bytes:
        """Sends raw bytes and returns everything the server answers until it closes."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            try:
                s.sendall(data)
                if shut:
                    s.shutdown(socket.SHUT_WR)
            except (BrokenPipeError, ConnectionResetError):
                pass
            out = b""
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    out += chunk
            except ConnectionResetError:
                pass
            return out

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stop(self, timeout: float = 5.0) -> int:
        """SIGTERM, forwarded to the supervised command: the driver exits with its 143."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise AssertionError("driver did not stop on SIGTERM: " + self.stderr())


@pytest.fixture
def server(tmp_path):
    made: list[Server] = []

    def start(**kw) -> Server:
        s = Server(tmp_path, **kw).wait_listening()
        made.append(s)
        return s

    yield start
    for s in made:
        if s.proc.poll() is None:
            s.stop()


def status_line(raw: bytes) -> int:
    assert raw.startswith(b"HTTP/1.1 "), raw[:80]
    return int(raw[9:12])


def test_answers_and_probes_at_most_once_per_interval(server):
    s = server(interval_ms=1000, probe_delay_ms=100)
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=40) as pool:
        results = list(pool.map(lambda i: s.get("/health" if i % 2 else "/ready"), range(200)))
    elapsed = time.monotonic() - t0
    assert [r[0] for r in results] == [200] * 200
    bodies = [json.loads(r[2]) for r in results]
    assert all(b["status"] == "healthy" for b in bodies)
    assert all(r[1]["Connection"] == "close" and r[1]["Content-Type"] == "application/json"
               for r in results)
    # One probe per started interval at most (plus the one that was running at the end).
    assert 1 <= s.probes() <= int(elapsed / 1.0) + 1, (s.probes(), elapsed)


def test_turns_unhealthy_within_one_interval(server):
    s = server(interval_ms=300)
    assert s.get("/health")[0] == 200
    s.set_state("unhealthy")
    t0 = time.monotonic()
    status, _, body = wait_for(lambda: (r := s.get("/health"))[0] == 503 and r, timeout=2,
                               what="503")
    assert time.monotonic() - t0 < 0.3 + 0.5    # one interval, plus slack for a busy machine
    doc = json.loads(body)
    assert doc["status"] == "unhealthy" and doc["missing"] == ["public.users"]
    assert s.get("/ready")[0] == 503

    s.set_state("degraded")
    wait_for(lambda: s.get("/ready")[0] == 200, timeout=2, what="/ready 200 when degraded")
    status, _, body = s.get("/health")
    assert status == 503 and json.loads(body)["status"] == "degraded"

    s.set_state("healthy")
    wait_for(lambda: s.get("/health")[0] == 200, timeout=2, what="healthy again")


def test_refusals(server):
    s = server()
    status, headers, _ = s.get("/health", method="POST")
    assert status == 405 and headers["Allow"] == "GET"
    assert s.get("/health", method="HEAD")[0] == 405
    assert s.get("/")[0] == 404
    assert s.get("/metrics")[0] == 404
    assert s.get("/ready?full=1")[0] == 200
    assert status_line(s.raw(b"GET /health HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody")) == 413
    assert status_line(s.raw(b"GET /health HTTP/9.9\r\n\r\n")) == 505
    assert status_line(s.raw(b"hello there\r\n\r\n")) == 400
    assert status_line(s.raw(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03")) == 400  # TLS
    assert status_line(s.raw(b"GET /health HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n")) == 431
    assert status_line(s.raw(b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n")) == 414
    assert s.probes() == 1  # only the one valid GET /ready ran the probe


def test_slow_clients_time_out(server):
    s = server(read_timeout_ms=300)
    t0 = time.monotonic()
    raw = s.raw(b"GET /health HTTP/1.1\r\nHost: x\r\n")   # never finishes its head
    assert status_line(raw) == 408
    assert 0.25 < time.monotonic() - t0 < 2
    # A client that trickles bytes is cut off at the same deadline, not extended by each byte.
    with socket.create_connection(("127.0.0.1", s.port), timeout=5) as c:
        t0 = time.monotonic()
        got = b""
        try:
            for ch in b"GET /health HTTP/1.1\r\nX-Slow: " + b"x" * 100:
                c.send(bytes([ch]))
                time.sleep(0.02)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            while chunk := c.recv(4096):
                got += chunk
        except ConnectionResetError:
            pass
        assert status_line(got) == 408
        assert time.monotonic() - t0 < 2
    assert s.get("/health")[0] == 200


def test_connection_cap(server):
    # At the cap, a new connection takes the place of the oldest idle one (slowloris: idle
    # connections must not lock real requests out), not the other way round.
    s = server(max_conns=8, read_timeout_ms=3000)
    idle = [socket.create_connection(("127.0.0.1", s.port), timeout=5) for _ in range(8)]
    time.sleep(0.8)          # past the grace a just-accepted connection gets to send its request
    assert s.get("/health", timeout=2)[0] == 200
    idle[0].settimeout(2)
    try:
        assert idle[0].recv(100) == b"", "the oldest idle connection made room"
    except ConnectionResetError:
        pass
    for c in idle:
        c.close()


def test_connection_cap_when_all_are_served(server):
    # When every connection is waiting for the probe, there is nothing idle to evict: the new one
    # is accepted and closed at once, without an answer.
    s = server(max_conns=8, read_timeout_ms=3000, probe_delay_ms=2000, probe_timeout_ms=5000)
    waiting = [socket.create_connection(("127.0.0.1", s.port), timeout=5) for _ in range(8)]
    for c in waiting:
        c.sendall(b"GET /health HTTP/1.1\r\n\r\n")
    time.sleep(0.3)
    with socket.create_connection(("127.0.0.1", s.port), timeout=5) as extra:
        t0 = time.monotonic()
        extra.sendall(b"GET /health HTTP/1.1\r\n\r\n")
        try:
            assert extra.recv(100) == b""
        except ConnectionResetError:
            pass
        assert time.monotonic() - t0 < 1
    for c in waiting:
        c.settimeout(10)
        assert status_line(c.recv(4096)) == 200
        c.close()


def test_slowloris_from_one_client(server):
    # Issue 10 item 6: 100 one-byte connections made 57 of 60 legitimate requests fail.
    s = server(read_timeout_ms=2000)
    held = []
    for _ in range(100):
        c = socket.create_connection(("127.0.0.1", s.port), timeout=5)
        c.sendall(b"G")
        held.append(c)
    failures = 0
    last_error = None
    t_end = time.monotonic() + 6
    n = 0
    while n < 60:
        try:
            r = s.get("/health", timeout=2)
            if r[0] != 200:
                failures += 1
                last_error = r
        except (OSError, http.client.HTTPException) as e:
            failures += 1
            last_error = e
        n += 1
        # The attacker keeps opening connections while the legitimate client asks.
        if time.monotonic() < t_end:
            try:
                c = socket.create_connection(("127.0.0.1", s.port), timeout=5)
                c.sendall(b"G")
                held.append(c)
            except OSError:
                pass
    for c in held:
        c.close()
    assert failures <= 2, f"{failures} of 60 legitimate requests failed: {last_error!r}"


def test_survives_garbage_and_keeps_answering(server):
    s = server(read_timeout_ms=300)
    rnd = random.Random(1234)
    for i in range(300):
        n = rnd.choice([1, 2, 7, 64, 500, 4096, 9000])
        data = bytes(rnd.getrandbits(8) for _ in range(n))
        if i % 4 == 0:
            data = b"GET /health HTTP/1.1\r\n" + data
        raw = s.raw(data, shut=(i % 2 == 0))
        assert raw == b"" or raw.startswith(b"HTTP/1.1 4"), raw[:100]
        assert s.proc.poll() is None
    # Clients that vanish mid-request or mid-answer, many at once.
    for _ in range(50):
        c = socket.create_connection(("127.0.0.1", s.port))
        c.sendall(b"GET /health HTTP/1.1\r\n\r\n" if rnd.random() < 0.5 else b"GET /hea")
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        c.close()   # RST
    assert s.get("/health")[0] == 200
    assert s.get("/ready")[0] == 200


def test_probe_that_never_answers(server):
    s = server(probe_timeout_ms=400, state="hang")
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=5) as pool:
        results = list(pool.map(lambda _: s.get("/ready"), range(5)))
    assert [r[0] for r in results] == [503] * 5
    assert "did not answer" in json.loads(results[0][2])["error"]
    assert 0.35 < time.monotonic() - t0 < 3
    assert s.probes() == 1      # still running: no second probe is piled on
    assert s.stop() == 143      # and the supervision is unaffected


def test_supervision_is_not_blocked_by_clients(server):
    """Clients holding connections open (idle, waiting for a slow probe) do not delay the
    forwarding of SIGTERM or the exit with the child's status."""
    s = server(probe_delay_ms=3000, probe_timeout_ms=5000, read_timeout_ms=5000)
    idle = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(10)]
    waiting = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(10)]
    for c in waiting:
        c.sendall(b"GET /health HTTP/1.1\r\n\r\n")
    time.sleep(0.2)
    t0 = time.monotonic()
    assert s.stop() == 143
    assert time.monotonic() - t0 < 1
    for c in idle + waiting:
        c.close()


def test_bad_listen_addresses(tmp_path):
    for listen in ["nonsense", "127.0.0.1:99999", "::1:80", "example.com:80"]:
        s = Server(tmp_path, listen=listen)
        assert s.proc.wait(timeout=5) == 78, listen
        assert "listen address" in s.stderr()


def test_port_in_use(server, tmp_path):
    first = server()
    other = tmp_path / "other"
    other.mkdir()
    s = Server(other, listen=f"127.0.0.1:{first.port}")
    assert s.proc.wait(timeout=5) == 78
    assert "address already in use" in s.stderr()


@pytest.mark.valgrind
def test_driver_is_valgrind_clean(server):
    vg = ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
          "--errors-for-leak-kinds=definite,indirect"]
    s = server(wrap=vg, read_timeout_ms=300, probe_delay_ms=50)
    assert s.get("/health", timeout=20)[0] == 200
    s.set_state("degraded")
    assert s.get("/nope", timeout=20)[0] == 404
    assert s.get("/ready", method="DELETE", timeout=20)[0] == 405
    assert status_line(s.raw(b"\x00\x01garbage\r\n\r\n", timeout=20)) == 400
    assert status_line(s.raw(b"GET /health HTTP/1.1\r\n", timeout=20)) == 408
    assert status_line(s.raw(b"GET /health HTTP/1.1\r\nX: " + b"a" * 9000, timeout=20)) == 431
    held = socket.create_connection(("127.0.0.1", s.port))   # open while we stop
    held.sendall(b"GET /he")
    assert s.stop(timeout=60) == 143, s.stderr()
    held.close()
