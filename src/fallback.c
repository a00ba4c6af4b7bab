/* The fallbacks, run while the caller holds the replica-wide lock (lock.h) on its own connection:
 *
 *   verify again (another replica may have repaired everything while we waited for the lock);
 *   BEGIN; SET LOCAL lock_timeout, statement_timeout;
 *   for each missing item in dependency order: verify again if a fallback ran since the last
 *     verification (the table's fallback may have created its columns), then run its SQL, and
 *     check that the transaction is still ours (a backstop: manifest validation already rejects
 *     transaction control in transactional fallbacks);
 *   `after`; confirm the lock is still held; COMMIT;
 *   then the `transaction: false` items, one statement at a time, outside any transaction and
 *   still under the lock, with no session setting at all: their statement_timeout is a deadline
 *   kept by preflight (a cancel request when it passes), so nothing outlives the statement on a
 *   server connection that a pooler hands to other clients. lock_timeout is not applied to them
 *   (it would need a session SET); the deadline bounds their lock waits too.
 *
 * Any error in the transaction rolls all of it back: the database is left as it was. */
#include "preflight/fallback.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preflight/duration.h"
#include "preflight/error.h"
#include "preflight/lock.h"
#include "preflight/log.h"
#include "preflight/sqllex.h"

void pf_fallback_position(const char *sql, long position, int first_line, int *line, int *col) {
  int l = first_line, c = 1;
  long chars = 1;
  for (const unsigned char *p = (const unsigned char *)sql; *p && chars < position; p++) {
    if ((*p & 0xC0) == 0x80) continue;  /* UTF-8 continuation byte: same character */
    chars++;
    if (*p == '\n') {
      l++;
      c = 1;
    } else {
      c++;
    }
  }
  *line = l;
  *col = c;
}

/* Runs one statement of our own (no parameters); returns 0, PF_EDB or PF_ESIGNAL. */
static int pf__exec(pf_db_t *db, const char *sql) {
  return pf_db_query(db, sql, -1, NULL, 0);
}

/* Returns a message for a failed fallback: the item, where its SQL is, and PostgreSQL's error
 * with SQLSTATE, position (as file:line:column), detail and hint. */
static int pf__fallback_error(pf_db_t *db, const pf_manifest_t *m, const pf_item_t *it, const char *sql,
                              int first_line, char *err, size_t errlen) {
  PGresult *res = pf_db_result(db);
  const pf_db_error_t *e = pf_db_last_error(db);
  const char *pos = res ? PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION) : NULL;
  const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
  const char *hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;
  const char *file = it && it->fallback_file ? it->fallback_path : m->path;
  pf_buf_t b = {0};
  if (it)
    pf_buf_printf(&b, "fallback for %s %s failed", pf_kind_name(it->kind), it->display);
  else
    pf_buf_puts(&b, "fallback.after failed");
  int line = first_line, col = 0;
  if (pos) {
    pf_fallback_position(sql, strtol(pos, NULL, 10), first_line, &line, &col);
    pf_buf_printf(&b, " at %s:%d:%d", file, line, col);
  } else {
    pf_buf_printf(&b, " (%s:%d)", file, first_line);
  }
  pf_buf_printf(&b, ": %s", e->message);
  if (e->sqlstate[0]) pf_buf_printf(&b, " (SQLSTATE %s)", e->sqlstate);
  if (detail) pf_buf_printf(&b, "; detail: %s", detail);
  if (hint) pf_buf_printf(&b, "; hint: %s", hint);
  pf_seterr(err, errlen, PF_EFALLBACK, "%s", b.data);
  pf_buf_free(&b);
  return PF_EFALLBACK;
}

/* Whether item i still needs its fallback according to verification v. */
static bool pf__needs(const pf_manifest_t *m, const pf_verify_t *v, size_t i) {
  return m->items[i].fallback != NULL && v->items[i].state != PF_OBJ_PRESENT;
}

/* Fills order[] with the item indexes in dependency order (kind order, then manifest order). */
static void pf__order(const pf_manifest_t *m, size_t *order) { pf_manifest_kind_order(m, false, order, NULL); }

