/* wait.schema: when verification finds required objects missing, wait for someone else (a
 * Kubernetes migration Job, a compose `migrate` service, a Helm hook) to create them, re-verifying
 * at a short interval, so that the application starts the moment the schema is complete instead of
 * crash-looping. Each re-verification is the usual catalog query; nothing is written. */
#ifndef PREFLIGHT_AWAIT_H
#define PREFLIGHT_AWAIT_H

#include <stdint.h>

#include "preflight/catalog.h"
#include "preflight/db.h"
#include "preflight/manifest.h"

typedef struct {
  int64_t budget_ms;      /* wait.schema: how long to wait at most (> 0) */
  int64_t interval_ms;    /* wait.schema_interval: the pause between verifications (> 0) */
  int64_t progress_ms;    /* how often a progress line is logged; 0 = 5 s */
} pf_await_opts_t;

typedef struct {
  int verifications;      /* re-verifications run (the first one, the caller's, not counted) */
  int round_trips;        /* queries they sent */
  int64_t waited_ms;
} pf_await_stats_t;

/* Re-verifies m until no required object is missing or the budget is spent. *v holds the caller's
 * first verification on entry and the latest one on return (the old one is freed). Returns 0
 * (check v->missing_required: 0 means the schema is complete), PF_ESIGNAL, or a verification's
 * failure (PF_EDB, PF_ECONFIG) with err. */
int pf_await_schema(pf_db_t *db, const pf_manifest_t *m, const pf_await_opts_t *o, pf_verify_t *v,
                    pf_await_stats_t *st, char *err, size_t errlen) PF_MUST_CHECK;

#endif
