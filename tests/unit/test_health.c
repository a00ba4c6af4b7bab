/* Unit tests for src/health.c: the listen-address and request parsers, and the server itself
 * driven by a real libuv loop, with a fake probe and real TCP clients on loopback. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>

#include "pf_test.h"
#include "preflight/error.h"
#include "preflight/health.h"

/* ---- pf_health_parse_listen ---- */

/* Parses s and returns "family addr port" ("4 0.0.0.0 8080"), or "error" when it is refused. */
static const char *listen_str(const char *s) {
  static char out[96];
  struct sockaddr_storage ss;
  char err[256], ip[INET6_ADDRSTRLEN];
  if (pf_health_parse_listen(s, &ss, err, sizeof err) != 0) return "error";
  if (ss.ss_family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    snprintf(out, sizeof out, "4 %s %d", ip, ntohs(a->sin_port));
  } else {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
    snprintf(out, sizeof out, "6 %s %d", ip, ntohs(a->sin6_port));
  }
  return out;
}

/* Checks every accepted listen form and a range of refusals. */
static void test_parse_listen(void) {
  CHECK_STR(listen_str("0.0.0.0:8080"), "4 0.0.0.0 8080");
  CHECK_STR(listen_str("127.0.0.1:9000"), "4 127.0.0.1 9000");
  CHECK_STR(listen_str("[::]:8080"), "6 :: 8080");
  CHECK_STR(listen_str("[::1]:65535"), "6 ::1 65535");
  CHECK_STR(listen_str(":8080"), "4 0.0.0.0 8080");
  CHECK_STR(listen_str("8080"), "4 0.0.0.0 8080");
  CHECK_STR(listen_str("localhost:80"), "4 127.0.0.1 80");
  CHECK_STR(listen_str("127.0.0.1:0"), "4 127.0.0.1 0");
  CHECK_STR(listen_str(""), "error");
  CHECK_STR(listen_str(NULL), "error");
  CHECK_STR(listen_str(":"), "error");
  CHECK_STR(listen_str("127.0.0.1"), "error");      /* no port */
  CHECK_STR(listen_str("127.0.0.1:"), "error");
  CHECK_STR(listen_str("127.0.0.1:65536"), "error");
  CHECK_STR(listen_str("127.0.0.1:080800"), "error");
  CHECK_STR(listen_str("127.0.0.1:-1"), "error");
  CHECK_STR(listen_str("127.0.0.1:+80"), "error");
  CHECK_STR(listen_str("127.0.0.1:80 "), "error");
  CHECK_STR(listen_str("::1:8080"), "error");       /* IPv6 needs brackets */
  CHECK_STR(listen_str("[::1]8080"), "error");
  CHECK_STR(listen_str("[::1:8080"), "error");
  CHECK_STR(listen_str("[127.0.0.1]:80"), "error");
  CHECK_STR(listen_str("256.0.0.1:80"), "error");
  CHECK_STR(listen_str("example.com:80"), "error"); /* names are not resolved */
  CHECK_STR(listen_str("[fe80::1%eth0]:80"), "error");
  struct sockaddr_storage ss;
  char err[256];
  CHECK(pf_health_parse_listen("x:1", &ss, err, sizeof err) == PF_ECONFIG);
  CHECK(strstr(err, "x:1") != NULL);
}

/* ---- pf_health_parse_request ---- */

/* Parses a NUL-terminated request with the 8 KiB limit; returns the status code. */
static int req(const char *s) {
  pf_health_route_t route = 0;
  return pf_health_parse_request(s, strlen(s), 8192, &route);
}

