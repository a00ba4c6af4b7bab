"""Exit codes of the contract: 78 for a bad manifest (before any network), 64 for usage, 77 for
authentication and permission, 69 for a database that never came, 126/127 for the command."""

import os
import signal
import time
from urllib.parse import quote

import pytest

from conftest import APP_PASSWORD
from e2e_util import load_report, parse_json_stdout
from pgharness import spawn_preflight

OK_MANIFEST = "version: 1\ntables:\n  - name: widgets\n"

BAD_MANIFESTS = {
    "unknown_key": ("version: 1\ntables:\n  - name: widgets\n    colums: []\n", 4),
    "unknown_top_level_key": ("version: 1\ntabels:\n  - name: widgets\n", 2),
    "bad_yaml": ("version: 1\ntables:\n  - name: widgets\n   - name: [oops\n", None),
    "missing_fallback_file": ("version: 1\ntables:\n  - name: widgets\n"
                              "    fallback_file: sql/does-not-exist.sql\n", 4),
    "duplicate_key": ("version: 1\ntables:\n  - name: widgets\n    name: gadgets\n", 4),
    "alias": ("version: 1\ntables:\n  - &t {name: widgets}\n  - *t\n", None),
    "wrong_type": ("version: 1\ntables: {name: widgets}\n", 2),
    "no_version": ("tables:\n  - name: widgets\n", None),
    "bad_duration": ("version: 1\nwait:\n  timeout: soon\n", 3),
    "fallback_and_fallback_file": ("version: 1\ntables:\n  - name: widgets\n"
                                   "    fallback: CREATE TABLE widgets ();\n"
                                   "    fallback_file: sql/w.sql\n", None),
}


@pytest.mark.parametrize("case", sorted(BAD_MANIFESTS))
def test_invalid_manifest_is_78_before_any_network(preflight, manifest, closed_port, case):
    text, line = BAD_MANIFESTS[case]
    m = manifest(text, files={"sql/w.sql": "CREATE TABLE widgets ();\n"})
    url = f"postgresql://postgres@127.0.0.1:{closed_port}/nowhere"
    r = preflight(["run", "-f", m, "-d", url, "-t", "60s", "--", "true"], timeout=30)
    assert r.code == 78, str(r)
    assert r.duration < 5, f"a broken manifest must fail at once, not after waiting: {r}"
    assert r.stdout == ""
    assert "preflight:" in r.stderr
    assert "preflight.yaml" in r.stderr, f"the error should name the file: {r}"
    if line is not None:
        assert f":{line}" in r.stderr or f"line {line}" in r.stderr, \
            f"the error should name line {line}: {r}"

    r = preflight(["lint", "-f", m])
    assert r.code == 78, str(r)
    r = preflight(["check", "-f", m, "-d", url, "-t", "60s"], timeout=30)
    assert r.code == 78 and r.duration < 5, str(r)


def test_manifest_too_large_is_78(preflight, manifest):
    # The default limit is 16 MiB (PREFLIGHT_MANIFEST_MAX_BYTES changes it; see test_hostile.py).
    big = "version: 1\n" + ("# " + "x" * 1021 + "\n") * (16 * 1024 + 16)
    m = manifest(big)
    assert m.stat().st_size > 16 * 1024 * 1024
    r = preflight(["lint", "-f", m])
    assert r.code == 78, str(r)
    assert "16 MiB limit" in r.stderr, str(r)


def test_missing_manifest_file_is_78(preflight, tmp_path):
    r = preflight(["lint", "-f", tmp_path / "nope.yaml"])
    assert r.code == 78, str(r)
    assert "nope.yaml" in r.stderr


def test_lint_valid_manifest(preflight, manifest):
    m = manifest("""
        version: 1
        tables:
          - name: widgets
            fallback_file: sql/w.sql
    """, files={"sql/w.sql": "CREATE TABLE widgets ();\n"})
    r = preflight(["lint", "-f", m])
    assert r.code == 0, str(r)


@pytest.mark.parametrize("args", [
    ["--no-such-option"],
    ["check", "--no-such-option"],
    ["run", "-x"],
    ["check", "-f"],           # missing argument
    ["check", "--timeout"],
])
def test_usage_errors_are_64(preflight, tmp_path, args):
    r = preflight(args, cwd=tmp_path, timeout=30)
    assert r.code == 64, str(r)
    assert r.duration < 5, str(r)
    assert r.stdout == ""


def test_help_and_version(preflight):
    assert preflight(["--help"]).code == 0
    r = preflight(["--version"])
    assert r.code == 0, str(r)


