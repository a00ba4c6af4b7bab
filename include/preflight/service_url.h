/* Service URLs for wait.services, PREFLIGHT_SERVICES and --service:
 *
 *   tcp://host:port           a TCP connection is accepted
 *   http://host[:port]/path   an HTTP/1.1 GET answers 2xx (port 80 by default)
 *   redis://[[user]:password@]host[:port][/db]
 *                             PING answers +PONG (after AUTH when a password is given; 6379)
 *
 * Parsing is pure and offline; waiting for them is services.h. */
#ifndef PREFLIGHT_SERVICE_URL_H
#define PREFLIGHT_SERVICE_URL_H

#include "preflight/util.h"

typedef enum { PF_SERVICE_TCP, PF_SERVICE_HTTP, PF_SERVICE_REDIS } pf_service_kind_t;

typedef struct {
  pf_service_kind_t kind;
  char *display;     /* the URL as messages show it: any password replaced by "***" */
  char *host;        /* without the brackets of an IPv6 literal */
  int port;
  char *path;        /* http: path and query, "/" by default; else NULL */
  char *user;        /* redis: AUTH user (NULL: the default user) */
  char *password;    /* redis: AUTH password (NULL: no AUTH) */
} pf_service_t;

/* Parses one service URL. Returns 0, or PF_ECONFIG with a message that quotes the URL with any
 * password replaced by "***" (an unknown scheme, a missing host or port, a port out of range). */
int pf_service_parse(const char *url, pf_service_t *out, char *err, size_t errlen) PF_MUST_CHECK;
void pf_service_free(pf_service_t *s);

#endif
