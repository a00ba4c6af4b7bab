/* The static build's malloc: size-class free lists over big, huge-page-backed chunks.
 *
 * Why preflight has one. The static binary is the one people ship, and musl's allocator
 * (mallocng) is built for compactness, not for churn: parsing a 32,000-item manifest makes
 * ~740,000 malloc/free pairs inside libyaml alone, and at that size the static build spent ~90 ms
 * more than the glibc build, most of it in mallocng's slot bookkeeping and in first touches of
 * fresh 4 KiB pages (each ~12 us on the virtual machines CI uses). A process that lives for a
 * fraction of a second and then execs needs neither returned memory nor fragmentation control:
 * blocks of one size class are reused last-in first-out, and new ones are carved from 4 MiB
 * chunks that ask the kernel for transparent huge pages (madvise; without THP nothing changes).
 *
 * Compiled into the static binary only (PF_OWN_MALLOC, default on with PF_STATIC), never into
 * sanitizer or valgrind builds, whose tools replace malloc themselves. musl 1.2 supports replacing
 * malloc in a static link: its own internal allocations go to __libc_malloc, which stays
 * mallocng, and are freed there. Every entry point that can hand out or take back memory is
 * defined here, so no block ever reaches the wrong allocator.
 *
 * Layout: every block is preceded by a 16-byte header (capacity, class, offset from its mapping,
 * a magic that free() checks, so a wild or double-handled pointer aborts instead of corrupting
 * the lists). Classes are 16-byte steps up to 1 KiB, then powers of two up to 256 KiB; larger
 * blocks are their own mmap, grown by mremap.
 *
 * Threads: one spin lock guards the lists, taken only once the process has a second thread. Even
 * uncontended it is two locked exchanges per malloc/free pair, ~9% of reading a large manifest,
 * which preflight does before any thread exists. The first pthread_create sets pf__a_threaded
 * (the link wraps it: -Wl,--wrap=pthread_create, see CMakeLists.txt) before the thread exists,
 * so no thread ever runs unlocked beside another. The lists stay shared, not per thread: blocks
 * made in libuv's pool (host lookups, health probes) and freed on the main loop must be reused,
 * or a long wait or a container's life as PID 1 would grow the heap without bound. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "preflight/util.h"

#define PF__A_SMALL_STEP 16
#define PF__A_SMALL_MAX 1024                     /* classes 0..63: 16, 32, ..., 1024 */
#define PF__A_NCLASSES (64 + 8)                  /* then 2 KiB, 4 KiB, ..., 256 KiB */
#define PF__A_CLASS_MAX ((size_t)256 << 10)
#define PF__A_CHUNK ((size_t)4 << 20)
#define PF__A_FIRST_CHUNK ((size_t)1 << 20)
#define PF__A_HUGE ((size_t)2 << 20)
#define PF__A_LARGE 0xffffu
#define PF__A_MAGIC 0x5046u

typedef struct {
  size_t size;     /* usable bytes after the header */
  uint32_t off;    /* large blocks: bytes from the mapping's start to the header */
  uint16_t cls;    /* size class, or PF__A_LARGE */
  uint16_t magic;
} pf__ahdr_t;

_Static_assert(sizeof(pf__ahdr_t) == 16, "the header keeps blocks 16-byte aligned");

typedef struct pf__afree {
  struct pf__afree *next;
} pf__afree_t;

static pf__afree_t *pf__a_free[PF__A_NCLASSES];
static char *pf__a_bump, *pf__a_end;
static volatile char pf__a_lock;
static int pf__a_threaded; /* set for good by the first pthread_create */

int __real_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);

int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg) {
  __atomic_store_n(&pf__a_threaded, 1, __ATOMIC_SEQ_CST);
  return __real_pthread_create(t, a, fn, arg);
}

/* For test_alloc: whether the locks are on. */
int pf_alloc_threaded(void) { return __atomic_load_n(&pf__a_threaded, __ATOMIC_RELAXED); }

