/* The wait loop. Readiness means an authenticated session answered SELECT 1 — an open TCP port
 * is not enough (the server may be starting up, in recovery, or refusing our role). */
#include "preflight/wait.h"

#include <arpa/inet.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "preflight/backoff.h"
#include "preflight/duration.h"
#include "preflight/error.h"
#include "preflight/log.h"
#include "preflight/redact.h"
#include "preflight/retrylog.h"
#include "preflight/signals.h"

/* Fails when libpq would have no user name to log in with: none in the connection string, no
 * PGUSER, and no passwd entry for our uid (a FROM scratch image has no /etc/passwd). libpq would
 * fail every attempt with "could not look up local user ID", which no retry can fix. */
static int pf__check_user(const char *user, char *err, size_t errlen) {
  if ((user && *user) || (getenv("PGUSER") && *getenv("PGUSER"))) return 0;
  if (getpwuid(geteuid()) != NULL) return 0;
  return pf_seterr(err, errlen, PF_ECONFIG,
                   "no database user: name one in the URL (postgresql://USER@host/db) or PGUSER; uid %ld has no "
                   "entry in /etc/passwd for libpq to default to",
                   (long)geteuid());
}

/* Whether s is a whole decimal integer in [lo, hi], blanks around it allowed as libpq allows. */
static bool pf__int_in(const char *s, long lo, long hi) {
  while (*s == ' ' || *s == '\t') s++;
  if (*s == '\0') return false;
  char *end;
  long v = strtol(s, &end, 10);
  while (*end == ' ' || *end == '\t') end++;
  return *end == '\0' && v >= lo && v <= hi;
}

/* Checks the settings libpq parses only when it connects (and then fails every attempt the same
 * way): ports, integers and enumerations. `src` names where the value came from for messages. */
static int pf__check_setting(const char *key, const char *val, const char *src, char *err, size_t errlen) {
  static const char *const ints[] = {"connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval",
                                     "keepalives_count", "tcp_user_timeout"};
  static const struct {
    const char *key, *choices;
  } enums[] = {
      {"sslmode", ",disable,allow,prefer,require,verify-ca,verify-full,"},
      {"gssencmode", ",disable,prefer,require,"},
      {"channel_binding", ",disable,prefer,require,"},
      {"target_session_attrs", ",any,read-write,read-only,primary,standby,prefer-standby,"},
  };
  if (strcmp(key, "port") == 0) {
    /* A list, one per host; an empty element means the default. */
    bool ok = true;
    for (const char *p = val; *p && ok;) {
      size_t n = strcspn(p, ",");
      char one[16];
      snprintf(one, sizeof(one), "%.*s", (int)(n < sizeof(one) ? n : sizeof(one) - 1), p);
      ok = n == 0 || (n < sizeof(one) && pf__int_in(one, 1, 65535));
      p += n + (p[n] == ',');
    }
    if (!ok)
      return pf_seterr(err, errlen, PF_ECONFIG, "invalid %s: port \"%.40s\" is not a port number (1-65535)", src, val);
    return 0;
  }
  if (strcmp(key, "hostaddr") == 0) {
    /* Numeric addresses only, one per host; libpq would reject a name on every attempt. */
    for (const char *p = val; *p;) {
      size_t n = strcspn(p, ",");
      char one[64];
      unsigned char buf[sizeof(struct in6_addr)];
      snprintf(one, sizeof(one), "%.*s", (int)(n < sizeof(one) ? n : sizeof(one) - 1), p);
      if (n > 0 && (n >= sizeof(one) || (inet_pton(AF_INET, one, buf) != 1 && inet_pton(AF_INET6, one, buf) != 1)))
        return pf_seterr(err, errlen, PF_ECONFIG,
                         "invalid %s: hostaddr \"%.40s\" is not a numeric IP address (a host name goes in host)", src, one);
      p += n + (p[n] == ',');
    }
    return 0;
  }
  for (size_t i = 0; i < PF_ARRAY_SIZE(ints); i++)
    if (strcmp(key, ints[i]) == 0 && !pf__int_in(val, INT32_MIN, INT32_MAX))
      return pf_seterr(err, errlen, PF_ECONFIG, "invalid %s: %s \"%.40s\" is not an integer", src, key, val);
  for (size_t i = 0; i < PF_ARRAY_SIZE(enums); i++) {
    if (strcmp(key, enums[i].key) != 0) continue;
    char probe[80];
    snprintf(probe, sizeof(probe), ",%.60s,", val);
    if (strchr(val, ',') || strstr(enums[i].choices, probe) == NULL) {
      char list[128];
      snprintf(list, sizeof(list), "%.*s", (int)strlen(enums[i].choices) - 2, enums[i].choices + 1);
      for (char *c = list; *c; c++)
        if (*c == ',') *c = '|';
      return pf_seterr(err, errlen, PF_ECONFIG, "invalid %s: %s \"%.40s\" is not one of %s", src, key, val, list);
    }
  }
  return 0;
}

