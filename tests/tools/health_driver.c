/* Test driver for src/health.c: serves --health-listen with a fake probe while supervising a
 * command on the same loop, as `preflight --init --health-listen` does.
 *
 *   health_driver --listen ADDR --state FILE --count FILE --port-file FILE
 *                 [--interval MS] [--read-timeout MS] [--probe-timeout MS] [--max-conns N]
 *                 [--probe-delay MS] [-v] -- COMMAND [ARG...]
 *
 * The fake probe reads the first word of --state ("healthy", "degraded", "unhealthy", or "hang"
 * for a probe that never answers), answers after --probe-delay ms, and writes how many times it
 * has run to --count. The bound port is written to --port-file once listening. The driver exits
 * with the command's status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "preflight/error.h"
#include "preflight/health.h"
#include "preflight/log.h"
#include "preflight/signals.h"
#include "preflight/supervise.h"

typedef struct {
  uv_loop_t *loop;
  const char *state_file, *count_file;
  int64_t delay_ms;
  int count;
  pf_health_done_fn hung_done; /* a "hang" probe, completed at exit so nothing leaks */
  void *hung_ctx;
  struct pending *pending;     /* a delayed answer, cancelled at exit */
} fake_probe_t;

typedef struct pending {
  uv_timer_t timer;
  fake_probe_t *fp;
  pf_health_done_fn done;
  void *done_ctx;
} pending_t;

/* Writes text to path, replacing its contents. */
static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (f == NULL) return;
  fputs(text, f);
  fclose(f);
}

/* Reads the state file and reports it to the server as the probe's result. */
static void answer(fake_probe_t *fp, pf_health_done_fn done, void *done_ctx) {
  char word[32] = "unhealthy";
  FILE *f = fopen(fp->state_file, "r");
  if (f != NULL) {
    if (fscanf(f, "%31s", word) != 1) strcpy(word, "unhealthy");
    fclose(f);
  }
  if (strcmp(word, "hang") == 0) {
    fp->hung_done = done;
    fp->hung_ctx = done_ctx;
    return;
  }
  pf_health_result_t r = {PF_HEALTH_UNHEALTHY, "\"missing\":[\"public.users\"]"};
  if (strcmp(word, "healthy") == 0) r = (pf_health_result_t){PF_HEALTH_HEALTHY, NULL};
  else if (strcmp(word, "degraded") == 0)
    r = (pf_health_result_t){PF_HEALTH_DEGRADED, "\"missing\":[\"public.users.avatar_url\"]"};
  done(done_ctx, &r);
}

/* Close callback of a delayed answer's timer. */
static void free_pending(uv_handle_t *h) { free(h->data); }

/* Timer callback: the delayed answer is due. */
static void on_delay(uv_timer_t *t) {
  pending_t *p = t->data;
  p->fp->pending = NULL;
  answer(p->fp, p->done, p->done_ctx);
  uv_close((uv_handle_t *)t, free_pending);
}

/* The fake probe: counts the run, then answers now or after the configured delay. */
static void fake_probe(void *ctx, pf_health_done_fn done, void *done_ctx) {
  fake_probe_t *fp = ctx;
  char buf[32];
  snprintf(buf, sizeof buf, "%d\n", ++fp->count);
  write_file(fp->count_file, buf);
  if (fp->delay_ms <= 0) {
    answer(fp, done, done_ctx);
    return;
  }
  pending_t *p = calloc(1, sizeof *p);
  p->fp = fp;
  p->done = done;
  p->done_ctx = done_ctx;
  uv_timer_init(fp->loop, &p->timer);
  p->timer.data = p;
  uv_timer_start(&p->timer, on_delay, (uint64_t)fp->delay_ms, 0);
  fp->pending = p;
}

/* Cancels a running probe the way a real one is cancelled at shutdown: it reports at once
 * (unhealthy), so that the stopped server can be freed without waiting for it. */
static void cancel_probe(fake_probe_t *fp) {
  if (fp->hung_done != NULL) fp->hung_done(fp->hung_ctx, NULL);
  fp->hung_done = NULL;
  pending_t *p = fp->pending;
  if (p == NULL) return;
  fp->pending = NULL;
  uv_timer_stop(&p->timer);
  p->done(p->done_ctx, NULL);
  uv_close((uv_handle_t *)&p->timer, free_pending);
}

/* Parses the options, serves and supervises, and returns the command's exit status. */
int main(int argc, char **argv) {
  pf_signals_save();
  uv_loop_t loop;
  uv_loop_init(&loop);
  fake_probe_t fp = {.loop = &loop};
  pf_health_opts_t opts = {.probe = fake_probe, .probe_ctx = &fp};
  const char *port_file = NULL;
  pf_log_level_t level = PF_LOG_INFO;
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--") == 0) { i++; break; }
    if (strcmp(a, "-v") == 0) { level = PF_LOG_DEBUG; continue; }
    if (v == NULL) break;
    i++;
    if (strcmp(a, "--listen") == 0) opts.listen = v;
    else if (strcmp(a, "--state") == 0) fp.state_file = v;
    else if (strcmp(a, "--count") == 0) fp.count_file = v;
    else if (strcmp(a, "--port-file") == 0) port_file = v;
    else if (strcmp(a, "--interval") == 0) opts.interval_ms = atoll(v);
    else if (strcmp(a, "--read-timeout") == 0) opts.read_timeout_ms = atoll(v);
    else if (strcmp(a, "--probe-timeout") == 0) opts.probe_timeout_ms = atoll(v);
    else if (strcmp(a, "--max-conns") == 0) opts.max_connections = atoi(v);
    else if (strcmp(a, "--probe-delay") == 0) fp.delay_ms = atoll(v);
    else { i--; break; }
  }
  if (i >= argc || opts.listen == NULL || fp.state_file == NULL || fp.count_file == NULL ||
      port_file == NULL) {
    fprintf(stderr, "usage: health_driver --listen ADDR --state FILE --count FILE --port-file "
                    "FILE [options] -- COMMAND [ARG...]\n");
    return 64;
  }
  pf_log_setup(PF_LOG_TEXT, level);

  char err[512] = "";
  pf_health_t *h = NULL;
  int rc = pf_health_start(&loop, &opts, &h, err, sizeof err);
  if (rc != 0) {
    pf_log_error("%s", err);
    uv_loop_close(&loop);
    return pf_exit_status(rc);
  }
  char buf[32];
  snprintf(buf, sizeof buf, "%d\n", pf_health_port(h));
  write_file(port_file, buf);

  int status = 0;
  rc = pf_supervise_run(&loop, argv + i, NULL, &status, err, sizeof err);
  pf_health_stop(h);
  cancel_probe(&fp);
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) != 0) pf_log_error("handles left open on the loop");
  if (rc != 0) {
    pf_log_error("%s", err);
    return pf_exit_status(rc);
  }
  return status;
}
