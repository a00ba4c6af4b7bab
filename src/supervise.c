/* --init: a minimal init on the caller's libuv loop, modelled on tini.
 *
 * Why fork+exec and not uv_spawn. An init has two jobs that uv_spawn cannot share with anyone:
 * it must reap *every* child, including orphans the kernel re-parents to PID 1 (or to a child
 * subreaper), and it must learn the main child's status. libuv reaps only the processes it spawned,
 * each with waitpid(pid), from its own SIGCHLD watcher; the orphans would stay zombies. Adding our
 * own waitpid(-1) next to it would steal uv_spawn's children (libuv's waitpid(pid) then fails with
 * ECHILD and the exit callback never fires). So there is exactly one reaper in the process, this
 * file: we fork and exec the child ourselves and watch SIGCHLD with a plain uv_signal_t, reaping
 * with waitpid(-1, WNOHANG) until nothing is left. uv_spawn also cannot do what tini does with the
 * terminal (a new process group made the terminal's foreground group); it only offers setsid(),
 * which would detach the application from the terminal altogether.
 *
 * Which signals are forwarded. Every signal someone may send to PID 1 to talk to the application
 * (`docker stop`, `docker kill -s`, a terminal's resize): HUP, INT, QUIT, USR1, USR2, TERM, ALRM,
 * WINCH, CONT, TSTP, URG, VTALRM, PROF, XCPU, XFSZ, PWR, STKFLT and the real-time signals, which is
 * tini's set. Not forwarded, on purpose:
 *   - SIGCHLD: it is about our children, and it drives the reaping;
 *   - SIGPIPE: we ignore it, because the kernel raises it at *us* when a health-check client hangs
 *     up before its answer is written; forwarding it would kill an application that did nothing
 *     (an ignored SIGPIPE turns into an EPIPE error on that one write instead);
 *   - SIGTTIN, SIGTTOU: once the child owns the terminal, the terminal raises these at preflight
 *     when it logs to it; they are about preflight, so we ignore them, as tini does, rather than
 *     stop either process;
 *   - SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS: faults of preflight itself, which
 *     must crash preflight (and show up as such), not be passed on;
 *   - SIGKILL, SIGSTOP: cannot be caught.
 * Signals are sent to the child alone, or with opts->group to its whole process group (tini -g),
 * which also reaches the helpers of a shell-script entry point.
 *
 * Signals and fork. The libuv handlers stay installed while we fork, and in the child they would
 * write into the parent's signal pipe. So every signal is blocked across fork(); the child resets
 * every disposition to its default while still blocked, and only then unblocks and execs. A signal
 * sent to the child in that window stays pending and is delivered to the default action (or to the
 * application's own handler after exec), never lost. The parent keeps its signals pending during
 * the fork and receives them right after, with the child's pid known. */
#include "preflight/supervise.h"
#include "preflight/signals.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "preflight/error.h"
#include "preflight/log.h"

/* The classic signals we forward; the real-time ones are added at run time (SIGRTMIN is not a
 * constant: the C library reserves the first few for its threads). */
static const struct {
  int signum;
  const char *name;
} pf__forwarded[] = {
    {SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},       {SIGQUIT, "SIGQUIT"}, {SIGUSR1, "SIGUSR1"},
    {SIGUSR2, "SIGUSR2"}, {SIGTERM, "SIGTERM"},     {SIGALRM, "SIGALRM"}, {SIGWINCH, "SIGWINCH"},
    {SIGCONT, "SIGCONT"}, {SIGTSTP, "SIGTSTP"},     {SIGURG, "SIGURG"},   {SIGVTALRM, "SIGVTALRM"},
    {SIGPROF, "SIGPROF"}, {SIGXCPU, "SIGXCPU"},     {SIGXFSZ, "SIGXFSZ"}, {SIGPWR, "SIGPWR"},
    {SIGSTKFLT, "SIGSTKFLT"},
};

/* One handle per forwarded signal, one for SIGCHLD, and room for the real-time range. */
#define PF__MAX_HANDLES (PF_ARRAY_SIZE(pf__forwarded) + 1 + 64)

typedef struct {
  uv_loop_t *loop;
  pid_t child;
  bool group;
  bool exited;              /* the main child has been reaped */
  int exit_status;          /* its status, 128+N for signal N */
  uv_signal_t handles[PF__MAX_HANDLES];
  size_t nhandles;          /* handles initialised (each must be closed) */
  size_t closing;           /* close callbacks still to come */
} pf__supervisor_t;

/* Returns a printable name for a forwarded signal, for log lines; buf holds the real-time form. */
static const char *pf__signame(int signum, char *buf, size_t buflen) {
  for (size_t i = 0; i < PF_ARRAY_SIZE(pf__forwarded); i++)
    if (pf__forwarded[i].signum == signum) return pf__forwarded[i].name;
  if (signum >= SIGRTMIN && signum <= SIGRTMAX)
    snprintf(buf, buflen, "SIGRTMIN+%d", signum - SIGRTMIN);
  else
    snprintf(buf, buflen, "signal %d", signum);
  return buf;
}

