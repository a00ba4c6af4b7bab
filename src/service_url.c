/* Service URLs (tcp://, http://, redis://); see service_url.h. Pure: no I/O, so the manifest
 * loader (and its fuzz target) can check them offline. */
#include "preflight/service_url.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "preflight/error.h"

/* Decodes %XX escapes of a URL's user information into a new string. */
static char *pf__unescape(const char *s, size_t n) {
  char *out = pf_xmalloc(n + 1);
  size_t j = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) && isxdigit((unsigned char)s[i + 2])) {
      char hex[3] = {s[i + 1], s[i + 2], '\0'};
      out[j++] = (char)strtol(hex, NULL, 16);
      i += 2;
    } else {
      out[j++] = s[i];
    }
  }
  out[j] = '\0';
  return out;
}

void pf_service_free(pf_service_t *s) {
  free(s->display);
  free(s->host);
  free(s->path);
  free(s->user);
  free(s->password);
  memset(s, 0, sizeof(*s));
}

int pf_service_parse(const char *url, pf_service_t *out, char *err, size_t errlen) {
  memset(out, 0, sizeof(*out));
  static const struct {
    const char *scheme;
    pf_service_kind_t kind;
    int port;
  } schemes[] = {{"tcp", PF_SERVICE_TCP, 0}, {"http", PF_SERVICE_HTTP, 80}, {"redis", PF_SERVICE_REDIS, 6379}};
  const char *sep = strstr(url, "://");
  const char *auth = sep ? sep + 3 : url;
  size_t alen = strcspn(auth, "/?#");
  const char *at = NULL;
  for (const char *p = auth; p < auth + alen; p++)
    if (*p == '@') at = p;
  /* Messages quote the URL, never its user information (a password). */
  char shown[300];
  snprintf(shown, sizeof(shown), "%.*s%s%.200s", sep ? (int)(auth - url) : 0, url, at ? "***@" : "", at ? at + 1 : auth);

  int k = -1;
  for (size_t i = 0; sep && i < PF_ARRAY_SIZE(schemes); i++)
    if ((size_t)(sep - url) == strlen(schemes[i].scheme) && strncasecmp(url, schemes[i].scheme, (size_t)(sep - url)) == 0)
      k = (int)i;
  if (k < 0) {
    if (sep && ((sep - url == 5 && strncasecmp(url, "https", 5) == 0) || (sep - url == 6 && strncasecmp(url, "rediss", 6) == 0)))
      return pf_seterr(err, errlen, PF_ECONFIG,
                       "service \"%s\": TLS is not supported; wait for the port with tcp://HOST:PORT instead", shown);
    return pf_seterr(err, errlen, PF_ECONFIG,
                     "service \"%s\": expected tcp://HOST:PORT, http://HOST[:PORT]/PATH or redis://HOST[:PORT]", shown);
  }
  out->kind = schemes[k].kind;
  if (at && out->kind != PF_SERVICE_REDIS) {
    return pf_seterr(err, errlen, PF_ECONFIG, "service \"%s\": user information is only supported for redis://", shown);
  }
  const char *h = at ? at + 1 : auth, *end = auth + alen, *colon;
  if (*h == '[') {
    const char *rb = memchr(h, ']', (size_t)(end - h));
    if (rb == NULL) return pf_seterr(err, errlen, PF_ECONFIG, "service \"%s\": unterminated [IPv6 address]", shown);
    out->host = pf_xstrndup(h + 1, (size_t)(rb - h - 1));
    colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
    if (rb + 1 < end && !colon) {
      pf_service_free(out);
      return pf_seterr(err, errlen, PF_ECONFIG, "service \"%s\": unexpected text after the IPv6 address", shown);
    }
  } else {
    colon = memchr(h, ':', (size_t)(end - h));
    out->host = pf_xstrndup(h, (size_t)((colon ? colon : end) - h));
  }
  if (out->host[0] == '\0') {
    pf_service_free(out);
    return pf_seterr(err, errlen, PF_ECONFIG, "service \"%s\": no host", shown);
  }
  out->port = schemes[k].port;
  if (colon) {
    const char *p = colon + 1;
    long port = 0;
    if (p == end) port = -1;
    for (; p < end && port >= 0; p++) port = isdigit((unsigned char)*p) && port <= 65535 ? port * 10 + (*p - '0') : -1;
    if (port < 1 || port > 65535) {
      pf_service_free(out);
      return pf_seterr(err, errlen, PF_ECONFIG, "service \"%s\": invalid port (1-65535)", shown);
    }
    out->port = (int)port;
  }
  if (out->port == 0) {
    pf_service_free(out);
    return pf_seterr(err, errlen, PF_ECONFIG, "service \"%s\": tcp:// needs a port (tcp://HOST:PORT)", shown);
  }
  const char *rest = end;
  size_t rlen = strcspn(rest, "#");
  if (out->kind == PF_SERVICE_HTTP) {
    out->path = rlen == 0 ? pf_xstrdup("/") : rest[0] == '?' ? pf_xasprintf("/%.*s", (int)rlen, rest)
                                                             : pf_xstrndup(rest, rlen);
    for (const char *p = out->path; *p; p++)
      if ((unsigned char)*p <= ' ' || *p == 0x7f) {
        pf_service_free(out);
        return pf_seterr(err, errlen, PF_ECONFIG, "service \"%s\": spaces and control characters in the path must be "
                         "percent-encoded", shown);
      }
  } else if (rlen > 0 && !(out->kind == PF_SERVICE_REDIS && rest[0] == '/' && strspn(rest + 1, "0123456789") == rlen - 1)) {
    /* A path means something the wait would ignore; tcp:// has none, redis:// only a database. */
    pf_service_free(out);
    return pf_seterr(err, errlen, PF_ECONFIG, "service \"%s\": unexpected path", shown);
  }
  if (at) {
    const char *ucolon = memchr(auth, ':', (size_t)(at - auth));
    if (ucolon) {
      if (ucolon > auth) out->user = pf__unescape(auth, (size_t)(ucolon - auth));
      out->password = pf__unescape(ucolon + 1, (size_t)(at - ucolon - 1));
    } else {
      out->password = pf__unescape(auth, (size_t)(at - auth));   /* redis://secret@host, as redis-cli reads it */
    }
    if (out->password[0] == '\0') {
      free(out->password);
      out->password = NULL;
    }
  }
  bool v6 = strchr(out->host, ':') != NULL;
  out->display = pf_xasprintf("%s://%s%s%s%s%s:%d%s", schemes[k].scheme, out->user ? out->user : "",
                              out->password ? (out->user ? ":***@" : "***@") : (out->user ? "@" : ""), v6 ? "[" : "",
                              out->host, v6 ? "]" : "", out->port, out->path ? out->path : "");
  return 0;
}
