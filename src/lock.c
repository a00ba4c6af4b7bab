/* The replica-wide advisory lock on a connection of its own (see lock.h for why).
 *
 * Taking it is a poll, not a blocking pg_advisory_xact_lock: a backend blocked inside a SELECT
 * holds a snapshot for as long as it waits, and a lock holder's CREATE INDEX CONCURRENTLY waits for
 * every transaction with an older snapshot to END. A blocked waiter would therefore wait on the
 * holder while the holder's index build waits on the waiter. Each attempt is
 *     BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_try_advisory_xact_lock(id)
 * and, when the lock is busy, ROLLBACK: the waiter's transaction lives for one round trip, and its
 * snapshot only for the statement. Once the lock is ours the transaction stays open, holding the
 * lock and nothing else (READ COMMITTED drops the statement's snapshot when it returns). */
#include "preflight/lock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "preflight/backoff.h"
#include "preflight/db.h"
#include "preflight/duration.h"
#include "preflight/error.h"
#include "preflight/log.h"
#include "preflight/signals.h"

/* First and longest delay between two attempts. Short, because a waiting replica should start
 * soon after the holder is done, and cheap: one attempt is two tiny round trips. */
#define PF__LOCK_POLL_FIRST_MS 20
#define PF__LOCK_POLL_MAX_MS 250
/* How often a long wait is reported while it lasts. */
#define PF__LOCK_PROGRESS_MS 10000
/* Upper bound for our own short statements on the lock connection (rollback, holder lookup). */
#define PF__LOCK_STMT_MS 5000

struct pf_lock {
  pf_db_t *db;
  int64_t id;
  int64_t waited_ms;
};

/* FNV-1a of the bytes of a, then of b. */
static int64_t pf__fnv(const char *a, const char *b) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const char *s = a; s; s = s == a ? b : NULL)
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
      h ^= *p;
      h *= 0x100000001b3ULL;
    }
  return (int64_t)h;
}

int64_t pf_lock_id(const char *lock_key) { return pf__fnv(lock_key, ""); }
int64_t pf_lock_work_id(const char *lock_key) { return pf__fnv(lock_key, "/work"); }

/* Describes who holds advisory lock id in this database, from pg_locks and pg_stat_activity, into
 * out: "pid 123 (application_name "x", client 10.0.0.5, holding it since ... (12 s))". A role
 * without pg_read_all_stats sees other roles' sessions only partly; what is unknown is left out.
 * Leaves out empty when the lookup fails or the lock is free by now. */
static void pf__lock_holder(pf_db_t *db, int64_t id, char *out, size_t outlen) {
  out[0] = '\0';
  /* A bigint advisory key is stored as classid = high 32 bits, objid = low 32 bits, objsubid 1. */
  uint64_t u = (uint64_t)id;
  char hi[16], lo[16];
  snprintf(hi, sizeof(hi), "%u", (unsigned)(u >> 32));
  snprintf(lo, sizeof(lo), "%u", (unsigned)(u & 0xffffffffu));
  const char *params[2] = {hi, lo};
  static const char sql[] =
      "SELECT l.pid, a.application_name, host(a.client_addr), "
      "to_char(a.xact_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
      "round(extract(epoch FROM clock_timestamp() - a.xact_start))::bigint, a.state "
      "FROM pg_catalog.pg_locks l LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid "
      "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::oid AND l.objid = $2::oid "
      "AND l.objsubid = 1 AND l.database = (SELECT oid FROM pg_catalog.pg_database "
      "WHERE datname = pg_catalog.current_database()) LIMIT 1";
  if (pf_db_query(db, sql, 2, params, PF__LOCK_STMT_MS) != 0) return;
  PGresult *res = pf_db_result(db);
  if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) < 1) return;
  pf_buf_t b = {0};
  pf_buf_printf(&b, "pid %s", PQgetvalue(res, 0, 0));
  const char *sep = " (";
  if (!PQgetisnull(res, 0, 1) && *PQgetvalue(res, 0, 1)) {
    pf_buf_printf(&b, "%sapplication_name \"%s\"", sep, PQgetvalue(res, 0, 1));
    sep = ", ";
  }
  if (!PQgetisnull(res, 0, 2)) {
    pf_buf_printf(&b, "%sclient %s", sep, PQgetvalue(res, 0, 2));
    sep = ", ";
  }
  if (!PQgetisnull(res, 0, 3)) {
    pf_buf_printf(&b, "%sin a transaction since %s (%s s)", sep, PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 4));
    sep = ", ";
  }
  if (!PQgetisnull(res, 0, 5)) {
    pf_buf_printf(&b, "%sstate %s", sep, PQgetvalue(res, 0, 5));
    sep = ", ";
  }
  if (strcmp(sep, ", ") == 0) pf_buf_putc(&b, ')');
  snprintf(out, outlen, "%s", b.data);
  pf_buf_free(&b);
}

