/* Logging: one write(2) per line to stderr, redacted, in text or JSON. */
#include "preflight/log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "preflight/redact.h"

#define PF__MAX_SECRETS 8

static pf_log_format_t pf__format = PF_LOG_TEXT;
static pf_log_level_t pf__level = PF_LOG_INFO;
static char *pf__secrets[PF__MAX_SECRETS];
static size_t pf__nsecrets;

static const char *const pf__level_names[] = {"error", "warn", "info", "debug"};

void pf_log_setup(pf_log_format_t format, pf_log_level_t level) {
  pf__format = format;
  pf__level = level;
}

pf_log_format_t pf_log_format(void) { return pf__format; }
pf_log_level_t pf_log_level(void) { return pf__level; }

void pf_log_secret(const char *secret) {
  if (secret == NULL || strlen(secret) < 3) return;
  for (size_t i = 0; i < pf__nsecrets; i++)
    if (strcmp(pf__secrets[i], secret) == 0) return;
  if (pf__nsecrets == PF__MAX_SECRETS) return;
  pf__secrets[pf__nsecrets++] = pf_xstrdup(secret);
}

void pf_log_secrets_clear(void) {
  for (size_t i = 0; i < pf__nsecrets; i++) free(pf__secrets[i]);
  pf__nsecrets = 0;
}

/* Returns a newly allocated, fully redacted copy of msg: conninfo passwords first, then every
 * registered secret wherever it appears (libpq may echo a password in an error message). */
static char *pf__scrub(const char *msg) {
  char *s = pf_redact(msg);
  for (size_t i = 0; i < pf__nsecrets; i++) {
    char *t = pf_redact_secret(s, pf__secrets[i]);
    free(s);
    s = t;
  }
  return s;
}

/* Writes all of buf to stderr, retrying short writes, so that concurrent writers (the app after
 * an --init spawn shares our stderr) never see half a line of ours. */
static void pf__write_all(const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(STDERR_FILENO, buf, len);
    if (n <= 0) return;
    buf += n;
    len -= (size_t)n;
  }
}

void pf_log_v(pf_log_level_t level, const char *fields, const char *fmt, va_list ap) {
  if (level > pf__level) return;
  pf_buf_t raw = {0};
  pf_buf_vprintf(&raw, fmt, ap);
  /* Trailing newlines from libpq messages would break the one-line-per-entry rule. */
  while (raw.len > 0 && (raw.data[raw.len - 1] == '\n' || raw.data[raw.len - 1] == ' '))
    raw.data[--raw.len] = '\0';
  char *msg = pf__scrub(raw.data ? raw.data : "");
  pf_buf_free(&raw);

  pf_buf_t line = {0};
  if (pf__format == PF_LOG_JSON) {
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    char ts[40];
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    pf_buf_printf(&line, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"msg\":", ts,
                  (long)(tv.tv_usec / 1000), pf__level_names[level]);
    pf_buf_json_string(&line, msg);
    if (fields != NULL && *fields) {
      char *f = pf__scrub(fields);
      pf_buf_putc(&line, ',');
      pf_buf_puts(&line, f);
      free(f);
    }
    pf_buf_puts(&line, "}\n");
  } else {
    /* Multi-line messages (a fallback's SQL context) stay one entry: continuation lines are
     * indented under the prefix. */
    pf_buf_puts(&line, "preflight: ");
    for (const char *p = msg; *p; p++) {
      pf_buf_putc(&line, *p);
      if (*p == '\n') pf_buf_puts(&line, "  ");
    }
    pf_buf_putc(&line, '\n');
  }
  pf__write_all(line.data, line.len);
  pf_buf_free(&line);
  free(msg);
}

/* Formats the UTC time of `sec`.`ms` as 2026-01-31T12:34:56.789Z into out (25 bytes) with
 * arithmetic only, so that a signal handler may call it (gmtime_r is not async-signal-safe). */
static void pf__ts_safe(char out[25], int64_t sec, long ms) {
  int64_t days = sec / 86400, rem = sec % 86400;
  if (rem < 0) rem += 86400, days--;
  /* Howard Hinnant's civil_from_days. */
  int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) y++;
  int64_t v[] = {y, m, d, rem / 3600, rem / 60 % 60, rem % 60, ms};
  static const char sep[] = "--T::.Z";
  static const int width[] = {4, 2, 2, 2, 2, 2, 3};
  char *o = out;
  for (int i = 0; i < 7; i++) {
    for (int w = width[i] - 1; w >= 0; w--) {
      int64_t x = v[i];
      for (int k = 0; k < w; k++) x /= 10;
      *o++ = (char)('0' + x % 10);
    }
    *o++ = sep[i];
  }
  *o = '\0';
}

void pf_log_signal_safe(const char *msg) {
  char line[512];
  size_t n = 0, mlen = strlen(msg);
  if (mlen > 300) mlen = 300;
#define PF__ADD(s, l) (memcpy(line + n, (s), (l)), n += (l))
#define PF__LIT(s) PF__ADD(s, sizeof(s) - 1)
  if (pf__format == PF_LOG_JSON) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char t[25];
    pf__ts_safe(t, (int64_t)ts.tv_sec, ts.tv_nsec / 1000000);
    PF__LIT("{\"ts\":\"");
    PF__ADD(t, 24);
    PF__LIT("\",\"level\":\"error\",\"msg\":\"");
    /* The messages are fixed English sentences: nothing to escape. */
    PF__ADD(msg, mlen);
    PF__LIT("\"}\n");
  } else {
    PF__LIT("preflight: ");
    PF__ADD(msg, mlen);
    PF__LIT("\n");
  }
#undef PF__LIT
#undef PF__ADD
  pf__write_all(line, n);
}

void pf_log_fields(pf_log_level_t level, const char *fields, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  pf_log_v(level, fields, fmt, ap);
  va_end(ap);
}
