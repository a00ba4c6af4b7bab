/* The migration command as a child process.
 *
 * Why fork+exec and not uv_spawn. Two things matter here that uv_spawn cannot do. First, the
 * child must die with preflight: the replica-wide lock lives in preflight's database session, so
 * if preflight is SIGKILLed (an OOM kill, `docker kill`, a node drain past its grace period) the
 * lock is released at once, and a migration left running would then race the next replica's.
 * Only the child can ask for that, with prctl(PR_SET_PDEATHSIG) between fork and exec. Second, the
 * child needs its own process group (so a stop signal or the timeout reaches `sh -c` and whatever
 * it started, e.g. `npx prisma` and its engine) but not a new session: uv_spawn only offers
 * setsid(). Output, timers and SIGCHLD are still watched on the libuv loop, so signals to
 * preflight are handled while the command runs, as in every other phase.
 *
 * stdout and stderr share one pipe, so that the two streams reach the log in the order the
 * command wrote them (tools log progress on one and errors on the other). The lines go to
 * preflight's stderr: stdout belongs to the application that is started afterwards.
 *
 * Reaping: only waitpid(pid), never waitpid(-1); nothing else in preflight has children while
 * this runs (the --init supervisor starts later). */
#include "preflight/migrate.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "preflight/duration.h"
#include "preflight/error.h"
#include "preflight/log.h"
#include "preflight/signals.h"

extern char **environ;

#define PF__LINE_MAX 4096        /* a longer line is logged in pieces */
#define PF__TAIL_LINE_MAX 300    /* a quoted line is cut to this */
#define PF__DRAIN_MS 500         /* after the command exited, how long its output may still come */

typedef struct {
  uv_loop_t *loop;
  const pf_migrate_opts_t *o;
  pid_t pid;
  bool exited, eof, draining;
  int wstatus;
  bool timed_out;
  int stop_signal;              /* the stop signal we forwarded, 0 if none */
  bool killed;                  /* we sent SIGKILL */
  uv_pipe_t out;
  uv_timer_t timeout, grace, drain;
  uv_signal_t sigchld;
  int open_handles;
  char line[PF__LINE_MAX + 1];
  size_t linelen;
  char tail[PF_MIGRATE_TAIL_LINES][PF__TAIL_LINE_MAX + 1];
  int ntail;                    /* lines recorded in total; the ring holds the last few */
} pf__child_t;

const char *pf_migrate_status_name(pf_migrate_status_t s) {
  switch (s) {
    case PF_MIGRATE_NOT_RUN: return "not_run";
    case PF_MIGRATE_OK: return "ok";
    case PF_MIGRATE_FAILED: return "failed";
    case PF_MIGRATE_KILLED: return "killed";
    case PF_MIGRATE_TIMEOUT: return "timeout";
    case PF_MIGRATE_STOPPED: return "stopped";
    case PF_MIGRATE_NOT_STARTED: return "not_started";
  }
  return "unknown";
}

/* Logs one complete line of the command's output and keeps it for a failure message. */
static void pf__emit_line(pf__child_t *c, const char *s, size_t n) {
  if (n > 0 && s[n - 1] == '\r') n--;
  pf_log_fields(PF_LOG_INFO, "\"source\":\"migrate\"", "migrate: %.*s", (int)n, s);
  char *slot = c->tail[c->ntail % PF_MIGRATE_TAIL_LINES];
  size_t k = n < PF__TAIL_LINE_MAX ? n : PF__TAIL_LINE_MAX;
  memcpy(slot, s, k);
  slot[k] = '\0';
  c->ntail++;
}

/* Splits what the pipe delivered into lines; a line longer than PF__LINE_MAX is logged in pieces
 * rather than held back. */
static void pf__take_output(pf__child_t *c, const char *data, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (data[i] == '\n') {
      pf__emit_line(c, c->line, c->linelen);
      c->linelen = 0;
      continue;
    }
    c->line[c->linelen++] = data[i];
    if (c->linelen == PF__LINE_MAX) {
      pf__emit_line(c, c->line, c->linelen);
      c->linelen = 0;
    }
  }
}

static void pf__alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  static char chunk[16384];
  (void)h;
  (void)suggested;
  *buf = uv_buf_init(chunk, sizeof(chunk));
}

static void pf__on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  pf__child_t *c = s->data;
  if (n > 0) {
    pf__take_output(c, buf->base, (size_t)n);
  } else if (n < 0) {
    if (n != UV_EOF) pf_log_debug("reading the migration's output: %s", uv_strerror((int)n));
    if (c->linelen) pf__emit_line(c, c->line, c->linelen);
    c->linelen = 0;
    c->eof = true;
    uv_read_stop(s);
  }
}