/* Checks accepted requests, incomplete heads, each refusal code, and random bytes. */
static void test_parse_request(void) {
  pf_health_route_t route = 0;
  const char *r1 = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
  CHECK(pf_health_parse_request(r1, strlen(r1), 8192, &route) == 200);
  CHECK(route == PF_HEALTH_ROUTE_HEALTH);
  const char *r2 = "GET /ready?verbose=1 HTTP/1.0\n\n";
  CHECK(pf_health_parse_request(r2, strlen(r2), 8192, &route) == 200);
  CHECK(route == PF_HEALTH_ROUTE_READY);
  CHECK(req("\r\nGET /health HTTP/1.1\r\n\r\n") == 200);  /* a stray empty line first */
  CHECK(req("GET /health HTTP/1.1\r\nContent-Length: 0\r\n\r\n") == 200);
  CHECK(req("GET /health HTTP/1.1\r\nX-Empty:\r\nUser-Agent: kube-probe/1.29\r\n\r\n") == 200);

  /* Incomplete: more bytes are needed. */
  CHECK(req("") == 0);
  CHECK(req("GE") == 0);
  CHECK(req("GET /health HTTP/1.1\r\n") == 0);
  CHECK(req("GET /health HTTP/1.1\r\nHost: x\r\n") == 0);
  CHECK(req("GET /health HTTP/1.1\r\nHost: x\r\n\r") == 0);

  /* Refused. */
  CHECK(req("GET /nope HTTP/1.1\r\n\r\n") == 404);
  CHECK(req("GET / HTTP/1.1\r\n\r\n") == 404);
  CHECK(req("GET /healthz HTTP/1.1\r\n\r\n") == 404);
  CHECK(req("GET /health/ HTTP/1.1\r\n\r\n") == 404);
  CHECK(req("POST /health HTTP/1.1\r\n\r\n") == 405);
  CHECK(req("HEAD /ready HTTP/1.1\r\n\r\n") == 405);
  CHECK(req("get /health HTTP/1.1\r\n\r\n") == 405);
  CHECK(req("GET /health HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello") == 413);
  CHECK(req("GET /health HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n") == 413);
  CHECK(req("GET /health HTTP/2.0\r\n\r\n") == 505);
  CHECK(req("GET /health HTTP/1.1 \r\n\r\n") == 400);
  CHECK(req("GET /health\r\n\r\n") == 400);            /* HTTP/0.9 */
  CHECK(req("GET  /health HTTP/1.1\r\n\r\n") == 400);
  CHECK(req("GET /health HTTP/1.12\r\n\r\n") == 400);
  CHECK(req("GET /health http/1.1\r\n\r\n") == 400);
  CHECK(req(" GET /health HTTP/1.1\r\n\r\n") == 400);
  CHECK(req("GET /health HTTP/1.1\r\nNo colon here\r\n\r\n") == 400);
  CHECK(req("GET /health HTTP/1.1\r\n folded: x\r\n\r\n") == 400);
  CHECK(req("GET /health HTTP/1.1\r\nBad Name: x\r\n\r\n") == 400);
  CHECK(req("GET /health HTTP/1.1\r\n: x\r\n\r\n") == 400);
  CHECK(req("GET /health HTTP/1.1\r\nContent-Length: abc\r\n\r\n") == 400);
  CHECK(req("GET /health HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n") == 400);
  CHECK(req("GET /health HTTP/1.1\r\nX: a\rb\r\n\r\n") == 400);
  CHECK(req("\x16\x03\x01\x02\x00\x01") == 400);        /* a TLS ClientHello: refused at once */
  CHECK(req("G{T") == 400);                               /* an impossible method, at once */
  CHECK(req("GET /he\x7flth HTTP/1.1\r\n\r\n") == 400);
  /* Bytes after the empty line are not part of the head: whatever they are, the verdict is the
   * head's (the server answers as soon as the head is complete, so it must not change later). */
  CHECK(req("GET /ready HTTP/1.1\n\n(\r\xb0\xff\x1e") == 200);
  CHECK(req("GET /health HTTP/1.1\r\nContent-Length: 2\r\n\r\n\x01\x02") == 413);
  const char nul[] = "GET /health HTTP/1.1\r\nX: a\0b\r\n\r\n";
  CHECK(pf_health_parse_request(nul, sizeof nul - 1, 8192, &route) == 400);

  /* Oversized: the limit is reached before the line or the head ends. */
  char big[9000];
  memset(big, 'A', sizeof big);
  CHECK(pf_health_parse_request(big, 8192, 8192, &route) == 414);
  memcpy(big, "GET /", 5);
  CHECK(pf_health_parse_request(big, 8192, 8192, &route) == 414);
  size_t n = (size_t)snprintf(big, sizeof big, "GET /health HTTP/1.1\r\nX-Pad: ");
  memset(big + n, 'p', 8192 - n);
  CHECK(pf_health_parse_request(big, 8192, 8192, &route) == 431);
  /* Random bytes never crash it, whatever prefix of them arrives. */
  unsigned seed = 12345;
  for (int round = 0; round < 2000; round++) {
    size_t len = (size_t)(rand_r(&seed) % 600);
    for (size_t i = 0; i < len; i++) big[i] = (char)(rand_r(&seed) % 256);
    if (round % 3 == 0) memcpy(big, "GET /health HTTP/1.1\r\n", len < 22 ? len : 22);
    int code = pf_health_parse_request(big, len, 512, &route);
    CHECK(code == 0 || code == 200 || code >= 400);
    /* A head accepted on the way stays accepted however many bytes follow it. */
    if (round % 3 == 0 && len > 24) {
      memcpy(big + 22, "\r\n", 2);
      size_t head = 24;
      CHECK(pf_health_parse_request(big, head, 512, &route) == 200);
      CHECK(pf_health_parse_request(big, len, 512, &route) == 200);
    }
  }
}

