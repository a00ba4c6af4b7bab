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
