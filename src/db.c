/* libpq on a libuv loop.
 *
 * libpq is used strictly in its non-blocking form: PQconnectStartParams/PQconnectPoll for the
 * connection, PQsendQuery, PQflush/PQconsumeInput/PQisBusy for queries. Each time libpq says it waits
 * for the socket, we watch PQsocket() with a uv_poll_t. The watch is stopped before every call
 * into libpq and restarted after it, and a new uv_poll_t is made whenever the descriptor number
 * changes: during a connection libpq may close its socket and open another (next address, SSL
 * fallback), and libuv must never keep a closed descriptor registered with epoll. */
#include "preflight/db.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preflight/cancel.h"
#include "preflight/error.h"
#include "preflight/log.h"
#include "preflight/signals.h"

typedef enum { PF__DB_IDLE, PF__DB_RESOLVING, PF__DB_CONNECTING, PF__DB_QUERYING, PF__DB_SLEEPING } pf__db_state_t;

/* A name lookup in libuv's thread pool. It cannot be interrupted, so when we stop waiting for it
 * (timeout, signal) it is marked abandoned and frees itself when it completes. */
typedef struct {
  uv_getaddrinfo_t req;
  pf_db_t *db;
  bool abandoned;
} pf__db_lookup_t;

struct pf_db {
  uv_loop_t *loop;
  PGconn *conn;
  bool connected;
  uv_poll_t *poll;          /* heap: closed asynchronously when the descriptor changes */
  int poll_fd;
  uv_timer_t timer;
  pf__db_state_t state;
  bool flushing;            /* PQflush still has data to send */
  bool done;                /* the current operation finished */
  int status;               /* its outcome: 0 or PF_EDB */
  pf_db_cb cb;
  void *cb_arg;
  PGresult *result;
  pf_db_error_t error;
  char *conninfo;           /* the connect in progress: kept while its host name resolves */
  char *host;               /* that host name */
  pf__db_lookup_t *lookup;  /* the lookup in flight, or NULL */
  char *app_name;           /* fallback_application_name; NULL = "preflight" */
  /* A pipeline in progress (pf_db_pipeline), else pipe == NULL. */
  const pf_db_stmt_t *pipe;
  size_t pipe_n, pipe_next;  /* statements; index of the one whose results come next */
  size_t pipe_syncs, pipe_synced;
  PGresult **pipe_results;
};

static void pf__db_on_poll(uv_poll_t *h, int status, int events);
static int pf__db_run(pf_db_t *db);

/* Frees a poll handle once libuv has finished closing it. */
static void pf__db_free_handle(uv_handle_t *h) { free(h); }

/* Stops watching the socket (if watched) without closing the handle. */
static void pf__db_unwatch(pf_db_t *db) {
  if (db->poll != NULL) uv_poll_stop(db->poll);
}

/* Closes the poll handle; the memory is released by the loop. */
static void pf__db_drop_poll(pf_db_t *db) {
  if (db->poll == NULL) return;
  uv_poll_stop(db->poll);
  uv_close((uv_handle_t *)db->poll, pf__db_free_handle);
  db->poll = NULL;
  db->poll_fd = -1;
}

/* Watches libpq's current socket for `events`. Returns 0 or a negative libuv error. */
static int pf__db_watch(pf_db_t *db, int events) {
  int fd = PQsocket(db->conn);
  if (fd < 0) return UV_EBADF;
  if (db->poll != NULL && db->poll_fd != fd) pf__db_drop_poll(db);
  if (db->poll == NULL) {
    db->poll = pf_xmalloc(sizeof(*db->poll));
    int r = uv_poll_init(db->loop, db->poll, fd);
    if (r != 0) {
      free(db->poll);
      db->poll = NULL;
      return r;
    }
    db->poll->data = db;
    db->poll_fd = fd;
  }
  return uv_poll_start(db->poll, events, pf__db_on_poll);
}

