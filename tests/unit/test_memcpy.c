/* src/memcpy.c, the static binary's memcpy on x86-64, compiled here as pf_test_memcpy: every
 * length from 0 to past the `rep movsb` threshold, at every alignment of source and destination,
 * against a byte loop; nothing outside the destination touched; and the forward copy musl's
 * memmove relies on when the destination lies below an overlapping source. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "pf_test.h"

#if defined(__x86_64__)
void *pf_test_memcpy(void *dest, const void *src, size_t n);

static unsigned char src_buf[1300], dst_buf[1300], want[1300];

static void test_lengths_and_alignments(void) {
  for (size_t i = 0; i < sizeof(src_buf); i++) src_buf[i] = (unsigned char)(i * 7 + 3);
  int bad = 0;
  for (size_t n = 0; n <= 1100 && bad < 5; n++) {
    for (size_t so = 0; so < 16; so += (n < 64 ? 1 : 5)) {
      for (size_t d0 = 0; d0 < 16; d0 += (n < 64 ? 1 : 7)) {
        memset(dst_buf, 0xee, sizeof(dst_buf));
        memcpy(want, dst_buf, sizeof(want));
        for (size_t k = 0; k < n; k++) want[d0 + 8 + k] = src_buf[so + k];
        void *r = pf_test_memcpy(dst_buf + d0 + 8, src_buf + so, n);
        if (r != dst_buf + d0 + 8 || memcmp(dst_buf, want, sizeof(want)) != 0) {
          fprintf(stderr, "memcpy of %zu bytes (source +%zu, destination +%zu) is wrong\n", n, so, d0);
          bad++;
        }
      }
    }
  }
  CHECK(bad == 0);
}

/* The destination below an overlapping source, as musl's memmove hands it over. */
static void test_forward_overlap(void) {
  int bad = 0;
  for (size_t n = 1; n <= 1100 && bad < 5; n += (n < 80 ? 1 : 13)) {
    for (size_t gap = 1; gap <= 40; gap += (gap < 17 ? 1 : 7)) {
      unsigned char buf[1300], ref[1300];
      for (size_t i = 0; i < sizeof(buf); i++) buf[i] = ref[i] = (unsigned char)(i * 13 + 1);
      for (size_t k = 0; k < n; k++) ref[10 + k] = ref[10 + gap + k]; /* forward: reads ahead */
      for (size_t k = 0; k < n; k++) ref[10 + k] = (unsigned char)((10 + gap + k) * 13 + 1);
      pf_test_memcpy(buf + 10, buf + 10 + gap, n);
      if (memcmp(buf, ref, sizeof(buf)) != 0) {
        fprintf(stderr, "forward overlapping copy of %zu bytes, %zu apart, is wrong\n", n, gap);
        bad++;
      }
    }
  }
  CHECK(bad == 0);
}

int main(void) {
  test_lengths_and_alignments();
  test_forward_overlap();
  PF_TEST_DONE();
}
#else
int main(void) {
  fprintf(stderr, "test_memcpy: src/memcpy.c is x86-64 only; nothing to test here\n");
  return 0;
}
#endif
