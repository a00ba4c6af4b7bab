"""What real schemas contain and the first tests never did (issue 11, items 2-11), on every
PostgreSQL major the harness runs (PGTMP_BINDIR): one broken item never takes the whole check
down, names are resolved through the catalog (no USAGE needed on the type's schema), snapshots
mean the same under any search_path, and what PostgreSQL 18 added is read as what it is.

Each test states the property; those that need a newer server skip on older ones."""

from __future__ import annotations

import urllib.parse

import pytest

import pgharness
from conftest import APP_PASSWORD
from e2e_util import find_item, load_report
from test_snapshot import check as check_text
from test_snapshot import not_present, snapshot_ok

MAJOR = pgharness.server_major()


def run_check(preflight, manifest, url, text, name="preflight.yaml"):
    path = manifest(text, name=name)
    report = path.parent / (name + ".report.json")
    r = preflight(["check", "-f", path, "-d", url, "-t", "20s", "--report", report])
    return r, (load_report(report) if report.exists() else None)


def item(rep, kind, name):
    return find_item(rep, kind, name)


def with_search_path(url: str, path: str) -> str:
    return url + "?options=" + urllib.parse.quote(f"-c search_path={path}")


def snapshot_then_change(preflight, tmp_path, db, change):
    """Snapshots the database and checks that the snapshot passes, then runs `change` (SQL) and
    checks the same snapshot again. Returns the snapshot and the second check's result and report."""
    snap = snapshot_ok(db.url)
    r, rep = check_text(preflight, tmp_path, db.url, snap)
    assert r.code == 0, r
    db.sql(change)
    r, rep = check_text(preflight, tmp_path, db.url, snap)
    return snap, r, rep


# ---- item 2: one item's problem stays that item's ---------------------------------------------

def test_maintain_privilege_is_reported_against_its_grant(db, preflight, manifest):
    """MAINTAIN (PostgreSQL 17) on an older server is that grant's problem, not exit 69."""
    db.sql("CREATE TABLE t (i int); CREATE TABLE u (i int); GRANT SELECT ON t, u TO app")
    r, rep = run_check(preflight, manifest, db.url, """
        version: 1
        tables: [{name: t}]
        grants:
          - {role: app, privileges: [SELECT, MAINTAIN], on: table t}
          - {role: app, privileges: [SELECT], on: table u}
        """)
    assert r.code == 65, r
    bad = [i for i in rep["items"] if i["status"] != "present"]
    assert len(bad) == 1 and bad[0]["kind"] == "grant", rep
    assert "MAINTAIN" in bad[0].get("detail", ""), bad[0]
    if MAJOR < 17:
        assert "17" in bad[0]["detail"], bad[0]


def test_grant_on_a_function_is_found_by_its_argument_types(db, preflight, manifest):
    """A grant on a function names it by signature; argument types are resolved as the functions
    branch resolves them (int = int4 = integer, arrays, a type that does not exist), and only the
    grants whose function or privilege is missing are reported."""
    db.sql("CREATE FUNCTION f(integer, text[]) RETURNS int LANGUAGE sql AS 'SELECT 1';"
           "CREATE FUNCTION g() RETURNS int LANGUAGE sql AS 'SELECT 1';"
           "REVOKE EXECUTE ON FUNCTION f(integer, text[]), g() FROM PUBLIC;"
           "GRANT EXECUTE ON FUNCTION f(integer, text[]), g() TO app")
    r, rep = run_check(preflight, manifest, db.url, """
        version: 1
        grants:
          - {role: app, privileges: [EXECUTE], on: "function public.f(int4, text[])"}
          - {role: app, privileges: [EXECUTE], on: "function f(integer, _text)"}
          - {role: app, privileges: [EXECUTE], on: "function g()"}
          - {role: app, privileges: [EXECUTE], on: "function f(integer, text)"}
          - {role: app, privileges: [EXECUTE], on: "function f(integer, no_such_type[])"}
        """)
    assert r.code == 65, r
    grants = [i for i in rep["items"] if i["kind"] == "grant"]
    assert [i["status"] for i in grants] == ["present", "present", "present", "missing", "missing"], rep


