"""Waiting: SIGTERM/SIGINT stop the wait at once; a database that comes up late is waited for."""

import re
import signal
import subprocess
import time

import pytest

from pgharness import PgCluster, spawn_preflight

MANIFEST = """
version: 1
tables:
  - name: widgets
    fallback: CREATE TABLE widgets (id int);
"""


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_while_waiting(preflight, manifest, closed_port, sig, code):
    m = manifest(MANIFEST)
    url = f"postgresql://postgres@127.0.0.1:{closed_port}/nowhere"
    p = spawn_preflight(["run", "-f", m, "-d", url, "-t", "60s", "--", "sh", "-c", "echo app-ran"])
    try:
        time.sleep(0.5)
        assert p.poll() is None, "preflight should still be waiting for the database"
        sent = time.monotonic()
        p.send_signal(sig)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    elapsed = time.monotonic() - sent
    assert p.returncode == code, f"exit {p.returncode}, stderr:\n{err.decode()}"
    assert elapsed < 5, f"took {elapsed:.2f}s to stop after the signal"
    assert out == b"", "nothing on stdout, and the app must not have started"


def test_signal_while_waiting_in_check_and_wait(manifest, closed_port):
    m = manifest(MANIFEST)
    url = f"postgresql://postgres@127.0.0.1:{closed_port}/nowhere"
    for sub in ("check", "wait"):
        p = spawn_preflight([sub, "-f", m, "-d", url, "-t", "60s"])
        time.sleep(0.5)
        p.send_signal(signal.SIGTERM)
        try:
            out, err = p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            raise AssertionError(f"{sub}: still running 10 s after SIGTERM")
        assert p.returncode == 143, (sub, err.decode())


def test_database_that_starts_late(manifest):
    cluster = PgCluster().init()   # initialised, port reserved, not started
    try:
        m = manifest(MANIFEST)
        p = spawn_preflight(["run", "-f", m, "-d", cluster.url("postgres"), "-t", "30s", "--",
                             "sh", "-c", "echo app-ran"])
        time.sleep(2)
        assert p.poll() is None, "preflight gave up before the database came"
        cluster.start()
        try:
            out, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        duration = time.monotonic() - p.started_at
        assert p.returncode == 0, f"exit {p.returncode}\n{err.decode()}\n{cluster.log_tail()}"
        assert out == b"app-ran\n"
        assert duration >= 2
        assert cluster.scalar("SELECT to_regclass('widgets') IS NOT NULL") == "t"
        # While waiting, each retry is logged on stderr.
        assert err.count(b"preflight:") >= 2, err.decode()
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
        cluster.destroy()


def test_wait_subcommand(db, preflight, manifest, closed_port):
    m = manifest(MANIFEST)
    r = preflight(["wait", "-f", m, "-d", db.url, "-t", "10s"])
    assert r.code == 0, str(r)
    assert not db.exists("widgets"), "wait only waits"
    r = preflight(["wait", "-f", m, "-d", f"postgresql://postgres@127.0.0.1:{closed_port}/x",
                   "-t", "1s"], timeout=30)
    assert r.code == 69, str(r)


class Blackhole:
    """A TCP listener that completes handshakes (the kernel does) but never answers: an open port
    is not a ready database. With `accept_and_close`, it accepts and hangs up at once instead."""

    def __init__(self, accept_and_close: bool = False):
        import socket
        import threading
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = False
        if accept_and_close:
            threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        self.sock.settimeout(0.1)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self):
        self._stop = True
        self.sock.close()


@pytest.fixture
def blackhole():
    b = Blackhole()
    yield b
    b.close()


def test_open_port_that_never_answers_is_not_ready(preflight, manifest, blackhole):
    # The per-attempt connect_timeout is longer than the whole budget: the budget wins.
    m = manifest(MANIFEST + "database:\n  connect_timeout: 30s\n")
    r = preflight(["check", "-f", m, "-d", f"postgresql://postgres@127.0.0.1:{blackhole.port}/x",
                   "-t", "1500ms"], timeout=60)
    assert r.code == 69, str(r)
    assert 1.4 <= r.duration < 5, f"the total budget must bound a hanging attempt: {r}"


def test_hanging_attempts_are_retried_within_the_budget(preflight, manifest, blackhole):
    m = manifest(MANIFEST + "database:\n  connect_timeout: 500ms\n")
    r = preflight(["check", "-f", m, "-d", f"postgresql://postgres@127.0.0.1:{blackhole.port}/x",
                   "-t", "2s"], timeout=60)
    assert r.code == 69, str(r)
    assert 1.9 <= r.duration < 6, str(r)
    assert r.stderr.count("preflight:") >= 2, "each retry should be logged"


def test_first_attempt_is_bounded_by_the_manifest(preflight, manifest, blackhole):
    # With -d the first attempt starts before the manifest is read, so before its
    # connect_timeout is known: it must still end after 400 ms and be retried, not hang for the
    # whole budget as one attempt.
    m = manifest(MANIFEST + "database:\n  connect_timeout: 400ms\n")
    r = preflight(["check", "-f", m, "-d", f"postgresql://postgres@127.0.0.1:{blackhole.port}/x",
                   "-t", "2500ms"], timeout=60)
    assert r.code == 69, str(r)
    attempts = re.search(r"\((\d+) attempts\)", r.stderr)
    assert attempts and int(attempts.group(1)) >= 4, str(r)
    assert 2.4 <= r.duration < 7, str(r)


def test_manifest_error_wins_over_the_early_attempt(preflight, manifest, db):
    # The connection started beside the parse is dropped; the manifest's error and exit 78 stand.
    m = manifest("version: 1\ntables:\n  - {name: t, colums: [a]}\n")
    r = preflight(["check", "-f", m, "-d", db.url], timeout=60)
    assert r.code == 78, str(r)
    assert "colums" in r.stderr and "database" not in r.stderr.lower(), str(r)


def test_sigterm_during_a_hanging_connect(manifest, blackhole):
    m = manifest(MANIFEST + "database:\n  connect_timeout: 30s\n")
    p = spawn_preflight(["run", "-f", m, "-d", f"postgresql://postgres@127.0.0.1:{blackhole.port}/x",
                         "-t", "60s", "--", "true"])
    try:
        time.sleep(0.7)
        assert p.poll() is None
        sent = time.monotonic()
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 143, err.decode()
    assert time.monotonic() - sent < 5


def test_server_that_hangs_up_is_retried(preflight, manifest):
    b = Blackhole(accept_and_close=True)
    try:
        r = preflight(["check", "-f", manifest(MANIFEST), "-t", "1500ms",
                       "-d", f"postgresql://postgres@127.0.0.1:{b.port}/x"], timeout=60)
    finally:
        b.close()
    assert r.code == 69, str(r)
    assert r.duration >= 1.4, str(r)
    assert b.accepted >= 2, f"only {b.accepted} attempt(s) in 1.5 s: {r}"
