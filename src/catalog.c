/* One query verifies the whole manifest.
 *
 * Each kind adds a branch to a UNION ALL. A branch unnests arrays passed as parameters (item
 * index, schema, name, ...) and LEFT JOINs pg_catalog on exact names, so a missing object still
 * yields its row, with present = false. Every branch returns the same columns: the item index,
 * whether it exists, and up to six text attributes the kind's judge function interprets. */
#include "preflight/catalog.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preflight/error.h"
#include "preflight/log.h"

#define PF__MAX_PARAMS 96

/* The query under construction: SQL text plus parameters (arrays rendered as literals). */
typedef struct {
  pf_buf_t sql;
  pf_buf_t params[PF__MAX_PARAMS];
  int nparams;
  int branches;
} pf__qb_t;

/* Reserves parameter $n for an array, returning its buffer. */
static pf_buf_t *pf__qb_array(pf__qb_t *qb, int *n) {
  pf_buf_t *b = &qb->params[qb->nparams++];
  *n = qb->nparams;
  pf_buf_putc(b, '{');
  return b;
}

void pf_catalog_array_add(pf_buf_t *arr, const char *s) {
  if (arr->len > 1) pf_buf_putc(arr, ',');
  if (s == NULL) {
    pf_buf_puts(arr, "NULL");
    return;
  }
  pf_buf_putc(arr, '"');
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') pf_buf_putc(arr, '\\');
    pf_buf_putc(arr, *s);
  }
  pf_buf_putc(arr, '"');
}

/* Appends an int element to an array literal. */
static void pf__array_int(pf_buf_t *arr, size_t v) {
  if (arr->len > 1) pf_buf_putc(arr, ',');
  pf_buf_printf(arr, "%zu", v);
}

/* Starts a new UNION ALL branch. */
static void pf__qb_branch(pf__qb_t *qb) {
  if (qb->branches++ > 0) pf_buf_puts(&qb->sql, "\nUNION ALL\n");
}