/* Copies a libpq message into the error record, splitting off its SQLSTATE. */
static void pf__db_set_error(pf_db_t *db, const char *msg) {
  pf_db_parse_error(msg ? msg : "", db->error.sqlstate, db->error.message, sizeof(db->error.message));
  if (db->error.message[0] == '\0') snprintf(db->error.message, sizeof(db->error.message), "unknown error");
}

/* Ends the current operation with status and calls the completion callback. */
static void pf__db_finish(pf_db_t *db, int status) {
  pf__db_unwatch(db);
  uv_timer_stop(&db->timer);
  db->state = PF__DB_IDLE;
  db->done = true;
  db->status = status;
  if (db->cb) {
    pf_db_cb cb = db->cb;
    db->cb = NULL;
    cb(db, status, db->cb_arg);
  }
}

/* Routes libpq's notices (NOTICE: relation already exists, skipping) to our log at debug level
 * instead of letting libpq print them unprefixed. */
static void pf__db_notice(void *arg, const char *message) {
  char sqlstate[6], clean[1024];
  pf_db_parse_error(message, sqlstate, clean, sizeof(clean));
  pf_log_debug("server: %s", clean);
}

pf_db_t *pf_db_new(uv_loop_t *loop) {
  pf_db_t *db = pf_xcalloc(1, sizeof(*db));
  db->loop = loop;
  db->poll_fd = -1;
  uv_timer_init(loop, &db->timer);
  db->timer.data = db;
  return db;
}

void pf_db_set_application_name(pf_db_t *db, const char *name) {
  free(db->app_name);
  db->app_name = pf_xstrdup(name);
}

void pf_db_disconnect(pf_db_t *db) {
  if (db->lookup) {
    db->lookup->abandoned = true;
    db->lookup = NULL;
  }
  pf__db_drop_poll(db);
  uv_timer_stop(&db->timer);
  if (db->result) PQclear(db->result);
  db->result = NULL;
  if (db->conn) PQfinish(db->conn);
  db->conn = NULL;
  db->pipe = NULL;
  db->connected = false;
  db->state = PF__DB_IDLE;
}

void pf_db_free(pf_db_t *db) {
  if (db == NULL) return;
  pf_db_disconnect(db);
  free(db->conninfo);
  free(db->host);
  free(db->app_name);
  uv_close((uv_handle_t *)&db->timer, NULL);
  /* Let the loop finish closing our handles so no callback can touch freed memory. */
  uv_run(db->loop, UV_RUN_NOWAIT);
  free(db);
}

/* Advances the connection after the socket became ready (or at the start). */
static void pf__db_connect_step(pf_db_t *db) {
  PostgresPollingStatusType st = PQconnectPoll(db->conn);
  int r = 0;
  switch (st) {
    case PGRES_POLLING_READING: r = pf__db_watch(db, UV_READABLE); break;
    case PGRES_POLLING_WRITING: r = pf__db_watch(db, UV_WRITABLE); break;
    case PGRES_POLLING_OK:
      db->connected = true;
      PQsetnonblocking(db->conn, 1);
      pf__db_finish(db, 0);
      return;
    default:
      db->error.needs_password = PQconnectionNeedsPassword(db->conn) != 0;
      pf__db_set_error(db, PQerrorMessage(db->conn));
      pf__db_finish(db, PF_EDB);
      return;
  }
  if (r != 0) {
    snprintf(db->error.message, sizeof(db->error.message), "cannot watch the socket: %s", uv_strerror(r));
    pf__db_finish(db, PF_EDB);
  }
}

/* Stores one result of the running query: the first error wins, else the latest result. */
static void pf__db_keep_result(pf_db_t *db, PGresult *res) {
  ExecStatusType st = PQresultStatus(res);
  bool is_error = st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_NONFATAL_ERROR;
  if (db->result && PQresultStatus(db->result) == PGRES_FATAL_ERROR) {
    PQclear(res);
    return;
  }
  /* In a multi-statement query ("BEGIN READ ONLY; SELECT ...; ROLLBACK") the rows are what the
   * caller wants, not the status of the statement that came after them. */
  if (!is_error && db->result && PQresultStatus(db->result) == PGRES_TUPLES_OK && st != PGRES_TUPLES_OK) {
    PQclear(res);
    return;
  }
  if (db->result) PQclear(db->result);
  db->result = res;
  if (is_error) {
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    snprintf(db->error.sqlstate, sizeof(db->error.sqlstate), "%s", state ? state : "");
    const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    snprintf(db->error.message, sizeof(db->error.message), "%s",
             primary ? primary : PQresultErrorMessage(res));
    /* Messages that quote SQL ("at or near ...") can span lines; logs are one line each. */
    for (char *p = db->error.message; *p; p++)
      if (*p == '\n' || *p == '\r' || *p == '\t') *p = ' ';
  }
}

