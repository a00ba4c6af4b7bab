/* Unit tests for src/supervise.c that need no second terminal or signal sender: the hand-over of
 * signal state (pf_signals_save / pf_signals_restore) and pf_supervise_run's
 * results and error paths on a real loop. tests/e2e/test_init.py compares the rest with tini. */
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

#include "pf_test.h"
#include "preflight/error.h"
#include "preflight/signals.h"
#include "preflight/supervise.h"

/* Returns the current disposition of sig: 'D' default, 'I' ignored, 'H' a handler. */
static char disposition(int sig) {
  struct sigaction sa;
  sigaction(sig, NULL, &sa);
  if (sa.sa_handler == SIG_DFL) return 'D';
  if (sa.sa_handler == SIG_IGN) return 'I';
  return 'H';
}

/* A handler that does nothing: only its presence matters. */
static void on_signal(int sig) {}

/* Changes dispositions and the mask the way preflight does, then checks the clean slate. */
static void test_restore_defaults(void) {
  signal(SIGHUP, SIG_IGN);            /* what nohup does before exec'ing us */
  pf_signals_save();
  signal(SIGHUP, on_signal);          /* then we change everything */
  signal(SIGPIPE, SIG_IGN);
  signal(SIGTTOU, SIG_IGN);
  signal(SIGTERM, on_signal);
  signal(SIGRTMIN + 1, on_signal);
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  sigaddset(&block, SIGCHLD);
  sigprocmask(SIG_BLOCK, &block, NULL);

  pf_signals_restore();
  CHECK(disposition(SIGHUP) == 'I');  /* ignored by our parent: passed on */
  CHECK(disposition(SIGPIPE) == 'D');
  CHECK(disposition(SIGTTOU) == 'D');
  CHECK(disposition(SIGTERM) == 'D');
  CHECK(disposition(SIGRTMIN + 1) == 'D');
  sigset_t now;
  sigprocmask(SIG_SETMASK, NULL, &now);
  CHECK(sigismember(&now, SIGUSR1) == 0);
  CHECK(sigismember(&now, SIGCHLD) == 0);
  signal(SIGHUP, SIG_DFL);
}

/* Runs argv under pf_supervise_run on a fresh loop; returns the result code, fills status/err,
 * and checks that nothing is left on the loop afterwards. */
static int supervise(char *const argv[], int *status, char *err, size_t errlen) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  *status = -1;
  int rc = pf_supervise_run(&loop, argv, NULL, status, err, errlen);
  CHECK(uv_loop_alive(&loop) == 0);
  CHECK(uv_loop_close(&loop) == 0);
  return rc;
}

/* Checks exit statuses, exec failures and loop reuse. */
static void test_supervise_run(void) {
  int status;
  char err[256];
  char *exit42[] = {"sh", "-c", "exit 42", NULL};
  CHECK(supervise(exit42, &status, err, sizeof err) == 0);
  CHECK(status == 42);
  char *killed[] = {"sh", "-c", "kill -TERM $$", NULL};
  CHECK(supervise(killed, &status, err, sizeof err) == 0);
  CHECK(status == 143);
  char *missing[] = {"/nonexistent/preflight-test", NULL};
  CHECK(supervise(missing, &status, err, sizeof err) == PF_ENOTFOUND);
  CHECK_STR(err, "/nonexistent/preflight-test: No such file or directory");
  CHECK(status == -1);
  char path[] = "/tmp/pf-test-noexec-XXXXXX";
  int fd = mkstemp(path); /* mode 0600: no execute bit, which even root cannot exec */
  CHECK(fd >= 0);
  close(fd);
  char *notexec[] = {path, NULL};
  CHECK(supervise(notexec, &status, err, sizeof err) == PF_ENOEXEC);
  CHECK(strstr(err, "Permission denied") != NULL);
  unlink(path);
  char *none[] = {NULL};
  CHECK(supervise(none, &status, err, sizeof err) == PF_EUSAGE);
  /* The handles are gone after each run: a second supervisor on the same loop works too. */
  uv_loop_t loop;
  uv_loop_init(&loop);
  char *ok[] = {"true", NULL};
  CHECK(pf_supervise_run(&loop, ok, NULL, &status, err, sizeof err) == 0 && status == 0);
  CHECK(pf_supervise_run(&loop, exit42, NULL, &status, err, sizeof err) == 0 && status == 42);
  CHECK(uv_loop_close(&loop) == 0);
}

/* Runs every test and returns the number of failed checks. */
int main(void) {
  test_restore_defaults();
  test_supervise_run();
  PF_TEST_DONE();
}