/* Checks every setting of a parsed connection string, and what libpq would take from the PG*
 * environment for the ones it leaves unset; the host and port lists must match. */
static int pf__check_settings(PQconninfoOption *opts, bool from_url, char *err, size_t errlen) {
  const char *host = NULL, *port = NULL;
  for (PQconninfoOption *o = opts; o->keyword; o++) {
    const char *val = o->val, *src = from_url ? "database URL" : "connection settings";
    char envsrc[64];
    if ((val == NULL || *val == '\0') && o->envvar && getenv(o->envvar) && *getenv(o->envvar)) {
      val = getenv(o->envvar);
      snprintf(envsrc, sizeof(envsrc), "%s", o->envvar);
      src = envsrc;
    } else if (val && !from_url && o->envvar && getenv(o->envvar) && strcmp(getenv(o->envvar), val) == 0) {
      snprintf(envsrc, sizeof(envsrc), "%s", o->envvar);
      src = envsrc;
    }
    if (val == NULL || *val == '\0') continue;
    int r = pf__check_setting(o->keyword, val, src, err, errlen);
    if (r != 0) return r;
    if (strcmp(o->keyword, "host") == 0) host = val;
    if (strcmp(o->keyword, "port") == 0) port = val;
  }
  if (host && port && strchr(port, ',')) {
    size_t nh = 1, np = 1;
    for (const char *p = host; *p; p++) nh += *p == ',';
    for (const char *p = port; *p; p++) np += *p == ',';
    if (nh != np)
      return pf_seterr(err, errlen, PF_ECONFIG, "invalid database URL: %zu ports for %zu hosts (give one port, or one per host)",
                       np, nh);
  }
  return 0;
}

/* Whether libpq's reading of a URL shows that it misread a password the user wrote: an
 * unencoded '/', '?', '#' or '@' in it moves part of the password into the host, the port or
 * the database name (postgresql://app:Zq9/x+Yw==@db/app is host "app", port "Zq9"). Such a URL
 * can never connect, and every message about it would print pieces of the secret. */
static bool pf__misread_password(const char *conninfo, PQconninfoOption *opts) {
  char **pw = pf_redact_passwords(conninfo);
  if (pw == NULL) return false;
  const char *host = NULL, *port = NULL, *dbname = NULL, *pass = NULL;
  for (PQconninfoOption *o = opts; o->keyword; o++) {
    if (!o->val) continue;
    if (strcmp(o->keyword, "host") == 0) host = o->val;
    else if (strcmp(o->keyword, "port") == 0) port = o->val;
    else if (strcmp(o->keyword, "dbname") == 0) dbname = o->val;
    else if (strcmp(o->keyword, "password") == 0) pass = o->val;
  }
  bool same = false;
  for (size_t i = 0; pw[i]; i++) same = same || (pass && strcmp(pass, pw[i]) == 0);
  pf_redact_passwords_free(pw);
  if (same) return false;
  return (host && strchr(host, '@')) || (dbname && strchr(dbname, '@')) ||
         (port && port[strspn(port, "0123456789,")] != '\0');
}

