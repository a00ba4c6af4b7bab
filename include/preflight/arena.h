/* A bump allocator for data that lives and dies together: the manifest's strings and items, the
 * YAML tree while it is read. One free releases everything, and the many small allocations of a
 * large manifest cost a pointer increment each instead of a malloc (which matters most with
 * musl's allocator in the static binary). */
#ifndef PREFLIGHT_ARENA_H
#define PREFLIGHT_ARENA_H

#include <stddef.h>

#include "preflight/util.h"

typedef struct pf_arena pf_arena_t;

/* Returns a new, empty arena whose first chunk holds about `hint` bytes (0: a small default).
 * Like pf_xmalloc, allocation from an arena never fails: exhaustion aborts. */
pf_arena_t *pf_arena_new(size_t hint);

/* Returns n bytes aligned for any type, uninitialised; n may be 0. */
void *pf_arena_alloc(pf_arena_t *a, size_t n);

/* Returns n * size zeroed bytes; aborts on overflow. */
void *pf_arena_calloc(pf_arena_t *a, size_t n, size_t size);

/* Copies s[0..n) into the arena with a terminating NUL. */
char *pf_arena_strndup(pf_arena_t *a, const char *s, size_t n);

/* Copies a NUL-terminated string; NULL in, NULL out. */
char *pf_arena_strdup(pf_arena_t *a, const char *s);

/* Formats into a new arena string. */
char *pf_arena_printf(pf_arena_t *a, const char *fmt, ...) PF_PRINTF(2, 3);

/* Concatenates the n strings parts[0..n) into one new arena string: what pf_arena_printf does
 * for "%s.%s", without the cost of printf. */
char *pf_arena_cat(pf_arena_t *a, size_t n, const char *const *parts);

/* Returns the bytes handed out so far (for measurements). */
size_t pf_arena_used(const pf_arena_t *a);

/* Frees the arena and everything allocated from it; NULL is ignored. */
void pf_arena_free(pf_arena_t *a);

#endif