/* Reads whatever the server sent and collects complete results; finishes the query when libpq
 * has no more results, or watches the socket again. */
static void pf__db_query_step(pf_db_t *db, int events) {
  if (db->flushing && (events & UV_WRITABLE)) {
    int f = PQflush(db->conn);
    if (f < 0) goto broken;
    db->flushing = f == 1;
  }
  if (events & UV_READABLE) {
    if (!PQconsumeInput(db->conn)) goto broken;
  }
  if (db->pipe != NULL) {
    /* Pipeline mode: each statement's results end with a NULL from PQgetResult; a
     * synchronisation point yields PGRES_PIPELINE_SYNC. Done once every sync is back. */
    while (!PQisBusy(db->conn)) {
      PGresult *res = PQgetResult(db->conn);
      if (res == NULL) {
        if (db->pipe_next < db->pipe_n) db->pipe_next++;
        continue;
      }
      if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
        PQclear(res);
        if (++db->pipe_synced == db->pipe_syncs) {
          PQexitPipelineMode(db->conn);
          db->pipe = NULL;
          pf__db_finish(db, 0);
          return;
        }
        continue;
      }
      if (db->pipe_next < db->pipe_n && db->pipe_results[db->pipe_next] == NULL)
        db->pipe_results[db->pipe_next] = res;
      else
        PQclear(res);
    }
    if (PQstatus(db->conn) == CONNECTION_BAD) goto broken;
    if (pf__db_watch(db, UV_READABLE | (db->flushing ? UV_WRITABLE : 0)) == 0) return;
    goto broken;
  }
  while (!PQisBusy(db->conn)) {
    PGresult *res = PQgetResult(db->conn);
    if (res == NULL) {
      bool failed = db->result == NULL || PQresultStatus(db->result) == PGRES_FATAL_ERROR ||
                    PQresultStatus(db->result) == PGRES_BAD_RESPONSE;
      if (db->result == NULL) snprintf(db->error.message, sizeof(db->error.message), "no result");
      pf__db_finish(db, failed ? PF_EDB : 0);
      return;
    }
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COPY_IN) {
      /* Fallback SQL cannot feed COPY FROM STDIN: end it with an error so the statement fails
       * cleanly instead of waiting for data forever. */
      PQclear(res);
      PQputCopyEnd(db->conn, "COPY FROM STDIN is not supported in preflight fallbacks");
      continue;
    }
    if (st == PGRES_COPY_OUT) {
      PQclear(res);
      char *buf;
      int n;
      while ((n = PQgetCopyData(db->conn, &buf, 1)) > 0) PQfreemem(buf);
      if (n == 0) break;  /* more copy data to come: wait for the socket */
      continue;
    }
    pf__db_keep_result(db, res);
  }
  if (pf__db_watch(db, UV_READABLE | (db->flushing ? UV_WRITABLE : 0)) == 0) return;

broken:
  pf__db_set_error(db, PQerrorMessage(db->conn));
  db->connected = PQstatus(db->conn) == CONNECTION_OK;
  if (db->pipe != NULL) {
    /* A pipeline that broke half-way leaves libpq's queue in an unknown state: start afresh. */
    db->pipe = NULL;
    pf_db_disconnect(db);
  }
  pf__db_finish(db, PF_EDB);
}

