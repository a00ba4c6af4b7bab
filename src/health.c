/* The --health-listen HTTP endpoint: GET /health and GET /ready on the --init loop.
 *
 * Each connection is one request and one answer. It moves through four phases, each with a
 * deadline on the connection's own timer, so no client can hold a connection (or its 8 KiB
 * buffer) forever:
 *   READING  the request head is read into a fixed buffer; too slow: 408, too big: 431;
 *   WAITING  the request waits for a probe that is running; too slow: 503;
 *   WRITING  the answer is being written; too slow (the client reads nothing): closed;
 *   LINGER   we have sent FIN and discard what the client still sends until it closes too;
 *            closing with unread bytes in the socket would make the kernel send RST, and a RST
 *            can destroy the answer before the client has read it.
 * The probe's result is cached for the interval; requests that find no fresh result all wait for
 * the single probe that the first of them started.
 *
 * A readiness endpoint must stay answerable while someone holds connections open doing nothing
 * (slowloris: a hundred connections that each sent one byte). Real health checkers send their
 * whole request at once, so the head has a short deadline (2 s), and when the connection cap is
 * reached a new connection takes the place of the oldest one still READING (or lingering)
 * rather than being turned away; one peer address may moreover keep at most PF__PER_PEER connections
 * READING at once, its oldest making room for its newest. An attacker's idle connections are
 * thus always the ones that go, and a legitimate request, answered within milliseconds of its
 * arrival, is never the oldest. */
#include "preflight/health.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <strings.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preflight/error.h"
#include "preflight/log.h"

#define PF__HEAD_MAX 8192
#define PF__LINGER_MS 1000
#define PF__BACKLOG 128
#define PF__PER_PEER 32   /* connections one address may have READING at once */
/* The per-peer limit evicts a connection only after this: its request may simply not have been
 * read yet (a burst of connections is accepted before their bytes are read). */
#define PF__IDLE_GRACE_MS 500

typedef enum { PF__READING, PF__WAITING, PF__WRITING, PF__LINGER } pf__phase_t;

typedef struct pf__conn {
  pf_health_t *h;
  struct pf__conn *prev, *next;
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_write_t write_req;
  uv_shutdown_t shutdown_req;
  pf__phase_t phase;
  pf_health_route_t route;
  bool closing;
  int open_handles;       /* tcp and timer: the connection is freed when both are closed */
  char *response;         /* owned while the write is in flight */
  size_t len;             /* bytes of the request head in buf */
  struct sockaddr_storage peer;   /* the client's address (family 0 if unknown) */
  uint64_t accepted_at;           /* pf_now_ms() at accept */
  char buf[PF__HEAD_MAX];
} pf__conn_t;

struct pf_health {
  uv_loop_t *loop;
  uv_tcp_t server;
  bool server_open;
  bool stopping;
  int port;
  uint64_t interval_ms, read_timeout_ms, probe_timeout_ms;
  int max_connections;
  pf_health_probe_fn probe;
  void *probe_ctx;
  pf__conn_t *conns;      /* every open connection, newest first */
  int nconns;
  int nclosing;           /* of which closing: they no longer count against the cap */
  bool probing;           /* a probe has been started and has not called back yet */
  bool have_result;
  uint64_t result_at;     /* pf_now_ms() when the cached result arrived */
  pf_health_status_t status;
  char *detail;           /* the cached result's detail_json, or NULL */
};

static void pf__conn_close(pf__conn_t *c);

/* ---- parsing (pure) ---- */

