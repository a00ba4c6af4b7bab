/* Report and summary. The JSON is built by hand with pf_buf_t: the shape is small and fixed,
 * and a JSON library would be a dependency the static build does not want. */
#include "preflight/report.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "preflight/duration.h"
#include "preflight/error.h"
#include "preflight/log.h"

/* Which verification describes item i's final state, and its state there. */
static const pf_item_state_t *pf__final(const pf_report_t *r, size_t i) {
  if (r->after) return &r->after->items[i];
  if (r->before) return &r->before->items[i];
  return NULL;
}

/* Whether item i was missing at the first verification and the migration command, which ran
 * successfully, is what made it present (no fallback created it). */
static bool pf__migrated(const pf_report_t *r, size_t i) {
  return r->migrate && r->migrate->status == PF_MIGRATE_OK && r->before && r->after &&
         r->before->items[i].state != PF_OBJ_PRESENT && r->after->items[i].state == PF_OBJ_PRESENT &&
         !(r->fb && r->fb->outcome && r->fb->outcome[i] == PF_FB_CREATED);
}

const char *pf_report_item_status(const pf_report_t *r, size_t i) {
  const pf_item_state_t *st = pf__final(r, i);
  pf_fb_outcome_t fo = r->fb && r->fb->outcome ? r->fb->outcome[i] : PF_FB_NONE;
  if (st && st->state == PF_OBJ_PRESENT) {
    if (fo == PF_FB_CREATED || pf__migrated(r, i)) return "created";
    return "present";
  }
  if (fo == PF_FB_FAILED) return "failed";
  if (r->m->items[i].severity == PF_SEVERITY_WARN) return "warned";
  return "missing";
}

char *pf_report_json(const pf_report_t *r) {
  pf_buf_t b = {0};
  pf_buf_puts(&b, "{\"status\":");
  pf_buf_json_string(&b, r->status);
  if (r->error) {
    pf_buf_puts(&b, ",\"error\":");
    pf_buf_json_string(&b, r->error);
  }
  pf_buf_puts(&b, ",\"database\":{\"host\":");
  pf_buf_json_string(&b, r->host);
  pf_buf_printf(&b, ",\"port\":%s,\"dbname\":", r->port && *r->port ? r->port : "null");
  pf_buf_json_string(&b, r->dbname);
  pf_buf_puts(&b, ",\"server_version\":");
  pf_buf_json_string(&b, r->server_version);
  pf_buf_printf(&b, "},\"timings_ms\":{\"wait\":%lld,\"verify\":%lld,\"fallback\":%lld,\"total\":%lld",
                (long long)r->wait_ms, (long long)r->verify_ms, (long long)r->fallback_ms, (long long)r->total_ms);
  if (r->await_ms) pf_buf_printf(&b, ",\"await\":%lld", (long long)r->await_ms);
  if (r->migrate) pf_buf_printf(&b, ",\"migrate\":%lld", (long long)r->migrate->duration_ms);
  pf_buf_putc(&b, '}');
  if (r->migrate_command) {
    pf_buf_puts(&b, ",\"migrate\":{\"command\":");
    pf_buf_json_string(&b, r->migrate_command);
    pf_buf_puts(&b, ",\"status\":");
    if (r->migrate) {
      pf_buf_json_string(&b, pf_migrate_status_name(r->migrate->status));
      if (r->migrate->exit_code >= 0) pf_buf_printf(&b, ",\"exit_code\":%d", r->migrate->exit_code);
      if (r->migrate->term_signal) pf_buf_printf(&b, ",\"signal\":%d", r->migrate->term_signal);
      pf_buf_printf(&b, ",\"duration_ms\":%lld", (long long)r->migrate->duration_ms);
    } else {
      pf_buf_puts(&b, "\"skipped\",\"reason\":");
      pf_buf_json_string(&b, r->migrate_skipped ? r->migrate_skipped : "not reached");
    }
    pf_buf_putc(&b, '}');
  }
  pf_buf_printf(&b, ",\"queries\":%d,\"items\":[", r->round_trips);
  if (r->before || r->after) {
    for (size_t i = 0; i < r->m->nitems; i++) {
      const pf_item_t *it = &r->m->items[i];
      const pf_item_state_t *st = pf__final(r, i);
      const pf_item_state_t *first = r->before ? &r->before->items[i] : st;
      pf_buf_puts(&b, i ? ",\n  {\"kind\":" : "\n  {\"kind\":");
      pf_buf_json_string(&b, pf_kind_name(it->kind));
      pf_buf_puts(&b, ",\"name\":");
      pf_buf_json_string(&b, it->display);
      pf_buf_puts(&b, ",\"status\":");
      const char *status = pf_report_item_status(r, i);
      pf_buf_json_string(&b, status);
      /* A created item's detail is why it was created; a missing one's, why it is missing. */
      const pf_item_state_t *why = strcmp(status, "created") == 0 ? first : st;
      pf_fb_outcome_t fo = r->fb && r->fb->outcome ? r->fb->outcome[i] : PF_FB_NONE;
      if (strcmp(status, "created") == 0 && pf__migrated(r, i)) {
        pf_buf_puts(&b, ",\"detail\":\"created by migrate.command\"");
      } else if (why && why->detail) {
        pf_buf_puts(&b, ",\"detail\":");
        pf_buf_json_string(&b, why->detail);
      } else if (fo == PF_FB_BY_OTHER) {
        pf_buf_puts(&b, ",\"detail\":\"repaired by another replica or an earlier fallback\"");
      }
      if (why && why->state == PF_OBJ_MISMATCH) {
        pf_buf_puts(&b, ",\"expected\":");
        pf_buf_json_string(&b, why->expected);
        pf_buf_puts(&b, ",\"found\":");
        pf_buf_json_string(&b, why->found);
      }
      pf_buf_printf(&b, ",\"line\":%d}", it->line);
    }
  }
  pf_buf_puts(&b, "]}\n");
  /* Item details and the error quote server messages and connection strings: the report gets
   * the same scrubbing as every log line. */
  char *json = pf_log_scrub(b.data);
  pf_buf_free(&b);
  return json;
}

