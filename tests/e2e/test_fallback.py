"""Fallbacks: one transaction (all or nothing), dependency order, no second run of what an earlier
fallback created, `transaction: false`, `after`, `severity: warn`, SQL sent verbatim."""

import signal
import subprocess
import time

import pgharness
from e2e_util import find_item, load_report
from pgharness import spawn_preflight


def test_failing_second_fallback_rolls_back_the_first(db, preflight, manifest, tmp_path):
    db.sql("CREATE TABLE audit (what text)")
    m = manifest("""
        version: 1
        tables:
          - name: first_table
            fallback: |
              CREATE TABLE first_table (id int);
              INSERT INTO audit VALUES ('first ran');
          - name: second_table
            fallback: CREATE TABLE second_table (id int,;
    """)
    report = tmp_path / "r.json"
    r = preflight(["run", "-f", m, "-d", db.url, "-t", "10s", "--report", report, "--",
                   "sh", "-c", "echo app-ran"])
    assert r.code == 70, str(r)
    assert r.stdout == "", "the app must not start after a failed fallback"
    assert "preflight:" in r.stderr
    # Nothing of the first fallback persists.
    assert not db.exists("first_table")
    assert not db.exists("second_table")
    assert db.scalar("SELECT count(*) FROM audit") == "0"
    rep = load_report(report)
    assert rep["status"] == "failed"
    assert find_item(rep, "table", "second_table")["status"] == "failed"
    assert find_item(rep, "table", "first_table")["status"] != "created"


def test_failing_fallback_file_reports_its_name(db, preflight, manifest):
    m = manifest("""
        version: 1
        tables:
          - name: broken
            fallback_file: sql/broken.sql
    """, files={"sql/broken.sql": "-- line 1\nCREATE TABLE broken (id int);\nSELEC 1;\n"})
    r = preflight(["run", "-f", m, "-d", db.url, "-t", "10s"])
    assert r.code == 70, str(r)
    assert not db.exists("broken")
    assert "broken.sql" in r.stderr, str(r)


def test_fallback_that_does_not_create_the_object_is_65(db, preflight, manifest, tmp_path):
    m = manifest("""
        version: 1
        tables:
          - name: widgets
            fallback: SELECT 1;
    """)
    report = tmp_path / "r.json"
    r = preflight(["run", "-f", m, "-d", db.url, "-t", "10s", "--report", report, "--",
                   "sh", "-c", "echo app-ran"])
    assert r.code == 65, str(r)
    assert r.stdout == ""
    rep = load_report(report)
    assert rep["status"] == "missing"
    assert find_item(rep, "table", "widgets")["status"] == "missing"


def test_dependency_order_not_manifest_order(db, preflight, manifest):
    # The function is listed first but needs the table, the index needs the column, the view
    # needs both; kinds run in dependency order.
    m = manifest("""
        version: 1
        functions:
          - signature: widget_count()
            fallback: "CREATE FUNCTION widget_count() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM app.widgets $$;"
        indexes:
          - name: widgets_color_idx
            table: app.widgets
            fallback: CREATE INDEX widgets_color_idx ON app.widgets (color);
        views:
          - name: app.red_widgets
            fallback: CREATE VIEW app.red_widgets AS SELECT * FROM app.widgets WHERE color = 'red';
        tables:
          - name: app.widgets
            fallback: CREATE TABLE app.widgets (id int);
            columns:
              - name: color
                type: text
                fallback: ALTER TABLE app.widgets ADD COLUMN color text;
        schemas:
          - name: app
            fallback: CREATE SCHEMA app;
    """)
    r = preflight(["run", "-f", m, "-d", db.url, "-t", "10s"])
    assert r.code == 0, str(r)
    assert db.exists("app.red_widgets")
    assert db.scalar("SELECT widget_count()") == "0"
    assert db.exists("app.widgets_color_idx")