def test_cross_database_type_is_reported_against_its_column(db, preflight, manifest):
    db.sql("CREATE TABLE t (a int, b text)")
    r, rep = run_check(preflight, manifest, db.url, """
        version: 1
        tables:
          - name: t
            columns: [{name: a, type: other.public.int4}, {name: b, type: text}]
        """)
    assert r.code == 65, r
    assert not_present(rep) == {("column", "public.t.a")}, rep
    assert "cross-database" in item(rep, "column", "t.a")["detail"], rep


# ---- item 5: a domain over an array ---------------------------------------------------------

def test_domain_over_an_array(db, preflight, manifest, tmp_path):
    db.sql("CREATE DOMAIN public.int_list AS integer[]; CREATE TABLE t (l public.int_list)")
    r, rep = run_check(preflight, manifest, db.url, """
        version: 1
        types: [{name: int_list}]
        tables: [{name: t, columns: [{name: l, type: int_list}]}]
        """)
    assert r.code == 0, r
    snap, r, rep = snapshot_then_change(preflight, tmp_path, db, "DROP TABLE t; DROP DOMAIN int_list")
    assert "int_list" in snap.split("tables:")[0], snap
    assert r.code == 65 and ("type", "public.int_list") in not_present(rep), rep


# ---- item 6: types in a schema the role cannot use ------------------------------------------

PRIV_SCHEMA = """
CREATE SCHEMA priv;
CREATE TYPE priv.mood AS ENUM ('a', 'b');
CREATE TABLE public.t (m priv.mood, n int);
CREATE FUNCTION public.f(priv.mood) RETURNS priv.mood LANGUAGE sql AS 'SELECT $1';
GRANT SELECT ON public.t TO app;
"""


def test_type_in_a_schema_without_usage(db, preflight, manifest, tmp_path):
    """Supabase's normal state: columns typed with auth.* enums the checking role cannot use."""
    db.sql(PRIV_SCHEMA)
    app = db.url_as("app", APP_PASSWORD)
    r, rep = run_check(preflight, manifest, app, """
        version: 1
        types: [{name: priv.mood, values: [a, b]}]
        tables: [{name: t, columns: [{name: m, type: priv.mood}, {name: n, type: integer}]}]
        functions: [{signature: "f(priv.mood)", returns: priv.mood}]
        """)
    assert r.code == 0, r
    snap = snapshot_ok(db.url)
    r, rep = check_text(preflight, tmp_path, app, snap)
    assert r.code == 0, r
    # and a real difference is still named, as that role
    db.sql("ALTER TABLE t ALTER COLUMN n TYPE bigint")
    r, rep = check_text(preflight, tmp_path, app, snap)
    assert r.code == 65 and not_present(rep) == {("column", "public.t.n")}, rep


def test_permission_failure_of_the_catalog_query_is_77(db, preflight, manifest):
    """A role that may not read the catalog cannot verify anything: that is 77, not 78."""
    db.sql("CREATE TABLE t (i int); REVOKE SELECT ON pg_catalog.pg_attribute FROM PUBLIC")
    r, rep = run_check(preflight, manifest, db.url_as("app", APP_PASSWORD), """
        version: 1
        tables: [{name: t, columns: [{name: i, type: integer}]}]
        """)
    assert r.code == 77, r
    assert "permission denied" in r.stderr, r


# ---- item 7: quoted type names with "," or "(" ------------------------------------------------

QUOTED_TYPES = """
CREATE TYPE "comma,type" AS ENUM ('x');
CREATE TYPE "paren(type" AS ENUM ('y');
CREATE FUNCTION h("comma,type") RETURNS int LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION g("paren(type", integer) RETURNS "paren(type" LANGUAGE sql AS 'SELECT $1';
CREATE TABLE q (c "comma,type", p "paren(type");
"""


# ---- item 8: snapshots and checks that do not depend on the search path -----------------------

EXTENSIONS_SCHEMA = """
CREATE SCHEMA extensions;
CREATE EXTENSION citext SCHEMA extensions;
CREATE EXTENSION "uuid-ossp" SCHEMA extensions;
CREATE TABLE public.people (
  id uuid DEFAULT extensions.uuid_generate_v4() NOT NULL,
  email extensions.citext
);
CREATE FUNCTION public.lower_email(extensions.citext) RETURNS extensions.citext LANGUAGE sql AS 'SELECT $1';
"""


