/* Jittered exponential backoff for the wait loop. */
#ifndef PREFLIGHT_BACKOFF_H
#define PREFLIGHT_BACKOFF_H

#include <stdint.h>

typedef struct {
  int64_t initial_ms;   /* wait.interval */
  int64_t max_ms;       /* wait.max_interval */
  int64_t ceiling_ms;   /* the current un-jittered delay */
  uint64_t rng;         /* xorshift state; never 0 */
} pf_backoff_t;

/* Prepares a backoff from initial_ms growing to max_ms. A seed of 0 picks one from the clock and
 * the pid, so that twenty replicas started together do not retry in lockstep. */
void pf_backoff_init(pf_backoff_t *b, int64_t initial_ms, int64_t max_ms, uint64_t seed);

/* Returns the next delay: "equal jitter", uniformly within [ceiling/2, ceiling], where the ceiling
 * starts at initial_ms and doubles per call up to max_ms. Never below 1 ms. */
int64_t pf_backoff_next(pf_backoff_t *b);

#endif
