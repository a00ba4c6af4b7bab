/* The signals that stop preflight before the hand-over (TERM, INT, QUIT, HUP), watched on the
 * libuv loop so that every wait — a backoff timer, a connect, a query — ends at once. */
#ifndef PREFLIGHT_SIGNALS_H
#define PREFLIGHT_SIGNALS_H

#include <uv.h>

/* Starts watching the stop signals on loop. Returns 0 or a negative libuv error. */
int pf_signals_install(uv_loop_t *loop);

/* Makes every stop signal end preflight at once (exit 128+N, one log line) until
 * pf_signals_install() takes over: call right after pf_signals_save(), before any step that can
 * block (opening a manifest that is a FIFO, reading a file on a hung mount). Without it PID 1
 * ignores SIGTERM there, because the kernel drops default-action signals sent to init. */
void pf_signals_early(void);

/* Returns the number of the first stop signal received, or 0. */
int pf_signals_caught(void);

/* Stops watching and closes the handles (the loop finishes closing them on its next run). After
 * this, libuv has put the dispositions it changed back to SIG_DFL. */
void pf_signals_close(void);

/* Records the signal mask preflight's parent gave it, and which signals it left ignored
 * (SIG_IGN survives exec: `nohup` or a shell's `trap '' HUP` means it on purpose). Call first
 * thing in main, before any handler is installed. */
void pf_signals_save(void);

/* Puts the signal state back to what a freshly exec'd program expects: every disposition to
 * SIG_DFL, or SIG_IGN where pf_signals_save found it ignored, and the mask as the parent gave
 * it (empty if pf_signals_save was not called). Exec mode calls it right before execvp; the
 * --init child between fork and exec. Async-signal-safe. */
void pf_signals_restore(void);

#endif
