"""No memory errors and no definite leaks on the paths that return instead of exec-ing."""


import pytest

from conftest import DATA

VALGRIND = ["valgrind", "--leak-check=full", "--error-exitcode=99",
            "--errors-for-leak-kinds=definite", "--quiet"]
INCIDENTS = DATA / "incidents"

pytestmark = pytest.mark.valgrind


def vg(preflight, args, **kw):
    return preflight(args, wrapper=VALGRIND, timeout=120, **kw)


def test_lint(preflight):
    r = vg(preflight, ["lint", "-f", INCIDENTS / "preflight.yaml"])
    assert r.code == 0, str(r)


def test_lint_invalid_manifest(preflight, manifest):
    m = manifest("version: 1\ntables:\n  - name: widgets\n    colums: []\n")
    r = vg(preflight, ["lint", "-f", m])
    assert r.code == 78, str(r)


def test_check_missing(db, preflight):
    db.sql((INCIDENTS / "schema.sql").read_text())
    r = vg(preflight, ["check", "-f", INCIDENTS / "preflight.yaml", "-d", db.url, "-t", "20s"])
    assert r.code == 65, str(r)


def test_check_present(db, preflight, manifest):
    db.sql((INCIDENTS / "schema.sql").read_text())
    m = manifest("""
        version: 1
        tables:
          - name: users
            columns: [{name: id, type: uuid, nullable: false}, {name: email, type: text}]
          - name: avatar_projects
            columns: [{name: userId, type: uuid}]
        indexes: [{name: avatar_projects_userId_idx, table: avatar_projects}]
    """)
    r = vg(preflight, ["check", "-f", m, "-d", db.url, "-t", "20s", "--report",
                       m.parent / "r.json"])
    assert r.code == 0, str(r)


def test_run_with_fallbacks_no_command(db, preflight):
    db.sql((INCIDENTS / "schema.sql").read_text())
    r = vg(preflight, ["run", "-f", INCIDENTS / "preflight.yaml", "-d", db.url, "-t", "20s"])
    assert r.code == 0, str(r)


def test_unavailable(preflight, manifest, closed_port):
    m = manifest("version: 1\ntables:\n  - name: widgets\n")
    r = vg(preflight, ["check", "-f", m, "-d", f"postgresql://postgres@127.0.0.1:{closed_port}/x",
                       "-t", "1s"])
    assert r.code == 69, str(r)
