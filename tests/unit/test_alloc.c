/* The static binary's malloc (src/alloc.c), linked into this test in every build without
 * sanitizers: blocks of every class and of their own mapping keep their contents through realloc
 * and reuse, calloc zeroes recycled blocks, alignment is honoured, blocks one thread frees serve
 * another, the lock turns on with the first thread, and two threads and a fork can share it. Built against glibc here; the static binary links the same file against musl. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pf_test.h"

size_t malloc_usable_size(void *p);

static void fill(unsigned char *p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(seed + i * 31);
}

static int intact(const unsigned char *p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != (unsigned char)(seed + i * 31)) return 0;
  return 1;
}

static void test_sizes(void) {
  static const size_t sizes[] = {0, 1, 15, 16, 17, 1000, 1024, 1025, 4096, 65536, 262144, 262145, 3 << 20};
  for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
    size_t n = sizes[k];
    unsigned char *p = malloc(n);
    CHECK(p != NULL && ((uintptr_t)p & 15) == 0 && malloc_usable_size(p) >= n);
    fill(p, n, (unsigned)k);
    /* Growing keeps the contents, across classes and into a mapping of its own. */
    unsigned char *q = realloc(p, n * 3 + 1);
    CHECK(q != NULL && intact(q, n, (unsigned)k));
    unsigned char *r = realloc(q, n / 2 + 1);
    CHECK(r != NULL && intact(r, n / 2 + 1 < n ? n / 2 + 1 : n, (unsigned)k));
    free(r);
  }
  free(NULL);
  CHECK(malloc_usable_size(NULL) == 0);
}

static void test_reuse_and_calloc(void) {
  unsigned char *a[256];
  for (int i = 0; i < 256; i++) {
    a[i] = malloc(100);
    fill(a[i], 100, 0xAB);
  }
  for (int i = 0; i < 256; i += 2) free(a[i]);
  /* Recycled blocks come back zeroed from calloc; the neighbours stay intact. */
  for (int i = 0; i < 256; i += 2) {
    unsigned char *z = calloc(10, 10);
    int zero = 1;
    for (int j = 0; j < 100; j++) zero &= z[j] == 0;
    CHECK(zero);
    a[i] = z;
  }
  for (int i = 1; i < 256; i += 2) CHECK(intact(a[i], 100, 0xAB));
  for (int i = 0; i < 256; i++) free(a[i]);
  volatile size_t huge = SIZE_MAX / 2; /* not a constant: the compiler would refuse the call */
  CHECK(calloc(huge, 4) == NULL);
  void *big = calloc(1, 5 << 20);
  CHECK(big != NULL && ((unsigned char *)big)[(5 << 20) - 1] == 0);
  free(big);
}

static void test_aligned(void) {
  static const size_t aligns[] = {8, 16, 32, 64, 4096, 65536};
  for (size_t k = 0; k < sizeof(aligns) / sizeof(aligns[0]); k++) {
    void *p = NULL;
    CHECK(posix_memalign(&p, aligns[k], 1000) == 0 && ((uintptr_t)p & (aligns[k] - 1)) == 0);
    fill(p, 1000, 7);
    void *q = realloc(p, 300000);
    CHECK(q != NULL && intact(q, 1000, 7));
    free(q);
    p = aligned_alloc(aligns[k], 64);
    CHECK(p != NULL && ((uintptr_t)p & (aligns[k] - 1)) == 0);
    free(p);
  }
  void *p = NULL;
  CHECK(posix_memalign(&p, 24, 10) != 0);
  CHECK(aligned_alloc(3, 10) == NULL);
}

static void *churn(void *arg) {
  unsigned seed = (unsigned)(uintptr_t)arg;
  void *keep[64] = {0};
  for (int i = 0; i < 200000; i++) {
    seed = seed * 1103515245u + 12345u;
    int slot = (int)(seed >> 16) % 64;
    size_t n = (seed >> 8) % 3000;
    if (keep[slot] != NULL && !intact(keep[slot], malloc_usable_size(keep[slot]) < 8 ? 0 : 8, (unsigned)slot)) return (void *)1;
    free(keep[slot]);
    keep[slot] = malloc(n < 8 ? 8 : n);
    fill(keep[slot], 8, (unsigned)slot);
  }
  for (int i = 0; i < 64; i++) free(keep[i]);
  return NULL;
}

int pf_alloc_threaded(void);

/* A producer thread allocates, the main thread frees: what the main thread frees must serve the
 * next producer, or a heap with per-thread lists grows with every round (host lookups in libuv's
 * pool during a long wait, health probes over a container's life). */
static void *alloc_some(void *arg) {
  void **out = arg;
  for (int i = 0; i < 64; i++) {
    out[i] = malloc(200);
    fill(out[i], 200, (unsigned)i);
  }
  return NULL;
}

static void test_cross_thread(void) {
  void *seen[64 * 50];
  size_t nseen = 0;
  for (int round = 0; round < 50; round++) {
    void *blocks[64];
    pthread_t t;
    CHECK(pthread_create(&t, NULL, alloc_some, blocks) == 0 && pthread_join(t, NULL) == 0);
    for (int i = 0; i < 64; i++) {
      CHECK(intact(blocks[i], 200, (unsigned)i));
      int known = 0;
      for (size_t k = 0; k < nseen && !known; k++) known = seen[k] == blocks[i];
      if (!known) seen[nseen++] = blocks[i];
      free(blocks[i]);
    }
  }
  /* Reused: the same 64 blocks (or so) every round, not 3,200. */
  CHECK(nseen <= 128);
}

static void test_threads_and_fork(void) {
  pthread_t t[2];
  for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(i + 1));
  /* A fork while the others allocate: the child can allocate too. */
  pid_t pid = fork();
  if (pid == 0) {
    void *p = malloc(123);
    _exit(p != NULL && churn((void *)9) == NULL ? 0 : 1);
  }
  int status = 0;
  CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
  for (int i = 0; i < 2; i++) {
    void *ret = (void *)1;
    pthread_join(t[i], &ret);
    CHECK(ret == NULL);
  }
}

int main(void) {
  /* No thread yet: the lock is off (and a fork handler still works). */
  CHECK(!pf_alloc_threaded());
  test_sizes();
  test_reuse_and_calloc();
  test_aligned();
  test_cross_thread();
  CHECK(pf_alloc_threaded());
  test_threads_and_fork();
  PF_TEST_DONE();
}
