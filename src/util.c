/* Allocation, error-buffer and string-buffer helpers. */
#include "preflight/util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static void pf__oom(void) {
  static const char msg[] = "preflight: out of memory\n";
  ssize_t r = write(2, msg, sizeof(msg) - 1);
  (void)r;
  abort();
}

void *pf_xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (p == NULL) pf__oom();
  return p;
}

void *pf_xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (p == NULL) pf__oom();
  return p;
}

void *pf_xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (q == NULL) pf__oom();
  return q;
}

char *pf_xstrdup(const char *s) {
  return s == NULL ? NULL : pf_xstrndup(s, strlen(s));
}

char *pf_xstrndup(const char *s, size_t n) {
  char *d = pf_xmalloc(n + 1);
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

char *pf_xasprintf(const char *fmt, ...) {
  pf_buf_t b = {0};
  va_list ap;
  va_start(ap, fmt);
  pf_buf_vprintf(&b, fmt, ap);
  va_end(ap);
  return pf_buf_steal(&b);
}

int pf_seterr(char *err, size_t errlen, int code, const char *fmt, ...) {
  if (err != NULL && errlen > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return code;
}

static void pf__buf_reserve(pf_buf_t *b, size_t extra) {
  if (b->len + extra + 1 <= b->cap) return;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < b->len + extra + 1) cap *= 2;
  b->data = pf_xrealloc(b->data, cap);
  b->cap = cap;
}

void pf_buf_append(pf_buf_t *b, const char *s, size_t n) {
  pf__buf_reserve(b, n);
  if (n) memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void pf_buf_puts(pf_buf_t *b, const char *s) { pf_buf_append(b, s, strlen(s)); }

void pf_buf_putc(pf_buf_t *b, char c) { pf_buf_append(b, &c, 1); }

/* Formats straight into the free space when it fits, which is nearly always: measuring first
 * doubled the cost of every call, and musl's vsnprintf is not cheap. */
void pf_buf_vprintf(pf_buf_t *b, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  size_t room = b->data ? b->cap - b->len : 0;
  int n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap2);
  va_end(ap2);
  if (n < 0) {
    if (room) b->data[b->len] = '\0';
    return;
  }
  if ((size_t)n >= room) {
    pf__buf_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  }
  b->len += (size_t)n;
}

void pf_buf_printf(pf_buf_t *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  pf_buf_vprintf(b, fmt, ap);
  va_end(ap);
}

void pf_buf_json_string(pf_buf_t *b, const char *s) {
  if (s == NULL) {
    pf_buf_puts(b, "null");
    return;
  }
  pf_buf_putc(b, '"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    switch (*p) {
      case '"': pf_buf_puts(b, "\\\""); break;
      case '\\': pf_buf_puts(b, "\\\\"); break;
      case '\n': pf_buf_puts(b, "\\n"); break;
      case '\r': pf_buf_puts(b, "\\r"); break;
      case '\t': pf_buf_puts(b, "\\t"); break;
      default:
        if (*p < 0x20 || *p == 0x7f) {
          pf_buf_printf(b, "\\u%04x", *p);
        } else if (*p < 0x80) {
          pf_buf_putc(b, (char)*p);
        } else {
          /* Valid UTF-8 passes through; any other byte (a garbage server, a Latin-1 name)
           * becomes U+FFFD, so the output is valid JSON for strict parsers. */
          size_t n = pf_utf8_len(p);
          if (n == 0) {
            pf_buf_puts(b, "\xef\xbf\xbd");
          } else {
            pf_buf_append(b, (const char *)p, n);
            p += n - 1;
          }
        }
    }
  }
  pf_buf_putc(b, '"');
}

