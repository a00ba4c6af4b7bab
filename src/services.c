/* Waiting for other services (tcp://, http://, redis://) on the database's libuv loop; see
 * services.h.
 *
 * Each service is a small state machine driven by the loop: resolve (thread pool) -> connect ->
 * talk (HTTP GET or Redis PING) -> ready, or -> back off -> try again until the shared budget ends.
 * One uv_timer_t per service bounds each attempt and then times the backoff. An attempt's TCP
 * handle and its requests live in one heap block that is detached from the service when the
 * attempt ends and freed by the handle's close callback, which libuv runs only after the cancelled
 * requests' callbacks: nothing can call back into a service that has moved on. */
#include "preflight/services.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preflight/backoff.h"
#include "preflight/duration.h"
#include "preflight/error.h"
#include "preflight/log.h"
#include "preflight/retrylog.h"
#include "preflight/signals.h"

#define PF__SVC_MAX_ADDRS 8
#define PF__SVC_MAX_REPLY 2048

typedef enum { PF__SVC_IDLE, PF__SVC_RESOLVING, PF__SVC_CONNECTING, PF__SVC_TALKING, PF__SVC_SLEEPING,
               PF__SVC_READY, PF__SVC_GAVE_UP } pf__svc_state_t;

typedef struct pf__svc pf__svc_t;

/* A name lookup in the thread pool; it cannot be interrupted, so an abandoned one frees itself. */
typedef struct {
  uv_getaddrinfo_t req;
  pf__svc_t *svc;
} pf__svc_lookup_t;

/* One attempt's connection; `svc` is NULL once the attempt is over (see the file comment). */
typedef struct {
  uv_tcp_t tcp;
  uv_connect_t connect;
  uv_write_t write;
  char *out;
  pf__svc_t *svc;
} pf__svc_conn_t;

struct pf__svc {
  pf_services_t *owner;
  pf_service_t s;
  char *url_error;              /* the URL did not parse: the service can never be ready */
  pf__svc_state_t state;
  uv_timer_t timer;
  pf__svc_lookup_t *lookup;
  pf__svc_conn_t *conn;
  struct sockaddr_storage addrs[PF__SVC_MAX_ADDRS];
  int naddrs, addr_next;
  bool shortened;               /* this attempt was cut short to fit the end of the budget */
  int64_t attempt_ms;           /* this attempt's time limit (0: none) */
  pf_backoff_t bo;
  pf_retrylog_t rl;
  int attempts;
  char cause[512];              /* the last real cause */
  char reply[PF__SVC_MAX_REPLY];
  size_t reply_len;
  bool authed;                  /* redis: AUTH answered +OK (or none was needed) */
  uint64_t ready_ms;
};

struct pf_services {
  uv_loop_t *loop;
  pf_services_opts_t o;
  pf__svc_t *svcs;
  size_t n;
};

static void pf__svc_attempt(pf__svc_t *v);

/* Milliseconds left of the shared budget (INT64_MAX without one). */
static int64_t pf__svc_remaining(const pf_services_t *s) {
  if (s->o.timeout_ms == 0) return INT64_MAX;
  return s->o.timeout_ms - (int64_t)(pf_now_ms() - s->o.start_ms);
}

static void pf__svc_conn_free(uv_handle_t *h) {
  pf__svc_conn_t *c = h->data;
  free(c->out);
  free(c);
}

/* Ends the current attempt's connection and lookup, if any. */
static void pf__svc_drop(pf__svc_t *v) {
  if (v->lookup) {
    v->lookup->svc = NULL;
    v->lookup = NULL;
  }
  if (v->conn) {
    v->conn->svc = NULL;
    uv_close((uv_handle_t *)&v->conn->tcp, pf__svc_conn_free);
    v->conn = NULL;
  }
}

static void pf__svc_on_timer(uv_timer_t *t);

/* The service answered: stop, and say so. */
static void pf__svc_ready(pf__svc_t *v) {
  pf__svc_drop(v);
  uv_timer_stop(&v->timer);
  v->state = PF__SVC_READY;
  v->ready_ms = pf_now_ms();
  char d[32];
  pf_log_info("service %s ready after %d attempt%s in %s", v->s.display, v->attempts, v->attempts == 1 ? "" : "s",
              pf_duration_format((int64_t)(v->ready_ms - v->owner->o.start_ms), d, sizeof(d)));
}

