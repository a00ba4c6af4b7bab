/* Stop signals before the hand-over. libuv turns a signal into a loop event, so the code that
 * waits (uv_run until an operation completes) only has to check pf_signals_caught() after each
 * iteration; no work happens inside a real signal handler. */
#include "preflight/signals.h"

#include <signal.h>
#include <stdbool.h>

static const int pf__stop_signals[] = {SIGTERM, SIGINT, SIGQUIT, SIGHUP};
#define PF__NSIG (sizeof(pf__stop_signals) / sizeof(pf__stop_signals[0]))

/* Everything we or libuv touch: the stop signals, SIGCHLD (libuv, --init) and SIGPIPE. */
static const int pf__saved_signals[] = {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGCHLD, SIGPIPE,
                                        SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGTSTP, SIGTTIN, SIGTTOU, SIGALRM};
static struct sigaction pf__saved_actions[sizeof(pf__saved_signals) / sizeof(pf__saved_signals[0])];
static sigset_t pf__saved_mask;
static bool pf__saved;

static uv_signal_t pf__handles[PF__NSIG];
static bool pf__installed;
static volatile int pf__caught;

/* Records the first stop signal and stops the loop so uv_run returns to the waiting code now. */
static void pf__on_signal(uv_signal_t *h, int signum) {
  if (pf__caught == 0) pf__caught = signum;
  uv_stop(h->loop);
}

int pf_signals_install(uv_loop_t *loop) {
  for (size_t i = 0; i < PF__NSIG; i++) {
    int r = uv_signal_init(loop, &pf__handles[i]);
    if (r == 0) r = uv_signal_start(&pf__handles[i], pf__on_signal, pf__stop_signals[i]);
    if (r != 0) return r;
    /* The handles must not keep the loop alive on their own: the loop runs only while an
     * operation is in flight, and a signal still wakes it. */
    uv_unref((uv_handle_t *)&pf__handles[i]);
  }
  pf__installed = true;
  return 0;
}

int pf_signals_caught(void) { return pf__caught; }

void pf_signals_close(void) {
  if (!pf__installed) return;
  for (size_t i = 0; i < PF__NSIG; i++) {
    uv_signal_stop(&pf__handles[i]);
    uv_close((uv_handle_t *)&pf__handles[i], NULL);
  }
  pf__installed = false;
}

void pf_signals_save(void) {
  sigprocmask(SIG_SETMASK, NULL, &pf__saved_mask);
  for (size_t i = 0; i < sizeof(pf__saved_signals) / sizeof(pf__saved_signals[0]); i++)
    sigaction(pf__saved_signals[i], NULL, &pf__saved_actions[i]);
  pf__saved = true;
}

void pf_signals_restore(void) {
  if (!pf__saved) return;
  for (size_t i = 0; i < sizeof(pf__saved_signals) / sizeof(pf__saved_signals[0]); i++)
    sigaction(pf__saved_signals[i], &pf__saved_actions[i], NULL);
  sigprocmask(SIG_SETMASK, &pf__saved_mask, NULL);
}