int pf_wait_check_conninfo(const char *conninfo, char *err, size_t errlen) {
  pf_log_secret(getenv("PGPASSWORD"));
  if (conninfo == NULL) {
    PQconninfoOption *defs = PQconndefaults();
    int r = defs ? pf__check_settings(defs, false, err, errlen) : 0;
    if (defs) PQconninfoFree(defs);
    return r;
  }
  /* Every password the string holds as the user wrote it, before libpq reads it otherwise. */
  pf_log_conninfo(conninfo);
  char *perr = NULL;
  PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
  if (opts == NULL) {
    /* libpq quotes the fragment it stopped at, which may be a piece of the password (a literal
     * '%' in it, a stray quote in key=value form): with a password present, no quote survives. */
    char **pw = pf_redact_passwords(conninfo);
    char *msg = pw ? pf_redact_quoted(perr ? perr : "") : pf_xstrdup(perr ? perr : "out of memory");
    pf_redact_passwords_free(pw);
    int r = pf_seterr(err, errlen, PF_ECONFIG, "invalid database URL: %s", msg);
    free(msg);
    PQfreemem(perr);
    return r;
  }
  for (PQconninfoOption *o = opts; o->keyword; o++)
    if (strcmp(o->keyword, "password") == 0 && o->val) pf_log_secret(o->val);
  /* Before the settings are checked: their messages quote the port, which may be a piece of a
   * misread password. */
  if (pf__misread_password(conninfo, opts)) {
    PQconninfoFree(opts);
    return pf_seterr(err, errlen, PF_ECONFIG,
                     "invalid database URL: its password holds a character that must be percent-encoded "
                     "(/ as %%2F, ? as %%3F, # as %%23, @ as %%40, %% as %%25); libpq would read part of it as the "
                     "host, port or database name");
  }
  int r = pf__check_settings(opts, true, err, errlen);
  PQconninfoFree(opts);
  return r;
}

int pf_wait_check_user(const char *conninfo, char *err, size_t errlen) {
  const char *user = NULL;
  PQconninfoOption *opts = conninfo ? PQconninfoParse(conninfo, NULL) : NULL;
  for (PQconninfoOption *o = opts; o && o->keyword; o++)
    if (strcmp(o->keyword, "user") == 0 && o->val) user = o->val;
  int r = pf__check_user(user, err, errlen);
  if (opts) PQconninfoFree(opts);
  return r;
}

const char *pf_wait_describe(const char *conninfo, char *buf, size_t buflen) {
  const char *host = NULL, *port = NULL, *dbname = NULL, *user = NULL;
  PQconninfoOption *opts = conninfo ? PQconninfoParse(conninfo, NULL) : PQconndefaults();
  if (opts) {
    for (PQconninfoOption *o = opts; o->keyword; o++) {
      if (!o->val || !*o->val) continue;
      if (strcmp(o->keyword, "host") == 0) host = o->val;
      else if (strcmp(o->keyword, "hostaddr") == 0 && !host) host = o->val;
      else if (strcmp(o->keyword, "port") == 0) port = o->val;
      else if (strcmp(o->keyword, "dbname") == 0) dbname = o->val;
      else if (strcmp(o->keyword, "user") == 0) user = o->val;
    }
  }
  if (!host) host = getenv("PGHOST");
  if (!port) port = getenv("PGPORT");
  if (!dbname) dbname = getenv("PGDATABASE");
  if (!user) user = getenv("PGUSER");
  snprintf(buf, buflen, "%s:%s/%s", host ? host : "localhost", port ? port : "5432",
           dbname ? dbname : (user ? user : "(default)"));
  if (opts) PQconninfoFree(opts);
  return buf;
}

int pf_wait_classify(const pf_db_error_t *e) {
  if (e->needs_password) return PF_EAUTH;
  if (strcmp(e->sqlstate, "28P01") == 0 ||   /* invalid_password */
      strcmp(e->sqlstate, "28000") == 0 ||   /* invalid_authorization_specification: pg_hba, no role */
      strcmp(e->sqlstate, "42501") == 0)     /* insufficient_privilege: CONNECT revoked */
    return PF_EAUTH;
  return 0;
}

int pf_wait_first_start(pf_db_t *db, const char *conninfo, pf_wait_first_t *f) {
  f->started = false;
  f->start_ms = pf_now_ms();
  int r = pf_db_connect_start(db, conninfo, 0, NULL, NULL);
  f->started = r == 0;
  return r;
}