@pytest.mark.parametrize("form", ["url", "keyvalue"])
@pytest.mark.parametrize("verbose", [False, True])
def test_wrong_password_is_77_and_never_printed(db, preflight, manifest, tmp_path, form, verbose):
    password = "Wr0ng-pass_w0rd_771"
    if form == "url":
        url = db.url_as("app", password)
    else:
        url = f"host=127.0.0.1 port={db.port} dbname={db.name} user=app password={password}"
    report = tmp_path / "r.json"
    args = ["check", "-f", manifest(OK_MANIFEST), "-d", url, "-t", "30s", "--report", report]
    if verbose:
        args.append("-v")
    r = preflight(args, timeout=40)
    assert r.code == 77, str(r)
    assert r.duration < 10, f"an authentication failure must not be retried until the budget: {r}"
    for text in (r.stdout, r.stderr, report.read_text() if report.exists() else ""):
        assert password not in text, f"the password leaked: {r}"
    assert r.stderr.startswith("preflight"), str(r)


@pytest.mark.parametrize("form", ["url", "keyvalue", "env"])
def test_right_password_works_and_is_never_printed(db, preflight, manifest, tmp_path, form):
    db.sql("CREATE TABLE widgets (id int)")
    env = {}
    if form == "url":
        url = db.url_as("app", APP_PASSWORD)
    elif form == "keyvalue":
        url = f"host=127.0.0.1 port={db.port} dbname={db.name} user=app password={APP_PASSWORD}"
    else:
        url = f"postgresql://app@127.0.0.1:{db.port}/{db.name}"
        env["PGPASSWORD"] = APP_PASSWORD
    report = tmp_path / "r.json"
    r = preflight(["check", "-v", "-f", manifest(OK_MANIFEST), "-d", url, "-t", "10s",
                   "--report", report], env=env)
    assert r.code == 0, str(r)
    for text in (r.stdout, r.stderr, report.read_text()):
        assert APP_PASSWORD not in text, f"the password leaked: {r}"


def test_password_from_environment_url_never_printed(db, preflight, manifest, tmp_path):
    password = "An0ther-wr0ng_pw_5"
    r = preflight(["run", "-v", "--log-format", "json", "-f", manifest(OK_MANIFEST), "-t", "30s"],
                  env={"DATABASE_URL": db.url_as("app", password)}, timeout=40)
    assert r.code == 77, str(r)
    assert password not in r.stdout + r.stderr


def test_pg_hba_reject_is_77(db, preflight, manifest):
    url = db.url_as("rejected", APP_PASSWORD)
    r = preflight(["check", "-f", manifest(OK_MANIFEST), "-d", url, "-t", "30s"], timeout=40)
    assert r.code == 77, str(r)
    assert r.duration < 10, str(r)
    assert APP_PASSWORD not in r.stdout + r.stderr


def test_no_such_role_is_77(db, preflight, manifest):
    url = db.url_as("nobody_here", "whatever-pw-123")
    r = preflight(["check", "-f", manifest(OK_MANIFEST), "-d", url, "-t", "30s"], timeout=40)
    assert r.code == 77, str(r)
    assert r.duration < 10, str(r)


def test_password_required_but_none_given_is_77(db, preflight, manifest):
    r = preflight(["check", "-f", manifest(OK_MANIFEST), "-d", db.url_as("app"), "-t", "30s"],
                  timeout=40)
    assert r.code == 77, str(r)
    assert r.duration < 10, str(r)


def test_no_connect_privilege_is_77(db, preflight, manifest):
    db.sql(f'REVOKE CONNECT ON DATABASE "{db.name}" FROM PUBLIC')
    r = preflight(["check", "-f", manifest(OK_MANIFEST), "-d", db.url_as("app", APP_PASSWORD),
                   "-t", "30s"], timeout=40)
    assert r.code == 77, str(r)
    assert r.duration < 10, str(r)


def test_nothing_listening_is_69_after_the_budget(preflight, manifest, closed_port):
    url = f"postgresql://postgres@127.0.0.1:{closed_port}/nowhere"
    r = preflight(["run", "-f", manifest(OK_MANIFEST), "-d", url, "-t", "1s", "--", "true"],
                  timeout=30)
    assert r.code == 69, str(r)
    assert 0.9 <= r.duration < 6, str(r)
    assert r.stdout == ""


def test_timeout_from_environment_and_precedence(preflight, manifest, closed_port):
    url = f"postgresql://postgres@127.0.0.1:{closed_port}/nowhere"
    m = manifest(OK_MANIFEST + "wait:\n  timeout: 60s\n")
    # PREFLIGHT_TIMEOUT overrides the manifest's wait.timeout ...
    r = preflight(["check", "-f", m, "-d", url], env={"PREFLIGHT_TIMEOUT": "1s"}, timeout=30)
    assert r.code == 69 and r.duration < 6, str(r)
    # ... and -t overrides PREFLIGHT_TIMEOUT.
    r = preflight(["check", "-f", m, "-d", url, "-t", "500ms"], env={"PREFLIGHT_TIMEOUT": "60s"},
                  timeout=30)
    assert r.code == 69 and r.duration < 5, str(r)


