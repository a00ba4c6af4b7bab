/* Awaiting the schema: sleep, verify, repeat, on the loop (so a stop signal ends the wait at
 * once). The interval is fixed and short rather than backing off: the point is to start the
 * application within about one interval of the schema's completion, and one catalog query every
 * 250 ms is nothing for a server. Progress is logged every few seconds, not per attempt. */
#include "preflight/await.h"

#include <stdio.h>
#include <string.h>

#include "preflight/duration.h"
#include "preflight/error.h"
#include "preflight/log.h"

/* Names the first required item v reports missing, for progress lines ("table public.users"). */
static void pf__first_missing(const pf_manifest_t *m, const pf_verify_t *v, char *buf, size_t len) {
  for (size_t i = 0; i < m->nitems; i++)
    if (v->items[i].state != PF_OBJ_PRESENT && m->items[i].severity == PF_SEVERITY_ERROR) {
      snprintf(buf, len, "%s %s", pf_kind_name(m->items[i].kind), m->items[i].display);
      return;
    }
  snprintf(buf, len, "nothing");
}

int pf_await_schema(pf_db_t *db, const pf_manifest_t *m, const pf_await_opts_t *o, pf_verify_t *v,
                    pf_await_stats_t *st, char *err, size_t errlen) {
  memset(st, 0, sizeof(*st));
  if (v->missing_required == 0 || o->budget_ms <= 0) return 0;
  int64_t progress_ms = o->progress_ms > 0 ? o->progress_ms : 5000;
  int64_t interval = o->interval_ms > 0 ? o->interval_ms : 250;
  uint64_t t0 = pf_now_ms(), last_progress = t0;
  char d1[32], d2[32], first[512];
  pf__first_missing(m, v, first, sizeof(first));
  pf_log_info("%zu required object%s missing (first: %s): awaiting the schema for up to %s (wait.schema), "
              "verifying every %s",
              v->missing_required, v->missing_required == 1 ? "" : "s", first,
              pf_duration_format(o->budget_ms, d1, sizeof(d1)), pf_duration_format(interval, d2, sizeof(d2)));
  for (;;) {
    int64_t elapsed = (int64_t)(pf_now_ms() - t0);
    int64_t left = o->budget_ms - elapsed;
    if (left <= 0) break;
    int r = pf_db_sleep(db, interval < left ? interval : left);
    if (r != 0) {
      st->waited_ms = (int64_t)(pf_now_ms() - t0);
      return r;
    }
    pf_verify_t next;
    r = pf_catalog_verify(db, m, false, &next, err, errlen);
    if (r != 0) {
      st->waited_ms = (int64_t)(pf_now_ms() - t0);
      return r;
    }
    st->verifications++;
    st->round_trips += next.round_trips;
    pf_verify_free(v);
    *v = next;
    if (v->missing_required == 0) break;
    uint64_t now = pf_now_ms();
    if ((int64_t)(now - last_progress) >= progress_ms) {
      last_progress = now;
      pf__first_missing(m, v, first, sizeof(first));
      int64_t rem = o->budget_ms - (int64_t)(now - t0);
      pf_log_fields(PF_LOG_INFO, NULL, "still awaiting the schema: %zu required object%s missing (first: %s), "
                    "%d verification%s so far, %s left",
                    v->missing_required, v->missing_required == 1 ? "" : "s", first, st->verifications,
                    st->verifications == 1 ? "" : "s", pf_duration_format(rem > 0 ? rem : 0, d1, sizeof(d1)));
    }
  }
  st->waited_ms = (int64_t)(pf_now_ms() - t0);
  if (v->missing_required == 0)
    pf_log_info("schema complete after awaiting it for %s (%d verification%s)",
                pf_duration_format(st->waited_ms, d1, sizeof(d1)), st->verifications,
                st->verifications == 1 ? "" : "s");
  else
    pf_log_info("wait.schema (%s) is over with %zu required object%s still missing",
                pf_duration_format(o->budget_ms, d1, sizeof(d1)), v->missing_required,
                v->missing_required == 1 ? "" : "s");
  return 0;
}