/* Sends sig to the command's process group (which is its pid: the child made it so, and the
 * parent did too, in case the signal comes before the child got that far). */
static void pf__signal_group(pf__child_t *c, int sig) {
  if (c->exited) {
    /* The leader is gone; anything it left in the group still holds our pipe. */
    if (kill(-c->pid, sig) != 0 && errno != ESRCH) pf_log_debug("kill(-%d): %s", (int)c->pid, strerror(errno));
    return;
  }
  if (kill(-c->pid, sig) != 0 && kill(c->pid, sig) != 0 && errno != ESRCH)
    pf_log_warn("cannot signal the migration command (process %d): %s", (int)c->pid, strerror(errno));
}

/* How long TERM (or a forwarded stop signal) is given before KILL. */
static int64_t pf__grace_ms(const pf__child_t *c) {
  return c->o->kill_grace_ms > 0 ? c->o->kill_grace_ms : 5000;
}

static void pf__on_grace(uv_timer_t *t) {
  pf__child_t *c = t->data;
  if (c->exited) return;
  char d[32];
  pf_log_warn("migration command did not stop within %s of being signalled: sending SIGKILL",
              pf_duration_format(pf__grace_ms(c), d, sizeof(d)));
  c->killed = true;
  pf__signal_group(c, SIGKILL);
}

/* Starts the TERM-then-KILL sequence (timeout) or forwards a stop signal. */
static void pf__end_child(pf__child_t *c, int sig) {
  pf__signal_group(c, sig);
  if (!uv_is_active((uv_handle_t *)&c->grace))
    uv_timer_start(&c->grace, pf__on_grace, (uint64_t)pf__grace_ms(c), 0);
}

static void pf__on_timeout(uv_timer_t *t) {
  pf__child_t *c = t->data;
  if (c->exited) return;
  char d[32];
  pf_log_error("migration command still running after migrate.timeout (%s): sending SIGTERM",
               pf_duration_format(c->o->timeout_ms, d, sizeof(d)));
  c->timed_out = true;
  pf__end_child(c, SIGTERM);
}

static void pf__on_drain(uv_timer_t *t) {
  pf__child_t *c = t->data;
  if (c->eof) return;
  pf_log_debug("the migration command exited but something it started still holds its output: killing its group");
  pf__signal_group(c, SIGKILL);
  /* Whatever it held is closed now or will be on the kernel's next step; stop reading either way. */
  if (c->linelen) pf__emit_line(c, c->line, c->linelen);
  c->linelen = 0;
  c->eof = true;
  uv_read_stop((uv_stream_t *)&c->out);
}

static void pf__reap(pf__child_t *c) {
  if (c->exited) return;
  int st;
  pid_t r;
  do r = waitpid(c->pid, &st, WNOHANG);
  while (r < 0 && errno == EINTR);
  if (r != c->pid) return;
  c->exited = true;
  c->wstatus = st;
  uv_timer_stop(&c->timeout);
  uv_timer_stop(&c->grace);
  if (!c->eof) uv_timer_start(&c->drain, pf__on_drain, PF__DRAIN_MS, 0);
}

static void pf__on_sigchld(uv_signal_t *h, int signum) {
  (void)signum;
  pf__reap(h->data);
}

static void pf__on_closed(uv_handle_t *h) {
  pf__child_t *c = h->data;
  c->open_handles--;
}

static void pf__close(pf__child_t *c, uv_handle_t *h) {
  if (uv_is_closing(h)) return;
  c->open_handles++;
  uv_close(h, pf__on_closed);
}

/* Builds the child's environment: ours, plus DATABASE_URL when it is unset or empty. */
static char **pf__child_env(const char *database_url, char **added) {
  size_t n = 0;
  while (environ[n]) n++;
  char **env = pf_xcalloc(n + 2, sizeof(*env));
  const char *cur = getenv("DATABASE_URL");
  bool add = database_url && (cur == NULL || *cur == '\0');
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (!(add && strncmp(environ[i], "DATABASE_URL=", 13) == 0)) env[k++] = environ[i];
  *added = NULL;
  if (add) {
    *added = pf_xasprintf("DATABASE_URL=%s", database_url);
    env[k++] = *added;
  }
  env[k] = NULL;
  return env;
}

/* The forked child: its own process group, killed when preflight dies, stdin from /dev/null,
 * stdout and stderr into the pipe, the signal state preflight started with, then exec. Only
 * async-signal-safe calls (libuv may have threads). A failure is reported through errfd as
 * {step, errno}: step 0 is the chdir, 1 the exec. */