def test_snapshot_means_the_same_under_any_search_path(db, preflight, tmp_path):
    db.sql(EXTENSIONS_SCHEMA)
    with_ext = with_search_path(db.url, "public,extensions")
    for taken in (db.url, with_ext):
        snap = snapshot_ok(taken)
        assert "extensions.citext" in snap and "extensions.uuid_generate_v4()" in snap, snap
        for checked in (db.url, with_ext):
            r, rep = check_text(preflight, tmp_path, checked, snap)
            assert r.code == 0, (taken, checked, r)


def test_check_compares_defaults_and_returns_whatever_the_search_path(db, preflight, manifest):
    db.sql(EXTENSIONS_SCHEMA)
    text = """
        version: 1
        tables:
          - name: people
            columns:
              - {name: id, default: extensions.uuid_generate_v4()}
              - {name: email, type: extensions.citext}
        functions: [{signature: lower_email(extensions.citext), returns: extensions.citext}]
        """
    for url in (db.url, with_search_path(db.url, "public,extensions")):
        r, rep = run_check(preflight, manifest, url, text)
        assert r.code == 0, r


# ---- item 9: triggers that fire only in replica sessions -------------------------------------

TRIGGERS = """
CREATE TABLE t (i int);
CREATE FUNCTION tf() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
CREATE TRIGGER normal BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION tf();
CREATE TRIGGER replica BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION tf();
CREATE TRIGGER always BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION tf();
ALTER TABLE t ENABLE REPLICA TRIGGER replica;
ALTER TABLE t ENABLE ALWAYS TRIGGER always;
"""


# ---- item 10: partitions are described by their parent ---------------------------------------

def test_partitions_are_described_by_the_parent(db, preflight, tmp_path):
    parts = "\n".join(f"CREATE TABLE m_{k} PARTITION OF m FOR VALUES IN ({k});" for k in range(12))
    db.sql(f"""
        CREATE TABLE m (k int NOT NULL, v text, w int) PARTITION BY LIST (k);
        {parts}
        CREATE INDEX m_v ON m (v);
        """)
    snap = snapshot_ok(db.url)
    assert "m_3" not in snap, snap
    r, rep = check_text(preflight, tmp_path, db.url, snap)
    assert r.code == 0, r
    full = snapshot_ok(db.url, "--partitions")
    assert "m_3" in full, full
    r, rep = check_text(preflight, tmp_path, db.url, full, name="full.yaml")
    assert r.code == 0, r
    db.sql("ALTER TABLE m DROP COLUMN w")
    r, rep = check_text(preflight, tmp_path, db.url, snap)
    assert r.code == 65 and not_present(rep) == {("column", "public.m.w")}, rep


# ---- item 11: type modifiers, dotted schemas, ON ONLY indexes --------------------------------

def test_on_only_index_with_unattached_partitions(db, preflight, manifest, tmp_path):
    db.sql("""
        CREATE TABLE m (k int, v text) PARTITION BY LIST (k);
        CREATE TABLE m_1 PARTITION OF m FOR VALUES IN (1);
        CREATE INDEX m_v ON ONLY m (v);
        """)
    r, rep = run_check(preflight, manifest, db.url, "version: 1\nindexes: [{name: m_v, table: m}]\n")
    assert r.code == 65, r
    detail = item(rep, "index", "m_v")["detail"]
    assert "CONCURRENTLY" not in detail and "ON ONLY" in detail and "partition" in detail, detail
    snap = snapshot_ok(db.url)
    assert "CONCURRENTLY" not in snap and "m_v" in snap, snap
    db.sql("CREATE INDEX m_1_v ON m_1 (v); ALTER INDEX m_v ATTACH PARTITION m_1_v")
    r, rep = run_check(preflight, manifest, db.url, "version: 1\nindexes: [{name: m_v, table: m}]\n", name="b.yaml")
    assert r.code == 0, r


# ---- item 4: snapshots portable across versions ----------------------------------------------

def test_snapshot_records_no_server_specific_extension_version(db, preflight, tmp_path):
    """A snapshot says which extensions the app needs, not which version one server ships."""
    db.sql("CREATE EXTENSION citext")
    snap = snapshot_ok(db.url)
    line = [ln for ln in snap.splitlines() if "citext" in ln][0]
    assert "version" not in line, line
    r, rep = check_text(preflight, tmp_path, db.url, snap)
    assert r.code == 0, r


# ---- item 3: PostgreSQL 18 -------------------------------------------------------------------

pg18 = pytest.mark.skipif(MAJOR < 18, reason="PostgreSQL 18 catalog features")