static void pf__db_on_poll(uv_poll_t *h, int status, int events) {
  pf_db_t *db = h->data;
  uv_poll_stop(h);
  if (status < 0) events = UV_READABLE | UV_WRITABLE;  /* let libpq discover the error */
  if (db->state == PF__DB_CONNECTING)
    pf__db_connect_step(db);
  else if (db->state == PF__DB_QUERYING)
    pf__db_query_step(db, events);
}

/* Sends a cancel request for the running query, waiting for its delivery at most timeout_ms: a
 * frozen server would hold a plain PQcancel (and a SIGTERM) for as long as it stays frozen. */
static void pf__db_cancel(pf_db_t *db, int timeout_ms) {
  if (!pf_cancel_bounded(db->conn, timeout_ms)) pf_log_debug("query cancel not confirmed within %d ms", timeout_ms);
}

static void pf__db_on_timer(uv_timer_t *t) {
  pf_db_t *db = t->data;
  switch (db->state) {
    case PF__DB_RESOLVING:
      db->error.timed_out = true;
      snprintf(db->error.message, sizeof(db->error.message), "could not translate host name \"%s\" to address: timed out",
               db->host);
      pf_db_disconnect(db);
      pf__db_finish(db, PF_EDB);
      break;
    case PF__DB_CONNECTING:
      db->error.timed_out = true;
      snprintf(db->error.message, sizeof(db->error.message), "connection attempt timed out");
      pf_db_disconnect(db);
      pf__db_finish(db, PF_EDB);
      break;
    case PF__DB_QUERYING:
      db->error.timed_out = true;
      pf__db_cancel(db, 200);
      snprintf(db->error.message, sizeof(db->error.message), "query timed out");
      pf_db_disconnect(db);
      pf__db_finish(db, PF_EDB);
      break;
    case PF__DB_SLEEPING:
      pf__db_finish(db, 0);
      break;
    default:
      break;
  }
}

/* Resets the per-operation state before a new operation starts. */
static void pf__db_begin(pf_db_t *db, pf__db_state_t state, int64_t timeout_ms, pf_db_cb cb, void *arg) {
  memset(&db->error, 0, sizeof(db->error));
  if (db->result) PQclear(db->result);
  db->result = NULL;
  db->state = state;
  db->done = false;
  db->status = 0;
  db->cb = cb;
  db->cb_arg = arg;
  db->flushing = false;
  /* libuv caches "now" per loop iteration; after a blocking call (libpq's TLS handshake, say)
   * it is stale, and a timer started from it would fire early. */
  uv_update_time(db->loop);
  if (timeout_ms > 0) uv_timer_start(&db->timer, pf__db_on_timer, (uint64_t)timeout_ms, 0);
}

/* Starts libpq's connection; hostaddr (may be NULL) is the resolved address list of the one
 * host, so libpq does not resolve it again (blocking) but still checks TLS against the name. */
static void pf__db_libpq_start(pf_db_t *db, const char *hostaddr, const char *host_list) {
  const char *keys[] = {"dbname", "fallback_application_name", "host", "hostaddr", NULL};
  const char *vals[] = {db->conninfo, db->app_name ? db->app_name : "preflight", host_list, hostaddr, NULL};
  if (hostaddr == NULL) keys[2] = NULL;
  db->conn = PQconnectStartParams(keys, vals, 1);
  if (db->conn == NULL) {
    snprintf(db->error.message, sizeof(db->error.message), "out of memory");
    pf__db_finish(db, PF_EDB);
    return;
  }
  /* Verbose errors carry the SQLSTATE even for connection failures, where libpq offers no
   * PGresult to ask; pf_db_parse_error takes it back out of the text. */
  PQsetErrorVerbosity(db->conn, PQERRORS_VERBOSE);
  PQsetNoticeProcessor(db->conn, pf__db_notice, NULL);
  db->state = PF__DB_CONNECTING;
  if (PQstatus(db->conn) == CONNECTION_BAD) {
    pf__db_set_error(db, PQerrorMessage(db->conn));
    pf__db_finish(db, PF_EDB);
    return;
  }
  /* libpq: on the first call behave as if PQconnectPoll had returned PGRES_POLLING_WRITING. */
  int r = pf__db_watch(db, UV_WRITABLE);
  if (r != 0) {
    snprintf(db->error.message, sizeof(db->error.message), "cannot watch the socket: %s", uv_strerror(r));
    pf__db_finish(db, PF_EDB);
  }
}