/* Returns true for the characters a method or header name (an HTTP token) may contain. */
static bool pf__tchar(unsigned char ch) {
  /* ASCII ranges rather than isalnum(): the result must not depend on the locale. */
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* Returns true for a byte that can never appear in a request head (controls other than HTAB,
 * CR and LF, and DEL): seeing one means the client is not speaking HTTP. */
static bool pf__forbidden(unsigned char ch) {
  return (ch < 0x20 && ch != '\t' && ch != '\r' && ch != '\n') || ch == 0x7f;
}

/* Parses "Content-Length" values: digits only. Returns the value, or -1 if invalid. */
static long long pf__parse_length(const char *v, size_t n) {
  if (n == 0 || n > 18) return -1;
  long long x = 0;
  for (size_t i = 0; i < n; i++) {
    if (v[i] < '0' || v[i] > '9') return -1;
    x = x * 10 + (v[i] - '0');
  }
  return x;
}

/* Checks the header lines in [p, end) (each ending in LF, the last one empty). Returns 0 when
 * they are well-formed, setting *body when they announce a request body, or 400. */
static int pf__parse_headers(const char *p, const char *end, bool *body) {
  long long length = -1;
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    size_t n = (size_t)(eol - p);
    if (n > 0 && p[n - 1] == '\r') n--;
    if (n == 0) return 0; /* the empty line that ends the head */
    size_t i = 0;
    while (i < n && pf__tchar((unsigned char)p[i])) i++;
    if (i == 0 || i == n || p[i] != ':') return 400; /* also refuses obs-fold (leading space) */
    size_t name_len = i++;
    while (i < n && (p[i] == ' ' || p[i] == '\t')) i++;
    size_t vstart = i, vend = n;
    while (vend > vstart && (p[vend - 1] == ' ' || p[vend - 1] == '\t')) vend--;
    for (size_t k = vstart; k < vend; k++)
      if (p[k] == '\r') return 400; /* a bare CR inside a line */
    if (name_len == 14 && strncasecmp(p, "Content-Length", 14) == 0) {
      long long v = pf__parse_length(p + vstart, vend - vstart);
      if (v < 0 || (length >= 0 && v != length)) return 400;
      length = v;
      if (v > 0) *body = true;
    } else if (name_len == 17 && strncasecmp(p, "Transfer-Encoding", 17) == 0) {
      *body = true;
    }
    p = eol + 1;
  }
  return 0;
}

/* Judges a request head; see health.h for the codes it returns. */
int pf_health_parse_request(const char *buf, size_t len, size_t max, pf_health_route_t *route) {
  size_t i = 0;
  while (i < len && (buf[i] == '\r' || buf[i] == '\n')) i++; /* empty lines before a request */
  const char *line = buf + i;
  const char *eol = memchr(line, '\n', len - i);

  /* The head ends with the first empty line after the request line. Only the head is judged:
   * what follows it is a body or the next request, and the verdict on a head must not change
   * when more bytes arrive after it, since the server answers as soon as the head is whole. */
  const char *end = buf + len, *head_end = NULL;
  for (const char *p = eol ? eol + 1 : end; p < end;) {
    const char *e = memchr(p, '\n', (size_t)(end - p));
    if (e == NULL) break;
    if (e == p || (e == p + 1 && *p == '\r')) {
      head_end = e + 1;
      break;
    }
    p = e + 1;
  }
  const char *scan_end = head_end ? head_end : end;
  for (const char *k = buf; k < scan_end; k++)
    if (pf__forbidden((unsigned char)*k)) return 400;

  if (eol == NULL) {
    /* Refuse an impossible method at once rather than waiting for the line to end. */
    size_t k = 0;
    while (i + k < len && pf__tchar((unsigned char)line[k])) k++;
    if (i + k < len && line[k] != ' ') return 400;
    return len >= max ? 414 : 0;
  }

  /* request-line = method SP request-target SP HTTP-version */
  size_t n = (size_t)(eol - line);
  if (n > 0 && line[n - 1] == '\r') n--;
  size_t m = 0;
  while (m < n && pf__tchar((unsigned char)line[m])) m++;
  if (m == 0 || m == n || line[m] != ' ') return 400;
  size_t t0 = m + 1, t = t0;
  while (t < n && line[t] > ' ' && line[t] < 0x7f) t++;
  if (t == t0 || t == n || line[t] != ' ') return 400;
  const char *ver = line + t + 1;
  size_t vlen = n - t - 1;
  if (vlen != 8 || memcmp(ver, "HTTP/", 5) != 0 || !isdigit((unsigned char)ver[5]) ||
      ver[6] != '.' || !isdigit((unsigned char)ver[7]))
    return 400;
  if (ver[5] != '1') return 505;

  /* Until the empty line that ends the head has arrived, ask for more. */
  if (head_end == NULL) return len >= max ? 431 : 0;
  if ((size_t)(head_end - buf) > max) return 431;
  bool body = false;
  if (pf__parse_headers(eol + 1, head_end, &body) != 0) return 400;

  const char *target = line + t0;
  size_t plen = t - t0;
  const char *q = memchr(target, '?', plen);
  if (q != NULL) plen = (size_t)(q - target);
  if (plen == 7 && memcmp(target, "/health", 7) == 0) *route = PF_HEALTH_ROUTE_HEALTH;
  else if (plen == 6 && memcmp(target, "/ready", 6) == 0) *route = PF_HEALTH_ROUTE_READY;
  else return 404;
  if (m != 3 || memcmp(line, "GET", 3) != 0) return 405;
  if (body) return 413;
  return 200;
}

