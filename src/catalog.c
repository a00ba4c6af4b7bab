/* One round trip verifies the whole manifest: the catalog query and every check, pipelined.
 *
 * Each kind adds a branch to a UNION ALL. A branch unnests arrays passed as parameters (item
 * index, schema, name, ...) and LEFT JOINs pg_catalog on exact names, so a missing object still
 * yields its row, with present = false. Every branch returns the same columns: the item index,
 * whether it exists, and up to six text attributes the kind's judge function interprets. The
 * relations and types the branches name are resolved once, in common table expressions they
 * share. Columns are the exception to one row per item: their branch returns every column of the
 * relations named, with a negative i, and their judge_all matches them to the items by name. */
#include "preflight/catalog.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BOOLOID ((Oid)16) /* pg_type.oid of boolean: fixed since PostgreSQL 6 */

#include "preflight/duration.h"
#include "preflight/error.h"
#include "preflight/log.h"
#include "catalog_int.h"

/* Names a result type for messages about checks that do not return a boolean. */
static const char *pf__type_name(Oid t, char *buf, size_t len) {
  static const struct {
    Oid oid;
    const char *name;
  } names[] = {{20, "bigint"},  {21, "smallint"}, {23, "integer"},           {25, "text"},
               {700, "real"},   {701, "double precision"}, {1043, "character varying"}, {1700, "numeric"},
               {18, "\"char\""}, {19, "name"},    {705, "unknown"},          {1042, "character"}};
  for (size_t i = 0; i < PF_ARRAY_SIZE(names); i++)
    if (names[i].oid == t) return names[i].name;
  snprintf(buf, len, "type oid %u", (unsigned)t);
  return buf;
}

/* The SQLSTATE and primary message of a failed result. */
static const char *pf__res_state(PGresult *res) {
  const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
  return s ? s : "";
}
static void pf__res_message(PGresult *res, char *out, size_t len) {
  const char *p = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
  if (p == NULL && res && PQresultStatus(res) == PGRES_PIPELINE_ABORTED) p = "not run (an earlier statement failed)";
  snprintf(out, len, "%s", p ? p : (res ? PQresultErrorMessage(res) : "no result"));
  for (char *q = out; *q; q++)
    if (*q == '\n' || *q == '\r' || *q == '\t') *q = ' ';
}

/* Whether a SQLSTATE says the statement was stopped by a timeout (statement or lock). */
static bool pf__is_timeout(const char *state) { return strcmp(state, "57014") == 0 || strcmp(state, "55P03") == 0; }

/* Applies one check's result: a boolean true is present; false, NULL or no row is missing; an
 * SQL error is missing with the error as detail; a timeout is PF_ETIMEOUT and a result that is
 * not one boolean is PF_ECONFIG (the check is wrong, not the schema), both naming the check. */
static int pf__judge_check(const pf_manifest_t *m, const pf_item_t *it, pf_item_state_t *st, PGresult *res,
                           char *err, size_t errlen) {
  char msg[1024], tb[32], d1[32];
  if (res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK) {
    if (PQnfields(res) != 1 || PQftype(res, 0) != BOOLOID)
      return pf_seterr(err, errlen, PF_ECONFIG, "%s:%d:%d: check \"%s\" must return one boolean, got %s", m->path,
                       it->line, it->column, it->display,
                       PQnfields(res) != 1 ? "several columns" : pf__type_name(PQftype(res, 0), tb, sizeof(tb)));
    const char *value = PQntuples(res) ? pf__cell(res, 0, 0) : NULL;
    if (pf__true(value))
      pf__set(st, PF_OBJ_PRESENT, NULL, NULL, NULL);
    else
      pf__set(st, PF_OBJ_MISSING, value ? "assertion is false" : "assertion returned NULL or no row", "true",
              value ? "false" : "null");
    return 0;
  }
  pf__res_message(res, msg, sizeof(msg));
  if (pf__is_timeout(pf__res_state(res)))
    return pf_seterr(err, errlen, PF_ETIMEOUT,
                     "check \"%s\" (%s:%d) did not finish within database.statement_timeout (%s): %s; another "
                     "session holds a lock it needs, or it is slow",
                     it->display, m->path, it->line, pf_duration_format(m->db_statement_timeout_ms, d1, sizeof(d1)),
                     msg);
  char *d = pf_xasprintf("check failed with an error: %s", msg);
  pf__set(st, PF_OBJ_MISSING, d, "true", "error");
  free(d);
  return 0;
}