/* Receives a host name lookup from the thread pool and starts libpq with its addresses. */
static void pf__db_on_lookup(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  pf__db_lookup_t *lk = req->data;
  if (lk->abandoned) {
    uv_freeaddrinfo(res);
    free(lk);
    return;
  }
  pf_db_t *db = lk->db;
  db->lookup = NULL;
  free(lk);
  if (status < 0) {
    snprintf(db->error.message, sizeof(db->error.message), "could not translate host name \"%s\" to address: %s", db->host,
             uv_strerror(status));
    pf__db_finish(db, PF_EDB);
    return;
  }
  /* Every address, in resolver order, as libpq would try them: "host=db,db hostaddr=ip1,ip2". */
  pf_buf_t addrs = {0}, hosts = {0};
  int n = 0;
  for (struct addrinfo *ai = res; ai && n < 8; ai = ai->ai_next) {
    char ip[INET6_ADDRSTRLEN];
    const void *a = ai->ai_family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
                                               : (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;
    if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) || !inet_ntop(ai->ai_family, a, ip, sizeof(ip))) continue;
    if (addrs.data && strstr(addrs.data, ip)) continue;
    pf_buf_printf(&addrs, "%s%s", n ? "," : "", ip);
    pf_buf_printf(&hosts, "%s%s", n ? "," : "", db->host);
    n++;
  }
  uv_freeaddrinfo(res);
  if (n == 0) {
    snprintf(db->error.message, sizeof(db->error.message), "could not translate host name \"%s\" to address: no address", db->host);
    pf__db_finish(db, PF_EDB);
  } else {
    pf__db_libpq_start(db, addrs.data, hosts.data);
  }
  pf_buf_free(&addrs);
  pf_buf_free(&hosts);
}

/* Returns the one host name libpq would resolve for conninfo (URL, key=value or the PG*
 * environment), or NULL when there is nothing to resolve: a socket path, an IP address, a
 * hostaddr already given, or several hosts (left to libpq). */
static char *pf__db_host_to_resolve(const char *conninfo) {
  PQconninfoOption *opts = conninfo ? PQconninfoParse(conninfo, NULL) : NULL;
  const char *host = NULL, *hostaddr = NULL;
  for (PQconninfoOption *o = opts; o && o->keyword; o++) {
    if (strcmp(o->keyword, "host") == 0 && o->val && *o->val) host = o->val;
    if (strcmp(o->keyword, "hostaddr") == 0 && o->val && *o->val) hostaddr = o->val;
  }
  if (host == NULL) host = getenv("PGHOST");
  if (hostaddr == NULL) hostaddr = getenv("PGHOSTADDR");
  char *out = NULL;
  unsigned char buf[sizeof(struct in6_addr)];
  if (host && *host && !(hostaddr && *hostaddr) && host[0] != '/' && host[0] != '@' && !strchr(host, ',') &&
      inet_pton(AF_INET, host, buf) != 1 && inet_pton(AF_INET6, host, buf) != 1)
    out = pf_xstrdup(host);
  if (opts) PQconninfoFree(opts);
  return out;
}

int pf_db_connect_start(pf_db_t *db, const char *conninfo, int64_t timeout_ms, pf_db_cb cb, void *arg) {
  pf_db_disconnect(db);
  free(db->conninfo);
  free(db->host);
  db->conninfo = pf_xstrdup(conninfo);
  db->host = pf__db_host_to_resolve(conninfo);
  pf__db_begin(db, PF__DB_RESOLVING, timeout_ms, cb, arg);
  if (db->host == NULL) {
    pf__db_libpq_start(db, NULL, NULL);
    return 0;
  }
  /* libpq resolves host names with a blocking getaddrinfo. A resolver that does not answer
   * (no DNS server in the container yet) would freeze the loop for seconds, past the budget and
   * deaf to SIGTERM, so we resolve in libuv's thread pool and hand libpq the addresses. */
  pf__db_lookup_t *lk = pf_xcalloc(1, sizeof(*lk));
  lk->db = db;
  lk->req.data = lk;
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  int r = uv_getaddrinfo(db->loop, &lk->req, pf__db_on_lookup, db->host, NULL, &hints);
  if (r != 0) {
    free(lk);
    snprintf(db->error.message, sizeof(db->error.message), "could not translate host name \"%s\" to address: %s", db->host,
             uv_strerror(r));
    pf__db_finish(db, PF_EDB);
    return 0;
  }
  db->lookup = lk;
  return 0;
}

