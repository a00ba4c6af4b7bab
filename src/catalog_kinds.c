/* The verification query's branches, one per kind, and the judges that read their rows.
 *
 * Every branch unnests parameter arrays (item index, schema, name, ...) and LEFT JOINs the
 * catalog on exact names, so an absent object still returns its row with present = false, and
 * returns the same columns: (i, present, a, b, c, d, e, f). Names are compared with = against
 * pg_catalog columns (columns: with strcmp against attname), never parsed by PostgreSQL, so they
 * are never case-folded. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "catalog_int.h"
#include "preflight/typename.h"

/* Splits "setof T" into (true, "T"); anything else into (false, text). */
static const char *pf__returns_type(const char *ret, bool *setof) {
  *setof = false;
  if (strncasecmp(ret, "setof", 5) == 0 && isspace((unsigned char)ret[5])) {
    *setof = true;
    ret += 5;
    while (isspace((unsigned char)*ret)) ret++;
  }
  return ret;
}

/* Whether a `returns:` value is a TABLE(...) signature, compared as text instead of by type. */
static bool pf__returns_is_table(const char *ret) {
  return strncasecmp(ret, "table", 5) == 0 && (ret[5] == '(' || isspace((unsigned char)ret[5]));
}

/* A function's `returns:` as the query compares it: the type without "setof", and whether
 * "setof" was there; NULL for no `returns:` or a TABLE(...) one (compared as text). */
static const char *pf__f_returns_type(const pf_manifest_t *m, const pf_item_t *it) {
  bool setof;
  return it->returns && !pf__returns_is_table(it->returns) ? pf__returns_type(it->returns, &setof) : NULL;
}
/* Per function, what its `returns:` is: NULL for none, "x" for TABLE(...) (compared as text),
 * else whether it is SETOF ("t", "f"; read as t.rs = 't', never cast, so that no order of
 * evaluation can cast the "x"). */
static const char *pf__f_returns_setof(const pf_manifest_t *m, const pf_item_t *it) {
  bool setof = false;
  if (!it->returns) return NULL;
  if (pf__returns_is_table(it->returns)) return "x";
  pf__returns_type(it->returns, &setof);
  return setof ? "t" : "f";
}

/* A branch for the items that name a relation: their own (tables, views, sequences: `own`) or
 * the table they live on (constraints, triggers, policies, indexes, whose name is sent as t.n).
 * Per item its index, its relation's number in the query's relation set (rel: k, oid, relkind,
 * relrowsecurity) and `extra` when given (as t.x); each relation is resolved once, however many
 * items name it. */
static void pf__rel_branch(pf__qb_t *qb, const pf_manifest_t *m, unsigned kinds, bool own, pf__field_fn extra,
                           const char *cols, const char *joins) {
  if (pf__count_kinds(qb, kinds) == 0) return;
  int n[4];
  pf_buf_t *a[4];
  int na = 2 + !own + (extra != NULL);
  pf__qb_arrays(qb, na, a, n);
  pf__relset_t *rels = pf__qb_rels(qb);
  PF__QB_EACH_OF(qb, kinds, i) {
    const pf_item_t *it = &m->items[i];
    pf__array_int(a[0], i);
    pf__array_int(a[1], own ? pf__relset_add(rels, it->schema, it->name) : pf__relset_add(rels, it->table_schema, it->table));
    if (!own) pf_catalog_array_add(a[2], it->name);
    if (extra) pf_catalog_array_add(a[na - 1], extra(m, it));
  }
  pf__qb_branch(qb);
  pf_buf_printf(&qb->sql, "SELECT t.i, %s\nFROM unnest($%d::int[], $%d::int[]", cols, n[0], n[1]);
  for (int k = 2; k < na; k++) pf_buf_printf(&qb->sql, ", $%d::text[]", n[k]);
  pf_buf_printf(&qb->sql, ") AS t(i, r%s%s)\nLEFT JOIN rels rel ON rel.k = t.r%s%s", own ? "" : ", n", extra ? ", x" : "",
                joins[0] ? "\n" : "", joins);
}

/* Adds the relations branch (tables, views, sequences): relkind and row-level security of
 * each named relation, read from the query's relation set. One branch serves the three kinds;
 * the judge tells them apart. */
static void pf__branch_relations(pf__qb_t *qb, const pf_manifest_t *m) {
  pf__rel_branch(qb, m, PF__KM(PF_KIND_TABLE) | PF__KM(PF_KIND_VIEW) | PF__KM(PF_KIND_SEQUENCE), true, NULL,
                 "rel.oid IS NOT NULL, rel.relkind::text, rel.relrowsecurity::text, NULL, NULL, NULL, NULL", "");
}

/* Whether the manifest declares a constraint's references (a column's default, likewise): the
 * query only computes the referenced columns and pg_get_expr for the items whose judge reads
 * them. */
static const char *pf__f_has_references(const pf_manifest_t *m, const pf_item_t *it) { return it->references ? "t" : "f"; }

/* Adds the columns branch. It does not look columns up one by one: it reads every column of the
 * relations that the manifest's columns are on, by pg_attribute's (attrelid, attnum) index, and
 * pf__judge_columns matches them to the items by name. Per column it returns the relation's
 * number as a negative i (so the driver never takes the row for an item's), present, the type as
 * format_type shows it, NOT NULL ("notvalid" for a NOT NULL constraint that PostgreSQL 18 has
 * not validated: NULLs may remain), the type's OID, the name, the default (pg_get_expr) and
 * identity or generated. Each distinct declared type comes as a row of its own with a NULL i:
 * its number, its OID (NULL when it names no type) and its canonical name. Dropped columns
 * (attisdropped) and system columns (attnum <= 0) never count.
 *
 * Sending 21,000 (relation, name, type) triples and joining them to pg_attribute made the server
 * parse the arrays, hash the whole of pg_attribute and sort nothing but memory it touched for the
 * first time; reading by relation touches the pages of the tables named and no more. A default
 * cannot refer to a column, so pg_get_expr needs no relation for it (0): given one, it opens the
 * relation to name its columns. Generated columns' expressions do refer to columns. */
