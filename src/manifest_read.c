/* The typed readers of the manifest loader and its located error messages; see
 * manifest_read.h. Strings go into the manifest's arena. */
#include "manifest_read.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "preflight/duration.h"
#include "preflight/error.h"
#include "preflight/expand.h"

/* Writes a located error message; see manifest_read.h. */
int pf__merr(pf__mctx_t *c, const pf_ynode_t *at, const char *where, const char *fmt, ...) {
  pf_buf_t msg = {0};
  va_list ap;
  va_start(ap, fmt);
  pf_buf_vprintf(&msg, fmt, ap);
  va_end(ap);
  int line = at ? at->line : 1, column = at ? at->column : 1;
  if (where != NULL && *where != '\0')
    pf_seterr(c->err, c->errlen, PF_ECONFIG, "%s:%d:%d: %s: %s", c->path, line, column, where,
              msg.data ? msg.data : "");
  else
    pf_seterr(c->err, c->errlen, PF_ECONFIG, "%s:%d:%d: %s", c->path, line, column,
              msg.data ? msg.data : "");
  pf_buf_free(&msg);
  return PF_ECONFIG;
}

/* Formats "where.key"; see manifest_read.h. */
const char *pf__mfield(char *buf, size_t buflen, const char *where, const char *key) {
  if (where != NULL && *where != '\0')
    snprintf(buf, buflen, "%s.%s", where, key);
  else
    snprintf(buf, buflen, "%s", key);
  return buf;
}

/* Formats "where.key", or "where.key[ix]" for a list's element (ix >= 0). */
static const char *pf__mfield_at(char *buf, size_t buflen, const char *where, const char *key, long ix) {
  if (ix < 0) return pf__mfield(buf, buflen, where, key);
  char sub[96];
  snprintf(sub, sizeof(sub), "%s[%ld]", key, ix);
  return pf__mfield(buf, buflen, where, sub);
}

/* pf__mstring for `key` (ix < 0) or for the element ix of the list under it: the field's name
 * is written only for a message, not for every element read. */
static int pf__mstring_at(pf__mctx_t *c, const pf_ynode_t *node, const char *where, const char *key, long ix,
                          bool expand, bool allow_empty, char **out) {
  char field[160];
  *out = NULL;
  if (pf_ynode_is_null(node))
    return pf__merr(c, node, pf__mfield_at(field, sizeof(field), where, key, ix), "a value is required");
  if (node->kind != PF_YNODE_SCALAR)
    return pf__merr(c, node, pf__mfield_at(field, sizeof(field), where, key, ix),
                    "expected a string, got %s", pf_ynode_describe(node));
  const char *text = node->text;
  size_t len = node->len;
  char *expanded = NULL;
  /* Text without "$" expands to itself: skip the copy through malloc. */
  if (expand && memchr(text, '$', len) != NULL) {
    char why[256];
    if (pf_expand_env(node->text, &expanded, why, sizeof(why)) != 0)
      return pf__merr(c, node, pf__mfield_at(field, sizeof(field), where, key, ix), "%s", why);
    text = expanded;
    len = strlen(expanded);
  }
  if (len == 0 && !allow_empty) {
    free(expanded);
    return pf__merr(c, node, pf__mfield_at(field, sizeof(field), where, key, ix),
                    expand ? "must not be empty (after expanding variables)" : "must not be empty");
  }
  *out = pf_arena_strndup(c->arena, text, len);
  free(expanded);
  return 0;
}

/* Reads a scalar as a string; see manifest_read.h. */
int pf__mstring(pf__mctx_t *c, const pf_ynode_t *node, const char *where, const char *key,
                bool expand, bool allow_empty, char **out) {
  return pf__mstring_at(c, node, where, key, -1, expand, allow_empty, out);
}

/* Reads a boolean; see manifest_read.h. Only plain scalars count: "true" in quotes is a string,
 * and YAML 1.1's yes/no/on/off are refused because they surprise more people than they help. */
int pf__mbool(pf__mctx_t *c, const pf_ynode_t *node, const char *where, const char *key,
              int *out) {
  static const char *const truths[] = {"true", "True", "TRUE"};
  static const char *const lies[] = {"false", "False", "FALSE"};
  char field[160], ex[64];
  if (node->kind == PF_YNODE_SCALAR && node->style == PF_YSTYLE_PLAIN &&
      strchr("tTfF", node->text[0]) != NULL && node->text[0] != '\0') {
    for (size_t i = 0; i < PF_ARRAY_SIZE(truths); i++) {
      if (strcmp(node->text, truths[i]) == 0) {
        *out = 1;
        return 0;
      }
      if (strcmp(node->text, lies[i]) == 0) {
        *out = 0;
        return 0;
      }
    }
  }
  pf__mfield(field, sizeof(field), where, key);
  if (node->kind != PF_YNODE_SCALAR || pf_ynode_is_null(node))
    return pf__merr(c, node, field, "expected true or false, got %s", pf_ynode_describe(node));
  return pf__merr(c, node, field, "expected true or false, got %s\"%s\"",
                  node->style == PF_YSTYLE_PLAIN ? "" : "the quoted string ",
                  pf_ynode_excerpt(node, ex, sizeof(ex)));
}

