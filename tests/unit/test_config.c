/* Unit tests for configuration from the environment and the retry-noise policy. */
#include <stdlib.h>
#include <string.h>

#include "pf_test.h"
#include "preflight/retrylog.h"

/* A minute of failures every 300 ms with one cause gives the first line and a progress line
 * about every 5 s; a change of cause is said at once. */
static void test_retrylog(void) {
  pf_retrylog_t r;
  pf_retrylog_init(&r);
  int info = 0, progress = 0;
  for (uint64_t t = 0; t < 60000; t += 300) {
    pf_retrylog_kind_t k = pf_retrylog_decide(&r, "connection refused", t);
    if (t == 0) CHECK(k == PF_RETRYLOG_ATTEMPT);
    if (k != PF_RETRYLOG_DEBUG) info++;
    if (k == PF_RETRYLOG_PROGRESS) progress++;
  }
  CHECK(r.attempts == 200);
  CHECK(progress >= 10 && progress <= 12);
  CHECK(info <= 13);
  CHECK(pf_retrylog_decide(&r, "the database system is starting up", 60100) == PF_RETRYLOG_ATTEMPT);
  CHECK(pf_retrylog_decide(&r, "the database system is starting up", 60400) == PF_RETRYLOG_DEBUG);
  CHECK(pf_retrylog_decide(&r, "connection refused", 60700) == PF_RETRYLOG_ATTEMPT);
}

int main(void) {
  test_retrylog();
  PF_TEST_DONE();
}