@pg18
def test_not_null_not_valid_does_not_satisfy_nullable_false(db, preflight, manifest, tmp_path):
    db.sql("CREATE TABLE t (a int, b int NOT NULL); INSERT INTO t VALUES (NULL, 1);"
           "ALTER TABLE t ADD CONSTRAINT a_nn NOT NULL a NOT VALID")
    r, rep = run_check(preflight, manifest, db.url, """
        version: 1
        tables: [{name: t, columns: [{name: a, nullable: false}, {name: b, nullable: false}]}]
        """)
    assert r.code == 65 and not_present(rep) == {("column", "public.t.a")}, rep
    assert "NOT VALID" in item(rep, "column", "t.a")["detail"], rep
    snap = snapshot_ok(db.url)
    r, rep = check_text(preflight, tmp_path, db.url, snap)
    assert r.code == 0, r
    assert "nullable: false" in [ln for ln in snap.splitlines() if "name: b" in ln][0], snap
    assert "nullable" not in [ln for ln in snap.splitlines() if "name: a," in ln][0], snap


@pg18
def test_not_enforced_constraint_is_reported_as_not_enforced(db, preflight, manifest):
    db.sql("CREATE TABLE t (a int, CONSTRAINT pos CHECK (a > 0) NOT ENFORCED)")
    r, rep = run_check(preflight, manifest, db.url, "version: 1\nconstraints: [{name: pos, table: t}]\n")
    assert r.code == 65, r
    detail = item(rep, "constraint", "t.pos")["detail"]
    assert "NOT ENFORCED" in detail and "NOT VALID" not in detail, detail


def test_quoted_type_names_in_signatures(db, preflight, manifest, tmp_path):
    db.sql(QUOTED_TYPES)
    r, rep = run_check(preflight, manifest, db.url, """
        version: 1
        functions:
          - {signature: 'h("comma,type")', returns: integer}
          - {signature: 'g("paren(type", integer)', returns: '"paren(type"'}
        tables: [{name: q, columns: [{name: c, type: '"comma,type"'}, {name: p, type: '"paren(type"'}]}]
        """)
    assert r.code == 0, r
    snap, r, rep = snapshot_then_change(preflight, tmp_path, db, 'DROP FUNCTION g("paren(type", integer)')
    assert "comma,type" in snap.split("functions:")[1], snap
    assert r.code == 65 and len(not_present(rep)) == 1, rep


def test_replica_and_always_triggers_are_told_apart(db, preflight, manifest, tmp_path):
    db.sql(TRIGGERS)
    r, rep = run_check(preflight, manifest, db.url, """
        version: 1
        triggers:
          - {name: normal, table: t}
          - {name: replica, table: t}
          - {name: always, table: t}
        """)
    assert r.code == 65, r
    assert not_present(rep) == {("trigger", "public.t.replica")}, rep
    assert "replica" in item(rep, "trigger", "t.replica")["detail"], rep
    r, rep = run_check(preflight, manifest, db.url, """
        version: 1
        triggers:
          - {name: normal, table: t, enabled: origin}
          - {name: replica, table: t, enabled: replica}
          - {name: always, table: t, enabled: always}
        """, name="b.yaml")
    assert r.code == 0, r
    # Back to origin: no longer what the app had.
    snap, r, rep = snapshot_then_change(preflight, tmp_path, db, "ALTER TABLE t ENABLE TRIGGER replica")
    assert r.code == 65 and not_present(rep) == {("trigger", "public.t.replica")}, rep


@pytest.mark.skipif(MAJOR < 15, reason="a negative numeric scale needs PostgreSQL 15")
def test_negative_numeric_scale_is_written_and_checked(db, preflight, tmp_path):
    db.sql("CREATE TABLE n (a numeric(3,-1), b numeric(10,2))")
    snap, r, rep = snapshot_then_change(preflight, tmp_path, db, "ALTER TABLE n ALTER COLUMN a TYPE numeric(3,-2)")
    assert "numeric(3,-1)" in snap, snap
    assert r.code == 65 and not_present(rep) == {("column", "public.n.a")}, rep