static void pf__branch_columns(pf__qb_t *qb, const pf_manifest_t *m) {
  size_t ncols = pf__count_kind(qb, PF_KIND_COLUMN);
  if (ncols == 0) return;
  pf__relset_t *rels = pf__qb_rels(qb);
  pf__typeset_t *types = pf__qb_types(qb);
  qb->col_rel = pf_xcalloc(ncols, sizeof(*qb->col_rel));
  qb->col_type = pf_xcalloc(ncols, sizeof(*qb->col_type));
  qb->ncols = ncols;
  size_t c = 0;
  bool defaults = false;
  PF__QB_EACH(qb, PF_KIND_COLUMN, i) {
    const pf_item_t *it = &m->items[i];
    qb->col_rel[c] = (uint32_t)pf__relset_add(rels, it->table_schema, it->table);
    qb->col_type[c] = (uint32_t)pf__typeset_text(types, it->type);
    defaults |= it->default_expr != NULL;
    c++;
  }
  /* The relations that have columns in the manifest are flagged in the set itself (rels.cols):
   * a join with a list of their numbers was planned by the set's row estimate (a handful, for
   * thousands), as a nested loop. */
  unsigned char *flags = pf_xcalloc(rels->set.n + 1, 1);
  for (c = 0; c < ncols; c++) flags[qb->col_rel[c]] = 1;
  pf__relset_flag(qb, rels, flags);
  free(flags);
  pf__qb_branch(qb);
  /* NOT NULL constraints are rows of pg_constraint from PostgreSQL 18 on; before it there is
   * nothing to look up (and nothing to plan). */
  const char *notnull = qb->server_version > 0 && qb->server_version < 180000
                            ? "CASE WHEN a.attnotnull THEN 'true' ELSE 'false' END"
                            : "CASE WHEN NOT a.attnotnull THEN 'false' WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_constraint nn\n"
                              "    WHERE nn.conrelid = a.attrelid AND nn.contype = 'n' AND nn.conkey[1] = a.attnum AND NOT nn.convalidated)\n"
                              "    THEN 'notvalid' ELSE 'true' END";
  /* Defaults are deparsed only when some column declares one: pg_attrdef and pg_get_expr cost a
   * fresh backend (which every check is) their first use, a millisecond at ten tables. They are
   * read by a subquery that only a column with a default (atthasdef) runs: a join probed
   * pg_attrdef's index for every column, 19,000 probes for nothing at 22,000 columns. */
  pf_buf_printf(&qb->sql,
                "SELECT (-rel.k)::int, true, pg_catalog.format_type(a.atttypid, a.atttypmod),\n"
                "  %s,\n"
                "  a.atttypid::text, a.attname::text,\n"
                "  %s,\n"
                "  coalesce(nullif(a.attidentity::text, ''), nullif(a.attgenerated::text, ''))\n"
                "FROM rels rel\n"
                "JOIN pg_catalog.pg_attribute a ON a.attrelid = rel.oid AND a.attnum > 0 AND NOT a.attisdropped\n"
                "WHERE rel.cols\n"
                "UNION ALL\n"
                "SELECT NULL::int, NULL::bool, ty.k::text, ty.oid::text, ty.canon, NULL, NULL, NULL FROM tys ty",
                notnull,
                defaults ? "CASE WHEN a.atthasdef THEN (SELECT pg_catalog.pg_get_expr(d.adbin, CASE WHEN a.attgenerated = '' THEN 0 ELSE d.adrelid END)\n"
                           "    FROM pg_catalog.pg_attrdef d WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum) END"
                         : "NULL::text");
}

/* Adds the functions branch. Names are matched exactly (pronamespace, proname); the argument
 * and result types are resolved through pg_type by name (PF__TYPE_OID), so int = int4 = integer,
 * and a type that does not exist (yet: a fallback may create it) makes the function missing
 * instead of failing the query. Each function is one probe of pg_proc's (proname, proargtypes,
 * pronamespace) index (the OFFSET 0 keeps the lookup per item): joined as a whole, pg_proc was
 * read and hashed entire, ~3,700 rows for a handful of functions. */
static void pf__branch_functions(pf__qb_t *qb, const pf_manifest_t *m) {
  if (pf__count_kind(qb, PF_KIND_FUNCTION) == 0) return;
  /* Per function: index, schema, name, setof, the result type's number; per argument: the
   * function's index and the type's number, in order. Types are sent and resolved once each. */
  int n[5];
  pf_buf_t *a[5];
  pf__qb_arrays(qb, 5, a, n);
  pf__typeset_t *types = pf__qb_types(qb);
  pf__args_t args;
  pf__args_init(qb, &args);
  PF__QB_EACH(qb, PF_KIND_FUNCTION, i) {
    const pf_item_t *it = &m->items[i];
    pf__array_int(a[0], i);
    pf_catalog_array_add(a[1], it->schema);
    pf_catalog_array_add(a[2], it->name);
    pf_catalog_array_add(a[3], pf__f_returns_setof(m, it));
    pf__array_ref(a[4], pf__typeset_add(types, pf__f_returns_type(m, it)));
    pf__args_add(&args, i, it->args);
  }
  pf__qb_branch(qb);
  /* The result is deparsed only where the judge reads it: a TABLE(...) result, compared as
   * text, or a result that is not the declared type, for the message. */
  static const char match[] = "p.proretset = (t.rs = 't') AND p.prorettype IS NOT DISTINCT FROM rr.oid";
  pf_buf_printf(&qb->sql,
                "SELECT t.i, p.oid IS NOT NULL,\n"
                "  CASE WHEN t.rs = 'x' OR (t.ry IS NOT NULL AND NOT coalesce(%s, false)) THEN pg_catalog.pg_get_function_result(p.oid) END,\n"
                "  CASE WHEN t.ry IS NULL THEN NULL ELSE (%s)::text END,\n"
                "  p.prokind::text, p.prosecdef::text, NULL::text, NULL::text\n"
                "FROM unnest($%d::int[], $%d::text[], $%d::text[], $%d::text[], $%d::int[]) AS t(i, s, n, rs, ry)\n"
                "LEFT JOIN pg_catalog.pg_namespace ns ON ns.nspname = t.s\n"
                "LEFT JOIN ",
                match, match, n[0], n[1], n[2], n[3], n[4]);
  pf__args_sql(&qb->sql, &args);
  pf_buf_puts(&qb->sql,
              " args ON args.i = t.i\n"
              "LEFT JOIN tys rr ON rr.k = t.ry\n"
              "LEFT JOIN LATERAL (SELECT p.* FROM pg_catalog.pg_proc p\n"
              "  WHERE p.pronamespace = ns.oid AND p.proname = t.n AND coalesce(args.ok, true)\n"
              "  AND p.proargtypes = pg_catalog.array_to_string(coalesce(args.types, '{}'), ' ')::pg_catalog.oidvector OFFSET 0) p ON true");
}

static const char *pf__relkind_name(const char *k) {
  switch (k ? k[0] : 0) {
    case 'r': return "table";
    case 'p': return "partitioned table";
    case 'v': return "view";
    case 'm': return "materialized view";
    case 'i': return "index";
    case 'I': return "partitioned index";
    case 'S': return "sequence";
    case 'f': return "foreign table";
    case 'c': return "composite type";
    default: return "relation";
  }
}

/* Judges a relation: a table must be an ordinary or partitioned table (with RLS on when
 * declared), a view a view (or a materialized view when declared so), a sequence a sequence. */
