/* The fallback transaction:
 *
 *   BEGIN; SET LOCAL statement_timeout; SELECT pg_advisory_xact_lock(key);
 *   verify again (another replica may have repaired everything while we waited);
 *   SET LOCAL lock_timeout, statement_timeout;
 *   for each missing item in dependency order: verify again if a fallback ran since the last
 *     verification (the table's fallback may have created its columns), then run its SQL;
 *   `after`; COMMIT;
 *   then the `transaction: false` items, one by one, outside any transaction.
 *
 * Any error rolls the whole transaction back: the database is left as it was. */
#include "preflight/fallback.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preflight/duration.h"
#include "preflight/error.h"
#include "preflight/log.h"

int64_t pf_fallback_lock_id(const char *lock_key) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const unsigned char *p = (const unsigned char *)lock_key; *p; p++) {
    h ^= *p;
    h *= 0x100000001b3ULL;
  }
  return (int64_t)h;
}

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
static void pf__order(const pf_manifest_t *m, size_t *order) {
  size_t n = 0;
  for (int k = 0; k < PF_KIND__COUNT; k++)
    for (size_t i = 0; i < m->nitems; i++)
      if ((int)m->items[i].kind == k) order[n++] = i;
}

/* Runs the fallbacks of one phase (in or out of the transaction). `cur` is the latest
 * verification, replaced whenever a fallback has run since it was taken. */
static int pf__run_phase(pf_db_t *db, const pf_manifest_t *m, bool in_txn, const size_t *order, pf_verify_t *cur,
                         pf_fallback_t *fb, int *ran, char *err, size_t errlen) {
  bool stale = false;
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
    if (!in_txn) {
      /* Outside a transaction SET LOCAL means nothing: set the timeouts for the session. */
      char *set = pf_xasprintf("SET lock_timeout = '%lldms'; SET statement_timeout = '%lldms'",
                               (long long)m->lock_timeout_ms, (long long)m->statement_timeout_ms);
      int r = pf__exec(db, set);
      free(set);
      if (r != 0) return r == PF_ESIGNAL ? r : pf_seterr(err, errlen, PF_EDB, "%s", pf_db_last_error(db)->message);
    }
    pf_log_info("applying fallback for %s %s%s%s (%s)", pf_kind_name(it->kind), it->display,
                it->fallback_file ? " from " : "", it->fallback_file ? it->fallback_file : "",
                cur->items[i].detail ? cur->items[i].detail : "missing");
    uint64_t t0 = pf_now_ms();
    int r = pf__exec(db, it->fallback);
    fb->executed++;
    if (r == PF_ESIGNAL) return r;
    if (r != 0) {
      fb->outcome[i] = PF_FB_FAILED;
      if (!pf_db_connected(db))
        return pf_seterr(err, errlen, PF_EDB, "connection lost during the fallback for %s: %s", it->display,
                         pf_db_last_error(db)->message);
      return pf__fallback_error(db, m, it, it->fallback, it->fallback_line, err, errlen);
    }
    pf_log_debug("fallback for %s took %s", it->display, pf_duration_format((int64_t)(pf_now_ms() - t0), d1, sizeof(d1)));
    fb->outcome[i] = PF_FB_CREATED;
    (*ran)++;
    stale = true;
  }
  return 0;
}

/* Rolls back after a failure, keeping the original error message for the caller. */
static void pf__rollback(pf_db_t *db) {
  if (!pf_db_connected(db)) return;
  pf_db_error_t saved = *pf_db_last_error(db);
  if (pf__exec(db, "ROLLBACK") != 0) pf_log_debug("rollback failed: %s", pf_db_last_error(db)->message);
  *(pf_db_error_t *)pf_db_last_error(db) = saved;
}

