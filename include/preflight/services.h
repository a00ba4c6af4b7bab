/* Waiting for other services the application needs besides PostgreSQL (wait.services,
 * PREFLIGHT_SERVICES, --service; the URL forms are in service_url.h) on the same libuv loop,
 * concurrently with the database, within the same budget, with the same backoff and the same
 * stop-signal behaviour. Host names are resolved in libuv's thread pool, as the database's are,
 * so a resolver that does not answer never freezes the loop. */
#ifndef PREFLIGHT_SERVICES_H
#define PREFLIGHT_SERVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "preflight/service_url.h"
#include "preflight/util.h"

typedef struct {
  uint64_t start_ms;           /* when the wait began (pf_now_ms), shared with the database's */
  int64_t timeout_ms;          /* total budget from start_ms; 0 = no limit */
  int64_t connect_timeout_ms;  /* per attempt */
  int64_t interval_ms;         /* backoff, as for the database */
  int64_t max_interval_ms;
} pf_services_opts_t;

typedef struct pf_services pf_services_t;

/* Starts waiting for every URL in urls (already validated with pf_service_parse) on loop. The
 * attempts proceed whenever the loop runs, so the database wait that runs it meanwhile waits for
 * both at once. Never fails (an unparsable URL counts as a failing service). */
pf_services_t *pf_services_start(uv_loop_t *loop, const char *const *urls, size_t n, const pf_services_opts_t *o);

/* Runs the loop until every service answered or gave up at the end of the budget, or a stop
 * signal arrived. Returns 0, PF_ESIGNAL, or PF_EUNAVAIL with err naming each service that did not
 * answer, its attempts and its last cause. */
int pf_services_wait(pf_services_t *s, char *err, size_t errlen) PF_MUST_CHECK;

/* Writes "; also not ready: URL (cause), ..." for the services not ready yet into buf (empty when
 * all are), for the database's 69 message. Returns buf. */
const char *pf_services_pending(const pf_services_t *s, char *buf, size_t buflen);

/* Stops every attempt, closes every handle and frees s (runs the loop briefly). NULL is ignored. */
void pf_services_free(pf_services_t *s);

#endif
