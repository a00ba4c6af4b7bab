/* Stop signals before the hand-over. libuv turns a signal into a loop event, so the code that
 * waits (uv_run until an operation completes) only has to check pf_signals_caught() after each
 * iteration; no work happens inside a real signal handler. */
#include "preflight/signals.h"

#include <signal.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "preflight/log.h"

static const int pf__stop_signals[] = {SIGTERM, SIGINT, SIGQUIT, SIGHUP};
#define PF__NSIG (sizeof(pf__stop_signals) / sizeof(pf__stop_signals[0]))

/* The state preflight's parent handed us, recorded by pf_signals_save(). */
static sigset_t pf__initial_ignored;
static sigset_t pf__initial_mask;
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

/* Until the loop watches them, a stop signal ends preflight here: nothing has been started that
 * would need undoing, and the steps before the loop (opening and reading the manifest and the
 * fallback files, resolving the command) are exactly the ones that can block in the kernel. */
static void pf__on_early_signal(int signum) {
  pf_log_signal_safe("stopped by a signal before connecting");
  _exit(128 + signum);
}

void pf_signals_early(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigfillset(&sa.sa_mask);
  sa.sa_handler = pf__on_early_signal;
  /* The same four signals the loop watches later, whatever the parent left them as. */
  for (size_t i = 0; i < PF__NSIG; i++) (void)sigaction(pf__stop_signals[i], &sa, NULL);
  /* A log reader that went away must cost a dropped line (EPIPE), not preflight's life. The
   * hand-over puts SIGPIPE back to what the parent gave us (pf_signals_restore). */
  struct sigaction ign;
  memset(&ign, 0, sizeof ign);
  sigemptyset(&ign.sa_mask);
  ign.sa_handler = SIG_IGN;
  (void)sigaction(SIGPIPE, &ign, NULL);
}

void pf_signals_close(void) {
  if (!pf__installed) return;
  for (size_t i = 0; i < PF__NSIG; i++) {
    uv_signal_stop(&pf__handles[i]);
    uv_close((uv_handle_t *)&pf__handles[i], NULL);
  }
  pf__installed = false;
}

void pf_signals_save(void) {
  sigemptyset(&pf__initial_ignored);
  for (int sig = 1; sig < NSIG; sig++) {
    struct sigaction sa;
    if (sigaction(sig, NULL, &sa) == 0 && !(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_IGN)
      sigaddset(&pf__initial_ignored, sig);
  }
  pthread_sigmask(SIG_SETMASK, NULL, &pf__initial_mask);
  pf__saved = true;
}

/* Why PID 1 must hand over a clean slate: dispositions set to SIG_IGN and the signal mask both
 * survive execve(). preflight ignores SIGPIPE, SIGTTIN and SIGTTOU and blocks signals around
 * fork; an application inheriting that would silently never see SIGPIPE, or never receive a
 * blocked SIGTERM (and be SIGKILLed by `docker stop` after the grace period). Handlers installed
 * by libuv are reset by execve() itself, but resetting them here closes the window between this
 * call and execve() in which one could still run. Only async-signal-safe calls: the --init child
 * runs this between fork and exec. */
void pf_signals_restore(void) {
  struct sigaction dfl, ign;
  memset(&dfl, 0, sizeof dfl);
  sigemptyset(&dfl.sa_mask);
  dfl.sa_handler = SIG_DFL;
  ign = dfl;
  ign.sa_handler = SIG_IGN;
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    bool keep_ignored = pf__saved && sigismember(&pf__initial_ignored, sig) == 1;
    /* Fails with EINVAL for the C library's reserved real-time signals; nothing to do there. */
    (void)sigaction(sig, keep_ignored ? &ign : &dfl, NULL);
  }
  sigset_t mask;
  if (pf__saved)
    mask = pf__initial_mask;
  else
    sigemptyset(&mask);
  (void)pthread_sigmask(SIG_SETMASK, &mask, NULL);
}
