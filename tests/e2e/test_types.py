"""Column types are compared as PostgreSQL canonicalises them, and nullability is checked."""

import uuid

import pytest

from e2e_util import find_item, load_report

TYPED_TABLE = """
CREATE TABLE typed (
    i     integer,
    b     bigint,
    v255  varchar(255),
    v100  varchar(100),
    ts    timestamptz,
    tsn   timestamp,
    n     numeric(10,2),
    arr   text[],
    j     jsonb,
    flag  boolean,
    u     uuid,
    nn    text NOT NULL,
    maybe text
);
"""


@pytest.fixture(scope="module")
def typed_db(pg):
    name = "t_types_" + uuid.uuid4().hex[:8]
    pg.psql(f'CREATE DATABASE "{name}"')
    pg.psql(TYPED_TABLE, name)
    yield pg.url(name)
    pg.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', check=False)


def column_manifest(column: str, type_: str | None = None, nullable: bool | None = None) -> str:
    lines = ["version: 1", "tables:", "  - name: typed", "    columns:", f"      - name: {column}"]
    if type_ is not None:
        lines.append(f'        type: "{type_}"')
    if nullable is not None:
        lines.append(f"        nullable: {'true' if nullable else 'false'}")
    return "\n".join(lines) + "\n"


def check(preflight, tmp_path, url, text):
    m = tmp_path / "preflight.yaml"
    m.write_text(text)
    report = tmp_path / "report.json"
    r = preflight(["check", "-f", m, "-d", url, "-t", "10s", "--report", report])
    return r, report


ACCEPTED = [
    ("i", "int"), ("i", "int4"), ("i", "integer"), ("i", "INTEGER"),
    ("b", "bigint"), ("b", "int8"),
    ("v255", "varchar(255)"), ("v255", "character varying(255)"),
    ("v255", "varchar"), ("v100", "varchar"), ("v255", "character varying"),
    ("ts", "timestamptz"), ("ts", "timestamp with time zone"),
    ("tsn", "timestamp"), ("tsn", "timestamp without time zone"),
    ("n", "numeric(10,2)"), ("n", "numeric"), ("n", "decimal(10,2)"),
    ("arr", "text[]"),
    ("j", "jsonb"),
    ("flag", "bool"), ("flag", "boolean"),
    ("u", "uuid"),
]

REJECTED = [
    ("i", "bigint"), ("i", "int8"), ("i", "text"), ("i", "smallint"),
    ("b", "int"),
    ("v100", "varchar(255)"), ("v255", "varchar(100)"), ("v255", "text"),
    ("ts", "timestamp"), ("tsn", "timestamptz"),
    ("n", "numeric(12,2)"),
    ("j", "json"),
    ("u", "text"),
]


@pytest.mark.parametrize("column,type_", ACCEPTED, ids=[f"{c}:{t}" for c, t in ACCEPTED])
def test_type_accepted(typed_db, preflight, tmp_path, column, type_):
    r, report = check(preflight, tmp_path, typed_db, column_manifest(column, type_))
    assert r.code == 0, str(r)
    assert find_item(load_report(report), "column", f"typed.{column}")["status"] == "present"


@pytest.mark.parametrize("column,type_", REJECTED, ids=[f"{c}:{t}" for c, t in REJECTED])
def test_type_rejected(typed_db, preflight, tmp_path, column, type_):
    r, report = check(preflight, tmp_path, typed_db, column_manifest(column, type_))
    assert r.code == 65, str(r)
    item = find_item(load_report(report), "column", f"typed.{column}")
    assert item["status"] == "missing", item


def test_length_mismatch_reports_expected_and_found(typed_db, preflight, tmp_path):
    r, report = check(preflight, tmp_path, typed_db, column_manifest("v100", "varchar(255)"))
    assert r.code == 65, str(r)
    item = find_item(load_report(report), "column", "public.typed.v100")
    assert item["status"] == "missing"
    detail = item.get("detail") or ""
    assert "255" in detail and "100" in detail, f"detail should show expected and found: {item}"
    # The log says it too (stderr), and stdout stays empty.
    assert "255" in r.stderr and "100" in r.stderr, str(r)
    assert r.stdout == ""


@pytest.mark.parametrize("column,nullable,code", [
    ("nn", False, 0), ("nn", True, 65), ("maybe", True, 0), ("maybe", False, 65),
])
def test_nullable(typed_db, preflight, tmp_path, column, nullable, code):
    r, report = check(preflight, tmp_path, typed_db, column_manifest(column, "text", nullable))
    assert r.code == code, str(r)
    item = find_item(load_report(report), "column", f"typed.{column}")
    assert item["status"] == ("present" if code == 0 else "missing"), item
    if code:
        assert item.get("detail"), f"a nullability mismatch should say why: {item}"


def test_column_without_type_accepts_any(typed_db, preflight, tmp_path):
    r, _ = check(preflight, tmp_path, typed_db, column_manifest("j"))
    assert r.code == 0, str(r)