/* Parses a listen address into a socket address; see health.h for the accepted forms. */
int pf_health_parse_listen(const char *s, struct sockaddr_storage *addr, char *err,
                           size_t errlen) {
  if (s == NULL || *s == '\0')
    return pf_seterr(err, errlen, PF_ECONFIG, "empty listen address (expected ADDR:PORT)");
  const char *host = s, *port;
  size_t hostlen;
  bool bracketed = false;
  if (s[0] == '[') {
    const char *close = strchr(s, ']');
    if (close == NULL || close[1] != ':')
      return pf_seterr(err, errlen, PF_ECONFIG,
                       "invalid listen address \"%s\" (expected [IPV6]:PORT)", s);
    host = s + 1;
    hostlen = (size_t)(close - host);
    port = close + 2;
    bracketed = true;
  } else {
    const char *colon = strrchr(s, ':');
    if (colon == NULL) {
      hostlen = 0;
      port = s;
    } else {
      hostlen = (size_t)(colon - s);
      port = colon + 1;
      if (memchr(s, ':', hostlen) != NULL)
        return pf_seterr(err, errlen, PF_ECONFIG,
                         "invalid listen address \"%s\" (write IPv6 addresses as [ADDR]:PORT)", s);
    }
  }

  size_t plen = strlen(port);
  long pnum = 0;
  for (size_t i = 0; i < plen; i++) {
    if (port[i] < '0' || port[i] > '9' || i >= 5) {
      pnum = -1;
      break;
    }
    pnum = pnum * 10 + (port[i] - '0');
  }
  if (plen == 0 || pnum < 0 || pnum > 65535)
    return pf_seterr(err, errlen, PF_ECONFIG,
                     "invalid port in listen address \"%s\" (expected 0 to 65535)", s);

  char hbuf[INET6_ADDRSTRLEN + 1];
  if (hostlen >= sizeof hbuf)
    return pf_seterr(err, errlen, PF_ECONFIG, "invalid address in listen address \"%s\"", s);
  memcpy(hbuf, host, hostlen);
  hbuf[hostlen] = '\0';
  memset(addr, 0, sizeof *addr);
  if (bracketed) {
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)addr;
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)pnum);
    if (inet_pton(AF_INET6, hbuf, &a6->sin6_addr) != 1)
      return pf_seterr(err, errlen, PF_ECONFIG, "invalid IPv6 address in listen address \"%s\"", s);
  } else {
    struct sockaddr_in *a4 = (struct sockaddr_in *)addr;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)pnum);
    if (hostlen == 0) a4->sin_addr.s_addr = htonl(INADDR_ANY);
    else if (strcmp(hbuf, "localhost") == 0) a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, hbuf, &a4->sin_addr) != 1)
      return pf_seterr(err, errlen, PF_ECONFIG,
                       "invalid address in listen address \"%s\" (expected an IP address; host "
                       "names other than localhost are not resolved)", s);
  }
  return 0;
}

/* ---- the server ---- */

/* Returns the reason phrase for the status codes this server sends. */
static const char *pf__reason(int code) {
  switch (code) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
  }
  return "Error";
}

/* Frees the server once everything that points to it is gone: the listening handle, every
 * connection, and a running probe (which will still call back into it). */