/* Rolls back after a failure, keeping the original error message for the caller. */
static void pf__rollback(pf_db_t *db) {
  if (!pf_db_connected(db)) return;
  pf_db_error_t saved = *pf_db_last_error(db);
  if (pf__exec(db, "ROLLBACK") != 0) pf_log_debug("rollback failed: %s", pf_db_last_error(db)->message);
  *(pf_db_error_t *)pf_db_last_error(db) = saved;
}


/* Checks, after a fallback statement ran, that the transaction state is what it must be: inside
 * preflight's transaction for transactional items, outside any for the others. Returns 0 or
 * PF_EFALLBACK with err. */
static int pf__txn_backstop(pf_db_t *db, const pf_manifest_t *m, const pf_item_t *it, bool in_txn, char *err,
                            size_t errlen) {
  PGconn *c = pf_db_conn(db);
  PGTransactionStatusType ts = c ? PQtransactionStatus(c) : PQTRANS_UNKNOWN;
  const char *file = it->fallback_file ? it->fallback_path : m->path;
  if (in_txn && ts != PQTRANS_INTRANS)
    return pf_seterr(err, errlen, PF_EFALLBACK,
                     "fallback for %s %s (%s:%d) ended preflight's transaction (COMMIT, ROLLBACK or similar in its "
                     "SQL); what it ran before that may have been committed; remove the transaction control or "
                     "set transaction: false",
                     pf_kind_name(it->kind), it->display, file, it->fallback_line);
  if (!in_txn && ts != PQTRANS_IDLE)
    return pf_seterr(err, errlen, PF_EFALLBACK,
                     "fallback for %s %s (%s:%d) left a transaction open (BEGIN without COMMIT); rolled back",
                     pf_kind_name(it->kind), it->display, file, it->fallback_line);
  return 0;
}

/* Runs the SQL of a transaction: false item: each top-level statement on its own (several
 * statements in one simple query would form an implicit transaction block, which CREATE INDEX
 * CONCURRENTLY refuses), each bounded by statement_timeout as a client-side deadline. */
static int pf__exec_outside(pf_db_t *db, pf_lock_t *lock, const pf_manifest_t *m, const pf_item_t *it, char *err,
                            size_t errlen) {
  pf_sqllex_stmt_t *stmts = NULL;
  size_t n = pf_sqllex_split(it->fallback, &stmts);
  int r = 0;
  char d1[32];
  for (size_t k = 0; k < n && r == 0; k++) {
    /* The lock lives on another connection: make sure it is still ours before each write. */
    r = pf_lock_check(lock, err, errlen);
    if (r != 0) break;
    char *one = pf_xstrndup(it->fallback + stmts[k].start, stmts[k].end - stmts[k].start);
    r = pf_db_query(db, one, -1, NULL, m->statement_timeout_ms);
    if (r == PF_EDB) {
      const pf_db_error_t *e = pf_db_last_error(db);
      if (e->timed_out && !pf_db_connected(db)) {
        r = pf_seterr(err, errlen, PF_EFALLBACK,
                      "fallback for %s %s timed out after %s (fallback.statement_timeout; preflight cancelled it)",
                      pf_kind_name(it->kind), it->display, pf_duration_format(m->statement_timeout_ms, d1, sizeof(d1)));
      } else if (!pf_db_connected(db)) {
        r = pf_seterr(err, errlen, PF_EDB, "connection lost during the fallback for %s: %s", it->display, e->message);
      } else {
        /* PostgreSQL's error position counts in this statement: its line is found from the item's
         * first line plus the lines before the statement. */
        int line, col;
        pf_fallback_position(it->fallback, (long)stmts[k].start + 1, it->fallback_line, &line, &col);
        r = pf__fallback_error(db, m, it, one, line, err, errlen);
        if (pf_db_connected(db) && PQtransactionStatus(pf_db_conn(db)) != PQTRANS_IDLE) pf__rollback(db);
      }
    } else if (r == 0) {
      r = pf__txn_backstop(db, m, it, false, err, errlen);
      if (r != 0) pf__rollback(db);
    }
    free(one);
  }
  free(stmts);
  return r;
}