def test_database_url_precedence(db, preflight, manifest, closed_port):
    db.sql("CREATE TABLE widgets (id int)")
    bad = f"postgresql://postgres@127.0.0.1:{closed_port}/nowhere"
    m = manifest(OK_MANIFEST + f"database:\n  url: {bad}\n")
    # The environment beats the manifest; the command line beats the environment.
    r = preflight(["check", "-f", m, "-t", "10s"], env={"DATABASE_URL": db.url})
    assert r.code == 0, str(r)
    r = preflight(["check", "-f", m, "-t", "10s", "-d", db.url], env={"DATABASE_URL": bad})
    assert r.code == 0, str(r)
    r = preflight(["check", "-f", m, "-t", "1s"])
    assert r.code == 69, str(r)


def test_manifest_url_expands_environment(db, preflight, manifest):
    db.sql("CREATE TABLE widgets (id int)")
    m = manifest(OK_MANIFEST + "database:\n"
                 "  url: postgresql://postgres@127.0.0.1:${TEST_PG_PORT}/${TEST_PG_DB:-nowhere}\n")
    r = preflight(["check", "-f", m, "-t", "10s"],
                  env={"TEST_PG_PORT": db.port, "TEST_PG_DB": db.name})
    assert r.code == 0, str(r)


def test_manifest_found_by_env_and_by_default_path(db, preflight, manifest, tmp_path):
    db.sql("CREATE TABLE widgets (id int)")
    m = manifest(OK_MANIFEST)
    r = preflight(["check", "-t", "10s"], env={"PREFLIGHT_MANIFEST": m, "DATABASE_URL": db.url},
                  cwd="/")
    assert r.code == 0, str(r)
    r = preflight(["check", "-t", "10s", "-d", db.url], cwd=tmp_path)   # ./preflight.yaml
    assert r.code == 0, str(r)


def ok_run(db, manifest):
    db.sql("CREATE TABLE widgets (id int)")
    return ["run", "-f", manifest(OK_MANIFEST), "-d", db.url, "-t", "10s", "--"]


def test_missing_command_is_127(db, preflight, manifest):
    r = preflight(ok_run(db, manifest) + ["no-such-command-xyz", "arg"])
    assert r.code == 127, str(r)
    assert r.stdout == ""
    assert "preflight:" in r.stderr


def test_missing_command_path_is_127(db, preflight, manifest, tmp_path):
    r = preflight(ok_run(db, manifest) + [str(tmp_path / "nope")])
    assert r.code == 127, str(r)


def test_non_executable_is_126(db, preflight, manifest, tmp_path):
    script = tmp_path / "app.sh"
    script.write_text("#!/bin/sh\necho should-not-run\n")
    os.chmod(script, 0o644)
    r = preflight(ok_run(db, manifest) + [str(script)])
    assert r.code == 126, str(r)
    assert "should-not-run" not in r.stdout


def test_directory_as_command_is_126(db, preflight, manifest, tmp_path):
    r = preflight(ok_run(db, manifest) + [str(tmp_path)])
    assert r.code == 126, str(r)


def test_report_written_for_auth_failure(db, preflight, manifest, tmp_path):
    report = tmp_path / "r.json"
    r = preflight(["check", "-f", manifest(OK_MANIFEST), "-d", db.url_as("app", "bad-pw-000"),
                   "-t", "10s", "--report", report], timeout=30)
    assert r.code == 77, str(r)
    if report.exists():
        rep = load_report(report)
        assert rep["status"] in ("unavailable", "failed"), rep


def test_timeout_zero_means_no_limit(preflight, manifest, closed_port):
    p = spawn_preflight(["check", "-f", manifest(OK_MANIFEST), "-t", "0",
                         "-d", f"postgresql://postgres@127.0.0.1:{closed_port}/x"])
    try:
        time.sleep(1.5)
        assert p.poll() is None, "with -t 0 preflight must keep waiting"
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=10)
        assert p.returncode == 143
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()


def test_wait_section_expands_environment(preflight, manifest, closed_port):
    m = manifest(OK_MANIFEST + "wait:\n  timeout: ${WAIT_BUDGET:-60s}\n")
    r = preflight(["check", "-f", m, "-d", f"postgresql://postgres@127.0.0.1:{closed_port}/x"],
                  env={"WAIT_BUDGET": "1s"}, timeout=30)
    assert r.code == 69 and r.duration < 6, str(r)


