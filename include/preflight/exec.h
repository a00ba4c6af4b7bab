/* The hand-over: replace preflight with the application. */
#ifndef PREFLIGHT_EXEC_H
#define PREFLIGHT_EXEC_H

#include <stddef.h>

#include "preflight/util.h"

/* Finds `file` as execvp would (PATH search unless it contains a slash). Returns 0, PF_ENOTFOUND
 * (exit 127) or PF_ENOEXEC (exit 126: found but not executable, or a directory) with err. Run
 * before waiting for the database, so a typo in CMD fails in milliseconds, not after the wait. */
int pf_exec_resolve(const char *file, char *err, size_t errlen) PF_MUST_CHECK;

/* Restores the signal state preflight started with and execvp()s argv with the environment
 * unchanged. Returns only on failure: PF_ENOTFOUND or PF_ENOEXEC with err. The caller must have
 * closed its connection and libuv loop first (their descriptors are close-on-exec in any case). */
int pf_exec(char *const argv[], char *err, size_t errlen) PF_MUST_CHECK;

#endif