/* Maps a failure on the lock connection to a code and message. */
static int pf__lock_fail(pf_db_t *db, int r, const char *what, char *err, size_t errlen) {
  if (r == PF_ESIGNAL) return r;
  const pf_db_error_t *e = pf_db_last_error(db);
  int code = e->needs_password || strncmp(e->sqlstate, "28", 2) == 0 || strcmp(e->sqlstate, "42501") == 0 ? PF_EAUTH
                                                                                                            : PF_EDB;
  return pf_seterr(err, errlen, code, "replica-wide lock: %s: %s", what, e->message);
}

int pf_lock_acquire(uv_loop_t *loop, const pf_lock_opts_t *o, pf_lock_t **out, char *err, size_t errlen) {
  *out = NULL;
  const char *purpose = o->purpose ? o->purpose : "repairs";
  pf_lock_t *l = pf_xcalloc(1, sizeof(*l));
  l->db = pf_db_new(loop);
  l->id = pf_lock_id(o->lock_key);
  /* What other replicas' messages call us when we hold it: the host name is the pod's or the
   * container's name. PostgreSQL truncates application_name to 63 bytes. */
  char host[64] = "";
  if (gethostname(host, sizeof(host)) != 0) host[0] = '\0';
  host[sizeof(host) - 1] = '\0';
  char app[128];
  snprintf(app, sizeof(app), "preflight lock %s pid %ld", host, (long)getpid());
  pf_db_set_application_name(l->db, app);

  int r = pf_db_connect(l->db, o->conninfo, o->connect_timeout_ms);
  if (r != 0) {
    r = pf__lock_fail(l->db, r, "cannot open the lock connection", err, errlen);
    goto fail;
  }
  /* The key is our own number, not a name: formatting it into the text is safe. The SET LOCALs
   * end with the transaction, so they never reach another pool client. The first keeps a
   * server-wide idle_in_transaction_session_timeout from ending our transaction (and so releasing
   * the lock) while a long fallback or migration runs on the other connection. The keepalives
   * make the server notice within about 25 s that a holder's host vanished without closing its
   * socket (a killed process closes it: the server sees that at once); over a Unix socket, or
   * behind PgBouncer, where the server's socket is the pooler's, they change nothing. */
  char try_sql[384];
  snprintf(try_sql, sizeof(try_sql),
           "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL idle_in_transaction_session_timeout = 0; "
           "SET LOCAL tcp_keepalives_idle = 10; SET LOCAL tcp_keepalives_interval = 5; "
           "SET LOCAL tcp_keepalives_count = 3; SELECT pg_catalog.pg_try_advisory_xact_lock(%lld)",
           (long long)l->id);
  pf_backoff_t bo;
  pf_backoff_init(&bo, PF__LOCK_POLL_FIRST_MS, PF__LOCK_POLL_MAX_MS, 0);
  uint64_t t0 = pf_now_ms(), next_progress = 0;
  char holder[512] = "", d1[32], d2[32];
  for (int attempt = 1;; attempt++) {
    r = pf_db_query(l->db, try_sql, -1, NULL, PF__LOCK_STMT_MS);
    if (r != 0) {
      r = pf__lock_fail(l->db, r, "taking the advisory lock failed", err, errlen);
      goto fail;
    }
    PGresult *res = pf_db_result(l->db);
    bool got = res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
               strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    if (got) break;
    r = pf_db_query(l->db, "ROLLBACK", -1, NULL, PF__LOCK_STMT_MS);
    if (r != 0) {
      r = pf__lock_fail(l->db, r, "ending a lock attempt failed", err, errlen);
      goto fail;
    }
    uint64_t now = pf_now_ms();
    int64_t waited = (int64_t)(now - t0);
    if (o->wait_ms > 0 && waited >= o->wait_ms) {
      pf__lock_holder(l->db, l->id, holder, sizeof(holder));
      r = pf_seterr(err, errlen, PF_ELOCKWAIT,
                    "gave up waiting for the replica-wide lock (lock_key \"%s\", advisory lock %lld) after %s: "
                    "held by %s; another replica (or session) is still repairing or migrating, or is stuck; "
                    "fallback.statement_timeout (plus migrate.timeout when a migration is configured) bounds this wait",
                    o->lock_key, (long long)l->id, pf_duration_format(waited, d1, sizeof(d1)),
                    holder[0] ? holder : "a session this role cannot see");
      goto fail;
    }
    if (attempt == 1 || now >= next_progress) {
      pf__lock_holder(l->db, l->id, holder, sizeof(holder));
      if (attempt == 1)
        pf_log_info("waiting for the replica-wide lock (lock_key \"%s\") for %s: held by %s", o->lock_key, purpose,
                    holder[0] ? holder : "another session");
      else
        pf_log_info("still waiting for the replica-wide lock (lock_key \"%s\") after %s%s%s: held by %s", o->lock_key,
                    pf_duration_format(waited, d1, sizeof(d1)), o->wait_ms > 0 ? ", giving up in " : "",
                    o->wait_ms > 0 ? pf_duration_format(o->wait_ms - waited, d2, sizeof(d2)) : "",
                    holder[0] ? holder : "another session");
      next_progress = pf_now_ms() + PF__LOCK_PROGRESS_MS;
    }
    int64_t delay = pf_backoff_next(&bo);
    if (o->wait_ms > 0 && delay > o->wait_ms - waited) delay = o->wait_ms - waited;
    r = pf_db_sleep(l->db, delay);
    if (r != 0) goto fail;
  }
  l->waited_ms = (int64_t)(pf_now_ms() - t0);
  if (l->waited_ms >= 100)
    pf_log_info("took the replica-wide lock after waiting %s", pf_duration_format(l->waited_ms, d1, sizeof(d1)));
  else
    pf_log_debug("took the replica-wide lock (lock_key \"%s\", advisory lock %lld)", o->lock_key, (long long)l->id);
  *out = l;
  return 0;

fail:
  pf_db_free(l->db);
  free(l);
  return r;
}

