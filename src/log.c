/* Logging: one line at a time to stderr, redacted, in text or JSON, and never blocking.
 *
 * Why never blocking: preflight's stderr is usually a pipe to a log shipper. When the shipper
 * stops reading, the pipe fills and a plain write(2) blocks for ever — past every budget, with
 * SIGTERM unanswered, since the loop that would see it is the one stuck in write. So lines go
 * through a small bounded buffer that is written without blocking; what does not fit is dropped
 * and counted, and a line says how many once stderr drains again. The descriptor to write to is
 * chosen once (pf__out_open): a regular file is written directly (it never blocks for long); a
 * socket with MSG_DONTWAIT; a pipe, FIFO or terminal through a second, non-blocking open file
 * description of the same object (/proc/self/fd/2), so that O_NONBLOCK is never set on the
 * descriptor the application and our parent share; and without /proc, by polling before each
 * write of at most PIPE_BUF bytes, which a pipe with room accepts whole. */
#include "preflight/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "preflight/redact.h"

#define PF__MAX_SECRETS 32
/* What may wait for a slow reader; beyond it, lines are dropped. */
#define PF__PENDING_MAX (64 * 1024)

static pf_log_format_t pf__format = PF_LOG_TEXT;
static pf_log_level_t pf__level = PF_LOG_INFO;
static char *pf__secrets[PF__MAX_SECRETS];
static size_t pf__nsecrets;

/* The health probe logs from libuv's thread pool. */
static pthread_mutex_t pf__mu = PTHREAD_MUTEX_INITIALIZER;

typedef enum { PF__OUT_UNSET, PF__OUT_PLAIN, PF__OUT_SOCKET, PF__OUT_NONBLOCK, PF__OUT_POLL } pf__out_t;
static pf__out_t pf__out;
static int pf__out_fd = STDERR_FILENO;
static char pf__pending[PF__PENDING_MAX];
static size_t pf__npending;
static unsigned long pf__dropped;

static const char *const pf__level_names[] = {"error", "warn", "info", "debug"};

static char *pf__last_error;   /* the last error-level message, redacted, for termlog.h */

const char *pf_log_last_error(void) {
  pthread_mutex_lock(&pf__mu);
  const char *e = pf__last_error;
  pthread_mutex_unlock(&pf__mu);
  return e;
}

void pf_log_setup(pf_log_format_t format, pf_log_level_t level) {
  pf__format = format;
  pf__level = level;
}

pf_log_format_t pf_log_format(void) { return pf__format; }
pf_log_level_t pf_log_level(void) { return pf__level; }

/* Adds one string to the secrets, unless known already or the list is full. */
static void pf__secret_add(const char *s) {
  for (size_t i = 0; i < pf__nsecrets; i++)
    if (strcmp(pf__secrets[i], s) == 0) return;
  if (pf__nsecrets == PF__MAX_SECRETS) return;
  pf__secrets[pf__nsecrets++] = pf_xstrdup(s);
}

void pf_log_secret(const char *secret) {
  if (!pf_redact_distinctive(secret)) return;
  pthread_mutex_lock(&pf__mu);
  pf__secret_add(secret);
  /* As it appears inside a JSON string (the report, JSON log fields): quotes and backslashes
   * escaped. */
  pf_buf_t j = {0};
  pf_buf_json_string(&j, secret);
  if (j.len > 2) {
    j.data[j.len - 1] = '\0';
    if (strcmp(j.data + 1, secret) != 0) pf__secret_add(j.data + 1);
  }
  pf_buf_free(&j);
  pthread_mutex_unlock(&pf__mu);
}

void pf_log_conninfo(const char *conninfo) {
  char **pw = pf_redact_passwords(conninfo);
  for (size_t i = 0; pw && pw[i]; i++) pf_log_secret(pw[i]);
  pf_redact_passwords_free(pw);
}

