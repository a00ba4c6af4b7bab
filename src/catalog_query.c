/* The verification query's builder and its result-cell helpers: the bottom of the catalog
 * stack (catalog.c -> catalog_kinds.c -> catalog_migrations.c -> here), calling none of the
 * files above it. Besides the array literals, it holds what every kind's branch shares: the
 * collectors that turn a kind's items into unnest(...) parameters, and the resolution of type
 * names through pg_type. */
#include "catalog_query.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preflight/typename.h"

/* Reserves parameter $n for an array, returning its buffer. */
pf_buf_t *pf__qb_array(pf__qb_t *qb, int *n) {
  pf_buf_t *b = &qb->params[qb->nparams++];
  *n = qb->nparams;
  pf_buf_putc(b, '{');
  return b;
}

/* Array literals are the bulk of the query's bytes (a 32,000-item manifest sends ~1 MB), so
 * elements are appended in runs, not a character or a printf at a time. */
void pf_catalog_array_add(pf_buf_t *arr, const char *s) {
  if (arr->len > 1) pf_buf_putc(arr, ',');
  if (s == NULL) {
    pf_buf_append(arr, "NULL", 4);
    return;
  }
  pf_buf_putc(arr, '"');
  for (;;) {
    size_t run = strcspn(s, "\"\\");
    pf_buf_append(arr, s, run);
    s += run;
    if (*s == '\0') break;
    char esc[2] = {'\\', *s++};
    pf_buf_append(arr, esc, 2);
  }
  pf_buf_putc(arr, '"');
}