static void pf__judge_relation(const pf_manifest_t *m, const pf_item_t *it, PGresult *r, int row, pf_item_state_t *st) {
  const char *kind = pf__cell(r, row, 2);
  const char *want;
  bool ok;
  switch (it->kind) {
    case PF_KIND_VIEW:
      want = it->materialized == 1 ? "materialized view" : "view";
      ok = it->materialized == 1 ? kind[0] == 'm' : it->materialized == 0 ? kind[0] == 'v' : (kind[0] == 'v' || kind[0] == 'm');
      break;
    case PF_KIND_SEQUENCE:
      want = "sequence";
      ok = kind[0] == 'S';
      break;
    default:
      want = "table";
      ok = kind[0] == 'r' || kind[0] == 'p';
  }
  if (!ok) {
    const char *found = pf__relkind_name(kind);
    char *d = pf_xasprintf("exists as a %s, not a %s", found, want);
    pf__set(st, PF_OBJ_MISMATCH, d, want, found);
    free(d);
    return;
  }
  if (it->kind == PF_KIND_TABLE && it->row_level_security == 1 && !pf__true(pf__cell(r, row, 3))) {
    pf__set(st, PF_OBJ_MISMATCH, "row level security is disabled", "row_level_security: true", "row_level_security: false");
    return;
  }
  pf__set(st, PF_OBJ_PRESENT, NULL, NULL, NULL);
}

/* The modifiers of a type name ("10,2"), read as typename.c reads them; for text it cannot read
 * (which format_type never writes), the text in the first parentheses. */
static void pf__type_mods(const char *type, char *out, size_t outlen) {
  pf_typename_t t;
  char err[160];
  if (type && pf_typename_parse(type, &t, err, sizeof(err))) {
    size_t n = strlen(t.mods);
    if (n >= outlen) n = outlen - 1;
    memcpy(out, t.mods, n);
    out[n] = '\0';
    pf_typename_free(&t);
  } else {
    pf_catalog_type_mods(type, out, outlen);
  }
}

/* A deparsed expression (a default, a TABLE(...) result) without its schema qualifiers: every
 * `name.` or `"name".` directly followed by a name loses the qualifier, inside string literals
 * too ('public.s'::regclass). pg_get_expr qualifies exactly the names that are not visible on
 * the session's search_path, so the same default reads "extensions.uuid_generate_v4()" or
 * "uuid_generate_v4()" depending on it; compared without qualifiers, a manifest written under
 * one search_path (a snapshot qualifies everything outside pg_catalog) matches under another. */
static char *pf__unqualified(const char *s) {
  pf_buf_t b = {0};
  pf_buf_puts(&b, "");
  const char *p = s;
  while (*p) {
    bool boundary = p == s || !(isalnum((unsigned char)p[-1]) || p[-1] == '_' || p[-1] == '$' || (unsigned char)p[-1] >= 0x80);
    const char *q = p;
    if (boundary && *p == '"') {
      for (q++; *q && !(*q == '"' && q[1] != '"'); q++)
        if (*q == '"') q++;
      if (*q == '"') q++;
      else q = p;
    } else if (boundary && (isalpha((unsigned char)*p) || *p == '_' || (unsigned char)*p >= 0x80)) {
      while (isalnum((unsigned char)*q) || *q == '_' || *q == '$' || (unsigned char)*q >= 0x80) q++;
    }
    if (q > p && *q == '.' && (isalpha((unsigned char)q[1]) || q[1] == '_' || q[1] == '"' || (unsigned char)q[1] >= 0x80)) {
      p = q + 1; /* drop "name." */
      continue;
    }
    if (q > p) {
      pf_buf_append(&b, p, (size_t)(q - p));
      p = q;
    } else {
      pf_buf_putc(&b, *p++);
    }
  }
  return pf_buf_steal(&b);
}

/* Whether a default or result from the catalog is the manifest's, exactly or but for schema
 * qualifiers (pf__unqualified). */
static bool pf__same_expr(const char *want, const char *have) {
  if (have == NULL) return false;
  if (strcmp(want, have) == 0) return true;
  char *a = pf__unqualified(want), *b = pf__unqualified(have);
  bool same = strcmp(a, b) == 0;
  free(a);
  free(b);
  return same;
}

/* Judges a column from its catalog row: type (same OID and, when the manifest gives them, the
 * same modifiers), nullability, default, identity/generated. `type_oid` and `canon` are what the
 * declared type resolved to (NULL and "" when it names no type). The first difference is
 * reported with both values. */
static void pf__judge_column(const pf_item_t *it, PGresult *r, int row, const char *type_oid, const char *canon,
                             const char *mods, pf_item_state_t *st) {
  const char *found_type = pf__cell(r, row, 2);
  if (it->type && mods == NULL) {
    /* Not a type name of this database (pf__typeset_text parsed it once already): say why. */
    pf_typename_t parsed;
    char why[160];
    if (!pf_typename_parse(it->type, &parsed, why, sizeof(why))) {
      char *d = pf_xasprintf("type: \"%s\" is not a type name: %s; found %s", it->type, why, found_type);
      pf__set(st, PF_OBJ_MISMATCH, d, it->type, found_type);
      free(d);
      return;
    }
    if (parsed.database) {
      char *d = pf_xasprintf("type: \"%s\" names database %s: cross-database references are not supported; found %s",
                             it->type, parsed.database, found_type);
      pf__set(st, PF_OBJ_MISMATCH, d, it->type, found_type);
      free(d);
      pf_typename_free(&parsed);
      return;
    }
    pf_typename_free(&parsed);
    mods = "";
  }
  if (it->type) {
    char have_mods[256] = "";
    /* The manifest's type was parsed once per distinct text; the catalog's is parsed only when
     * there are modifiers to compare (most columns have none: parsing 22,000 types twice more
     * was most of the judging cost). */
    const char *want_mods = mods;
    bool ok = type_oid != NULL && strcmp(type_oid, pf__cell(r, row, 4)) == 0;
    if (ok && want_mods[0] != '\0') {
      pf__type_mods(found_type, have_mods, sizeof(have_mods));
      ok = strcmp(want_mods, have_mods) == 0;
    }
    if (!ok) {
      char *expected = canon && *canon ? pf_xasprintf("%s%s%s%s", canon, want_mods[0] ? "(" : "", want_mods, want_mods[0] ? ")" : "")
                                       : pf_xstrdup(it->type);
      char *d = canon && !*canon ? pf_xasprintf("type: \"%s\" is not a known type; found %s", it->type, found_type)
                                 : pf_xasprintf("type: expected %s, found %s", expected, found_type);
      pf__set(st, PF_OBJ_MISMATCH, d, expected, found_type);
      free(d);
      free(expected);
      return;
    }
  }
  if (it->nullable != PF_UNSET) {
    const char *nn = pf__cell(r, row, 3);
    bool notnull = pf__true(nn);
    if ((it->nullable == 1) == notnull) {
      const char *want = it->nullable ? "nullable: true" : "nullable: false";
      const char *have = notnull ? "nullable: false" : "nullable: true";
      char *d = nn && strcmp(nn, "notvalid") == 0
                    ? pf_xasprintf("expected %s, found a NOT NULL constraint that is NOT VALID (NULLs may remain)", want)
                    : pf_xasprintf("expected %s, found %s", want, have);
      pf__set(st, PF_OBJ_MISMATCH, d, want, have);
      free(d);
      return;
    }
  }
  if (it->default_expr) {
    const char *have = pf__cell(r, row, 6);
    if (!pf__same_expr(it->default_expr, have)) {
      char *d = pf_xasprintf("default: expected %s, found %s", it->default_expr, have ? have : "none");
      pf__set(st, PF_OBJ_MISMATCH, d, it->default_expr, have ? have : "none");
      free(d);
      return;
    }
  }
  const char *ig = pf__cell(r, row, 7);
  if (it->identity) {
    const char *want = strcmp(it->identity, "always") == 0 ? "a" : "d";
    if (ig == NULL || strcmp(ig, want) != 0) {
      char *d = pf_xasprintf("expected identity %s", it->identity);
      pf__set(st, PF_OBJ_MISMATCH, d, it->identity, ig ? (ig[0] == 'a' ? "always" : ig[0] == 'd' ? "by default" : "generated") : "none");
      free(d);
      return;
    }
  }
  if (it->generated) {
    /* attgenerated: 's' stored, 'v' virtual (PostgreSQL 18). */
    bool virtual_ = strcmp(it->generated, "virtual") == 0;
    const char *have = ig == NULL ? "not generated" : ig[0] == 's' ? "generated: stored" : ig[0] == 'v' ? "generated: virtual" : "not generated";
    if (ig == NULL || ig[0] != (virtual_ ? 'v' : 's')) {
      char *want = pf_xasprintf("generated: %s", it->generated);
      char *d = pf_xasprintf("expected a %s generated column, found %s", it->generated, have);
      pf__set(st, PF_OBJ_MISMATCH, d, want, have);
      free(d);
      free(want);
      return;
    }
  }
  pf__set(st, PF_OBJ_PRESENT, NULL, NULL, NULL);
}