static void pf__maybe_free(pf_health_t *h) {
  if (!h->stopping || h->server_open || h->nconns > 0 || h->probing) return;
  free(h->detail);
  free(h);
}

/* Close callback of a connection's two handles; frees the connection after the second. */
static void pf__conn_on_closed(uv_handle_t *handle) {
  pf__conn_t *c = handle->data;
  if (--c->open_handles > 0) return;
  pf_health_t *h = c->h;
  if (c->prev) c->prev->next = c->next;
  else h->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  h->nconns--;
  h->nclosing--;
  free(c->response);
  free(c);
  pf__maybe_free(h);
}

/* Closes a connection (idempotent); it is freed when libuv has closed both handles. */
static void pf__conn_close(pf__conn_t *c) {
  if (c->closing) return;
  c->closing = true;
  c->h->nclosing++;
  uv_close((uv_handle_t *)&c->tcp, pf__conn_on_closed);
  uv_close((uv_handle_t *)&c->timer, pf__conn_on_closed);
}

static void pf__conn_on_timer(uv_timer_t *t);

/* (Re)arms the connection's timer for the current phase. */
static void pf__conn_deadline(pf__conn_t *c, uint64_t ms) {
  uv_timer_start(&c->timer, pf__conn_on_timer, ms, 0);
}

/* Gives libuv room to read into: the rest of the head buffer while reading the request, the
 * whole buffer (to be discarded) while lingering. */
static void pf__conn_on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *b) {
  pf__conn_t *c = handle->data;
  if (c->phase == PF__READING && c->len < sizeof c->buf)
    *b = uv_buf_init(c->buf + c->len, (unsigned)(sizeof c->buf - c->len));
  else
    *b = uv_buf_init(c->buf, sizeof c->buf);
}

/* Shutdown callback: if the half-close failed, there is nothing to linger for. */
static void pf__conn_on_shutdown(uv_shutdown_t *req, int status) {
  if (status != 0) pf__conn_close(req->data);
}

static void pf__conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b);

/* Write callback: the answer is out (or the client is gone); send FIN and start lingering. */
static void pf__conn_on_written(uv_write_t *req, int status) {
  pf__conn_t *c = req->data;
  free(c->response);
  c->response = NULL;
  if (status != 0 || c->closing) {
    pf__conn_close(c);
    return;
  }
  c->phase = PF__LINGER;
  c->shutdown_req.data = c;
  if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, pf__conn_on_shutdown) != 0 ||
      uv_read_start((uv_stream_t *)&c->tcp, pf__conn_on_alloc, pf__conn_on_read) != 0) {
    pf__conn_close(c);
    return;
  }
  pf__conn_deadline(c, PF__LINGER_MS);
}

/* Sends one complete answer with a JSON body and `Connection: close`. */
static void pf__respond(pf__conn_t *c, int code, const char *body) {
  pf_health_t *h = c->h;
  pf_buf_t b = {0};
  pf_buf_printf(&b,
                "HTTP/1.1 %d %s\r\n"
                "Content-Type: application/json\r\n"
                "Content-Length: %zu\r\n"
                "Cache-Control: no-store\r\n"
                "Connection: close\r\n",
                code, pf__reason(code), strlen(body) + 1);
  if (code == 405) pf_buf_puts(&b, "Allow: GET\r\n");
  pf_buf_printf(&b, "\r\n%s\n", body);
  size_t n = b.len;
  c->response = pf_buf_steal(&b);
  uv_read_stop((uv_stream_t *)&c->tcp);
  c->phase = PF__WRITING;
  pf__conn_deadline(c, h->read_timeout_ms);
  c->write_req.data = c;
  uv_buf_t out = uv_buf_init(c->response, (unsigned)n);
  if (uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &out, 1, pf__conn_on_written) != 0) {
    free(c->response);
    c->response = NULL;
    pf__conn_close(c);
  }
}

/* Answers a refused request with its status and a one-line JSON error. */
static void pf__respond_error(pf__conn_t *c, int code) {
  char body[96];
  snprintf(body, sizeof body, "{\"error\":\"%s\"}", pf__reason(code));
  pf_log_debug("health: refused a request with %d %s", code, pf__reason(code));
  pf__respond(c, code, body);
}

