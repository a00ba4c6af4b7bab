"""Configured the way containers are configured: secrets from files, every option from the
environment (strict booleans), options through the image's CMD after ENTRYPOINT ["preflight", "--"],
common mistakes answered at once with words that say what to do, one order for the fallback lines,
and the Kubernetes termination log."""

import http.client
import os
import re
import shutil
import subprocess
import time

import pytest

import pgharness
from conftest import APP_PASSWORD
from pgharness import spawn_preflight

OK = "version: 1\n"


def last_line(r) -> str:
    return r.stderr.strip().splitlines()[-1]


# ---- secrets from files -------------------------------------------------------------------------

def test_database_url_file(db, preflight, manifest, tmp_path):
    secret = tmp_path / "db_url"
    secret.write_text(db.url + "\n\n")                 # editors and `echo` add newlines
    r = preflight(["wait", "-f", manifest(OK), "-t", "10s"], env={"DATABASE_URL_FILE": secret})
    assert r.code == 0, str(r)
    # The variable wins when both are set, even if the file is unusable.
    r = preflight(["wait", "-f", manifest(OK), "-t", "10s"],
                  env={"DATABASE_URL": db.url, "DATABASE_URL_FILE": tmp_path / "absent"})
    assert r.code == 0, str(r)


@pytest.mark.parametrize("case", ["missing", "empty", "directory"])
def test_unusable_secret_files_are_78_naming_variable_and_file(preflight, manifest, tmp_path, case):
    path = tmp_path / "secret"
    if case == "empty":
        path.write_text("\n")
    elif case == "directory":
        path.mkdir()
    for var in ("DATABASE_URL_FILE", "PGPASSWORD_FILE"):
        t0 = time.monotonic()
        r = preflight(["wait", "-f", manifest(OK), "-t", "30s", "-d", "postgresql://app@127.0.0.1:1/x"]
                      if var == "PGPASSWORD_FILE" else ["wait", "-f", manifest(OK), "-t", "30s"],
                      env={var: path})
        assert r.code == 78, str(r)
        assert time.monotonic() - t0 < 5, "before any waiting"
        assert var in last_line(r) and str(path) in last_line(r), r.stderr


def test_secret_file_contents_never_printed(pg, db, preflight, manifest, tmp_path):
    pw = tmp_path / "pw"
    pw.write_text(APP_PASSWORD + "\n")
    url = pg.url(db.name, user="app")
    r = preflight(["check", "-f", manifest(OK), "-d", url, "-t", "10s", "-v"], env={"PGPASSWORD_FILE": pw})
    assert r.code == 0, str(r)
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-" + APP_PASSWORD)
    r = preflight(["check", "-f", manifest(OK), "-d", url, "-t", "10s", "-v"], env={"PGPASSWORD_FILE": wrong})
    assert r.code == 77, str(r)
    assert APP_PASSWORD not in r.stderr + r.stdout

    # In the manifest: ${APP_URL} falls back to the file APP_URL_FILE names.
    full = tmp_path / "url"
    full.write_text(pg.url(db.name, user="app", password=APP_PASSWORD))
    m = manifest("version: 1\ndatabase:\n  url: ${APP_URL}\n")
    r = preflight(["check", "-f", m, "-t", "10s", "-v"], env={"APP_URL_FILE": full})
    assert r.code == 0, str(r)
    assert APP_PASSWORD not in r.stderr + r.stdout
    r = preflight(["check", "-f", m, "-t", "10s"], env={"APP_URL_FILE": tmp_path / "nope"})
    assert r.code == 78, str(r)
    assert "APP_URL_FILE" in r.stderr and "preflight.yaml:3:" in r.stderr, r.stderr


# ---- every option from the environment ----------------------------------------------------------