int pf_fallback_apply(pf_db_t *db, const pf_manifest_t *m, const pf_verify_t *v, pf_fallback_t *fb, char *err,
                      size_t errlen) {
  memset(fb, 0, sizeof(*fb));
  fb->nitems = m->nitems;
  fb->outcome = pf_xcalloc(m->nitems ? m->nitems : 1, sizeof(*fb->outcome));
  bool any_txn = false, any_out = false;
  for (size_t i = 0; i < m->nitems; i++) {
    if (!pf__needs(m, v, i)) continue;
    if (m->items[i].transaction) any_txn = true;
    else any_out = true;
  }
  if (!any_txn && !any_out) return 0;

  size_t *order = pf_xcalloc(m->nitems, sizeof(*order));
  pf__order(m, order);
  pf_verify_t cur;
  int r, ran = 0;
  char buf[256], d1[32];
  int64_t lock_id = pf_fallback_lock_id(m->lock_key);

  /* The transaction part. The lock wait is bounded by statement_timeout: a replica repairing
   * slowly holds it, and we want to wait for that, not fail on lock_timeout. */
  snprintf(buf, sizeof(buf), "BEGIN; SET LOCAL statement_timeout = '%lldms'; SET LOCAL lock_timeout = 0",
           (long long)m->statement_timeout_ms);
  r = pf__exec(db, buf);
  if (r != 0) goto fail_begin;
  pf_log_debug("taking advisory lock %lld (lock_key \"%s\")", (long long)lock_id, m->lock_key);
  uint64_t t0 = pf_now_ms();
  snprintf(buf, sizeof(buf), "%lld", (long long)lock_id);
  const char *params[1] = {buf};
  r = pf_db_query(db, "SELECT pg_catalog.pg_advisory_xact_lock($1::bigint)", 1, params, 0);
  if (r != 0) goto fail_txn;
  fb->lock_wait_ms = (int64_t)(pf_now_ms() - t0);
  if (fb->lock_wait_ms >= 100)
    pf_log_info("waited %s for the fallback lock (another replica was repairing)",
                pf_duration_format(fb->lock_wait_ms, d1, sizeof(d1)));

  r = pf_catalog_verify(db, m, true, &cur, err, errlen);
  if (r != 0) goto fail_verify;
  snprintf(buf, sizeof(buf), "SET LOCAL lock_timeout = '%lldms'; SET LOCAL statement_timeout = '%lldms'",
           (long long)m->lock_timeout_ms, (long long)m->statement_timeout_ms);
  r = pf__exec(db, buf);
  if (r != 0) goto fail_cur;

  r = pf__run_phase(db, m, true, order, &cur, fb, &ran, err, errlen);
  if (r != 0) goto fail_phase;
  if (m->after && ran > 0) {
    r = pf__exec(db, m->after);
    if (r != 0) {
      if (r != PF_ESIGNAL) r = pf__fallback_error(db, m, NULL, m->after, 1, err, errlen);
      goto fail_phase;
    }
  }
  r = pf__exec(db, "COMMIT");
  if (r != 0) {
    if (r == PF_EDB) r = pf_seterr(err, errlen, PF_EFALLBACK, "COMMIT of the fallback transaction failed: %s",
                                   pf_db_last_error(db)->message);
    goto fail_phase;
  }
  /* Items that were already present once we held the lock were repaired by someone else. */
  for (size_t i = 0; i < m->nitems; i++)
    if (pf__needs(m, v, i) && fb->outcome[i] == PF_FB_NONE && cur.items[i].state == PF_OBJ_PRESENT)
      fb->outcome[i] = PF_FB_BY_OTHER;

  if (any_out) {
    int before = ran;
    pf_verify_free(&cur);
    r = pf_catalog_verify(db, m, false, &cur, err, errlen);
    if (r != 0) goto fail_committed;
    r = pf__run_phase(db, m, false, order, &cur, fb, &ran, err, errlen);
    if (r == 0 && m->after && before == 0 && ran > 0) {
      r = pf__exec(db, m->after);
      if (r == PF_EDB) r = pf__fallback_error(db, m, NULL, m->after, 1, err, errlen);
    }
    if (pf_db_connected(db) && pf__exec(db, "RESET lock_timeout; RESET statement_timeout") != 0 && r == 0)
      r = pf_seterr(err, errlen, PF_EDB, "%s", pf_db_last_error(db)->message);
    pf_verify_free(&cur);
    free(order);
    return r;
  }
  pf_verify_free(&cur);
  free(order);
  return 0;

fail_phase:
fail_cur:
  pf_verify_free(&cur);
fail_verify:
fail_txn:
  if (r == PF_EDB && err[0] == '\0')
    pf_seterr(err, errlen, PF_EDB, "fallback transaction: %s", pf_db_last_error(db)->message);
  pf__rollback(db);
  free(order);
  return r;
fail_begin:
  if (r == PF_EDB) pf_seterr(err, errlen, PF_EDB, "cannot start the fallback transaction: %s", pf_db_last_error(db)->message);
  free(order);
  return r;
fail_committed:
  free(order);
  return r;
}

void pf_fallback_free(pf_fallback_t *fb) {
  free(fb->outcome);
  memset(fb, 0, sizeof(*fb));
}