/* Runs the fallbacks of one phase (in or out of the transaction). `cur` is the latest
 * verification, replaced whenever a fallback has run since it was taken. */
static int pf__run_phase(pf_db_t *db, pf_lock_t *lock, const pf_manifest_t *m, bool in_txn, const size_t *order,
                         pf_verify_t *cur, pf_fallback_t *fb, int *ran, char *err, size_t errlen) {
  /* In the transaction, verify once more before the first item: the work lock may have waited
   * for a killed holder's transaction, which could have committed in the meantime. */
  bool stale = in_txn;
  char d1[32];
  for (size_t k = 0; k < m->nitems; k++) {
    size_t i = order[k];
    const pf_item_t *it = &m->items[i];
    if (it->transaction != in_txn || it->fallback == NULL) continue;
    if (stale) {
      pf_verify_t next;
      int r = pf_catalog_verify(db, m, in_txn, &next, err, errlen);
      if (r != 0) return r;
      pf_verify_free(cur);
      *cur = next;
      stale = false;
    }
    if (!pf__needs(m, cur, i)) {
      if (fb->outcome[i] == PF_FB_NONE && cur->items[i].state == PF_OBJ_PRESENT && *ran > 0)
        fb->outcome[i] = PF_FB_BY_OTHER;
      continue;
    }
    pf_log_info("applying fallback for %s %s%s%s (%s)", pf_kind_name(it->kind), it->display,
                it->fallback_file ? " from " : "", it->fallback_file ? it->fallback_file : "",
                cur->items[i].detail ? cur->items[i].detail : "missing");
    uint64_t t0 = pf_now_ms();
    int r;
    if (in_txn) {
      r = pf__exec(db, it->fallback);
      if (r == PF_EDB) {
        if (!pf_db_connected(db))
          r = pf_seterr(err, errlen, PF_EDB, "connection lost during the fallback for %s: %s", it->display,
                        pf_db_last_error(db)->message);
        else
          r = pf__fallback_error(db, m, it, it->fallback, it->fallback_line, err, errlen);
      } else if (r == 0) {
        r = pf__txn_backstop(db, m, it, true, err, errlen);
      }
    } else {
      r = pf__exec_outside(db, lock, m, it, err, errlen);
    }
    fb->executed++;
    if (r != 0) {
      if (r != PF_ESIGNAL) fb->outcome[i] = PF_FB_FAILED;
      return r;
    }
    pf_log_debug("fallback for %s took %s", it->display, pf_duration_format((int64_t)(pf_now_ms() - t0), d1, sizeof(d1)));
    fb->outcome[i] = PF_FB_CREATED;
    (*ran)++;
    stale = true;
  }
  return 0;
}

/* Marks the items that were missing at first but present under the lock: someone else did it. */
static void pf__mark_by_other(const pf_manifest_t *m, const pf_verify_t *v, const pf_verify_t *cur, pf_fallback_t *fb) {
  for (size_t i = 0; i < m->nitems; i++)
    if (pf__needs(m, v, i) && fb->outcome[i] == PF_FB_NONE && cur->items[i].state == PF_OBJ_PRESENT)
      fb->outcome[i] = PF_FB_BY_OTHER;
}

