"""`check`, `run --check`, PREFLIGHT_MODE=check and `fallback.mode: check` never write."""

import pytest

from e2e_util import find_item, load_report, parse_json_stdout

SCHEMA = "CREATE TABLE users (id uuid PRIMARY KEY, email text);"

# Everything missing has a fallback, so only the mode keeps preflight from writing.
MANIFEST = """
version: 1
tables:
  - name: users
    columns:
      - {name: id, type: uuid}
      - name: avatar_url
        type: text
        fallback: ALTER TABLE users ADD COLUMN IF NOT EXISTS avatar_url text;
  - name: interview_sessions
    fallback: CREATE TABLE interview_sessions (id uuid PRIMARY KEY);
functions:
  - signature: answer(integer)
    fallback: "CREATE FUNCTION answer(integer) RETURNS integer LANGUAGE sql AS $$ SELECT 42 $$;"
"""

PRESENT = """
version: 1
tables:
  - name: users
    columns:
      - {name: id, type: uuid, nullable: false}
      - {name: email, type: text}
"""


@pytest.mark.parametrize("how", ["check", "run --check", "PREFLIGHT_MODE=check",
                                 "fallback.mode: check"])
def test_check_modes_write_nothing(db, preflight, manifest, tmp_path, how):
    db.sql(SCHEMA)
    text = MANIFEST
    env = {}
    if how == "fallback.mode: check":
        text += "fallback:\n  mode: check\n"
    if how == "PREFLIGHT_MODE=check":
        env["PREFLIGHT_MODE"] = "check"
    m = manifest(text)
    before = db.catalog_snapshot()
    if how == "check":
        args = ["check", "-f", m, "-d", db.url, "-t", "10s"]
    else:
        args = ["run", "-f", m, "-d", db.url, "-t", "10s"]
        if how == "run --check":
            args.append("--check")
        args += ["--", "sh", "-c", "echo app-ran"]
    report = tmp_path / "report.json"
    args[1:1] = ["--report", report]
    r = preflight(args, env=env)
    assert r.code == 65, str(r)
    # Something required is missing, so the app is not started.
    assert "app-ran" not in r.stdout, str(r)
    assert r.stdout == "", str(r)
    after = db.catalog_snapshot()
    assert before == after, "the catalog changed in check mode"
    rep = load_report(report)
    assert rep["status"] == "missing"
    assert find_item(rep, "column", "users.avatar_url")["status"] == "missing"
    assert find_item(rep, "table", "interview_sessions")["status"] == "missing"
    assert find_item(rep, "function", "answer(integer)")["status"] == "missing"


def test_check_present_exits_0_and_prints_nothing_on_stdout(db, preflight, manifest):
    db.sql("CREATE TABLE users (id uuid PRIMARY KEY, email text);")
    m = manifest(PRESENT)
    before = db.catalog_snapshot()
    r = preflight(["check", "-f", m, "-d", db.url, "-t", "10s"])
    assert r.code == 0, str(r)
    assert r.stdout == "", str(r)
    assert db.catalog_snapshot() == before


def test_check_format_json_prints_the_report_on_stdout(db, preflight, manifest):
    db.sql(SCHEMA)
    m = manifest(MANIFEST)
    r = preflight(["check", "--format", "json", "-f", m, "-d", db.url, "-t", "10s"])
    assert r.code == 65, str(r)
    rep = parse_json_stdout(r.stdout)
    assert rep["status"] == "missing"
    assert find_item(rep, "column", "public.users.avatar_url")["status"] == "missing"
    assert find_item(rep, "column", "public.users.id")["status"] == "present"
    assert rep["database"]["dbname"] == db.name

    m2 = manifest(PRESENT, name="present.yaml")
    r = preflight(["check", "--format", "json", "-f", m2, "-d", db.url, "-t", "10s"])
    assert r.code == 0, str(r)
    rep = parse_json_stdout(r.stdout)
    assert rep["status"] == "ok"
    assert {i["status"] for i in rep["items"]} == {"present"}


def test_run_check_starts_the_app_when_only_warnings_are_missing(db, preflight, manifest):
    db.sql(SCHEMA)
    m = manifest("""
        version: 1
        tables:
          - name: users
          - name: nice_to_have
            severity: warn
            fallback: CREATE TABLE nice_to_have (id int);
    """)
    before = db.catalog_snapshot()
    r = preflight(["run", "--check", "-f", m, "-d", db.url, "-t", "10s", "--",
                   "sh", "-c", "echo app-ran; exit 3"])
    assert r.code == 3, str(r)
    assert r.stdout == "app-ran\n", str(r)
    assert db.catalog_snapshot() == before
