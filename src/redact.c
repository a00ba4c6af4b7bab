/* Password redaction. Logs, error messages from libpq and reports all pass through here, so the
 * rules live in one place: URL userinfo and password= values, in any text. */
#include "preflight/redact.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "preflight/util.h"

/* Returns the length of a URL password starting at p (just after "user:"), stopping at the '@'
 * that ends the userinfo, or 0 when the authority at p has no userinfo password. */
static size_t pf__url_password_len(const char *p) {
  const char *end = p + strcspn(p, "/?# \t\r\n\"'");
  const char *at = NULL;
  for (const char *q = p; q < end; q++)
    if (*q == '@') at = q;   /* the last '@' ends the userinfo: passwords may contain '@' */
  return at ? (size_t)(at - p) : 0;
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

char *pf_redact(const char *text) {
  pf_buf_t out = {0};
  const char *p = text;
  while (*p) {
    if (strncmp(p, "://", 3) == 0) {
      /* scheme://user:password@host — copy "://user:" and mask up to the '@'. */
      pf_buf_append(&out, p, 3);
      p += 3;
      size_t authority = strcspn(p, "/?# \t\r\n\"'");
      const char *colon = memchr(p, ':', authority);
      size_t plen = colon ? pf__url_password_len(colon + 1) : 0;
      if (colon && plen > 0 && memchr(p, '@', (size_t)(colon - p)) == NULL) {
        pf_buf_append(&out, p, (size_t)(colon + 1 - p));
        pf_buf_puts(&out, "***");
        p = colon + 1 + plen;
      }
      continue;
    }
    if (strncasecmp(p, "password", 8) == 0 &&
        (p == text || !(isalnum((unsigned char)p[-1]) || p[-1] == '_'))) {
      const char *q = p + 8;
      while (*q == ' ' || *q == '\t') q++;
      if (*q == '=') {
        q++;
        while (*q == ' ' || *q == '\t') q++;
        pf_buf_append(&out, p, (size_t)(q - p));
        size_t vlen = pf__kv_value_len(q);
        if (vlen > 0) pf_buf_puts(&out, "***");
        p = q + vlen;
        continue;
      }
    }
    pf_buf_putc(&out, *p++);
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
