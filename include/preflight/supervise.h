/* --init: stay PID 1, run COMMAND as a child, forward signals to it, reap every zombie, and
 * return the child's exit status (128+N if signal N killed it), as tini does.
 *
 * The supervisor runs on the caller's libuv loop, so other handles on it (the health endpoint)
 * keep working while the application runs. It forks and execs the child itself instead of using
 * uv_spawn: see the comment at the top of src/supervise.c. */
#ifndef PREFLIGHT_SUPERVISE_H
#define PREFLIGHT_SUPERVISE_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "preflight/util.h"

typedef struct {
  /* Forward signals to the child's whole process group instead of the child alone
   * (--init-group, tini -g), so that a shell script's own children receive them too. */
  bool group;
} pf_supervise_opts_t;

/* Spawns argv (searched in PATH, environment, stdin/stdout/stderr and working directory inherited
 * unchanged) as a child in its own process group, then runs `loop` until that child has exited,
 * forwarding signals and reaping every zombie meanwhile. Other handles on the loop keep working;
 * the caller must have closed its own signal handles first, and nothing else in the process may use
 * uv_spawn or wait for children while this runs (we reap with waitpid(-1)).
 *
 * Returns 0 with *exit_status set to the child's exit status, or 128+N if it died of signal N.
 * Returns PF_ENOTFOUND (exit 127) or PF_ENOEXEC (exit 126) if the command could not be executed,
 * or PF_EINTERNAL if a system call failed; err then says why. opts may be NULL. Our own signal
 * handles are closed before it returns; the dispositions they used are back to SIG_DFL, so the
 * caller should exit promptly. */
int pf_supervise_run(uv_loop_t *loop, char *const argv[], const pf_supervise_opts_t *opts,
                     int *exit_status, char *err, size_t errlen) PF_MUST_CHECK;

/* The signal state handed to the application: pf_signals_save / pf_signals_restore in
 * preflight/signals.h. */

#endif
