/* A PostgreSQL session driven by a libuv loop: libpq in non-blocking mode, its socket watched with
 * uv_poll_t, timeouts with uv_timer_t.
 *
 * Every operation exists in two forms. The asynchronous one (pf_db_*_start) calls back when done
 * and is what a long-lived server (the --init health endpoint) uses. The synchronous one runs the
 * loop until the operation completes or a stop signal arrives; the linear gate (wait, verify,
 * fallback) uses it, and because the loop keeps running, signals are honoured in every phase. */
#ifndef PREFLIGHT_DB_H
#define PREFLIGHT_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "preflight/util.h"

typedef struct pf_db pf_db_t;
typedef void (*pf_db_cb)(pf_db_t *db, int status, void *arg);

/* The outcome of the last failed operation, for messages and for retry decisions. */
typedef struct {
  char sqlstate[6];        /* "" when the failure has none (refused, DNS, timeout) */
  char message[1024];      /* one line, no trailing newline, SQLSTATE and LOCATION removed */
  bool needs_password;     /* libpq: the server asked for a password and none was given */
  bool timed_out;
} pf_db_error_t;

/* Allocates a session bound to loop. Never fails (allocation failure aborts). */
pf_db_t *pf_db_new(uv_loop_t *loop);

/* Closes the connection and the libuv handles, runs the loop until they are closed, and frees
 * the session. NULL is ignored. */
void pf_db_free(pf_db_t *db);

/* Sets the fallback_application_name of the next connections (default "preflight"): what
 * pg_stat_activity shows unless the connection string sets application_name itself. */
void pf_db_set_application_name(pf_db_t *db, const char *name);

/* Starts connecting with `conninfo` (a URI, a key=value string, or NULL for libpq's PG* variables
 * and defaults). An attempt not finished within timeout_ms (0 = none) fails with timed_out set.
 * Returns 0 (cb will be called) or a negative error (cb will not). */
int pf_db_connect_start(pf_db_t *db, const char *conninfo, int64_t timeout_ms, pf_db_cb cb, void *arg);

/* Starts a query. nparams >= 0 sends it with the extended protocol (one statement, parameters
 * as text); nparams < 0 sends it verbatim with the simple protocol, so several statements,
 * $$ bodies and comments all work (user fallback SQL). A query not finished within timeout_ms
 * (0 = none) is cancelled. The result is kept until the next operation: pf_db_result(). */
int pf_db_query_start(pf_db_t *db, const char *sql, int nparams, const char *const *params,
                      int64_t timeout_ms, pf_db_cb cb, void *arg);

/* Synchronous forms: run the loop until done. Return 0, PF_EDB (see pf_db_last_error), or
 * PF_ESIGNAL when a stop signal arrived first (an in-flight query is cancelled). */
int pf_db_connect(pf_db_t *db, const char *conninfo, int64_t timeout_ms) PF_MUST_CHECK;
int pf_db_query(pf_db_t *db, const char *sql, int nparams, const char *const *params,
                int64_t timeout_ms) PF_MUST_CHECK;

/* One statement of a pipeline: extended protocol (one statement, parameters as text). With
 * sync_after, a synchronisation point follows it: an error in a statement makes the server skip
 * the statements after it up to the next synchronisation point (their result is
 * PGRES_PIPELINE_ABORTED), and no further. */
typedef struct {
  const char *sql;
  int nparams;
  const char *const *params;
  bool sync_after;
} pf_db_stmt_t;

/* Sends n statements in ONE round trip with libpq's pipeline mode and collects one result per
 * statement into results[0..n-1] (the caller PQclear()s each; NULL when none came). The whole
 * exchange not finished within timeout_ms (0 = none) is cancelled and the connection dropped.
 * Returns 0 when every result arrived (statements may have failed: look at each result), PF_EDB
 * (connection broken or timed out; see pf_db_last_error) or PF_ESIGNAL. */
int pf_db_pipeline(pf_db_t *db, const pf_db_stmt_t *stmts, size_t n, PGresult **results,
                   int64_t timeout_ms) PF_MUST_CHECK;

/* Finishes the operation started last by a *_start function (whose callback has not been
 * called yet, or was NULL): runs the loop until it is done, as the synchronous forms do. A
 * timeout_ms > 0 replaces the operation's own bound, counted from now. Returns its outcome (0,
 * PF_EDB) at once when it is already done, or PF_ESIGNAL. */
int pf_db_await(pf_db_t *db, int64_t timeout_ms) PF_MUST_CHECK;

/* Runs the loop for ms milliseconds (a backoff delay). Returns 0 or PF_ESIGNAL. */
int pf_db_sleep(pf_db_t *db, int64_t ms) PF_MUST_CHECK;

/* The last query's result, owned by the session, or NULL: the first error if a statement failed,
 * else the last row-returning result, else the last result. */
PGresult *pf_db_result(pf_db_t *db);
const pf_db_error_t *pf_db_last_error(const pf_db_t *db);
PGconn *pf_db_conn(pf_db_t *db);
bool pf_db_connected(const pf_db_t *db);

/* Drops the connection (keeping the session reusable for another connect). */
void pf_db_disconnect(pf_db_t *db);

/* Splits a libpq error message produced with PQERRORS_VERBOSE into its SQLSTATE (the last one
 * found, "" if none) and a clean one-line message without the SQLSTATE token and LOCATION lines.
 * Pure: unit-tested without a server. */
void pf_db_parse_error(const char *verbose, char sqlstate[6], char *clean, size_t cleanlen);

#endif