/* The catalog rows of one relation's column, found by (relation number, name). */
typedef struct {
  uint32_t *slots; /* row + 1; 0: empty */
  size_t mask;
  int *rel;        /* rel[row]: the relation number of a column row, else 0 */
} pf__colmap_t;

/* The relation number and the name's hash, mixed by splitmix64's finalizer. A plain
 * hash * 31 + rel put one name's columns of consecutive relations in consecutive slots, and the
 * runs of different names ran into each other: ~25 probes per column at 5,000 columns. */
static size_t pf__col_hash(int rel, const char *name) {
  uint64_t x = ((uint64_t)pf_hash(name, strlen(name)) << 32) ^ (uint32_t)rel;
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return (size_t)x;
}

/* Judges every column item at once from the columns branch's rows (pf__branch_columns): each item
 * finds its relation's column of the same name, exactly, or stays missing. */
static void pf__judge_columns(const pf_manifest_t *m, const pf__qb_t *qb, PGresult *r, pf_verify_t *v) {
  if (qb->ncols == 0) return;
  int nrows = PQntuples(r);
  size_t ntypes = qb->have_types ? qb->types.set.n : 0;
  int *type_row = pf_xcalloc(ntypes + 1, sizeof(*type_row));
  pf__colmap_t map = {.rel = pf_xcalloc((size_t)nrows + 1, sizeof(int))};
  size_t count = 0;
  for (int row = 0; row < nrows; row++) {
    const char *i = PQgetvalue(r, row, 0);
    if (PQgetisnull(r, row, 0)) {
      size_t k = (size_t)strtoul(PQgetvalue(r, row, 2), NULL, 10);
      if (k >= 1 && k <= ntypes) type_row[k] = row + 1;
    } else if (i[0] == '-') {
      map.rel[row] = atoi(i + 1);
      count++;
    }
  }
  size_t nslots = 16;
  while (nslots < count * 2) nslots *= 2;
  map.slots = pf_xcalloc(nslots, sizeof(*map.slots));
  map.mask = nslots - 1;
  for (int row = 0; row < nrows; row++) {
    if (map.rel[row] == 0) continue;
    size_t h = pf__col_hash(map.rel[row], PQgetvalue(r, row, 5)) & map.mask;
    while (map.slots[h] != 0) h = (h + 1) & map.mask;
    map.slots[h] = (uint32_t)row + 1;
  }
  size_t c = 0;
  PF__QB_EACH(qb, PF_KIND_COLUMN, i) {
    const pf_item_t *it = &m->items[i];
    int rel = (int)qb->col_rel[c];
    size_t text = qb->col_type[c++];
    size_t ty = pf__typeset_k(&qb->types, text);
    int found = -1;
    for (size_t h = pf__col_hash(rel, it->name) & map.mask; map.slots[h] != 0; h = (h + 1) & map.mask) {
      int row = (int)map.slots[h] - 1;
      if (map.rel[row] == rel && strcmp(PQgetvalue(r, row, 5), it->name) == 0) {
        found = row;
        break;
      }
    }
    if (found < 0) continue; /* stays missing */
    const char *oid = NULL, *canon = "";
    if (ty >= 1 && ty <= ntypes && type_row[ty] != 0 && !PQgetisnull(r, type_row[ty] - 1, 3)) {
      oid = PQgetvalue(r, type_row[ty] - 1, 3);
      canon = PQgetvalue(r, type_row[ty] - 1, 4);
    }
    pf__judge_column(it, r, found, oid, canon, pf__typeset_mods(&qb->types, text), &v->items[i]);
  }
  free(map.slots);
  free(map.rel);
  free(type_row);
}

/* Collapses white space and lowercases, to compare TABLE(...) result signatures as text. */
static char *pf__normalise_sig(const char *s) {
  pf_buf_t b = {0};
  bool space = false;
  for (; *s; s++) {
    if (isspace((unsigned char)*s)) {
      space = b.len > 0;
      continue;
    }
    if (space && *s != ')' && *s != ',' && b.data[b.len - 1] != '(') pf_buf_putc(&b, ' ');
    space = false;
    pf_buf_putc(&b, (char)tolower((unsigned char)*s));
  }
  return pf_buf_steal(&b);
}

/* Judges a function: return type, procedure vs function, SECURITY DEFINER. */
static void pf__judge_function(const pf_manifest_t *m, const pf_item_t *it, PGresult *r, int row, pf_item_state_t *st) {
  const char *result = pf__cell(r, row, 2);
  if (it->returns) {
    bool ok;
    if (pf__returns_is_table(it->returns)) {
      char *a = pf__normalise_sig(it->returns), *b = pf__normalise_sig(result ? result : "");
      ok = pf__same_expr(a, b);
      free(a);
      free(b);
    } else {
      const char *match = pf__cell(r, row, 3);
      ok = pf__true(match);
    }
    if (!ok) {
      char *d = pf_xasprintf("returns: expected %s, found %s", it->returns, result ? result : "nothing");
      pf__set(st, PF_OBJ_MISMATCH, d, it->returns, result);
      free(d);
      return;
    }
  }
  const char *kind = pf__cell(r, row, 4);
  if (it->procedure != PF_UNSET && (it->procedure == 1) != (kind[0] == 'p')) {
    const char *want = it->procedure ? "procedure" : "function";
    const char *have = kind[0] == 'p' ? "procedure" : kind[0] == 'a' ? "aggregate" : kind[0] == 'w' ? "window function" : "function";
    char *d = pf_xasprintf("expected a %s, found a %s", want, have);
    pf__set(st, PF_OBJ_MISMATCH, d, want, have);
    free(d);
    return;
  }
  if (it->security_definer != PF_UNSET && (it->security_definer == 1) != pf__true(pf__cell(r, row, 5))) {
    const char *want = it->security_definer ? "security definer" : "security invoker";
    const char *have = it->security_definer ? "security invoker" : "security definer";
    char *d = pf_xasprintf("expected %s, found %s", want, have);
    pf__set(st, PF_OBJ_MISMATCH, d, want, have);
    free(d);
    return;
  }
  pf__set(st, PF_OBJ_PRESENT, NULL, NULL, NULL);
}