def test_item_created_by_an_earlier_fallback_is_not_run_again(db, preflight, manifest, tmp_path):
    # The table's fallback creates the column too; the column's fallback would fail if it ran.
    db.sql("CREATE TABLE audit (what text)")
    m = manifest("""
        version: 1
        tables:
          - name: widgets
            fallback: CREATE TABLE widgets (id int, color text);
            columns:
              - name: color
                type: text
                fallback: |
                  ALTER TABLE widgets ADD COLUMN color text;
                  INSERT INTO audit VALUES ('column fallback ran');
    """)
    report = tmp_path / "r.json"
    r = preflight(["run", "-f", m, "-d", db.url, "-t", "10s", "--report", report])
    assert r.code == 0, str(r)
    assert db.scalar("SELECT count(*) FROM audit") == "0"
    rep = load_report(report)
    assert rep["status"] == "fixed"
    assert find_item(rep, "table", "widgets")["status"] == "created"


def test_transaction_false_runs_after_commit(db, preflight, manifest):
    # CREATE INDEX CONCURRENTLY cannot run inside a transaction block.
    m = manifest("""
        version: 1
        tables:
          - name: widgets
            fallback: CREATE TABLE widgets (id int, color text);
        indexes:
          - name: widgets_color_idx
            table: widgets
            transaction: false
            fallback: CREATE INDEX CONCURRENTLY IF NOT EXISTS widgets_color_idx ON widgets (color);
    """)
    r = preflight(["run", "-f", m, "-d", db.url, "-t", "10s"])
    assert r.code == 0, str(r)
    assert db.exists("widgets_color_idx")
    assert db.scalar("SELECT indisvalid FROM pg_index "
                     "WHERE indexrelid = 'widgets_color_idx'::regclass") == "t"


def test_after_runs_once_only_when_something_changed(db, preflight, manifest):
    db.sql("CREATE TABLE after_log (at timestamptz DEFAULT now())")
    m = manifest("""
        version: 1
        fallback:
          after: INSERT INTO after_log DEFAULT VALUES;
        tables:
          - name: widgets
            fallback: CREATE TABLE widgets (id int);
          - name: gadgets
            fallback: CREATE TABLE gadgets (id int);
    """)
    r = preflight(["run", "-f", m, "-d", db.url, "-t", "10s"])
    assert r.code == 0, str(r)
    assert db.scalar("SELECT count(*) FROM after_log") == "1"
    r = preflight(["run", "-f", m, "-d", db.url, "-t", "10s"])
    assert r.code == 0, str(r)
    assert db.scalar("SELECT count(*) FROM after_log") == "1"


def test_severity_warn_does_not_block(db, preflight, manifest, tmp_path):
    db.sql("CREATE TABLE widgets (id int)")
    m = manifest("""
        version: 1
        tables:
          - name: widgets
          - name: optional_stats
            severity: warn
    """)
    report = tmp_path / "r.json"
    r = preflight(["run", "-f", m, "-d", db.url, "-t", "10s", "--report", report, "--",
                   "sh", "-c", "echo app-ran"])
    assert r.code == 0, str(r)
    assert r.stdout == "app-ran\n"
    rep = load_report(report)
    assert find_item(rep, "table", "optional_stats")["status"] == "warned"
    r = preflight(["check", "-f", m, "-d", db.url, "-t", "10s"])
    assert r.code == 0, str(r)


def test_sql_text_is_never_expanded(db, preflight, manifest):
    m = manifest("""
        version: 1
        tables:
          - name: literal
            fallback: CREATE TABLE literal AS SELECT '${HOME} ${FOO:-dflt}'::text AS v;
    """)
    r = preflight(["run", "-f", m, "-d", db.url, "-t", "10s"], env={"FOO": "expanded", "HOME": "/h"})
    assert r.code == 0, str(r)
    assert db.scalar("SELECT v FROM literal") == "${HOME} ${FOO:-dflt}"


