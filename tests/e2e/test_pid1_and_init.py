"""preflight as a container's PID 1 (a new PID namespace, where the kernel drops signals that have
no handler), and `--init`, where it stays PID 1 and supervises the command."""

import os
import shutil
import signal
import subprocess
import time

import pytest

from pgharness import preflight_bin, preflight_env, spawn_preflight

pytestmark = pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare")

MANIFEST = "version: 1\ntables:\n  - name: widgets\n"


def as_pid1(args, env=None):
    """Starts preflight as PID 1 of a new PID namespace; unshare exits with its status."""
    return subprocess.Popen(["unshare", "--pid", "--fork", "--kill-child", "--",
                             preflight_bin(), *map(str, args)],
                            env=preflight_env(env), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def child_pid(unshare_pid: int, timeout: float = 5) -> int:
    """The pid (in our namespace) of unshare's forked child, i.e. the namespace's PID 1."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{unshare_pid}/task/{unshare_pid}/children") as f:
                kids = f.read().split()
            if kids:
                return int(kids[0])
        except OSError:
            pass
        time.sleep(0.02)
    raise AssertionError("unshare did not start its child")


def finish(p, timeout=20):
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise AssertionError(f"still running after {timeout}s\n{err.decode()}")
    return p.returncode, out.decode(), err.decode()


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_while_waiting_as_pid1(manifest, closed_port, sig, code):
    m = manifest(MANIFEST)
    p = as_pid1(["run", "-f", m, "-d", f"postgresql://postgres@127.0.0.1:{closed_port}/x",
                 "-t", "60s", "--", "true"])
    pid1 = child_pid(p.pid)
    time.sleep(0.5)
    sent = time.monotonic()
    os.kill(pid1, sig)
    rc, out, err = finish(p)
    assert rc == code, f"exit {rc}\n{err}"
    assert time.monotonic() - sent < 5
    assert out == ""


def test_exec_as_pid1_hands_pid1_to_the_app(db, manifest):
    db.sql("CREATE TABLE widgets (id int)")
    m = manifest(MANIFEST)
    p = as_pid1(["-f", m, "-d", db.url, "-t", "10s", "--", "sh", "-c", "echo pid=$$; exit 5"])
    rc, out, err = finish(p)
    assert rc == 5, err
    assert out == "pid=1\n"


def test_init_passes_the_exit_status(db, preflight, manifest):
    db.sql("CREATE TABLE widgets (id int)")
    m = manifest(MANIFEST)
    r = preflight(["--init", "-f", m, "-d", db.url, "-t", "10s", "--", "sh", "-c",
                   "echo child; exit 9"])
    assert r.code == 9, str(r)
    assert r.stdout == "child\n"


def test_init_child_killed_by_signal_is_128_plus_n(db, preflight, manifest):
    db.sql("CREATE TABLE widgets (id int)")
    m = manifest(MANIFEST)
    r = preflight(["--init", "-f", m, "-d", db.url, "-t", "10s", "--", "sh", "-c",
                   "kill -KILL $$"])
    assert r.code == 137, str(r)


@pytest.mark.parametrize("how", ["--init", "PREFLIGHT_INIT=1"])
def test_init_supervises_a_child_instead_of_exec(db, manifest, how):
    db.sql("CREATE TABLE widgets (id int)")
    m = manifest(MANIFEST)
    args = ["-f", m, "-d", db.url, "-t", "10s", "--", "sh", "-c", 'echo "$PPID $$"']
    env = {}
    if how == "--init":
        args.insert(0, "--init")
    else:
        env["PREFLIGHT_INIT"] = "1"
    p = spawn_preflight(args, env=env)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err.decode()
    ppid, pid = map(int, out.split())
    # With --init preflight stays and forks: the app is its child, not preflight itself.
    assert pid != p.pid, "--init exec'd the command instead of supervising it"
    assert ppid == p.pid


def test_init_as_pid1_forwards_sigterm(db, manifest, tmp_path):
    db.sql("CREATE TABLE widgets (id int)")
    m = manifest(MANIFEST)
    ready = tmp_path / "ready"
    script = (f"trap 'echo got-term; exit 3' TERM; touch {ready}; "
              "while :; do sleep 0.05; done")
    p = as_pid1(["--init", "-f", m, "-d", db.url, "-t", "10s", "--", "sh", "-c", script])
    pid1 = child_pid(p.pid)
    deadline = time.monotonic() + 10
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert ready.exists(), "the child never started"
    os.kill(pid1, signal.SIGTERM)
    rc, out, err = finish(p)
    assert rc == 3, f"exit {rc}\n{err}"
    assert out == "got-term\n"