/* The attempt failed with `cause`: back off and try again, or give up at the end of the budget. */
static void pf__svc_fail(pf__svc_t *v, const char *cause, bool timed_out) {
  pf__svc_drop(v);
  uv_timer_stop(&v->timer);
  if (!(v->shortened && timed_out && v->cause[0])) snprintf(v->cause, sizeof(v->cause), "%s", cause);
  int64_t remaining = pf__svc_remaining(v->owner);
  if (remaining <= 0) {
    pf_log_debug("waiting for service %s: attempt %d failed: %s", v->s.display, v->attempts, cause);
    v->state = PF__SVC_GAVE_UP;
    return;
  }
  int64_t delay = pf_backoff_next(&v->bo);
  if (delay > remaining) delay = remaining;
  char what[400], fields[64];
  snprintf(what, sizeof(what), "service %s", v->s.display);
  snprintf(fields, sizeof(fields), "\"attempt\":%d,\"delay_ms\":%lld", v->attempts, (long long)delay);
  pf_retrylog_failed(&v->rl, what, cause, delay, v->owner->o.start_ms, v->owner->o.timeout_ms ? remaining : -1, fields);
  v->state = PF__SVC_SLEEPING;
  uv_update_time(v->owner->loop);
  uv_timer_start(&v->timer, pf__svc_on_timer, (uint64_t)delay, 0);
}

/* Fails the attempt with a libuv error as its cause. */
static void pf__svc_fail_uv(pf__svc_t *v, const char *what, int status) {
  char cause[256];
  snprintf(cause, sizeof(cause), "%s: %s", what, uv_strerror(status));
  pf__svc_fail(v, cause, false);
}

static void pf__svc_on_timer(uv_timer_t *t) {
  pf__svc_t *v = t->data;
  char cause[128], d[32];
  switch (v->state) {
    case PF__SVC_SLEEPING: pf__svc_attempt(v); break;
    case PF__SVC_RESOLVING:
      snprintf(cause, sizeof(cause), "could not resolve \"%.60s\": timed out", v->s.host);
      pf__svc_fail(v, cause, true);
      break;
    case PF__SVC_CONNECTING:
    case PF__SVC_TALKING:
      snprintf(cause, sizeof(cause), "%s within %s",
               v->state == PF__SVC_CONNECTING ? "no connection" : v->s.kind == PF_SERVICE_HTTP ? "no HTTP answer" : "no PONG",
               pf_duration_format(v->attempt_ms, d, sizeof(d)));
      pf__svc_fail(v, cause, true);
      break;
    default: break;
  }
}

static void pf__svc_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  pf__svc_conn_t *c = h->data;
  pf__svc_t *v = c->svc;
  if (v == NULL || v->reply_len >= sizeof(v->reply) - 1) {
    *buf = uv_buf_init(NULL, 0);
    return;
  }
  *buf = uv_buf_init(v->reply + v->reply_len, (unsigned)(sizeof(v->reply) - 1 - v->reply_len));
}

/* Copies one line of a reply for a message: printable ASCII only, at most 120 bytes. */
static void pf__svc_quote(const char *s, size_t n, char *out, size_t outlen) {
  size_t j = 0;
  for (size_t i = 0; i < n && j + 1 < outlen && i < 120; i++)
    out[j++] = (s[i] >= ' ' && s[i] < 0x7f) ? s[i] : '?';
  out[j] = '\0';
}

/* Judges what an HTTP service sent so far: ready on a 2xx status line, failed on another status
 * or garbage; returns false while the status line is incomplete. */
static bool pf__svc_http_judge(pf__svc_t *v) {
  char *eol = memchr(v->reply, '\n', v->reply_len);
  if (eol == NULL) return false;
  size_t n = (size_t)(eol - v->reply);
  if (n > 0 && v->reply[n - 1] == '\r') n--;
  char line[160], cause[200];
  pf__svc_quote(v->reply, n, line, sizeof(line));
  int code = 0;
  if (n >= 12 && strncmp(v->reply, "HTTP/1.", 7) == 0 && v->reply[8] == ' ' && isdigit((unsigned char)v->reply[9]) &&
      isdigit((unsigned char)v->reply[10]) && isdigit((unsigned char)v->reply[11]))
    code = (v->reply[9] - '0') * 100 + (v->reply[10] - '0') * 10 + (v->reply[11] - '0');
  if (code >= 200 && code < 300) {
    pf__svc_ready(v);
  } else {
    snprintf(cause, sizeof(cause), code ? "GET %s answered \"%s\" (not 2xx)" : "GET %s: not an HTTP answer: \"%s\"",
             v->s.path, code ? line + 9 : line);
    pf__svc_fail(v, cause, false);
  }
  return true;
}

