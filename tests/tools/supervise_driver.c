/* Test driver for src/supervise.c: `supervise_driver [--group] [-v] [--] COMMAND [ARG...]` runs
 * COMMAND under pf_supervise_run on a fresh loop, exactly as `preflight --init` does after its
 * checks, and exits with the child's status (or 127/126 when it cannot be run). The e2e tests run
 * the same scenarios against it and against `tini -s --`. */
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "preflight/error.h"
#include "preflight/log.h"
#include "preflight/signals.h"
#include "preflight/supervise.h"

/* Parses the options, supervises the command, and returns its exit status. */
int main(int argc, char **argv) {
  pf_signals_save();
  pf_supervise_opts_t opts = {0};
  pf_log_level_t level = PF_LOG_INFO;
  int i = 1;
  for (; i < argc; i++) {
    if (strcmp(argv[i], "--group") == 0) opts.group = true;
    else if (strcmp(argv[i], "-v") == 0) level = PF_LOG_DEBUG;
    else if (strcmp(argv[i], "--") == 0) { i++; break; }
    else break;
  }
  if (i >= argc) {
    fprintf(stderr, "usage: supervise_driver [--group] [-v] [--] COMMAND [ARG...]\n");
    return 64;
  }
  pf_log_setup(PF_LOG_TEXT, level);

  uv_loop_t loop;
  uv_loop_init(&loop);
  int status = 0;
  char err[512] = "";
  int rc = pf_supervise_run(&loop, argv + i, &opts, &status, err, sizeof err);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  if (rc != 0) {
    pf_log_error("%s", err);
    return pf_exit_status(rc);
  }
  return status;
}