/* ---- the server on a real loop ---- */

typedef struct {
  int runs;
  int64_t delay_ms;
  pf_health_status_t status;
  bool hang;
  uv_loop_t *loop;
  uv_timer_t timer;
  bool timer_init;
  pf_health_done_fn done;
  void *done_ctx;
} probe_t;

/* Answers the pending probe run with the configured status. */
static void probe_answer(probe_t *p) {
  pf_health_result_t r = {p->status, p->status == PF_HEALTH_HEALTHY ? NULL : "\"missing\":[\"t\"]"};
  pf_health_done_fn done = p->done;
  p->done = NULL;
  done(p->done_ctx, &r);
}

/* Timer callback: the delayed probe answer is due. */
static void probe_on_timer(uv_timer_t *t) { probe_answer(t->data); }

/* The fake probe: counts runs, answers after delay_ms (or never while hang is set). */
static void probe(void *ctx, pf_health_done_fn done, void *done_ctx) {
  probe_t *p = ctx;
  p->runs++;
  p->done = done;
  p->done_ctx = done_ctx;
  if (p->hang) return;
  if (p->delay_ms == 0) {
    probe_answer(p);
    return;
  }
  uv_timer_start(&p->timer, probe_on_timer, (uint64_t)p->delay_ms, 0);
}

typedef struct {
  uv_tcp_t tcp;
  uv_connect_t creq;
  uv_write_t wreq;
  const char *send;
  size_t sendlen;
  bool shut;          /* half-close after sending */
  pf_buf_t got;
  bool done;
  char rbuf[4096];
} client_t;

/* Close callback: marks the client finished. */
static void client_closed(uv_handle_t *h) { ((client_t *)h->data)->done = true; }

/* Gives libuv the client's read buffer. */
static void client_alloc(uv_handle_t *h, size_t s, uv_buf_t *b) {
  client_t *c = h->data;
  *b = uv_buf_init(c->rbuf, sizeof c->rbuf);
}

/* Read callback: collects the answer and closes at end of stream. */
static void client_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  client_t *c = s->data;
  if (n > 0) pf_buf_append(&c->got, b->base, (size_t)n);
  if (n < 0) uv_close((uv_handle_t *)s, client_closed);
}

/* Write callback: nothing to do; the answer (or the close) follows. */
static void client_written(uv_write_t *w, int status) {}

/* Connect callback: starts reading and sends the request, if any. */
static void client_connected(uv_connect_t *req, int status) {
  client_t *c = req->data;
  if (status != 0) {
    uv_close((uv_handle_t *)&c->tcp, client_closed);
    return;
  }
  uv_read_start((uv_stream_t *)&c->tcp, client_alloc, client_read);
  if (c->sendlen > 0) {
    uv_buf_t b = uv_buf_init((char *)c->send, (unsigned)c->sendlen);
    uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, client_written);
  }
}

/* Starts a client that connects to port, sends data, and collects everything until EOF. */
static void client_start(uv_loop_t *loop, client_t *c, int port, const char *data, size_t len) {
  memset(c, 0, sizeof *c);
  c->send = data;
  c->sendlen = len;
  uv_tcp_init(loop, &c->tcp);
  c->tcp.data = c->creq.data = c;
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", port, &a);
  uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&a, client_connected);
}

