"""A hostile environment (issue 10): closed standard descriptors, stuck pipes, frozen servers,
secrets in odd connection strings, huge expansions, planted symlinks. Every test here failed on
the code before the fix it guards."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from pgharness import preflight_bin, preflight_env


def test_variable_expansion_is_bounded(manifest, closed_port):
    # Issue 10 item 7: 10,000 references to a 120 KB variable in one value used to expand to
    # 1.2 GB (3.4 GB peak RSS). Now it is a manifest error naming the line, in bounded memory.
    refs = "${BIG}" * 10000
    m = manifest(f"version: 1\ndatabase:\n  url: \"{refs}\"\ntables:\n  - name: t\n")
    env = {"BIG": "x" * 120_000}
    p = subprocess.Popen([preflight_bin(), "lint", "-f", m], env=preflight_env(env),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    t0 = time.monotonic()
    _, status, ru = os.wait4(p.pid, 0)
    out, err = p.stdout.read().decode(), p.stderr.read().decode()
    p.returncode = os.waitstatus_to_exitcode(status)
    assert p.returncode == 78, (p.returncode, err[-2000:])
    assert "preflight.yaml:3" in err, err
    assert "more than" in err, err
    assert "xxxxxxxx" not in err, "the message must not quote the value"
    # ru_maxrss is in KiB; even the ASan build stays far below this.
    assert ru.ru_maxrss < 256 * 1024, f"peak RSS {ru.ru_maxrss} KiB"
    assert time.monotonic() - t0 < 30


FALLBACK_MANIFEST = """\
version: 1
tables:
  - name: hostile_t
    fallback: CREATE TABLE hostile_t (id int);
"""


@pytest.mark.parametrize("closed", [0, 1, 2])
@pytest.mark.parametrize("command", ["run", "check", "wait"])
def test_closed_standard_descriptor(db, manifest, closed, command):
    # Issue 10 item 1: with 0, 1 or 2 closed, libuv's epoll descriptor took the free number and
    # uv_loop_close aborted (134) -- in `run` after the fallback had committed.
    m = manifest(FALLBACK_MANIFEST)
    args = [preflight_bin(), command, "-f", str(m), "-d", db.url, "-t", "30s"]
    if command == "run":
        args += ["--", "true"]
    std = [subprocess.DEVNULL, subprocess.PIPE, subprocess.PIPE]
    p = subprocess.Popen(args, env=preflight_env(None), stdin=std[0], stdout=std[1],
                         stderr=std[2], preexec_fn=lambda: os.close(closed))
    out, err = p.communicate(timeout=60)
    want = {"run": 0, "check": 65, "wait": 0}[command]
    assert p.returncode == want, (p.returncode, err.decode(errors="replace"))
    assert db.exists("hostile_t") == (command == "run")
    if closed != 1:
        assert out == b"", "stdout belongs to the application"


def test_fifo_manifest_is_refused(tmp_path, closed_port):
    # Issue 10 item 9: a FIFO as the manifest blocked open() for ever (and, as PID 1, ignored
    # SIGTERM). It is refused up front with 78, naming the file.
    fifo = tmp_path / "preflight.yaml"
    os.mkfifo(fifo)
    for command in ("lint", "check", "run"):
        p = subprocess.run([preflight_bin(), command, "-f", fifo, "-d",
                            f"postgresql://postgres@127.0.0.1:{closed_port}/x", "-t", "30s"],
                           env=preflight_env(None), stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=20)
        err = p.stderr.decode()
        assert p.returncode == 78, (command, p.returncode, err)
        assert str(fifo) in err and "FIFO" in err, err


def test_fifo_fallback_file_is_refused(manifest, tmp_path):
    os.mkfifo(tmp_path / "t.sql")
    m = manifest("version: 1\ntables:\n  - name: t\n    fallback_file: t.sql\n")
    p = subprocess.run([preflight_bin(), "lint", "-f", m], env=preflight_env(None),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
    assert p.returncode == 78, p
    assert "t.sql" in p.stderr.decode() and "preflight.yaml:4" in p.stderr.decode(), p


def test_manifest_too_large_names_a_position(manifest):
    # Issue 10 item 10: the over-4 MiB error named no position.
    line = "# " + "x" * 1021 + "\n"            # 1024 bytes a line
    m = manifest("version: 1\n" + line * (4 * 1024 + 16))
    p = subprocess.run([preflight_bin(), "lint", "-f", m], env=preflight_env(None),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
    err = p.stderr.decode()
    assert p.returncode == 78, err
    # 4 MiB = 11 bytes of "version: 1\n" + 4095 full lines + 1013 bytes of line 4097.
    assert "line 4097" in err and "column 1014" in err, err


def _lint(m, *extra, env=None):
    p = subprocess.run([preflight_bin(), "lint", "-f", m, *extra], env=preflight_env(env),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
    return p.returncode, p.stderr.decode()


def test_fallback_file_is_confined_to_the_manifest_folder(manifest, tmp_path):
    # Issue 10 item 11: fallback_file could be absolute, ../ or a symlink to /etc/shadow, whose
    # contents would be sent as SQL (and quoted back by the syntax error).
    outside = tmp_path.parent / (tmp_path.name + "-outside.sql")
    outside.write_text("SELECT 1;\n")
    app = tmp_path / "app"
    (app / "sql").mkdir(parents=True)
    (app / "sql" / "ok.sql").write_text("CREATE TABLE t ();\n")
    os.symlink("/etc/shadow", app / "sql" / "shadow.sql")
    os.symlink(outside, app / "sql" / "out.sql")
    os.symlink("ok.sql", app / "sql" / "alias.sql")          # inside: fine
    cases = {
        "/etc/passwd": False,
        str(outside): False,
        f"../../{outside.name}": False,
        "sql/../../../" + outside.name: False,
        "sql/shadow.sql": False,
        "sql/out.sql": False,
        "sql/ok.sql": True,
        "sql/alias.sql": True,
        str(app / "sql" / "ok.sql"): True,                   # absolute but inside
    }
    try:
        for ref, allowed in cases.items():
            m = app / "preflight.yaml"
            m.write_text(f"version: 1\ntables:\n  - name: t\n    fallback_file: '{ref}'\n")
            code, err = _lint(m)
            if allowed:
                assert code == 0, (ref, err)
            else:
                assert code == 78, (ref, code, err)
                assert "preflight.yaml:4" in err and "outside" in err and "--fallback-root" in err, err
                assert "root:" not in err
        # The explicit option (or its variable) widens the folder.
        m.write_text(f"version: 1\ntables:\n  - name: t\n    fallback_file: '{outside}'\n")
        assert _lint(m, "--fallback-root", str(tmp_path.parent))[0] == 0
        assert _lint(m, env={"PREFLIGHT_FALLBACK_ROOT": "/"})[0] == 0
        assert _lint(m, "--fallback-root", str(app))[0] == 78
    finally:
        outside.unlink()


def test_health_interval_zero_is_a_usage_error(manifest):
    # Issue 10 item 10: --health-interval 0 silently meant 10 s.
    m = manifest("version: 1\n")
    p = subprocess.run([preflight_bin(), "run", "-f", m, "--init", "--health-listen",
                        "127.0.0.1:0", "--health-interval", "0", "--", "true"],
                       env=preflight_env(None), stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=20)
    assert p.returncode == 64, p
    assert "--health-interval" in p.stderr.decode(), p