def test_every_kind_is_verified_and_repaired(db, preflight, manifest, tmp_path):
    m = manifest("""
        version: 1
        extensions:
          - {name: pgcrypto, fallback: "CREATE EXTENSION IF NOT EXISTS pgcrypto;"}
        schemas:
          - {name: auth, fallback: CREATE SCHEMA auth;}
        types:
          - name: mood
            values: [sad, happy]
            fallback: CREATE TYPE mood AS ENUM ('happy', 'sad');
        tables:
          - name: auth.users
            fallback: CREATE TABLE auth.users (id uuid PRIMARY KEY DEFAULT gen_random_uuid());
          - name: users
            fallback: |
              CREATE TABLE users (id uuid PRIMARY KEY REFERENCES auth.users (id), feeling mood);
              ALTER TABLE users ENABLE ROW LEVEL SECURITY;
            columns:
              - {name: feeling, type: mood}
        views:
          - {name: happy_users, fallback: "CREATE VIEW happy_users AS SELECT id FROM users WHERE feeling = 'happy';"}
        functions:
          - signature: handle_new_user()
            returns: trigger
            fallback_file: sql/handle_new_user.sql
        indexes:
          - {name: users_feeling_idx, table: users, fallback: CREATE INDEX users_feeling_idx ON users (feeling);}
        constraints:
          - {name: users_id_fkey, table: users, type: foreign_key}
        triggers:
          - name: on_auth_user_created
            table: auth.users
            fallback: CREATE TRIGGER on_auth_user_created AFTER INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION handle_new_user();
        policies:
          - name: users_select_own
            table: users
            fallback: CREATE POLICY users_select_own ON users FOR SELECT USING (true);
        checks:
          - name: the happy view exists
            sql: SELECT to_regclass('happy_users') IS NOT NULL
    """, files={"sql/handle_new_user.sql": """
        CREATE FUNCTION handle_new_user() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          INSERT INTO public.users (id) VALUES (NEW.id);
          RETURN NEW;
        END;
        $$;
    """})
    report = tmp_path / "check.json"
    r = preflight(["check", "-f", m, "-d", db.url, "-t", "10s", "--report", report])
    assert r.code == 65, str(r)
    rep = load_report(report)
    for kind, name in [("extension", "pgcrypto"), ("schema", "auth"), ("type", "mood"),
                       ("table", "auth.users"), ("table", "users"), ("view", "happy_users"),
                       ("function", "handle_new_user()"), ("index", "users_feeling_idx"),
                       ("constraint", "users.users_id_fkey"),
                       ("trigger", "auth.users.on_auth_user_created"),
                       ("policy", "users.users_select_own"), ("check", "the happy view exists")]:
        assert find_item(rep, kind, name)["status"] == "missing", (kind, name)

    report = tmp_path / "run.json"
    r = preflight(["run", "-f", m, "-d", db.url, "-t", "10s", "--report", report])
    assert r.code == 0, str(r)
    rep = load_report(report)
    assert rep["status"] == "fixed"
    assert all(i["status"] in ("created", "present") for i in rep["items"]), rep["items"]
    # The trigger works: a new auth user gets a public profile.
    db.sql("INSERT INTO auth.users DEFAULT VALUES")
    assert db.scalar("SELECT count(*) FROM users") == "1"

    r = preflight(["check", "-f", m, "-d", db.url, "-t", "10s"])
    assert r.code == 0, str(r)


def test_enum_missing_label_is_reported(db, preflight, manifest):
    db.sql("CREATE TYPE mood AS ENUM ('happy')")
    m = manifest("version: 1\ntypes:\n  - {name: mood, values: [happy, sad]}\n")
    r = preflight(["check", "-f", m, "-d", db.url, "-t", "10s"])
    assert r.code == 65, str(r)
    db.sql("ALTER TYPE mood ADD VALUE 'sad'")
    r = preflight(["check", "-f", m, "-d", db.url, "-t", "10s"])
    assert r.code == 0, str(r)


def test_function_return_type_and_arguments(db, preflight, manifest):
    db.sql("CREATE FUNCTION add_one(integer) RETURNS integer LANGUAGE sql AS $$ SELECT $1 + 1 $$")
    for sig, returns, code in [("add_one(integer)", "integer", 0), ("add_one(int4)", "int", 0),
                               ("add_one(int)", None, 0), ("add_one(bigint)", None, 65),
                               ("add_one(integer)", "bigint", 65), ("add_one()", None, 65),
                               ("Add_One(integer)", None, 65)]:
        text = f"version: 1\nfunctions:\n  - signature: \"{sig}\"\n"
        if returns:
            text += f"    returns: {returns}\n"
        r = preflight(["check", "-f", manifest(text), "-d", db.url, "-t", "10s"])
        assert r.code == code, f"{sig} returns {returns}: {r}"