def test_libpq_environment_when_no_url(db, preflight, manifest):
    db.sql("CREATE TABLE widgets (id int)")
    r = preflight(["check", "-f", manifest(OK_MANIFEST), "-t", "10s"],
                  env={"PGHOST": "127.0.0.1", "PGPORT": db.port, "PGDATABASE": db.name,
                       "PGUSER": "postgres"})
    assert r.code == 0, str(r)
    # DATABASE_URL expanded to "" in the manifest also falls through to libpq's variables.
    m = manifest(OK_MANIFEST + "database:\n  url: ${DATABASE_URL}\n", name="empty-url.yaml")
    r = preflight(["check", "-f", m, "-t", "10s"],
                  env={"PGHOST": "127.0.0.1", "PGPORT": db.port, "PGDATABASE": db.name,
                       "PGUSER": "postgres", "DATABASE_URL": ""})
    assert r.code == 0, str(r)


def test_check_format_json_when_unavailable(preflight, manifest, closed_port):
    r = preflight(["check", "--format", "json", "-f", manifest(OK_MANIFEST), "-t", "1s",
                   "-d", f"postgresql://postgres@127.0.0.1:{closed_port}/x"], timeout=30)
    assert r.code == 69, str(r)
    assert parse_json_stdout(r.stdout)["status"] == "unavailable"


def test_fallback_file_is_a_directory_is_78(preflight, manifest, tmp_path):
    (tmp_path / "sqldir").mkdir()
    m = manifest("version: 1\ntables:\n  - name: widgets\n    fallback_file: sqldir\n")
    r = preflight(["lint", "-f", m])
    assert r.code == 78, str(r)


def test_fallback_file_over_the_limit_is_78(preflight, manifest, tmp_path):
    # Fallback files share the manifest's limit (PREFLIGHT_MANIFEST_MAX_BYTES, default 16 MiB).
    m = manifest("version: 1\ntables:\n  - name: widgets\n    fallback_file: big.sql\n",
                 files={"big.sql": ("-- " + "x" * 1020 + "\n") * (4 * 1024 + 16)})
    r = preflight(["lint", "-f", m], env={"PREFLIGHT_MANIFEST_MAX_BYTES": "4MiB"})
    assert r.code == 78, str(r)
    assert "big.sql" in r.stderr and "4 MiB limit" in r.stderr, str(r)
    r = preflight(["lint", "-f", m])
    assert r.code == 0, str(r)


def test_wrong_password_in_manifest_url_json_log(db, preflight, manifest, tmp_path):
    password = "Man1fest-pw_wrong_3"
    m = manifest(OK_MANIFEST + f"database:\n  url: {db.url_as('app', password)}\n")
    report = tmp_path / "r.json"
    r = preflight(["check", "-v", "--log-format", "json", "-f", m, "-t", "30s", "--report", report],
                  timeout=40)
    assert r.code == 77, str(r)
    assert password not in r.stdout + r.stderr
    if report.exists():
        assert password not in report.read_text()


@pytest.mark.parametrize("form", ["url-encoded", "keyvalue-quoted"])
def test_password_with_special_characters_never_printed(db, preflight, manifest, tmp_path, form):
    raw = "p@ss:w0rd/ 'x'%"
    if form == "url-encoded":
        encoded = quote(raw, safe="")
        url = f"postgresql://app:{encoded}@127.0.0.1:{db.port}/{db.name}"
        forms = [raw, encoded]
    else:
        escaped = raw.replace("\\", "\\\\").replace("'", "\\'")
        url = f"host=127.0.0.1 port={db.port} dbname={db.name} user=app password='{escaped}'"
        forms = [raw, escaped]
    report = tmp_path / "r.json"
    r = preflight(["check", "-v", "-f", manifest(OK_MANIFEST), "-d", url, "-t", "30s",
                   "--report", report], timeout=40)
    assert r.code == 77, str(r)
    for text in (r.stdout, r.stderr, report.read_text() if report.exists() else ""):
        for f in forms:
            assert f not in text, f"the password leaked as {f!r}: {r}"


@pytest.mark.parametrize("form", ["url", "keyvalue"])
def test_password_never_printed_while_retrying(preflight, manifest, closed_port, form):
    password = "Retry-pw_s3cret_42"
    if form == "url":
        url = f"postgresql://app:{password}@127.0.0.1:{closed_port}/x"
    else:
        url = f"host=127.0.0.1 port={closed_port} dbname=x user=app password={password}"
    for fmt in ("text", "json"):
        r = preflight(["check", "-v", "--log-format", fmt, "-f", manifest(OK_MANIFEST), "-d", url,
                       "-t", "1s"], timeout=30)
        assert r.code == 69, str(r)
        assert password not in r.stdout + r.stderr, str(r)
