"""Twenty replicas start at once against a database that lacks a table: the advisory lock lets
exactly one of them run the fallback, and all twenty start their app."""

import time

import pytest

import pgharness
from e2e_util import communicate_all
from pgharness import spawn_preflight

REPLICAS = 20


def manifest_text():
    return """
version: 1
tables:
  - name: widgets
    fallback: |
      CREATE TABLE widgets (id int);
      INSERT INTO fallback_runs DEFAULT VALUES;
"""


def run_replicas(url, manifest_path, tmp_path, replicas=REPLICAS):
    started = tmp_path / "started"
    procs = []
    for _ in range(replicas):
        procs.append(spawn_preflight(
            ["run", "-f", manifest_path, "-d", url, "-t", "60s", "--",
             "sh", "-c", f"echo started >> {started}"]))
    results = communicate_all(procs, 120)
    return results, started


def check_replicas(db, results, started, replicas=REPLICAS):
    failures = [r for r in results if r[0] != 0]
    assert not failures, f"{len(failures)} replicas failed; first: exit {failures[0][0]}\n" \
                         f"{failures[0][2]}"
    assert db.scalar("SELECT count(*) FROM fallback_runs") == "1"
    assert started.read_text().splitlines() == ["started"] * replicas
    assert db.exists("widgets")


@pytest.mark.slow
def test_twenty_replicas_direct(db, manifest, tmp_path):
    db.sql("CREATE TABLE fallback_runs (id serial PRIMARY KEY, at timestamptz DEFAULT now())")
    m = manifest(manifest_text())
    results, started = run_replicas(db.url, m, tmp_path)
    check_replicas(db, results, started)


@pytest.mark.slow
def test_twenty_replicas_through_pgbouncer_transaction_pooling(db, pgbouncer, manifest, tmp_path):
    db.sql("CREATE TABLE fallback_runs (id serial PRIMARY KEY, at timestamptz DEFAULT now())")
    m = manifest(manifest_text())
    results, started = run_replicas(pgbouncer.url(db.name), m, tmp_path)
    check_replicas(db, results, started)


@pytest.mark.slow
def test_fifty_replicas_direct(db, manifest, tmp_path):
    db.sql("CREATE TABLE fallback_runs (id serial PRIMARY KEY, at timestamptz DEFAULT now())")
    m = manifest(manifest_text())
    results, started = run_replicas(db.url, m, tmp_path, replicas=50)
    check_replicas(db, results, started, replicas=50)


@pytest.mark.slow
@pytest.mark.skipif(pgharness.server_major() < 14,
                    reason="PostgreSQL 13 has no client_connection_check_interval: a backend in "
                           "pg_sleep(60) notices its killed client only when the sleep ends")
def test_kill_9_mid_fallback_releases_the_lock_and_commits_nothing(db, manifest, tmp_path):
    """A replica SIGKILLed while its fallback runs under the lock: the server sees the sockets
    close, rolls its transaction back and releases the lock; the next replica repairs at once."""
    db.sql("CREATE TABLE fallback_runs (id serial PRIMARY KEY, at timestamptz DEFAULT now())")
    slow = manifest(manifest_text().replace("DEFAULT VALUES;", "DEFAULT VALUES;\n      SELECT pg_sleep(60);"),
                    name="slow.yaml")
    fast = manifest(manifest_text(), name="fast.yaml")
    first = spawn_preflight(["run", "-f", slow, "-d", db.url, "-t", "30s"])
    second = None
    try:
        for _ in range(400):
            if db.scalar("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' "
                         "AND pid <> pg_backend_pid()") != "0":
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the first replica never reached its slow fallback")
        second = spawn_preflight(["run", "-f", fast, "-d", db.url, "-t", "30s", "--", "true"])
        time.sleep(0.5)
        assert second.poll() is None, "the second replica must wait for the lock"
        first.kill()
        first.wait()
        t0 = time.monotonic()
        out, err = second.communicate(timeout=30)
        assert second.returncode == 0, err.decode()
        assert time.monotonic() - t0 < 10, err.decode()
    finally:
        for p in (first, second):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
    assert db.scalar("SELECT count(*) FROM fallback_runs") == "1"
    assert db.exists("widgets")


def test_check_through_pgbouncer(db, pgbouncer, preflight, manifest, tmp_path):
    db.sql("CREATE TABLE widgets (id int)")
    m = manifest("version: 1\ntables:\n  - name: widgets\n    columns: [{name: id, type: int}]\n")
    r = preflight(["check", "-f", m, "-d", pgbouncer.url(db.name), "-t", "10s"])
    assert r.code == 0, str(r)
