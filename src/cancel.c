/* Bounded query cancel.
 *
 * PQcancel opens a new connection to the server, sends the cancel key and waits until the server
 * closes it, all blocking, and retries on EINTR, so a signal cannot interrupt it. A server whose
 * postmaster is frozen (SIGSTOPped, a hung VM, a black-holed route) accepts the TCP connection in
 * the kernel and then never answers: PQcancel waits for as long as the freeze lasts, and a
 * SIGTERM to preflight with it. libpq before 17 has no non-blocking cancel, so the blocking one
 * runs on a short-lived thread of its own, and the caller waits for it only until a deadline.
 * An abandoned request keeps its own copy of the cancel key (a PGcancel) and frees it when it
 * finally returns, or the process ends first. */
#include "preflight/cancel.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include "preflight/util.h"

typedef struct {
  PGcancel *cancel;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool done, ok, abandoned;
} pf__cancel_t;

/* Frees the request's state. */
static void pf__cancel_free(pf__cancel_t *c) {
  PQfreeCancel(c->cancel);
  pthread_cond_destroy(&c->cv);
  pthread_mutex_destroy(&c->mu);
  free(c);
}

/* The thread: sends the cancel, then either wakes the waiter or, abandoned, cleans up. */
static void *pf__cancel_thread(void *arg) {
  pf__cancel_t *c = arg;
  char errbuf[256];
  bool ok = PQcancel(c->cancel, errbuf, sizeof(errbuf)) == 1;
  pthread_mutex_lock(&c->mu);
  c->done = true;
  c->ok = ok;
  bool abandoned = c->abandoned;
  pthread_cond_signal(&c->cv);
  pthread_mutex_unlock(&c->mu);
  if (abandoned) pf__cancel_free(c);
  return NULL;
}

bool pf_cancel_bounded(PGconn *conn, int timeout_ms) {
  PGcancel *cancel = PQgetCancel(conn);
  if (cancel == NULL) return false;
  pf__cancel_t *c = pf_xcalloc(1, sizeof(*c));
  c->cancel = cancel;
  pthread_mutex_init(&c->mu, NULL);
  /* A monotonic deadline: a clock step must not stretch the wait. */
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&c->cv, &ca);
  pthread_condattr_destroy(&ca);

  /* The thread must never take a signal meant for the loop's handlers. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  pthread_t t;
  int r = pthread_create(&t, &attr, pf__cancel_thread, c);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (r != 0) {
    pf__cancel_free(c);
    return false;
  }

  struct timespec deadline;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += timeout_ms / 1000;
  deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) deadline.tv_sec++, deadline.tv_nsec -= 1000000000L;
  pthread_mutex_lock(&c->mu);
  while (!c->done)
    if (pthread_cond_timedwait(&c->cv, &c->mu, &deadline) == ETIMEDOUT) break;
  bool done = c->done, ok = c->ok;
  if (!done) c->abandoned = true;
  pthread_mutex_unlock(&c->mu);
  if (done) pf__cancel_free(c);
  return done && ok;
}