/* Runs the loop until every client has finished (or 5 s have passed). */
static void run_clients(uv_loop_t *loop, client_t *cs, int n) {
  uint64_t deadline = pf_now_ms() + 5000;
  for (;;) {
    int left = 0;
    for (int i = 0; i < n; i++) left += !cs[i].done;
    if (left == 0 || pf_now_ms() > deadline) break;
    uv_run(loop, UV_RUN_ONCE);
  }
}

/* Timer callback for run_for: only wakes the loop. */
static void sleep_cb(uv_timer_t *t) {}

/* Runs the loop for ms milliseconds. */
static void run_for(uv_loop_t *loop, uint64_t ms) {
  uv_timer_t t;
  uv_timer_init(loop, &t);
  uv_timer_start(&t, sleep_cb, ms, 0);
  while (uv_is_active((uv_handle_t *)&t)) uv_run(loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
}

/* Returns the status code of a collected response, or 0 if there is none. */
static int code_of(const client_t *c) {
  if (c->got.len < 12 || strncmp(c->got.data, "HTTP/1.1 ", 9) != 0) return 0;
  return atoi(c->got.data + 9);
}

/* Drives the server on a real loop with real loopback clients: coalescing, caching, the status
 * mapping, refusals, deadlines, the connection cap, and stopping with a probe running. */
static void test_server(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  probe_t p = {.delay_ms = 50, .status = PF_HEALTH_HEALTHY, .loop = &loop};
  uv_timer_init(&loop, &p.timer);
  p.timer.data = &p;
  pf_health_opts_t opts = {.listen = "127.0.0.1:0", .interval_ms = 300, .read_timeout_ms = 200,
                           .probe_timeout_ms = 300, .max_connections = 40, .probe = probe,
                           .probe_ctx = &p};
  pf_health_t *h = NULL;
  char err[256];
  CHECK(pf_health_start(&loop, &opts, &h, err, sizeof err) == 0);
  int port = pf_health_port(h);
  CHECK(port > 0);

  /* A busy port is a configuration error, and leaves nothing on the loop. */
  char busy[32];
  snprintf(busy, sizeof busy, "127.0.0.1:%d", port);
  pf_health_opts_t o2 = opts;
  o2.listen = busy;
  pf_health_t *h2 = NULL;
  CHECK(pf_health_start(&loop, &o2, &h2, err, sizeof err) == PF_ECONFIG);
  CHECK(strstr(err, "address already in use") != NULL);

  /* Twenty concurrent requests while the probe runs: one probe, twenty answers. */
  static const char get_health[] = "GET /health HTTP/1.1\r\nHost: t\r\n\r\n";
  static const char get_ready[] = "GET /ready HTTP/1.1\r\nHost: t\r\n\r\n";
  client_t cs[20];
  for (int i = 0; i < 20; i++) client_start(&loop, &cs[i], port, get_health, strlen(get_health));
  run_clients(&loop, cs, 20);
  CHECK(p.runs == 1);
  for (int i = 0; i < 20; i++) {
    CHECK(code_of(&cs[i]) == 200);
    CHECK(strstr(cs[i].got.data ? cs[i].got.data : "", "\"status\":\"healthy\"") != NULL);
    CHECK(strstr(cs[i].got.data ? cs[i].got.data : "", "Connection: close\r\n") != NULL);
    pf_buf_free(&cs[i].got);
  }

  /* Within the interval the cached answer is served, even after the truth has changed. */
  p.status = PF_HEALTH_DEGRADED;
  client_start(&loop, &cs[0], port, get_health, strlen(get_health));
  run_clients(&loop, cs, 1);
  CHECK(code_of(&cs[0]) == 200);
  CHECK(p.runs == 1);
  pf_buf_free(&cs[0].got);

  /* After it, one new probe; degraded is 503 on /health and 200 on /ready. */
  run_for(&loop, 320);
  client_start(&loop, &cs[0], port, get_health, strlen(get_health));
  client_start(&loop, &cs[1], port, get_ready, strlen(get_ready));
  run_clients(&loop, cs, 2);
  CHECK(p.runs == 2);
  CHECK(code_of(&cs[0]) == 503);
  CHECK(strstr(cs[0].got.data ? cs[0].got.data : "", "\"status\":\"degraded\",") != NULL);
  CHECK(strstr(cs[0].got.data ? cs[0].got.data : "", "\"missing\":[\"t\"]}") != NULL);
  CHECK(code_of(&cs[1]) == 200);
  pf_buf_free(&cs[0].got);
  pf_buf_free(&cs[1].got);

  /* Unhealthy is 503 on both. */
  p.status = PF_HEALTH_UNHEALTHY;
  p.delay_ms = 0; /* a probe that answers synchronously */
  run_for(&loop, 320);
  client_start(&loop, &cs[0], port, get_ready, strlen(get_ready));
  run_clients(&loop, cs, 1);
  CHECK(code_of(&cs[0]) == 503);
  CHECK(strstr(cs[0].got.data ? cs[0].got.data : "", "\"unhealthy\"") != NULL);
  CHECK(p.runs == 3);
  pf_buf_free(&cs[0].got);

  /* Refusals, none of which runs the probe. */
  static const char *const bad[] = {
      "POST /health HTTP/1.1\r\n\r\n", "GET /x HTTP/1.1\r\n\r\n", "\x16\x03\x01garbage",
      "GET /health HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", "GET /health HTTP/1.1\r\n",
  };
  static const int want[] = {405, 404, 400, 413, 408};
  for (int i = 0; i < 5; i++) client_start(&loop, &cs[i], port, bad[i], strlen(bad[i]));
  run_clients(&loop, cs, 5);
  for (int i = 0; i < 5; i++) {
    CHECK(code_of(&cs[i]) == want[i]);
    pf_buf_free(&cs[i].got);
  }
  CHECK(strstr(cs[0].got.data ? cs[0].got.data : "Allow: GET", "Allow: GET") != NULL);
  CHECK(p.runs == 3);

  /* An oversized head: 431 once 8 KiB have arrived without its end. */
  static char huge[20000];
  int n = snprintf(huge, sizeof huge, "GET /health HTTP/1.1\r\nX: ");
  memset(huge + n, 'x', sizeof huge - (size_t)n);
  client_start(&loop, &cs[0], port, huge, sizeof huge);
  run_clients(&loop, cs, 1);
  CHECK(code_of(&cs[0]) == 431);
  pf_buf_free(&cs[0].got);

  /* A probe that never answers: waiting requests get 503 at the probe timeout, and no second
   * probe starts while it is still running. */
  run_for(&loop, 320);
  p.hang = true;
  client_start(&loop, &cs[0], port, get_health, strlen(get_health));
  client_start(&loop, &cs[1], port, get_ready, strlen(get_ready));
  uint64_t t0 = pf_now_ms();
  run_clients(&loop, cs, 2);
  CHECK(pf_now_ms() - t0 >= 250);
  CHECK(code_of(&cs[0]) == 503 && code_of(&cs[1]) == 503);
  CHECK(strstr(cs[0].got.data ? cs[0].got.data : "", "did not answer") != NULL);
  CHECK(p.runs == 4);
  pf_buf_free(&cs[0].got);
  pf_buf_free(&cs[1].got);

  /* The connection cap: with 40 silent clients connected, the 41st is closed unanswered; they
   * all get 408 at the read timeout. (First let the earlier connections finish closing: they
   * count against the cap until then.) */
  run_for(&loop, 50);
  client_t many[41];
  for (int i = 0; i < 41; i++) client_start(&loop, &many[i], port, NULL, 0);
  run_clients(&loop, many, 41);
  int answered = 0, closed = 0;
  for (int i = 0; i < 41; i++) {
    if (code_of(&many[i]) == 408) answered++;
    else if (many[i].got.len == 0) closed++;
    pf_buf_free(&many[i].got);
  }
  if (answered != 40 || closed != 1) fprintf(stderr, "answered %d closed %d\n", answered, closed);
  CHECK(answered == 40 && closed == 1);

  /* Stopping with the probe still hung: freed once the probe answers. */
  pf_health_stop(h);
  p.hang = false;
  probe_answer(&p);
  uv_close((uv_handle_t *)&p.timer, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}

/* Runs every test and returns the number of failed checks. */
int main(void) {
  test_parse_listen();
  test_parse_request();
  test_server();
  PF_TEST_DONE();
}