def _pids(preflight, manifest, db, env):
    """Runs `sh -c 'echo $$'` through preflight and returns (preflight's pid, the app's pid)."""
    p = spawn_preflight(["run", "-f", manifest(OK), "-d", db.url, "-t", "10s", "--", "sh", "-c", "echo $$"],
                        env=env)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err.decode()
    return p.pid, int(out.decode().strip())


@pytest.mark.parametrize("value,init", [("no", False), ("off", False), ("FALSE", False), ("0", False),
                                        ("yes", True), ("On", True), ("1", True)])
def test_preflight_init_is_a_strict_boolean(db, preflight, manifest, value, init):
    mine, app = _pids(preflight, manifest, db, {"PREFLIGHT_INIT": value})
    assert (mine != app) == init, f"PREFLIGHT_INIT={value}: preflight {mine}, app {app}"


@pytest.mark.parametrize("var", ["PREFLIGHT_INIT", "PREFLIGHT_INIT_GROUP"])
def test_a_boolean_that_is_not_one_is_64(preflight, manifest, var):
    r = preflight(["lint", "-f", manifest(OK)], env={var: "enabled"})
    assert r.code == 64, str(r)
    assert var in r.stderr and "enabled" in r.stderr, r.stderr


def _get(port, path="/health", timeout=2.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status
    finally:
        conn.close()


def _health_answers(port, p, deadline=40.0):
    t0 = time.monotonic()
    while time.monotonic() - t0 < deadline:
        assert p.poll() is None, p.communicate()[1].decode()
        try:
            return _get(port)
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the health endpoint never answered")


def test_health_listen_and_interval_from_the_environment(db, manifest):
    lock = pgharness.PortLock()
    port = lock.port
    lock.release()
    p = spawn_preflight(["-f", manifest(OK), "-d", db.url, "sleep", "30"],
                        env={"PREFLIGHT_INIT": "true", "PREFLIGHT_HEALTH_LISTEN": f"127.0.0.1:{port}",
                             "PREFLIGHT_HEALTH_INTERVAL": "2s"})
    try:
        assert _health_answers(port, p) == 200
    finally:
        p.terminate()
        p.communicate(timeout=30)


def test_health_interval_zero_from_the_environment_is_refused(preflight, manifest):
    r = preflight(["lint", "-f", manifest(OK)], env={"PREFLIGHT_HEALTH_INTERVAL": "0"})
    assert r.code == 78, str(r)
    assert "PREFLIGHT_HEALTH_INTERVAL" in r.stderr


def test_health_listen_from_the_environment_needs_init_only_where_it_supervises(db, preflight, manifest):
    env = {"PREFLIGHT_HEALTH_LISTEN": "127.0.0.1:1"}
    r = preflight(["run", "-f", manifest(OK), "-d", db.url, "--", "true"], env=env)
    assert r.code == 64 and "PREFLIGHT_HEALTH_LISTEN needs --init" in r.stderr, str(r)
    # The same environment in an init container's `preflight wait`: nothing to serve, no error.
    r = preflight(["wait", "-f", manifest(OK), "-d", db.url, "-t", "10s"], env=env)
    assert r.code == 0, str(r)


# ---- options through CMD / Kubernetes args ------------------------------------------------------

def test_options_after_the_entrypoint_double_dash(db, manifest):
    """ENTRYPOINT ["preflight", "--"] + `docker run app --health-listen :PORT --init node server.js`."""
    lock = pgharness.PortLock()
    port = lock.port
    lock.release()
    p = spawn_preflight(["--", "--health-listen", f"127.0.0.1:{port}", "--init", "-f", manifest(OK),
                         "-d", db.url, "sh", "-c", "echo app-started; sleep 30"])
    try:
        assert _health_answers(port, p) == 200
    finally:
        p.terminate()
        out, err = p.communicate(timeout=30)
    assert b"app-started" in out, err.decode()
    assert b"command not found" not in err


def test_entrypoint_double_dash_forms(db, preflight, manifest):
    m = manifest(OK)
    # The plain form keeps working, the app's own options untouched.
    r = preflight(["--", "sh", "-c", "echo \"$@\"", "sh", "--port", "3"], env={"DATABASE_URL": db.url,
                                                                               "PREFLIGHT_MANIFEST": m})
    assert r.code == 0 and r.stdout == "--port 3\n", str(r)
    # A command named like a subcommand, after the leading "--", is a command.
    bindir = m.parent / "bin"
    bindir.mkdir()
    (bindir / "check").write_text("#!/bin/sh\necho the-check-program\n")
    (bindir / "check").chmod(0o755)
    r = preflight(["--", "check"], env={"DATABASE_URL": db.url, "PREFLIGHT_MANIFEST": m,
                                        "PATH": f"{bindir}:{os.environ['PATH']}"})
    assert r.code == 0 and r.stdout == "the-check-program\n", str(r)
    # A misspelt option is a usage error that says how to run a command starting with "-".
    r = preflight(["--", "--helth-listen", ":8080", "node"], env={"PREFLIGHT_MANIFEST": m})
    assert r.code == 64, str(r)
    assert "unknown option --helth-listen" in r.stderr and "after \"--\"" in r.stderr, r.stderr


# ---- mistakes, answered at once -----------------------------------------------------------------

def test_unset_database_url_is_78_at_once(preflight, manifest):
    m = manifest("version: 1\ndatabase:\n  url: ${DATABASE_URL}\n")
    r = preflight(["run", "-f", m, "-t", "60s", "--", "true"])
    assert r.code == 78, str(r)
    assert r.duration < 5, "no waiting"
    assert re.search(r"preflight\.yaml:3:8: database\.url: DATABASE_URL is not set \(nor DATABASE_URL_FILE\)",
                     last_line(r)), r.stderr
    assert "localhost:5432" not in r.stderr
    # lint checks the manifest offline, where the deployment's variables are absent.
    assert preflight(["lint", "-f", m]).code == 0


@pytest.mark.parametrize("url,words", [
    ("host=127.0.0.1 port=notaport dbname=x", 'port "notaport" is not a port number'),
    ("postgresql://u@127.0.0.1:5432/x?sslmode=requird", 'sslmode "requird" is not one of'),
    ("postgresql://u@127.0.0.1/x?connect_timeout=5s", 'connect_timeout "5s" is not an integer'),
    ("postgresql://u@[::1/x", "invalid database URL"),
    ("host=db hostaddr=db.internal dbname=x", 'hostaddr "db.internal" is not a numeric IP address'),
])
def test_unparsable_connection_strings_are_78_at_once(preflight, manifest, url, words):
    r = preflight(["wait", "-f", manifest(OK), "-d", url, "-t", "60s"])
    assert r.code == 78, str(r)
    assert r.duration < 5, "no waiting"
    assert words in last_line(r), r.stderr


def test_no_manifest_names_every_path_and_how_to_write_one(preflight, tmp_path):
    if os.path.exists("/etc/preflight/preflight.yaml"):
        pytest.skip("this machine has /etc/preflight/preflight.yaml")
    r = preflight(["check", "-t", "1s"], cwd=tmp_path)
    assert r.code == 78, str(r)
    line = last_line(r)
    assert f"{tmp_path}/preflight.yaml" in line and "/etc/preflight/preflight.yaml" in line, line
    assert "preflight snapshot" in line and "PREFLIGHT_MANIFEST" in line, line
    r = preflight(["check", "-f", tmp_path / "app.yaml"], cwd=tmp_path)
    assert r.code == 78 and "app.yaml (from -f) does not exist" in last_line(r), str(r)
    assert "preflight snapshot" in last_line(r)


def test_applying_and_created_lines_come_in_one_order(db, preflight, manifest):
    # The manifest lists the kinds out of dependency order, and one index outside the transaction.
    m = manifest("""
        version: 1
        indexes:
          - name: w_v_idx
            table: s1.w
            transaction: false
            fallback: CREATE INDEX CONCURRENTLY IF NOT EXISTS w_v_idx ON s1.w (v);
        functions:
          - signature: s1.f()
            fallback: CREATE FUNCTION s1.f() RETURNS int LANGUAGE sql AS 'SELECT 1';
        tables:
          - name: s1.w
            fallback: CREATE TABLE s1.w (id int, v int);
            columns:
              - name: extra
                fallback: ALTER TABLE s1.w ADD COLUMN extra text;
        schemas:
          - name: s1
            fallback: CREATE SCHEMA s1;
    """)
    r = preflight(["run", "-f", m, "-d", db.url, "-t", "10s"])
    assert r.code == 0, str(r)
    applying = re.findall(r"applying fallback for (\w+) (\S+)", r.stderr)
    created = re.findall(r"created (\w+) (\S+)", r.stderr)
    assert len(applying) == 5, r.stderr
    assert created == applying, r.stderr
    assert [k for k, _ in applying] == ["schema", "table", "column", "function", "index"], applying


# ---- Kubernetes' termination log ----------------------------------------------------------------

def test_termination_log_gets_the_final_error(db, preflight, manifest, tmp_path, closed_port):
    log = tmp_path / "termination-log"
    log.write_text("stale\n")
    env = {"PREFLIGHT_TERMINATION_LOG": log}
    m = manifest("version: 1\ndatabase:\n  url: ${DATABASE_URL}\n")
    r = preflight(["run", "-f", m, "--", "true"], env=env)
    assert r.code == 78
    assert log.read_text() == f"preflight: {last_line(r)[len('preflight: '):]}\n"
    assert "DATABASE_URL is not set" in log.read_text()

    r = preflight(["wait", "-f", manifest(OK), "-t", "1s", "-d",
                   f"postgresql://app:{APP_PASSWORD}@127.0.0.1:{closed_port}/x"], env=env)
    assert r.code == 69
    text = log.read_text()
    assert "not ready after" in text and text.count("\n") == 1, text
    assert APP_PASSWORD not in text

    r = preflight(["check", "-f", manifest("version: 1\ntables: [{name: nowhere}]\n"), "-d", db.url], env=env)
    assert r.code == 65
    assert "1 missing" in log.read_text(), log.read_text()

    # Success leaves it alone; an absent file is never created.
    log.write_text("untouched\n")
    assert preflight(["check", "-f", manifest(OK), "-d", db.url], env=env).code == 0
    assert log.read_text() == "untouched\n"
    absent = tmp_path / "absent-log"
    r = preflight(["lint", "-f", tmp_path / "nope.yaml"], env={"PREFLIGHT_TERMINATION_LOG": absent})
    assert r.code == 78 and not absent.exists()


def test_real_dev_termination_log_in_a_private_mount_namespace(preflight, manifest, tmp_path):
    """As Kubernetes does it: /dev/termination-log exists in the container. A private mount
    namespace with its own /dev stands in for the container (root only)."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1)")
    m = manifest("version: 1\ndatabase:\n  url: ${DATABASE_URL}\n")
    script = ("mount --make-rprivate / && mount -t tmpfs tmpfs /dev && mknod -m 666 /dev/null c 1 3 && "
              "touch /dev/termination-log && \"$0\" run -f \"$1\" -- true; echo \"exit=$?\"; "
              "cat /dev/termination-log")
    p = subprocess.run(["unshare", "-m", "sh", "-c", script, pgharness.preflight_bin(), str(m)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60,
                       env=pgharness.preflight_env(None))
    if "exit=" not in p.stdout:
        pytest.skip(f"cannot make a private mount namespace here: {p.stderr.strip()}")
    assert "exit=78" in p.stdout, p.stdout + p.stderr
    assert re.search(r"^preflight: .*DATABASE_URL is not set", p.stdout, re.M), p.stdout
