/* Domain errors shared by every module, and the exit code each one means.
 *
 * Like libuv, fallible functions return 0 or a negative code; unlike libuv the codes are ours
 * (they say what the user must fix, not which syscall failed). The one X-macro list below generates
 * the enum, the messages and the exit-code table, so the three can never disagree. Only main.c turns
 * a code into an exit status. */
#ifndef PREFLIGHT_ERROR_H
#define PREFLIGHT_ERROR_H

/* XX(NAME, code, exit status, message) */
#define PF_ERRNO_MAP(XX)                                                        \
  XX(USAGE,    -1001,  64, "usage error")                                       \
  XX(CONFIG,   -1002,  78, "invalid manifest or configuration")                 \
  XX(UNAVAIL,  -1003,  69, "database not ready within the wait budget")        \
  XX(AUTH,     -1004,  77, "authentication or permission failure")              \
  XX(MISSING,  -1005,  65, "required objects are missing")                      \
  XX(FALLBACK, -1006,  70, "a fallback statement failed; rolled back")         \
  XX(SIGNAL,   -1007, 128, "stopped by a signal")                               \
  XX(NOTFOUND, -1008, 127, "command not found")                                 \
  XX(NOEXEC,   -1009, 126, "command not executable")                            \
  XX(DB,       -1010,  69, "database error")                                    \
  XX(NOMEM,    -1011,  71, "out of memory")                                     \
  XX(IO,       -1012,  74, "input/output error")                                \
  XX(INTERNAL, -1013,  70, "internal error")                                    \
  XX(LOCKWAIT, -1014,  75, "timed out waiting for the replica-wide lock")       \
  XX(TIMEOUT,  -1015,  75, "a query of preflight's timed out")                  \
  XX(MIGRATE,  -1016,  70, "the migration command failed")

typedef enum {
#define PF__ERRNO_ENUM(name, code, status, msg) PF_E##name = (code),
  PF_ERRNO_MAP(PF__ERRNO_ENUM)
#undef PF__ERRNO_ENUM
} pf_errno_t;

/* Returns the fixed message for a domain error code, or "unknown error". */
const char *pf_strerror(int err);

/* Returns the process exit status that the contract assigns to a domain error code. For
 * PF_ESIGNAL it returns 128; the caller adds the signal number. */
int pf_exit_status(int err);

#endif
