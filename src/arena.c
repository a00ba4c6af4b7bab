/* The bump allocator: a list of chunks, each at least twice the previous one up to a ceiling, so
 * a manifest of any size needs a handful of mallocs. Requests larger than a chunk get a chunk of
 * their own. */
#include "preflight/arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PF__ARENA_ALIGN 16u
#define PF__ARENA_MIN_CHUNK ((size_t)4096)
/* Chunks from half a huge page on are mapped directly, 2 MiB aligned and marked for transparent
 * huge pages: first touching fresh memory page by page is most of the cost of parsing a large
 * manifest (a page fault per 4 KiB, ~12 us each on CI's virtual machines), and one huge page
 * replaces 512 faults. Chunks grow to one huge page: below that ceiling a 1,000-table manifest's
 * chunks (the YAML tree's 1.5 MB, the items' 1 MiB ones) never reached the huge-page path. */
#define PF__ARENA_HUGE ((size_t)2 << 20)
#define PF__ARENA_MAX_CHUNK (PF__ARENA_HUGE - 64)

typedef struct pf__chunk {
  struct pf__chunk *next;
  size_t size;            /* usable bytes after the header */
  size_t mapped;          /* bytes mapped with mmap (0: from malloc) */
  _Alignas(16) unsigned char data[];
} pf__chunk_t;

struct pf_arena {
  pf__chunk_t *head;      /* the chunk being filled; older chunks follow */
  size_t used;            /* bytes of head->data handed out */
  size_t next_size;       /* size of the next chunk */
  size_t total;           /* bytes handed out over the arena's life */
};

/* Creates an empty arena; see arena.h. */
pf_arena_t *pf_arena_new(size_t hint) {
  pf_arena_t *a = pf_xcalloc(1, sizeof(*a));
  a->next_size = hint < PF__ARENA_MIN_CHUNK ? PF__ARENA_MIN_CHUNK : hint;
  return a;
}

/* Returns a chunk of at least `size` usable bytes. */
static pf__chunk_t *pf__chunk_new(size_t size) {
  if (size + sizeof(pf__chunk_t) >= PF__ARENA_HUGE / 2) {
    size_t len = (size + sizeof(pf__chunk_t) + PF__ARENA_HUGE - 1) & ~(PF__ARENA_HUGE - 1);
    pf__chunk_t *c = pf_map_aligned(len, true);
    if (c != NULL) {
      c->size = len - sizeof(*c);
      c->mapped = len;
      return c;
    }
  }
  pf__chunk_t *c = pf_xmalloc(sizeof(*c) + size);
  c->size = size;
  c->mapped = 0;
  return c;
}

/* Adds a chunk of at least `need` bytes in front of the list. */
static void pf__arena_grow(pf_arena_t *a, size_t need) {
  size_t size = a->next_size > need ? a->next_size : need;
  pf__chunk_t *c = pf__chunk_new(size);
  if (a->head != NULL && need > a->next_size && a->head->size - a->used > need / 4) {
    /* A huge request in a chunk of its own must not waste the rest of the current chunk. */
    c->next = a->head->next;
    a->head->next = c;
    return;
  }
  c->next = a->head;
  a->head = c;
  a->used = 0;
  if (a->next_size < PF__ARENA_MAX_CHUNK) a->next_size *= 2;
}

/* Returns n aligned bytes; see arena.h. */
void *pf_arena_alloc(pf_arena_t *a, size_t n) {
  size_t rounded = (n + PF__ARENA_ALIGN - 1) & ~(size_t)(PF__ARENA_ALIGN - 1);
  if (rounded < n) {
    fprintf(stderr, "preflight: out of memory\n");
    abort();
  }
  a->total += rounded;
  if (a->head == NULL || a->head->size - a->used < rounded) {
    pf__arena_grow(a, rounded);
    if (a->head->size - a->used < rounded) return a->head->next->data; /* own chunk */
  }
  void *p = a->head->data + a->used;
  a->used += rounded;
  return p;
}

/* Returns zeroed memory; see arena.h. */
void *pf_arena_calloc(pf_arena_t *a, size_t n, size_t size) {
  if (size != 0 && n > SIZE_MAX / size) {
    fprintf(stderr, "preflight: out of memory\n");
    abort();
  }
  void *p = pf_arena_alloc(a, n * size);
  memset(p, 0, n * size);
  return p;
}

/* Copies n bytes and a NUL; see arena.h. */
char *pf_arena_strndup(pf_arena_t *a, const char *s, size_t n) {
  char *p = pf_arena_alloc(a, n + 1);
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

/* Copies a string; see arena.h. */
char *pf_arena_strdup(pf_arena_t *a, const char *s) {
  return s == NULL ? NULL : pf_arena_strndup(a, s, strlen(s));
}

/* Formats into the arena; see arena.h. */
char *pf_arena_printf(pf_arena_t *a, const char *fmt, ...) {
  char small[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof(small), fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  char *p = pf_arena_alloc(a, (size_t)n + 1);
  if ((size_t)n < sizeof(small)) {
    memcpy(p, small, (size_t)n + 1);
  } else {
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
  }
  return p;
}

/* Concatenates strings; see arena.h. */
char *pf_arena_cat(pf_arena_t *a, size_t n, const char *const *parts) {
  size_t lens[8], total = 0;
  for (size_t i = 0; i < n; i++) {
    size_t l = strlen(parts[i]);
    if (i < PF_ARRAY_SIZE(lens)) lens[i] = l;
    total += l;
  }
  char *p = pf_arena_alloc(a, total + 1), *o = p;
  for (size_t i = 0; i < n; i++) {
    size_t l = i < PF_ARRAY_SIZE(lens) ? lens[i] : strlen(parts[i]);
    memcpy(o, parts[i], l);
    o += l;
  }
  *o = '\0';
  return p;
}

/* Returns the bytes handed out; see arena.h. */
size_t pf_arena_used(const pf_arena_t *a) { return a == NULL ? 0 : a->total; }

/* Frees every chunk; see arena.h. */
void pf_arena_free(pf_arena_t *a) {
  if (a == NULL) return;
  for (pf__chunk_t *c = a->head, *next; c != NULL; c = next) {
    next = c->next;
    if (c->mapped) munmap(c, c->mapped);
    else free(c);
  }
  free(a);
}