static void pf__branch_extensions(pf__qb_t *qb, const pf_manifest_t *m) {
  static const pf__field_fn f[] = {pf__f_name};
  pf__simple_branch(qb, m, PF__KM(PF_KIND_EXTENSION), 1, f, "e.oid IS NOT NULL, e.extversion::text, NULL, NULL, NULL, NULL, NULL", "i, n",
                    "LEFT JOIN pg_catalog.pg_extension e ON e.extname = t.n");
}

static void pf__branch_schemas(pf__qb_t *qb, const pf_manifest_t *m) {
  static const pf__field_fn f[] = {pf__f_name};
  pf__simple_branch(qb, m, PF__KM(PF_KIND_SCHEMA), 1, f, "ns.oid IS NOT NULL, NULL, NULL, NULL, NULL, NULL, NULL", "i, n",
                    "LEFT JOIN pg_catalog.pg_namespace ns ON ns.nspname = t.n");
}

static void pf__branch_roles(pf__qb_t *qb, const pf_manifest_t *m) {
  static const pf__field_fn f[] = {pf__f_name};
  pf__simple_branch(qb, m, PF__KM(PF_KIND_ROLE), 1, f, "r.oid IS NOT NULL, r.rolcanlogin::text, NULL, NULL, NULL, NULL, NULL", "i, n",
                    "LEFT JOIN pg_catalog.pg_roles r ON r.rolname = t.n");
}

/* Indexes are named by schema and name, which pg_class keeps unique, and looked up so (the
 * schema travels as t.x). The table the manifest puts an index on is the item's relation in the
 * query's relation set, and only an index found on another table has that table's name looked
 * up, for the message (tn, tc): joining pg_class for every index to name its table hashed all
 * of pg_class, 1.3 MB a fresh backend touched for the first time at 6,000 indexes. */
static void pf__branch_indexes(pf__qb_t *qb, const pf_manifest_t *m) {
  pf__rel_branch(qb, m, PF__KM(PF_KIND_INDEX), false, pf__f_schema,
                 "ci.oid IS NOT NULL,\n"
                 "  CASE WHEN x.indrelid IS DISTINCT FROM rel.oid THEN (SELECT tn.nspname::text FROM pg_catalog.pg_class tc\n"
                 "    JOIN pg_catalog.pg_namespace tn ON tn.oid = tc.relnamespace WHERE tc.oid = x.indrelid) END,\n"
                 "  CASE WHEN x.indrelid IS DISTINCT FROM rel.oid THEN (SELECT tc.relname::text FROM pg_catalog.pg_class tc WHERE tc.oid = x.indrelid) END,\n"
                 "  x.indisunique::text, x.indisvalid::text, ci.relkind::text, NULL",
                 "LEFT JOIN pg_catalog.pg_namespace ns ON ns.nspname = t.x\n"
                 "LEFT JOIN pg_catalog.pg_class ci ON ci.relnamespace = ns.oid AND ci.relname = t.n AND ci.relkind IN ('i', 'I')\n"
                 "LEFT JOIN pg_catalog.pg_index x ON x.indexrelid = ci.oid");
}

static void pf__branch_constraints(pf__qb_t *qb, const pf_manifest_t *m) {
  /* A foreign key's target as "schema.table(col, col)", in key order, computed only for the
   * items that declare `references:`, by index lookups (the referenced table by OID, its key
   * column by (attrelid, attnum), the columns of a key of several by attnum = ANY, which reads
   * every column of the table and sorts: a third of the cost at 2,000 keys of one column
   * each): joining pg_class for every constraint would hash all of it once
   * more, and past jit_above_cost PostgreSQL spends longer compiling a query than running it.
   * Each constraint is one probe of pg_constraint's (conrelid, contypid, conname) index (OFFSET 0
   * keeps the lookup per item): joined as a whole, all of pg_constraint was read and hashed, a
   * thousand rows for a handful of items.
   * PostgreSQL 18's NOT ENFORCED (conenforced, a column older servers lack) is told from NOT
   * VALID. (The version is unknown only without a connection, when there is no query to run.) */
  bool pg18 = qb->server_version >= 180000;
  const char *enforced = pg18 ? "WHEN NOT co.conenforced THEN 'notenforced'" : "";
  /* Without a `references:` in the manifest the subqueries are left out, not just skipped:
   * planning them cost a fresh backend a tenth of its catalog query at ten tables. */
  bool refs = false;
  PF__QB_EACH(qb, PF_KIND_CONSTRAINT, i) if ((refs = m->items[i].references != NULL)) break;
  char *cols = pf_xasprintf(
      "co.oid IS NOT NULL, co.contype::text,\n"
      "  CASE WHEN co.convalidated THEN 'true' %s ELSE 'false' END,\n"
      "  %s,\n"
      "  NULL, NULL, NULL",
      enforced,
      refs ? "CASE WHEN t.x = 't' AND co.contype = 'f' THEN\n"
             "    (SELECT rn.nspname || '.' || rc.relname || '(' ||\n"
             "      CASE WHEN pg_catalog.cardinality(co.confkey) = 1 THEN (SELECT ra.attname::text FROM pg_catalog.pg_attribute ra\n"
             "        WHERE ra.attrelid = co.confrelid AND ra.attnum = co.confkey[1])\n"
             "      ELSE (SELECT string_agg(ra.attname, ', ' ORDER BY pg_catalog.array_position(co.confkey, ra.attnum))\n"
             "       FROM pg_catalog.pg_attribute ra WHERE ra.attrelid = co.confrelid AND ra.attnum = ANY (co.confkey)) END || ')'\n"
             "     FROM pg_catalog.pg_class rc JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace\n"
             "     WHERE rc.oid = co.confrelid) END"
           : "NULL::text");
  char *joins = pf_xasprintf(
      "LEFT JOIN LATERAL (SELECT c.oid, c.contype, c.convalidated%s%s\n"
      "  FROM pg_catalog.pg_constraint c WHERE c.conrelid = rel.oid AND c.contypid = 0 AND c.conname = t.n OFFSET 0) co ON true",
      refs ? ", c.confrelid, c.confkey" : "", pg18 ? ", c.conenforced" : "");
  pf__rel_branch(qb, m, PF__KM(PF_KIND_CONSTRAINT), false, refs ? pf__f_has_references : NULL, cols, joins);
  free(cols);
  free(joins);
}

