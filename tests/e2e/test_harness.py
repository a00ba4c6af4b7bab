"""The harness itself: the cluster, its pg_hba rules, per-test databases, pgbouncer."""

import subprocess

import pgharness
from conftest import APP_PASSWORD


def psql_tcp(url, sql="SELECT current_user"):
    return subprocess.run([pgharness.PSQL, "-X", "-At", "-d", url, "-c", sql],
                          env=pgharness.BASE_ENV, capture_output=True, text=True, timeout=30)


def test_cluster_and_database(pg, db):
    assert pg.scalar("SHOW fsync") == "off"
    assert pg.scalar("SHOW server_version").split(".")[0] == str(pgharness.server_major())
    db.sql("CREATE TABLE t (i int)")
    assert db.exists("t")
    assert not db.exists("u")
    assert db.has_column("t", "i")
    assert db.name in pg.psql("SELECT datname FROM pg_database")


def test_pg_hba_rules(pg, db):
    r = psql_tcp(db.url)
    assert r.returncode == 0 and r.stdout.strip() == "postgres", r.stderr
    r = psql_tcp(db.url_as("app", APP_PASSWORD))
    assert r.returncode == 0 and r.stdout.strip() == "app", r.stderr
    r = psql_tcp(db.url_as("app", "wrong"))
    assert r.returncode != 0 and "password authentication failed" in r.stderr
    r = psql_tcp(db.url_as("rejected", APP_PASSWORD))
    assert r.returncode != 0 and "rejects connection" in r.stderr


def test_pgbouncer_passes_through(pg, db, pgbouncer):
    r = psql_tcp(pgbouncer.url(db.name), "SELECT current_database()")
    assert r.returncode == 0, r.stderr + pgbouncer.log_tail()
    assert r.stdout.strip() == db.name


def test_statement_log_parser():
    text = ("2026-01-01 10:00:00.123 UTC [12] mydb postgres LOG:  statement: SELECT 1\n"
            "2026-01-01 10:00:00.124 UTC [12] mydb postgres LOG:  execute <unnamed>: SELECT $1\n"
            "2026-01-01 10:00:00.125 UTC [12] mydb postgres DETAIL:  parameters: $1 = 'x'\n"
            "2026-01-01 10:00:00.126 UTC [13] other postgres LOG:  statement: SELECT 2\n"
            "2026-01-01 10:00:00.127 UTC [14]   LOG:  checkpoint starting: time\n")
    assert pgharness.count_logged_statements(text, "mydb") == 2
    assert pgharness.count_logged_statements(text, "other") == 1


def test_port_locks_stay_below_the_ephemeral_range():
    """A port handed out for a server that starts later must not be one the kernel may give an
    outgoing connection in the meantime (the CI failure of test_late_tcp_http_and_redis_...)."""
    low, high = (int(x) for x in open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
    locks = [pgharness.PortLock() for _ in range(60)]
    try:
        assert all(not (low <= lock.port <= high) for lock in locks), [lock.port for lock in locks]
    finally:
        for lock in locks:
            lock.release()