/* Appends an int element to an array literal. */
void pf__array_int(pf_buf_t *arr, size_t v) {
  char tmp[24];
  size_t n = sizeof(tmp);
  do {
    tmp[--n] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  if (arr->len > 1) tmp[--n] = ',';
  pf_buf_append(arr, tmp + n, sizeof(tmp) - n);
}

/* Starts a new UNION ALL branch. */
void pf__qb_branch(pf__qb_t *qb) {
  if (qb->branches++ > 0) pf_buf_puts(&qb->sql, "\nUNION ALL\n");
}

/* Appends `"schema"."name"` with identifier quoting, the form to_regprocedure reads exactly. */
void pf__quote_ident(pf_buf_t *b, const char *s) {
  pf_buf_putc(b, '"');
  for (; *s; s++) {
    if (*s == '"') pf_buf_putc(b, '"');
    pf_buf_putc(b, *s);
  }
  pf_buf_putc(b, '"');
}


/* Records a verdict for one item (takes ownership of nothing: strings are copied). */
void pf__set(pf_item_state_t *st, pf_obj_state_t state, const char *detail, const char *expected, const char *found) {
  st->state = state;
  free(st->detail);
  free(st->expected);
  free(st->found);
  st->detail = pf_xstrdup(detail);
  st->expected = pf_xstrdup(expected);
  st->found = pf_xstrdup(found);
}

/* Whether a cell holds boolean true, whether it was sent as bool ("t") or bool::text ("true"). */
bool pf__true(const char *v) { return v && (strcmp(v, "t") == 0 || strcmp(v, "true") == 0); }

/* Returns the text of a result cell, or NULL for SQL NULL. */
const char *pf__cell(PGresult *r, int row, int col) {
  return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}


void pf_catalog_type_mods(const char *type, char *out, size_t outlen) {
  size_t o = 0;
  const char *p = type ? strchr(type, '(') : NULL;
  if (outlen) out[0] = '\0';
  if (p == NULL) return;
  for (p++; *p && *p != ')'; p++) {
    if (isspace((unsigned char)*p)) continue;
    if (o + 1 < outlen) out[o++] = *p;
  }
  if (outlen) out[o < outlen ? o : outlen - 1] = '\0';
}

/* ---- kinds looked up by one or a few names ------------------------------------------------ */

const char *pf__f_schema(const pf_manifest_t *m, const pf_item_t *it) { return it->schema; }
const char *pf__f_name(const pf_manifest_t *m, const pf_item_t *it) { return it->name; }
const char *pf__f_tschema(const pf_manifest_t *m, const pf_item_t *it) { return it->table_schema; }
const char *pf__f_table(const pf_manifest_t *m, const pf_item_t *it) { return it->table; }
const char *pf__f_type(const pf_manifest_t *m, const pf_item_t *it) { return it->type; }


/* Collects the items of the kinds in `kinds` into parameter arrays: their indexes, then one text array per
 * field. Writes "unnest($a::int[], $b::text[], ...)" into `unnest` and returns the item count
 * (0: no branch is needed). */
size_t pf__collect(pf__qb_t *qb, const pf_manifest_t *m, unsigned kinds, int nfields, const pf__field_fn *fields,
                          pf_buf_t *unnest) {
  pf_buf_t *arrays[8];
  int nums[8];
  size_t count = 0;
  for (size_t i = 0; i < m->nitems; i++) {
    const pf_item_t *it = &m->items[i];
    if (!(kinds & PF__KM(it->kind))) continue;
    if (count++ == 0)
      for (int f = 0; f <= nfields; f++) arrays[f] = pf__qb_array(qb, &nums[f]);
    pf__array_int(arrays[0], i);
    for (int f = 0; f < nfields; f++) pf_catalog_array_add(arrays[f + 1], fields[f](m, it));
  }
  if (count == 0) return 0;
  pf_buf_printf(unnest, "unnest($%d::int[]", nums[0]);
  for (int f = 1; f <= nfields; f++) pf_buf_printf(unnest, ", $%d::text[]", nums[f]);
  pf_buf_putc(unnest, ')');
  return count;
}

/* Appends one branch made of a SELECT list, the unnest of the kind's arrays, and joins. */
void pf__simple_branch(pf__qb_t *qb, const pf_manifest_t *m, unsigned kinds, int nfields, const pf__field_fn *fields,
                              const char *cols, const char *alias, const char *joins) {
  pf_buf_t unnest = {0};
  if (pf__collect(qb, m, kinds, nfields, fields, &unnest) > 0) {
    pf__qb_branch(qb);
    pf_buf_printf(&qb->sql, "SELECT t.i, %s\nFROM %s AS t(%s)\n%s", cols, unnest.data, alias, joins);
  }
  pf_buf_free(&unnest);
}

/* ---- types resolved through the catalog ------------------------------------------------------
 *
 * A manifest's type name is read in C (typename.c) into (schema, typname, dims) and looked up in
 * pg_type by name: unqualified names on the search path as current_schemas shows it (pg_catalog
 * first, schemas without USAGE skipped, as PostgreSQL does), qualified ones in their schema,
 * which needs no USAGE on it. Nothing in the manifest is parsed by PostgreSQL, so no text can make
 * the query fail; a name that is not a type name (a.b.c) resolves to NULL and is reported against
 * its own item. S, N and D are SQL expressions for the schema, typname and dimensions. */

/* Adds a parsed type name's three parts to three arrays (NULLs when absent or unreadable). */
void pf__add_typename(pf_buf_t *as, pf_buf_t *an, pf_buf_t *ad, const char *text) {
  pf_typename_t t;
  char err[160];
  bool ok = text && pf_typename_parse(text, &t, err, sizeof(err));
  if (ok && t.database != NULL) { /* another database: never this one's type */
    pf_typename_free(&t);
    ok = false;
  }
  if (ok) {
    char dims[16];
    snprintf(dims, sizeof(dims), "%d", t.dims);
    pf_catalog_array_add(as, t.schema);
    pf_catalog_array_add(an, t.name);
    pf_catalog_array_add(ad, dims);
    pf_typename_free(&t);
  } else {
    pf_catalog_array_add(as, NULL);
    pf_catalog_array_add(an, NULL);
    pf_catalog_array_add(ad, NULL);
  }
}

/* Appends three type arrays (schema, typname, dims) for the items of `kinds`, in item order, to a
 * branch's unnest(...) written by pf__collect; `text` gives each item's type name (or NULL).
 * Their parameter numbers go to n (when not NULL), for pf__resolved_types. */
void pf__collect_type(pf__qb_t *qb, const pf_manifest_t *m, unsigned kinds,
                             const char *(*text)(const pf_manifest_t *m, const pf_item_t *it), pf_buf_t *unnest, int *n) {
  int num[3];
  pf_buf_t *a[3];
  for (int k = 0; k < 3; k++) a[k] = pf__qb_array(qb, &num[k]);
  for (size_t i = 0; i < m->nitems; i++)
    if (kinds & PF__KM(m->items[i].kind)) pf__add_typename(a[0], a[1], a[2], text(m, &m->items[i]));
  if (unnest->len > 0 && unnest->data[unnest->len - 1] == ')') unnest->data[--unnest->len] = '\0';
  pf_buf_printf(unnest, ", $%d::text[], $%d::text[], $%d::text[])", num[0], num[1], num[2]);
  if (n) memcpy(n, num, sizeof(num));
}

/* A subquery (s, n, d, oid, canon) resolving each distinct type of the three arrays $n[0..2]
 * once; rows are joined back on (n, s, d). */
void pf__resolved_types(pf_buf_t *sql, const int n[3]) {
  pf_buf_printf(sql,
                "(SELECT u.s, u.n, u.d, r.oid, pg_catalog.format_type(r.oid, NULL) AS canon\n"
                "   FROM (SELECT DISTINCT u.s, u.n, u.d FROM unnest($%d::text[], $%d::text[], $%d::text[]) AS u(s, n, d)\n"
                "         WHERE u.n IS NOT NULL) u\n"
                "   CROSS JOIN LATERAL (SELECT " PF__TYPE_OID("u.s", "u.n", "u.d") " AS oid) r)",
                n[0], n[1], n[2]);
}


static void pf__add_arg(void *ctx, const char *arg) {
  pf__args_ctx_t *c = ctx;
  pf__array_int(c->ai, c->item);
  pf__add_typename(c->as, c->an, c->ad, arg);
}

void pf__args_arrays(pf__qb_t *qb, int n[4], pf__args_ctx_t *c) {
  c->ai = pf__qb_array(qb, &n[0]);
  c->as = pf__qb_array(qb, &n[1]);
  c->an = pf__qb_array(qb, &n[2]);
  c->ad = pf__qb_array(qb, &n[3]);
}

void pf__args_add(pf__args_ctx_t *c, size_t item, const char *args) {
  c->item = item;
  pf_typename_split_args(args, pf__add_arg, c);
}

/* A subquery (i, types, ok) with, per item, its argument types in order (oid[]) and whether
 * every one of them resolved; each distinct type is resolved once (pf__resolved_types). An item
 * without arguments has no row. */
void pf__args_grouped(pf_buf_t *sql, const int n[4]) {
  pf_buf_printf(sql,
                "(SELECT a.i, array_agg(rt.oid::oid ORDER BY a.o) AS types, bool_and(rt.oid IS NOT NULL) AS ok\n"
                "   FROM unnest($%d::int[], $%d::text[], $%d::text[], $%d::text[]) WITH ORDINALITY AS a(i, s, n, d, o)\n"
                "   LEFT JOIN ",
                n[0], n[1], n[2], n[3]);
  pf__resolved_types(sql, n + 1);
  pf_buf_puts(sql, " rt ON rt.n = a.n AND rt.s IS NOT DISTINCT FROM a.s AND rt.d = a.d\n   GROUP BY a.i)");
}

int pf_catalog_version_cmp(const char *a, const char *b) {
  while (*a || *b) {
    while (*a && !isdigit((unsigned char)*a)) a++;
    while (*b && !isdigit((unsigned char)*b)) b++;
    unsigned long x = strtoul(a, (char **)&a, 10), y = strtoul(b, (char **)&b, 10);
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

/* Records a mismatch with a formatted detail. */
void pf__mismatch(pf_item_state_t *st, const char *expected, const char *found, const char *fmt, ...) {
  pf_buf_t d = {0};
  va_list ap;
  va_start(ap, fmt);
  pf_buf_vprintf(&d, fmt, ap);
  va_end(ap);
  pf__set(st, PF_OBJ_MISMATCH, d.data, expected, found);
  pf_buf_free(&d);
}