void pf_log_secrets_clear(void) {
  pthread_mutex_lock(&pf__mu);
  for (size_t i = 0; i < pf__nsecrets; i++) free(pf__secrets[i]);
  pf__nsecrets = 0;
  pthread_mutex_unlock(&pf__mu);
}

/* Returns a newly allocated, fully redacted copy of msg: connection-string passwords first,
 * then every registered secret wherever it appears (libpq may echo a password in an error
 * message). Called with pf__mu held. */
static char *pf__scrub_locked(const char *msg) {
  char *s = pf_redact(msg);
  for (size_t i = 0; i < pf__nsecrets; i++) {
    char *t = pf_redact_secret(s, pf__secrets[i]);
    free(s);
    s = t;
  }
  return s;
}

char *pf_log_scrub(const char *text) {
  pthread_mutex_lock(&pf__mu);
  char *s = pf__scrub_locked(text ? text : "");
  pthread_mutex_unlock(&pf__mu);
  return s;
}

/* Chooses how to write to stderr without blocking; see the top of this file. */
static void pf__out_open(void) {
  struct stat st;
  pf__out = PF__OUT_PLAIN;
  pf__out_fd = STDERR_FILENO;
  if (fstat(STDERR_FILENO, &st) != 0 || S_ISREG(st.st_mode)) return;
  if (S_ISSOCK(st.st_mode)) {
    pf__out = PF__OUT_SOCKET;
    return;
  }
  int fd = open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | O_APPEND);
  struct stat st2;
  if (fd >= 0 && fstat(fd, &st2) == 0 && st2.st_ino == st.st_ino && st2.st_dev == st.st_dev) {
    /* Keep it above 2 even if something closed a standard descriptor after main started. */
    if (fd <= STDERR_FILENO) {
      int high = fcntl(fd, F_DUPFD_CLOEXEC, 3);
      close(fd);
      fd = high;
    }
    if (fd >= 0) {
      pf__out = PF__OUT_NONBLOCK;
      pf__out_fd = fd;
      return;
    }
  } else if (fd >= 0) {
    close(fd);
  }
  pf__out = PF__OUT_POLL;
}

/* Writes what it can of buf without blocking; returns the bytes written (0 when none could be
 * or stderr is gone). */
static size_t pf__write_some(const char *buf, size_t len) {
  if (pf__out == PF__OUT_UNSET) pf__out_open();
  size_t done = 0;
  while (done < len) {
    size_t chunk = len - done;
    ssize_t n;
    switch (pf__out) {
      case PF__OUT_SOCKET:
        n = send(pf__out_fd, buf + done, chunk, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno == ENOTSOCK) {
          pf__out = PF__OUT_POLL;
          continue;
        }
        break;
      case PF__OUT_POLL: {
        struct pollfd pfd = {.fd = pf__out_fd, .events = POLLOUT};
        if (poll(&pfd, 1, 0) != 1 || !(pfd.revents & POLLOUT)) return done;
        if (chunk > PIPE_BUF) chunk = PIPE_BUF;
        n = write(pf__out_fd, buf + done, chunk);
        break;
      }
      default:
        n = write(pf__out_fd, buf + done, chunk);
    }
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return done;
    done += (size_t)n;
  }
  return done;
}

/* Writes as much of the pending buffer as stderr takes now, a line per write: a line of at most
 * PIPE_BUF bytes reaches a pipe whole or not at all, so a reader that stops never leaves half a
 * line behind (a longer line may be split, and its rest follows on the next flush). */