/* Judges Redis's replies: +OK to AUTH, then +PONG; an error reply (-LOADING, -NOAUTH, -WRONGPASS)
 * is the cause. Returns false while a reply line is incomplete. */
static bool pf__svc_redis_judge(pf__svc_t *v) {
  for (;;) {
    char *eol = memchr(v->reply, '\n', v->reply_len);
    if (eol == NULL) return false;
    size_t n = (size_t)(eol - v->reply), used = n + 1;
    if (n > 0 && v->reply[n - 1] == '\r') n--;
    char line[160], cause[200];
    pf__svc_quote(v->reply, n, line, sizeof(line));
    if (!v->authed) {
      if (strcmp(line, "+OK") != 0) {
        snprintf(cause, sizeof(cause), "AUTH answered \"%s\"", line);
        pf__svc_fail(v, cause, false);
        return true;
      }
      v->authed = true;
      memmove(v->reply, v->reply + used, v->reply_len - used);
      v->reply_len -= used;
      continue;
    }
    if (strcmp(line, "+PONG") == 0) pf__svc_ready(v);
    else {
      snprintf(cause, sizeof(cause), "PING answered \"%s\"", line);
      pf__svc_fail(v, cause, false);
    }
    return true;
  }
}

static void pf__svc_on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  pf__svc_conn_t *c = stream->data;
  pf__svc_t *v = c->svc;
  if (v == NULL) return;
  if (nread > 0) {
    v->reply_len += (size_t)nread;
    bool decided = v->s.kind == PF_SERVICE_HTTP ? pf__svc_http_judge(v) : pf__svc_redis_judge(v);
    if (!decided && v->reply_len >= sizeof(v->reply) - 1) pf__svc_fail(v, "the answer's first line is too long", false);
    return;
  }
  if (nread == 0) return;
  if (nread == UV_EOF)
    pf__svc_fail(v, v->reply_len ? "the connection closed in the middle of the answer"
                                 : "the connection closed without an answer", false);
  else if (nread == UV_ENOBUFS)
    pf__svc_fail(v, "the answer's first line is too long", false);
  else
    pf__svc_fail_uv(v, "reading the answer", (int)nread);
}

static void pf__svc_on_write(uv_write_t *req, int status) {
  pf__svc_conn_t *c = req->data;
  if (c->svc && status < 0) pf__svc_fail_uv(c->svc, "sending the request", status);
}

/* Appends one Redis command as a RESP array of bulk strings. */
static void pf__svc_resp(pf_buf_t *b, int argc, const char *const *argv) {
  pf_buf_printf(b, "*%d\r\n", argc);
  for (int i = 0; i < argc; i++) pf_buf_printf(b, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
}

/* Connected: a TCP service is ready; HTTP and Redis services are asked their question. */
static void pf__svc_talk(pf__svc_t *v) {
  if (v->s.kind == PF_SERVICE_TCP) {
    pf__svc_ready(v);
    return;
  }
  pf__svc_conn_t *c = v->conn;
  pf_buf_t b = {0};
  if (v->s.kind == PF_SERVICE_HTTP) {
    bool v6 = strchr(v->s.host, ':') != NULL;
    pf_buf_printf(&b, "GET %s HTTP/1.1\r\nHost: %s%s%s", v->s.path, v6 ? "[" : "", v->s.host, v6 ? "]" : "");
    if (v->s.port != 80) pf_buf_printf(&b, ":%d", v->s.port);
    pf_buf_puts(&b, "\r\nUser-Agent: preflight/" PF_VERSION "\r\nAccept: */*\r\nConnection: close\r\n\r\n");
  } else {
    v->authed = v->s.password == NULL;
    if (v->s.password) {
      const char *auth[] = {"AUTH", v->s.user ? v->s.user : v->s.password, v->s.password};
      pf__svc_resp(&b, v->s.user ? 3 : 2, auth);
    }
    const char *ping[] = {"PING"};
    pf__svc_resp(&b, 1, ping);
  }
  c->out = pf_buf_steal(&b);
  v->reply_len = 0;
  v->state = PF__SVC_TALKING;
  uv_buf_t buf = uv_buf_init(c->out, (unsigned)strlen(c->out));
  c->write.data = c;
  int r = uv_write(&c->write, (uv_stream_t *)&c->tcp, &buf, 1, pf__svc_on_write);
  if (r == 0) r = uv_read_start((uv_stream_t *)&c->tcp, pf__svc_alloc, pf__svc_on_read);
  if (r != 0) pf__svc_fail_uv(v, "sending the request", r);
}

static void pf__svc_connect_next(pf__svc_t *v, int last_status);

static void pf__svc_on_connect(uv_connect_t *req, int status) {
  pf__svc_conn_t *c = req->data;
  pf__svc_t *v = c->svc;
  if (v == NULL) return;
  if (status == 0) {
    pf__svc_talk(v);
    return;
  }
  pf__svc_drop(v);
  pf__svc_connect_next(v, status);
}

/* Connects to the next resolved address; when none is left, fails with the last error. */
static void pf__svc_connect_next(pf__svc_t *v, int last_status) {
  if (v->addr_next >= v->naddrs) {
    char cause[300];
    snprintf(cause, sizeof(cause), "cannot connect to %s:%d: %s", v->s.host, v->s.port,
             last_status ? uv_strerror(last_status) : "no address");
    pf__svc_fail(v, cause, false);
    return;
  }
  pf__svc_conn_t *c = pf_xcalloc(1, sizeof(*c));
  c->svc = v;
  int r = uv_tcp_init(v->owner->loop, &c->tcp);
  if (r != 0) {
    free(c);
    pf__svc_fail_uv(v, "uv_tcp_init", r);
    return;
  }
  c->tcp.data = c;
  c->connect.data = c;
  v->conn = c;
  v->state = PF__SVC_CONNECTING;
  r = uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&v->addrs[v->addr_next++], pf__svc_on_connect);
  if (r != 0) {
    pf__svc_drop(v);
    pf__svc_connect_next(v, r);
  }
}

