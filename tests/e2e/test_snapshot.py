"""preflight snapshot: a manifest written from the live catalog.

The properties under test:
- round trip: `check` against the snapshot of the same database exits 0;
- exactness: drop or alter objects (one per kind, then a seeded random set) and `check` names
  exactly those objects, no more, no fewer (the registry below says which report items each
  change must turn non-present);
- determinism: the output is byte-identical across runs, and across two databases built by the
  same SQL (whose OIDs differ);
- filters: --schema and --table;
- what is left out: extension members, internal and partition-copy objects, and objects in a
  state verification rejects (each with a comment).

The database is a generated schema of several hundred objects of every kind, with names that
need quoting in YAML and in SQL. It is built once as a template and cloned per test.

Until `preflight snapshot` is wired in main.c, the tests use tests/tools/snapshot_driver (the
same pf_snapshot_write), found through PF_SNAPSHOT_DRIVER or beside the binary; the test
test_preflight_snapshot_command_matches_driver says whether the real command works.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import time
import uuid
from pathlib import Path

import pytest

import pgharness
from e2e_util import load_report
from pgharness import Result, preflight_bin, preflight_env, run_preflight

SEED = int(os.environ.get("PF_SNAPSHOT_SEED", "20261122"))


# ---- running snapshot and check ------------------------------------------------------------

def driver_path() -> str | None:
    p = os.environ.get("PF_SNAPSHOT_DRIVER")
    if p:
        return p
    cand = Path(preflight_bin()).parent / "tests" / "snapshot_driver"
    return str(cand) if cand.exists() else None


def run_driver(args: list, env: dict | None = None, cwd=None) -> Result:
    path = driver_path()
    if path is None:
        pytest.skip("neither `preflight snapshot` nor tests/tools/snapshot_driver is available")
    t0 = time.monotonic()
    p = subprocess.run([path, *map(str, args)], env=preflight_env(env), cwd=cwd, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    return Result(p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace"),
                  time.monotonic() - t0, ["snapshot_driver", *map(str, args)])


_via = {}


def snapshot(url: str, *args, env: dict | None = None, cwd=None) -> Result:
    """Runs `preflight snapshot -d URL ARGS` in a folder without a manifest (a first snapshot has
    none), falling back to the driver while the subcommand is not wired."""
    argv = ["-d", url, *args]
    cwd = cwd or "/"
    if _via.get("how") != "driver":
        r = run_preflight(["snapshot", *argv], env=env, cwd=cwd, timeout=120)
        if r.code == 0 or _via.get("how") == "preflight":
            _via["how"] = "preflight"
            return r
        if driver_path() is None:
            return r
        _via["how"] = "driver"
        _via["why"] = r
    return run_driver(argv, env=env, cwd=cwd)


def snapshot_ok(url: str, *args, env: dict | None = None) -> str:
    r = snapshot(url, *args, env=env)
    assert r.code == 0, str(r)
    return r.stdout


def check(preflight, tmp_path: Path, url: str, text: str, name: str = "snap.yaml") -> tuple[Result, dict | None]:
    path = tmp_path / name
    path.write_text(text)
    report = tmp_path / (name + ".report.json")
    if report.exists():
        report.unlink()
    r = preflight(["check", "-f", path, "-d", url, "-t", "20s", "--report", report])
    return r, (load_report(report) if report.exists() else None)


def not_present(report: dict) -> set:
    return {(i["kind"], i["name"]) for i in report["items"] if i["status"] != "present"}


def describe(report: dict, names: set) -> str:
    return "\n".join(json.dumps(i) for i in report["items"] if (i["kind"], i["name"]) in names)


# ---- the generated schema ------------------------------------------------------------------

def qi(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def ql(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def q2(schema: str, name: str) -> str:
    return f"{qi(schema)}.{qi(name)}"


def yq(s: str) -> str:
    """The snapshot's YAML form of a simple name (what pf_snapshot_yaml_scalar writes)."""
    plain = re.fullmatch(r"[A-Za-z_](?:[A-Za-z0-9_()]| (?! |$))*", s) is not None and \
        s.lower() not in ("null", "true", "false", "yes", "no", "on", "off", "y", "n")
    return s if plain else '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


# Column names that need quoting in YAML, in SQL or both.
ODD_NAMES = ["userId", "User Name", "a.b", "yes", "null", "123", "-x", "#h", "a: b", "*s", "&a", "!b",
             'q"uote', "it's", "café", "true", "No", "x,y", "[br]", "{br}", "%p", "@at", "tab\tname", "~",
             "1.5", "on", "a #b", "ends:"]

# (SQL type, format_type's spelling in the snapshot, a default expression or None, btree-able)
COL_TYPES = [
    ("integer", "integer", "0", True), ("bigint", "bigint", "42", True), ("smallint", "smallint", None, True),
    ("text", "text", "'x'", True), ("varchar(40)", "character varying(40)", None, True),
    ("varchar(255)", "character varying(255)", "'none'", True), ("character(3)", "character(3)", None, True),
    ("numeric(10,2)", "numeric(10,2)", "1.5", True), ("numeric", "numeric", None, True),
    ("text[]", "text[]", "'{}'", True), ("integer[]", "integer[]", None, True),
    ("varchar(20)[]", "character varying(20)[]", None, True), ("timestamptz", "timestamp with time zone", "now()", True),
    ("timestamp(3)", "timestamp(3) without time zone", None, True), ("date", "date", "CURRENT_DATE", True),
    ("time with time zone", "time with time zone", None, True), ("interval", "interval", None, True),
    ("interval day to second(3)", "interval day to second(3)", None, True), ("boolean", "boolean", "false", True),
    ("uuid", "uuid", "gen_random_uuid()", True), ("jsonb", "jsonb", "'{}'", True), ("json", "json", None, False),
    ("bytea", "bytea", None, True), ("double precision", "double precision", None, True), ("real", "real", None, True),
    ("inet", "inet", None, True), ("bit varying(5)", "bit varying(5)", None, True), ('"char"', '"char"', None, True),
    ("tstzrange", "tstzrange", None, True), ("public.mood", "public.mood", "'sad'", True),
    ("app.status", "app.status", "'new'", True), ("app.email", "app.email", None, True),
    ("public.pair", "public.pair", None, True), ("citext", "public.citext", None, True),
]

# Function argument types, as SQL and as oidvectortypes() writes them with search_path = pg_catalog
# (the snapshot qualifies every name outside pg_catalog).
ARG_TYPES = [("integer", "integer"), ("text", "text"), ("uuid", "uuid"), ("boolean", "boolean"),
             ("timestamptz", "timestamp with time zone"), ("numeric", "numeric"), ("text[]", "text[]"),
             ("public.mood", "public.mood"), ("app.status", "app.status"), ("varchar", "character varying"),
             ("bigint", "bigint")]
RET_TYPES = ["integer", "text", "boolean", "uuid", "bigint", "jsonb", "void"]


