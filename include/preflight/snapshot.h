/* preflight snapshot: print a manifest that describes the live database, so that a team can
 * write its first manifest with `preflight snapshot --schema public > preflight.yaml`.
 *
 * The output is the YAML the manifest parser reads, in the canonical forms verification
 * compares (format_type for column types, pg_get_expr for defaults, pg_get_function_result for
 * results), so that `preflight check` against the snapshot of the same database passes, and
 * dropping any one object makes `check` name exactly that object. It is deterministic (ordered
 * by schema, then name, bytewise; columns in attnum order) so that it can be committed and
 * diffed. Roles and grants are never emitted. */
#ifndef PREFLIGHT_SNAPSHOT_H
#define PREFLIGHT_SNAPSHOT_H

#include <stdbool.h>
#include <stdio.h>

#include "preflight/db.h"
#include "preflight/util.h"

/* Reads the catalog over the connected session `db` and writes a manifest to `out`.
 *
 * With no filter, every user object of every kind is described. `schemas` (nschemas of them)
 * limits the output to objects in those schemas; `tables` (ntables, each "name" or
 * "schema.name", unqualified names taken in `default_schema`) adds those tables with their
 * columns, indexes, constraints, triggers and policies. With only `tables`, nothing else is
 * written. A filter that matches nothing is said in a comment and logged as a warning.
 * Partitions, and the objects that live on them, are described by their partitioned table and
 * left out unless `partitions` (--partitions) is true or --table names them.
 *
 * Every name outside pg_catalog is written schema-qualified (the catalog is read with
 * search_path = pg_catalog), so the output means the same under any search_path.
 *
 * The catalog is read in one REPEATABLE READ, READ ONLY transaction with a fixed number of
 * queries (one per kind), whatever the database's size. Nothing is written to `out` unless
 * everything was read. Returns 0; PF_EDB (err says which query failed and why); PF_ESIGNAL
 * when a stop signal arrived; PF_EIO when `out` cannot be written. */
int pf_snapshot_write(pf_db_t *db, const char *const *schemas, int nschemas, const char *const *tables,
                      int ntables, const char *default_schema, bool partitions, FILE *out, char *err,
                      size_t errlen) PF_MUST_CHECK;

/* Pure helpers, unit-tested without a server. */

/* Whether s can be written as a plain YAML scalar, in block and flow context alike, and be read
 * back by any YAML 1.1 or 1.2 reader as the same string: letters, digits, "_", single inner
 * spaces and parentheses, starting with a letter or "_", and not a word that YAML reads as null
 * or a boolean (null, true, yes, on, y, ... in any case). Conservative by design: anything else
 * is quoted. */
bool pf_snapshot_yaml_plain(const char *s);

/* Appends s as a YAML scalar: plain when pf_snapshot_yaml_plain(s), else double-quoted with
 * escapes for '"', '\\', control characters and the Unicode line breaks YAML would fold
 * (U+0085, U+2028, U+2029). Bytes that are not valid UTF-8 cannot be represented in YAML;
 * they are written as \xNN (the code point U+00NN) and the function returns false. */
bool pf_snapshot_yaml_scalar(pf_buf_t *b, const char *s);

/* Whether the manifest parser accepts `type` (format_type's output) as a column type: a type
 * name as typename.c reads it. A type it refuses is written without its type. */
bool pf_snapshot_type_ok(const char *type);

/* Splits a --table argument at its first dot into *schema and *name (new strings); without a
 * dot, or with an empty part on either side of it, *schema is default_schema and *name the
 * whole argument. The manifest splits `table:` the same way. */
void pf_snapshot_split_table(const char *arg, const char *default_schema, char **schema, char **name);

#endif