def test_objects_on_a_table_in_a_dotted_schema(db, preflight, tmp_path):
    db.sql("""
        CREATE SCHEMA "my.app";
        CREATE TABLE "my.app".orders (id int PRIMARY KEY, ref int UNIQUE, n int CHECK (n > 0));
        CREATE INDEX orders_n ON "my.app".orders (n);
        CREATE FUNCTION "my.app".tf() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
        CREATE TRIGGER orders_t BEFORE INSERT ON "my.app".orders FOR EACH ROW EXECUTE FUNCTION "my.app".tf();
        ALTER TABLE "my.app".orders ENABLE ROW LEVEL SECURITY;
        CREATE POLICY orders_p ON "my.app".orders USING (true);
        """)
    snap = snapshot_ok(db.url)
    assert "which `table:` cannot express" not in snap, snap
    r, rep = check_text(preflight, tmp_path, db.url, snap)
    assert r.code == 0, r
    names = {i["name"] for i in rep["items"]}
    for obj in ("orders_n", "orders_pkey", "orders_ref_key", "orders_n_check", "orders_t", "orders_p"):
        assert any(obj in n for n in names), (obj, names)
    db.sql('DROP INDEX "my.app".orders_n; DROP POLICY orders_p ON "my.app".orders')
    r, rep = check_text(preflight, tmp_path, db.url, snap)
    assert r.code == 65 and {n for _, n in not_present(rep)} == {"my.app.orders_n", "my.app.orders.orders_p"}, rep




@pg18
def test_virtual_generated_columns(db, preflight, manifest, tmp_path):
    db.sql("CREATE TABLE t (a int, v int GENERATED ALWAYS AS (a * 2) VIRTUAL, s int GENERATED ALWAYS AS (a * 3) STORED)")
    r, rep = run_check(preflight, manifest, db.url, """
        version: 1
        tables: [{name: t, columns: [{name: v, generated: virtual}, {name: s, generated: stored}]}]
        """)
    assert r.code == 0, r
    r, rep = run_check(preflight, manifest, db.url, """
        version: 1
        tables: [{name: t, columns: [{name: v, generated: stored}, {name: s, generated: virtual}]}]
        """, name="b.yaml")
    assert r.code == 65 and len(not_present(rep)) == 2, rep
    snap = snapshot_ok(db.url)
    assert "generated: virtual" in snap, snap
    r, rep = check_text(preflight, tmp_path, db.url, snap)
    assert r.code == 0, r


@pg18
def test_named_not_null_constraints(db, preflight, manifest, tmp_path):
    db.sql("CREATE TABLE t (a int CONSTRAINT a_required NOT NULL, b int)")
    r, rep = run_check(preflight, manifest, db.url, """
        version: 1
        constraints: [{name: a_required, table: t, type: not_null}]
        """)
    assert r.code == 0, r
    snap, r, rep = snapshot_then_change(preflight, tmp_path, db, "ALTER TABLE t ALTER COLUMN a DROP NOT NULL")
    assert r.code == 65, rep
    assert {n for _, n in not_present(rep)} <= {"public.t.a", "public.t.a_required"}, rep


# ---- a schema no one on this project wrote the app for: Supabase-like auth/storage ----------

SUPABASE_LIKE = (pgharness.REPO / "tests" / "data" / "schemas" / "supabase_auth.sql").read_text()

# One breakage per kind, and exactly the report items each must turn non-present.
BREAKAGES = [
    ("ALTER TABLE auth.users DROP COLUMN phone", {("column", "auth.users.phone"), ("constraint", "auth.users.users_phone_key")}),
    ("ALTER TABLE auth.sessions ALTER COLUMN aal TYPE text", {("column", "auth.sessions.aal")}),
    ("DROP INDEX auth.users_email_partial_key", {("index", "auth.users_email_partial_key")}),
    ("ALTER TABLE storage.objects DISABLE TRIGGER update_objects_updated_at",
     {("trigger", "storage.objects.update_objects_updated_at")}),
    ('DROP POLICY "Public read" ON storage.objects', {("policy", "storage.objects.Public read")}),
    ("ALTER TABLE public.profiles ALTER COLUMN aal DROP DEFAULT", {("column", "public.profiles.aal")}),
    ("DROP FUNCTION auth.aal_of(auth.aal_level)", {("function", "auth.aal_of(auth.aal_level)")}),
    ("ALTER TABLE auth.mfa_factors ALTER COLUMN created_at DROP NOT NULL", {("column", "auth.mfa_factors.created_at")}),
]


