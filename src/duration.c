/* Durations as the contract writes them: "250ms", "5s", "2m", "5min", "1h", a bare integer
 * meaning seconds, and sums of those such as "1m30s". */
#include "preflight/duration.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "preflight/error.h"

/* The ceiling is INT32_MAX milliseconds (~24.8 days): libuv timers, PostgreSQL's lock_timeout
 * and statement_timeout all take a 32-bit millisecond count. */
#define PF__DURATION_MAX_MS INT64_C(2147483647)

typedef struct {
  const char *unit;
  int64_t ms;
} pf__unit_t;

/* Longer spellings come first so that "min" is not read as "m" followed by garbage "in". */
static const pf__unit_t pf__units[] = {
  {"min", 60 * 1000}, {"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 60 * 60 * 1000},
};

/* Parses `s` into milliseconds; see duration.h. */
int pf_duration_parse(const char *s, int64_t *ms, char *err, size_t errlen) {
  if (s == NULL || *s == '\0') return pf_seterr(err, errlen, PF_ECONFIG, "empty duration");
  if (*s == '-') return pf_seterr(err, errlen, PF_ECONFIG, "negative duration \"%.40s\"", s);

  int64_t total = 0;
  const char *p = s;
  int terms = 0;
  while (*p != '\0') {
    if (!isdigit((unsigned char)*p))
      return pf_seterr(err, errlen, PF_ECONFIG,
                       "invalid duration \"%.40s\" (expected a number such as 250ms, 5s, 2m, 1h)",
                       s);
    /* Accumulate with a cap instead of strtoll so that a long run of digits is rejected as too
     * large rather than silently clamped or wrapped. */
    int64_t n = 0;
    while (isdigit((unsigned char)*p)) {
      n = n * 10 + (*p - '0');
      if (n > PF__DURATION_MAX_MS)
        return pf_seterr(err, errlen, PF_ECONFIG,
                         "duration \"%.40s\" is too large (the limit is 2147483647ms, ~24 days)", s);
      p++;
    }
    if (*p == '\0') {
      /* A bare number means seconds, but only on its own: "1m30" is more likely a typo than
       * one minute and thirty seconds. */
      if (terms > 0)
        return pf_seterr(err, errlen, PF_ECONFIG,
                         "invalid duration \"%.40s\" (a number inside a sum needs a unit)", s);
      if (n > PF__DURATION_MAX_MS / 1000)
        return pf_seterr(err, errlen, PF_ECONFIG,
                         "duration \"%.40s\" is too large (the limit is 2147483647ms, ~24 days)", s);
      total = n * 1000;
      break;
    }
    const pf__unit_t *u = NULL;
    for (size_t i = 0; i < PF_ARRAY_SIZE(pf__units); i++) {
      size_t ul = strlen(pf__units[i].unit);
      if (strncmp(p, pf__units[i].unit, ul) == 0 && !isalpha((unsigned char)p[ul])) {
        u = &pf__units[i];
        p += ul;
        break;
      }
    }
    if (u == NULL)
      return pf_seterr(err, errlen, PF_ECONFIG,
                       "invalid duration \"%.40s\" (units are ms, s, m, min and h)", s);
    if (n > (PF__DURATION_MAX_MS - total) / u->ms)
      return pf_seterr(err, errlen, PF_ECONFIG,
                       "duration \"%.40s\" is too large (the limit is 2147483647ms, ~24 days)", s);
    total += n * u->ms;
    terms++;
  }
  *ms = total;
  return 0;
}

/* Formats ms as the largest units that divide it ("1h", "1m30s", "1s500ms"); returns buf. */
const char *pf_duration_format(int64_t ms, char *buf, size_t buflen) {
  if (buf == NULL || buflen == 0) return buf;
  if (ms <= 0) {
    snprintf(buf, buflen, ms == 0 ? "0s" : "%lldms", (long long)ms);
    return buf;
  }
  int64_t h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, rest = ms % 1000;
  size_t off = 0;
  buf[0] = '\0';
  if (h) off += (size_t)snprintf(buf + off, off < buflen ? buflen - off : 0, "%lldh", (long long)h);
  if (m && off < buflen)
    off += (size_t)snprintf(buf + off, buflen - off, "%lldm", (long long)m);
  if (s && off < buflen)
    off += (size_t)snprintf(buf + off, buflen - off, "%llds", (long long)s);
  if (rest && off < buflen) snprintf(buf + off, buflen - off, "%lldms", (long long)rest);
  return buf;
}