/* Answers a waiting /health or /ready request from the cached probe result. */
static void pf__respond_result(pf__conn_t *c) {
  static const char *const names[] = {"healthy", "degraded", "unhealthy"};
  pf_health_t *h = c->h;
  bool ok = h->status == PF_HEALTH_HEALTHY ||
            (c->route == PF_HEALTH_ROUTE_READY && h->status == PF_HEALTH_DEGRADED);
  pf_buf_t b = {0};
  pf_buf_printf(&b, "{\"status\":\"%s\",\"age_ms\":%llu", names[h->status],
                (unsigned long long)(pf_now_ms() - h->result_at));
  if (h->detail != NULL && h->detail[0] != '\0') pf_buf_printf(&b, ",%s", h->detail);
  pf_buf_putc(&b, '}');
  pf__respond(c, ok ? 200 : 503, b.data);
  pf_buf_free(&b);
}

/* Probe callback: caches the result and answers every request that was waiting for it. */
static void pf__on_probe_done(void *ctx, const pf_health_result_t *result) {
  pf_health_t *h = ctx;
  if (!h->probing) return; /* a second call breaks the probe's contract; ignore it */
  h->probing = false;
  h->have_result = true;
  h->result_at = pf_now_ms();
  free(h->detail);
  h->detail = NULL;
  if (result == NULL) {
    h->status = PF_HEALTH_UNHEALTHY;
  } else {
    h->status = (unsigned)result->status <= PF_HEALTH_UNHEALTHY ? result->status
                                                                : PF_HEALTH_UNHEALTHY;
    /* Server messages in the detail may quote a connection string: scrubbed like the logs. */
    h->detail = result->detail_json ? pf_log_scrub(result->detail_json) : NULL;
  }
  if (h->stopping) {
    pf__maybe_free(h);
    return;
  }
  for (pf__conn_t *c = h->conns; c != NULL; c = c->next)
    if (c->phase == PF__WAITING && !c->closing) pf__respond_result(c);
}

/* Answers an accepted request now if the cached result is fresh, else waits for a probe,
 * starting one unless one is already running. */
static void pf__serve(pf__conn_t *c) {
  pf_health_t *h = c->h;
  if (h->have_result && pf_now_ms() - h->result_at < h->interval_ms) {
    pf__respond_result(c);
    return;
  }
  c->phase = PF__WAITING;
  uv_read_stop((uv_stream_t *)&c->tcp);
  pf__conn_deadline(c, h->probe_timeout_ms);
  if (!h->probing) {
    h->probing = true;
    pf_log_debug("health: probing");
    h->probe(h->probe_ctx, pf__on_probe_done, h); /* may call back at once */
  }
}

/* Read callback: accumulates the request head and answers as soon as it can be judged; while
 * lingering, discards what arrives and closes at end of stream. */
static void pf__conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
  pf__conn_t *c = s->data;
  if (nread == 0 || c->closing) return;
  if (nread < 0) { /* end of stream or error: there is no one left to answer */
    pf__conn_close(c);
    return;
  }
  if (c->phase != PF__READING) return; /* lingering: discard */
  /* Judge the head only when it can have changed its verdict: a line ended, the buffer is full,
   * the first bytes (an impossible method), or a byte no HTTP head contains. Re-parsing on every
   * byte a client trickles in would cost quadratic time. */
  const char *chunk = c->buf + c->len;
  c->len += (size_t)nread;
  bool judge = c->len >= sizeof c->buf || c->len <= 64 || memchr(chunk, '\n', (size_t)nread);
  for (ssize_t k = 0; k < nread && !judge; k++) judge = pf__forbidden((unsigned char)chunk[k]);
  if (!judge) return;
  int code = pf_health_parse_request(c->buf, c->len, sizeof c->buf, &c->route);
  if (code == 0) return;
  if (code == 200) pf__serve(c);
  else pf__respond_error(c, code);
}

/* Timer callback: the current phase's deadline has passed; see the top of this file for what
 * that means in each phase. */
