/* The --health-listen probe: re-verifies the manifest against the live database while the
 * application runs, for the health endpoint. */
#ifndef PREFLIGHT_PROBE_H
#define PREFLIGHT_PROBE_H

#include <stdint.h>
#include <uv.h>

#include "preflight/health.h"
#include "preflight/manifest.h"

typedef struct pf_probe pf_probe_t;

/* Prepares a probe of manifest m (which must outlive it) that reports on main_loop. */
pf_probe_t *pf_probe_new(uv_loop_t *main_loop, const pf_manifest_t *m);

/* A pf_health_probe_fn: verifies once, off the main loop, and calls done on the main loop with
 * healthy, degraded (only severity: warn items missing) or unhealthy (a required item missing,
 * or the database unreachable; the next run reconnects). Runs are never concurrent: the health
 * server starts one at a time. */
void pf_probe_run(void *probe, pf_health_done_fn done, void *done_ctx);

/* Whether a run is in flight (its thread cannot be interrupted: leave with _exit, do not free). */
bool pf_probe_busy(const pf_probe_t *p);

/* Frees an idle probe and closes its connection. */
void pf_probe_free(pf_probe_t *p);

#endif