/* The transactional part: BEGIN, the items, `after`, COMMIT. On failure it rolls back. */
static int pf__run_txn(pf_db_t *db, pf_lock_t *lock, const pf_manifest_t *m, const size_t *order, pf_verify_t *cur,
                       pf_fallback_t *fb, int *ran, char *err, size_t errlen) {
  char buf[512];
  /* SET LOCAL: the settings end with the transaction, on whichever server connection runs it.
   * First the work lock (lock.h: pf_lock_work_id), waited for up to statement_timeout: normally
   * free at once, it is held only by the transaction of a holder that was killed and whose
   * backend has not noticed yet. client_connection_check_interval (PostgreSQL 14+) makes our own
   * backend notice within a second that we are gone, should we be killed in turn. */
  PGconn *c = pf_db_conn(db);
  snprintf(buf, sizeof(buf),
           "BEGIN; SET LOCAL lock_timeout = 0; SET LOCAL statement_timeout = '%lldms'; %s"
           "SELECT pg_catalog.pg_advisory_xact_lock(%lld); "
           "SET LOCAL lock_timeout = '%lldms'",
           (long long)m->statement_timeout_ms,
           c && PQserverVersion(c) >= 140000 ? "SET LOCAL client_connection_check_interval = '1s'; " : "",
           (long long)pf_lock_work_id(m->lock_key), (long long)m->lock_timeout_ms);
  int r = pf__exec(db, buf);
  if (r != 0) {
    if (r == PF_EDB)
      r = pf_seterr(err, errlen, PF_EDB, "cannot start the fallback transaction: %s", pf_db_last_error(db)->message);
    if (pf_db_connected(db) && PQtransactionStatus(pf_db_conn(db)) != PQTRANS_IDLE) pf__rollback(db);
    return r;
  }
  r = pf__run_phase(db, lock, m, true, order, cur, fb, ran, err, errlen);
  if (r == 0 && m->after && *ran > 0) {
    r = pf__exec(db, m->after);
    if (r == PF_EDB) r = pf__fallback_error(db, m, NULL, m->after, 1, err, errlen);
  }
  if (r == 0) r = pf_lock_check(lock, err, errlen);
  if (r == 0) {
    r = pf__exec(db, "COMMIT");
    if (r == PF_EDB)
      return pf_seterr(err, errlen, PF_EFALLBACK, "COMMIT of the fallback transaction failed: %s",
                       pf_db_last_error(db)->message);
    return r;
  }
  if (r == PF_EDB && err[0] == '\0')
    pf_seterr(err, errlen, PF_EDB, "fallback transaction: %s", pf_db_last_error(db)->message);
  pf__rollback(db);
  return r;
}

int pf_fallback_apply(pf_db_t *db, pf_lock_t *lock, const pf_manifest_t *m, const pf_verify_t *v, pf_fallback_t *fb,
                      char *err, size_t errlen) {
  memset(fb, 0, sizeof(*fb));
  fb->nitems = m->nitems;
  fb->outcome = pf_xcalloc(m->nitems ? m->nitems : 1, sizeof(*fb->outcome));
  fb->lock_wait_ms = pf_lock_waited_ms(lock);
  bool any = false;
  for (size_t i = 0; i < m->nitems; i++)
    if (pf__needs(m, v, i)) any = true;
  if (!any) return 0;

  size_t *order = pf_xcalloc(m->nitems, sizeof(*order));
  pf__order(m, order);
  pf_verify_t cur;
  int ran = 0;
  /* Under the lock: what is still missing now that nobody else can be repairing? */
  int r = pf_catalog_verify(db, m, false, &cur, err, errlen);
  if (r != 0) goto fail_verify;
  bool any_txn = false, any_out = false;
  for (size_t i = 0; i < m->nitems; i++) {
    if (!pf__needs(m, &cur, i)) continue;
    if (m->items[i].transaction) any_txn = true;
    else any_out = true;
  }
  if (any_txn) {
    r = pf__run_txn(db, lock, m, order, &cur, fb, &ran, err, errlen);
    if (r != 0) goto fail;
  }
  pf__mark_by_other(m, v, &cur, fb);

  if (any_out) {
    int before = ran;
    if (ran > 0) {
      pf_verify_free(&cur);
      r = pf_catalog_verify(db, m, false, &cur, err, errlen);
      if (r != 0) goto fail_verify;
    }
    r = pf__run_phase(db, lock, m, false, order, &cur, fb, &ran, err, errlen);
    if (r == 0 && m->after && before == 0 && ran > 0) {
      /* Outside a transaction, as the items before it: bounded by a deadline, not a SET. */
      r = pf_db_query(db, m->after, -1, NULL, m->statement_timeout_ms);
      if (r == PF_EDB) r = pf__fallback_error(db, m, NULL, m->after, 1, err, errlen);
    }
    pf__mark_by_other(m, v, &cur, fb);
  }
fail:
  pf_verify_free(&cur);
fail_verify:
  free(order);
  return r;
}

void pf_fallback_free(pf_fallback_t *fb) {
  free(fb->outcome);
  memset(fb, 0, sizeof(*fb));
}
