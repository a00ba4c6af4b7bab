"""How often the wait loop retries: a refusal that costs the server nothing (nothing listening)
is retried every few milliseconds, so the application starts as soon as the server is ready; a
server that is up but refusing (53300, too many connections) is not hammered: exponential backoff.

The bounds are loose on purpose (the machines are shared): the refused case expects a fraction
of the ~150 attempts two seconds allow; the refusing-server case an upper bound that load can
only lower."""

import re
import uuid

MANIFEST = """
version: 1
tables:
  - name: widgets
"""


def attempts(stderr: str) -> int:
    m = re.search(r"\((\d+) attempts?\)", stderr)
    assert m, f"no attempt count in:\n{stderr}"
    return int(m.group(1))


def test_nothing_listening_is_retried_often(preflight, manifest, closed_port):
    m = manifest(MANIFEST)
    r = preflight(["wait", "-f", m, "-d", f"postgresql://postgres@127.0.0.1:{closed_port}/x", "-t", "2s"])
    assert r.code == 69, r.stderr
    assert "Connection refused" in r.stderr, r.stderr
    # 5-10 ms apart: ~150 attempts in 2 s unloaded; the old 50 ms -> 500 ms backoff made 10.
    assert attempts(r.stderr) >= 25, r.stderr


def test_too_many_connections_backs_off(preflight, manifest, pg):
    role = "busy_" + uuid.uuid4().hex[:8]
    pg.psql(f'CREATE ROLE "{role}" LOGIN PASSWORD \'pw\' CONNECTION LIMIT 0')
    try:
        m = manifest(MANIFEST)
        r = preflight(["wait", "-f", m, "-d", pg.url("postgres", user=role, password="pw"), "-t", "2s"])
        assert r.code == 69, r.stderr
        assert "53300" in r.stderr or "too many connections" in r.stderr, r.stderr
        # 25-50, 50-100, 100-200, 200-400, then 250-500 ms apart: at most 11 attempts in 2 s.
        assert attempts(r.stderr) <= 13, r.stderr
    finally:
        pg.psql(f'DROP ROLE IF EXISTS "{role}"', check=False)