size_t pf_utf8_len(const unsigned char *p) {
  unsigned char c = p[0];
  size_t n;
  uint32_t cp;
  if (c < 0x80) return c ? 1 : 0;
  if (c >= 0xc2 && c <= 0xdf) n = 2, cp = c & 0x1f;
  else if (c >= 0xe0 && c <= 0xef) n = 3, cp = c & 0x0f;
  else if (c >= 0xf0 && c <= 0xf4) n = 4, cp = c & 0x07;
  else return 0;
  for (size_t i = 1; i < n; i++) {
    if ((p[i] & 0xc0) != 0x80) return 0;   /* also stops at the terminating NUL */
    cp = (cp << 6) | (p[i] & 0x3f);
  }
  /* Overlong forms, UTF-16 surrogates and values past U+10FFFF are not UTF-8. */
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
      (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

/* Sorts a[0..n) by insertion: stable, and the fastest way for the short runs merge sort starts
 * from. */
static void pf__sort_insertion(void **a, size_t n, int (*cmp)(const void *, const void *)) {
  for (size_t i = 1; i < n; i++) {
    void *x = a[i];
    size_t j = i;
    for (; j > 0 && cmp(a[j - 1], x) > 0; j--) a[j] = a[j - 1];
    a[j] = x;
  }
}

/* Sorts pointers, stably; see util.h. Bottom-up: runs of 16 by insertion, then passes that merge
 * pairs of runs into runs twice as long, alternating between a and a scratch array; a pair
 * already in order is copied without comparing further. */
void pf_sort_ptrs(void **a, size_t n, int (*cmp)(const void *, const void *)) {
  enum { RUN = 16 };
  if (n < 2) return;
  for (size_t lo = 0; lo < n; lo += RUN) pf__sort_insertion(a + lo, n - lo < RUN ? n - lo : RUN, cmp);
  if (n <= RUN) return;
  void **tmp = pf_xcalloc(n, sizeof(*tmp));
  void **src = a, **dst = tmp;
  /* w: the length of the runs this pass merges; past n / 2 this pass is the last. */
  for (size_t w = RUN; w < n; w = w > n / 2 ? n : w * 2) {
    for (size_t lo = 0; lo < n;) {
      size_t mid = lo + (w < n - lo ? w : n - lo);
      size_t hi = mid + (w < n - mid ? w : n - mid);
      if (mid == hi || cmp(src[mid - 1], src[mid]) <= 0) {
        memcpy(dst + lo, src + lo, (hi - lo) * sizeof(*src));
      } else {
        size_t i = lo, j = mid, k = lo;
        while (i < mid && j < hi) dst[k++] = cmp(src[j], src[i]) < 0 ? src[j++] : src[i++];
        while (i < mid) dst[k++] = src[i++];
        while (j < hi) dst[k++] = src[j++];
      }
      lo = hi;
    }
    void **t = src;
    src = dst;
    dst = t;
  }
  if (src != a) memcpy(a, src, n * sizeof(*a));
  free(tmp);
}

uint32_t pf_hash(const char *s, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
  return h;
}

char *pf_buf_steal(pf_buf_t *b) {
  char *s = b->data ? b->data : pf_xstrdup("");
  b->data = NULL;
  b->len = b->cap = 0;
  return s;
}

void pf_buf_free(pf_buf_t *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

int pf_path_within(const char *path, const char *root, char **real, const char **why) {
  *real = NULL;
  char *r = realpath(root, NULL);
  if (r == NULL) {
    *why = strerror(errno);
    return -1;
  }
  char *p = realpath(path, NULL);
  if (p == NULL) {
    *why = strerror(errno);
    free(r);
    return -1;
  }
  size_t n = strlen(r);
  /* "/" contains everything; otherwise the next character must end the root's last name, so
   * that /app does not contain /application. */
  bool inside = strcmp(r, "/") == 0 || (strncmp(p, r, n) == 0 && (p[n] == '/' || p[n] == '\0'));
  free(r);
  *real = p;
  return inside ? 0 : 1;
}

uint64_t pf_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void *pf_map_aligned(size_t len, bool huge) {
  const size_t align = (size_t)2 << 20;
  unsigned char *p = mmap(NULL, len + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return NULL;
  uintptr_t at = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
  size_t head = at - (uintptr_t)p;
  if (head) munmap(p, head);
  if (align - head) munmap((unsigned char *)at + len, align - head);
#ifdef MADV_HUGEPAGE
  if (huge) (void)madvise((void *)at, len, MADV_HUGEPAGE);
#endif
  return (void *)at;
}