@pytest.mark.parametrize("breakage", range(len(BREAKAGES)))
def test_supabase_like_schema_round_trip_as_a_role_without_usage(db, preflight, tmp_path, breakage):
    """Snapshot as the owner, check as `app`, which has no USAGE on auth, storage or extensions:
    exit 0, then one breakage named exactly, with no false alarm."""
    db.sql(SUPABASE_LIKE)
    snap = snapshot_ok(db.url)
    app = db.url_as("app", APP_PASSWORD)
    r, rep = check_text(preflight, tmp_path, app, snap)
    assert r.code == 0, r
    sql, want = BREAKAGES[breakage]
    db.sql(sql)
    r, rep = check_text(preflight, tmp_path, app, snap)
    assert r.code == 65 and not_present(rep) == want, (sql, not_present(rep))


# ---- what a mismatch reports, when the query computes it only for the items that need it ----

def test_mismatches_show_what_was_found_beside_items_that_ask_nothing(db, preflight, manifest):
    """The catalog query deparses defaults, function results and foreign keys' targets only
    where the manifest asks for them (and a function's result only when it is not the declared
    one): each mismatch still names what the database has, and the items around it that ask
    for none of it still pass."""
    db.sql("""
        CREATE TABLE a (id int PRIMARY KEY, n int DEFAULT 0, m int DEFAULT 1);
        CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a (id), c_id int REFERENCES a (id));
        CREATE FUNCTION s() RETURNS integer LANGUAGE sql AS 'SELECT 1';
        CREATE FUNCTION t() RETURNS TABLE(x integer) LANGUAGE sql AS 'SELECT 1';
        CREATE FUNCTION u() RETURNS integer LANGUAGE sql AS 'SELECT 1';
        CREATE FUNCTION v() RETURNS integer LANGUAGE sql AS 'SELECT 1';
        CREATE TABLE p (x int, y int, UNIQUE (y, x));
        CREATE TABLE q (a int, b int, FOREIGN KEY (a, b) REFERENCES p (y, x));
        CREATE INDEX b_idx ON b (a_id);
        CREATE INDEX b_idx2 ON b (c_id);
        """)
    text = """
        version: 1
        tables:
          - name: a
            columns:
              - {name: n, default: "5"}
              - {name: m}
        functions:
          - {signature: "s()", returns: bigint}
          - {signature: "t()", returns: "TABLE(x bigint)"}
          - {signature: "u()", returns: integer}
          - {signature: "v()"}
        constraints:
          - {name: b_a_id_fkey, table: b, type: foreign_key, references: "b(id)"}
          - {name: b_c_id_fkey, table: b, type: foreign_key}
          - {name: a_pkey, table: a, type: primary_key}
          - {name: q_a_b_fkey, table: q, type: foreign_key, references: "p(x, y)"}
        indexes:
          - {name: b_idx, table: a}
          - {name: b_idx2, table: nosuch}
          - {name: a_pkey, table: a}
        """
    r, rep = run_check(preflight, manifest, text=text, url=db.url)
    assert r.code == 65, r
    bad = {i["kind"] + " " + i["name"]: i for i in rep["items"] if i["status"] != "present"}
    assert "found 0" in item(rep, "column", "a.n")["detail"], rep
    assert "found integer" in item(rep, "function", "s()")["detail"], rep
    assert "found TABLE(x integer)" in item(rep, "function", "t()")["detail"], rep
    assert "public.a(id)" in item(rep, "constraint", "b_a_id_fkey")["detail"], rep
    assert "index is on public.b, not on public.a" in item(rep, "index", "b_idx")["detail"], rep
    assert "index is on public.b, not on public.nosuch" in item(rep, "index", "b_idx2")["detail"], rep
    assert "public.p(y, x)" in item(rep, "constraint", "q_a_b_fkey")["detail"], rep
    assert len(bad) == 7, bad
    # The same items, each asking what the database has, all pass.
    fixed = (text.replace('default: "5"', 'default: "0"').replace("returns: bigint", "returns: integer")
             .replace("TABLE(x bigint)", "TABLE(x integer)").replace('"b(id)"', '"a(id)"')
             .replace("{name: b_idx, table: a}", "{name: b_idx, table: b}").replace("table: nosuch", "table: b")
             .replace('"p(x, y)"', '"p(y, x)"'))
    r, rep = run_check(preflight, manifest, text=fixed, url=db.url)
    assert r.code == 0, (r, rep)
