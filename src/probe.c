/* The health probe runs the same verification as start-up, but while the application runs.
 *
 * Verification is written synchronously (it drives its own loop until each query completes), and
 * a libuv loop cannot be run from inside one of its own callbacks. So a probe runs in libuv's
 * thread pool, on a private loop that only that thread touches, with a connection that persists
 * from one run to the next; its result is handed back on the main loop. A dropped connection
 * makes that run unhealthy and the next run reconnects.
 *
 * A probe is bounded: a connection that stops answering without closing (a black-holed route, a
 * proxy that swallows bytes, a frozen server) would otherwise hold the single probe, and every
 * /health answer with it, until TCP gives up minutes later. Its queries carry a short
 * statement_timeout, and a timer on the main loop watches the whole run: past PF__PROBE_BUDGET_MS
 * it shuts the worker's socket down (shutdown(2) is safe from another thread and frees nothing),
 * so libpq sees the connection end at once, the run reports unhealthy and drops the connection,
 * and the next run connects afresh. */
#include "preflight/probe.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "preflight/catalog.h"
#include "preflight/db.h"
#include "preflight/error.h"
#include "preflight/log.h"

/* The longest a probe may take before its connection is cut; below the health server's own
 * 10 s wait, so a waiting request gets a fresh answer rather than a time-out. */
#define PF__PROBE_BUDGET_MS 5000
/* What each of the probe's statements may take on the server. */
#define PF__PROBE_STATEMENT_MS 3000

struct pf_probe {
  uv_loop_t *main_loop;
  const pf_manifest_t *m;
  pf_manifest_t bounded;       /* m with the probe's shorter statement_timeout */
  uv_timer_t deadline;         /* on the main loop */
  pthread_mutex_t mu;          /* guards fd and cut, shared with the worker */
  int fd;                      /* the worker's socket while it verifies, else -1 */
  bool cut;                    /* the deadline shut it down */
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
  /* A shallow copy, read-only like m itself: only the bound differs. */
  p->bounded = *m;
  if (p->bounded.db_statement_timeout_ms <= 0 || p->bounded.db_statement_timeout_ms > PF__PROBE_STATEMENT_MS)
    p->bounded.db_statement_timeout_ms = PF__PROBE_STATEMENT_MS;
  pthread_mutex_init(&p->mu, NULL);
  p->fd = -1;
  uv_timer_init(main_loop, &p->deadline);
  p->deadline.data = p;
  uv_unref((uv_handle_t *)&p->deadline);
  uv_loop_init(&p->loop);
  p->db = pf_db_new(&p->loop);
  p->work.data = p;
  return p;
}

/* Runs in the thread pool: (re)connect if needed, verify, and summarise into status/detail. */
static void pf__probe_work(uv_work_t *w) {
  pf_probe_t *p = w->data;
  const pf_manifest_t *m = &p->bounded;
  char err[1024] = "";
  pf_buf_free(&p->detail);
  if (!pf_db_connected(p->db)) {
    int64_t t = m->connect_timeout_ms > 0 && m->connect_timeout_ms < PF__PROBE_BUDGET_MS ? m->connect_timeout_ms
                                                                                       : PF__PROBE_BUDGET_MS;
    if (pf_db_connect(p->db, m->database_url, t) != 0) {
      p->status = PF_HEALTH_UNHEALTHY;
      pf_buf_puts(&p->detail, "\"error\":");
      pf_buf_json_string(&p->detail, pf_db_last_error(p->db)->message);
      return;
    }
  }
  pthread_mutex_lock(&p->mu);
  p->fd = p->cut ? -1 : PQsocket(pf_db_conn(p->db));
  bool cut = p->cut;
  pthread_mutex_unlock(&p->mu);
  pf_verify_t v;
  int r = cut ? PF_ETIMEOUT : pf_catalog_verify(p->db, m, false, &v, err, sizeof(err));
  pthread_mutex_lock(&p->mu);
  p->fd = -1;
  cut = p->cut;
  pthread_mutex_unlock(&p->mu);
  if (r != 0) {
    p->status = PF_HEALTH_UNHEALTHY;
    pf_buf_puts(&p->detail, "\"error\":");
    if (cut)
      snprintf(err, sizeof(err), "the database did not answer the probe within %d ms; reconnecting", PF__PROBE_BUDGET_MS);
    pf_buf_json_string(&p->detail, err);
    /* Whatever went wrong, the next run starts from a fresh connection. */
    pf_db_disconnect(p->db);
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
  uv_timer_stop(&p->deadline);
  pf_health_result_t r = {.status = status == 0 ? p->status : PF_HEALTH_UNHEALTHY,
                          .detail_json = status == 0 ? p->detail.data : NULL};
  if (r.status != PF_HEALTH_HEALTHY)
    pf_log_debug("health probe: %s", r.status == PF_HEALTH_DEGRADED ? "degraded" : "unhealthy");
  p->done(p->done_ctx, &r);
}

/* Main loop: the probe has run too long; cut its connection so the worker returns now. */
static void pf__probe_on_deadline(uv_timer_t *t) {
  pf_probe_t *p = t->data;
  pthread_mutex_lock(&p->mu);
  p->cut = true;
  if (p->fd >= 0) shutdown(p->fd, SHUT_RDWR);
  pthread_mutex_unlock(&p->mu);
}

void pf_probe_run(void *probe, pf_health_done_fn done, void *done_ctx) {
  pf_probe_t *p = probe;
  p->done = done;
  p->done_ctx = done_ctx;
  p->busy = true;
  pthread_mutex_lock(&p->mu);
  p->cut = false;
  pthread_mutex_unlock(&p->mu);
  uv_timer_start(&p->deadline, pf__probe_on_deadline, PF__PROBE_BUDGET_MS, 0);
  int r = uv_queue_work(p->main_loop, &p->work, pf__probe_work, pf__probe_after);
  if (r != 0) {
    p->busy = false;
    uv_timer_stop(&p->deadline);
    done(done_ctx, NULL);
  }
}

bool pf_probe_busy(const pf_probe_t *p) { return p->busy; }

/* Close callback of the deadline timer: the last thing that points to the probe. */
static void pf__probe_on_closed(uv_handle_t *h) { free(h->data); }

void pf_probe_free(pf_probe_t *p) {
  if (p == NULL) return;
  pf_db_free(p->db);
  uv_run(&p->loop, UV_RUN_NOWAIT);
  uv_loop_close(&p->loop);
  pf_buf_free(&p->detail);
  pthread_mutex_destroy(&p->mu);
  /* Freed once the main loop has closed the timer. */
  uv_close((uv_handle_t *)&p->deadline, pf__probe_on_closed);
}