class Table:
    def __init__(self, schema: str, name: str):
        self.schema, self.name = schema, name
        self.cols: list[str] = []
        self.pinned: set[str] = set()
        self.items: set = set()          # report items that belong to the table (columns, indexes, ...)
        self.serial_seqs: list[str] = []
        self.droppable = True
        self.id_type = "integer"
        self.policies: list[str] = []

    @property
    def disp(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def sql(self) -> str:
        return q2(self.schema, self.name)

    def on_table(self, kind: str, name: str) -> tuple:
        if "." in self.schema:           # snapshot cannot name objects of tables in such schemas
            return None
        item = (kind, f"{self.schema}.{self.name}.{name}")
        self.items.add(item)
        return item


class Builder:
    """Generates the schema's SQL and, for each change a test may make, the report items the
    change must turn non-present."""

    def __init__(self, seed: int):
        self.r = random.Random(seed)
        self.sql: list[str] = []
        self.late: list[str] = []        # statements that must fail or run outside a transaction
        self.cands: dict[str, list] = {}  # category -> [(lock, sql, expected set)]
        self.tables: list[Table] = []
        self.n_objects = 0

    def cand(self, category: str, lock: str, sql: str, expected: set):
        self.cands.setdefault(category, []).append((lock, sql, frozenset(e for e in expected if e)))

    def add(self, sql: str, objects: int = 1):
        self.sql.append(sql)
        self.n_objects += objects

    # -- kinds that live in a schema

    def prologue(self):
        self.add("CREATE EXTENSION pgcrypto; CREATE EXTENSION citext;", 2)
        for s in ["app", "Weird Schema", "billing", "dot.schema", "empty_one", "Empty Two"]:
            self.add(f"CREATE SCHEMA {qi(s)};")
        self.add("CREATE EXTENSION hstore SCHEMA billing;")
        self.cand("drop_extension", "ext:hstore", "DROP EXTENSION hstore", {("extension", "hstore")})
        self.cand("drop_schema", "schema:empty_one", "DROP SCHEMA empty_one", {("schema", "empty_one")})
        self.cand("drop_schema", "schema:Empty Two", 'DROP SCHEMA "Empty Two"', {("schema", "Empty Two")})
        self.add("CREATE TYPE public.mood AS ENUM ('happy', 'sad', 'yes', 'null', 'a b', 'x:y', 'Ünï');")
        self.add("CREATE TYPE app.status AS ENUM ('new', 'open', 'closed');")
        self.add("CREATE TYPE public.pair AS (a integer, b text);")
        self.add("CREATE DOMAIN app.email AS text CHECK (VALUE LIKE '%@%');")
        schemas = ["public", "app", "Weird Schema", "billing"]
        for i in range(8):
            s = schemas[i % 4]
            name = ["spare_enum", "Spare Enum", "spare.enum", "yes"][i % 4] + f"_{i}"
            self.add(f"CREATE TYPE {q2(s, name)} AS ENUM ('a', 'b', 'no', '1.0');")
            self.cand("rename_enum_label", f"type:{s}.{name}", f"ALTER TYPE {q2(s, name)} RENAME VALUE 'no' TO 'nope'",
                      {("type", f"{s}.{name}")})
            self.cand("drop_enum", f"type:{s}.{name}", f"DROP TYPE {q2(s, name)}", {("type", f"{s}.{name}")})
        for i in range(3):
            s = schemas[i]
            self.add(f"CREATE TYPE {q2(s, f'spare_pair_{i}')} AS (x integer, y text[]);")
            self.cand("drop_composite", f"type:{s}.spare_pair_{i}", f"DROP TYPE {q2(s, f'spare_pair_{i}')}",
                      {("type", f"{s}.spare_pair_{i}")})
            self.add(f"CREATE DOMAIN {q2(s, f'Positive {i}')} AS integer CHECK (VALUE > 0);")
            self.cand("drop_domain", f"type:{s}.Positive {i}", f"DROP DOMAIN {q2(s, f'Positive {i}')}",
                      {("type", f"{s}.Positive {i}")})
        self.add("CREATE TYPE app.floatrange AS RANGE (subtype = float8);")
        self.cand("drop_range", "type:app.floatrange", "DROP TYPE app.floatrange", {("type", "app.floatrange")})
        for i in range(8):
            s = schemas[i % 4]
            name = ["seq", "Seq Mixed", "seq.dotted", "123"][i % 4] + f"_{i}"
            self.add(f"CREATE SEQUENCE {q2(s, name)};")
            self.cand("drop_sequence", f"seq:{s}.{name}", f"DROP SEQUENCE {q2(s, name)}", {("sequence", f"{s}.{name}")})
        self.add("CREATE FUNCTION public.trg_noop() RETURNS trigger LANGUAGE plpgsql AS "
                 "$$BEGIN RETURN coalesce(NEW, OLD); END$$;")
        self.add('CREATE FUNCTION app."Audit Fn"() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS '
                 "$$BEGIN RETURN NULL; END$$;")

    # -- tables

    def column(self, t: Table, name: str, ctype: tuple, allow_identity_default=True) -> str:
        sql_type, _, default, _ = ctype
        parts = [qi(name), sql_type]
        if self.r.random() < 0.3:
            parts.append("NOT NULL")
            if default is None and sql_type not in ("app.email",):
                default = {"smallint": "0", "bytea": "'\\x00'", "json": "'{}'", "tstzrange": "'empty'",
                           "public.pair": "ROW(1, 'a')", "citext": "'c'", "inet": "'127.0.0.1'"}.get(sql_type, None)
            if default is None:
                parts.pop()
            else:
                t.notnull = getattr(t, "notnull", set()) | {name}
        if default is not None and (self.r.random() < 0.5 or "NOT NULL" in parts):
            parts.append(f"DEFAULT {default}")
            t.defaults = getattr(t, "defaults", set()) | {name}
        return " ".join(parts)

    def table(self, schema: str, name: str, refs: list[Table]) -> Table:
        r = self.r
        t = Table(schema, name)
        self.tables.append(t)
        simple = re.fullmatch(r"[a-z_][a-z0-9_]*", name) is not None and len(name) < 30
        id_kind = r.choice(["identity", "identity_always", "uuid", "serial" if simple else "identity", "plain"])
        if id_kind == "uuid":
            t.id_type, id_sql = "uuid", "id uuid DEFAULT gen_random_uuid()"
        elif id_kind == "serial":
            t.id_type, id_sql = "integer", "id serial"
            t.serial_seqs.append(f"{name}_id_seq")
        elif id_kind == "identity_always":
            t.id_type, id_sql = "bigint", "id bigint GENERATED ALWAYS AS IDENTITY"
        elif id_kind == "identity":
            t.id_type, id_sql = "integer", "id integer GENERATED BY DEFAULT AS IDENTITY"
        else:
            t.id_type, id_sql = "integer", "id integer NOT NULL"
        cols = [id_sql]
        t.cols.append("id")
        t.pinned.add("id")
        t.on_table("column", "id")
        names = r.sample(ODD_NAMES, r.randint(1, 4)) + [f"c{i}" for i in range(r.randint(2, 6))]
        r.shuffle(names)
        ctypes = {}
        for n in names:
            ctypes[n] = r.choice(COL_TYPES)
            cols.append(self.column(t, n, ctypes[n]))
            t.cols.append(n)
            t.on_table("column", n)
        if r.random() < 0.2:
            cols.append("gen_total integer GENERATED ALWAYS AS (2) STORED")
            t.cols.append("gen_total")
            t.on_table("column", "gen_total")
        cons = [f"CONSTRAINT {qi(name + '_pk')} PRIMARY KEY (id)"]
        t.on_table("constraint", name + "_pk")
        if not refs or "." in schema:
            t.pk_droppable = True
        # Foreign keys to earlier tables, through a column of the target's id type.
        for k, target in enumerate(r.sample(refs, min(len(refs), r.randint(0, 2)))):
            col = f"ref_{k}"
            cols.append(f"{col} {target.id_type}")
            t.cols.append(col)
            t.pinned.add(col)
            t.on_table("column", col)
            cname = f"{name}_fk{k}"
            cons.append(f"CONSTRAINT {qi(cname)} FOREIGN KEY ({col}) REFERENCES {target.sql} (id)")
            target.droppable = False
            target.referenced = True
            item = t.on_table("constraint", cname)
            self.cand("drop_fk", f"table:{t.disp}", f"ALTER TABLE {t.sql} DROP CONSTRAINT {qi(cname)}", {item})
        # A check and a unique constraint on columns of fitting types.
        for n in names:
            sql_type = ctypes[n][0]
            if sql_type in ("integer", "bigint", "numeric(10,2)") and n not in t.pinned:
                cname = f"{name}_chk_{len(cons)}"
                cons.append(f"CONSTRAINT {qi(cname)} CHECK ({qi(n)} >= 0)")
                t.pinned.add(n)
                item = t.on_table("constraint", cname)
                self.cand("drop_check", f"table:{t.disp}", f"ALTER TABLE {t.sql} DROP CONSTRAINT {qi(cname)}", {item})
                break
        for n in names:
            if ctypes[n][0] in ("text", "varchar(40)", "uuid") and n not in t.pinned and r.random() < 0.6:
                cname = f"{name} uq {len(cons)}"
                cons.append(f"CONSTRAINT {qi(cname)} UNIQUE ({qi(n)})")
                t.pinned.add(n)
                item = t.on_table("constraint", cname)
                self.cand("drop_unique", f"table:{t.disp}", f"ALTER TABLE {t.sql} DROP CONSTRAINT {qi(cname)}", {item})
                break
        self.add(f"CREATE TABLE {t.sql} (\n  " + ",\n  ".join(cols + cons) + "\n);", 1 + len(t.cols) + len(cons))
        # Indexes, unique or not, partial or on an expression.
        for k in range(r.randint(0, 3)):
            free = [n for n in names if n not in t.pinned and ctypes[n][3]]
            if not free:
                break
            n = r.choice(free)
            t.pinned.add(n)
            iname = r.choice([f"{name}_ix{k}", f"Idx {name} {k}", f"idx.{name}.{k}", f"{name}_ix{k}"])
            unique = "UNIQUE " if r.random() < 0.3 else ""
            where = f" WHERE {qi(n)} IS NOT NULL" if r.random() < 0.3 else ""
            textual = ctypes[n][0] in ("text", "varchar(40)", "varchar(255)")
            expr = f"(lower({qi(n)}))" if textual and r.random() < 0.5 else f"({qi(n)})"
            self.add(f"CREATE {unique}INDEX {qi(iname)} ON {t.sql} {expr}{where};")
            item = ("index", f"{schema}.{iname}") if "." not in schema else None
            if item:
                t.items.add(item)
            self.cand("drop_index", f"table:{t.disp}", f"DROP INDEX {q2(schema, iname)}", {item})
        # Row level security with policies, and triggers.
        if r.random() < 0.35:
            self.add(f"ALTER TABLE {t.sql} ENABLE ROW LEVEL SECURITY;", 0)
            t.rls = True
            for k in range(r.randint(1, 3)):
                pname = r.choice([f"{name}_pol{k}", f"{name} select own {k}", f"pol.{k}"])
                if pname in t.policies:
                    continue
                t.policies.append(pname)
                self.add(f"CREATE POLICY {qi(pname)} ON {t.sql} FOR SELECT USING (true);")
                item = t.on_table("policy", pname)
                self.cand("drop_policy", f"table:{t.disp}", f"DROP POLICY {qi(pname)} ON {t.sql}", {item})
            expected = {("table", t.disp)} | {t.on_table("policy", p) for p in t.policies}
            self.cand("disable_rls", f"table:{t.disp}", f"ALTER TABLE {t.sql} DISABLE ROW LEVEL SECURITY", expected)
        if r.random() < 0.35:
            for k in range(r.randint(1, 2)):
                tname = f"{name}_trg{k}" if k == 0 else f"{name} Trg.{k}"
                fn = "public.trg_noop()" if k == 0 else 'app."Audit Fn"()'
                self.add(f"CREATE TRIGGER {qi(tname)} BEFORE INSERT ON {t.sql} FOR EACH ROW EXECUTE FUNCTION {fn};")
                item = t.on_table("trigger", tname)
                self.cand("drop_trigger", f"table:{t.disp}", f"DROP TRIGGER {qi(tname)} ON {t.sql}", {item})
                self.cand("disable_trigger", f"table:{t.disp}", f"ALTER TABLE {t.sql} DISABLE TRIGGER {qi(tname)}", {item})
        # Changes to single columns that nothing else depends on.
        for n in names:
            if n in t.pinned:
                continue
            item = ("column", f"{t.disp}.{n}")
            self.cand("drop_column", f"table:{t.disp}", f"ALTER TABLE {t.sql} DROP COLUMN {qi(n)}", {item})
            if ctypes[n][0].startswith("varchar(") and not ctypes[n][0].endswith("[]"):
                self.cand("alter_type", f"table:{t.disp}", f"ALTER TABLE {t.sql} ALTER COLUMN {qi(n)} TYPE varchar(99)", {item})
            if ctypes[n][0] == "integer":
                self.cand("alter_type", f"table:{t.disp}", f"ALTER TABLE {t.sql} ALTER COLUMN {qi(n)} TYPE bigint", {item})
            if n in getattr(t, "notnull", set()):
                self.cand("drop_not_null", f"table:{t.disp}", f"ALTER TABLE {t.sql} ALTER COLUMN {qi(n)} DROP NOT NULL",
                          {item})
            if n in getattr(t, "defaults", set()):
                self.cand("drop_default", f"table:{t.disp}", f"ALTER TABLE {t.sql} ALTER COLUMN {qi(n)} DROP DEFAULT",
                          {item})
        return t

    def finish_table_candidates(self):
        for t in self.tables:
            if "." in t.schema or not t.droppable:
                continue
            everything = {("table", t.disp)} | t.items
            self.cand("drop_table", f"table:{t.disp}", f"DROP TABLE {t.sql}",
                      everything | {("sequence", f"{t.schema}.{s}") for s in t.serial_seqs})
            # A renamed table takes its columns and constraints along; its indexes stay indexes,
            # but on a table of another name, which verification reports too.
            self.cand("rename_table", f"table:{t.disp}", f"ALTER TABLE {t.sql} RENAME TO {qi(t.name + ' renamed')}",
                      everything)

    def tables_and_views(self):
        r = self.r
        plan = [("public", 14), ("app", 10), ("Weird Schema", 6), ("billing", 4), ("dot.schema", 1)]
        odd_tables = ["camelCase", "Spaced Name", "dotted.name", "yes", "123", "q\"t", "#hash", "a: b"]
        done: list[Table] = []
        for schema, n in plan:
            for i in range(n):
                name = odd_tables[i] if schema == "Weird Schema" and i < len(odd_tables) else f"t{i}_{schema[:3].lower()}"
                if schema == "public" and i == 0:
                    name = "users"
                refs = [t for t in done if "." not in t.schema]
                done.append(self.table(schema, name, refs))
        # Views on some tables (only on id, so that the other columns stay droppable).
        for k, t in enumerate(r.sample([t for t in done if "." not in t.schema], 12)):
            vs = t.schema if k % 3 else "app"
            vname = [f"{t.name}_v", f"{t.name} View", f"v.{t.name}"][k % 3]
            self.add(f"CREATE VIEW {q2(vs, vname)} AS SELECT id FROM {t.sql};")
            t.droppable = False
            self.cand("drop_view", f"view:{vs}.{vname}", f"DROP VIEW {q2(vs, vname)}", {("view", f"{vs}.{vname}")})
        for k, t in enumerate(r.sample([t for t in done if "." not in t.schema and t.droppable], 3)):
            self.add(f"CREATE MATERIALIZED VIEW app.{qi(f'mv{k}')} AS SELECT id FROM {t.sql};")
            t.droppable = False
            expected = {("view", f"app.mv{k}")}
            if k == 0:
                self.add("CREATE UNIQUE INDEX mv0_id ON app.mv0 (id);")
                expected.add(("index", "app.mv0_id"))
            self.cand("drop_matview", f"view:app.mv{k}", f"DROP MATERIALIZED VIEW app.{qi(f'mv{k}')}", expected)
        # A view with an INSTEAD OF trigger.
        self.add("CREATE VIEW public.editable AS SELECT 1 AS x;\n"
                 "CREATE TRIGGER editable_ins INSTEAD OF INSERT ON public.editable FOR EACH ROW EXECUTE FUNCTION trg_noop();",
                 2)
        self.cand("drop_view", "view:public.editable", "DROP VIEW public.editable",
                  {("view", "public.editable"), ("trigger", "public.editable.editable_ins")})
        return done

    def special_tables(self):
        # Partitioned: the parent's index, constraint and trigger are copied to the partitions,
        # and only the parent's are written.
        self.add("CREATE TABLE public.events (id integer NOT NULL, k integer NOT NULL, during tstzrange,\n"
                 "  CONSTRAINT events_pk PRIMARY KEY (id, k)) PARTITION BY RANGE (k);\n"
                 "CREATE TABLE public.events_p0 PARTITION OF public.events FOR VALUES FROM (0) TO (10);\n"
                 "CREATE TABLE public.events_p1 PARTITION OF public.events FOR VALUES FROM (10) TO (20);\n"
                 "CREATE INDEX events_k_ix ON public.events (k);\n"
                 "CREATE TRIGGER events_trg AFTER INSERT ON public.events FOR EACH ROW EXECUTE FUNCTION trg_noop();",
                 12)
        self.cand("drop_index", "table:public.events", "DROP INDEX public.events_k_ix", {("index", "public.events_k_ix")})
        self.cand("drop_trigger", "table:public.events", "DROP TRIGGER events_trg ON public.events",
                  {("trigger", "public.events.events_trg")})
        # Inheritance: the child's copy of the check constraint is not local.
        self.add("CREATE TABLE public.base_t (id integer, v integer CONSTRAINT base_v_chk CHECK (v > 0));\n"
                 "CREATE TABLE public.child_t (extra text) INHERITS (public.base_t);", 7)
        self.cand("drop_check", "table:public.base_t", "ALTER TABLE public.base_t DROP CONSTRAINT base_v_chk",
                  {("constraint", "public.base_t.base_v_chk")})
        # Exclusion constraint, multi-column foreign key, constraint trigger.
        self.add("CREATE TABLE app.bookings (id integer PRIMARY KEY, room integer, during tstzrange,\n"
                 "  CONSTRAINT no_overlap EXCLUDE USING gist (during WITH &&));\n"
                 "CREATE TABLE app.parent2 (a integer, b text, CONSTRAINT parent2_ab UNIQUE (a, b));\n"
                 'CREATE TABLE app.child2 (x integer, y text, CONSTRAINT "child2 fk" FOREIGN KEY (x, y) '
                 "REFERENCES app.parent2 (a, b));\n"
                 "CREATE CONSTRAINT TRIGGER bookings_ctrg AFTER INSERT ON app.bookings DEFERRABLE "
                 "FOR EACH ROW EXECUTE FUNCTION trg_noop();", 14)
        self.cand("drop_exclusion", "table:app.bookings", "ALTER TABLE app.bookings DROP CONSTRAINT no_overlap",
                  {("constraint", "app.bookings.no_overlap")})
        self.cand("drop_fk", "table:app.child2", 'ALTER TABLE app.child2 DROP CONSTRAINT "child2 fk"',
                  {("constraint", "app.child2.child2 fk")})
        self.cand("drop_trigger", "table:app.bookings", "DROP TRIGGER bookings_ctrg ON app.bookings",
                  {("trigger", "app.bookings.bookings_ctrg")})
        self.cand("drop_pk", "table:app.bookings", "ALTER TABLE app.bookings DROP CONSTRAINT bookings_pkey",
                  {("constraint", "app.bookings.bookings_pkey")})
        # A column whose name holds a newline.
        odd = ", ".join(f"{qi(n)} text" for n in ODD_NAMES if n != "tab\tname")
        self.add(f'CREATE TABLE public.odd_columns (id integer, "new\nline" text, "tab\tname" text, {odd});',
                 3 + len(ODD_NAMES))
        self.cand("drop_column", "table:public.odd_columns", 'ALTER TABLE public.odd_columns DROP COLUMN "new\nline"',
                  {("column", "public.odd_columns.new\nline")})
        # Objects in states that verification rejects: written as comments, not as items.
        self.add("CREATE TABLE public.dups (id integer, v integer);\n"
                 "INSERT INTO public.dups VALUES (1, 1), (2, 1);\n"
                 "ALTER TABLE public.dups ADD CONSTRAINT dups_v_big CHECK (v > 5) NOT VALID;\n"
                 "CREATE TRIGGER dups_trg BEFORE INSERT ON public.dups FOR EACH ROW EXECUTE FUNCTION trg_noop();\n"
                 "ALTER TABLE public.dups DISABLE TRIGGER dups_trg;\n"
                 "CREATE POLICY dups_pol ON public.dups USING (true);", 3)
        self.late.append("CREATE UNIQUE INDEX CONCURRENTLY dups_v_uq ON public.dups (v);")  # fails: INVALID

    def functions(self):
        r = self.r
        self.add("CREATE FUNCTION public.calc(integer) RETURNS integer LANGUAGE sql AS 'SELECT $1';\n"
                 "CREATE FUNCTION public.calc(integer, integer) RETURNS bigint LANGUAGE sql AS 'SELECT ($1 + $2)::bigint';\n"
                 "CREATE FUNCTION public.calc(text) RETURNS text LANGUAGE sql AS 'SELECT $1';\n"
                 "CREATE FUNCTION public.calc(VARIADIC text[]) RETURNS text LANGUAGE sql AS 'SELECT $1[1]';", 4)
        for args in ["integer", "integer, integer", "text", "text[]"]:
            self.cand("drop_overload", f"fn:public.calc({args})", f"DROP FUNCTION public.calc({args})",
                      {("function", f"public.calc({args})")})
        self.add("CREATE FUNCTION public.all_users() RETURNS SETOF public.users LANGUAGE sql AS 'SELECT * FROM public.users';\n"
                 'CREATE FUNCTION public.list_rows(p_limit integer) RETURNS TABLE(id integer, "userId" text) '
                 "LANGUAGE sql AS 'SELECT 1, ''x'''; \n"
                 "CREATE FUNCTION public.minmax(integer[], OUT lo integer, OUT hi integer) LANGUAGE sql "
                 "AS 'SELECT min(x), max(x) FROM unnest($1) x';\n"
                 "CREATE FUNCTION app.secret() RETURNS text LANGUAGE sql SECURITY DEFINER AS 'SELECT ''s''';\n"
                 "CREATE FUNCTION app.by_status(s app.status, m mood DEFAULT 'sad') RETURNS SETOF record "
                 "LANGUAGE sql AS 'SELECT 1, 2';\n"
                 "CREATE PROCEDURE app.do_work(integer, INOUT total integer) LANGUAGE plpgsql AS 'BEGIN total := $1; END';\n"
                 'CREATE PROCEDURE public."Proc Mixed"(text, integer) LANGUAGE sql AS \'SELECT 1\';\n'
                 "CREATE AGGREGATE app.my_sum(integer) (sfunc = int4pl, stype = integer);\n"
                 'CREATE FUNCTION public."Func.Dotted"(integer) RETURNS integer LANGUAGE sql AS \'SELECT 1\';\n'
                 'CREATE FUNCTION public."yes"() RETURNS boolean LANGUAGE sql AS \'SELECT true\';\n'
                 'CREATE FUNCTION public."bad(name"() RETURNS integer LANGUAGE sql AS \'SELECT 1\';', 11)
        for disp, sql in [("public.all_users()", "DROP FUNCTION public.all_users()"),
                          ("public.list_rows(integer)", "DROP FUNCTION public.list_rows(integer)"),
                          ("public.minmax(integer[])", "DROP FUNCTION public.minmax(integer[])"),
                          ("app.secret()", "DROP FUNCTION app.secret()"),
                          ("app.by_status(app.status, public.mood)", "DROP FUNCTION app.by_status(app.status, mood)"),
                          ("public.Func.Dotted(integer)", 'DROP FUNCTION public."Func.Dotted"(integer)'),
                          ("public.yes()", 'DROP FUNCTION public."yes"()')]:
            self.cand("drop_function", f"fn:{disp}", sql, {("function", disp)})
        self.cand("drop_procedure", "fn:app.do_work", "DROP PROCEDURE app.do_work(integer, integer)",
                  {("function", "app.do_work(integer, integer)")})
        self.cand("drop_procedure", "fn:public.Proc Mixed", 'DROP PROCEDURE public."Proc Mixed"(text, integer)',
                  {("function", "public.Proc Mixed(text, integer)")})
        self.cand("drop_aggregate", "fn:app.my_sum", "DROP AGGREGATE app.my_sum(integer)",
                  {("function", "app.my_sum(integer)")})
        self.cand("security_invoker", "fn:app.secret", "ALTER FUNCTION app.secret() SECURITY INVOKER",
                  {("function", "app.secret()")})
        schemas = ["public", "app", "Weird Schema", "billing"]
        for i in range(24):
            s = schemas[i % 4]
            args = [r.choice(ARG_TYPES) for _ in range(r.randint(0, 3))]
            ret = r.choice(RET_TYPES)
            setof = "SETOF " if ret != "void" and r.random() < 0.2 else ""
            name = f"fn_{i}" if i % 5 else f"Fn Mixed {i}"
            body = "SELECT" if ret == "void" else f"SELECT NULL::{ret}"
            self.add(f"CREATE FUNCTION {q2(s, name)}({', '.join(a[0] for a in args)}) RETURNS {setof}{ret} "
                     f"LANGUAGE sql AS {ql(body)};")
            disp = f"{s}.{name}({', '.join(a[1] for a in args)})"
            self.cand("drop_function", f"fn:{disp}", f"DROP FUNCTION {q2(s, name)}({', '.join(a[0] for a in args)})",
                      {("function", disp)})


def build_schema(seed: int = SEED) -> Builder:
    b = Builder(seed)
    b.prologue()
    b.tables_and_views()
    b.special_tables()
    b.functions()
    b.finish_table_candidates()
    return b


SCHEMA = build_schema()
CATEGORIES = sorted(SCHEMA.cands)


def create_from_builder(pg, name: str, b: Builder) -> None:
    pg.psql(f'CREATE DATABASE "{name}"')
    pg.psql("\n".join(b.sql), name)
    for stmt in b.late:
        pg.psql(stmt, name, check=False)


@pytest.fixture(scope="module")
def template(pg):
    """The generated schema, built once; tests work on clones of it."""
    name = "t_snap_" + uuid.uuid4().hex[:8]
    create_from_builder(pg, name, SCHEMA)
    yield name
    pg.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', check=False)


@pytest.fixture(scope="module")
def base_snapshot(pg, template):
    return snapshot_ok(pg.url(template))


@pytest.fixture
def clone(pg, template):
    made = []

    def make() -> str:
        name = "t_snapc_" + uuid.uuid4().hex[:8]
        for attempt in range(50):
            try:
                pg.psql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
                break
            except pgharness.SqlError as e:   # the template's last session may still be closing
                if "being accessed by other users" not in str(e) or attempt == 49:
                    raise
                time.sleep(0.1)
        made.append(name)
        return name

    yield make
    for name in made:
        pg.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', check=False)


# ---- round trip, determinism ---------------------------------------------------------------

def test_generated_schema_is_large(pg, template, base_snapshot):
    """The schema has several hundred objects of every kind, and the snapshot lists them."""
    assert SCHEMA.n_objects >= 300, SCHEMA.n_objects
    for key in ["extensions", "schemas", "types", "sequences", "tables", "views", "functions", "indexes",
                "constraints", "triggers", "policies"]:
        assert re.search(rf"^{key}:\n  - ", base_snapshot, re.M), f"no {key} in the snapshot:\n{base_snapshot[:3000]}"
    assert "\nroles:" not in base_snapshot and "\ngrants:" not in base_snapshot


def test_snapshot_lints(preflight, tmp_path, base_snapshot):
    path = tmp_path / "preflight.yaml"
    path.write_text(base_snapshot)
    r = preflight(["lint", "-f", path])
    assert r.code == 0, str(r) + "\n" + base_snapshot
    m = re.search(r"valid, (\d+) objects", r.stderr)
    assert m and int(m.group(1)) >= 300, r.stderr


def test_check_against_own_snapshot_passes(pg, preflight, tmp_path, clone, base_snapshot):
    """The round trip: every object written is found as written."""
    db = clone()
    r, report = check(preflight, tmp_path, pg.url(db), base_snapshot)
    bad = not_present(report) if report else set()
    assert r.code == 0 and not bad, f"{r}\nnot present:\n{describe(report, bad) if report else ''}"
    assert len(report["items"]) >= 300


def test_output_is_byte_identical_across_runs_and_databases(pg, template, base_snapshot):
    """Two runs give the same bytes; so does a second database built by the same SQL, whose OIDs
    all differ (nothing is ordered by OID)."""
    again = snapshot_ok(pg.url(template))
    assert again == base_snapshot
    other = "t_snap2_" + uuid.uuid4().hex[:8]
    try:
        create_from_builder(pg, other, SCHEMA)
        assert pg.scalar(f"SELECT count(*) FROM pg_database WHERE datname = '{other}'") == "1"
        third = snapshot_ok(pg.url(other))
    finally:
        pg.psql(f'DROP DATABASE IF EXISTS "{other}" WITH (FORCE)', check=False)
    if third != base_snapshot:
        import difflib
        diff = "\n".join(difflib.unified_diff(base_snapshot.splitlines(), third.splitlines(), lineterm="", n=1))
        pytest.fail("the same schema built again gives another snapshot:\n" + diff[:5000])


def test_header(pg, template):
    out = snapshot_ok(pg.url(template), env={"SOURCE_DATE_EPOCH": "1700000000"})
    head = out.split("version: 1\n")[0]
    assert head.startswith("# Generated by preflight snapshot on 2023-11-14 from PostgreSQL ")
    version = pg.scalar("SHOW server_version")
    assert version in head
    assert "# Filters: none (every user object)" in head
    assert "roles" in head and "grants" in head
    assert all(line.startswith("#") for line in head.splitlines())


def test_names_need_no_other_reader(pg, template, base_snapshot):
    """A YAML 1.1 reader (PyYAML, which reads yes/no/on/null/1.5 as booleans, nulls and numbers)
    reads every name as the same string: nothing is left plain that another tool would retype."""
    yaml = pytest.importorskip("yaml")
    doc = yaml.safe_load(base_snapshot)
    names = {(t["schema"], t["name"]) for t in doc["tables"]}
    catalog = pg.psql("SELECT n.nspname || E'\\x1f' || c.relname FROM pg_class c JOIN pg_namespace n "
                      "ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname !~ '^pg_' "
                      "AND n.nspname <> 'information_schema' AND c.relname <> 'spatial_ref_sys'", template)
    assert names == {tuple(line.split("\x1f")) for line in catalog.splitlines()}
    for t in doc["tables"]:
        for c in t.get("columns", []):
            for key, value in c.items():
                if key == "nullable":
                    assert value is False
                else:
                    assert isinstance(value, str), (t["name"], c)
    for kind in ["types", "sequences", "views", "functions", "indexes", "constraints", "triggers", "policies"]:
        for item in doc[kind]:
            for key, value in item.items():
                if key in ("materialized", "unique"):
                    assert value is True
                elif key == "values":
                    assert all(isinstance(v, str) for v in value), item
                else:
                    assert isinstance(value, str), (kind, item)
    odd = {c["name"] for t in doc["tables"] for c in t.get("columns", [])}
    assert {"yes", "null", "123", "1.5", "on", "~", "No", "true", "new\nline", "tab\tname"} <= odd


# ---- exactness: change objects, and check names exactly them -------------------------------

@pytest.mark.parametrize("category", CATEGORIES)
def test_one_change_is_named_exactly(pg, preflight, tmp_path, clone, base_snapshot, category):
    """Drop or alter one object of a kind: check exits 65 and names exactly the items that the
    change affects (the object itself; for a table, what lives on it)."""
    rnd = random.Random(f"{SEED}-{category}")
    lock, sql, expected = rnd.choice(SCHEMA.cands[category])
    db = clone()
    pg.psql(sql, db)
    r, report = check(preflight, tmp_path, pg.url(db), base_snapshot)
    assert report is not None, str(r)
    got = not_present(report)
    assert got == set(expected), (
        f"after {sql!r}:\n  expected not present: {sorted(expected)}\n  reported: {sorted(got)}\n"
        f"  missed: {sorted(set(expected) - got)}\n  false alarms:\n{describe(report, got - set(expected))}")
    assert r.code == 65, str(r)


def test_random_changes_are_named_exactly(pg, preflight, tmp_path, clone, base_snapshot):
    """A seeded random set of changes on distinct objects, all at once."""
    rnd = random.Random(SEED)
    pool = [c for cat in CATEGORIES for c in SCHEMA.cands[cat]]
    rnd.shuffle(pool)
    chosen, locks = [], set()
    for lock, sql, expected in pool:
        if lock in locks:
            continue
        locks.add(lock)
        chosen.append((sql, expected))
        if len(chosen) == 25:
            break
    db = clone()
    pg.psql(";\n".join(sql for sql, _ in chosen) + ";", db)
    want = set().union(*(e for _, e in chosen))
    r, report = check(preflight, tmp_path, pg.url(db), base_snapshot)
    got = not_present(report)
    assert got == want, (
        "changes:\n  " + "\n  ".join(sql for sql, _ in chosen)
        + f"\nmissed: {sorted(want - got)}\nfalse alarms:\n{describe(report, got - want)}")
    assert r.code == 65


# ---- filters --------------------------------------------------------------------------------

def kinds_in(text: str) -> set:
    return set(re.findall(r"^([a-z_]+):", text, re.M)) - {"version"}


def test_schema_filter(pg, preflight, tmp_path, template, clone):
    out = snapshot_ok(pg.url(template), "--schema", "app", "--schema", "Weird Schema")
    assert "# Filters: --schema app --schema Weird Schema\n" in out
    # Nothing from public or billing: every schema key and table reference is in the two schemas.
    body = out.split("version: 1\n")[1]
    for m in re.finditer(r"schema: (\"[^\"]*\"|[^,}\n]*)", body):
        assert m.group(1) in ("app", "Weird Schema"), m.group(0)
    for m in re.finditer(r"table: \"([^\"]*)\"", body):
        assert m.group(1).startswith(("app.", "Weird Schema.")), m.group(0)
    assert "{name: app}" in body and "{name: Weird Schema}" in body and "{name: public}" not in body
    assert "pgcrypto" not in body and "hstore" not in body     # their schemas are public and billing
    assert kinds_in(out) >= {"schemas", "types", "tables", "views", "functions", "indexes", "constraints"}
    r, report = check(preflight, tmp_path, pg.url(clone()), out)
    assert r.code == 0, str(r)
    # The filtered snapshot is a subset of the full one, line for line.
    full = snapshot_ok(pg.url(template)).split("version: 1\n")[1].splitlines()
    assert set(body.splitlines()) - set(full) <= {"tables:", "types:", "views:", "functions:", "indexes:",
                                                  "constraints:", "triggers:", "policies:", "schemas:", "sequences:"}


def test_table_filter(pg, preflight, tmp_path, template, clone):
    out = snapshot_ok(pg.url(template), "--table", "users", "--table", "Weird Schema.dotted.name",
                      "--table", "app.bookings")
    assert kinds_in(out) <= {"tables", "indexes", "constraints", "triggers", "policies"}
    body = out.split("version: 1\n")[1]
    names = re.findall(r"^  - name: (.*)$", body, re.M)
    assert names == ['"dotted.name"', "bookings", "users"], names
    for m in re.finditer(r"table: \"([^\"]*)\"", body):
        assert m.group(1) in ("public.users", "Weird Schema.dotted.name", "app.bookings"), m.group(0)
    assert "{name: no_overlap, table: \"app.bookings\", type: exclusion}" in body
    assert "{name: bookings_ctrg, table: \"app.bookings\"}" in body
    r, report = check(preflight, tmp_path, pg.url(clone()), out)
    assert r.code == 0, str(r)
    # Unknown names are said, not fatal.
    r = snapshot(pg.url(template), "--table", "Users", "--schema", "nope")
    assert r.code == 0, str(r)
    assert "# --table public.Users: no such table" in r.stdout
    assert "# --schema nope: no such schema" in r.stdout
    assert "no such table" in r.stderr and "no such schema" in r.stderr


# ---- what is left out -----------------------------------------------------------------------

def test_left_out_objects(pg, template, base_snapshot):
    out = base_snapshot
    # Extension members: pgcrypto's functions, citext's type and functions, hstore's.
    assert "{name: hstore}" in out   # no version: that is the server's, not the app's need
    for member in ["gen_random_bytes", "signature: digest(", "signature: citext", "signature: hstore",
                   "signature: akeys", "RI_ConstraintTrigger"]:
        assert member not in out, member
    assert not re.search(r"\{name: citext, schema", out)
    assert "{name: citext}" in out and "{name: plpgsql" not in out
    # Internal objects: the PK's index, identity sequences, row types, arrays, multiranges,
    # range constructors, partitions' copies, inherited constraints.
    assert "{name: users_pk, table: \"public.users\"}" not in out
    assert "{name: users_pk, table: \"public.users\", type: primary_key}" in out
    types = out.split("\ntypes:\n")[1].split("\nsequences:\n")[0]
    for t in SCHEMA.tables:
        assert f"{{name: {yq(t.name)}, schema:" not in types        # row types
    assert "_mood" not in types and "floatmultirange" not in types   # arrays, multiranges
    assert "floatmultirange" not in out and "floatrange(double precision" not in out
    assert "events_p0_k_idx" not in out and "events_p0_pkey" not in out
    assert out.count("events_trg") == 1
    assert "base_v_chk" in out and "child_t\", type: check" not in out
    # Identity sequences are not listed, serial sequences are.
    seqs = out.split("\nsequences:\n")[1].split("\ntables:\n")[0]
    identity = pg.psql("SELECT s.relname FROM pg_class s JOIN pg_depend d ON d.objid = s.oid AND d.deptype = 'i' "
                       "WHERE s.relkind = 'S'", template).splitlines()
    assert identity and not any(f"{{name: {yq(n)}," in seqs for n in identity)
    for t in SCHEMA.tables:
        for s in t.serial_seqs:
            assert f"{{name: {yq(s)}, schema: {yq(t.schema)}}}" in seqs
    # States that verification rejects, and names the manifest cannot express: comments.
    for needle in ["# index public.dups_v_uq on public.dups: INVALID",
                   "# constraint dups_v_big on public.dups: NOT VALID",
                   "# trigger dups_trg on public.dups: disabled",
                   "# policy dups_pol on public.dups: row level security is off",
                   "# function public.bad(name(): its name contains \"(\""]:
        assert needle in out, needle
    assert "- name: t0_dot\n    schema: \"dot.schema\"\n" in out
    # Objects on a table in a schema whose name holds a dot: `schema:` beside the bare table name.
    assert "its table's schema name contains a dot" not in out
    assert re.search(r'schema: "dot\.schema", table: t0_dot\b', out), out


def test_statement_count_is_constant(pg, make_db):
    """One query per kind whatever the size: a database with 3 objects and one with hundreds."""
    small, large = make_db(), make_db()
    small.sql("CREATE TABLE one (id integer PRIMARY KEY);")
    large.sql("\n".join(SCHEMA.sql))
    counts = []
    for d in (small, large):
        d.sql(f'ALTER DATABASE "{d.name}" SET log_statement = \'all\'')
        offset = pg.log_size()
        snapshot_ok(d.url)
        counts.append(pgharness.count_logged_statements(pg.log_since(offset), d.name))
    assert counts[0] == counts[1] and 0 < counts[0] <= 16, counts


def test_preflight_snapshot_command_matches_driver(pg, template, tmp_path, base_snapshot):
    """`preflight snapshot` itself (main.c): runs without a manifest, prints the same bytes."""
    r = run_preflight(["snapshot", "-d", pg.url(template)], cwd=tmp_path, timeout=120)
    assert r.code == 0, "preflight snapshot is not usable yet:\n" + str(r)
    assert r.stdout == base_snapshot
    r = run_preflight(["snapshot", "-d", pg.url(template), "--table", "users"], cwd=tmp_path, timeout=120)
    assert r.code == 0 and "- name: users\n" in r.stdout, str(r)


def test_schema_and_table_filters_add_up(pg, template):
    """--schema and --table together: the schema's objects plus the named tables."""
    out = snapshot_ok(pg.url(template), "--schema", "billing", "--table", "app.bookings")
    body = out.split("version: 1\n")[1]
    names = re.findall(r"^  - name: (.*)\n    schema: (.*)$", body, re.M)
    assert ("bookings", "app") in names and all(s in ("billing", "app") for _, s in names), names
    assert all(s == "billing" for n, s in names if n != "bookings"), names
    assert "{name: billing}" in body and "{name: app}" not in body
    assert "{name: hstore}" in body


def test_stops_at_once_on_sigterm(pg, template, tmp_path):
    """A snapshot blocked on a catalog lock ends at once on SIGTERM, printing nothing."""
    holder = subprocess.Popen(
        [pgharness.PSQL, "-X", "-q", "-h", pg.sockdir, "-p", str(pg.port), "-U", "postgres", "-d", template],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
        env=pgharness.BASE_ENV)
    try:
        holder.stdin.write("BEGIN; LOCK pg_catalog.pg_extension IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60);\n")
        holder.stdin.flush()
        deadline = time.monotonic() + 10
        while pg.scalar("SELECT count(*) FROM pg_locks WHERE relation = 'pg_catalog.pg_extension'::regclass "
                        "AND mode = 'AccessExclusiveLock' AND granted") != "1":
            assert time.monotonic() < deadline, "the lock was never taken"
            time.sleep(0.05)
        if _via.get("how") == "preflight":
            argv = [preflight_bin(), "snapshot", "-d", pg.url(template)]
        else:
            path = driver_path()
            if path is None:
                pytest.skip("no snapshot driver")
            argv = [path, "-d", pg.url(template)]
        p = subprocess.Popen(argv, env=preflight_env(None), cwd=tmp_path, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        time.sleep(1.0)
        assert p.poll() is None, "the snapshot did not block on the lock"
        t0 = time.monotonic()
        p.send_signal(subprocess.signal.SIGTERM)
        out, err = p.communicate(timeout=10)
        assert time.monotonic() - t0 < 2
        assert p.returncode == 143, (p.returncode, err)
        assert out == b""
    finally:
        holder.kill()
        holder.wait()


def test_through_pgbouncer_in_transaction_mode(pg, pgbouncer, make_db):
    """One transaction holds every query, so a transaction-pooling bouncer gives the same output."""
    d = make_db()
    d.sql("CREATE SCHEMA app; CREATE TYPE app.s AS ENUM ('a'); "
          "CREATE TABLE app.t (id integer PRIMARY KEY, s app.s NOT NULL DEFAULT 'a');"
          "CREATE INDEX t_s ON app.t (s); CREATE FUNCTION app.f(app.s) RETURNS integer LANGUAGE sql AS 'SELECT 1';")
    direct = snapshot_ok(d.url)
    bounced = snapshot_ok(pgbouncer.url(d.name))
    assert bounced == direct
    assert "{signature: \"f(app.s)\", schema: app, returns: integer}" in direct


def test_dropping_a_type_names_what_went_with_it(pg, preflight, tmp_path, make_db):
    """DROP TYPE ... CASCADE takes the functions whose arguments use it and the columns of that
    type: check names exactly those, as missing (65), rather than failing to read the manifest."""
    d = make_db()
    d.sql("CREATE SCHEMA app; CREATE TYPE app.s AS ENUM ('a', 'b'); CREATE TYPE public.k AS ENUM ('x');"
          "CREATE TABLE app.t (id integer PRIMARY KEY, s app.s, k k);"
          "CREATE FUNCTION app.f(app.s, integer) RETURNS integer LANGUAGE sql AS 'SELECT 1';"
          "CREATE FUNCTION public.g(k[]) RETURNS k LANGUAGE sql AS 'SELECT $1[1]';"
          "CREATE FUNCTION public.h(integer) RETURNS integer LANGUAGE sql AS 'SELECT 1';")
    text = snapshot_ok(d.url)
    r, report = check(preflight, tmp_path, d.url, text)
    assert r.code == 0, str(r)
    d.sql("DROP TYPE app.s CASCADE; DROP TYPE public.k CASCADE;")
    r, report = check(preflight, tmp_path, d.url, text)
    assert report is not None and r.code == 65, str(r)
    assert not_present(report) == {("type", "app.s"), ("type", "public.k"), ("column", "app.t.s"),
                                   ("column", "app.t.k"), ("function", "app.f(app.s, integer)"),
                                   ("function", "public.g(public.k[])")}, describe(report, not_present(report))


def test_snapshot_warns_at_the_limit_check_will_apply(pg, preflight, tmp_path, base_snapshot, template):
    """PREFLIGHT_MANIFEST_MAX_BYTES is one limit for both sides: a snapshot larger than it says so
    (naming the variable), and check refuses that output under the same setting, while a limit
    above the output's size gives no warning."""
    size = len(base_snapshot.encode())
    small = {"PREFLIGHT_MANIFEST_MAX_BYTES": str(size // 2)}
    r = snapshot(pg.url(template), env=small)
    assert r.code == 0, str(r)
    assert f"over the {size // 2} bytes" in r.stderr and "PREFLIGHT_MANIFEST_MAX_BYTES" in r.stderr, r.stderr
    path = tmp_path / "big.yaml"
    path.write_text(r.stdout)
    c = preflight(["check", "-f", path, "-d", pg.url(template), "-t", "20s"], env=small)
    assert c.code == 78, str(c)
    roomy = snapshot(pg.url(template), env={"PREFLIGHT_MANIFEST_MAX_BYTES": str(size * 2)})
    assert roomy.code == 0 and "bytes a manifest may have" not in roomy.stderr, roomy.stderr


def test_order_is_bytewise_and_columns_keep_their_positions(make_db):
    """Objects are written in byte order of their names (as COLLATE "C" sorts: "B" < "_z" < "a"
    < "ä", whatever the database's collation), columns in table order and enum labels in enum
    order, none of them alphabetical; the rows are ordered by preflight, not by the server."""
    d = make_db()
    d.sql('CREATE TABLE "a" (zeta integer, alpha integer, "Mid" text); CREATE TABLE "B" (id integer);'
          'CREATE TABLE "_z" (id integer); CREATE TABLE "ä" (id integer); CREATE TABLE empty ();'
          "CREATE TYPE mood AS ENUM ('zz', 'aa', 'mm'); ALTER TYPE mood ADD VALUE 'bb' BEFORE 'zz';"
          'CREATE INDEX b_i ON "B" (id); CREATE INDEX a_i ON "B" (id); CREATE INDEX z_i ON "_z" (id);')
    out = snapshot_ok(d.url)
    tables = re.findall(r"^  - name: (.*)$", out.split("\ntables:\n")[1].split("\n\n")[0], re.M)
    assert tables == ["B", "_z", "a", "empty", '"ä"'] or tables == ["B", "_z", "a", "empty", "ä"], out
    assert re.search(r"- name: a\n    schema: public\n    columns:\n      - \{name: zeta, .*\n      - \{name: alpha, .*\n"
                     r"      - \{name: Mid, ", out), out
    assert "values: [bb, zz, aa, mm]" in out, out
    indexes = re.findall(r"\{name: (\w+_i), ", out)
    assert indexes == ["a_i", "b_i", "z_i"], out
