"""What a wait says: few lines at info however long it lasts (first failure, changes of cause, a
progress line about every 5 s), every attempt at debug, and a final 69 message that names the last
real cause, not the time-out of the last attempt that was cut short to fit the budget."""

import re

import pytest

MANIFEST = "version: 1\n"


def info_lines(stderr: str) -> list:
    return [line for line in stderr.splitlines() if line.startswith("preflight:")]


@pytest.mark.slow
def test_a_long_wait_logs_a_line_every_five_seconds(preflight, manifest, closed_port):
    m = manifest(MANIFEST)
    url = f"postgresql://postgres@127.0.0.1:{closed_port}/app"
    r = preflight(["wait", "-f", m, "-d", url, "-t", "11s"], timeout=60)
    assert r.code == 69, str(r)
    lines = info_lines(r.stderr)
    # 11 s of attempts every <= 500 ms is over 20 attempts; at info: the first failure, a progress
    # line at ~5 s and ~10 s, the final error. A minute is therefore about 14 lines.
    assert re.search(r"attempt 1 failed: .*refused", lines[0]), lines
    progress = [line for line in lines if "still waiting for" in line]
    assert 1 <= len(progress) <= 3, lines
    assert re.search(r"still waiting for database 127\.0\.0\.1:\d+/app: \d+ attempts in \d+s, "
                     r"still: .*refused.*; \d+s left", progress[0]), progress
    assert len(lines) <= 2 + r.duration / 5 + 1, f"{len(lines)} lines in {r.duration:.1f}s:\n{r.stderr}"
    assert "not ready after" in lines[-1]


def test_every_attempt_is_logged_at_debug(preflight, manifest, closed_port):
    m = manifest(MANIFEST)
    url = f"postgresql://postgres@127.0.0.1:{closed_port}/app"
    r = preflight(["wait", "-v", "-f", m, "-d", url, "-t", "2s"], timeout=60)
    assert r.code == 69, str(r)
    attempts = re.findall(r"attempt (\d+) failed", r.stderr)
    final = int(re.search(r"\((\d+) attempts?\)", r.stderr).group(1))
    assert final >= 4, r.stderr
    assert sorted(set(map(int, attempts))) == list(range(1, final + 1)), r.stderr


def test_the_final_message_names_the_real_cause(pg, preflight, manifest):
    m = manifest(MANIFEST)
    url = pg.url("no_such_db_here")
    r = preflight(["wait", "-f", m, "-d", url, "-t", "1500ms"], timeout=60)
    assert r.code == 69, str(r)
    last = info_lines(r.stderr)[-1]
    assert 'database "no_such_db_here" does not exist' in last and "3D000" in last, r.stderr
    assert "timed out" not in last, r.stderr
    # The cause never changed: one attempt line at info, then the final error.
    assert len(info_lines(r.stderr)) == 2, r.stderr


def test_server_without_ssl_is_named_in_the_final_message(pg, preflight, manifest):
    if pg.scalar("SHOW ssl") == "on":
        pytest.skip("the test cluster has SSL")
    m = manifest(MANIFEST)
    r = preflight(["wait", "-f", m, "-d", pg.url("postgres") + "?sslmode=require", "-t", "1500ms"],
                  timeout=60)
    assert r.code == 69, str(r)
    last = info_lines(r.stderr)[-1]
    assert "server does not support SSL" in last, r.stderr
    assert "timed out" not in last, r.stderr
