/* What a wait says about its failed attempts. A container that waits a minute for its database
 * must not print a hundred identical lines: the contract logs, at info, the first failure, every
 * change of cause, and one progress line about every PF_RETRYLOG_PROGRESS_MS with the attempts so
 * far, the cause and the time left. Every attempt is logged at debug. The database wait and every
 * other service (tcp://, http://, redis://) share this policy. */
#ifndef PREFLIGHT_RETRYLOG_H
#define PREFLIGHT_RETRYLOG_H

#include <stdbool.h>
#include <stdint.h>

#include "preflight/log.h"

#define PF_RETRYLOG_PROGRESS_MS 5000

typedef struct {
  char cause[512];          /* the cause last logged at info ("" before the first failure) */
  uint64_t last_info_ms;    /* when the last info line about this wait was written */
  int attempts;             /* failed attempts so far */
} pf_retrylog_t;

/* The decision for one failed attempt, for pf_retrylog_decide's caller and the unit tests. */
typedef enum {
  PF_RETRYLOG_DEBUG,        /* same cause, progress line not due: the attempt line at debug only */
  PF_RETRYLOG_ATTEMPT,      /* first failure or a new cause: the attempt line at info */
  PF_RETRYLOG_PROGRESS      /* same cause, ~5 s since the last info line: a progress line at info */
} pf_retrylog_kind_t;

void pf_retrylog_init(pf_retrylog_t *r);

/* Records one failed attempt with `cause` at time now_ms (pf_now_ms) and returns what to log.
 * Pure: no output, so the policy is unit-tested without a clock or a server. */
pf_retrylog_kind_t pf_retrylog_decide(pf_retrylog_t *r, const char *cause, uint64_t now_ms);

/* Records and logs one failed attempt of the wait for `what` ("postgres 127.0.0.1:5432/app",
 * "tcp://redis:6379"): attempt number, cause, next delay and, for progress lines, the attempts
 * so far, the time since start_ms and what is left of the budget (remaining_ms < 0: no limit).
 * `fields` is NULL or extra JSON fields for JSON logs. */
void pf_retrylog_failed(pf_retrylog_t *r, const char *what, const char *cause, int64_t delay_ms,
                        uint64_t start_ms, int64_t remaining_ms, const char *fields);

#endif