int pf_lock_check(pf_lock_t *l, char *err, size_t errlen) {
  /* An empty query is a full round trip that takes no snapshot and no lock. */
  int r = pf_db_query(l->db, "", -1, NULL, PF__LOCK_STMT_MS);
  if (r == PF_ESIGNAL) return r;
  PGconn *c = pf_db_conn(l->db);
  if (r != 0 || c == NULL || PQtransactionStatus(c) != PQTRANS_INTRANS)
    return pf_seterr(err, errlen, PF_EDB,
                     "the replica-wide lock was lost (its connection %s); not committing, another replica may be "
                     "repairing now",
                     r != 0 ? pf_db_last_error(l->db)->message : "left its transaction");
  return 0;
}

int64_t pf_lock_waited_ms(const pf_lock_t *l) { return l ? l->waited_ms : 0; }

void pf_lock_release(pf_lock_t *l) {
  if (l == NULL) return;
  /* After a stop signal a ROLLBACK would only be cancelled (a PQcancel round trip on a new
   * connection, ~100 ms): closing the connection releases the lock on the server just as well. */
  if (pf_db_connected(l->db) && pf_signals_caught() == 0 &&
      pf_db_query(l->db, "ROLLBACK", -1, NULL, PF__LOCK_STMT_MS) != 0)
    pf_log_debug("releasing the replica-wide lock: %s (closing its connection instead)", pf_db_last_error(l->db)->message);
  pf_db_free(l->db);
  free(l);
}