/* Reads one of a fixed set of words; see manifest_read.h. */
int pf__menum(pf__mctx_t *c, const pf_ynode_t *node, const char *where, const char *key,
              const char *const *choices, int *idx) {
  char field[160], ex[64];
  if (node->kind == PF_YNODE_SCALAR && !pf_ynode_is_null(node)) {
    for (int i = 0; choices[i] != NULL; i++) {
      if (strcmp(node->text, choices[i]) == 0) {
        *idx = i;
        return 0;
      }
    }
  }
  pf__mfield(field, sizeof(field), where, key);
  pf_buf_t list = {0};
  size_t n = 0;
  for (; choices[n] != NULL; n++) pf_buf_printf(&list, "%s%s", n ? ", " : "", choices[n]);
  int rc;
  if (node->kind == PF_YNODE_SCALAR && !pf_ynode_is_null(node)) {
    const char *near = pf__msuggest(node->text, choices, n);
    if (near != NULL)
      rc = pf__merr(c, node, field, "expected one of %s; got \"%s\" (did you mean \"%s\"?)",
                    list.data, pf_ynode_excerpt(node, ex, sizeof(ex)), near);
    else
      rc = pf__merr(c, node, field, "expected one of %s; got \"%s\"", list.data,
                    pf_ynode_excerpt(node, ex, sizeof(ex)));
  } else {
    rc = pf__merr(c, node, field, "expected one of %s; got %s", list.data,
                  pf_ynode_describe(node));
  }
  pf_buf_free(&list);
  return rc;
}

/* Reads a duration; see manifest_read.h. */
int pf__mduration(pf__mctx_t *c, const pf_ynode_t *node, const char *where, const char *key,
                  bool expand, int64_t *ms) {
  char *s, field[160], why[256];
  int rc = pf__mstring(c, node, where, key, expand, false, &s);
  if (rc != 0) return rc;
  rc = pf_duration_parse(s, ms, why, sizeof(why));
  if (rc != 0) return pf__merr(c, node, pf__mfield(field, sizeof(field), where, key), "%s", why);
  return 0;
}

/* Reads a sequence of strings; see manifest_read.h. */
int pf__mlist(pf__mctx_t *c, const pf_ynode_t *v, const char *where, const char *key,
              char ***out, size_t *n) {
  char field[160];
  if (v->kind != PF_YNODE_SEQUENCE)
    return pf__merr(c, v, pf__mfield(field, sizeof(field), where, key),
                    "expected a sequence of strings, got %s", pf_ynode_describe(v));
  char **values = pf_arena_calloc(c->arena, v->n ? v->n : 1, sizeof(*values));
  for (size_t i = 0; i < v->n; i++) {
    int rc = pf__mstring_at(c, v->items[i], where, key, (long)i, false, false, &values[i]);
    if (rc != 0) return rc;
  }
  *out = values;
  *n = v->n;
  return 0;
}

/* Says where a file read as (b, then chunk) passes the limit: the line and column of the first
 * byte over it, so the message points into the file like every other manifest error. */
static void pf__mtoo_large(const pf_buf_t *b, const char *chunk, size_t n, size_t max_bytes,
                           char *why, size_t whylen) {
  size_t line = 1, col = 1, total = 0;
  const char *parts[2] = {b->data ? b->data : "", chunk};
  size_t lens[2] = {b->len, n};
  for (int i = 0; i < 2; i++)
    for (size_t k = 0; k < lens[i] && total < max_bytes; k++, total++) {
      if (parts[i][k] == '\n')
        line++, col = 1;
      else
        col++;
    }
  char limit[32];
  if (max_bytes % (1024 * 1024) == 0)
    snprintf(limit, sizeof(limit), "%zu MiB", max_bytes / (1024 * 1024));
  else
    snprintf(limit, sizeof(limit), "%zu-byte", max_bytes);
  snprintf(why, whylen,
           "larger than the %s limit, which line %zu passes at column %zu (raise the limit with "
           "PREFLIGHT_MANIFEST_MAX_BYTES)", limit, line, col);
}

