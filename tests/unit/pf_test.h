/* A minimal test harness: CHECK records a failure and carries on; main returns the count. */
#ifndef PF_TEST_H
#define PF_TEST_H

#include <stdio.h>
#include <string.h>

static int pf_test_failures;
static int pf_test_checks;

#define CHECK(cond)                                                              \
  do {                                                                           \
    pf_test_checks++;                                                            \
    if (!(cond)) {                                                               \
      pf_test_failures++;                                                        \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
    }                                                                            \
  } while (0)

#define CHECK_STR(a, b)                                                          \
  do {                                                                           \
    const char *pf__a = (a), *pf__b = (b);                                       \
    pf_test_checks++;                                                            \
    if (pf__a == NULL || pf__b == NULL || strcmp(pf__a, pf__b) != 0) {           \
      pf_test_failures++;                                                        \
      fprintf(stderr, "%s:%d: CHECK_STR failed: \"%s\" != \"%s\"\n", __FILE__,    \
              __LINE__, pf__a ? pf__a : "(null)", pf__b ? pf__b : "(null)");     \
    }                                                                            \
  } while (0)

#define PF_TEST_DONE()                                                           \
  do {                                                                           \
    fprintf(stderr, "%d checks, %d failed\n", pf_test_checks, pf_test_failures); \
    return pf_test_failures ? 1 : 0;                                             \
  } while (0)

#endif