static void pf__svc_on_lookup(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  pf__svc_lookup_t *lk = req->data;
  pf__svc_t *v = lk->svc;
  free(lk);
  if (v == NULL) {
    uv_freeaddrinfo(res);
    return;
  }
  v->lookup = NULL;
  if (status < 0) {
    char cause[200];
    snprintf(cause, sizeof(cause), "could not resolve \"%.60s\": %s", v->s.host, uv_strerror(status));
    pf__svc_fail(v, cause, false);
    return;
  }
  v->naddrs = v->addr_next = 0;
  for (struct addrinfo *ai = res; ai && v->naddrs < PF__SVC_MAX_ADDRS; ai = ai->ai_next) {
    if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) || ai->ai_addrlen > sizeof(v->addrs[0])) continue;
    memcpy(&v->addrs[v->naddrs++], ai->ai_addr, ai->ai_addrlen);
  }
  uv_freeaddrinfo(res);
  pf__svc_connect_next(v, 0);
}

/* Starts one attempt: resolve the host (unless it is an address), then connect. */
static void pf__svc_attempt(pf__svc_t *v) {
  pf_services_t *s = v->owner;
  v->attempts++;
  int64_t remaining = pf__svc_remaining(s), attempt_ms = s->o.connect_timeout_ms;
  v->shortened = false;
  if (s->o.timeout_ms && (attempt_ms == 0 || attempt_ms > remaining)) {
    attempt_ms = remaining > 1 ? remaining : 1;
    v->shortened = true;
  }
  uv_update_time(s->loop);
  v->attempt_ms = attempt_ms;
  if (attempt_ms > 0) uv_timer_start(&v->timer, pf__svc_on_timer, (uint64_t)attempt_ms, 0);

  struct sockaddr_in6 a6;
  struct sockaddr_in a4;
  v->naddrs = v->addr_next = 0;
  if (uv_ip4_addr(v->s.host, v->s.port, &a4) == 0) {
    memcpy(&v->addrs[v->naddrs++], &a4, sizeof(a4));
  } else if (uv_ip6_addr(v->s.host, v->s.port, &a6) == 0) {
    memcpy(&v->addrs[v->naddrs++], &a6, sizeof(a6));
  }
  if (v->naddrs > 0) {
    pf__svc_connect_next(v, 0);
    return;
  }
  v->state = PF__SVC_RESOLVING;
  pf__svc_lookup_t *lk = pf_xcalloc(1, sizeof(*lk));
  lk->svc = v;
  lk->req.data = lk;
  char port[8];
  snprintf(port, sizeof(port), "%d", v->s.port);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  int r = uv_getaddrinfo(s->loop, &lk->req, pf__svc_on_lookup, v->s.host, port, &hints);
  if (r != 0) {
    free(lk);
    char cause[200];
    snprintf(cause, sizeof(cause), "could not resolve \"%.60s\": %s", v->s.host, uv_strerror(r));
    pf__svc_fail(v, cause, false);
    return;
  }
  v->lookup = lk;
}

