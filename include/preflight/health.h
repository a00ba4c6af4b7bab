/* --health-listen ADDR:PORT: a tiny HTTP/1.1 server on the --init loop, answering
 * GET /health and GET /ready from a probe that re-verifies the manifest's objects.
 *
 *   /health  200 {"status":"healthy"} when nothing at all is missing; 503 otherwise, with
 *            "degraded" (only severity: warn items missing) or "unhealthy". For monitoring.
 *   /ready   200 when the application can serve: healthy or degraded; 503 when unhealthy
 *            (a required object is missing or the database cannot be reached). For load
 *            balancers and readiness probes. Neither belongs in a liveness probe: restarting
 *            the container does not create a missing table.
 *
 * The probe runs at most once per interval however often the endpoints are asked: requests that
 * arrive while it runs wait for that run, and its answer is reused until the interval has passed.
 * Requests are bounded (8 KiB head, no body, a read deadline, a connection cap) and answered with
 * `Connection: close`. Nothing a client sends can block or crash the loop it shares with the
 * supervisor. */
#ifndef PREFLIGHT_HEALTH_H
#define PREFLIGHT_HEALTH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "preflight/util.h"

typedef enum { PF_HEALTH_HEALTHY, PF_HEALTH_DEGRADED, PF_HEALTH_UNHEALTHY } pf_health_status_t;

typedef struct {
  pf_health_status_t status;
  /* NULL, or members to add to the JSON answer, without braces or a leading comma, such as
   * "\"missing\":[\"public.users.avatar_url\"]". Copied; it need only live during the call. */
  const char *detail_json;
} pf_health_result_t;

/* The probe reports its result through done(done_ctx, result), exactly once, synchronously or
 * from a later loop callback; result NULL counts as unhealthy. It must call done even after
 * pf_health_stop, because the server is freed only then: at shutdown, cancel a running probe
 * and let it report at once. */
typedef void (*pf_health_done_fn)(void *done_ctx, const pf_health_result_t *result);
typedef void (*pf_health_probe_fn)(void *probe_ctx, pf_health_done_fn done, void *done_ctx);

typedef struct {
  const char *listen;         /* "ADDR:PORT", see pf_health_parse_listen */
  int64_t interval_ms;        /* minimum time between probes; <= 0: 10 s */
  int64_t read_timeout_ms;    /* a request head must arrive within this; <= 0: 2 s */
  int64_t probe_timeout_ms;   /* a request waits this long for a running probe, then gets 503;
                                 <= 0: 10 s */
  int max_connections;        /* connections open at once; <= 0: 64. Beyond it, the oldest
                                 answered (lingering) connection is closed to make room, else the
                                 oldest one still reading its head, else (all are being served)
                                 the new one is closed unanswered. One client address may keep at
                                 most 16 connections reading; its oldest makes room for more */
  pf_health_probe_fn probe;
  void *probe_ctx;
} pf_health_opts_t;

typedef struct pf_health pf_health_t;

/* Starts listening on opts->listen on loop. Returns 0 with *out set, or PF_ECONFIG with err filled
 * when the address is invalid or cannot be bound. Ignores SIGPIPE process-wide (libuv writes to
 * sockets with write(2), so a client that hangs up early would otherwise kill preflight). */
int pf_health_start(uv_loop_t *loop, const pf_health_opts_t *opts, pf_health_t **out, char *err,
                    size_t errlen) PF_MUST_CHECK;

/* Returns the port the server is bound to (useful with port 0). */
int pf_health_port(const pf_health_t *h);

/* Stops listening and closes every connection; the loop finishes closing the handles on its next
 * run, and the server is freed once they are closed and no probe is running. NULL is ignored. */
void pf_health_stop(pf_health_t *h);

/* Parses a listen address: "0.0.0.0:8080", "127.0.0.1:9000", "[::]:8080", "[::1]:9000",
 * "localhost:8080", ":8080" (every IPv4 address) or a bare "8080". Host names other than
 * localhost are refused rather than resolved: a DNS lookup has no place in PID 1's start-up.
 * Returns 0 with *addr filled, or PF_ECONFIG with the reason in err. Pure. */
int pf_health_parse_listen(const char *s, struct sockaddr_storage *addr, char *err,
                           size_t errlen) PF_MUST_CHECK;

typedef enum { PF_HEALTH_ROUTE_HEALTH = 1, PF_HEALTH_ROUTE_READY = 2 } pf_health_route_t;

/* Parses the request head at buf[0..len). Returns 0 if more bytes are needed, 200 with *route set
 * for an acceptable GET /health or /ready (a query string is ignored), or the HTTP status to refuse
 * the request with: 400 malformed, 404 unknown path, 405 method other than GET, 413 a request body,
 * 414/431 nothing acceptable within max bytes, 505 an HTTP version other than 1.x. A malformed
 * request line is refused as soon as it ends, without waiting for the rest. Pure. */
int pf_health_parse_request(const char *buf, size_t len, size_t max, pf_health_route_t *route);

#endif