static void pf__a_acquire(void) {
  if (!__atomic_load_n(&pf__a_threaded, __ATOMIC_RELAXED)) return;
  while (__atomic_test_and_set(&pf__a_lock, __ATOMIC_ACQUIRE)) sched_yield();
}

static void pf__a_release(void) {
  if (__atomic_load_n(&pf__a_threaded, __ATOMIC_RELAXED)) __atomic_clear(&pf__a_lock, __ATOMIC_RELEASE);
}

/* fork() in one thread while another holds the lock would leave the child locked out. */
static void pf__a_child(void) { __atomic_clear(&pf__a_lock, __ATOMIC_RELEASE); }

__attribute__((constructor)) static void pf__a_init(void) {
  pthread_atfork(pf__a_acquire, pf__a_release, pf__a_child);
}

static unsigned pf__a_class(size_t n) {
  if (n <= PF__A_SMALL_MAX) return n == 0 ? 0 : (unsigned)((n - 1) / PF__A_SMALL_STEP);
  unsigned c = 64;
  for (size_t cap = 2048; cap < n; cap <<= 1) c++;
  return c;
}

static size_t pf__a_capacity(unsigned c) {
  return c < 64 ? (size_t)(c + 1) * PF__A_SMALL_STEP : (size_t)2048 << (c - 64);
}

/* Maps a large block's len bytes (a multiple of the page size) or returns NULL. Past 2 MiB it
 * asks for huge pages: one fault instead of 512. */
static void *pf__a_map(size_t len) {
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return NULL;
#ifdef MADV_HUGEPAGE
  if (len >= PF__A_HUGE) madvise(p, len, MADV_HUGEPAGE);
#endif
  return p;
}

/* A new chunk, 2 MiB-aligned so that its huge pages are whole (pf_map_aligned). The rest of the old one (less
 * than the largest class) is left unused. The first chunk is 1 MiB of small pages: most runs
 * need less, and preflight may stay resident for the container's life as PID 1 (--init), where
 * a huge page would be 2 MiB held for a few hundred KiB used. Called with the lock held. */
static int pf__a_grow(void) {
  static int chunks;
  int huge = chunks++ > 0;
  size_t size = huge ? PF__A_CHUNK : PF__A_FIRST_CHUNK;
  char *start = pf_map_aligned(size, huge);
  if (start == NULL) return -1;
  pf__a_bump = start;
  pf__a_end = start + size;
  return 0;
}

static size_t pf__a_page(void) {
  static size_t page; /* every thread computes the same value */
  size_t v = __atomic_load_n(&page, __ATOMIC_RELAXED);
  if (v == 0) {
    long n = sysconf(_SC_PAGESIZE);
    v = n > 0 ? (size_t)n : 4096;
    __atomic_store_n(&page, v, __ATOMIC_RELAXED);
  }
  return v;
}

/* A block of its own mapping, with its payload aligned to `align` (16 or more). */
static void *pf__a_large(size_t n, size_t align) {
  size_t page = pf__a_page();
  if (n > SIZE_MAX - align - sizeof(pf__ahdr_t) - page) return NULL;
  size_t len = (n + align + sizeof(pf__ahdr_t) + page - 1) & ~(page - 1);
  char *base = pf__a_map(len);
  if (base == NULL) return NULL;
  char *p = (char *)(((uintptr_t)base + sizeof(pf__ahdr_t) + align - 1) & ~(uintptr_t)(align - 1));
  pf__ahdr_t *h = (pf__ahdr_t *)p - 1;
  h->size = (size_t)(base + len - p);
  h->off = (uint32_t)((char *)h - base);
  h->cls = PF__A_LARGE;
  h->magic = PF__A_MAGIC;
  return p;
}

/* The header of a block. Computed on the address: the compiler knows malloc's result as an
 * object of n bytes and would flag the bytes before it. */
static pf__ahdr_t *pf__a_header(void *p) {
  pf__ahdr_t *h = (pf__ahdr_t *)((uintptr_t)p - sizeof(pf__ahdr_t));
  if (h->magic != PF__A_MAGIC || (h->cls != PF__A_LARGE && h->cls >= PF__A_NCLASSES)) abort();
  return h;
}

