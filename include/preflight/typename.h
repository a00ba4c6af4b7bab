/* Type names as a manifest writes them ("varchar(255)", "timestamp(3) with time zone",
 * "auth.\"Mood\"[]", "geometry(Polygon,4326)"), read the way PostgreSQL's grammar reads them, so
 * that verification can find the type in pg_type by name instead of asking to_regtype: a lookup
 * by name needs no USAGE on the type's schema and cannot fail the whole query (to_regtype raises
 * on a schema the role cannot use, on "a.b.c", and on text it cannot parse).
 *
 * Pure logic: no I/O, no server. */
#ifndef PREFLIGHT_TYPENAME_H
#define PREFLIGHT_TYPENAME_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
  char *database; /* "db" of db.schema.name, which PostgreSQL refuses (cross-database); else NULL */
  char *schema; /* as stored in pg_namespace; NULL when unqualified (search path, pg_catalog first) */
  char *name;   /* as stored in pg_type.typname, SQL spellings mapped ("integer" -> "int4") */
  int dims;     /* array dimensions: "int[]" and "int array" are 1 */
  char *mods;   /* the type modifiers without white space ("10,2", "Polygon,4326"), "" if none */
} pf_typename_t;

/* Parses `text`. Returns true with *out filled (free with pf_typename_free), or false with a
 * short reason in err (and *out zeroed). */
bool pf_typename_parse(const char *text, pf_typename_t *out, char *err, size_t errlen);

void pf_typename_free(pf_typename_t *t);

/* Splits a function signature's argument list ("integer, \"a,b\", numeric(10,2)") at its
 * top-level commas: outside parentheses and outside double quotes. Calls `each` with every
 * trimmed, non-empty argument (a NUL-terminated copy that `each` must not keep). */
void pf_typename_split_args(const char *args, void (*each)(void *ctx, const char *arg), void *ctx);

#endif
