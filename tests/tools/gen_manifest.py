#!/usr/bin/env python3
"""Writes a large manifest to stdout for measuring the parser: by default 32,000 items shaped like
a big application schema (2,000 tables with 22,000 columns, 4,000 indexes, 2,000 constraints,
1,000 functions, 1,000 triggers).

    python3 tests/tools/gen_manifest.py [--tables N] > big.yaml

Every table gets 11 columns, 2 indexes and a constraint; every other table a function and a
trigger, so the item count scales with --tables (16 items per table)."""
import argparse
import sys

TYPES = ["uuid", "text", "integer", "bigint", "timestamptz", "boolean", "jsonb", "varchar(255)",
         "\"numeric(12, 2)\"", "date", "smallint"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tables", type=int, default=2000)
    n = ap.parse_args().tables
    out = sys.stdout
    out.write("version: 1\n\ndatabase:\n  url: ${DATABASE_URL:-postgres://localhost/app}\n\n")
    out.write("tables:\n")
    for t in range(n):
        out.write(f"  - name: app.table_{t:05d}\n    columns:\n")
        for c, ty in enumerate(TYPES):
            out.write(f"      - {{ name: col_{c:02d}, type: {ty}")
            if c == 0:
                out.write(", nullable: false, default: gen_random_uuid()")
            out.write(" }\n")
        out.write(f"    fallback: |\n      CREATE TABLE app.table_{t:05d} (col_00 uuid PRIMARY KEY);\n")
    out.write("\nindexes:\n")
    for t in range(n):
        for i in range(2):
            out.write(f"  - {{ name: table_{t:05d}_idx_{i}, table: app.table_{t:05d}, unique: {'true' if i else 'false'} }}\n")
    out.write("\nconstraints:\n")
    for t in range(n):
        out.write(f"  - name: table_{t:05d}_pkey\n    table: app.table_{t:05d}\n    type: primary_key\n")
    out.write("\nfunctions:\n")
    for t in range(0, n, 2):
        out.write(f"  - signature: app.fn_{t:05d}(uuid, integer)\n    returns: integer\n")
    out.write("\ntriggers:\n")
    for t in range(0, n, 2):
        out.write(f"  - {{ name: trg_{t:05d}, table: app.table_{t:05d} }}\n")


if __name__ == "__main__":
    main()
