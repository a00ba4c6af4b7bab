"""--init supervision: the same scenarios against tini and against src/supervise.c.

Every test is parametrized over the supervisor (`tini`: Debian's /usr/bin/tini with -s, so it is a
child subreaper like ours; `preflight`: tests/tools/supervise_driver, which runs pf_supervise_run
exactly as `preflight --init` does) and, where it matters, over how it runs: as a child subreaper
of pytest, or as a real PID 1 in a new PID namespace (`unshare --pid --fork`), where the kernel
drops signals that have no handler and re-parents every orphan to us.

The outcomes are asserted identical, except where preflight differs from tini on purpose
(SIGPIPE, see test_sigpipe_is_not_forwarded).
"""

from __future__ import annotations

import os
import pty
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DRIVER = os.environ.get("PF_SUPERVISE_DRIVER") or str(ROOT / "build" / "tests" / "supervise_driver")
TINI = shutil.which("tini") or "/usr/bin/tini"
PY = sys.executable

SUPERVISORS = ["tini", "preflight"]
MODES = ["subreaper", "pid1"]


@pytest.fixture(scope="module", autouse=True)
def _tools():
    if not os.path.exists(DRIVER):
        pytest.fail(f"supervise driver not built: {DRIVER} (set PF_SUPERVISE_DRIVER)")
    if not os.path.exists(TINI):
        pytest.skip("tini is not installed")