/* Converts a wait status into the exit status an init reports: the child's own code, or 128+N
 * when signal N killed it (what a shell reports, and what tini returns). */
static int pf__wait_status_to_exit(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return (128 + WTERMSIG(status)) & 0xff;
  return 255;
}

/* Reaps every child that has exited, ours or orphans re-parented to us, without blocking. Records
 * the main child's status when it is among them. Called on every SIGCHLD: the kernel merges
 * SIGCHLDs that arrive together, so one call must collect everything there is. */
static void pf__reap_zombies(pf__supervisor_t *s) {
  for (;;) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno == EINTR) continue;
    if (pid <= 0) return; /* 0: children remain, none exited; ECHILD: no children at all */
    if (pid == s->child && !s->exited) {
      s->exited = true;
      s->exit_status = pf__wait_status_to_exit(status);
      if (WIFSIGNALED(status))
        pf_log_debug("child %d was killed by signal %d; exit status %d", (int)pid,
                     WTERMSIG(status), s->exit_status);
      else
        pf_log_debug("child %d exited with status %d", (int)pid, s->exit_status);
    } else {
      pf_log_debug("reaped orphaned process %d", (int)pid);
    }
  }
}

/* SIGCHLD callback: reaps, and the run loop notices when the main child is gone. */
static void pf__on_sigchld(uv_signal_t *h, int signum) {
  pf__reap_zombies(h->data);
}

/* Callback for every forwarded signal: sends it on to the child or its process group. ESRCH means
 * the child has just exited and its SIGCHLD is on the way, which is not an error. */
static void pf__on_forward(uv_signal_t *h, int signum) {
  pf__supervisor_t *s = h->data;
  char buf[32];
  if (s->child <= 0 || s->exited) return;
  pid_t target = s->group ? -s->child : s->child;
  if (kill(target, signum) != 0 && errno != ESRCH)
    pf_log_warn("cannot forward %s to %s %d: %s", pf__signame(signum, buf, sizeof buf),
                s->group ? "process group" : "process", (int)s->child, strerror(errno));
  else
    pf_log_debug("forwarded %s to %s %d", pf__signame(signum, buf, sizeof buf),
                 s->group ? "process group" : "process", (int)s->child);
}

/* Close callback: counts down the handles still closing. */
static void pf__on_closed(uv_handle_t *h) {
  pf__supervisor_t *s = h->data;
  s->closing--;
}

/* Initialises and starts one signal handle. Returns 0 or a negative libuv error. */
static int pf__watch(pf__supervisor_t *s, int signum, uv_signal_cb cb) {
  uv_signal_t *h = &s->handles[s->nhandles];
  int r = uv_signal_init(s->loop, h);
  if (r != 0) return r;
  h->data = s;
  s->nhandles++;
  return uv_signal_start(h, cb, signum);
}

/* Starts watching SIGCHLD and every forwarded signal on the loop, and makes preflight ignore
 * SIGPIPE, SIGTTIN and SIGTTOU (see the top of this file). This happens before the fork so that no
 * signal sent from then on is lost. Returns 0 or PF_EINTERNAL with err filled. */
static int pf__configure_signals(pf__supervisor_t *s, char *err, size_t errlen) {
  int r = pf__watch(s, SIGCHLD, pf__on_sigchld);
  if (r != 0) return pf_seterr(err, errlen, PF_EINTERNAL, "cannot watch SIGCHLD: %s", uv_strerror(r));
  for (size_t i = 0; i < PF_ARRAY_SIZE(pf__forwarded); i++) {
    r = pf__watch(s, pf__forwarded[i].signum, pf__on_forward);
    if (r != 0)
      return pf_seterr(err, errlen, PF_EINTERNAL, "cannot watch %s: %s", pf__forwarded[i].name,
                       uv_strerror(r));
  }
  /* A real-time signal that cannot be watched (valgrind keeps one for itself) is skipped. */
  for (int sig = SIGRTMIN; sig <= SIGRTMAX && s->nhandles < PF__MAX_HANDLES; sig++) {
    r = pf__watch(s, sig, pf__on_forward);
    if (r != 0) pf_log_debug("not forwarding SIGRTMIN+%d: %s", sig - SIGRTMIN, uv_strerror(r));
  }
  struct sigaction ign;
  memset(&ign, 0, sizeof ign);
  sigemptyset(&ign.sa_mask);
  ign.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ign, NULL);
  sigaction(SIGTTIN, &ign, NULL);
  sigaction(SIGTTOU, &ign, NULL);
  return 0;
}

/* Becomes a child subreaper when we are not PID 1, so that processes orphaned by the application
 * are re-parented to us rather than to the real init, and we can reap them. As PID 1 this is
 * what the kernel does anyway. Failure (a kernel before 3.4) only costs the orphans' zombies. */