static void pf__child(const pf_migrate_opts_t *o, char **env, int outfd, int errfd, pid_t parent) {
  int report[2] = {0, 0};
  (void)setpgid(0, 0);
  (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(137);   /* preflight died before the line above */
  int nul = open("/dev/null", O_RDONLY);
  if (nul >= 0 && nul != STDIN_FILENO) {
    (void)dup2(nul, STDIN_FILENO);
    (void)close(nul);
  }
  (void)dup2(outfd, STDOUT_FILENO);
  (void)dup2(outfd, STDERR_FILENO);
  if (outfd > STDERR_FILENO) (void)close(outfd);
  if (o->workdir && chdir(o->workdir) != 0) {
    report[0] = 0;
    report[1] = errno;
  } else {
    pf_signals_restore();
    execvpe(o->argv[0], o->argv, env);
    report[0] = 1;
    report[1] = errno;
  }
  ssize_t w = write(errfd, report, sizeof(report));
  (void)w;
  _exit(127);
}

/* Forks and execs the command. Returns 0 with c->pid set and the read end of the output pipe in
 * *outfd, or PF_EMIGRATE (could not be executed: res->status NOT_STARTED) / PF_EINTERNAL. */
static int pf__spawn(pf__child_t *c, int *outfd, char *err, size_t errlen) {
  const pf_migrate_opts_t *o = c->o;
  int outp[2], errp[2];
  if (pipe2(outp, O_CLOEXEC) != 0) return pf_seterr(err, errlen, PF_EINTERNAL, "pipe: %s", strerror(errno));
  if (pipe2(errp, O_CLOEXEC) != 0) {
    int e = errno;
    close(outp[0]);
    close(outp[1]);
    return pf_seterr(err, errlen, PF_EINTERNAL, "pipe: %s", strerror(e));
  }
  char *added;
  char **env = pf__child_env(o->database_url, &added);
  pid_t parent = getpid();

  /* Blocked across fork so that no libuv handler runs in the child (see src/supervise.c). */
  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &saved);
  pid_t pid = fork();
  if (pid == 0) pf__child(o, env, outp[1], errp[1], parent);
  int fork_errno = errno;
  if (pid > 0) (void)setpgid(pid, pid);   /* either side may win; both ask for the same */
  pthread_sigmask(SIG_SETMASK, &saved, NULL);
  close(outp[1]);
  close(errp[1]);
  free(env);
  if (added) {
    /* It held the password: do not leave it in freed memory. */
    memset(added, 0, strlen(added));
    free(added);
  }
  if (pid < 0) {
    close(outp[0]);
    close(errp[0]);
    return pf_seterr(err, errlen, PF_EINTERNAL, "fork: %s", strerror(fork_errno));
  }
  int report[2];
  ssize_t n;
  do n = read(errp[0], report, sizeof(report));
  while (n < 0 && errno == EINTR);
  close(errp[0]);
  if (n == (ssize_t)sizeof(report)) {
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    close(outp[0]);
    if (report[0] == 0)
      return pf_seterr(err, errlen, PF_EMIGRATE, "migrate.workdir %s: %s", o->workdir, strerror(report[1]));
    return pf_seterr(err, errlen, PF_EMIGRATE, "migrate.command \"%s\" could not be started: %s: %s%s",
                     o->display, o->argv[0], strerror(report[1]),
                     report[1] == ENOENT && strchr(o->argv[0], '/') == NULL ? " (searched in PATH)" : "");
  }
  c->pid = pid;
  *outfd = outp[0];
  return 0;
}

/* Describes how the command ended, for the failure message: "exit status 3", "killed by SIGKILL". */
static void pf__how(const pf__child_t *c, char *buf, size_t len) {
  if (WIFEXITED(c->wstatus))
    snprintf(buf, len, "exit status %d", WEXITSTATUS(c->wstatus));
  else if (WIFSIGNALED(c->wstatus))
    snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(c->wstatus), strsignal(WTERMSIG(c->wstatus)));
  else
    snprintf(buf, len, "wait status %d", c->wstatus);
}

/* Appends the last output lines, oldest first, as ` | `-separated quotes. */
static void pf__append_tail(const pf__child_t *c, pf_buf_t *b) {
  int have = c->ntail < PF_MIGRATE_TAIL_LINES ? c->ntail : PF_MIGRATE_TAIL_LINES;
  if (have == 0) {
    pf_buf_puts(b, "; it printed nothing");
    return;
  }
  pf_buf_printf(b, "; its last %d line%s of output: ", have, have == 1 ? "" : "s");
  for (int k = 0; k < have; k++) {
    int idx = (c->ntail - have + k) % PF_MIGRATE_TAIL_LINES;
    if (k) pf_buf_puts(b, " | ");
    pf_buf_puts(b, c->tail[idx]);
  }
}