/* Appends `"schema"."name"` with identifier quoting, the form to_regprocedure reads exactly. */
static void pf__quote_ident(pf_buf_t *b, const char *s) {
  pf_buf_putc(b, '"');
  for (; *s; s++) {
    if (*s == '"') pf_buf_putc(b, '"');
    pf_buf_putc(b, *s);
  }
  pf_buf_putc(b, '"');
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

/* Adds the tables branch: relkind and row-level security of each named relation. */
static void pf__branch_tables(pf__qb_t *qb, const pf_manifest_t *m) {
  int pi, ps, pn;
  pf_buf_t *ai = NULL, *as = NULL, *an = NULL;
  for (size_t i = 0; i < m->nitems; i++) {
    const pf_item_t *it = &m->items[i];
    if (it->kind != PF_KIND_TABLE) continue;
    if (ai == NULL) {
      ai = pf__qb_array(qb, &pi);
      as = pf__qb_array(qb, &ps);
      an = pf__qb_array(qb, &pn);
    }
    pf__array_int(ai, i);
    pf_catalog_array_add(as, it->schema);
    pf_catalog_array_add(an, it->name);
  }
  if (ai == NULL) return;
  pf__qb_branch(qb);
  pf_buf_printf(&qb->sql,
                "SELECT t.i, c.oid IS NOT NULL, c.relkind::text, c.relrowsecurity::text, NULL::text, NULL::text, NULL::text, NULL::text\n"
                "FROM unnest($%d::int[], $%d::text[], $%d::text[]) AS t(i, s, n)\n"
                "LEFT JOIN pg_catalog.pg_namespace ns ON ns.nspname = t.s\n"
                "LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = ns.oid AND c.relname = t.n",
                pi, ps, pn);
}

/* Adds the columns branch: type as format_type shows it, NOT NULL, whether the declared type
 * resolves to the same type OID, the declared type's canonical name, default, identity and
 * generated. Dropped columns (attisdropped) and system columns (attnum <= 0) never count. */
static void pf__branch_columns(pf__qb_t *qb, const pf_manifest_t *m) {
  int pi, ps, pr, pc, pt;
  pf_buf_t *ai = NULL, *as = NULL, *ar = NULL, *ac = NULL, *at = NULL;
  for (size_t i = 0; i < m->nitems; i++) {
    const pf_item_t *it = &m->items[i];
    if (it->kind != PF_KIND_COLUMN) continue;
    if (ai == NULL) {
      ai = pf__qb_array(qb, &pi);
      as = pf__qb_array(qb, &ps);
      ar = pf__qb_array(qb, &pr);
      ac = pf__qb_array(qb, &pc);
      at = pf__qb_array(qb, &pt);
    }
    pf__array_int(ai, i);
    pf_catalog_array_add(as, it->table_schema);
    pf_catalog_array_add(ar, it->table);
    pf_catalog_array_add(ac, it->name);
    pf_catalog_array_add(at, it->type);
  }
  if (ai == NULL) return;
  pf__qb_branch(qb);
  pf_buf_printf(&qb->sql,
                "SELECT t.i, a.attnum IS NOT NULL, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull::text,\n"
                "  CASE WHEN t.ty IS NULL THEN NULL ELSE (pg_catalog.to_regtype(t.ty) IS NOT DISTINCT FROM a.atttypid)::text END,\n"
                "  CASE WHEN t.ty IS NULL THEN NULL ELSE coalesce(pg_catalog.format_type(pg_catalog.to_regtype(t.ty), NULL), '') END,\n"
                "  pg_catalog.pg_get_expr(d.adbin, d.adrelid), nullif(a.attidentity::text, '') || nullif(a.attgenerated::text, '')\n"
                "FROM unnest($%d::int[], $%d::text[], $%d::text[], $%d::text[], $%d::text[]) AS t(i, s, r, col, ty)\n"
                "LEFT JOIN pg_catalog.pg_namespace ns ON ns.nspname = t.s\n"
                "LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = ns.oid AND c.relname = t.r\n"
                "LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attname = t.col AND a.attnum > 0 AND NOT a.attisdropped\n"
                "LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum",
                pi, ps, pr, pc, pt);
}

/* Adds the functions branch. The signature is handed to to_regprocedure with the name quoted,
 * so PostgreSQL resolves the argument types (int = int4 = integer) but never folds the name. */
static void pf__branch_functions(pf__qb_t *qb, const pf_manifest_t *m) {
  int pi, pg, pt, pset;
  pf_buf_t *ai = NULL, *ag = NULL, *at = NULL, *aset = NULL;
  for (size_t i = 0; i < m->nitems; i++) {
    const pf_item_t *it = &m->items[i];
    if (it->kind != PF_KIND_FUNCTION) continue;
    if (ai == NULL) {
      ai = pf__qb_array(qb, &pi);
      ag = pf__qb_array(qb, &pg);
      at = pf__qb_array(qb, &pt);
      aset = pf__qb_array(qb, &pset);
    }
    pf__array_int(ai, i);
    pf_buf_t sig = {0};
    pf__quote_ident(&sig, it->schema);
    pf_buf_putc(&sig, '.');
    pf__quote_ident(&sig, it->name);
    pf_buf_printf(&sig, "(%s)", it->args ? it->args : "");
    pf_catalog_array_add(ag, sig.data);
    pf_buf_free(&sig);
    bool setof = false;
    const char *rt = it->returns && !pf__returns_is_table(it->returns) ? pf__returns_type(it->returns, &setof) : NULL;
    pf_catalog_array_add(at, rt);
    pf_catalog_array_add(aset, setof ? "t" : "f");
  }
  if (ai == NULL) return;
  pf__qb_branch(qb);
  pf_buf_printf(&qb->sql,
                "SELECT t.i, p.oid IS NOT NULL, pg_catalog.pg_get_function_result(p.oid),\n"
                "  CASE WHEN t.rt IS NULL THEN NULL ELSE (p.proretset = t.rs AND p.prorettype IS NOT DISTINCT FROM pg_catalog.to_regtype(t.rt))::text END,\n"
                "  p.prokind::text, p.prosecdef::text, NULL::text, NULL::text\n"
                "FROM unnest($%d::int[], $%d::text[], $%d::text[], $%d::bool[]) AS t(i, sig, rt, rs)\n"
                "LEFT JOIN pg_catalog.pg_proc p ON p.oid = pg_catalog.to_regprocedure(t.sig)",
                pi, pg, pt, pset);
}

/* Records a verdict for one item (takes ownership of nothing: strings are copied). */
static void pf__set(pf_item_state_t *st, pf_obj_state_t state, const char *detail, const char *expected, const char *found) {
  st->state = state;
  free(st->detail);
  free(st->expected);
  free(st->found);
  st->detail = pf_xstrdup(detail);
  st->expected = pf_xstrdup(expected);
  st->found = pf_xstrdup(found);
}

/* Whether a cell holds boolean true, whether it was sent as bool ("t") or bool::text ("true"). */
static bool pf__true(const char *v) { return v && (strcmp(v, "t") == 0 || strcmp(v, "true") == 0); }

/* Returns the text of a result cell, or NULL for SQL NULL. */
static const char *pf__cell(PGresult *r, int row, int col) {
  return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
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

/* Judges a table row: it must be an ordinary or partitioned table, with RLS on when declared. */
static void pf__judge_table(const pf_item_t *it, PGresult *r, int row, pf_item_state_t *st) {
  const char *kind = pf__cell(r, row, 2);
  if (kind[0] != 'r' && kind[0] != 'p') {
    char found[64];
    snprintf(found, sizeof(found), "%s", pf__relkind_name(kind));
    char *d = pf_xasprintf("exists as a %s, not a table", found);
    pf__set(st, PF_OBJ_MISMATCH, d, "table", found);
    free(d);
    return;
  }
  if (it->row_level_security == 1 && !pf__true(pf__cell(r, row, 3))) {
    pf__set(st, PF_OBJ_MISMATCH, "row level security is disabled", "row_level_security: true", "row_level_security: false");
    return;
  }
  pf__set(st, PF_OBJ_PRESENT, NULL, NULL, NULL);
}

/* Judges a column: type (same OID and, when the manifest gives them, the same modifiers),
 * nullability, default, identity/generated. The first difference is reported with both values. */
static void pf__judge_column(const pf_item_t *it, PGresult *r, int row, pf_item_state_t *st) {
  const char *found_type = pf__cell(r, row, 2);
  if (it->type) {
    const char *same_oid = pf__cell(r, row, 4);
    const char *canon = pf__cell(r, row, 5);
    char want_mods[64], have_mods[64];
    pf_catalog_type_mods(it->type, want_mods, sizeof(want_mods));
    pf_catalog_type_mods(found_type, have_mods, sizeof(have_mods));
    bool ok = pf__true(same_oid) && (want_mods[0] == '\0' || strcmp(want_mods, have_mods) == 0);
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
    bool notnull = pf__true(pf__cell(r, row, 3));
    if ((it->nullable == 1) == notnull) {
      const char *want = it->nullable ? "nullable: true" : "nullable: false";
      const char *have = notnull ? "nullable: false" : "nullable: true";
      char *d = pf_xasprintf("expected %s, found %s", want, have);
      pf__set(st, PF_OBJ_MISMATCH, d, want, have);
      free(d);
      return;
    }
  }
  if (it->default_expr) {
    const char *have = pf__cell(r, row, 6);
    if (have == NULL || strcmp(have, it->default_expr) != 0) {
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
  if (it->generated && (ig == NULL || strcmp(ig, "s") != 0)) {
    pf__set(st, PF_OBJ_MISMATCH, "expected a stored generated column", "generated: stored", "not generated");
    return;
  }
  pf__set(st, PF_OBJ_PRESENT, NULL, NULL, NULL);
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
static void pf__judge_function(const pf_item_t *it, PGresult *r, int row, pf_item_state_t *st) {
  const char *result = pf__cell(r, row, 2);
  if (it->returns) {
    bool ok;
    if (pf__returns_is_table(it->returns)) {
      char *a = pf__normalise_sig(it->returns), *b = pf__normalise_sig(result ? result : "");
      ok = strcmp(a, b) == 0;
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

/* Says which item's type or signature PostgreSQL rejected, by asking about each one alone.
 * Runs only after the combined query failed with a syntax-class error, so its cost does not
 * matter. Returns PF_ECONFIG naming the item, or the original error when none is at fault. */
static int pf__blame_item(pf_db_t *db, const pf_manifest_t *m, int orig, char *err, size_t errlen) {
  for (size_t i = 0; i < m->nitems; i++) {
    const pf_item_t *it = &m->items[i];
    const char *what = NULL;
    const char *sql = NULL;
    char *value = NULL;
    if (it->kind == PF_KIND_COLUMN && it->type) {
      what = "type", sql = "SELECT pg_catalog.to_regtype($1)", value = pf_xstrdup(it->type);
    } else if (it->kind == PF_KIND_FUNCTION) {
      pf_buf_t sig = {0};
      pf__quote_ident(&sig, it->schema);
      pf_buf_putc(&sig, '.');
      pf__quote_ident(&sig, it->name);
      pf_buf_printf(&sig, "(%s)", it->args ? it->args : "");
      what = "signature", sql = "SELECT pg_catalog.to_regprocedure($1)", value = pf_buf_steal(&sig);
    } else {
      continue;
    }
    const char *params[1] = {value};
    int r = pf_db_query(db, sql, 1, params, 0);
    free(value);
    if (r == PF_ESIGNAL) return r;
    if (r != 0) {
      return pf_seterr(err, errlen, PF_ECONFIG, "%s:%d:%d: %s %s: PostgreSQL cannot read the %s: %s", m->path,
                       it->line, it->column, pf_kind_name(it->kind), it->display, what, pf_db_last_error(db)->message);
    }
  }
  return orig;
}

/* Strips trailing white space and semicolons from a check's SQL, so it can be a subquery. */
static char *pf__check_body(const char *sql) {
  size_t n = strlen(sql);
  while (n > 0 && (isspace((unsigned char)sql[n - 1]) || sql[n - 1] == ';')) n--;
  return pf_xstrndup(sql, n);
}

/* Applies the result row of one check: true is present; false or NULL is missing. */
static void pf__judge_check(pf_item_state_t *st, const char *value) {
  if (pf__true(value))
    pf__set(st, PF_OBJ_PRESENT, NULL, NULL, NULL);
  else
    pf__set(st, PF_OBJ_MISSING, value ? "assertion is false" : "assertion returned NULL or no row", "true",
            value ? "false" : "null");
}

/* Runs one query wrapped so it cannot write (READ ONLY transaction) or, inside the fallback's
 * transaction, so that its failure does not abort ours (savepoint). One round trip. */
static int pf__guarded(pf_db_t *db, bool in_txn, const char *body, int *round_trips) {
  char *sql = in_txn ? pf_xasprintf("SAVEPOINT preflight_check;\n%s;\nRELEASE SAVEPOINT preflight_check", body)
                     : pf_xasprintf("BEGIN READ ONLY;\n%s;\nROLLBACK", body);
  int r = pf_db_query(db, sql, -1, NULL, 0);
  (*round_trips)++;
  free(sql);
  if (r == PF_EDB && pf_db_connected(db)) {
    /* The failed statement left the transaction aborted: end it (or unwind the savepoint). */
    char saved[sizeof(pf_db_last_error(db)->message)];
    snprintf(saved, sizeof(saved), "%s", pf_db_last_error(db)->message);
    int r2 = pf_db_query(db, in_txn ? "ROLLBACK TO SAVEPOINT preflight_check; RELEASE SAVEPOINT preflight_check" : "ROLLBACK",
                         -1, NULL, 0);
    (*round_trips)++;
    if (r2 == PF_ESIGNAL) return r2;
    pf_db_error_t *e = (pf_db_error_t *)pf_db_last_error(db);
    snprintf(e->message, sizeof(e->message), "%s", saved);
  }
  return r;
}

/* Evaluates every free check in one round trip: SELECT (check 1)::boolean, (check 2)::boolean...
 * If that fails (one check raised an error), each check is evaluated alone so the error is
 * attributed to the right one; that path costs one round trip per check, but only when broken. */
static int pf__verify_checks(pf_db_t *db, const pf_manifest_t *m, bool in_txn, pf_verify_t *v) {
  pf_buf_t sql = {0};
  size_t n = 0;
  for (size_t i = 0; i < m->nitems; i++) {
    if (m->items[i].kind != PF_KIND_CHECK) continue;
    char *body = pf__check_body(m->items[i].sql);
    /* The newline before the closing parenthesis keeps a trailing "-- comment" harmless. */
    pf_buf_printf(&sql, "%s(\n%s\n)::boolean", n++ ? ",\n" : "SELECT ", body);
    free(body);
  }
  if (n == 0) return 0;
  int r = pf__guarded(db, in_txn, sql.data, &v->round_trips);
  pf_buf_free(&sql);
  if (r == PF_ESIGNAL) return r;
  if (r == 0) {
    PGresult *res = pf_db_result(db);
    if (res && PQresultStatus(res) == PGRES_TUPLES_OK && PQnfields(res) == (int)n) {
      size_t col = 0;
      for (size_t i = 0; i < m->nitems; i++) {
        if (m->items[i].kind != PF_KIND_CHECK) continue;
        pf__judge_check(&v->items[i], PQntuples(res) ? pf__cell(res, 0, (int)col) : NULL);
        col++;
      }
      return 0;
    }
  }
  if (!pf_db_connected(db)) return PF_EDB;
  for (size_t i = 0; i < m->nitems; i++) {
    if (m->items[i].kind != PF_KIND_CHECK) continue;
    char *body = pf__check_body(m->items[i].sql);
    char *one = pf_xasprintf("SELECT (\n%s\n)::boolean", body);
    free(body);
    r = pf__guarded(db, in_txn, one, &v->round_trips);
    free(one);
    if (r == PF_ESIGNAL) return r;
    if (r == 0) {
      PGresult *res = pf_db_result(db);
      pf__judge_check(&v->items[i], res && PQntuples(res) ? pf__cell(res, 0, 0) : NULL);
    } else {
      if (!pf_db_connected(db)) return PF_EDB;
      char *d = pf_xasprintf("check failed with an error: %s", pf_db_last_error(db)->message);
      pf__set(&v->items[i], PF_OBJ_MISSING, d, "true", "error");
      free(d);
    }
  }
  return 0;
}

/* Fills in the items the catalog query does not answer directly: a column whose table is
 * missing says so, and the missing counters are summed. */
static void pf__finish(const pf_manifest_t *m, pf_verify_t *v) {
  v->missing_required = v->missing_warn = 0;
  for (size_t i = 0; i < m->nitems; i++) {
    const pf_item_t *it = &m->items[i];
    pf_item_state_t *st = &v->items[i];
    if (st->state == PF_OBJ_MISSING && st->detail == NULL) {
      char *d;
      if (it->kind == PF_KIND_COLUMN && it->parent != PF_NO_PARENT && v->items[it->parent].state == PF_OBJ_MISSING)
        d = pf_xasprintf("table %s.%s does not exist", it->table_schema, it->table);
      else
        d = pf_xasprintf("%s does not exist", pf_kind_name(it->kind));
      st->detail = d;
    }
    if (st->state != PF_OBJ_PRESENT) {
      if (it->severity == PF_SEVERITY_WARN) v->missing_warn++;
      else v->missing_required++;
    }
  }
}

int pf_catalog_verify(pf_db_t *db, const pf_manifest_t *m, bool in_txn, pf_verify_t *v, char *err, size_t errlen) {
  memset(v, 0, sizeof(*v));
  v->nitems = m->nitems;
  v->items = pf_xcalloc(m->nitems ? m->nitems : 1, sizeof(*v->items));
  for (size_t i = 0; i < m->nitems; i++) v->items[i].state = PF_OBJ_MISSING;

  pf__qb_t qb = {0};
  pf__branch_tables(&qb, m);
  pf__branch_columns(&qb, m);
  pf__branch_functions(&qb, m);
  int r = 0;
  if (qb.branches > 0) {
    const char *params[PF__MAX_PARAMS];
    for (int i = 0; i < qb.nparams; i++) {
      pf_buf_putc(&qb.params[i], '}');
      params[i] = qb.params[i].data;
    }
    r = pf_db_query(db, qb.sql.data, qb.nparams, params, 0);
    v->round_trips++;
    if (r == 0) {
      PGresult *res = pf_db_result(db);
      for (int row = 0; row < PQntuples(res); row++) {
        size_t idx = (size_t)strtoul(PQgetvalue(res, row, 0), NULL, 10);
        if (idx >= m->nitems) continue;
        const pf_item_t *it = &m->items[idx];
        pf_item_state_t *st = &v->items[idx];
        if (!pf__true(PQgetvalue(res, row, 1))) {
          st->state = PF_OBJ_MISSING;
          continue;
        }
        switch (it->kind) {
          case PF_KIND_TABLE: pf__judge_table(it, res, row, st); break;
          case PF_KIND_COLUMN: pf__judge_column(it, res, row, st); break;
          case PF_KIND_FUNCTION: pf__judge_function(it, res, row, st); break;
          default: break;
        }
      }
    } else if (r == PF_EDB && pf_db_connected(db)) {
      const char *state = pf_db_last_error(db)->sqlstate;
      char saved[1024];
      snprintf(saved, sizeof(saved), "%s", pf_db_last_error(db)->message);
      r = pf_seterr(err, errlen, PF_EDB, "verification query failed: %s", saved);
      /* Syntax-class errors come from a type or signature text in the manifest. */
      if (strncmp(state, "42", 2) == 0 || strncmp(state, "22", 2) == 0) {
        if (in_txn) {
          /* An aborted fallback transaction cannot run more queries: the caller rolls back. */
        } else {
          r = pf__blame_item(db, m, r, err, errlen);
        }
      }
    } else if (r == PF_EDB) {
      r = pf_seterr(err, errlen, PF_EDB, "verification query failed: %s", pf_db_last_error(db)->message);
    }
  }
  pf_buf_free(&qb.sql);
  for (int i = 0; i < qb.nparams; i++) pf_buf_free(&qb.params[i]);
  if (r == 0) {
    r = pf__verify_checks(db, m, in_txn, v);
    if (r == PF_EDB) pf_seterr(err, errlen, PF_EDB, "checks failed: %s", pf_db_last_error(db)->message);
  }
  if (r != 0) {
    pf_verify_free(v);
    return r;
  }
  pf__finish(m, v);
  return 0;
}

void pf_verify_free(pf_verify_t *v) {
  for (size_t i = 0; i < v->nitems; i++) {
    free(v->items[i].detail);
    free(v->items[i].expected);
    free(v->items[i].found);
  }
  free(v->items);
  memset(v, 0, sizeof(*v));
}