/* Reads a whole file; see manifest_read.h. */
int pf__mread_file(const char *path, bool regular_only, size_t max_bytes, char **out,
                   size_t *len, char *why, size_t whylen) {
  *out = NULL;
  *len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC | (regular_only ? O_NONBLOCK : 0));
  if (fd < 0) {
    snprintf(why, whylen, "%s", strerror(errno));
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    snprintf(why, whylen, "%s", strerror(errno));
    close(fd);
    return -1;
  }
  if (S_ISDIR(st.st_mode) || (regular_only && !S_ISREG(st.st_mode))) {
    snprintf(why, whylen, "%s",
             S_ISDIR(st.st_mode)    ? strerror(EISDIR)
             : S_ISFIFO(st.st_mode) ? "a FIFO, not a regular file (reading it could block for ever)"
                                    : "not a regular file");
    close(fd);
    return -1;
  }
  pf_buf_t b = {0};
  /* A regular file's size is known: one allocation, no regrowth. */
  if (S_ISREG(st.st_mode) && st.st_size > 0 && (uint64_t)st.st_size <= max_bytes) {
    b.data = pf_xmalloc((size_t)st.st_size + 1);
    b.cap = (size_t)st.st_size + 1;
  }
  char chunk[65536];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      snprintf(why, whylen, "%s", strerror(errno));
      goto fail;
    }
    if (n == 0) break;
    /* Stop as soon as the limit is passed, so a huge or endless file costs nothing. */
    if (b.len + (size_t)n > max_bytes) {
      pf__mtoo_large(&b, chunk, (size_t)n, max_bytes, why, whylen);
      goto fail;
    }
    pf_buf_append(&b, chunk, (size_t)n);
  }
  close(fd);
  *len = b.len;
  *out = pf_buf_steal(&b);
  return 0;

fail:
  pf_buf_free(&b);
  close(fd);
  return -1;
}

/* Returns the optimal-string-alignment distance between a and b, case ignored, or a value
 * above `cap` as soon as it must exceed it. Words here are short keys, so the rows fit. */
static size_t pf__mdistance(const char *a, const char *b, size_t cap) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 63 || lb > 63) return cap + 1;
  if ((la > lb ? la - lb : lb - la) > cap) return cap + 1;
  size_t prev2[64], prev[64], cur[64];
  for (size_t j = 0; j <= lb; j++) prev[j] = j;
  for (size_t i = 1; i <= la; i++) {
    cur[0] = i;
    size_t best = cur[0];
    for (size_t j = 1; j <= lb; j++) {
      int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
      size_t cost = ca == cb ? 0 : 1;
      size_t d = prev[j] + 1;
      if (cur[j - 1] + 1 < d) d = cur[j - 1] + 1;
      if (prev[j - 1] + cost < d) d = prev[j - 1] + cost;
      if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
          tolower((unsigned char)a[i - 2]) == cb && prev2[j - 2] + 1 < d)
        d = prev2[j - 2] + 1;
      cur[j] = d;
      if (d < best) best = d;
    }
    if (best > cap) return cap + 1;
    memcpy(prev2, prev, sizeof(prev));
    memcpy(prev, cur, sizeof(cur));
  }
  return prev[lb];
}

/* Suggests the nearest candidate; see manifest_read.h. A word within a third of its length of
 * a candidate (at least one edit, at most three) counts as a typo of it. */
const char *pf__msuggest(const char *word, const char *const *candidates, size_t n) {
  size_t len = strlen(word);
  size_t cap = len / 3;
  if (cap < 1) cap = 1;
  if (cap > 3) cap = 3;
  const char *best = NULL;
  size_t best_d = cap + 1;
  for (size_t i = 0; i < n; i++) {
    if (candidates[i] == NULL) continue;
    size_t d = pf__mdistance(word, candidates[i], cap);
    if (d < best_d) {
      best_d = d;
      best = candidates[i];
    }
  }
  /* A one-letter word is within one edit of every one-letter key: no guess is better there. */
  return len < 2 ? NULL : best;
}

/* Reports an unknown key; see manifest_read.h. */
int pf__munknown(pf__mctx_t *c, const pf_ynode_t *k, const char *where, const char *what,
                 const char *const *candidates, size_t n, const char *otherwise) {
  const char *near = pf__msuggest(k->text, candidates, n);
  if (near != NULL && otherwise != NULL)
    return pf__merr(c, k, where, "%s (did you mean \"%s\"? %s)", what, near, otherwise);
  if (near != NULL) return pf__merr(c, k, where, "%s (did you mean \"%s\"?)", what, near);
  if (otherwise != NULL) return pf__merr(c, k, where, "%s (%s)", what, otherwise);
  return pf__merr(c, k, where, "%s", what);
}
