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
#include "catalog_int.h"

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
      /* The same argument split the functions branch uses, each argument through to_regtype. */
      pf_buf_t ai = {0}, at = {0};
      pf_buf_putc(&ai, '{');
      pf_buf_putc(&at, '{');
      pf__add_args(&ai, &at, i, it->args);
      pf_buf_putc(&at, '}');
      pf_buf_free(&ai);
      what = "argument types", sql = "SELECT pg_catalog.to_regtype(a) FROM unnest($1::text[]) AS a";
      value = pf_buf_steal(&at);
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
      else if (it->kind == PF_KIND_MIGRATION)
        d = pf_xasprintf("%s history table %s.%s does not exist", it->tool, it->schema ? it->schema : m->default_schema,
                         pf__migration_table(it));
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
  for (int k = 0; k < PF_KIND__COUNT; k++)
    if (pf__kind_ops[k].branch) pf__kind_ops[k].branch(&qb, m);
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
          if (it->kind == PF_KIND_GRANT) pf__grant_missing_detail(it, res, row, st);
          continue;
        }
        if (pf__kind_ops[it->kind].judge) pf__kind_ops[it->kind].judge(m, it, res, row, st);
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
    r = pf__verify_migrations(db, m, v, &v->round_trips);
    if (r == PF_EDB) pf_seterr(err, errlen, PF_EDB, "reading migration history failed: %s", pf_db_last_error(db)->message);
  }
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