static void pf__register_subreaper(void) {
  if (getpid() == 1) return;
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
    pf_log_warn("cannot become a child subreaper (%s): zombies of orphaned processes will not "
                "be reaped unless preflight runs as PID 1", strerror(errno));
}

/* Runs in the forked child: joins a new process group (the child's own, so a terminal's ^C and
 * `kill -- -PGID` reach the application and its helpers, not preflight), takes the terminal if
 * preflight had it, restores the signal state, and execs. On failure it writes errno to errfd
 * (the parent reads it) and exits 127 or 126. Only async-signal-safe calls: libuv may have started
 * threads, and after fork only the calling thread exists. (execvp is not on POSIX's list, but
 * glibc and musl both build its PATH candidates on the stack, without malloc.) */
static void pf__child_exec(char *const argv[], int errfd, bool take_tty) {
  (void)setpgid(0, 0);
  /* SIGTTOU is still ignored here (inherited), so a background group may take the terminal. */
  if (take_tty) (void)tcsetpgrp(STDIN_FILENO, getpgrp());
  pf_signals_restore();
  execvp(argv[0], argv);
  int e = errno;
  ssize_t n = write(errfd, &e, sizeof e);
  (void)n;
  _exit(e == ENOENT || e == ENOTDIR ? 127 : 126);
}

/* Forks and execs argv as the main child. Returns 0 with s->child set, PF_ENOTFOUND or PF_ENOEXEC
 * if execvp failed (the failed child is reaped here), or PF_EINTERNAL. */
static int pf__spawn(pf__supervisor_t *s, char *const argv[], char *err, size_t errlen) {
  int errpipe[2];
  if (pipe2(errpipe, O_CLOEXEC) != 0)
    return pf_seterr(err, errlen, PF_EINTERNAL, "pipe: %s", strerror(errno));
  /* Give the application the terminal only if preflight is the terminal's foreground process
   * group: a supervisor started in the background must not steal it from the shell. */
  bool take_tty = isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp();

  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &saved);
  pid_t pid = fork();
  if (pid == 0) pf__child_exec(argv, errpipe[1], take_tty);
  int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &saved, NULL);
  close(errpipe[1]);
  if (pid < 0) {
    close(errpipe[0]);
    return pf_seterr(err, errlen, PF_EINTERNAL, "fork: %s", strerror(fork_errno));
  }

  /* The pipe closes on a successful exec (CLOEXEC) and carries errno otherwise. The wait is as
   * short as an exec; signals that arrive meanwhile stay queued in the loop's signal pipe. */
  int child_errno = 0;
  ssize_t n;
  do n = read(errpipe[0], &child_errno, sizeof child_errno);
  while (n < 0 && errno == EINTR);
  close(errpipe[0]);
  if (n == (ssize_t)sizeof child_errno) {
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    bool notfound = child_errno == ENOENT || child_errno == ENOTDIR;
    return pf_seterr(err, errlen, notfound ? PF_ENOTFOUND : PF_ENOEXEC, "%s: %s", argv[0],
                     strerror(child_errno));
  }
  s->child = pid;
  pf_log_debug("started %s as process %d", argv[0], (int)pid);
  return 0;
}

/* Stops and closes every handle we started and runs the loop until their close callbacks have
 * run, so that the supervisor's memory can be released. Signals still queued for our handles are
 * drained by libuv first (it delays the close callbacks until then). */
static void pf__close_handles(pf__supervisor_t *s) {
  for (size_t i = 0; i < s->nhandles; i++) {
    s->closing++;
    uv_close((uv_handle_t *)&s->handles[i], pf__on_closed);
  }
  while (s->closing > 0) uv_run(s->loop, UV_RUN_ONCE);
}

/* Configures signals, spawns the child, and runs the loop until it has exited; see supervise.h
 * for the contract. */
int pf_supervise_run(uv_loop_t *loop, char *const argv[], const pf_supervise_opts_t *opts,
                     int *exit_status, char *err, size_t errlen) {
  if (argv == NULL || argv[0] == NULL)
    return pf_seterr(err, errlen, PF_EUSAGE, "--init needs a command to run");
  pf__supervisor_t *s = pf_xcalloc(1, sizeof *s);
  s->loop = loop;
  s->group = opts != NULL && opts->group;

  pf__register_subreaper();
  int rc = pf__configure_signals(s, err, errlen);
  if (rc == 0) rc = pf__spawn(s, argv, err, errlen);
  if (rc == 0) {
    /* The child may already be gone (and its SIGCHLD queued): reap once before waiting. */
    pf__reap_zombies(s);
    while (!s->exited) uv_run(loop, UV_RUN_ONCE);
    *exit_status = s->exit_status;
  }
  pf__close_handles(s);
  free(s);
  return rc;
}