static void pf__conn_on_timer(uv_timer_t *t) {
  pf__conn_t *c = t->data;
  if (c->closing) return;
  switch (c->phase) {
    case PF__READING:
      pf__respond_error(c, 408);
      break;
    case PF__WAITING: {
      char body[160];
      snprintf(body, sizeof body,
               "{\"status\":\"unhealthy\",\"error\":\"the probe did not answer within %llu ms\"}",
               (unsigned long long)c->h->probe_timeout_ms);
      pf__respond(c, 503, body);
      break;
    }
    case PF__WRITING:
    case PF__LINGER:
      pf__conn_close(c);
      break;
  }
}

/* Close callback for connections refused at the cap. */
static void pf__free_handle(uv_handle_t *handle) { free(handle); }

/* Whether two peer addresses are the same host (ports aside). */
static bool pf__same_peer(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
  if (a->ss_family != b->ss_family || a->ss_family == 0) return false;
  if (a->ss_family == AF_INET)
    return ((const struct sockaddr_in *)a)->sin_addr.s_addr == ((const struct sockaddr_in *)b)->sin_addr.s_addr;
  if (a->ss_family == AF_INET6)
    return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr,
                  sizeof(struct in6_addr)) == 0;
  return false;
}

/* Makes room under the connection cap by closing the oldest connection that has already been
 * answered (it is only lingering), else the oldest one still reading its head: a request is
 * read on the loop iteration after it arrives, so the newest connections are the ones that may
 * still be legitimate, and an attacker would have to open the whole cap's worth in between to
 * push one out. Returns false if every connection is being served. */
static bool pf__evict_oldest(pf_health_t *h) {
  pf__conn_t *lingering = NULL, *reading = NULL;
  for (pf__conn_t *c = h->conns; c != NULL; c = c->next) {   /* newest first: keep the last */
    if (c->closing) continue;
    if (c->phase == PF__LINGER) lingering = c;
    else if (c->phase == PF__READING) reading = c;
  }
  pf__conn_t *victim = lingering ? lingering : reading;
  if (victim == NULL) return false;
  if (victim == reading) pf_log_debug("health: connection cap reached; closing the oldest idle connection");
  pf__conn_close(victim);
  return true;
}

/* Keeps one peer from holding more than PF__PER_PEER connections that have not sent a request:
 * closes that peer's oldest reading connection when the newest would pass the limit. */
static void pf__limit_peer(pf_health_t *h, const pf__conn_t *newest) {
  int n = 0;
  pf__conn_t *oldest = NULL;
  uint64_t now = pf_now_ms();
  for (pf__conn_t *c = h->conns; c != NULL; c = c->next)
    if (c != newest && !c->closing && c->phase == PF__READING && pf__same_peer(&c->peer, &newest->peer)) {
      n++;
      if (now - c->accepted_at >= PF__IDLE_GRACE_MS) oldest = c;
    }
  if (n >= PF__PER_PEER && oldest != NULL) {
    pf_log_debug("health: one client holds %d idle connections; closing its oldest", n);
    pf__conn_close(oldest);
  }
}

/* Connection callback: accepts the client, or closes it at once when the cap is reached by
 * connections that are all still being served. */
static void pf__on_connection(uv_stream_t *server, int status) {
  pf_health_t *h = server->data;
  if (status != 0 || h->stopping) return;
  if (h->nconns - h->nclosing >= h->max_connections && !pf__evict_oldest(h)) {
    /* Accept to take it off the backlog, then close: refusing costs less than queueing. */
    uv_tcp_t *t = pf_xmalloc(sizeof *t);
    uv_tcp_init(h->loop, t);
    if (uv_accept(server, (uv_stream_t *)t) == 0)
      pf_log_debug("health: %d connections open; closing a new one", h->nconns);
    uv_close((uv_handle_t *)t, pf__free_handle);
    return;
  }
  pf__conn_t *c = pf_xmalloc(sizeof *c);
  memset(c, 0, offsetof(pf__conn_t, buf));
  c->h = h;
  c->phase = PF__READING;
  c->accepted_at = pf_now_ms();
  uv_tcp_init(h->loop, &c->tcp);
  uv_timer_init(h->loop, &c->timer);
  c->tcp.data = c->timer.data = c;
  c->open_handles = 2;
  c->next = h->conns;
  if (h->conns) h->conns->prev = c;
  h->conns = c;
  h->nconns++;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
      uv_read_start((uv_stream_t *)&c->tcp, pf__conn_on_alloc, pf__conn_on_read) != 0) {
    pf__conn_close(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  int plen = sizeof c->peer;
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&c->peer, &plen) != 0) c->peer.ss_family = 0;
  pf__limit_peer(h, c);
  pf__conn_deadline(c, h->read_timeout_ms);
}

