"""Verification costs a constant number of queries, whatever the manifest's size."""

import pytest

import pgharness


def table_manifest(n: int, mixed: bool) -> str:
    lines = ["version: 1", "tables:"]
    for i in range(n):
        lines += [f"  - name: t{i:03d}", "    columns:",
                  "      - {name: id, type: integer, nullable: false}",
                  "      - {name: label, type: text}"]
    if mixed:
        lines += ["indexes:"] + [f"  - {{name: t{i:03d}_pkey, table: t{i:03d}}}" for i in range(n)]
        lines += ["constraints:"] + [f"  - {{name: t{i:03d}_pkey, table: t{i:03d}, type: primary_key}}"
                                     for i in range(n)]
        lines += ["functions:"] + [f"  - {{signature: 'f{i:03d}(integer)', returns: integer}}"
                                   for i in range(n)]
    return "\n".join(lines) + "\n"


def count_statements_of_check(pg, db, preflight, manifest_path):
    offset = pg.log_size()
    r = preflight(["check", "-f", manifest_path, "-d", db.url, "-t", "10s"])
    assert r.code == 0, str(r)
    text = pg.log_since(offset)
    return pgharness.count_logged_statements(text, db.name), \
        pgharness.logged_statements(text, db.name)


@pytest.mark.parametrize("mixed", [False, True], ids=["tables+columns", "mixed-kinds"])
def test_same_statement_count_for_5_and_400_tables(pg, db, preflight, tmp_path, mixed):
    db.sql("""
        DO $$
        BEGIN
          FOR i IN 0..399 LOOP
            EXECUTE format('CREATE TABLE %I (id integer PRIMARY KEY, label text)',
                           't' || lpad(i::text, 3, '0'));
            EXECUTE format('CREATE FUNCTION %I(integer) RETURNS integer LANGUAGE sql AS ''SELECT 1''',
                           'f' || lpad(i::text, 3, '0'));
          END LOOP;
        END $$;
    """)
    db.sql(f'ALTER DATABASE "{db.name}" SET log_statement = \'all\'')
    small = tmp_path / "small.yaml"
    small.write_text(table_manifest(5, mixed))
    large = tmp_path / "large.yaml"
    large.write_text(table_manifest(400, mixed))

    n_small, small_lines = count_statements_of_check(pg, db, preflight, small)
    n_large, large_lines = count_statements_of_check(pg, db, preflight, large)
    assert n_small > 0, "log_statement=all logged nothing: is the log prefix parsed right?"
    assert n_small == n_large, (
        f"{n_small} statements for 5 tables, {n_large} for 400:\n--- 5 tables:\n"
        + "\n".join(small_lines) + "\n--- 400 tables:\n" + "\n".join(large_lines[:60]))
    # Constant and small: a handful of queries, not one per object.
    assert n_small <= 20, "\n".join(small_lines)