pf_services_t *pf_services_start(uv_loop_t *loop, const char *const *urls, size_t n, const pf_services_opts_t *o) {
  pf_services_t *s = pf_xcalloc(1, sizeof(*s));
  s->loop = loop;
  s->o = *o;
  s->n = n;
  s->svcs = pf_xcalloc(n ? n : 1, sizeof(*s->svcs));
  for (size_t i = 0; i < n; i++) {
    pf__svc_t *v = &s->svcs[i];
    v->owner = s;
    uv_timer_init(loop, &v->timer);
    v->timer.data = v;
    pf_backoff_init(&v->bo, o->interval_ms, o->max_interval_ms, 0);
    pf_retrylog_init(&v->rl);
    char why[512];
    if (pf_service_parse(urls[i], &v->s, why, sizeof(why)) != 0) {
      v->url_error = pf_xstrdup(why);
      v->s.display = pf_xstrdup("(invalid service URL)");
      v->state = PF__SVC_GAVE_UP;
      snprintf(v->cause, sizeof(v->cause), "%s", why);
      continue;
    }
    if (v->s.password) pf_log_secret(v->s.password);
    char d[32];
    pf_log_debug("waiting for service %s (budget %s)", v->s.display,
                 o->timeout_ms ? pf_duration_format(o->timeout_ms, d, sizeof(d)) : "unlimited");
    pf__svc_attempt(v);
  }
  return s;
}

/* Whether a service has finished waiting, one way or the other. */
static bool pf__svc_finished(const pf__svc_t *v) { return v->state == PF__SVC_READY || v->state == PF__SVC_GAVE_UP; }

int pf_services_wait(pf_services_t *s, char *err, size_t errlen) {
  for (;;) {
    if (pf_signals_caught()) return PF_ESIGNAL;
    bool pending = false;
    for (size_t i = 0; i < s->n; i++) pending = pending || !pf__svc_finished(&s->svcs[i]);
    if (!pending) break;
    uv_run(s->loop, UV_RUN_ONCE);
  }
  pf_buf_t b = {0};
  char d[32];
  for (size_t i = 0; i < s->n; i++) {
    const pf__svc_t *v = &s->svcs[i];
    if (v->state == PF__SVC_READY) continue;
    pf_buf_printf(&b, "%sservice %s not ready after %s (%d attempt%s); last error: %s", b.len ? "; " : "", v->s.display,
                  pf_duration_format((int64_t)(pf_now_ms() - s->o.start_ms), d, sizeof(d)), v->attempts,
                  v->attempts == 1 ? "" : "s", v->cause[0] ? v->cause : "no answer");
  }
  int r = 0;
  if (b.len) r = pf_seterr(err, errlen, PF_EUNAVAIL, "%s", b.data);
  pf_buf_free(&b);
  return r;
}

const char *pf_services_pending(const pf_services_t *s, char *buf, size_t buflen) {
  pf_buf_t b = {0};
  for (size_t i = 0; s && i < s->n; i++) {
    const pf__svc_t *v = &s->svcs[i];
    if (v->state == PF__SVC_READY) continue;
    pf_buf_printf(&b, "%s%s (%s)", b.len ? ", " : "; also not ready: ", v->s.display,
                  v->cause[0] ? v->cause : "no answer yet");
  }
  snprintf(buf, buflen, "%s", b.data ? b.data : "");
  pf_buf_free(&b);
  return buf;
}

void pf_services_free(pf_services_t *s) {
  if (s == NULL) return;
  for (size_t i = 0; i < s->n; i++) {
    pf__svc_t *v = &s->svcs[i];
    pf__svc_drop(v);
    uv_close((uv_handle_t *)&v->timer, NULL);
  }
  /* Let the loop finish closing the timers (they live in s->svcs) before freeing them. */
  uv_run(s->loop, UV_RUN_NOWAIT);
  for (size_t i = 0; i < s->n; i++) {
    pf_service_free(&s->svcs[i].s);
    free(s->svcs[i].url_error);
  }
  free(s->svcs);
  free(s);
}
