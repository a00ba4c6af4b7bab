/* Logging: one write(2) per line to stderr, redacted, in text or JSON. */
#include "preflight/log.h"

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

void pf_log_fields(pf_log_level_t level, const char *fields, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  pf_log_v(level, fields, fmt, ap);
  va_end(ap);
}
