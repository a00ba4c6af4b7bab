/* Jittered exponential backoff for the wait loop. */
#ifndef PREFLIGHT_BACKOFF_H
#define PREFLIGHT_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

/* The delay between attempts that failed cheaply (see pf_backoff_cheap): far below wait.interval,
 * so the application starts within milliseconds of the server becoming ready. */
#define PF_BACKOFF_CHEAP_MS 10

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

/* Whether a failed attempt cost the server next to nothing, so it may be retried far more often
 * than other failures: nothing listens on the port (connection refused) or at the socket path
 * (no such file), or the server answered that it is starting up (SQLSTATE 57P03: the postmaster
 * refuses before any authentication). Too many connections (53300), authentication, time-outs
 * and everything else are expensive: they keep the exponential backoff. */
bool pf_backoff_cheap(const char *sqlstate, const char *message);

/* The next delay after a cheap failure: uniformly within [PF_BACKOFF_CHEAP_MS/2,
 * PF_BACKOFF_CHEAP_MS], or within [initial_ms/2, initial_ms] when wait.interval is smaller still.
 * Does not advance the ceiling that expensive failures grow. */
int64_t pf_backoff_next_cheap(pf_backoff_t *b);

#endif
