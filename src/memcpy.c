/* The static binary's memcpy on x86-64.
 *
 * Why preflight has one. musl's x86-64 memcpy is `rep movsq` between two byte loops, and a `rep`
 * string instruction costs tens of cycles to start whatever it copies. preflight's copies are
 * short and many: every scalar of a manifest, every field libpq hands over from a row, every
 * piece of a snapshot's text. In the static snapshot of a 32,000-item database musl's memcpy was
 * a quarter of the client's time, and it made the static binary read a large manifest more
 * slowly than the glibc build for the same instruction count. Here short copies are a few
 * overlapping loads and stores, and only long ones take `rep movsb`, which is fast for long
 * copies on every x86-64 processor with ERMS (Ivy Bridge and later).
 *
 * Compiled into the static binary only (with src/alloc.c: PF_OWN_MALLOC), where it replaces
 * musl's for the whole program, libpq and musl itself included; elsewhere (arm64: musl's memcpy
 * there is ARM's optimised routine) this file is empty. tests/unit/test_memcpy.c compiles it
 * under another name (PF_MEMCPY_TEST) and checks it against a byte loop. */
#include <stddef.h>
#include <stdint.h>

#ifdef PF_MEMCPY_TEST
#define PF_MEMCPY_NAME pf_test_memcpy
#else
#define PF_MEMCPY_NAME memcpy
#endif

#if defined(__x86_64__)

void *PF_MEMCPY_NAME(void *dest, const void *src, size_t n);

/* Unaligned loads and stores of fixed size: the compiler turns each into one move. */
static inline uint64_t pf__ld64(const unsigned char *p) {
  uint64_t v;
  __builtin_memcpy(&v, p, 8);
  return v;
}

static inline void pf__st64(unsigned char *p, uint64_t v) {
  __builtin_memcpy(p, &v, 8);
}

static inline uint32_t pf__ld32(const unsigned char *p) {
  uint32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}

static inline void pf__st32(unsigned char *p, uint32_t v) {
  __builtin_memcpy(p, &v, 4);
}

/* Copies n bytes from src to dest; returns dest. Also right when dest is below an overlapping src
 * (every load comes before the store that could clobber it): musl's memmove jumps here then, as
 * __memcpy_fwd, a name musl's own memcpy defines too (so without it musl's would be linked as
 * well). No restrict, so the compiler keeps that order. */
void *PF_MEMCPY_NAME(void *dest, const void *src, size_t n) {
  unsigned char *d = dest;
  const unsigned char *s = src;
  if (n <= 16) {
    /* Two copies that overlap in the middle cover every length of a range. */
    if (n >= 8) {
      uint64_t a = pf__ld64(s), b = pf__ld64(s + n - 8);
      pf__st64(d, a);
      pf__st64(d + n - 8, b);
    } else if (n >= 4) {
      uint32_t a = pf__ld32(s), b = pf__ld32(s + n - 4);
      pf__st32(d, a);
      pf__st32(d + n - 4, b);
    } else if (n > 0) {
      unsigned char a = s[0], b = s[n / 2], c = s[n - 1];
      d[0] = a;
      d[n / 2] = b;
      d[n - 1] = c;
    }
    return dest;
  }
  if (n <= 512) {
    /* Sixteen bytes a step, the last sixteen read first and written last, over the end. */
    uint64_t ta = pf__ld64(s + n - 16), tb = pf__ld64(s + n - 8);
    for (size_t i = 0; i + 16 < n; i += 16) {
      uint64_t a = pf__ld64(s + i), b = pf__ld64(s + i + 8);
      pf__st64(d + i, a);
      pf__st64(d + i + 8, b);
    }
    pf__st64(d + n - 16, ta);
    pf__st64(d + n - 8, tb);
    return dest;
  }
  __asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
  return dest;
}

#if !defined(PF_MEMCPY_TEST)
void *__memcpy_fwd(void *dest, const void *src, size_t n) __attribute__((alias("memcpy")));
#endif

#else

/* Nothing on other architectures; a declaration keeps the unit non-empty. */
typedef int pf__memcpy_unused_t;

#endif
