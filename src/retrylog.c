/* The retry-noise policy of every wait; see retrylog.h. */
#include "preflight/retrylog.h"

#include <stdio.h>
#include <string.h>

#include "preflight/duration.h"
#include "preflight/util.h"

void pf_retrylog_init(pf_retrylog_t *r) { memset(r, 0, sizeof(*r)); }

pf_retrylog_kind_t pf_retrylog_decide(pf_retrylog_t *r, const char *cause, uint64_t now_ms) {
  r->attempts++;
  if (r->attempts == 1 || strncmp(r->cause, cause, sizeof(r->cause) - 1) != 0) {
    snprintf(r->cause, sizeof(r->cause), "%s", cause);
    r->last_info_ms = now_ms;
    return PF_RETRYLOG_ATTEMPT;
  }
  if (now_ms - r->last_info_ms + 50 >= PF_RETRYLOG_PROGRESS_MS) {
    /* The 50 ms slack keeps a backoff that lands a hair before the 5 s mark from pushing the
     * progress line to the next attempt, up to max_interval later. */
    r->last_info_ms = now_ms;
    return PF_RETRYLOG_PROGRESS;
  }
  return PF_RETRYLOG_DEBUG;
}

/* Formats a duration for a progress line: whole seconds from one second up ("5s", not "5s82ms"). */
static const char *pf__coarse(int64_t ms, char *buf, size_t buflen) {
  if (ms >= 1000) ms = (ms + 500) / 1000 * 1000;
  return pf_duration_format(ms, buf, buflen);
}

void pf_retrylog_failed(pf_retrylog_t *r, const char *what, const char *cause, int64_t delay_ms,
                        uint64_t start_ms, int64_t remaining_ms, const char *fields) {
  uint64_t now = pf_now_ms();
  pf_retrylog_kind_t kind = pf_retrylog_decide(r, cause, now);
  char d1[32], d2[32], d3[32];
  pf_duration_format(delay_ms, d1, sizeof(d1));
  pf_log_fields(kind == PF_RETRYLOG_ATTEMPT ? PF_LOG_INFO : PF_LOG_DEBUG, fields,
                "waiting for %s: attempt %d failed: %s; retrying in %s", what, r->attempts, cause, d1);
  if (kind != PF_RETRYLOG_PROGRESS) return;
  pf__coarse((int64_t)(now - start_ms), d2, sizeof(d2));
  /* JSON logs get the counts as fields too, so a log pipeline need not parse the message. */
  char more[512];
  snprintf(more, sizeof(more), "%s%s\"progress\":true,\"attempts\":%d,\"elapsed_ms\":%lld,\"remaining_ms\":%lld",
           fields ? fields : "", fields && *fields ? "," : "", r->attempts, (long long)(now - start_ms),
           (long long)remaining_ms);
  fields = more;
  if (remaining_ms >= 0)
    pf_log_fields(PF_LOG_INFO, fields, "still waiting for %s: %d attempts in %s, still: %s; %s left", what,
                  r->attempts, d2, cause, pf__coarse(remaining_ms, d3, sizeof(d3)));
  else
    pf_log_fields(PF_LOG_INFO, fields, "still waiting for %s: %d attempts in %s, still: %s; no time limit", what,
                  r->attempts, d2, cause);
}
