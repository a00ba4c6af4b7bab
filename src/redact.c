/* Password redaction. Logs, error messages from libpq, the report and the health endpoint all pass
 * through here, so the rules live in one place.
 *
 * The rules are structural: a password is whatever sits in the password field of a connection
 * string, read the way a person wrote it rather than the way libpq reads it. A base64 password
 * holds '/' and '+', others hold '%', '?', '#' or '@' unencoded; libpq then misreads the URL (part
 * of the password becomes the host, the port or the database name), so redaction that trusted
 * libpq's reading would print the secret. Here a URL's userinfo runs to the LAST '@' of the
 * whitespace- or quote-delimited token, whatever lies between. */
#include "preflight/redact.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "preflight/util.h"

/* Characters that end a URL inside running text: white space and the quotes a message puts
 * around it. */
#define PF__URL_END " \t\r\n\"'"

/* Returns the length of a URL password starting at p (just after "user:"), up to the last '@'
 * before the end of the URL token, or 0 when the token has no '@' after p (then the ':' was a
 * port, not a password). */
static size_t pf__url_password_len(const char *p) {
  const char *end = p + strcspn(p, PF__URL_END);
  const char *at = NULL;
  for (const char *q = p; q < end; q++)
    if (*q == '@') at = q;   /* the last '@' ends the userinfo: passwords may contain '@' */
  return at ? (size_t)(at - p) : 0;
}

/* At p, just after "://": sets *colon to the ':' that starts the password and returns the
 * password's length, or returns 0 when this URL carries no password. The user name ends at the
 * first ':'; it cannot contain '/', '?', '#' or '@' (nobody puts those in a role name without
 * encoding them), which tells "host:5432/db" (no userinfo) from "user:pa/ss@host". */
static size_t pf__url_password_at(const char *p, const char **colon) {
  size_t user = strcspn(p, ":/?#@" PF__URL_END);
  if (p[user] != ':') return 0;
  *colon = p + user;
  return pf__url_password_len(p + user + 1);
}

/* Returns the length of a key=value password value at p, honouring libpq's single quotes and
 * backslash escapes; an unquoted value ends at white space or '&' (URL query form). */
static size_t pf__kv_value_len(const char *p) {
  const char *q = p;
  if (*q == '\'') {
    for (q++; *q && *q != '\''; q++)
      if (*q == '\\' && q[1]) q++;
    if (*q == '\'') q++;
    return (size_t)(q - p);
  }
  while (*q && !isspace((unsigned char)*q) && *q != '&' && *q != '"') q++;
  return (size_t)(q - p);
}

/* If p starts a "password" key (not the end of a longer word) followed by '=', returns the
 * position of its value, else NULL. */
static const char *pf__password_key(const char *text, const char *p) {
  if (strncasecmp(p, "password", 8) != 0) return NULL;
  if (p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '_')) return NULL;
  const char *q = p + 8;
  while (*q == ' ' || *q == '\t') q++;
  if (*q != '=') return NULL;
  q++;
  while (*q == ' ' || *q == '\t') q++;
  return q;
}

char *pf_redact(const char *text) {
  pf_buf_t out = {0};
  const char *p = text;
  while (*p) {
    if (strncmp(p, "://", 3) == 0) {
      /* scheme://user:password@host — copy "://user:" and mask up to the last '@'. */
      pf_buf_append(&out, p, 3);
      p += 3;
      const char *colon = NULL;
      size_t plen = pf__url_password_at(p, &colon);
      if (plen > 0) {
        pf_buf_append(&out, p, (size_t)(colon + 1 - p));
        pf_buf_puts(&out, "***");
        p = colon + 1 + plen;
      }
      continue;
    }
    const char *v = pf__password_key(text, p);
    if (v != NULL) {
      pf_buf_append(&out, p, (size_t)(v - p));
      size_t vlen = pf__kv_value_len(v);
      if (vlen > 0) pf_buf_puts(&out, "***");
      p = v + vlen;
      continue;
    }
    pf_buf_putc(&out, *p++);
  }
  return pf_buf_steal(&out);
}