int pf_migrate_run(uv_loop_t *loop, const pf_migrate_opts_t *o, pf_migrate_result_t *res, char *err,
                   size_t errlen) {
  memset(res, 0, sizeof(*res));
  res->exit_code = -1;
  res->status = PF_MIGRATE_NOT_STARTED;
  if (pf_signals_caught()) return PF_ESIGNAL;
  pf__child_t *c = pf_xcalloc(1, sizeof(*c));
  c->loop = loop;
  c->o = o;
  uint64_t t0 = pf_now_ms();
  char d[32];

  /* SIGCHLD is watched before the fork, so that a command that exits at once is not missed. */
  int r = uv_signal_init(loop, &c->sigchld);
  if (r == 0) {
    c->sigchld.data = c;
    r = uv_signal_start(&c->sigchld, pf__on_sigchld, SIGCHLD);
  }
  if (r != 0) {
    free(c);
    return pf_seterr(err, errlen, PF_EINTERNAL, "cannot watch SIGCHLD: %s", uv_strerror(r));
  }
  uv_timer_init(loop, &c->timeout);
  uv_timer_init(loop, &c->grace);
  uv_timer_init(loop, &c->drain);
  c->timeout.data = c->grace.data = c->drain.data = c;

  pf_log_info("running migrate.command: %s", o->display);
  int outfd = -1;
  int rc = pf__spawn(c, &outfd, err, errlen);
  if (rc == 0) {
    uv_pipe_init(loop, &c->out, 0);
    c->out.data = c;
    r = uv_pipe_open(&c->out, outfd);
    if (r == 0) r = uv_read_start((uv_stream_t *)&c->out, pf__alloc, pf__on_read);
    if (r != 0) {
      pf_log_warn("cannot read the migration's output: %s", uv_strerror(r));
      c->eof = true;
    }
    if (o->timeout_ms > 0) uv_timer_start(&c->timeout, pf__on_timeout, (uint64_t)o->timeout_ms, 0);
    pf__reap(c);
    while (!(c->exited && c->eof)) {
      uv_run(loop, UV_RUN_ONCE);
      int sig = pf_signals_caught();
      if (sig && !c->stop_signal && !c->exited) {
        c->stop_signal = sig;
        pf_log_info("stopping the migration command: forwarding signal %d (%s)", sig, strsignal(sig));
        pf__end_child(c, sig);
      }
      if (!c->exited) pf__reap(c);
    }
    res->duration_ms = (int64_t)(pf_now_ms() - t0);
    res->lines = c->ntail;
    if (WIFEXITED(c->wstatus)) res->exit_code = WEXITSTATUS(c->wstatus);
    if (WIFSIGNALED(c->wstatus)) res->term_signal = WTERMSIG(c->wstatus);

    char how[96];
    pf__how(c, how, sizeof(how));
    if (c->stop_signal) {
      res->status = PF_MIGRATE_STOPPED;
      pf_log_info("migration command stopped (%s after %s)", how, pf_duration_format(res->duration_ms, d, sizeof(d)));
      rc = PF_ESIGNAL;
    } else if (c->timed_out || res->exit_code != 0) {
      res->status = c->timed_out ? PF_MIGRATE_TIMEOUT : res->term_signal ? PF_MIGRATE_KILLED : PF_MIGRATE_FAILED;
      pf_buf_t b = {0};
      pf_buf_printf(&b, "migrate.command \"%s\" ", o->display);
      if (c->timed_out)
        pf_buf_printf(&b, "timed out after %s (migrate.timeout) and was stopped, %s",
                      pf_duration_format(o->timeout_ms, d, sizeof(d)), how);
      else
        pf_buf_printf(&b, "failed with %s after %s", how, pf_duration_format(res->duration_ms, d, sizeof(d)));
      pf__append_tail(c, &b);
      pf_buf_puts(&b, "; the application was not started");
      pf_seterr(err, errlen, PF_EMIGRATE, "%s", b.data);
      pf_buf_free(&b);
      rc = PF_EMIGRATE;
    } else {
      res->status = PF_MIGRATE_OK;
      pf_log_info("migration command finished in %s", pf_duration_format(res->duration_ms, d, sizeof(d)));
    }
  }

  uv_signal_stop(&c->sigchld);
  pf__close(c, (uv_handle_t *)&c->sigchld);
  pf__close(c, (uv_handle_t *)&c->timeout);
  pf__close(c, (uv_handle_t *)&c->grace);
  pf__close(c, (uv_handle_t *)&c->drain);
  if (rc != PF_EINTERNAL && c->pid > 0) pf__close(c, (uv_handle_t *)&c->out);
  while (c->open_handles > 0) uv_run(loop, UV_RUN_ONCE);
  free(c);
  return rc;
}
