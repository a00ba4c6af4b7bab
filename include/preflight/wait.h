/* Waiting for a database that accepts a real session: connect, authenticate, SELECT 1, with
 * jittered exponential backoff within a total budget. */
#ifndef PREFLIGHT_WAIT_H
#define PREFLIGHT_WAIT_H

#include <stdbool.h>
#include <stdint.h>

#include "preflight/db.h"

/* A first attempt made before the wait options are known: main.c starts it while the manifest is
 * still being read, so that the server's fork, authentication and start-up overlap the parse.
 * pf_wait_ready takes it over as its attempt 1, bounded by the options' connect_timeout and
 * budget counted from start_ms. */
typedef struct {
  bool started;
  uint64_t start_ms;
} pf_wait_first_t;

typedef struct {
  const char *conninfo;        /* NULL: libpq's PG* variables and defaults */
  const pf_wait_first_t *first; /* NULL, or an attempt started with conninfo by pf_wait_first_start */
  int64_t timeout_ms;          /* total budget; 0 = no limit */
  int64_t connect_timeout_ms;  /* per attempt */
  int64_t interval_ms;
  int64_t max_interval_ms;
} pf_wait_opts_t;

typedef struct {
  int attempts;
  int64_t elapsed_ms;
} pf_wait_stats_t;

/* Validates conninfo offline (syntax and keywords) and registers its password, and PGPASSWORD,
 * as log secrets. Returns 0 or PF_ECONFIG. */
int pf_wait_check_conninfo(const char *conninfo, char *err, size_t errlen) PF_MUST_CHECK;

/* Before connecting: fails with PF_ECONFIG when libpq would have no user name (none in conninfo,
 * no PGUSER, no passwd entry for our uid, as in a FROM scratch image), which no retry can fix. */
int pf_wait_check_user(const char *conninfo, char *err, size_t errlen) PF_MUST_CHECK;

/* Writes "host:port/dbname" for messages (no user, no password) into buf; returns buf. */
const char *pf_wait_describe(const char *conninfo, char *buf, size_t buflen);

/* Decides what a failed attempt means: 0 to retry (refused, unreachable, name not resolvable yet,
 * 57P03 starting up, 53300 too many connections, class 08, ...), PF_EAUTH to stop at once (28P01,
 * 28000 including pg_hba rejections, 42501, or a password the server asked for and we lack). */
int pf_wait_classify(const pf_db_error_t *e);

/* Starts attempt 1 on db (connect only, unbounded until pf_wait_ready bounds it) and records it
 * in *f. Returns 0, or a negative error when nothing was started (f->started stays false). */
int pf_wait_first_start(pf_db_t *db, const char *conninfo, pf_wait_first_t *f) PF_MUST_CHECK;

/* Connects db and waits until it answers SELECT 1. Returns 0 (db is connected), PF_EAUTH,
 * PF_EUNAVAIL when the budget ran out (err names the last cause), or PF_ESIGNAL. */
int pf_wait_ready(pf_db_t *db, const pf_wait_opts_t *o, pf_wait_stats_t *st, char *err, size_t errlen) PF_MUST_CHECK;

#endif
