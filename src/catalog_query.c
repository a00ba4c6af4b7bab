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

void pf__array_ref(pf_buf_t *arr, size_t k) {
  if (k) pf__array_int(arr, k);
  else pf_catalog_array_add(arr, NULL);
}

void pf__qb_arrays(pf__qb_t *qb, int count, pf_buf_t **a, int *n) {
  for (int k = 0; k < count; k++) a[k] = pf__qb_array(qb, &n[k]);
}

void pf__qb_index(pf__qb_t *qb, const pf_manifest_t *m) {
  qb->order = pf_xcalloc(m->nitems ? m->nitems : 1, sizeof(*qb->order));
  pf_manifest_kind_order(m, false, qb->order, qb->kstart);
}

size_t pf__count_kinds(const pf__qb_t *qb, unsigned kinds) {
  size_t count = 0;
  for (int k = 0; k < PF_KIND__COUNT; k++)
    if (kinds & PF__KM(k)) count += qb->kstart[k + 1] - qb->kstart[k];
  return count;
}

size_t pf__count_kind(const pf__qb_t *qb, pf_kind_t kind) { return qb->kstart[kind + 1] - qb->kstart[kind]; }

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


/* Collects the items of the kinds in `kinds` into parameter arrays: their indexes, then one text array per
 * field. Writes "unnest($a::int[], $b::text[], ...)" into `unnest` and returns the item count
 * (0: no branch is needed). */