int pf_wait_ready(pf_db_t *db, const pf_wait_opts_t *o, pf_wait_stats_t *st, char *err, size_t errlen) {
  bool first = o->first && o->first->started;
  uint64_t start = first ? o->first->start_ms : pf_now_ms();
  pf_backoff_t bo;
  pf_backoff_init(&bo, o->interval_ms, o->max_interval_ms, 0);
  char where[256], what[300], d1[32];
  pf_wait_describe(o->conninfo, where, sizeof(where));
  snprintf(what, sizeof(what), "database %s", where);
  pf_log_debug("waiting for %s (budget %s)", where,
               o->timeout_ms ? pf_duration_format(o->timeout_ms, d1, sizeof(d1)) : "unlimited");
  st->attempts = 0;
  pf_retrylog_t rl;
  pf_retrylog_init(&rl);
  /* The cause the final message names: the last real one. An attempt cut short to fit the end of
   * the budget that then times out says nothing about the server, only about the budget. */
  char cause[1200] = "";

  for (;;) {
    if (pf_signals_caught()) return PF_ESIGNAL;
    st->attempts++;
    int64_t elapsed = (int64_t)(pf_now_ms() - start);
    int64_t remaining = o->timeout_ms ? o->timeout_ms - elapsed : INT64_MAX;
    /* Attempt 1 may have started already: what is left of its bound. */
    int64_t attempt_ms = o->connect_timeout_ms;
    if (first && attempt_ms > 0) attempt_ms = attempt_ms > elapsed + 1 ? attempt_ms - elapsed : 1;
    bool shortened = false;
    if (o->timeout_ms && (attempt_ms == 0 || attempt_ms > remaining)) {
      attempt_ms = remaining > 1 ? remaining : 1;
      shortened = true;
    }

    int r = first ? pf_db_await(db, attempt_ms) : pf_db_connect(db, o->conninfo, attempt_ms);
    first = false;
    if (r == 0) r = pf_db_query(db, "SELECT 1", 0, NULL, attempt_ms);
    if (r == PF_ESIGNAL) return r;
    if (r == 0) {
      st->elapsed_ms = (int64_t)(pf_now_ms() - start);
      /* The session is up: from now on the password libpq used (URL, PGPASSWORD or passfile)
       * is known, and must never be printed. */
      pf_log_secret(PQpass(pf_db_conn(db)));
      return 0;
    }

    const pf_db_error_t *e = pf_db_last_error(db);
    char now_cause[1200];
    snprintf(now_cause, sizeof(now_cause), "%s%s%s%s", e->message, e->sqlstate[0] ? " (SQLSTATE " : "", e->sqlstate,
             e->sqlstate[0] ? ")" : "");
    if (!(shortened && e->timed_out && cause[0])) snprintf(cause, sizeof(cause), "%s", now_cause);
    bool timed_out = e->timed_out;
    char sqlstate[6];
    snprintf(sqlstate, sizeof(sqlstate), "%s", e->sqlstate);
    bool cheap = pf_backoff_cheap(e->sqlstate, e->message);
    pf_db_disconnect(db);
    if (pf_wait_classify(e) == PF_EAUTH)
      return pf_seterr(err, errlen, PF_EAUTH, "cannot log in to %s: %s", where, cause);

    elapsed = (int64_t)(pf_now_ms() - start);
    remaining = o->timeout_ms ? o->timeout_ms - elapsed : INT64_MAX;
    if (remaining <= 0) {
      st->elapsed_ms = elapsed;
      pf_log_debug("waiting for %s: attempt %d failed: %s", what, st->attempts, now_cause);
      return pf_seterr(err, errlen, PF_EUNAVAIL, "database %s not ready after %s (%d attempt%s); last error: %s%s",
                       where, pf_duration_format(elapsed, d1, sizeof(d1)), st->attempts, st->attempts == 1 ? "" : "s",
                       cause, timed_out && strcmp(cause, now_cause) == 0 && shortened ? " (no answer within the budget)" : "");
    }
    int64_t delay = cheap ? pf_backoff_next_cheap(&bo) : pf_backoff_next(&bo);
    if (delay > remaining) delay = remaining;
    char fields[128];
    snprintf(fields, sizeof(fields), "\"attempt\":%d,\"delay_ms\":%lld,\"sqlstate\":\"%s\"", st->attempts,
             (long long)delay, sqlstate);
    pf_retrylog_failed(&rl, what, now_cause, delay, start, o->timeout_ms ? remaining : -1, fields);
    r = pf_db_sleep(db, delay);
    if (r == PF_ESIGNAL) return r;
  }
}