def test_statement_timeout_applies_to_fallbacks(db, preflight, manifest):
    m = manifest("""
        version: 1
        fallback:
          statement_timeout: 1s
        tables:
          - name: slow
            fallback: CREATE TABLE slow AS SELECT 1 AS z FROM pg_sleep(20);
    """)
    r = preflight(["run", "-f", m, "-d", db.url, "-t", "10s"], timeout=60)
    assert r.code == 70, str(r)
    assert 0.9 <= r.duration < 10, f"should fail by the 1 s statement_timeout: {r}"
    assert not db.exists("slow")


def test_lock_timeout_applies_to_fallbacks(db, preflight, manifest):
    db.sql("CREATE TABLE users (id int)")
    # Another session holds the table: the ALTER must give up after lock_timeout, not hang.
    holder = subprocess.Popen(
        [pgharness.PSQL, "-X", "-q", "-d", db.url, "-c",
         "BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(30); COMMIT;"],
        env=pgharness.BASE_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if db.scalar("SELECT count(*) FROM pg_locks WHERE relation = 'users'::regclass "
                         "AND mode = 'AccessExclusiveLock' AND granted") == "1":
                break
            time.sleep(0.05)
        m = manifest("""
            version: 1
            fallback:
              lock_timeout: 1s
            tables:
              - name: users
                columns:
                  - name: avatar_url
                    fallback: ALTER TABLE users ADD COLUMN avatar_url text;
        """)
        r = preflight(["run", "-f", m, "-d", db.url, "-t", "10s"], timeout=60)
        assert r.code == 70, str(r)
        assert 0.9 <= r.duration < 10, f"should fail by the 1 s lock_timeout: {r}"
    finally:
        holder.kill()
        holder.wait()
    assert not db.has_column("users", "avatar_url")


def test_run_check_execs_when_nothing_is_missing(db, preflight, manifest):
    db.sql("CREATE TABLE widgets (id int)")
    m = manifest("version: 1\ntables:\n  - name: widgets\n")
    r = preflight(["run", "--check", "-f", m, "-d", db.url, "-t", "10s", "--", "echo", "up"])
    assert r.code == 0, str(r)
    assert r.stdout == "up\n"


def test_failing_transaction_false_fallback_is_70(db, preflight, manifest):
    m = manifest("""
        version: 1
        tables:
          - name: widgets
            fallback: CREATE TABLE widgets (id int);
        indexes:
          - name: widgets_nope_idx
            table: widgets
            transaction: false
            fallback: CREATE INDEX CONCURRENTLY widgets_nope_idx ON widgets (no_such_column);
    """)
    r = preflight(["run", "-f", m, "-d", db.url, "-t", "10s", "--", "echo", "app-ran"])
    assert r.code == 70, str(r)
    assert r.stdout == ""


def test_sigterm_during_a_fallback_cancels_and_rolls_back(db, manifest):
    db.sql("CREATE TABLE audit (what text)")
    m = manifest("""
        version: 1
        tables:
          - name: slow
            fallback: |
              INSERT INTO audit VALUES ('started');
              CREATE TABLE slow AS SELECT 1 AS z FROM pg_sleep(20);
    """)
    p = spawn_preflight(["run", "-f", m, "-d", db.url, "-t", "10s", "--", "echo", "app-ran"])
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if db.scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                         "AND query LIKE '%pg_sleep(20)%' AND pid <> pg_backend_pid()") != "0":
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the fallback never started")
        sent = time.monotonic()
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 143, err.decode()
    assert time.monotonic() - sent < 5, "preflight should stop promptly, not wait for the fallback"
    assert out == b""
    # The server-side work is cancelled and rolled back, not left running.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if db.scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                     "AND query LIKE '%pg_sleep(20)%' AND pid <> pg_backend_pid()") == "0":
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the fallback is still running on the server after preflight exited")
    assert not db.exists("slow")
    assert db.scalar("SELECT count(*) FROM audit") == "0"
