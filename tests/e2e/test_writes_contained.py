"""Issue 9: every write once and contained, every check read-only and bounded.

Each test reproduces one defect found against PostgreSQL 15 (and PgBouncer in transaction pooling
mode): transaction: false fallbacks not serialised, session settings leaking through a pooler,
fallback SQL ending preflight's transaction, checks that write or return non-booleans, one round
trip per check past 1664 checks, verification without a time limit, a script whose interpreter is
missing. Plus issue 10's last point: a lock wait that ends saying whose lock it is."""

import re
import subprocess
import time

import pytest

import pgharness
from e2e_util import communicate_all, load_report
from pgharness import PgBouncer, spawn_preflight


def lock_id(key: str) -> int:
    """pf_lock_id: 64-bit FNV-1a of the key's bytes, as a signed bigint."""
    h = 0xcbf29ce484222325
    for b in key.encode():
        h ^= b
        h = (h * 0x100000001b3) & (2**64 - 1)
    return h - 2**64 if h >= 2**63 else h


def hold(db, sql: str, ready_sql: str, app: str = "holder"):
    """Starts a psql session that runs `sql` (which should end in a long pg_sleep) and waits until
    ready_sql returns a non-zero count."""
    p = subprocess.Popen(
        [pgharness.PSQL, "-X", "-q", "-d", db.url + f"?application_name={app}", "-c", sql],
        env=pgharness.BASE_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        if db.scalar(ready_sql) not in ("0", ""):
            return p
        time.sleep(0.05)
    p.kill()
    raise AssertionError("the holder session did not take its lock")


# --- 9.3: transaction control in fallback SQL --------------------------------------------------

@pytest.mark.parametrize("sql,word,line,col", [
    ("CREATE TABLE a (id int);\nCOMMIT;\n", "COMMIT", 2, 1),
    ("ROLLBACK;\nCREATE TABLE b (id int);\n", "ROLLBACK", 1, 1),
    ("CREATE TABLE a (id int);\n  -- done\n  end;\n", "END", 3, 3),
    ("SELECT 1;\nSTART TRANSACTION;\nCREATE TABLE a (id int);\n", "START TRANSACTION", 2, 1),
    ("SAVEPOINT s;\nCREATE TABLE a (id int);\n", "SAVEPOINT", 1, 1),
])
def test_lint_rejects_transaction_control(preflight, manifest, sql, word, line, col):
    m = manifest("""
        version: 1
        tables:
          - name: a
            fallback_file: sql/a.sql
    """, files={"sql/a.sql": sql})
    r = preflight(["lint", "-f", m])
    assert r.code == 78, str(r)
    assert f"a.sql:{line}:{col}:" in r.stderr and word in r.stderr, str(r)


def test_inline_commit_is_rejected_with_the_manifest_line(preflight, manifest):
    m = manifest("""
        version: 1
        tables:
          - name: a
            fallback: |
              CREATE TABLE a (id int);
              COMMIT;
    """)
    r = preflight(["lint", "-f", m])
    assert r.code == 78, str(r)
    assert re.search(r"preflight\.yaml:7:\d+: tables\[0\]: COMMIT", r.stderr), str(r)


def test_commit_then_failing_item_leaves_nothing(db, preflight, manifest):
    # Today: `a` is committed by the user's COMMIT, the second item fails, preflight says
    # "rolled back" (70). Now the manifest is refused before anything runs.
    m = manifest("""
        version: 1
        tables:
          - name: a
            fallback: "CREATE TABLE a (id int); COMMIT;"
          - name: z
            fallback: "CREATE TABLE z (id int,;"
    """)
    r = preflight(["run", "-f", m, "-d", db.url, "-t", "10s"])
    assert r.code == 78, str(r)
    assert not db.exists("a")


@pytest.mark.parametrize("sql", [
    "DO $$ BEGIN CREATE TABLE a (id int); END $$;",
    "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END; CREATE TABLE a (id int);",
    "CREATE TABLE a (\"commit\" int, note text DEFAULT 'rollback; begin');",
    "CREATE TABLE a (id int); /* COMMIT; */ -- ROLLBACK;\nCOMMENT ON TABLE a IS $c$ END; $c$;",
    "CREATE TABLE a (id int); COMMENT ON TABLE a IS E'it\\'s; commit';",
])
def test_transaction_control_hidden_in_quotes_bodies_and_comments_is_fine(db, preflight, manifest, sql):
    m = manifest("""
        version: 1
        tables:
          - name: a
            fallback_file: a.sql
    """, files={"a.sql": sql})
    r = preflight(["run", "-f", m, "-d", db.url, "-t", "10s"])
    assert r.code == 0, str(r)
    assert db.exists("a")


def test_concurrent_index_needs_transaction_false(preflight, manifest):
    # It can never run in preflight's transaction: say so before waiting, not 70 after it.
    m = manifest("""
        version: 1
        indexes:
          - name: i
            table: t
            fallback: CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);
    """)
    r = preflight(["lint", "-f", m])
    assert r.code == 78, str(r)
    assert "CREATE INDEX CONCURRENTLY cannot run inside a transaction block" in r.stderr, str(r)
    assert "transaction: false" in r.stderr, str(r)


def test_transaction_false_may_use_transaction_control(preflight, manifest):
    m = manifest("""
        version: 1
        tables:
          - name: a
            transaction: false
            fallback: "BEGIN; CREATE TABLE a (id int); COMMIT;"
    """)
    r = preflight(["lint", "-f", m])
    assert r.code == 0, str(r)


def test_transaction_false_that_leaves_a_transaction_open_is_rolled_back(db, preflight, manifest):
    m = manifest("""
        version: 1
        tables:
          - name: c
            transaction: false
            fallback: "BEGIN; CREATE TABLE c (id int);"
    """)
    r = preflight(["run", "-f", m, "-d", db.url, "-t", "10s"])
    assert r.code == 70, str(r)
    assert "left a transaction open" in r.stderr, str(r)
    assert not db.exists("c")


# --- 9.4: checks cannot write, and must return a boolean ---------------------------------------

def test_check_cannot_close_its_wrapper_and_write(db, preflight, manifest):
    m = manifest("""
        version: 1
        checks:
          - name: sneaky
            sql: "true); COMMIT; CREATE TABLE pwned(id int); COMMIT; SELECT (true"
    """)
    r = preflight(["check", "-f", m, "-d", db.url, "-t", "10s"])
    assert r.code != 0, str(r)
    assert not db.exists("pwned")


def test_check_calling_a_writing_function_writes_nothing_in_any_phase(db, preflight, manifest):
    db.sql("""
        CREATE TABLE audit (at timestamptz DEFAULT now());
        CREATE FUNCTION writes() RETURNS boolean LANGUAGE plpgsql AS $$
        BEGIN INSERT INTO audit DEFAULT VALUES; RETURN true; END $$;
    """)
    # The missing table makes preflight verify again inside the writable fallback transaction.
    m = manifest("""
        version: 1
        tables:
          - name: widgets
            fallback: CREATE TABLE widgets (id int);
        checks:
          - name: writer
            sql: SELECT writes()
    """)
    r = preflight(["run", "-f", m, "-d", db.url, "-t", "10s"])
    assert db.scalar("SELECT count(*) FROM audit") == "0", str(r)
    assert db.exists("widgets")
    # The write was refused, so the check is not satisfied: it failed with an error.
    assert r.code == 65, str(r)
    assert "read-only transaction" in r.stderr, str(r)


@pytest.mark.parametrize("sql,got", [("SELECT 2", "integer"), ("SELECT 'yes'", "text"),
                                      ("SELECT 1::bigint", "bigint")])
def test_check_must_return_a_boolean(db, preflight, manifest, sql, got):
    m = manifest(f"""
        version: 1
        checks:
          - name: first
            sql: SELECT true
          - name: not boolean
            sql: "{sql}"
    """)
    r = preflight(["check", "-f", m, "-d", db.url, "-t", "10s"])
    assert r.code == 78, str(r)
    assert re.search(r"preflight\.yaml:6:\d+: check \"not boolean\" must return one boolean, got " + got,
                     r.stderr), str(r)


# --- 9.5: constant round trips for any number of checks ----------------------------------------

def checks_manifest(n: int) -> str:
    lines = ["version: 1", "checks:"]
    for i in range(n):
        lines += [f"  - name: c{i}", f"    sql: SELECT {i} >= 0"]
    return "\n".join(lines) + "\n"


def test_5000_checks_cost_the_same_round_trips_as_5(db, preflight, tmp_path):
    queries = {}
    for n in (5, 5000):
        path = tmp_path / f"m{n}.yaml"
        path.write_text(checks_manifest(n))
        report = tmp_path / f"r{n}.json"
        r = preflight(["check", "-f", path, "-d", db.url, "-t", "30s", "--report", report], timeout=120)
        assert r.code == 0, str(r)
        queries[n] = load_report(report)["queries"]
    assert queries[5] == queries[5000] == 1, queries


# --- 9.6: every query bounded --------------------------------------------------------------------

def test_check_blocked_by_a_lock_is_bounded_and_named(db, preflight, manifest):
    db.sql("CREATE TABLE locked (id int)")
    holder = hold(db, "BEGIN; LOCK TABLE locked IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60);",
                  "SELECT count(*) FROM pg_locks WHERE relation = 'locked'::regclass AND granted")
    try:
        m = manifest("""
            version: 1
            database:
              statement_timeout: 2s
            checks:
              - name: reads the locked table
                sql: SELECT count(*) >= 0 FROM locked
        """)
        r = preflight(["check", "-f", m, "-d", db.url, "-t", "2s"], timeout=60)
        assert r.code == 75, str(r)
        assert r.duration < 10, str(r)
        assert 'check "reads the locked table"' in r.stderr and "statement_timeout" in r.stderr, str(r)
        # The command line wins over the manifest.
        r = preflight(["check", "-f", m, "-d", db.url, "--statement-timeout", "500ms"], timeout=60)
        assert r.code == 75 and r.duration < 5, str(r)
    finally:
        holder.kill()
        holder.wait()


# --- 10.10: a lock wait that ends says whose lock --------------------------------------------

def test_lock_wait_names_the_key_and_the_holder(db, preflight, manifest):
    holder = hold(db, f"BEGIN; SELECT pg_advisory_xact_lock({lock_id('shared-key')}); SELECT pg_sleep(60);",
                  "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted",
                  app="migrator-job")
    try:
        pid = db.scalar("SELECT pid FROM pg_stat_activity WHERE application_name = 'migrator-job'")
        m = manifest("""
            version: 1
            fallback:
              lock_key: shared-key
              statement_timeout: 2s
            tables:
              - name: widgets
                fallback: CREATE TABLE widgets (id int);
        """)
        r = preflight(["run", "-f", m, "-d", db.url, "-t", "10s"], timeout=60)
        assert r.code == 75, str(r)
        assert 'lock_key "shared-key"' in r.stderr, str(r)
        assert f"pid {pid}" in r.stderr and "migrator-job" in r.stderr, str(r)
        assert not db.exists("widgets")
    finally:
        holder.kill()
        holder.wait()


# --- 9.7: a script whose interpreter is missing -------------------------------------------------

def test_missing_interpreter_fails_before_any_write(db, preflight, manifest, tmp_path):
    app = tmp_path / "app.sh"
    app.write_text("#!/nonexistent/bin/sh\necho hi\n")
    app.chmod(0o755)
    m = manifest("""
        version: 1
        tables:
          - name: widgets
            fallback: CREATE TABLE widgets (id int);
    """)
    r = preflight(["run", "-f", m, "-d", db.url, "-t", "10s", "--", str(app)])
    assert r.code == 127, str(r)
    assert "/nonexistent/bin/sh" in r.stderr, str(r)
    assert r.duration < 5
    assert not db.exists("widgets"), "nothing may be written before a doomed hand-over"


# --- 9.1 and 9.2: transaction: false under the lock, no session setting -----------------------

def test_transaction_false_sends_no_session_setting(pg, db, preflight, manifest):
    db.sql("CREATE TABLE items (id int)")
    db.sql(f'ALTER DATABASE "{db.name}" SET log_statement = \'all\'')
    m = manifest("""
        version: 1
        fallback:
          lock_timeout: 3s
          statement_timeout: 7s
        indexes:
          - name: items_id_idx
            table: items
            transaction: false
            fallback: CREATE INDEX CONCURRENTLY IF NOT EXISTS items_id_idx ON items (id);
    """)
    offset = pg.log_size()
    r = preflight(["run", "-f", m, "-d", db.url, "-t", "10s"])
    assert r.code == 0, str(r)
    stmts = pgharness.logged_statements(pg.log_since(offset), db.name)
    session_sets = [s for s in stmts if re.search(r"\b(SET|RESET)\s+(SESSION\s+)?(lock_timeout|statement_timeout)",
                                                  s, re.I)]
    assert not session_sets, "\n".join(session_sets)


def test_no_setting_reaches_other_pool_clients(pg, db, preflight, manifest):
    bouncer = PgBouncer(pg, pool_mode="transaction", pool_size=2).start()
    try:
        db.sql("CREATE TABLE items (id int)")
        m = manifest("""
            version: 1
            fallback:
              lock_timeout: 3s
              statement_timeout: 7s
            tables:
              - name: other
                fallback: CREATE TABLE other (id int);
            indexes:
              - name: items_id_idx
                table: items
                transaction: false
                fallback: CREATE INDEX CONCURRENTLY IF NOT EXISTS items_id_idx ON items (id);
        """)
        r = preflight(["run", "-f", m, "-d", bouncer.url(db.name), "-t", "20s"], timeout=60)
        assert r.code == 0, str(r)
        # Two clients in a transaction at once pin both server connections of the pool.
        url = bouncer.url(db.name)
        script = "BEGIN; SELECT current_setting('lock_timeout') || ',' || current_setting('statement_timeout'); " \
                 "SELECT pg_sleep(1); COMMIT;"
        ps = [subprocess.Popen([pgharness.PSQL, "-X", "-A", "-t", "-q", "-d", url, "-c", script],
                               env=pgharness.BASE_ENV, stdout=subprocess.PIPE, text=True) for _ in range(2)]
        outs = [p.communicate(timeout=30)[0].split() for p in ps]
        assert all(o and o[0] == "0,0" for o in outs), outs
    finally:
        bouncer.stop()


def test_transaction_false_statement_timeout_is_kept_by_preflight(db, preflight, manifest):
    m = manifest("""
        version: 1
        fallback:
          statement_timeout: 1s
        tables:
          - name: never
            transaction: false
            fallback: SELECT pg_sleep(60);
    """)
    r = preflight(["run", "-f", m, "-d", db.url, "-t", "10s"], timeout=60)
    assert r.code == 70, str(r)
    assert r.duration < 15 and "timed out" in r.stderr, str(r)
    time.sleep(0.5)
    assert db.scalar("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%'") == "0"


REPLICAS = 10
ROWS = 300_000


def cic_replicas(pg, db, url, manifest, tmp_path):
    db.sql(f"CREATE TABLE big (id int, v text); INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, {ROWS}) g")
    db.sql(f'ALTER DATABASE "{db.name}" SET log_statement = \'ddl\'')
    m = manifest("""
        version: 1
        indexes:
          - name: big_v_idx
            table: big
            transaction: false
            fallback: CREATE INDEX CONCURRENTLY IF NOT EXISTS big_v_idx ON big (v);
    """)
    started = tmp_path / "started"
    offset = pg.log_size()
    procs = [spawn_preflight(["run", "-f", m, "-d", url, "-t", "60s", "--",
                              "sh", "-c", f"echo started >> {started}"]) for _ in range(REPLICAS)]
    results = [(code, err) for code, _, err in communicate_all(procs, 240)]
    failures = [r for r in results if r[0] != 0]
    assert not failures, f"{len(failures)} replicas failed; first: exit {failures[0][0]}\n{failures[0][1]}"
    assert started.read_text().splitlines() == ["started"] * REPLICAS
    assert db.scalar("SELECT indisvalid FROM pg_index WHERE indexrelid = 'big_v_idx'::regclass") == "t"
    log = pg.log_since(offset)
    builds = [s for s in pgharness.logged_statements(log, db.name) if "CREATE INDEX CONCURRENTLY" in s]
    assert len(builds) == 1, "\n".join(builds)


@pytest.mark.slow
def test_ten_replicas_build_a_concurrent_index_once_directly(pg, db, manifest, tmp_path):
    cic_replicas(pg, db, db.url, manifest, tmp_path)


@pytest.mark.slow
def test_ten_replicas_build_a_concurrent_index_once_through_pgbouncer(pg, db, pgbouncer, manifest, tmp_path):
    cic_replicas(pg, db, pgbouncer.url(db.name), manifest, tmp_path)