/* Writes all of text to fd, which may be non-blocking: waits for room at most 100 ms at a time,
 * so a reader that stopped (a FIFO nobody drains) costs a bounded delay, not a hang. Returns 0 or
 * an errno value. */
static int pf__write_fd(int fd, const char *text, size_t len) {
  size_t off = 0;
  while (off < len) {
    ssize_t n = write(fd, text + off, len - off);
    if (n > 0) {
      off += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      struct pollfd pfd = {.fd = fd, .events = POLLOUT};
      int r = poll(&pfd, 1, 100);
      if (r == 1) continue;
      return r == 0 ? ETIMEDOUT : errno;
    }
    return n < 0 ? errno : EIO;
  }
  return 0;
}

/* Writes to something that is not a plain file (a device, a FIFO, /dev/stdout, any symlink) by
 * opening it and writing, never replacing it: renaming a file over /dev/stdout or /dev/null
 * would turn the device into a regular file. O_NONBLOCK keeps a FIFO without a reader from
 * blocking the open (it fails with ENXIO instead). */
static int pf__report_direct(const char *path, const char *text, size_t len) {
  int fd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return errno;
  struct stat st;
  int e = 0;
  if (fstat(fd, &st) != 0)
    e = errno;
  else if (S_ISBLK(st.st_mode))
    e = ENOTSUP;   /* never a disk */
  else if (S_ISREG(st.st_mode) && ftruncate(fd, 0) != 0)
    e = errno;
  if (e == 0) e = pf__write_fd(fd, text, len);
  if (close(fd) != 0 && e == 0 && errno != EINTR) e = errno;
  return e;
}

/* Writes a regular file atomically: a new file beside it with an unpredictable name, created
 * exclusively (O_EXCL: a symlink planted under that name is never followed), then renamed over
 * the target, so readers see the old report or the new one, never half of one. */
static int pf__report_atomic(const char *path, const char *text, size_t len) {
  const char *slash = strrchr(path, '/');
  char *tmp = slash ? pf_xasprintf("%.*s/.%s.XXXXXX", (int)(slash - path), path, slash + 1)
                    : pf_xasprintf(".%s.XXXXXX", path);
  int fd = mkostemp(tmp, O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    free(tmp);
    return e;
  }
  int e = fchmod(fd, 0644) != 0 ? errno : 0;
  if (e == 0) e = pf__write_fd(fd, text, len);
  if (close(fd) != 0 && e == 0) e = errno;
  if (e == 0 && rename(tmp, path) != 0) e = errno;
  if (e != 0) unlink(tmp);
  free(tmp);
  return e;
}

