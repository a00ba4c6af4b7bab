/* The signals that stop preflight before the hand-over (TERM, INT, QUIT, HUP), watched on the
 * libuv loop so that every wait — a backoff timer, a connect, a query — ends at once. */
#ifndef PREFLIGHT_SIGNALS_H
#define PREFLIGHT_SIGNALS_H

#include <uv.h>

/* Starts watching the stop signals on loop. Returns 0 or a negative libuv error. */
int pf_signals_install(uv_loop_t *loop);

/* Returns the number of the first stop signal received, or 0. */
int pf_signals_caught(void);

/* Stops watching and closes the handles (the loop finishes closing them on its next run). After
 * this, libuv has put the dispositions it changed back to SIG_DFL. */
void pf_signals_close(void);

/* Records the signal mask and the dispositions of every signal preflight or libuv may change, as
 * they were when the process started. Call first thing in main. */
void pf_signals_save(void);

/* Puts back what pf_signals_save recorded: the application must start with the mask and
 * dispositions its parent gave us (a SIG_IGN inherited from docker stays SIG_IGN), not ours. */
void pf_signals_restore(void);

#endif