void *malloc(size_t n) {
  if (n > PF__A_CLASS_MAX) {
    void *p = pf__a_large(n, 16);
    if (p == NULL) errno = ENOMEM;
    return p;
  }
  unsigned c = pf__a_class(n);
  pf__a_acquire();
  pf__afree_t *b = pf__a_free[c];
  if (b != NULL) {
    pf__a_free[c] = b->next;
    pf__a_release();
    return b;
  }
  size_t need = sizeof(pf__ahdr_t) + pf__a_capacity(c);
  if ((size_t)(pf__a_end - pf__a_bump) < need && pf__a_grow() != 0) {
    pf__a_release();
    errno = ENOMEM;
    return NULL;
  }
  pf__ahdr_t *h = (pf__ahdr_t *)pf__a_bump;
  pf__a_bump += need;
  pf__a_release();
  h->size = pf__a_capacity(c);
  h->off = 0;
  h->cls = (uint16_t)c;
  h->magic = PF__A_MAGIC;
  return h + 1;
}

void free(void *p) {
  if (p == NULL) return;
  pf__ahdr_t *h = pf__a_header(p);
  if (h->cls == PF__A_LARGE) {
    munmap((char *)h - h->off, h->off + sizeof(*h) + h->size);
    return;
  }
  pf__afree_t *b = p;
  pf__a_acquire();
  b->next = pf__a_free[h->cls];
  pf__a_free[h->cls] = b;
  pf__a_release();
}

void *calloc(size_t m, size_t n) {
  if (n != 0 && m > SIZE_MAX / n) {
    errno = ENOMEM;
    return NULL;
  }
  size_t len = m * n;
  void *p = malloc(len);
  /* A large block is a fresh mapping: already zero. */
  if (p != NULL && pf__a_header(p)->cls != PF__A_LARGE) memset(p, 0, len);
  return p;
}

void *realloc(void *p, size_t n) {
  if (p == NULL) return malloc(n);
  pf__ahdr_t *h = pf__a_header(p);
  if (n <= h->size && (h->cls != PF__A_LARGE || n > PF__A_CLASS_MAX)) return p;
  if (h->cls == PF__A_LARGE && h->off == 0 && n > PF__A_CLASS_MAX) {
    /* Grow (or shrink) the mapping in place or move it without copying. */
    size_t page = pf__a_page();
    if (n > SIZE_MAX - sizeof(*h) - page) {
      errno = ENOMEM;
      return NULL;
    }
    size_t old = sizeof(*h) + h->size, len = (n + sizeof(*h) + page - 1) & ~(page - 1);
    char *base = mremap(h, old, len, MREMAP_MAYMOVE);
    if (base == MAP_FAILED) {
      errno = ENOMEM;
      return NULL;
    }
    h = (pf__ahdr_t *)base;
    h->size = len - sizeof(*h);
    return h + 1;
  }
  void *q = malloc(n);
  if (q == NULL) return NULL;
  memcpy(q, p, n < h->size ? n : h->size);
  free(p);
  return q;
}

void *aligned_alloc(size_t align, size_t n) {
  if (align == 0 || (align & (align - 1)) != 0) {
    errno = EINVAL;
    return NULL;
  }
  if (align <= 16) return malloc(n);
  void *p = pf__a_large(n, align);
  if (p == NULL) errno = ENOMEM;
  return p;
}

int posix_memalign(void **out, size_t align, size_t n) {
  if (align < sizeof(void *) || (align & (align - 1)) != 0) return EINVAL;
  void *p = aligned_alloc(align, n);
  if (p == NULL) return ENOMEM;
  *out = p;
  return 0;
}

void *memalign(size_t align, size_t n) { return aligned_alloc(align, n); }

void *valloc(size_t n) { return aligned_alloc(pf__a_page(), n); }

void *pvalloc(size_t n) {
  size_t page = pf__a_page();
  return aligned_alloc(page, (n + page - 1) & ~(page - 1));
}

size_t malloc_usable_size(void *p) { return p == NULL ? 0 : pf__a_header(p)->size; }