static void pf__branch_triggers(pf__qb_t *qb, const pf_manifest_t *m) {
  pf__rel_branch(qb, m, PF__KM(PF_KIND_TRIGGER), false, NULL, "tg.oid IS NOT NULL, tg.tgenabled::text, NULL, NULL, NULL, NULL, NULL",
                      "LEFT JOIN pg_catalog.pg_trigger tg ON tg.tgrelid = rel.oid AND tg.tgname = t.n AND NOT tg.tgisinternal");
}

static void pf__branch_policies(pf__qb_t *qb, const pf_manifest_t *m) {
  pf__rel_branch(qb, m, PF__KM(PF_KIND_POLICY), false, NULL, "po.oid IS NOT NULL, rel.relrowsecurity::text, NULL, NULL, NULL, NULL, NULL",
                      "LEFT JOIN pg_catalog.pg_policy po ON po.polrelid = rel.oid AND po.polname = t.n");
}

/* Types, with the enum labels the manifest lists that the type lacks, in manifest order. The
 * labels travel as (item index, label) pairs, so one query serves any number of enums. */
static void pf__branch_types(pf__qb_t *qb, const pf_manifest_t *m) {
  static const pf__field_fn f[] = {pf__f_schema, pf__f_name};
  pf_buf_t unnest = {0};
  if (pf__collect(qb, m, PF__KM(PF_KIND_TYPE), 2, f, &unnest) == 0) return;
  int pli, plv;
  pf_buf_t *li = pf__qb_array(qb, &pli), *lv = pf__qb_array(qb, &plv);
  PF__QB_EACH(qb, PF_KIND_TYPE, i) {
    for (size_t k = 0; k < m->items[i].nvalues; k++) {
      pf__array_int(li, i);
      pf_catalog_array_add(lv, m->items[i].values[k]);
    }
  }
  pf__qb_branch(qb);
  pf_buf_printf(&qb->sql,
                "SELECT t.i, ty.oid IS NOT NULL, ty.typtype::text,\n"
                "  (SELECT string_agg(l.v, ', ' ORDER BY l.o) FROM unnest($%d::int[], $%d::text[]) WITH ORDINALITY AS l(i, v, o)\n"
                "   WHERE l.i = t.i AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_enum e WHERE e.enumtypid = ty.oid AND e.enumlabel = l.v)),\n"
                "  NULL, NULL, NULL, NULL\n"
                "FROM %s AS t(i, s, n)\n"
                "LEFT JOIN pg_catalog.pg_namespace ns ON ns.nspname = t.s\n"
                "LEFT JOIN pg_catalog.pg_type ty ON ty.typnamespace = ns.oid AND ty.typname = t.n\n"
                "  AND (ty.typcategory <> 'A' OR ty.typtype = 'd') AND (ty.typrelid = 0 OR (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = ty.typrelid) = 'c')",
                pli, plv, unnest.data);
  pf_buf_free(&unnest);
}

/* Splits a grant's `on:` ("table auth.users", "function auth.uid()", "schema auth") into its
 * object type and the parts the query needs; the manifest parser has validated the form. */
static void pf__grant_target(const pf_manifest_t *m, const pf_item_t *it, char **type, char **schema, char **name, char **args) {
  const char *sp = strchr(it->on, ' ');
  *type = pf_xstrndup(it->on, sp ? (size_t)(sp - it->on) : strlen(it->on));
  const char *obj = sp ? sp + 1 : "";
  while (*obj == ' ') obj++;
  *schema = *name = *args = NULL;
  if (strcmp(*type, "schema") == 0) {
    *name = pf_xstrdup(obj);
    return;
  }
  const char *paren = strcmp(*type, "function") == 0 ? strchr(obj, '(') : NULL;
  size_t head = paren ? (size_t)(paren - obj) : strlen(obj);
  const char *dot = memchr(obj, '.', head);
  *schema = dot ? pf_xstrndup(obj, (size_t)(dot - obj)) : pf_xstrdup(m->default_schema);
  *name = dot ? pf_xstrndup(dot + 1, head - (size_t)(dot + 1 - obj)) : pf_xstrndup(obj, head);
  if (paren) {
    const char *close = strrchr(paren, ')');
    *args = pf_xstrndup(paren + 1, close ? (size_t)(close - paren - 1) : strlen(paren + 1));
  }
}

/* Grants: one row per (grant, privilege), resolved by OID so names are never folded, then
 * aggregated per grant. A function is found the way the functions branch finds one (argument
 * types through pg_type by name). has_*_privilege is only reached when both role and object exist
 * and the privilege applies to that kind of object on this server (it raises an error otherwise:
 * MAINTAIN before PostgreSQL 17, SELECT on a schema...): CASE evaluates lazily for non-constant
 * input. A privilege that does not apply is listed in its own column, reported on the grant. */
