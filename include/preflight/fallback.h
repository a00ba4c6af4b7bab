/* Repair: run the manifest's fallback SQL for what is missing, once across all replicas.
 *
 * The caller holds the replica-wide lock (lock.h) on its own connection; the fallbacks run on the
 * main connection. The replica that gets the lock first repairs, the others find everything
 * present when they verify again under it. */
#ifndef PREFLIGHT_FALLBACK_H
#define PREFLIGHT_FALLBACK_H

#include <stdint.h>

#include "preflight/catalog.h"
#include "preflight/db.h"
#include "preflight/lock.h"
#include "preflight/manifest.h"

typedef enum {
  PF_FB_NONE = 0,      /* not attempted */
  PF_FB_CREATED,       /* its fallback ran and committed */
  PF_FB_BY_OTHER,      /* present by the time we held the lock: another replica or an earlier fallback */
  PF_FB_FAILED,        /* its fallback raised an error */
} pf_fb_outcome_t;

typedef struct {
  pf_fb_outcome_t *outcome;   /* parallel to the manifest's items */
  size_t nitems;
  int executed;               /* fallback statements run (committed or not) */
  int64_t lock_wait_ms;
} pf_fallback_t;

/* Repairs the items that v (the verification before the lock) says are not present and that
 * carry a fallback, verifying again first. `lock` must be held (pf_lock_acquire); it is checked
 * before every commit and every transaction: false statement, and stays held on return. Returns 0
 * (whether or not anything needed doing; outcomes in *fb), PF_EFALLBACK with the item, the
 * file:line of the failing SQL and PostgreSQL's error in err (the transaction was rolled back),
 * PF_EDB, PF_ECONFIG, PF_ETIMEOUT or PF_ESIGNAL. Free *fb with pf_fallback_free in every case. */
int pf_fallback_apply(pf_db_t *db, pf_lock_t *lock, const pf_manifest_t *m, const pf_verify_t *v,
                      pf_fallback_t *fb, char *err, size_t errlen) PF_MUST_CHECK;

void pf_fallback_free(pf_fallback_t *fb);

/* Converts a 1-based character position in sql (PostgreSQL counts characters, not bytes) to a
 * line and column, with the line offset by first_line. */
void pf_fallback_position(const char *sql, long position, int first_line, int *line, int *col);

#endif
