/* migrate: run the application's own migration command (alembic upgrade head, prisma migrate
 * deploy, knex migrate:latest) as a child process, with its output streamed to preflight's stderr.
 *
 * This module only runs the command; it knows nothing of the database. The caller (main.c) holds
 * the replica-wide lock while it runs, so that across all replicas the command runs once at a
 * time, and decides from verification whether it has to run at all. */
#ifndef PREFLIGHT_MIGRATE_H
#define PREFLIGHT_MIGRATE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "preflight/util.h"

/* How many of the command's last output lines a failure message quotes. */
#define PF_MIGRATE_TAIL_LINES 6

typedef struct {
  char *const *argv;          /* NULL-terminated; argv[0] is searched in PATH as execvp does */
  const char *display;        /* how messages name the command, e.g. "alembic upgrade head" */
  int64_t timeout_ms;         /* TERM, then KILL after kill_grace_ms; 0 = no limit */
  int64_t kill_grace_ms;      /* how long TERM is given before KILL; 0 = 5 s */
  const char *workdir;        /* NULL = preflight's working directory */
  const char *database_url;   /* exported as DATABASE_URL when that is unset or empty; NULL = no */
} pf_migrate_opts_t;

typedef enum {
  PF_MIGRATE_NOT_RUN = 0,
  PF_MIGRATE_OK,              /* exited 0 */
  PF_MIGRATE_FAILED,          /* exited non-zero */
  PF_MIGRATE_KILLED,          /* died of a signal nobody here sent */
  PF_MIGRATE_TIMEOUT,         /* ran past timeout_ms and was stopped */
  PF_MIGRATE_STOPPED,         /* preflight was told to stop and stopped it */
  PF_MIGRATE_NOT_STARTED,     /* could not be executed (not found, workdir missing) */
} pf_migrate_status_t;

typedef struct {
  pf_migrate_status_t status;
  int exit_code;              /* when it exited; else -1 */
  int term_signal;            /* when a signal ended it; else 0 */
  int64_t duration_ms;
  int lines;                  /* output lines streamed */
} pf_migrate_result_t;

/* Runs the command on loop until it has exited, forwarding preflight's stop signals (TERM, INT,
 * QUIT, HUP, as watched by preflight/signals.h) to its process group and killing it at the
 * timeout. The child gets preflight's environment (plus DATABASE_URL, see above), stdin from
 * /dev/null, and a pipe as stdout and stderr whose lines are logged as "migrate: LINE"; it runs in
 * a process group of its own and is killed if preflight dies.
 *
 * Returns 0 when it exited 0; PF_EMIGRATE with err naming the command, how it ended and its last
 * output lines; PF_ESIGNAL when a stop signal arrived (the child has been ended too); or
 * PF_EINTERNAL. *res is filled in every case. */
int pf_migrate_run(uv_loop_t *loop, const pf_migrate_opts_t *o, pf_migrate_result_t *res, char *err,
                   size_t errlen) PF_MUST_CHECK;

/* The report's word for a status: "not_run", "ok", "failed", "killed", "timeout", "stopped",
 * "not_started". */
const char *pf_migrate_status_name(pf_migrate_status_t s);

#endif