static void pf__branch_grants(pf__qb_t *qb, const pf_manifest_t *m) {
  pf_buf_t *a[6] = {NULL};
  int n[6];
  pf__args_t args;
  PF__QB_EACH(qb, PF_KIND_GRANT, i) {
    const pf_item_t *it = &m->items[i];
    if (a[0] == NULL) {
      pf__qb_arrays(qb, 6, a, n);
      pf__args_init(qb, &args);
    }
    char *type, *schema, *name, *fargs;
    pf__grant_target(m, it, &type, &schema, &name, &fargs);
    for (size_t p = 0; p < it->nvalues; p++) {
      pf__array_int(a[0], i);
      pf_catalog_array_add(a[1], it->role);
      pf_catalog_array_add(a[2], type);
      pf_catalog_array_add(a[3], schema);
      pf_catalog_array_add(a[4], name);
      pf_catalog_array_add(a[5], it->values[p]);
    }
    if (fargs) pf__args_add(&args, i, fargs);
    free(type), free(schema), free(name), free(fargs);
  }
  if (a[0] == NULL) return;
  pf__qb_branch(qb);
  pf_buf_printf(&qb->sql,
                "SELECT g.i, bool_and(g.rok AND g.ook), string_agg(CASE WHEN NOT g.has THEN g.p END, ', ' ORDER BY g.o),\n"
                "  bool_and(g.rok)::text, bool_and(g.ook)::text, string_agg(CASE WHEN NOT g.applies THEN g.p END, ', ' ORDER BY g.o),\n"
                "  pg_catalog.current_setting('server_version_num'), NULL\n"
                "FROM (SELECT t.i, t.p, t.o, r.oid IS NOT NULL AS rok, obj.oid IS NOT NULL AS ook, k.applies,\n"
                "        CASE WHEN r.oid IS NULL OR obj.oid IS NULL OR NOT k.applies THEN NULL\n"
                "             WHEN t.ty = 'table' THEN pg_catalog.has_table_privilege(r.oid, obj.oid, t.p)\n"
                "             WHEN t.ty = 'sequence' THEN pg_catalog.has_sequence_privilege(r.oid, obj.oid, t.p)\n"
                "             WHEN t.ty = 'function' THEN pg_catalog.has_function_privilege(r.oid, obj.oid, t.p)\n"
                "             WHEN t.ty = 'schema' THEN pg_catalog.has_schema_privilege(r.oid, obj.oid, t.p) END AS has\n"
                "      FROM unnest($%d::int[], $%d::text[], $%d::text[], $%d::text[], $%d::text[], $%d::text[])\n"
                "           WITH ORDINALITY AS t(i, role, ty, s, n, p, o)\n"
                "      CROSS JOIN LATERAL (SELECT coalesce(pg_catalog.upper(t.p) = ANY (CASE t.ty\n"
                "          WHEN 'table' THEN CASE WHEN pg_catalog.current_setting('server_version_num')::int >= 170000\n"
                "            THEN '{SELECT,INSERT,UPDATE,DELETE,TRUNCATE,REFERENCES,TRIGGER,MAINTAIN}'::text[]\n"
                "            ELSE '{SELECT,INSERT,UPDATE,DELETE,TRUNCATE,REFERENCES,TRIGGER}'::text[] END\n"
                "          WHEN 'sequence' THEN '{USAGE,SELECT,UPDATE}'::text[]\n"
                "          WHEN 'function' THEN '{EXECUTE}'::text[]\n"
                "          WHEN 'schema' THEN '{USAGE,CREATE}'::text[] END), false) AS applies) k\n"
                "      LEFT JOIN pg_catalog.pg_roles r ON r.rolname = t.role\n"
                "      LEFT JOIN LATERAL (\n"
                "        SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace\n"
                "        WHERE t.ty IN ('table', 'sequence') AND ns.nspname = t.s AND c.relname = t.n\n"
                "        UNION ALL SELECT p.oid FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace\n"
                "          LEFT JOIN ",
                n[0], n[1], n[2], n[3], n[4], n[5]);
  pf__args_sql(&qb->sql, &args);
  pf_buf_puts(&qb->sql,
              " ga ON ga.i = t.i\n"
              "        WHERE t.ty = 'function' AND pn.nspname = t.s AND p.proname = t.n AND coalesce(ga.ok, true)\n"
              "          AND p.proargtypes::text = pg_catalog.array_to_string(coalesce(ga.types, '{}'), ' ')\n"
              "        UNION ALL SELECT ns.oid FROM pg_catalog.pg_namespace ns WHERE t.ty = 'schema' AND ns.nspname = t.n\n"
              "      ) obj ON true) g\n"
              "GROUP BY g.i");
}

static void pf__judge_extension(const pf_manifest_t *m, const pf_item_t *it, PGresult *r, int row, pf_item_state_t *st) {
  const char *have = pf__cell(r, row, 2);
  if (it->version && pf_catalog_version_cmp(have, it->version) < 0)
    pf__mismatch(st, it->version, have, "version: expected at least %s, found %s", it->version, have);
  else
    pf__set(st, PF_OBJ_PRESENT, NULL, NULL, NULL);
}

static void pf__judge_present(const pf_manifest_t *m, const pf_item_t *it, PGresult *r, int row, pf_item_state_t *st) {
  pf__set(st, PF_OBJ_PRESENT, NULL, NULL, NULL);
}

static void pf__judge_role(const pf_manifest_t *m, const pf_item_t *it, PGresult *r, int row, pf_item_state_t *st) {
  if (it->login == 1 && !pf__true(pf__cell(r, row, 2)))
    pf__mismatch(st, "login: true", "login: false", "role cannot log in");
  else
    pf__set(st, PF_OBJ_PRESENT, NULL, NULL, NULL);
}

static void pf__judge_type(const pf_manifest_t *m, const pf_item_t *it, PGresult *r, int row, pf_item_state_t *st) {
  const char *typtype = pf__cell(r, row, 2);
  const char *lacking = pf__cell(r, row, 3);
  if (it->nvalues > 0 && typtype[0] != 'e')
    pf__mismatch(st, "enum", "not an enum", "exists but is not an enum");
  else if (lacking)
    pf__mismatch(st, "enum labels present", lacking, "enum lacks the labels %s", lacking);
  else
    pf__set(st, PF_OBJ_PRESENT, NULL, NULL, NULL);
}

static void pf__judge_index(const pf_manifest_t *m, const pf_item_t *it, PGresult *r, int row, pf_item_state_t *st) {
  const char *ts = pf__cell(r, row, 2), *tn = pf__cell(r, row, 3);
  if (ts && tn && (strcmp(ts, it->table_schema) != 0 || strcmp(tn, it->table) != 0)) {
    char *want = pf_xasprintf("%s.%s", it->table_schema, it->table), *have = pf_xasprintf("%s.%s", ts, tn);
    pf__mismatch(st, want, have, "index is on %s, not on %s", have, want);
    free(want), free(have);
  } else if (it->unique == 1 && !pf__true(pf__cell(r, row, 4))) {
    pf__mismatch(st, "unique", "not unique", "index is not unique");
  } else if (!pf__true(pf__cell(r, row, 5))) {
    const char *relkind = pf__cell(r, row, 6);
    if (relkind && relkind[0] == 'I')
      /* CREATE INDEX ... ON ONLY a partitioned table makes an invalid index that becomes valid
       * once an index of every partition is attached to it. */
      pf__mismatch(st, "valid", "INVALID",
                   "partitioned index is not valid: it was created ON ONLY the parent and not every partition's index "
                   "is attached (ALTER INDEX ... ATTACH PARTITION)");
    else
      /* A failed CREATE INDEX CONCURRENTLY leaves an INVALID index behind: it exists, is
       * maintained on writes, but is never used by queries. */
      pf__mismatch(st, "valid", "INVALID", "index is INVALID (a failed CREATE INDEX CONCURRENTLY?); drop and recreate it");
  } else {
    pf__set(st, PF_OBJ_PRESENT, NULL, NULL, NULL);
  }
}

/* Removes white space, for comparing "auth.users(id, org)" with "auth.users(id,org)". */
static char *pf__squeeze(const char *s) {
  pf_buf_t b = {0};
  for (; *s; s++)
    if (!isspace((unsigned char)*s)) pf_buf_putc(&b, *s);
  return pf_buf_steal(&b);
}

