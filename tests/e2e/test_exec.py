"""The hand-over: preflight execs the command, so the app's stdout, exit status, environment and
PID are its own."""

import json

import pytest

from pgharness import preflight_env, spawn_preflight

MANIFEST = "version: 1\ntables:\n  - name: widgets\n"


@pytest.fixture
def ready(db, manifest):
    """A database that has everything the manifest asks for; returns (db, manifest path)."""
    db.sql("CREATE TABLE widgets (id int)")
    return db, manifest(MANIFEST)


def test_stdout_is_exactly_the_apps(ready, preflight):
    db, m = ready
    r = preflight(["-f", m, "-d", db.url, "-t", "10s", "--", "printf", "%s\\n", "a b", "", "--x"])
    assert r.code == 0, str(r)
    assert r.stdout == "a b\n\n--x\n", str(r)


def test_exit_status_is_the_apps(ready, preflight):
    db, m = ready
    r = preflight(["run", "-f", m, "-d", db.url, "-t", "10s", "--", "sh", "-c", "exit 7"])
    assert r.code == 7, str(r)
    assert r.stdout == ""


def test_app_killed_by_signal(ready, preflight):
    db, m = ready
    r = preflight(["run", "-f", m, "-d", db.url, "-t", "10s", "--", "sh", "-c", "kill -TERM $$"])
    # After exec the process is the app: it dies of the signal itself.
    assert r.code == -15, str(r)


def test_environment_is_unchanged(ready, preflight):
    db, m = ready
    env = {"APP_SETTING": "value with spaces", "DATABASE_URL": db.url,
           "PREFLIGHT_MANIFEST": str(m), "PREFLIGHT_TIMEOUT": "10s", "EMPTY": ""}
    script = "import json, os; print(json.dumps(dict(os.environ)))"
    r = preflight(["/usr/bin/python3", "-c", script], env=env)
    assert r.code == 0, str(r)
    seen = json.loads(r.stdout)
    seen.pop("LC_CTYPE", None)   # python itself may add this one
    assert seen == preflight_env(env), "the app's environment differs from preflight's"


def test_pid_is_preserved_by_exec(ready):
    db, m = ready
    p = spawn_preflight(["run", "-f", m, "-d", db.url, "-t", "10s", "--", "sh", "-c", "echo $$"])
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err.decode()
    assert int(out.decode()) == p.pid, "the app should replace preflight (exec), not be its child"


def test_entrypoint_style_double_dash(ready, preflight):
    # ENTRYPOINT ["preflight", "--"] + CMD ["sh", "-c", "..."], options from the environment.
    db, m = ready
    r = preflight(["--", "sh", "-c", 'echo "cmd:$0:$1"', "zero", "one"],
                  env={"PREFLIGHT_MANIFEST": m, "DATABASE_URL": db.url, "PREFLIGHT_TIMEOUT": "10s"})
    assert r.code == 0, str(r)
    assert r.stdout == "cmd:zero:one\n"


def test_command_without_subcommand_or_double_dash(ready, preflight):
    db, m = ready
    env = {"PREFLIGHT_MANIFEST": m, "DATABASE_URL": db.url, "PREFLIGHT_TIMEOUT": "10s"}
    r = preflight(["sh", "-c", "echo plain"], env=env)
    assert r.code == 0, str(r)
    assert r.stdout == "plain\n"
    r = preflight(["echo", "hello", "world"], env=env)
    assert r.code == 0, str(r)
    assert r.stdout == "hello world\n"


def test_app_options_after_double_dash_are_not_preflights(ready, preflight):
    db, m = ready
    r = preflight(["-f", m, "-d", db.url, "-t", "10s", "--", "sh", "-c", 'echo "$@"', "sh",
                   "-v", "--check", "-t", "1s", "--help"])
    assert r.code == 0, str(r)
    assert r.stdout == "-v --check -t 1s --help\n"


def test_no_command_exits_0_with_empty_stdout(ready, preflight):
    db, m = ready
    r = preflight(["run", "-f", m, "-d", db.url, "-t", "10s"])
    assert r.code == 0, str(r)
    assert r.stdout == ""


def test_stderr_lines_carry_the_prefix(db, preflight, manifest):
    m = manifest("version: 1\ntables:\n  - name: widgets\n"
                 "    fallback: CREATE TABLE widgets (id int);\n")
    r = preflight(["run", "-v", "-f", m, "-d", db.url, "-t", "10s", "--", "true"])
    assert r.code == 0, str(r)
    assert r.stdout == ""
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert lines, "expected some log lines with -v"
    for line in lines:
        assert line.startswith("preflight: "), f"log line without the prefix: {line!r}"


def test_json_log_format(db, preflight, manifest):
    m = manifest("version: 1\ntables:\n  - name: widgets\n"
                 "    fallback: CREATE TABLE widgets (id int);\n")
    r = preflight(["run", "-v", "--log-format", "json", "-f", m, "-d", db.url, "-t", "10s"])
    assert r.code == 0, str(r)
    assert r.stdout == ""
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert lines
    for line in lines:
        obj = json.loads(line)
        assert {"ts", "level", "msg"} <= set(obj), obj
    r = preflight(["check", "-f", m, "-d", db.url, "-t", "10s"], env={"PREFLIGHT_LOG_FORMAT": "json"})
    assert r.code == 0, str(r)
    for line in filter(str.strip, r.stderr.splitlines()):
        json.loads(line)


def test_quiet_prints_nothing_on_success(ready, preflight):
    db, m = ready
    r = preflight(["run", "-q", "-f", m, "-d", db.url, "-t", "10s", "--", "true"])
    assert r.code == 0, str(r)
    assert r.stdout == ""
    assert r.stderr == "", "with -q a successful run should be silent"
