/* Small allocation and string helpers used by every module. */
#ifndef PREFLIGHT_UTIL_H
#define PREFLIGHT_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PF_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define PF_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define PF_MUST_CHECK __attribute__((warn_unused_result))
#else
#define PF_PRINTF(fmt, args)
#define PF_MUST_CHECK
#endif

/* Allocation that cannot fail: on exhaustion it prints one line and aborts, because a 2 MiB
 * init process that cannot allocate has nothing sensible left to do. */
void *pf_xmalloc(size_t n);
void *pf_xcalloc(size_t n, size_t size);
void *pf_xrealloc(void *p, size_t n);
char *pf_xstrdup(const char *s);   /* NULL in, NULL out */
char *pf_xstrndup(const char *s, size_t n);
char *pf_xasprintf(const char *fmt, ...) PF_PRINTF(1, 2);

/* Writes a formatted message into err (of errlen bytes), truncating safely. Returns `code`, so
 * that `return pf_seterr(err, errlen, PF_ECONFIG, "...")` reads as one statement. */
int pf_seterr(char *err, size_t errlen, int code, const char *fmt, ...) PF_PRINTF(4, 5);

/* A growable NUL-terminated byte buffer. A zeroed pf_buf_t is an empty buffer. */
typedef struct {
  char *data;
  size_t len;
  size_t cap;
} pf_buf_t;

void pf_buf_append(pf_buf_t *b, const char *s, size_t n);
void pf_buf_puts(pf_buf_t *b, const char *s);
void pf_buf_putc(pf_buf_t *b, char c);
void pf_buf_printf(pf_buf_t *b, const char *fmt, ...) PF_PRINTF(2, 3);
void pf_buf_vprintf(pf_buf_t *b, const char *fmt, va_list ap) PF_PRINTF(2, 0);
/* Appends s as a JSON string literal, quotes included; bytes that are not valid UTF-8 become
 * U+FFFD. NULL appends `null`. */
void pf_buf_json_string(pf_buf_t *b, const char *s);
/* Returns the length (1-4) of the valid UTF-8 sequence at p, or 0 when p does not start one
 * (or is the terminating NUL). */
size_t pf_utf8_len(const unsigned char *p);
/* Returns the contents (never NULL) and leaves the buffer empty; the caller frees the result. */
char *pf_buf_steal(pf_buf_t *b);
void pf_buf_free(pf_buf_t *b);

/* FNV-1a of s[0..n): for the hash tables of short keys (names, type texts), which need no more. */
uint32_t pf_hash(const char *s, size_t n);

/* Sorts the n pointers of a by cmp, which is given two of the pointers (not pointers to them) and
 * returns <0, 0 or >0 as strcmp does. Stable: pointers that compare equal keep their order. A
 * merge sort of pointers: musl's qsort (smoothsort) moved the elements themselves through memcpy
 * in its sift and cycle steps, a fifth of a 32,000-item snapshot's client time, and the static
 * binary sorted more slowly than the dynamic one on glibc's merge sort. */
void pf_sort_ptrs(void **a, size_t n, int (*cmp)(const void *, const void *));

/* Resolves `path` (every symlink and "..") and says whether the result lies inside the
 * directory `root` (resolved too). Returns 0 when it does and 1 when not, with the resolved path
 * in *real either way (the caller frees it); -1 when either cannot be resolved, with *why set to
 * a static reason. */
int pf_path_within(const char *path, const char *root, char **real, const char **why) PF_MUST_CHECK;

/* Maps len bytes of fresh zeroed memory starting on a 2 MiB boundary, so that every 2 MiB of it
 * can be a transparent huge page, and with `huge` asks for them (MADV_HUGEPAGE): on the virtual
 * machines CI uses, a first touch of a 4 KiB page costs ~12 us, and one huge page replaces 512 of
 * them. Returns NULL when mmap fails; release with munmap(p, len). */
void *pf_map_aligned(size_t len, bool huge);

/* Monotonic clock in milliseconds, for budgets and timings. */
uint64_t pf_now_ms(void);

#endif