static void pf__judge_constraint(const pf_manifest_t *m, const pf_item_t *it, PGresult *r, int row, pf_item_state_t *st) {
  static const struct {
    char code;
    const char *name;
  } types[] = {{'p', "primary_key"}, {'f', "foreign_key"}, {'u', "unique"}, {'c', "check"}, {'x', "exclusion"}, {'t', "trigger"}, {'n', "not_null"}};
  const char *code = pf__cell(r, row, 2);
  const char *have = "other";
  for (size_t k = 0; k < PF_ARRAY_SIZE(types); k++)
    if (types[k].code == code[0]) have = types[k].name;
  if (it->constraint_type && strcmp(it->constraint_type, have) != 0) {
    pf__mismatch(st, it->constraint_type, have, "constraint type: expected %s, found %s", it->constraint_type, have);
    return;
  }
  if (it->references) {
    const char *refs = pf__cell(r, row, 4);
    /* An unqualified target means the default schema, as everywhere in the manifest. */
    const char *paren = strchr(it->references, '(');
    const char *dot = strchr(it->references, '.');
    char *want = dot && (!paren || dot < paren) ? pf__squeeze(it->references) : NULL;
    if (want == NULL) {
      char *q = pf_xasprintf("%s.%s", m->default_schema, it->references);
      want = pf__squeeze(q);
      free(q);
    }
    char *got = refs ? pf__squeeze(refs) : pf_xstrdup("");
    bool same = paren ? strcmp(want, got) == 0 : strncmp(want, got, strlen(want)) == 0 && got[strlen(want)] == '(';
    if (!same) pf__mismatch(st, it->references, refs ? refs : "nothing", "references: expected %s, found %s", it->references, refs ? refs : "nothing");
    free(want), free(got);
    if (!same) return;
  }
  const char *valid = pf__cell(r, row, 3);
  if (valid && strcmp(valid, "notenforced") == 0) {
    pf__mismatch(st, "enforced", "NOT ENFORCED", "constraint is NOT ENFORCED (PostgreSQL does not check it)");
    return;
  }
  if (!pf__true(valid)) {
    pf__mismatch(st, "validated", "NOT VALID", "constraint is NOT VALID (existing rows were never checked)");
    return;
  }
  pf__set(st, PF_OBJ_PRESENT, NULL, NULL, NULL);
}

/* pg_trigger.tgenabled and the manifest's word for it (`enabled:`). */
static const char *pf__trigger_state(const char *code) {
  switch (code ? code[0] : 0) {
    case 'O': return "origin";
    case 'A': return "always";
    case 'R': return "replica";
    case 'D': return "disabled";
    default: return "unknown";
  }
}

/* Judges a trigger's enable state. Without `enabled:`, the trigger must fire in ordinary
 * sessions: ENABLE (origin) or ENABLE ALWAYS; a REPLICA trigger fires only where
 * session_replication_role = replica, which is not enabled for the app. With `enabled:`, the
 * state must be that one. */
static void pf__judge_trigger(const pf_manifest_t *m, const pf_item_t *it, PGresult *r, int row, pf_item_state_t *st) {
  const char *have = pf__trigger_state(pf__cell(r, row, 2));
  const char *want = it->trigger_enabled;
  if (want ? strcmp(want, have) == 0 : (strcmp(have, "origin") == 0 || strcmp(have, "always") == 0)) {
    pf__set(st, PF_OBJ_PRESENT, NULL, NULL, NULL);
    return;
  }
  char *w = pf_xasprintf("enabled: %s", want ? want : "origin or always");
  char *h = pf_xasprintf("enabled: %s", have);
  if (strcmp(have, "disabled") == 0)
    pf__mismatch(st, w, h, "trigger is disabled");
  else if (strcmp(have, "replica") == 0)
    pf__mismatch(st, w, h, "trigger is ENABLE REPLICA: it fires only in sessions with session_replication_role = replica");
  else
    pf__mismatch(st, w, h, "expected %s, found %s", w, h);
  free(w);
  free(h);
}

static void pf__judge_policy(const pf_manifest_t *m, const pf_item_t *it, PGresult *r, int row, pf_item_state_t *st) {
  if (!pf__true(pf__cell(r, row, 2)))
    pf__mismatch(st, "row level security on", "row level security off",
                 "policy exists but row level security is disabled on %s.%s, so it is not enforced", it->table_schema, it->table);
  else
    pf__set(st, PF_OBJ_PRESENT, NULL, NULL, NULL);
}

static void pf__judge_grant(const pf_manifest_t *m, const pf_item_t *it, PGresult *r, int row, pf_item_state_t *st) {
  const char *lacking = pf__cell(r, row, 2);
  const char *inapplicable = pf__cell(r, row, 5);
  const char *version = pf__cell(r, row, 6);
  if (inapplicable) {
    int v = version ? atoi(version) : 0;
    const char *sp = strchr(it->on, ' ');
    int tlen = sp ? (int)(sp - it->on) : (int)strlen(it->on);
    if (strcasecmp(inapplicable, "MAINTAIN") == 0 && v > 0 && v < 170000)
      pf__mismatch(st, "MAINTAIN", "no such privilege",
                   "privilege MAINTAIN exists only from PostgreSQL 17 on; this server is %d.%d", v / 10000, v % 10000);
    else
      pf__mismatch(st, it->on, inapplicable, "privileges %s cannot be held on a %.*s (list its own privileges)",
                   inapplicable, tlen, it->on);
    return;
  }
  if (lacking)
    pf__mismatch(st, "granted", lacking, "role %s lacks %s on %s", it->role, lacking, it->on);
  else
    pf__set(st, PF_OBJ_PRESENT, NULL, NULL, NULL);
}

/* Explains a grant whose role or object is missing (the row said present = false). */
void pf__grant_missing_detail(const pf_item_t *it, PGresult *r, int row, pf_item_state_t *st) {
  const char *rok = pf__cell(r, row, 3);
  char *d = !pf__true(rok) ? pf_xasprintf("role %s does not exist", it->role) : pf_xasprintf("%s does not exist", it->on);
  pf__set(st, PF_OBJ_MISSING, d, NULL, NULL);
  free(d);
}

const pf__kind_ops_t pf__kind_ops[PF_KIND__COUNT] = {
    [PF_KIND_ROLE] = {pf__branch_roles, pf__judge_role},
    [PF_KIND_EXTENSION] = {pf__branch_extensions, pf__judge_extension},
    [PF_KIND_SCHEMA] = {pf__branch_schemas, pf__judge_present},
    [PF_KIND_TYPE] = {pf__branch_types, pf__judge_type},
    [PF_KIND_SEQUENCE] = {NULL, pf__judge_relation},
    [PF_KIND_TABLE] = {pf__branch_relations, pf__judge_relation},
    [PF_KIND_COLUMN] = {pf__branch_columns, NULL, pf__judge_columns},
    [PF_KIND_VIEW] = {NULL, pf__judge_relation},
    [PF_KIND_FUNCTION] = {pf__branch_functions, pf__judge_function},
    [PF_KIND_INDEX] = {pf__branch_indexes, pf__judge_index},
    [PF_KIND_CONSTRAINT] = {pf__branch_constraints, pf__judge_constraint},
    [PF_KIND_TRIGGER] = {pf__branch_triggers, pf__judge_trigger},
    [PF_KIND_POLICY] = {pf__branch_policies, pf__judge_policy},
    [PF_KIND_GRANT] = {pf__branch_grants, pf__judge_grant},
    [PF_KIND_MIGRATION] = {pf__branch_migrations, pf__judge_migration},
};