def _can_unshare() -> bool:
    r = subprocess.run(["unshare", "--pid", "--fork", "--kill-child", "true"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return r.returncode == 0


CAN_UNSHARE = shutil.which("unshare") is not None and _can_unshare()


def prefix(kind: str, group: bool = False) -> list[str]:
    if kind == "tini":
        return [TINI, "-s"] + (["-g"] if group else []) + ["--"]
    return [DRIVER] + (["--group"] if group else []) + ["--"]


def proc_status(pid: int) -> dict[str, str]:
    """The fields of /proc/PID/status, or {} if the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        k, _, v = line.partition(":")
        out[k] = v.strip()
    return out


def all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def children_of(pid: int) -> list[tuple[int, str, str]]:
    """(pid, name, state letter) of every process whose parent is pid."""
    out = []
    for p in all_pids():
        st = proc_status(p)
        if st.get("PPid") == str(pid):
            out.append((p, st.get("Name", ""), st.get("State", "?")[:1]))
    return out


def wait_for(pred, timeout: float = 5.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Supervised:
    """A supervisor (tini or ours) running COMMAND, in its own session so that the test can find
    and kill everything it started."""

    def __init__(self, kind: str, mode: str, args: list[str], tmp: Path, group: bool = False,
                 wrap: list[str] | None = None, **popen):
        if mode == "pid1" and not CAN_UNSHARE:
            pytest.skip("cannot create a PID namespace here")
        cmd = (wrap or []) + prefix(kind, group) + args
        if mode == "pid1":
            cmd = ["unshare", "--pid", "--fork", "--kill-child", "--"] + cmd
        self.mode = mode
        self.stderr_path = tmp / f"{kind}.stderr"
        popen.setdefault("stdin", subprocess.DEVNULL)
        popen.setdefault("stdout", subprocess.DEVNULL)
        popen.setdefault("start_new_session", True)
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stderr=err, **popen)
        self._pid = self.proc.pid if mode != "pid1" else None

    @property
    def pid(self) -> int:
        """The supervisor's pid (as seen from here): in pid1 mode, unshare's child."""
        if self._pid is None:
            kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
            self._pid = int(wait_for(lambda: kids.read_text().split(), what="the PID 1")[0])
        return self._pid

    def kill(self, sig: int):
        os.kill(self.pid, sig)

    def wait(self, timeout: float = 5.0) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"supervisor still running after {timeout}s; stderr:\n"
                                 + self.stderr_path.read_text(errors="replace"))

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def cleanup(self):
        """Kills whatever is left of the session."""
        sid = str(self.proc.pid)
        for p in all_pids():
            try:
                if Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[3] == sid:
                    os.kill(p, signal.SIGKILL)
            except (OSError, IndexError):
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


@pytest.fixture
def run(tmp_path):
    started: list[Supervised] = []

    def start(kind, mode, args, **kw) -> Supervised:
        s = Supervised(kind, mode, args, tmp_path, **kw)
        started.append(s)
        return s

    yield start
    for s in started:
        s.cleanup()


# A child that logs every signal it is sent, and exits with the status written to LOG.stop.
SIGNAL_CHILD = r"""
import os, signal, sys, time
log, names = sys.argv[1], sys.argv[2].split(",")
def num(n):
    if n.startswith("RTMIN+"):
        return signal.SIGRTMIN + int(n[6:])
    return getattr(signal, "SIG" + n)
def handler(signum, frame):
    name = next(n for n in names if num(n) == signum)
    with open(log, "a") as f:
        f.write(name + "\n")
for n in names:
    signal.signal(num(n), handler)
with open(log + ".ready", "w") as f:
    f.write(str(os.getpid()))
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    if os.path.exists(log + ".stop"):
        sys.exit(int(open(log + ".stop").read()))
    time.sleep(0.005)
sys.exit(99)
"""


def stop(log: Path, status: int = 0):
    """Tells a SIGNAL_CHILD to exit with status (written whole, then renamed into place)."""
    tmp = Path(str(log) + ".stop.tmp")
    tmp.write_text(str(status))
    tmp.rename(str(log) + ".stop")


def received(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def signal_child(tmp: Path, names: list[str]) -> tuple[list[str], Path]:
    script = tmp / "signal_child.py"
    script.write_text(SIGNAL_CHILD)
    log = tmp / "signals.log"
    return [PY, str(script), str(log), ",".join(names)], log


FORWARDED = ["TERM", "INT", "HUP", "USR1", "USR2", "QUIT", "WINCH"]
MORE = ["ALRM", "CONT", "TSTP", "URG", "VTALRM", "PROF", "XCPU", "XFSZ", "PWR", "RTMIN+2"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", SUPERVISORS)
def test_signals_are_forwarded(run, tmp_path, kind, mode):
    names = FORWARDED + MORE
    args, log = signal_child(tmp_path, names)
    s = run(kind, mode, args)
    wait_for(lambda: Path(str(log) + ".ready").exists(), what="the child to be ready")
    for i, name in enumerate(names):
        num = signal.SIGRTMIN + 2 if name == "RTMIN+2" else getattr(signal, "SIG" + name)
        s.kill(num)
        wait_for(lambda: len(received(log)) > i, timeout=3, what=f"SIG{name} to arrive")
    assert received(log) == names
    stop(log)
    assert s.wait() == 0


@pytest.mark.parametrize("kind", SUPERVISORS)
def test_ttin_ttou_are_not_forwarded(run, tmp_path, kind):
    """Both supervisors ignore SIGTTIN and SIGTTOU (the terminal's complaints about the
    supervisor itself) instead of stopping the application with them."""
    args, log = signal_child(tmp_path, ["TTIN", "TTOU", "USR1"])
    s = run(kind, "subreaper", args)
    wait_for(lambda: Path(str(log) + ".ready").exists(), what="the child to be ready")
    s.kill(signal.SIGTTIN)
    s.kill(signal.SIGTTOU)
    s.kill(signal.SIGUSR1)
    wait_for(lambda: "USR1" in received(log), what="SIGUSR1")
    time.sleep(0.1)
    assert received(log) == ["USR1"]
    assert proc_status(s.pid).get("State", "")[:1] in ("S", "R")   # not stopped
    stop(log)
    assert s.wait() == 0


@pytest.mark.parametrize("kind", SUPERVISORS)
def test_sigpipe_is_not_forwarded(run, tmp_path, kind):
    """The one deliberate difference: tini forwards SIGPIPE; preflight ignores it, because the
    kernel raises it at preflight itself when a health-check client hangs up early."""
    args, log = signal_child(tmp_path, ["PIPE", "USR1"])
    s = run(kind, "subreaper", args)
    wait_for(lambda: Path(str(log) + ".ready").exists(), what="the child to be ready")
    s.kill(signal.SIGPIPE)
    s.kill(signal.SIGUSR1)
    wait_for(lambda: "USR1" in received(log), what="SIGUSR1")
    time.sleep(0.1)
    assert sorted(received(log)) == (["PIPE", "USR1"] if kind == "tini" else ["USR1"])
    stop(log)
    assert s.wait() == 0


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", SUPERVISORS)
@pytest.mark.parametrize("status", [0, 1, 7, 126, 255])
def test_exit_status_passes_through(run, kind, mode, status):
    s = run(kind, mode, ["sh", "-c", f"exit {status}"])
    assert s.wait() == status


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", SUPERVISORS)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL, signal.SIGINT, signal.SIGUSR1,
                                 signal.SIGSEGV])
def test_death_by_signal_is_128_plus_n(run, kind, mode, sig):
    s = run(kind, mode, ["sh", "-c", f"ulimit -c 0; kill -{int(sig)} $$"])
    assert s.wait() == 128 + int(sig)


@pytest.mark.parametrize("kind", SUPERVISORS)
def test_command_not_found_or_not_executable(run, tmp_path, kind):
    s = run(kind, "subreaper", ["/nonexistent/app"])
    assert s.wait() == 127
    script = tmp_path / "noexec.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o644)
    s = run(kind, "subreaper", [str(script)])
    assert s.wait() == 126
    s = run(kind, "subreaper", ["no-such-command-in-path-xyz"])
    assert s.wait() == 127


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", SUPERVISORS)
def test_sigterm_stops_the_app_at_once(run, kind, mode):
    s = run(kind, mode, ["sleep", "30"])
    wait_for(lambda: any(n == "sleep" for _, n, _ in children_of(s.pid)), what="sleep to start")
    t0 = time.monotonic()
    s.kill(signal.SIGTERM)
    assert s.wait(timeout=2) == 143
    assert time.monotonic() - t0 < 2


@pytest.mark.parametrize("kind", SUPERVISORS)
def test_app_that_exits_cleanly_on_sigterm(run, tmp_path, kind):
    app = tmp_path / "graceful.py"
    app.write_text("import signal, sys, time\n"
                   "signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))\n"
                   f"open({str(tmp_path / 'ready')!r}, 'w').close()\n"
                   "time.sleep(30)\n")
    s = run(kind, "subreaper", [PY, str(app)])
    wait_for(lambda: (tmp_path / "ready").exists(), what="the app to be ready")
    t0 = time.monotonic()
    s.kill(signal.SIGTERM)
    assert s.wait(timeout=2) == 0
    assert time.monotonic() - t0 < 2


ORPHANS = r"""
# Twenty orphans: each subshell starts a sleep in the background and exits at once, so the sleep
# is re-parented to the subreaper / PID 1. They exit about 3 s later, while we are still running.
i=0
while [ $i -lt 20 ]; do (sleep 3 &); i=$((i+1)); done
sleep 7
"""


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", SUPERVISORS)
def test_orphaned_zombies_are_reaped(run, kind, mode):
    # The deadlines are generous and nothing depends on how fast the machine is: the orphans live
    # long enough to be counted even when spawning twenty of them takes seconds under load.
    s = run(kind, mode, ["sh", "-c", ORPHANS])
    # First, the orphans really are ours (otherwise reaping them would prove nothing) ...
    adopted = wait_for(lambda: [p for p, n, st in children_of(s.pid) if n == "sleep"], timeout=10,
                       what="orphans to be re-parented")
    wait_for(lambda: len([1 for _, n, _ in children_of(s.pid) if n == "sleep"]) == 20, timeout=10,
             what="all twenty orphans to be re-parented")
    # ... then, once they have exited, none is left as a zombie while the app still runs: an
    # unreaped orphan stays our child (state Z) for ever, so this wait fails if nobody reaps.
    wait_for(lambda: not [1 for _, n, _ in children_of(s.pid) if n == "sleep"], timeout=15,
             what="the exited orphans to be reaped")
    kids = children_of(s.pid)
    assert [k for k in kids if k[2] == "Z"] == [], kids
    assert any(n == "sh" for _, n, _ in kids), "the main child should still be running"
    assert all(not Path(f"/proc/{p}").exists() for p in adopted)
    assert s.wait(timeout=20) == 0


GROUP_PARENT = r"""
import os, signal, subprocess, sys, time
log, child = sys.argv[1], sys.argv[2]
def note(what):
    with open(log, "a") as f:
        f.write(what + "\n")
got = []
signal.signal(signal.SIGTERM, lambda *a: got.append(1))
p = subprocess.Popen([sys.executable, child, log])
while not os.path.exists(log + ".ready"):
    time.sleep(0.005)
open(log + ".parent-ready", "w").close()
while not got:
    time.sleep(0.005)
note("parent")
try:
    p.wait(timeout=1)
except subprocess.TimeoutExpired:
    p.kill()
    p.wait()
sys.exit(0)
"""

GROUP_CHILD = r"""
import signal, sys, time
log = sys.argv[1]
def term(*a):
    with open(log, "a") as f:
        f.write("grandchild\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, term)
open(log + ".ready", "w").close()
time.sleep(10)
"""


@pytest.mark.parametrize("group", [False, True], ids=["child-only", "group"])
@pytest.mark.parametrize("kind", SUPERVISORS)
def test_group_forwarding_reaches_grandchildren(run, tmp_path, kind, group):
    parent = tmp_path / "parent.py"
    parent.write_text(GROUP_PARENT)
    child = tmp_path / "child.py"
    child.write_text(GROUP_CHILD)
    log = tmp_path / "group.log"
    s = run(kind, "subreaper", [PY, str(parent), str(log), str(child)], group=group)
    wait_for(lambda: Path(str(log) + ".parent-ready").exists(), what="the process tree")
    s.kill(signal.SIGTERM)
    assert s.wait() == 0
    expected = ["grandchild", "parent"] if group else ["parent"]
    assert sorted(received(log)) == expected


# What the application inherits. A shell script, because Python changes its own signal
# dispositions at start-up (it ignores SIGPIPE and SIGXFSZ) before a script could look.
PROBE = r"""
set -- "$1" $(cat /proc/$$/stat)
{
  [ "$6" = "$$" ] && echo "pgrp_is_self=True" || echo "pgrp_is_self=False"
  grep -E '^Sig(Blk|Ign)' /proc/self/status | tr -d '\t'
  echo "fds=$(ls /proc/self/fd | sort -n | tr '\n' ' ')"
  echo "env=$PF_MARK"
} > "$1"
"""


def hand_over(run, tmp: Path, kind: str, **kw) -> str:
    script = tmp / "probe.sh"
    script.write_text(PROBE)
    out = tmp / f"probe-{kind}.txt"
    s = run(kind, "subreaper", ["sh", str(script), str(out)], **kw)
    assert s.wait() == 0
    return out.read_text()


def test_clean_hand_over_same_as_tini(run, tmp_path):
    """The application starts in its own process group, with no signal blocked or ignored, no
    descriptor of the supervisor's, and the environment unchanged, exactly as under tini."""
    env = dict(os.environ, PF_MARK="kept")
    ours = hand_over(run, tmp_path, "preflight", env=env)
    assert ours == hand_over(run, tmp_path, "tini", env=env)
    assert "pgrp_is_self=True" in ours
    assert "SigBlk:0000000000000000" in ours and "SigIgn:0000000000000000" in ours
    assert "fds=0 1 2 3 \n" in ours        # 3: ls's own descriptor for /proc/self/fd
    assert "env=kept" in ours


def test_inherited_ignored_signals_are_passed_on(run, tmp_path):
    """A signal preflight's parent ignored (nohup's SIGHUP) stays ignored for the application,
    as it would after a plain exec, and as under tini."""
    def ignore_hup():
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    ours = hand_over(run, tmp_path, "preflight", preexec_fn=ignore_hup)
    assert ours == hand_over(run, tmp_path, "tini", preexec_fn=ignore_hup)
    assert f"SigIgn:{1 << (signal.SIGHUP - 1):016x}" in ours


TTY_CHILD = r"""
import os, signal, sys, time
log = sys.argv[1]
def note(what):
    with open(log, "a") as f:
        f.write(what + "\n")
signal.signal(signal.SIGINT, lambda *a: note("INT"))
note(f"foreground={os.tcgetpgrp(0) == os.getpgrp()}")
deadline = time.monotonic() + 10
while time.monotonic() < deadline and not os.path.exists(log + ".stop"):
    time.sleep(0.005)
"""


@pytest.mark.parametrize("kind", SUPERVISORS)
def test_terminal_goes_to_the_app(run, tmp_path, kind):
    """With a controlling terminal, the app's process group becomes the foreground group, so a
    ^C typed there reaches the app once (from the terminal), not twice (terminal + forward)."""
    master, slave = pty.openpty()
    script = tmp_path / "tty_child.py"
    script.write_text(TTY_CHILD)
    log = tmp_path / "tty.log"

    def take_terminal():
        import fcntl
        import termios
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    try:
        s = run(kind, "subreaper", [PY, str(script), str(log)], stdin=slave,
                preexec_fn=take_terminal)
        wait_for(lambda: received(log), what="the app to report")
        assert received(log) == ["foreground=True"]
        os.write(master, b"\x03")
        wait_for(lambda: "INT" in received(log), what="^C to arrive")
        time.sleep(0.2)
        assert received(log) == ["foreground=True", "INT"]
        Path(str(log) + ".stop").touch()
        assert s.wait() == 0
    finally:
        os.close(master)
        os.close(slave)


@pytest.mark.valgrind
def test_driver_is_valgrind_clean(run, tmp_path):
    vg = ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
          "--errors-for-leak-kinds=definite,indirect", "--track-fds=no"]
    s = run("preflight", "subreaper", ["sh", "-c", "exit 3"], wrap=vg)
    assert s.wait(timeout=60) == 3, s.stderr()
    args, log = signal_child(tmp_path, ["USR1"])
    s = run("preflight", "subreaper", args, wrap=vg)
    wait_for(lambda: Path(str(log) + ".ready").exists(), timeout=30, what="the child")
    s.kill(signal.SIGUSR1)
    wait_for(lambda: received(log) == ["USR1"], timeout=10, what="SIGUSR1")
    s.kill(signal.SIGTERM)      # the app has no handler: it dies, we report 143
    assert s.wait(timeout=60) == 143, s.stderr()
    s = run("preflight", "subreaper", ["/nonexistent/app"], wrap=vg)
    assert s.wait(timeout=60) == 127, s.stderr()
