/* The health probe runs the same verification as start-up, but while the application runs.
 *
 * Verification is written synchronously (it drives its own loop until each query completes), and
 * a libuv loop cannot be run from inside one of its own callbacks. So a probe runs in libuv's
 * thread pool, on a private loop that only that thread touches, with a connection that persists
 * from one run to the next; its result is handed back on the main loop. A dropped connection
 * makes that run unhealthy and the next run reconnects. */
#include "preflight/probe.h"

#include <stdlib.h>
#include <string.h>

#include "preflight/catalog.h"
#include "preflight/db.h"
#include "preflight/log.h"

struct pf_probe {
  uv_loop_t *main_loop;
  const pf_manifest_t *m;
  uv_loop_t loop;              /* private: used only by the worker thread */
  pf_db_t *db;
  uv_work_t work;
  bool busy;
  pf_health_done_fn done;
  void *done_ctx;
  pf_health_status_t status;
  pf_buf_t detail;             /* JSON members for the answer */
};

pf_probe_t *pf_probe_new(uv_loop_t *main_loop, const pf_manifest_t *m) {
  pf_probe_t *p = pf_xcalloc(1, sizeof(*p));
  p->main_loop = main_loop;
  p->m = m;
  uv_loop_init(&p->loop);
  p->db = pf_db_new(&p->loop);
  p->work.data = p;
  return p;
}

/* Runs in the thread pool: (re)connect if needed, verify, and summarise into status/detail. */
static void pf__probe_work(uv_work_t *w) {
  pf_probe_t *p = w->data;
  const pf_manifest_t *m = p->m;
  char err[1024] = "";
  pf_buf_free(&p->detail);
  if (!pf_db_connected(p->db)) {
    int64_t t = m->connect_timeout_ms > 0 ? m->connect_timeout_ms : 5000;
    if (pf_db_connect(p->db, m->database_url, t) != 0) {
      p->status = PF_HEALTH_UNHEALTHY;
      pf_buf_puts(&p->detail, "\"error\":");
      pf_buf_json_string(&p->detail, pf_db_last_error(p->db)->message);
      return;
    }
  }
  pf_verify_t v;
  if (pf_catalog_verify(p->db, m, false, &v, err, sizeof(err)) != 0) {
    p->status = PF_HEALTH_UNHEALTHY;
    pf_buf_puts(&p->detail, "\"error\":");
    pf_buf_json_string(&p->detail, err);
    if (!pf_db_connected(p->db)) pf_db_disconnect(p->db);
    return;
  }
  p->status = v.missing_required ? PF_HEALTH_UNHEALTHY : v.missing_warn ? PF_HEALTH_DEGRADED : PF_HEALTH_HEALTHY;
  pf_buf_printf(&p->detail, "\"checked\":%zu,\"missing\":[", m->nitems);
  size_t n = 0;
  for (size_t i = 0; i < m->nitems; i++) {
    if (v.items[i].state == PF_OBJ_PRESENT) continue;
    pf_buf_puts(&p->detail, n++ ? ",{\"kind\":" : "{\"kind\":");
    pf_buf_json_string(&p->detail, pf_kind_name(m->items[i].kind));
    pf_buf_puts(&p->detail, ",\"name\":");
    pf_buf_json_string(&p->detail, m->items[i].display);
    pf_buf_puts(&p->detail, ",\"severity\":");
    pf_buf_json_string(&p->detail, m->items[i].severity == PF_SEVERITY_WARN ? "warn" : "error");
    pf_buf_puts(&p->detail, ",\"detail\":");
    pf_buf_json_string(&p->detail, v.items[i].detail);
    pf_buf_putc(&p->detail, '}');
  }
  pf_buf_putc(&p->detail, ']');
  pf_verify_free(&v);
}

/* Back on the main loop: report to the health server. */
static void pf__probe_after(uv_work_t *w, int status) {
  pf_probe_t *p = w->data;
  p->busy = false;
  pf_health_result_t r = {.status = status == 0 ? p->status : PF_HEALTH_UNHEALTHY,
                          .detail_json = status == 0 ? p->detail.data : NULL};
  if (r.status != PF_HEALTH_HEALTHY)
    pf_log_debug("health probe: %s", r.status == PF_HEALTH_DEGRADED ? "degraded" : "unhealthy");
  p->done(p->done_ctx, &r);
}

void pf_probe_run(void *probe, pf_health_done_fn done, void *done_ctx) {
  pf_probe_t *p = probe;
  p->done = done;
  p->done_ctx = done_ctx;
  p->busy = true;
  int r = uv_queue_work(p->main_loop, &p->work, pf__probe_work, pf__probe_after);
  if (r != 0) {
    p->busy = false;
    done(done_ctx, NULL);
  }
}

bool pf_probe_busy(const pf_probe_t *p) { return p->busy; }

void pf_probe_free(pf_probe_t *p) {
  if (p == NULL) return;
  pf_db_free(p->db);
  uv_run(&p->loop, UV_RUN_NOWAIT);
  uv_loop_close(&p->loop);
  pf_buf_free(&p->detail);
  free(p);
}
