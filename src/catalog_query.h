/* The bottom of the verification stack: building the one query (SQL text plus parameter arrays
 * rendered as literals) and reading its result cells. Used by the per-kind branches and judges
 * (catalog_kinds.c) and by the driver (catalog.c); it calls neither, so the three files form a
 * one-way stack: catalog.c -> catalog_kinds.c -> catalog_query.c. Not part of any public header. */
#ifndef PREFLIGHT_CATALOG_QUERY_H
#define PREFLIGHT_CATALOG_QUERY_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "preflight/catalog.h"

#define PF__MAX_PARAMS 128

/* A set of distinct keys made of a few optional strings, numbered 1, 2, ... in the order they
 * first appear, with a hash table so that 30,000 items cost 30,000 lookups, not a sort. */
typedef struct {
  char **keys;          /* keys[k - 1]: the encoded key numbered k */
  size_t *lens;
  size_t n, cap;
  uint32_t *slots;      /* 0: empty; else a key's number */
  size_t nslots;
} pf__intern_t;

/* The distinct relations (schema, name) the items name, sent once each: items carry the
 * relation's number, and the query resolves every relation once, however many columns,
 * indexes or constraints name it. */
typedef struct {
  pf__intern_t set;
  pf_buf_t *s, *n;
  int num[3];           /* the parameters: schemas, names, and the `cols` flags (0: none) */
} pf__relset_t;

/* The same for type names: each distinct (schema, typname, dims) is sent and resolved once. */
typedef struct {
  pf__intern_t set;
  pf_buf_t *s, *n, *d;
  int num[3];
  /* Each distinct text given (numbered r, from 1): the type's number in `set` (0 when the text
   * is not a type name, or names another database) and its modifiers ("10,2", "" for none). */
  pf__intern_t texts;
  size_t *text_k;
  char **text_mods;
  size_t text_cap;
} pf__typeset_t;

/* The query under construction: SQL text plus parameters (arrays rendered as literals), and the
 * one relation set and one type set that every branch shares. They become the query's common
 * table expressions `rels` (k, oid, relkind, relrowsecurity, cols) and `tys` (k, oid, canon), so
 * PostgreSQL parses, plans and runs each lookup once, not once per branch: in a backend whose
 * catalog caches are cold, every extra join planned is memory touched for the first time. */
typedef struct {
  pf_buf_t sql;
  pf_buf_t params[PF__MAX_PARAMS];
  int nparams;
  int branches;
  pf__relset_t rels;
  pf__typeset_t types;
  bool have_rels, have_types;
  int server_version;   /* PQserverVersion, 0 when unknown: the branches leave out what it lacks */
  /* Columns, in manifest order: each one's relation number and its declared type's text number
   * (pf__typeset_text), for the judge. */
  uint32_t *col_rel, *col_type;
  size_t ncols;
  /* The manifest's items grouped by kind, each kind in manifest order: kind k's are
   * order[kstart[k]] .. order[kstart[k + 1] - 1] (pf__qb_index). A branch reads its own items,
   * not the whole manifest: one pass over 32,000 items is 5.9 MB, and there was one per kind. */
  size_t *order;
  size_t kstart[PF_KIND__COUNT + 1];
} pf__qb_t;

/* Each item index i of `kind`, in manifest order (pf__qb_index must have run); of each kind in
 * the set `kinds` (PF__KM), kind by kind. */
#define PF__QB_EACH(qb, kind, i) \
  for (size_t pf__j = (qb)->kstart[kind], i = 0; pf__j < (qb)->kstart[(kind) + 1] && ((i = (qb)->order[pf__j]), true); pf__j++)
#define PF__QB_EACH_OF(qb, kinds, i) \
  for (int pf__k = 0; pf__k < PF_KIND__COUNT; pf__k++) \
    if ((kinds) & PF__KM(pf__k)) PF__QB_EACH(qb, pf__k, i)

/* Reserves the next parameter for an array literal and returns its buffer ("{" written);
 * *n receives the parameter's number ($n). */
pf_buf_t *pf__qb_array(pf__qb_t *qb, int *n);
/* Starts a new UNION ALL branch. */
void pf__qb_branch(pf__qb_t *qb);
/* Appends an int element to an array literal. */
void pf__array_int(pf_buf_t *arr, size_t v);
/* Appends a set member's number, or NULL for 0 (no member). */
void pf__array_ref(pf_buf_t *arr, size_t k);
/* Reserves `count` consecutive array parameters: their buffers into a, their numbers into n. */
void pf__qb_arrays(pf__qb_t *qb, int count, pf_buf_t **a, int *n);
/* Groups the manifest's items by kind for PF__QB_EACH and the counts below. */
void pf__qb_index(pf__qb_t *qb, const pf_manifest_t *m);
/* How many items are of `kind`; of any of the kinds in the set `kinds` (PF__KM). */
size_t pf__count_kind(const pf__qb_t *qb, pf_kind_t kind);
size_t pf__count_kinds(const pf__qb_t *qb, unsigned kinds);
/* Appends "s" with identifier quoting. */
void pf__quote_ident(pf_buf_t *b, const char *s);

/* Records a verdict for one item (strings are copied). */
void pf__set(pf_item_state_t *st, pf_obj_state_t state, const char *detail, const char *expected, const char *found);
/* Whether a cell holds boolean true, sent as bool ("t") or bool::text ("true"). */
bool pf__true(const char *v);
/* The text of a result cell, or NULL for SQL NULL. */
const char *pf__cell(PGresult *r, int row, int col);