int pf_report_write(const char *path, const char *text, char *err, size_t errlen) {
  struct stat st;
  size_t len = strlen(text);
  int e;
  if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
    e = S_ISDIR(st.st_mode) ? EISDIR : pf__report_direct(path, text, len);
  else
    e = pf__report_atomic(path, text, len);
  if (e != 0)
    return pf_seterr(err, errlen, PF_EIO, "cannot write the report %s: %s", path,
                     e == ENOTSUP ? "a block device" : e == ETIMEDOUT ? "nobody is reading it" : strerror(e));
  return 0;
}

/* Fills order[] with the item indexes in the order fallbacks run (fallback.c): the transaction's
 * items in dependency order (kind, then manifest order), then the `transaction: false` ones in the
 * same order. The per-item lines follow it, so "created" comes in the order "applying fallback"
 * came, whatever order the manifest lists the kinds in. */
static void pf__log_order(const pf_manifest_t *m, size_t *order) { pf_manifest_kind_order(m, true, order, NULL); }

void pf_report_log(const pf_report_t *r) {
  size_t missing = 0, warned = 0, created = 0, failed = 0;
  size_t *order = pf_xcalloc(r->m->nitems ? r->m->nitems : 1, sizeof(*order));
  pf__log_order(r->m, order);
  for (size_t k = 0; r->before && k < r->m->nitems; k++) {
    size_t i = order[k];
    const pf_item_t *it = &r->m->items[i];
    const char *status = pf_report_item_status(r, i);
    if (strcmp(status, "present") == 0) continue; /* nothing to say: a 32,000-item check is mostly these */
    const pf_item_state_t *st = pf__final(r, i);
    char fields[160];
    snprintf(fields, sizeof(fields), "\"kind\":\"%s\",\"status\":\"%s\",\"line\":%d", pf_kind_name(it->kind), status, it->line);
    if (strcmp(status, "created") == 0) {
      created++;
      pf_log_fields(PF_LOG_INFO, fields, "created %s %s%s", pf_kind_name(it->kind), it->display,
                    pf__migrated(r, i) ? " (by migrate.command)" : "");
    } else if (strcmp(status, "missing") == 0 || strcmp(status, "failed") == 0) {
      if (strcmp(status, "failed") == 0) failed++;
      missing++;
      pf_log_fields(PF_LOG_ERROR, fields, "missing %s %s: %s (%s:%d)", pf_kind_name(it->kind), it->display,
                    st && st->detail ? st->detail : "not found", r->m->path, it->line);
    } else if (strcmp(status, "warned") == 0) {
      warned++;
      pf_log_fields(PF_LOG_WARN, fields, "missing %s %s (severity warn): %s (%s:%d)", pf_kind_name(it->kind),
                    it->display, st && st->detail ? st->detail : "not found", r->m->path, it->line);
    }
  }
  free(order);
  char d1[32], d2[32], d3[32], d4[32], fields[384], mig[160] = "";
  if (r->migrate_command && r->migrate)
    snprintf(mig, sizeof(mig), "; migration %s in %s", r->migrate->status == PF_MIGRATE_OK ? "ran" : pf_migrate_status_name(r->migrate->status),
             pf_duration_format(r->migrate->duration_ms, d1, sizeof(d1)));
  else if (r->migrate_command)
    snprintf(mig, sizeof(mig), "; migration not run (%s)", r->migrate_skipped ? r->migrate_skipped : "not reached");
  snprintf(fields, sizeof(fields),
           "\"status\":\"%s\",\"checked\":%zu,\"missing\":%zu,\"warned\":%zu,\"created\":%zu,\"queries\":%d,"
           "\"wait_ms\":%lld,\"verify_ms\":%lld,\"fallback_ms\":%lld,\"total_ms\":%lld,\"migrate\":\"%s\"",
           r->status, r->m->nitems, missing, warned, created, r->round_trips, (long long)r->wait_ms,
           (long long)r->verify_ms, (long long)r->fallback_ms, (long long)r->total_ms,
           !r->migrate_command ? "none" : r->migrate ? pf_migrate_status_name(r->migrate->status) : "skipped");
  pf_log_fields(missing ? PF_LOG_ERROR : PF_LOG_INFO, fields,
                "%s: %zu objects checked, %zu missing, %zu created%s%s (wait %s, verify %s in %d queries, fallback %s, total %s)",
                r->status, r->m->nitems, missing, created, warned ? ", some warnings" : "", mig,
                pf_duration_format(r->wait_ms, d1, sizeof(d1)), pf_duration_format(r->verify_ms, d2, sizeof(d2)),
                r->round_trips, pf_duration_format(r->fallback_ms, d3, sizeof(d3)),
                pf_duration_format(r->total_ms, d4, sizeof(d4)));
  (void)failed;
}