/* Strips trailing white space and semicolons from a check's SQL, so it can be a subquery. */
static char *pf__check_body(const char *sql) {
  size_t n = strlen(sql);
  while (n > 0 && (isspace((unsigned char)sql[n - 1]) || sql[n - 1] == ';')) n--;
  return pf_xstrndup(sql, n);
}

/* Appends a statement to the pipeline under construction. */
static void pf__push(pf_db_stmt_t **v, size_t *n, size_t *cap, const char *sql, int nparams,
                     const char *const *params, bool sync) {
  if (*n == *cap) *v = pf_xrealloc(*v, (*cap = *cap ? *cap * 2 : 16) * sizeof(**v));
  (*v)[(*n)++] = (pf_db_stmt_t){.sql = sql, .nparams = nparams, .params = params, .sync_after = sync};
}

/* Turns a failed catalog query into an error: a timeout (PF_ETIMEOUT), a role that may not read
 * the catalog (PF_EAUTH), or PF_EDB. */
static int pf__catalog_failed(pf_db_t *db, const pf_manifest_t *m, bool in_txn, PGresult *res, char *err,
                              size_t errlen) {
  char msg[1024], d1[32];
  const char *state = pf__res_state(res);
  pf__res_message(res, msg, sizeof(msg));
  if (pf__is_timeout(state))
    return pf_seterr(err, errlen, PF_ETIMEOUT,
                     "the catalog query did not finish within database.statement_timeout (%s): %s; another session "
                     "holds a lock on a catalog it reads (a long DDL transaction?)",
                     pf_duration_format(m->db_statement_timeout_ms, d1, sizeof(d1)), msg);
  /* No manifest text reaches PostgreSQL as SQL (names are parameters, types are resolved through
   * pg_type by name), so a failure is the server's or the role's, never one item's: a role that
   * may not read the catalog (42501) is a permission failure, not a manifest error. */
  if (strcmp(state, "42501") == 0)
    return pf_seterr(err, errlen, PF_EAUTH, "verification query failed: %s (the role cannot read the catalog it needs)",
                     msg);
  return pf_seterr(err, errlen, PF_EDB, "verification query failed: %s", msg);
}

/* Runs the catalog query and every check in ONE round trip (libpq pipeline mode), each check as
 * its own single extended-protocol statement, so a check can be neither several statements nor
 * anything but what it says, and read-only in every phase:
 *   outside a transaction: BEGIN READ ONLY; set_config(statement_timeout, jit); catalog;
 *     SAVEPOINT | per check: ROLLBACK TO SAVEPOINT; check | ROLLBACK
 *   inside the fallback's:  set_config(jit); catalog; SAVEPOINT |
 *     per check: ROLLBACK TO SAVEPOINT; SET TRANSACTION READ ONLY; SET LOCAL statement_timeout;
 *     check | ROLLBACK TO SAVEPOINT; RELEASE SAVEPOINT
 * where | is a synchronisation point: a failing check aborts only its own segment, and rolling
 * back to the savepoint undoes whatever it did and its READ ONLY with it. */