int pf_db_query_start(pf_db_t *db, const char *sql, int nparams, const char *const *params,
                      int64_t timeout_ms, pf_db_cb cb, void *arg) {
  if (db->conn == NULL || !db->connected) return PF_EDB;
  pf__db_begin(db, PF__DB_QUERYING, timeout_ms, cb, arg);
  int ok = nparams < 0 ? PQsendQuery(db->conn, sql)
                       : PQsendQueryParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0);
  if (!ok) {
    pf__db_set_error(db, PQerrorMessage(db->conn));
    pf__db_finish(db, PF_EDB);
    return 0;
  }
  int f = PQflush(db->conn);
  db->flushing = f == 1;
  if (f < 0 || pf__db_watch(db, UV_READABLE | (db->flushing ? UV_WRITABLE : 0)) != 0) {
    pf__db_set_error(db, PQerrorMessage(db->conn));
    pf__db_finish(db, PF_EDB);
  }
  return 0;
}

int pf_db_pipeline(pf_db_t *db, const pf_db_stmt_t *stmts, size_t n, PGresult **results, int64_t timeout_ms) {
  for (size_t i = 0; i < n; i++) results[i] = NULL;
  if (db->conn == NULL || !db->connected) return PF_EDB;
  if (n == 0) return 0;
  pf__db_begin(db, PF__DB_QUERYING, timeout_ms, NULL, NULL);
  if (!PQenterPipelineMode(db->conn)) {
    pf__db_set_error(db, PQerrorMessage(db->conn));
    return PF_EDB;
  }
  db->pipe = stmts;
  db->pipe_n = n;
  db->pipe_next = 0;
  db->pipe_syncs = db->pipe_synced = 0;
  db->pipe_results = results;
  for (size_t i = 0; i < n; i++) {
    /* In non-blocking mode libpq buffers what the socket does not take yet; the loop flushes. */
    if (!PQsendQueryParams(db->conn, stmts[i].sql, stmts[i].nparams, NULL, stmts[i].params, NULL, NULL, 0) ||
        ((stmts[i].sync_after || i + 1 == n) && (db->pipe_syncs++, !PQpipelineSync(db->conn)))) {
      pf__db_set_error(db, PQerrorMessage(db->conn));
      db->pipe = NULL;
      pf_db_disconnect(db);
      pf__db_finish(db, PF_EDB);
      return PF_EDB;
    }
  }
  int f = PQflush(db->conn);
  db->flushing = f == 1;
  if (f < 0 || pf__db_watch(db, UV_READABLE | (db->flushing ? UV_WRITABLE : 0)) != 0) {
    pf__db_set_error(db, PQerrorMessage(db->conn));
    db->pipe = NULL;
    pf_db_disconnect(db);
    pf__db_finish(db, PF_EDB);
    return PF_EDB;
  }
  int r = pf__db_run(db);
  if (r != 0) {
    for (size_t i = 0; i < n; i++) {
      if (results[i]) PQclear(results[i]);
      results[i] = NULL;
    }
  }
  return r;
}

/* Runs the loop until the current operation is done. A stop signal abandons the operation (a
 * running query is cancelled first) and returns PF_ESIGNAL. */