size_t pf__collect(pf__qb_t *qb, const pf_manifest_t *m, unsigned kinds, int nfields, const pf__field_fn *fields,
                          pf_buf_t *unnest) {
  pf_buf_t *arrays[8];
  int nums[8];
  size_t count = 0;
  PF__QB_EACH_OF(qb, kinds, i) {
    const pf_item_t *it = &m->items[i];
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

/* ---- distinct keys ---------------------------------------------------------------------- */

static void pf__intern_grow(pf__intern_t *t) {
  size_t nslots = t->nslots ? t->nslots * 2 : 64;
  uint32_t *slots = pf_xcalloc(nslots, sizeof(*slots));
  for (size_t k = 0; k < t->n; k++) {
    size_t j = pf_hash(t->keys[k], t->lens[k]) & (nslots - 1);
    while (slots[j] != 0) j = (j + 1) & (nslots - 1);
    slots[j] = (uint32_t)(k + 1);
  }
  free(t->slots);
  t->slots = slots;
  t->nslots = nslots;
}

size_t pf__intern(pf__intern_t *t, const char *const *parts, int nparts, bool *added) {
  /* A part is encoded as "\1text\0", or "\0" for NULL: names never hold a NUL, so two
   * different part lists never encode alike. The key is built on the stack when it fits (a
   * lookup of a key already there, the common case, then allocates nothing) and copied to the
   * heap only when it is added. */
  char local[256];
  size_t len = 0;
  for (int p = 0; p < nparts; p++) len += parts[p] ? strlen(parts[p]) + 2 : 1;
  char *key = len <= sizeof(local) ? local : pf_xmalloc(len);
  size_t at = 0;
  for (int p = 0; p < nparts; p++) {
    if (parts[p] == NULL) {
      key[at++] = '\0';
      continue;
    }
    size_t n = strlen(parts[p]) + 1;
    key[at++] = '\1';
    memcpy(key + at, parts[p], n);
    at += n;
  }
  if ((t->n + 1) * 2 > t->nslots) pf__intern_grow(t);
  size_t j = pf_hash(key, len) & (t->nslots - 1);
  for (; t->slots[j] != 0; j = (j + 1) & (t->nslots - 1)) {
    size_t k = t->slots[j] - 1;
    if (t->lens[k] == len && memcmp(t->keys[k], key, len) == 0) {
      if (key != local) free(key);
      *added = false;
      return k + 1;
    }
  }
  if (t->n == t->cap) {
    t->cap = t->cap ? t->cap * 2 : 32;
    t->keys = pf_xrealloc(t->keys, t->cap * sizeof(*t->keys));
    t->lens = pf_xrealloc(t->lens, t->cap * sizeof(*t->lens));
  }
  if (key == local) {
    key = pf_xmalloc(len);
    memcpy(key, local, len);
  }
  t->lens[t->n] = len;
  t->keys[t->n] = key;
  t->slots[j] = (uint32_t)(++t->n);
  *added = true;
  return t->n;
}

void pf__intern_free(pf__intern_t *t) {
  for (size_t k = 0; k < t->n; k++) free(t->keys[k]);
  free(t->keys);
  free(t->lens);
  free(t->slots);
  memset(t, 0, sizeof(*t));
}

void pf__relset_init(pf__qb_t *qb, pf__relset_t *rs) {
  memset(rs, 0, sizeof(*rs));
  rs->s = pf__qb_array(qb, &rs->num[0]);
  rs->n = pf__qb_array(qb, &rs->num[1]);
}

size_t pf__relset_add(pf__relset_t *rs, const char *schema, const char *name) {
  const char *parts[2] = {schema, name};
  bool added;
  size_t k = pf__intern(&rs->set, parts, 2, &added);
  if (added) {
    pf_catalog_array_add(rs->s, schema);
    pf_catalog_array_add(rs->n, name);
  }
  return k;
}

/* An inner join: a relation that does not exist has no row, and the item's LEFT JOIN on its
 * number finds nothing. */
void pf__relset_sql(pf_buf_t *sql, const pf__relset_t *rs) {
  /* The flags array may be shorter than the names (relations added after it was written):
   * unnest pads it with NULL, which is false. */
  if (rs->num[2])
    pf_buf_printf(sql,
                  "(SELECT r.k, rc.oid, rc.relkind, rc.relrowsecurity, coalesce(r.c, false) AS cols\n"
                  "   FROM unnest($%d::text[], $%d::text[], $%d::bool[]) WITH ORDINALITY AS r(s, n, c, k)\n",
                  rs->num[0], rs->num[1], rs->num[2]);
  else
    pf_buf_printf(sql,
                  "(SELECT r.k, rc.oid, rc.relkind, rc.relrowsecurity, false AS cols\n"
                  "   FROM unnest($%d::text[], $%d::text[]) WITH ORDINALITY AS r(s, n, k)\n",
                  rs->num[0], rs->num[1]);
  pf_buf_puts(sql,
              "   JOIN pg_catalog.pg_namespace rns ON rns.nspname = r.s\n"
              "   JOIN pg_catalog.pg_class rc ON rc.relnamespace = rns.oid AND rc.relname = r.n)");
}

void pf__relset_flag(pf__qb_t *qb, pf__relset_t *rs, const unsigned char *flags) {
  pf_buf_t *c = pf__qb_array(qb, &rs->num[2]);
  for (size_t k = 1; k <= rs->set.n; k++) pf_catalog_array_add(c, flags[k] ? "t" : "f");
}

void pf__relset_free(pf__relset_t *rs) { pf__intern_free(&rs->set); }

void pf__typeset_init(pf__qb_t *qb, pf__typeset_t *ts) {
  memset(ts, 0, sizeof(*ts));
  ts->s = pf__qb_array(qb, &ts->num[0]);
  ts->n = pf__qb_array(qb, &ts->num[1]);
  ts->d = pf__qb_array(qb, &ts->num[2]);
}

size_t pf__typeset_text(pf__typeset_t *ts, const char *text) {
  if (text == NULL) return 0;
  /* Manifests repeat a handful of type names thousands of times: each distinct text is parsed
   * once, and what it came to is remembered by the text's number. */
  bool added;
  size_t r = pf__intern(&ts->texts, &text, 1, &added);
  if (!added) return r;
  if (ts->texts.n > ts->text_cap) {
    ts->text_cap = ts->texts.cap;
    ts->text_k = pf_xrealloc(ts->text_k, ts->text_cap * sizeof(*ts->text_k));
    ts->text_mods = pf_xrealloc(ts->text_mods, ts->text_cap * sizeof(*ts->text_mods));
  }
  ts->text_k[r - 1] = 0;
  ts->text_mods[r - 1] = NULL;
  pf_typename_t t;
  char err[160];
  if (!pf_typename_parse(text, &t, err, sizeof(err))) return r;
  if (t.database == NULL) { /* another database: never this one's type */
    char dims[16];
    snprintf(dims, sizeof(dims), "%d", t.dims);
    const char *parts[3] = {t.schema, t.name, dims};
    size_t k = pf__intern(&ts->set, parts, 3, &added);
    if (added) {
      pf_catalog_array_add(ts->s, t.schema);
      pf_catalog_array_add(ts->n, t.name);
      pf_catalog_array_add(ts->d, dims);
    }
    ts->text_k[r - 1] = k;
    ts->text_mods[r - 1] = pf_xstrdup(t.mods);
  }
  pf_typename_free(&t);
  return r;
}

size_t pf__typeset_add(pf__typeset_t *ts, const char *text) {
  size_t r = pf__typeset_text(ts, text);
  return r ? ts->text_k[r - 1] : 0;
}

size_t pf__typeset_k(const pf__typeset_t *ts, size_t r) { return r >= 1 && r <= ts->texts.n ? ts->text_k[r - 1] : 0; }

const char *pf__typeset_mods(const pf__typeset_t *ts, size_t r) {
  return r >= 1 && r <= ts->texts.n ? ts->text_mods[r - 1] : NULL;
}

void pf__typeset_sql(pf_buf_t *sql, const pf__typeset_t *ts) {
  /* OFFSET 0 keeps the lateral subquery a subquery: pulled up, its one column became the lookup
   * itself in each of the two places that read it, planned and run twice per type. */
  pf_buf_printf(sql,
                "(SELECT u.k, r.oid, pg_catalog.format_type(r.oid, NULL) AS canon\n"
                "   FROM unnest($%d::text[], $%d::text[], $%d::text[]) WITH ORDINALITY AS u(s, n, d, k)\n"
                "   CROSS JOIN LATERAL (SELECT " PF__TYPE_OID("u.s", "u.n", "u.d") " AS oid OFFSET 0) r)",
                ts->num[0], ts->num[1], ts->num[2]);
}

void pf__typeset_free(pf__typeset_t *ts) {
  for (size_t r = 0; r < ts->texts.n; r++) free(ts->text_mods[r]);
  free(ts->text_k);
  free(ts->text_mods);
  pf__intern_free(&ts->texts);
  pf__intern_free(&ts->set);
}

void pf__args_init(pf__qb_t *qb, pf__args_t *a) {
  a->ai = pf__qb_array(qb, &a->num[0]);
  a->ay = pf__qb_array(qb, &a->num[1]);
  a->types = pf__qb_types(qb);
}

static void pf__args_one(void *ctx, const char *arg) {
  pf__args_t *a = ctx;
  pf__array_int(a->ai, a->item);
  pf__array_ref(a->ay, pf__typeset_add(a->types, arg));
}

void pf__args_add(pf__args_t *a, size_t item, const char *args) {
  a->item = item;
  pf_typename_split_args(args, pf__args_one, a);
}

void pf__args_sql(pf_buf_t *sql, const pf__args_t *a) {
  pf_buf_printf(sql,
                "(SELECT a.i, array_agg(at.oid ORDER BY a.o) AS types, bool_and(at.oid IS NOT NULL) AS ok\n"
                "   FROM unnest($%d::int[], $%d::int[]) WITH ORDINALITY AS a(i, y, o)\n"
                "   LEFT JOIN tys at ON at.k = a.y\n   GROUP BY a.i)",
                a->num[0], a->num[1]);
}

/* ---- the query's shared sets and its text ---------------------------------------------------- */

pf__relset_t *pf__qb_rels(pf__qb_t *qb) {
  if (!qb->have_rels) pf__relset_init(qb, &qb->rels);
  qb->have_rels = true;
  return &qb->rels;
}

pf__typeset_t *pf__qb_types(pf__qb_t *qb) {
  if (!qb->have_types) pf__typeset_init(qb, &qb->types);
  qb->have_types = true;
  return &qb->types;
}

/* No MATERIALIZED: PostgreSQL computes a common table expression once when more than one branch
 * reads it, and folds it into its only reader otherwise, which plans as the subquery did. */
void pf__qb_text(const pf__qb_t *qb, pf_buf_t *out) {
  const char *sep = "WITH ";
  if (qb->have_rels) {
    pf_buf_printf(out, "%srels AS ", sep);
    pf__relset_sql(out, &qb->rels);
    sep = ",\n";
  }
  if (qb->have_types) {
    pf_buf_printf(out, "%stys AS ", sep);
    pf__typeset_sql(out, &qb->types);
    sep = ",\n";
  }
  if (sep[0] == ',') pf_buf_putc(out, '\n');
  pf_buf_append(out, qb->sql.data ? qb->sql.data : "", qb->sql.len);
}

void pf__qb_free(pf__qb_t *qb) {
  pf_buf_free(&qb->sql);
  for (int i = 0; i < qb->nparams; i++) pf_buf_free(&qb->params[i]);
  if (qb->have_rels) pf__relset_free(&qb->rels);
  if (qb->have_types) pf__typeset_free(&qb->types);
  free(qb->col_rel);
  free(qb->col_type);
  free(qb->order);
  qb->order = NULL;
  qb->col_rel = qb->col_type = NULL;
  qb->ncols = 0;
  qb->nparams = 0;
  qb->have_rels = qb->have_types = false;
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