/* ---- what every kind's branch shares (catalog_query.c) ---- */

/* A set of kinds, for branches that serve several (tables, views and sequences). */
#define PF__KM(kind) (1u << (kind))

#define PF__TYPE_OID(S, N, D)                                                                                     \
  "(SELECT CASE WHEN " D "::int > 0 THEN y.typarray ELSE y.oid END FROM pg_catalog.pg_type y\n"                  \
  "   JOIN pg_catalog.pg_namespace yn ON yn.oid = y.typnamespace\n"                                               \
  "   WHERE y.typname = " N " AND CASE WHEN " S " IS NULL THEN yn.nspname = ANY (pg_catalog.current_schemas(true))" \
  " ELSE yn.nspname = " S " END\n"                                                                                \
  "   ORDER BY pg_catalog.array_position(pg_catalog.current_schemas(true), yn.nspname) LIMIT 1)"

typedef const char *(*pf__field_fn)(const pf_manifest_t *m, const pf_item_t *it);

/* Field readers for pf__collect: one text per item. */
const char *pf__f_schema(const pf_manifest_t *m, const pf_item_t *it);
const char *pf__f_name(const pf_manifest_t *m, const pf_item_t *it);
const char *pf__f_tschema(const pf_manifest_t *m, const pf_item_t *it);
const char *pf__f_table(const pf_manifest_t *m, const pf_item_t *it);

/* Collects the items of `kinds` into parameter arrays (indexes, then one text array per field),
 * writes "unnest($a::int[], $b::text[], ...)" into `unnest`, and returns the item count (0: no
 * branch is needed). */
size_t pf__collect(pf__qb_t *qb, const pf_manifest_t *m, unsigned kinds, int nfields, const pf__field_fn *fields,
                   pf_buf_t *unnest);
/* Appends one branch made of a SELECT list, the unnest of the kind's arrays, and joins. */
void pf__simple_branch(pf__qb_t *qb, const pf_manifest_t *m, unsigned kinds, int nfields, const pf__field_fn *fields,
                       const char *cols, const char *alias, const char *joins);
/* Returns the number of the key made of parts[0..nparts) (NULL parts allowed), adding it when
 * new; *added says which. */
size_t pf__intern(pf__intern_t *t, const char *const *parts, int nparts, bool *added);
void pf__intern_free(pf__intern_t *t);

void pf__relset_init(pf__qb_t *qb, pf__relset_t *rs);
/* Returns the relation's number (1-based). */
size_t pf__relset_add(pf__relset_t *rs, const char *schema, const char *name);
/* Appends a subquery (k, oid, relkind, relrowsecurity, cols): each relation of the set that
 * exists, by its number, and whether it was flagged. */
void pf__relset_sql(pf_buf_t *sql, const pf__relset_t *rs);
/* Flags relations 1..n of the set (flags[k] != 0: cols is true), for one branch to select them
 * without a join; relations added later are not flagged. Call it once. */
void pf__relset_flag(pf__qb_t *qb, pf__relset_t *rs, const unsigned char *flags);
void pf__relset_free(pf__relset_t *rs);

void pf__typeset_init(pf__qb_t *qb, pf__typeset_t *ts);
/* Returns the number of the type `text` names, or 0 when text is NULL, not a type name, or
 * names another database (the judge explains those without the catalog). */
size_t pf__typeset_add(pf__typeset_t *ts, const char *text);
/* Adds `text` as pf__typeset_add does, but returns the text's own number r (0 for NULL), which
 * pf__typeset_k turns into the type's number and pf__typeset_mods into the modifiers the text
 * gives (NULL when the text names no type of this database). Each distinct text is parsed once. */
size_t pf__typeset_text(pf__typeset_t *ts, const char *text);
size_t pf__typeset_k(const pf__typeset_t *ts, size_t r);
const char *pf__typeset_mods(const pf__typeset_t *ts, size_t r);
/* Appends a subquery (k, oid, canon): every type of the set by its number, its OID (NULL when
 * it names no type) and its canonical name. */
void pf__typeset_sql(pf_buf_t *sql, const pf__typeset_t *ts);
void pf__typeset_free(pf__typeset_t *ts);

/* The query's relation set, joined as `rels`, and type set, joined as `tys`: made at first use. */
pf__relset_t *pf__qb_rels(pf__qb_t *qb);
pf__typeset_t *pf__qb_types(pf__qb_t *qb);
/* The statement to send: the common table expressions the branches used, then the branches. */
void pf__qb_text(const pf__qb_t *qb, pf_buf_t *out);
/* Frees the query's text, parameters and sets. */
void pf__qb_free(pf__qb_t *qb);

/* The arguments of signatures (functions, grants on functions): per argument the item's index
 * and its type's number in a type set, in order. */
typedef struct {
  pf_buf_t *ai, *ay;
  int num[2];
  pf__typeset_t *types;
  size_t item;
} pf__args_t;

/* Arguments whose types join the query's type set (tys). */
void pf__args_init(pf__qb_t *qb, pf__args_t *a);
/* Adds the arguments of item `item`'s signature ("integer, text"). */
void pf__args_add(pf__args_t *a, size_t item, const char *args);
/* Appends a subquery (i, types, ok): per item, its argument type OIDs in order and whether every
 * one resolved. An item without arguments has no row. */
void pf__args_sql(pf_buf_t *sql, const pf__args_t *a);

/* Records a mismatch with a formatted detail. */
void pf__mismatch(pf_item_state_t *st, const char *expected, const char *found, const char *fmt, ...) PF_PRINTF(4, 5);

#endif