/* Close callback of the listening handle. */
static void pf__on_server_closed(uv_handle_t *handle) {
  pf_health_t *h = handle->data;
  h->server_open = false;
  pf__maybe_free(h);
}

/* Close callback of a listening handle that could not be bound: flags the close as done. */
static void pf__on_failed_close(uv_handle_t *handle) { *(bool *)handle->data = true; }

/* Binds, listens and returns the server; see health.h. */
int pf_health_start(uv_loop_t *loop, const pf_health_opts_t *opts, pf_health_t **out, char *err,
                    size_t errlen) {
  struct sockaddr_storage ss;
  int rc = pf_health_parse_listen(opts->listen, &ss, err, errlen);
  if (rc != 0) return rc;
  if (opts->probe == NULL) return pf_seterr(err, errlen, PF_EINTERNAL, "no health probe given");

  struct sigaction sa;
  if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
  }

  pf_health_t *h = pf_xcalloc(1, sizeof *h);
  h->loop = loop;
  h->interval_ms = opts->interval_ms > 0 ? (uint64_t)opts->interval_ms : 10000;
  h->read_timeout_ms = opts->read_timeout_ms > 0 ? (uint64_t)opts->read_timeout_ms : 2000;
  h->probe_timeout_ms = opts->probe_timeout_ms > 0 ? (uint64_t)opts->probe_timeout_ms : 10000;
  h->max_connections = opts->max_connections > 0 ? opts->max_connections : 64;
  h->probe = opts->probe;
  h->probe_ctx = opts->probe_ctx;
  uv_tcp_init(loop, &h->server);
  h->server.data = h;
  h->server_open = true;
  int r = uv_tcp_bind(&h->server, (const struct sockaddr *)&ss, 0);
  if (r == 0) r = uv_listen((uv_stream_t *)&h->server, PF__BACKLOG, pf__on_connection);
  if (r != 0) {
    pf_seterr(err, errlen, PF_ECONFIG, "cannot listen on %s: %s", opts->listen, uv_strerror(r));
    /* Finish the close now, so that a failed start leaves nothing behind on the loop. */
    bool closed = false;
    h->server.data = &closed;
    uv_close((uv_handle_t *)&h->server, pf__on_failed_close);
    while (!closed) uv_run(loop, UV_RUN_NOWAIT);
    free(h);
    return PF_ECONFIG;
  }
  struct sockaddr_storage bound;
  int blen = sizeof bound;
  char ip[INET6_ADDRSTRLEN] = "?";
  if (uv_tcp_getsockname(&h->server, (struct sockaddr *)&bound, &blen) == 0) {
    bool v6 = bound.ss_family == AF_INET6;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&bound;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&bound;
    h->port = ntohs(v6 ? a6->sin6_port : a4->sin_port);
    inet_ntop(bound.ss_family, v6 ? (void *)&a6->sin6_addr : (void *)&a4->sin_addr, ip, sizeof ip);
    pf_log_info("health endpoint listening on %s%s%s:%d", v6 ? "[" : "", ip, v6 ? "]" : "",
                h->port);
  }
  *out = h;
  return 0;
}

/* Returns the bound port. */
int pf_health_port(const pf_health_t *h) { return h->port; }

/* Closes the listener and every connection; the loop completes the closes and frees the server. */
void pf_health_stop(pf_health_t *h) {
  if (h == NULL || h->stopping) return;
  h->stopping = true;
  uv_close((uv_handle_t *)&h->server, pf__on_server_closed);
  for (pf__conn_t *c = h->conns; c != NULL; c = c->next) pf__conn_close(c);
}