static int pf__verify_pipeline(pf_db_t *db, const pf_manifest_t *m, bool in_txn, pf__qb_t *qb, pf_verify_t *v,
                               char *err, size_t errlen) {
  size_t nchecks = 0;
  for (size_t i = 0; i < m->nitems; i++)
    if (m->items[i].kind == PF_KIND_CHECK) nchecks++;
  if (qb->branches == 0 && nchecks == 0) return 0;
  const char *params[PF__MAX_PARAMS];
  for (int i = 0; i < qb->nparams; i++) {
    pf_buf_putc(&qb->params[i], '}');
    params[i] = qb->params[i].data;
  }
  char set_timeout[96], settings[192];
  snprintf(set_timeout, sizeof(set_timeout), "SET LOCAL statement_timeout = '%lldms'",
           (long long)m->db_statement_timeout_ms);
  bool bounded = m->db_statement_timeout_ms > 0;
  /* The catalog query's settings, in the one statement that sets its bound: no JIT. A large
   * manifest's plan costs more than jit_above_cost, and compiling it took longer than running
   * it (at 32,000 items, 120-330 ms and 20 MB more). Inside the fallback's transaction the
   * setting lasts until it ends, which is harmless; its statement_timeout is the fallback's. */
  if (bounded && !in_txn)
    snprintf(settings, sizeof(settings),
             "SELECT pg_catalog.set_config('statement_timeout', '%lldms', true), pg_catalog.set_config('jit', 'off', true)",
             (long long)m->db_statement_timeout_ms);
  else
    snprintf(settings, sizeof(settings), "SELECT pg_catalog.set_config('jit', 'off', true)");
  pf_db_stmt_t *st = NULL;
  pf_buf_t text = {0};
  size_t n = 0, cap = 0, at_catalog = SIZE_MAX;
  char **bodies = pf_xcalloc(nchecks ? nchecks : 1, sizeof(*bodies));
  size_t *at_check = pf_xcalloc(nchecks ? nchecks : 1, sizeof(*at_check));
  if (!in_txn) pf__push(&st, &n, &cap, "BEGIN READ ONLY", 0, NULL, false);
  if (qb->branches > 0 || (!in_txn && bounded)) pf__push(&st, &n, &cap, settings, 0, NULL, false);
  if (qb->branches > 0) {
    at_catalog = n;
    pf__qb_text(qb, &text);
    pf__push(&st, &n, &cap, text.data, qb->nparams, params, false);
  }
  if (nchecks > 0) pf__push(&st, &n, &cap, "SAVEPOINT preflight_check", 0, NULL, true);
  else if (n > 0) st[n - 1].sync_after = true;
  size_t k = 0;
  for (size_t i = 0; i < m->nitems; i++) {
    if (m->items[i].kind != PF_KIND_CHECK) continue;
    char *body = pf__check_body(m->items[i].sql);
    /* A subquery: the check may be a query or an expression. The newline before the closing
     * parenthesis keeps a trailing "-- comment" harmless; the extended protocol refuses a text
     * that holds more than one statement, whatever it tries to close or open. */
    bodies[k] = pf_xasprintf("SELECT (\n%s\n)", body);
    free(body);
    pf__push(&st, &n, &cap, "ROLLBACK TO SAVEPOINT preflight_check", 0, NULL, false);
    if (in_txn) {
      pf__push(&st, &n, &cap, "SET TRANSACTION READ ONLY", 0, NULL, false);
      if (bounded) pf__push(&st, &n, &cap, set_timeout, 0, NULL, false);
    }
    at_check[k] = n;
    pf__push(&st, &n, &cap, bodies[k], 0, NULL, true);
    k++;
  }
  if (in_txn && nchecks > 0) {
    pf__push(&st, &n, &cap, "ROLLBACK TO SAVEPOINT preflight_check", 0, NULL, false);
    pf__push(&st, &n, &cap, "RELEASE SAVEPOINT preflight_check", 0, NULL, true);
  } else if (!in_txn) {
    pf__push(&st, &n, &cap, "ROLLBACK", 0, NULL, true);
  }
  PGresult **res = pf_xcalloc(n, sizeof(*res));
  /* A backstop for a server that stops answering: every statement is bounded on the server. */
  int64_t backstop = bounded ? m->db_statement_timeout_ms * (int64_t)(nchecks + 2) + 5000 : 0;
  int r = pf_db_pipeline(db, st, n, res, backstop);
  v->round_trips++;
  if (r == PF_EDB) {
    const pf_db_error_t *e = pf_db_last_error(db);
    r = e->timed_out ? pf_seterr(err, errlen, PF_ETIMEOUT, "verification did not answer within %lld ms: %s",
                                 (long long)backstop, e->message)
                     : pf_seterr(err, errlen, PF_EDB, "verification query failed: %s", e->message);
  }
  if (r == 0 && at_catalog != SIZE_MAX) {
    PGresult *cr = res[at_catalog];
    if (cr == NULL || PQresultStatus(cr) != PGRES_TUPLES_OK) {
      r = pf__catalog_failed(db, m, in_txn, cr, err, errlen);
    } else {
      for (int row = 0; row < PQntuples(cr); row++) {
        /* A NULL or negative i: a row that a kind's judge_all reads (columns, types). */
        const char *i = PQgetvalue(cr, row, 0);
        if (PQgetisnull(cr, row, 0) || i[0] == '-') continue;
        size_t idx = (size_t)strtoul(i, NULL, 10);
        if (idx >= m->nitems) continue;
        const pf_item_t *it = &m->items[idx];
        pf_item_state_t *s = &v->items[idx];
        if (!pf__true(PQgetvalue(cr, row, 1))) {
          s->state = PF_OBJ_MISSING;
          if (it->kind == PF_KIND_GRANT) pf__grant_missing_detail(it, cr, row, s);
          continue;
        }
        if (pf__kind_ops[it->kind].judge) pf__kind_ops[it->kind].judge(m, it, cr, row, s);
      }
      for (int kind = 0; kind < PF_KIND__COUNT; kind++)
        if (pf__kind_ops[kind].judge_all) pf__kind_ops[kind].judge_all(m, qb, cr, v);
    }
  }
  if (r == 0 && nchecks > 0 && (res[0] == NULL || PQresultStatus(res[0]) != PGRES_COMMAND_OK) && !in_txn) {
    char msg[1024];
    pf__res_message(res[0], msg, sizeof(msg));
    r = pf_seterr(err, errlen, PF_EDB, "cannot start the read-only verification transaction: %s", msg);
  }
  k = 0;
  for (size_t i = 0; r == 0 && i < m->nitems; i++) {
    if (m->items[i].kind != PF_KIND_CHECK) continue;
    r = pf__judge_check(m, &m->items[i], &v->items[i], res[at_check[k]], err, errlen);
    k++;
  }
  for (size_t i = 0; i < n; i++)
    if (res[i]) PQclear(res[i]);
  free(res);
  for (size_t i = 0; i < nchecks; i++) free(bodies[i]);
  free(bodies);
  free(at_check);
  free(st);
  pf_buf_free(&text);
  return r;
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

  pf__qb_t qb = {.server_version = pf_db_conn(db) ? PQserverVersion(pf_db_conn(db)) : 0};
  pf__qb_index(&qb, m);
  for (int k = 0; k < PF_KIND__COUNT; k++)
    if (pf__kind_ops[k].branch) pf__kind_ops[k].branch(&qb, m);
  int r = pf__verify_pipeline(db, m, in_txn, &qb, v, err, errlen);
  pf__qb_free(&qb);
  if (r == 0) {
    r = pf__verify_migrations(db, m, v, &v->round_trips);
    if (r == PF_EDB && pf_db_last_error(db)->timed_out)
      r = pf_seterr(err, errlen, PF_ETIMEOUT, "reading migration history did not finish within database.statement_timeout");
    else if (r == PF_EDB)
      pf_seterr(err, errlen, PF_EDB, "reading migration history failed: %s", pf_db_last_error(db)->message);
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