static void pf__flush_some(void) {
  size_t off = 0;
  while (off < pf__npending) {
    const char *nl = memchr(pf__pending + off, '\n', pf__npending - off);
    size_t len = nl ? (size_t)(nl - (pf__pending + off)) + 1 : pf__npending - off;
    size_t n = pf__write_some(pf__pending + off, len);
    off += n;
    if (n < len) break;
  }
  if (off == 0) return;
  memmove(pf__pending, pf__pending + off, pf__npending - off);
  pf__npending -= off;
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

/* Queues one whole line (or drops and counts it when it does not fit) and writes what it can.
 * Whole lines only, so that a line is never cut in half in the output. Called with pf__mu. */
static void pf__emit_locked(const char *line, size_t len) {
  pf__flush_some();
  if (pf__dropped > 0 && pf__npending == 0) {
    char note[192], t[25];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    pf__ts_safe(t, (int64_t)now.tv_sec, now.tv_nsec / 1000000);
    int n = pf__format == PF_LOG_JSON
                ? snprintf(note, sizeof(note),
                           "{\"ts\":\"%s\",\"level\":\"warn\",\"msg\":\"%lu log lines dropped: "
                           "stderr was not being read\",\"dropped\":%lu}\n", t, pf__dropped, pf__dropped)
                : snprintf(note, sizeof(note),
                           "preflight: %lu log lines dropped: stderr was not being read\n", pf__dropped);
    if (n > 0 && (size_t)n < sizeof(note)) {
      memcpy(pf__pending, note, (size_t)n);
      pf__npending = (size_t)n;
      pf__dropped = 0;
    }
  }
  if (len > sizeof(pf__pending) - pf__npending) {
    pf__dropped++;
    return;
  }
  memcpy(pf__pending + pf__npending, line, len);
  pf__npending += len;
  pf__flush_some();
}

void pf_log_flush(int timeout_ms) {
  pthread_mutex_lock(&pf__mu);
  uint64_t deadline = pf_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
  for (;;) {
    pf__flush_some();
    if (pf__npending == 0) break;
    uint64_t now = pf_now_ms();
    if (now >= deadline) break;
    uint64_t left = deadline - now;
    struct pollfd pfd = {.fd = pf__out_fd, .events = POLLOUT};
    if (poll(&pfd, 1, (int)(left < 10 ? left : 10)) < 0 && errno != EINTR) break;
  }
  pthread_mutex_unlock(&pf__mu);
}

unsigned long pf_log_dropped(void) { return pf__dropped; }

void pf_log_v(pf_log_level_t level, const char *fields, const char *fmt, va_list ap) {
  if (level > pf__level) return;
  pf_buf_t raw = {0};
  pf_buf_vprintf(&raw, fmt, ap);
  /* Trailing newlines from libpq messages would break the one-line-per-entry rule. */
  while (raw.len > 0 && (raw.data[raw.len - 1] == '\n' || raw.data[raw.len - 1] == ' '))
    raw.data[--raw.len] = '\0';
  pthread_mutex_lock(&pf__mu);
  char *msg = pf__scrub_locked(raw.data ? raw.data : "");
  pf_buf_free(&raw);
  if (level == PF_LOG_ERROR) {
    free(pf__last_error);
    pf__last_error = pf_xstrdup(msg);
  }

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
      char *f = pf__scrub_locked(fields);
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
  pf__emit_locked(line.data, line.len);
  pthread_mutex_unlock(&pf__mu);
  pf_buf_free(&line);
  free(msg);
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
  /* No lock and no buffer here: only a write that cannot block (or a dropped line). */
  if (pf__out == PF__OUT_NONBLOCK || pf__out == PF__OUT_PLAIN) {
    ssize_t w = write(pf__out_fd, line, n);
    (void)w;
  } else if (pf__out == PF__OUT_SOCKET) {
    ssize_t w = send(pf__out_fd, line, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)w;
  } else {
    struct pollfd pfd = {.fd = STDERR_FILENO, .events = POLLOUT};
    if (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLOUT)) {
      ssize_t w = write(STDERR_FILENO, line, n);
      (void)w;
    }
  }
}

void pf_log_fields(pf_log_level_t level, const char *fields, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  pf_log_v(level, fields, fmt, ap);
  va_end(ap);
}
