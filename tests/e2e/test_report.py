"""The JSON report written by --report (and PREFLIGHT_REPORT): one status per outcome."""

import pgharness
from e2e_util import find_item, load_report

TABLE_WITH_FALLBACK = """
version: 1
tables:
  - name: widgets
    fallback: CREATE TABLE widgets (id int);
"""


def check_database(rep, db):
    d = rep["database"]
    assert d["host"] == "127.0.0.1", d
    assert d["port"] == db.port and isinstance(d["port"], int), d
    assert d["dbname"] == db.name, d
    assert str(d["server_version"]).split(".")[0] == str(pgharness.server_major()), d


def test_report_ok(db, preflight, manifest, tmp_path):
    db.sql("CREATE TABLE widgets (id int)")
    report = tmp_path / "r.json"
    r = preflight(["run", "-f", manifest(TABLE_WITH_FALLBACK), "-d", db.url, "-t", "10s",
                   "--report", report])
    assert r.code == 0, str(r)
    rep = load_report(report)
    assert rep["status"] == "ok"
    check_database(rep, db)
    assert find_item(rep, "table", "public.widgets")["status"] == "present"
    assert rep["timings_ms"]["total"] >= rep["timings_ms"]["verify"]


def test_report_fixed(db, preflight, manifest, tmp_path):
    report = tmp_path / "r.json"
    r = preflight(["run", "-f", manifest(TABLE_WITH_FALLBACK), "-d", db.url, "-t", "10s",
                   "--report", report])
    assert r.code == 0, str(r)
    rep = load_report(report)
    assert rep["status"] == "fixed"
    check_database(rep, db)
    assert find_item(rep, "table", "public.widgets")["status"] == "created"


def test_report_missing_in_run_without_fallback(db, preflight, manifest, tmp_path):
    report = tmp_path / "r.json"
    m = manifest("version: 1\ntables:\n  - name: widgets\n")
    r = preflight(["run", "-f", m, "-d", db.url, "-t", "10s", "--report", report, "--",
                   "sh", "-c", "echo app-ran"])
    assert r.code == 65, str(r)
    assert r.stdout == ""
    rep = load_report(report)
    assert rep["status"] == "missing"
    check_database(rep, db)
    assert find_item(rep, "table", "widgets")["status"] == "missing"


def test_report_failed(db, preflight, manifest, tmp_path):
    report = tmp_path / "r.json"
    m = manifest("""
        version: 1
        tables:
          - name: widgets
            fallback: CREATE TABLE widgets (id int;
    """)
    r = preflight(["run", "-f", m, "-d", db.url, "-t", "10s", "--report", report])
    assert r.code == 70, str(r)
    rep = load_report(report)
    assert rep["status"] == "failed"
    item = find_item(rep, "table", "widgets")
    assert item["status"] == "failed"
    assert item.get("detail"), f"a failed fallback should say why: {item}"


def test_report_unavailable(preflight, manifest, tmp_path, closed_port):
    report = tmp_path / "r.json"
    r = preflight(["run", "-f", manifest(TABLE_WITH_FALLBACK), "-t", "1s", "--report", report,
                   "-d", f"postgresql://postgres@127.0.0.1:{closed_port}/nowhere"])
    assert r.code == 69, str(r)
    rep = load_report(report)
    assert rep["status"] == "unavailable"
    assert rep["database"].get("port") in (closed_port, None), rep["database"]
    assert rep["timings_ms"]["wait"] >= 900, rep["timings_ms"]


def test_report_path_from_environment(db, preflight, manifest, tmp_path):
    db.sql("CREATE TABLE widgets (id int)")
    report = tmp_path / "env.json"
    r = preflight(["check", "-f", manifest(TABLE_WITH_FALLBACK), "-d", db.url, "-t", "10s"],
                  env={"PREFLIGHT_REPORT": str(report)})
    assert r.code == 0, str(r)
    assert load_report(report)["status"] == "ok"


def test_report_items_cover_every_kind_and_name(db, preflight, manifest, tmp_path):
    db.sql("""
        CREATE SCHEMA app;
        CREATE TABLE app.accounts (id int PRIMARY KEY, owner text);
        CREATE VIEW app.account_owners AS SELECT owner FROM app.accounts;
    """)
    report = tmp_path / "r.json"
    m = manifest("""
        version: 1
        schemas: [{name: app}]
        tables:
          - name: app.accounts
            columns: [{name: owner, type: text}]
        views: [{name: app.account_owners}]
        checks:
          - name: accounts is empty
            sql: SELECT count(*) = 0 FROM app.accounts
    """)
    r = preflight(["check", "-f", m, "-d", db.url, "-t", "10s", "--report", report])
    assert r.code == 0, str(r)
    rep = load_report(report)
    assert find_item(rep, "schema", "app")["status"] == "present"
    assert find_item(rep, "table", "app.accounts")["status"] == "present"
    assert find_item(rep, "column", "app.accounts.owner")["status"] == "present"
    assert find_item(rep, "view", "app.account_owners")["status"] == "present"
    assert find_item(rep, "check", "accounts is empty")["status"] == "present"