static int pf__db_run(pf_db_t *db) {
  while (!db->done) {
    if (pf_signals_caught()) {
      if (db->state == PF__DB_QUERYING) pf__db_cancel(db, 30);
      bool keep = db->state == PF__DB_SLEEPING;
      db->cb = NULL;
      pf__db_finish(db, PF_ESIGNAL);
      if (!keep) pf_db_disconnect(db);
      return PF_ESIGNAL;
    }
    uv_run(db->loop, UV_RUN_ONCE);
  }
  return db->status;
}

int pf_db_connect(pf_db_t *db, const char *conninfo, int64_t timeout_ms) {
  int r = pf_db_connect_start(db, conninfo, timeout_ms, NULL, NULL);
  return r != 0 ? r : pf__db_run(db);
}

/* Finishes the operation started last, under a new bound when one is given; see db.h. */
int pf_db_await(pf_db_t *db, int64_t timeout_ms) {
  if (db->done) return db->status;
  if (timeout_ms > 0) {
    uv_update_time(db->loop);
    uv_timer_start(&db->timer, pf__db_on_timer, (uint64_t)timeout_ms, 0);
  }
  return pf__db_run(db);
}

int pf_db_query(pf_db_t *db, const char *sql, int nparams, const char *const *params, int64_t timeout_ms) {
  int r = pf_db_query_start(db, sql, nparams, params, timeout_ms, NULL, NULL);
  return r != 0 ? r : pf__db_run(db);
}

int pf_db_sleep(pf_db_t *db, int64_t ms) {
  memset(&db->error, 0, sizeof(db->error));
  db->state = PF__DB_SLEEPING;
  db->done = false;
  db->cb = NULL;
  uv_update_time(db->loop);
  uv_timer_start(&db->timer, pf__db_on_timer, (uint64_t)(ms > 0 ? ms : 0), 0);
  return pf__db_run(db);
}

PGresult *pf_db_result(pf_db_t *db) { return db->result; }
const pf_db_error_t *pf_db_last_error(const pf_db_t *db) { return &db->error; }
PGconn *pf_db_conn(pf_db_t *db) { return db->conn; }
bool pf_db_connected(const pf_db_t *db) { return db->connected; }

/* Returns true when p starts a SQLSTATE token "XXXXX: " (five digits or capitals). */
static bool pf__is_sqlstate_token(const char *p) {
  for (int i = 0; i < 5; i++)
    if (!(isdigit((unsigned char)p[i]) || (p[i] >= 'A' && p[i] <= 'Z'))) return false;
  return p[5] == ':' && p[6] == ' ';
}

void pf_db_parse_error(const char *verbose, char sqlstate[6], char *clean, size_t cleanlen) {
  pf_buf_t out = {0};
  sqlstate[0] = '\0';
  const char *p = verbose;
  while (*p) {
    const char *eol = strchr(p, '\n');
    size_t len = eol ? (size_t)(eol - p) : strlen(p);
    /* Verbose messages add LOCATION lines (server source file and line): not for users. */
    bool skip = strncmp(p, "LOCATION:", 9) == 0;
    /* Continuation lines ("\tIs the server running...") join the first with one space. */
    while (len > 0 && (*p == ' ' || *p == '\t')) p++, len--;
    if (!skip && len > 0) {
      if (out.len > 0) pf_buf_puts(&out, " ");
      /* "SEVERITY:  XXXXX: text": the severity is followed by two spaces, then the code. */
      for (size_t i = 0; i < len; i++) {
        if (i + 10 <= len && p[i] == ':' && p[i + 1] == ' ' && p[i + 2] == ' ' &&
            pf__is_sqlstate_token(p + i + 3)) {
          memcpy(sqlstate, p + i + 3, 5);
          sqlstate[5] = '\0';
          pf_buf_append(&out, ":  ", 3);
          i += 3 + 6;
          continue;
        }
        pf_buf_putc(&out, p[i]);
      }
    }
    p += len;
    if (*p == '\n') p++;
  }
  while (out.len > 0 && isspace((unsigned char)out.data[out.len - 1])) out.data[--out.len] = '\0';
  snprintf(clean, cleanlen, "%s", out.data ? out.data : "");
  pf_buf_free(&out);
}