def test_missing_column_of_present_table(typed_db, preflight, tmp_path):
    r, report = check(preflight, tmp_path, typed_db, column_manifest("nope", "text"))
    assert r.code == 65, str(r)
    rep = load_report(report)
    assert find_item(rep, "column", "typed.nope")["status"] == "missing"
    assert find_item(rep, "table", "typed")["status"] == "present"


def test_columns_are_matched_by_their_own_table(pg, preflight, tmp_path):
    """Columns are read per table and matched to the manifest by (table, name): two tables with the
    same column names and different types are told apart, a dropped column or a system column
    never counts, and the columns of a missing table are missing because of it. Also when the
    manifest lists only some of a table's columns, and the tables in another order than they
    were created in."""
    name = "t_colmatch_" + uuid.uuid4().hex[:8]
    pg.psql(f'CREATE DATABASE "{name}"')
    try:
        pg.psql("CREATE SCHEMA auth;"
                "CREATE TABLE public.users (id integer, email text, avatar_url text, extra int, more int);"
                "CREATE TABLE auth.users (id uuid, email varchar(10));"
                "ALTER TABLE public.users DROP COLUMN avatar_url;", name)
        text = ("version: 1\ntables:\n"
                "  - name: auth.users\n    columns:\n"
                "      - {name: id, type: uuid}\n      - {name: email, type: varchar(20)}\n"
                "      - {name: ctid}\n"
                "  - name: users\n    columns:\n"
                "      - {name: email, type: text}\n      - {name: id, type: integer}\n"
                "      - {name: avatar_url}\n      - {name: Email}\n"
                "  - name: nope\n    columns:\n      - {name: id, type: integer}\n")
        r, report = check(preflight, tmp_path, pg.url(name), text)
        assert r.code == 65, str(r)
        rep = load_report(report)
        status = {(i["kind"], i["name"]): i["status"] for i in rep["items"]}
        assert status[("column", "public.users.id")] == "present"
        assert status[("column", "public.users.email")] == "present"
        assert status[("column", "auth.users.id")] == "present"
        for missing in ("auth.users.email", "auth.users.ctid", "public.users.avatar_url", "public.users.Email",
                        "public.nope.id"):
            assert status[("column", missing)] == "missing", (missing, rep["items"])
        email = find_item(rep, "column", "auth.users.email")
        assert "character varying(20)" in email["detail"] and "character varying(10)" in email["detail"], email
        assert "table public.nope does not exist" in find_item(rep, "column", "public.nope.id")["detail"]
    finally:
        pg.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', check=False)



def test_one_manifest_many_columns_sharing_and_differing_in_type_text(pg, preflight, tmp_path):
    """Each distinct type text is parsed once per run, and columns share what it came to: the same
    text on several columns, two texts of one type with different modifiers, and texts that name
    no type of this database are each judged on their own column, in one manifest. (A text that
    is not a type name at all is refused with the manifest, at its line.)"""
    name = "t_types_shared_" + uuid.uuid4().hex[:8]
    pg.psql(f'CREATE DATABASE "{name}"')
    try:
        pg.psql("CREATE TABLE shared (a1 varchar(255), a2 varchar(100), a3 varchar(100), a4 integer, "
                "a5 bigint, a6 numeric(10,2), a7 timestamptz, a8 uuid, a9 jsonb, a10 boolean, a11 text)", name)
        cols = [
            ("a1", "varchar(255)", "present"),
            ("a2", "varchar(255)", "missing"),            # the same text, another column
            ("a3", "character varying(100)", "present"),  # the same type, other modifiers
            ("a4", "int4", "present"),
            ("a5", "int4", "missing"),
            ("a6", "numeric(10,2)", "present"),
            ("a7", "numeric(10,2)", "missing"),
            ("a8", "no_such_type_here", "missing"),
            ("a9", "otherdb.public.jsonb", "missing"),
            ("a10", "bool", "present"),
            ("a11", "varchar(255)", "missing"),
        ]
        lines = ["version: 1", "tables:", "  - name: shared", "    columns:"]
        for c, t, _ in cols:
            lines += [f"      - name: {c}", f'        type: "{t}"']
        r, report = check(preflight, tmp_path, pg.url(name), "\n".join(lines) + "\n")
        assert r.code == 65, str(r)
        items = {i["name"].rsplit(".", 1)[-1]: i for i in load_report(report)["items"] if i["kind"] == "column"}
        assert sorted(items) == sorted(c for c, _, _ in cols), items
        for c, t, want in cols:
            assert items[c]["status"] == want, (c, t, items[c])
        detail = {c: items[c].get("detail") or "" for c, _, _ in cols}
        assert "expected character varying(255), found character varying(100)" in detail["a2"], detail["a2"]
        assert "expected integer, found bigint" in detail["a5"], detail["a5"]
        assert "expected numeric(10,2), found timestamp with time zone" in detail["a7"], detail["a7"]
        assert "not a known type" in detail["a8"], detail["a8"]
        assert "cross-database references are not supported" in detail["a9"], detail["a9"]
        assert "expected character varying(255), found text" in detail["a11"], detail["a11"]
    finally:
        pg.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', check=False)