/* Decodes %XX escapes (invalid ones are kept as written). */
static char *pf__pct_decode(const char *s, size_t n) {
  pf_buf_t b = {0};
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
        isxdigit((unsigned char)s[i + 2])) {
      char hex[3] = {s[i + 1], s[i + 2], 0};
      pf_buf_putc(&b, (char)strtol(hex, NULL, 16));
      i += 2;
    } else {
      pf_buf_putc(&b, s[i]);
    }
  }
  return pf_buf_steal(&b);
}

/* Undoes libpq's quoting of a key=value value: 'a\'b' is a'b. */
static char *pf__kv_unquote(const char *s, size_t n) {
  if (n == 0 || s[0] != '\'') return pf_xstrndup(s, n);
  pf_buf_t b = {0};
  for (size_t i = 1; i < n && s[i] != '\''; i++) {
    if (s[i] == '\\' && i + 1 < n) i++;
    pf_buf_putc(&b, s[i]);
  }
  return pf_buf_steal(&b);
}

/* Adds s to the list unless it is empty or already there. */
static void pf__add(char ***list, size_t *n, char *s) {
  if (s == NULL || *s == '\0') {
    free(s);
    return;
  }
  for (size_t i = 0; i < *n; i++)
    if (strcmp((*list)[i], s) == 0) {
      free(s);
      return;
    }
  *list = pf_xrealloc(*list, sizeof(char *) * (*n + 2));
  (*list)[(*n)++] = s;
  (*list)[*n] = NULL;
}

char **pf_redact_passwords(const char *conninfo) {
  char **list = NULL;
  size_t n = 0;
  if (conninfo == NULL) return NULL;
  const char *p = conninfo;
  while (*p) {
    if (strncmp(p, "://", 3) == 0) {
      p += 3;
      const char *colon = NULL;
      size_t plen = pf__url_password_at(p, &colon);
      if (plen > 0) {
        /* As written, and as libpq would decode it: either may be echoed. */
        pf__add(&list, &n, pf_xstrndup(colon + 1, plen));
        pf__add(&list, &n, pf__pct_decode(colon + 1, plen));
        p = colon + 1 + plen;
      }
      continue;
    }
    const char *v = pf__password_key(conninfo, p);
    if (v != NULL) {
      size_t vlen = pf__kv_value_len(v);
      pf__add(&list, &n, pf_xstrndup(v, vlen));
      pf__add(&list, &n, pf__kv_unquote(v, vlen));
      pf__add(&list, &n, pf__pct_decode(v, vlen));
      p = v + (vlen ? vlen : 1);
      continue;
    }
    p++;
  }
  return list;
}

void pf_redact_passwords_free(char **list) {
  for (size_t i = 0; list && list[i]; i++) free(list[i]);
  free(list);
}

bool pf_redact_distinctive(const char *secret) {
  size_t n = secret ? strlen(secret) : 0;
  if (n >= 16) return true;
  if (n < 5) return false;
  bool letter = false, other = false;
  for (const char *p = secret; *p; p++) {
    if (isalpha((unsigned char)*p))
      letter = true;
    else
      other = true;
  }
  return letter && other;
}

char *pf_redact_quoted(const char *msg) {
  pf_buf_t out = {0};
  const char *p = msg;
  while (*p) {
    const char *q = strchr(p, '"');
    const char *e = q ? strchr(q + 1, '"') : NULL;
    if (e == NULL) {
      pf_buf_puts(&out, p);
      break;
    }
    pf_buf_append(&out, p, (size_t)(q - p));
    pf_buf_puts(&out, "\"***\"");
    p = e + 1;
  }
  return pf_buf_steal(&out);
}

char *pf_redact_secret(const char *text, const char *secret) {
  if (secret == NULL || *secret == '\0') return pf_xstrdup(text);
  pf_buf_t out = {0};
  size_t slen = strlen(secret);
  const char *p = text;
  const char *hit;
  while ((hit = strstr(p, secret)) != NULL) {
    pf_buf_append(&out, p, (size_t)(hit - p));
    pf_buf_puts(&out, "***");
    p = hit + slen;
  }
  pf_buf_puts(&out, p);
  return pf_buf_steal(&out);
}
