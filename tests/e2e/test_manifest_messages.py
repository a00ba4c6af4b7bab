"""Manifest mistakes get words that say what to do (issue 12 item 5), through the binary: exit 78
and one line naming file:line:column. No database is needed (lint)."""
import subprocess

import pytest

from pgharness import preflight_bin, preflight_env


def _lint(path):
    p = subprocess.run([preflight_bin(), "lint", "-f", str(path)], env=preflight_env(None),
                       capture_output=True, stdin=subprocess.DEVNULL, timeout=20)
    return p.returncode, p.stderr.decode()


@pytest.mark.parametrize("text,where,words", [
    ("version: 1\ntables:\n  - name: users\n    colums: []\n", ":4:5:",
     'unknown key "colums" for a table (did you mean "columns"?)'),
    ("version: 1\ntables:\n  - name: users\n    columns:\n      - {name: id, tpye: uuid}\n",
     ":5:20:", 'unknown key "tpye" for a column (did you mean "type"?)'),
    ("version: 1\ntabels: []\n", ":2:1:", 'unknown top-level key "tabels" (did you mean "tables"?)'),
    ("version: 1\nwait:\n  timout: 5s\n", ":3:3:", 'wait: unknown key "timout" (did you mean "timeout"?'),
    ("version: 1\nconstraints: [{name: c, table: t, type: foreign-key}]\n", ":2:41:",
     'got "foreign-key" (did you mean "foreign_key"?)'),
    ("version: 1\ntables:\n\t- name: users\n", ":3:1:",
     "a tab character: YAML indents with spaces only"),
])
def test_mistake_names_the_place_and_the_fix(tmp_path, text, where, words):
    m = tmp_path / "preflight.yaml"
    m.write_text(text)
    code, err = _lint(m)
    assert code == 78, err
    assert f"{m}{where}" in err and words in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert "cannot start any token" not in err
