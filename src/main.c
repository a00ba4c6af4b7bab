/* preflight: make an application start only against a database that really has its schema.
 *
 * The phases are the functions below, in order: parse options, load the manifest, wait for the
 * database, verify, await the schema (wait.schema), take the replica-wide lock, verify again, run
 * the migration command, verify, fall back, verify, release the lock, hand over. Each step is
 * skipped when there is nothing for it to do: against a complete schema the path is "wait, one
 * catalog query, exec". Each returns 0 or a PF_E* code; main()
 * alone turns codes into exit statuses and is the only place that exits. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "preflight/await.h"
#include "preflight/catalog.h"
#include "preflight/db.h"
#include "preflight/duration.h"
#include "preflight/error.h"
#include "preflight/exec.h"
#include "preflight/expand.h"
#include "preflight/fallback.h"
#include "preflight/lock.h"
#include "preflight/log.h"
#include "preflight/manifest.h"
#include "preflight/manifest_schema.h"
#include "preflight/migrate.h"
#include "preflight/options.h"
#include "preflight/probe.h"
#include "preflight/report.h"
#include "preflight/services.h"
#include "preflight/signals.h"
#include "preflight/snapshot.h"
#include "preflight/supervise.h"
#include "preflight/termlog.h"
#include "preflight/wait.h"
#include "preflight/yamldoc.h"

/* Everything one run accumulates, so that the report can be written whatever phase failed. */
typedef struct {
  pf_options_t opts;
  pf_manifest_t manifest;
  bool have_manifest;
  uv_loop_t loop;
  bool have_loop;
  pf_db_t *db;
  pf_verify_t before, after;
  bool have_before, have_after;
  pf_fallback_t fb;
  bool have_fb;
  pf_lock_t *lock;              /* the replica-wide lock, while held */
  pf_migrate_result_t mig;
  bool have_mig;
  pf_report_t report;
  pf_wait_first_t first;        /* attempt 1, when it started while the manifest was read */
  uint64_t start_ms;
  char err[4096];
} pf_run_t;

/* Loads and validates the manifest and the connection string: everything that can be wrong
 * before the network is touched. */
static int pf__load(pf_run_t *run) {
  const char *path;
  int r = pf_options_find_manifest(&run->opts, &path, run->err, sizeof(run->err));
  if (r != 0) return r;
  pf_manifest_set_fallback_root(run->opts.fallback_root);
  r = pf_manifest_load(path, &run->manifest, run->err, sizeof(run->err));
  if (r != 0) return r;
  run->have_manifest = true;
  pf_options_resolve(&run->opts, &run->manifest);
  return pf_wait_check_conninfo(run->manifest.database_url, run->err, sizeof(run->err));
}

/* Starts the event loop and the stop-signal watch. */
static int pf__start_loop(pf_run_t *run) {
  if (run->have_loop) return 0;
  int r = uv_loop_init(&run->loop);
  if (r != 0) return pf_seterr(run->err, sizeof(run->err), PF_EINTERNAL, "uv_loop_init: %s", uv_strerror(r));
  run->have_loop = true;
  r = pf_signals_install(&run->loop);
  if (r != 0) return pf_seterr(run->err, sizeof(run->err), PF_EINTERNAL, "cannot watch signals: %s", uv_strerror(r));
  run->db = pf_db_new(&run->loop);
  return 0;
}

/* The parser's progress hook while attempt 1 connects: advances the connection without
 * waiting, so that each step the server answers is taken within a fraction of a millisecond. */
static void pf__advance(void *arg) {
  pf_run_t *run = arg;
  uv_run(&run->loop, UV_RUN_NOWAIT);
}

/* Whether attempt 1 may start before the manifest is read: the command connects, and -d,
 * DATABASE_URL or DATABASE_URL_FILE settle the target, since they replace database.url. A URL
 * that the offline checks refuse takes the usual way, so that errors keep their order. */
static bool pf__early_target(pf_run_t *run) {
  pf_command_t c = run->opts.command;
  char scratch[512];
  return run->opts.database_url != NULL &&
         (c == PF_CMD_RUN || c == PF_CMD_CHECK || c == PF_CMD_WAIT || c == PF_CMD_SNAPSHOT) &&
         pf_wait_check_conninfo(run->opts.database_url, scratch, sizeof(scratch)) == 0 &&
         pf_wait_check_user(run->opts.database_url, scratch, sizeof(scratch)) == 0;
}

/* pf__load with attempt 1 under way meanwhile: the server forks, authenticates and starts the
 * session while the client parses (a 1,000-table manifest takes about as long as the
 * connection). One thread: the parser's progress hook runs the loop. A manifest error still
 * wins, and the connection is dropped unused. */
static int pf__load_beside_connect(pf_run_t *run) {
  int r = pf__start_loop(run);
  if (r != 0) return r;
  if (pf_wait_first_start(run->db, run->opts.database_url, &run->first) == 0) pf_ydoc_set_progress(pf__advance, run);
  r = pf__load(run);
  pf_ydoc_set_progress(NULL, NULL);
  if (r != 0) {
    pf_db_disconnect(run->db);
    run->first.started = false;
  }
  return r;
}

/* Waits until the database accepts a session and answers, and every service in wait.services
 * answers too: the services' attempts run on the same loop while the database is waited for. */
static int pf__wait(pf_run_t *run) {
  const pf_manifest_t *m = &run->manifest;
  pf_wait_opts_t wo = {
      .conninfo = m->database_url,
      .first = &run->first,
      .timeout_ms = m->wait_timeout_ms,
      .connect_timeout_ms = m->connect_timeout_ms,
      .interval_ms = m->wait_interval_ms,
      .max_interval_ms = m->wait_max_interval_ms,
  };
  pf_wait_stats_t st = {0};
  uint64_t t0 = pf_now_ms();
  pf_services_opts_t so = {.start_ms = t0, .timeout_ms = wo.timeout_ms, .connect_timeout_ms = wo.connect_timeout_ms,
                           .interval_ms = wo.interval_ms, .max_interval_ms = wo.max_interval_ms};
  pf_services_t *svcs =
      m->nservices ? pf_services_start(&run->loop, (const char *const *)m->services, m->nservices, &so) : NULL;
  int r = pf_wait_ready(run->db, &wo, &st, run->err, sizeof(run->err));
  run->first.started = false;
  run->report.wait_ms = (int64_t)(pf_now_ms() - t0);
  if (r == PF_EUNAVAIL && svcs) {
    char more[1024];
    size_t n = strlen(run->err);
    snprintf(run->err + n, sizeof(run->err) - n, "%s", pf_services_pending(svcs, more, sizeof(more)));
  }
  if (r != 0) {
    pf_services_free(svcs);
    return r;
  }
  PGconn *c = pf_db_conn(run->db);
  run->report.host = PQhost(c);
  run->report.port = PQport(c);
  run->report.dbname = PQdb(c);
  run->report.server_version = PQparameterStatus(c, "server_version");
  char d[32];
  pf_log_info("database ready: %s:%s/%s (PostgreSQL %s) after %d attempt%s in %s", run->report.host, run->report.port,
              run->report.dbname, run->report.server_version ? run->report.server_version : "?", st.attempts,
              st.attempts == 1 ? "" : "s", pf_duration_format(run->report.wait_ms, d, sizeof(d)));
  if (svcs) {
    r = pf_services_wait(svcs, run->err, sizeof(run->err));
    pf_services_free(svcs);
    run->report.wait_ms = (int64_t)(pf_now_ms() - t0);
  }
  return r;
}

/* Verifies the manifest into *v, adding to the verify timing and query count. */
static int pf__verify(pf_run_t *run, pf_verify_t *v) {
  uint64_t t0 = pf_now_ms();
  int r = pf_catalog_verify(run->db, &run->manifest, false, v, run->err, sizeof(run->err));
  run->report.verify_ms += (int64_t)(pf_now_ms() - t0);
  if (r == 0) run->report.round_trips += v->round_trips;
  return r;
}

/* Whether anything not present has a fallback to run. */
static bool pf__repairable(const pf_manifest_t *m, const pf_verify_t *v) {
  for (size_t i = 0; i < m->nitems; i++)
    if (v->items[i].state != PF_OBJ_PRESENT && m->items[i].fallback) return true;
  return false;
}

/* Takes the replica-wide lock into run->lock for `purpose`, waiting at most wait_ms for another
 * holder. Every write preflight makes or starts happens between this and pf_lock_release. */
static int pf__lock(pf_run_t *run, const char *purpose, int64_t wait_ms) {
  const pf_manifest_t *m = &run->manifest;
  pf_lock_opts_t lo = {.conninfo = m->database_url, .lock_key = m->lock_key,
                       .connect_timeout_ms = m->connect_timeout_ms, .wait_ms = wait_ms, .purpose = purpose};
  return pf_lock_acquire(&run->loop, &lo, &run->lock, run->err, sizeof(run->err));
}

/* Replaces *v with a fresh verification. */
static int pf__reverify(pf_run_t *run, pf_verify_t *v) {
  pf_verify_t next;
  int r = pf__verify(run, &next);
  if (r != 0) return r;
  pf_verify_free(v);
  *v = next;
  return 0;
}

/* wait.schema: when required objects are missing, waits for another process to create them,
 * re-verifying at wait.schema_interval. Updates run->before. */
static int pf__await(pf_run_t *run) {
  pf_await_opts_t ao = {.budget_ms = run->manifest.await_schema_ms, .interval_ms = run->manifest.await_interval_ms};
  pf_await_stats_t st;
  uint64_t t0 = pf_now_ms();
  int r = pf_await_schema(run->db, &run->manifest, &ao, &run->before, &st, run->err, sizeof(run->err));
  run->report.await_ms = (int64_t)(pf_now_ms() - t0);
  run->report.round_trips += st.round_trips;
  return r;
}

/* Whether the migration command should run, given the latest verification. */
static bool pf__migrate_wanted(const pf_manifest_t *m, const pf_verify_t *v) {
  return m->migrate_argv && (m->migrate_when == PF_MIGRATE_WHEN_ALWAYS || v->missing_required > 0);
}

/* Runs migrate.command (the replica-wide lock is held). */
static int pf__migrate(pf_run_t *run) {
  const pf_manifest_t *m = &run->manifest;
  pf_migrate_opts_t mo = {
      .argv = m->migrate_argv,
      .display = m->migrate_display,
      .timeout_ms = m->migrate_timeout_ms,
      .workdir = m->migrate_workdir,
      .database_url = m->database_url,
  };
  run->err[0] = '\0';
  int r = pf_migrate_run(&run->loop, &mo, &run->mig, run->err, sizeof(run->err));
  run->have_mig = true;
  run->report.migrate = &run->mig;
  return r;
}

/* Under the replica-wide lock, given the verification made once it was held (another replica
 * may have done everything while we waited): migrate if still needed, verify, fall back for what is still missing, verify. *cur is
 * the latest verification on entry and on return. The lock is released by the caller. */
static int pf__under_lock(pf_run_t *run, pf_verify_t *cur) {
  const pf_manifest_t *m = &run->manifest;
  int r;
  if (pf__migrate_wanted(m, cur)) {
    r = pf__migrate(run);
    if (r != 0) return r;
    r = pf__reverify(run, cur);
    if (r != 0) return r;
  } else if (m->migrate_argv) {
    run->report.migrate_skipped = "done by another replica";
  }
  if (!pf__repairable(m, cur)) return 0;

  uint64_t t0 = pf_now_ms();
  run->err[0] = '\0';
  r = pf_fallback_apply(run->db, run->lock, m, cur, &run->fb, run->err, sizeof(run->err));
  run->have_fb = true;
  run->report.fb = &run->fb;
  run->report.fallback_ms = (int64_t)(pf_now_ms() - t0);
  if (r != 0) return r;
  return pf__reverify(run, cur);
}

/* The gate: verify; await; under the lock, migrate and repair; verify. Returns 0 when every
 * required object is present, PF_EMISSING when not, or the failure. */
static int pf__gate(pf_run_t *run) {
  const pf_manifest_t *m = &run->manifest;
  int r = pf__verify(run, &run->before);
  if (r != 0) return r;
  run->have_before = true;
  run->report.before = &run->before;
  run->report.migrate_command = m->migrate_argv ? m->migrate_display : NULL;
  pf_log_debug("verified %zu objects in %d queries: %zu missing, %zu warnings", m->nitems,
               run->before.round_trips, run->before.missing_required, run->before.missing_warn);

  if (run->before.missing_required > 0 && m->await_schema_ms > 0) {
    r = pf__await(run);
    if (r != 0) return r;
  }
  bool want_migrate = m->mode != PF_MODE_CHECK && pf__migrate_wanted(m, &run->before);
  if (m->migrate_argv && !want_migrate)
    run->report.migrate_skipped = m->mode == PF_MODE_CHECK ? "check mode" : "schema complete";
  if (m->mode == PF_MODE_CHECK || (!want_migrate && !pf__repairable(m, &run->before)))
    return run->before.missing_required ? PF_EMISSING : 0;

  /* Another replica may hold the lock for its whole migration: wait as long as one may take
   * (no limit when migrate.timeout has none), plus the fallbacks' own bound. */
  int64_t wait_ms = m->statement_timeout_ms;
  if (m->migrate_argv) wait_ms = m->migrate_timeout_ms > 0 ? m->migrate_timeout_ms + m->statement_timeout_ms : 0;
  r = pf__lock(run, want_migrate ? "the migration" : "the fallbacks", wait_ms);
  if (r != 0) return r;

  /* The latest verification lives in run->after from here on; run->before stays the first. */
  r = pf__verify(run, &run->after);
  if (r == 0) {
    run->have_after = true;
    run->report.after = &run->after;
    r = pf__under_lock(run, &run->after);
  }
  pf_lock_release(run->lock);
  run->lock = NULL;
  if (r != 0) return r;
  return run->after.missing_required ? PF_EMISSING : 0;
}

/* Chooses the report's status word for the outcome r. */
static const char *pf__status_word(const pf_run_t *run, int r) {
  switch (r) {
    case 0: {
      const pf_fallback_t *fb = run->have_fb ? &run->fb : NULL;
      for (size_t i = 0; fb && i < fb->nitems; i++)
        if (fb->outcome[i] == PF_FB_CREATED) return "fixed";
      if (run->have_mig && run->mig.status == PF_MIGRATE_OK) return "fixed";
      return "ok";
    }
    case PF_EMISSING: return "missing";
    case PF_EUNAVAIL:
    case PF_EAUTH: return "unavailable";
    default: return "failed";
  }
}

/* Logs the per-item lines and summary, and writes the report where it was asked for. */
static void pf__finish_report(pf_run_t *run, int r) {
  pf_report_t *rep = &run->report;
  rep->m = &run->manifest;
  rep->status = pf__status_word(run, r);
  rep->error = r != 0 && r != PF_EMISSING && run->err[0] ? run->err : NULL;
  rep->total_ms = (int64_t)(pf_now_ms() - run->start_ms);
  if (run->have_before) pf_report_log(rep);
  if (run->opts.report_path || run->opts.json_stdout) {
    char *json = pf_report_json(rep);
    if (run->opts.json_stdout) fputs(json, stdout), fflush(stdout);
    char werr[512];
    if (run->opts.report_path && pf_report_write(run->opts.report_path, json, werr, sizeof(werr)) != 0)
      pf_log_warn("%s", werr);
    free(json);
  }
}

/* Releases the connection, the loop and everything else, leaving no descriptor of ours open.
 * Returns false when the loop could not be closed because a host name lookup is still blocked
 * in libuv's thread pool (we stopped waiting for it). */
static bool pf__cleanup(pf_run_t *run) {
  bool closed = true;
  pf_lock_release(run->lock);
  run->lock = NULL;
  if (run->db) pf_db_free(run->db);
  run->db = NULL;
  if (run->have_loop) {
    pf_signals_close();
    uv_run(&run->loop, UV_RUN_NOWAIT);
    if (uv_loop_close(&run->loop) != 0) {
      pf_log_debug("event loop left with a request in flight");
      closed = false;
    }
    run->have_loop = false;
  }
  if (run->have_before) pf_verify_free(&run->before);
  if (run->have_after) pf_verify_free(&run->after);
  if (run->have_fb) pf_fallback_free(&run->fb);
  run->have_before = run->have_after = run->have_fb = false;
  if (run->have_manifest) pf_manifest_free(&run->manifest);
  run->have_manifest = false;
  pf_options_free(&run->opts);
  pf_log_secrets_clear();
  /* Whatever stderr did not take yet, within a bound: a stuck reader must not hold up the exit
   * or the hand-over (SIGTERM is answered within ~100 ms in all). */
  pf_log_flush(25);
  return closed;
}

/* --init: stay PID 1, run the command as a child, forward signals, reap zombies, optionally serve
 * the health endpoint from the same loop; returns the exit status to leave with. */
static int pf__supervise(pf_run_t *run) {
  pf_signals_close();
  uv_run(&run->loop, UV_RUN_NOWAIT);
  pf_health_t *health = NULL;
  pf_probe_t *probe = NULL;
  if (run->opts.health_listen) {
    probe = pf_probe_new(&run->loop, &run->manifest);
    pf_health_opts_t ho = {.listen = run->opts.health_listen, .interval_ms = run->opts.health_interval_ms,
                           .probe = pf_probe_run, .probe_ctx = probe};
    int r = pf_health_start(&run->loop, &ho, &health, run->err, sizeof(run->err));
    if (r != 0) {
      pf_log_error("%s", run->err);
      return pf_exit_status(r);
    }
  }
  /* The start-up connection is not needed any more (the probe has its own). */
  pf_db_free(run->db);
  run->db = NULL;
  pf_supervise_opts_t so = {.group = run->opts.init_group};
  int status = 0;
  int r = pf_supervise_run(&run->loop, run->opts.cmd, &so, &status, run->err, sizeof(run->err));
  if (health) pf_health_stop(health);
  if (r != 0) {
    pf_log_error("%s", run->err);
    return pf_exit_status(r);
  }
  pf_log_debug("%s exited with status %d", run->opts.cmd[0], status);
  return status;
}

/* Prints a manifest of the live database on stdout. */
static int pf__snapshot(pf_run_t *run) {
  uint64_t t0 = pf_now_ms();
  int r = pf_snapshot_write(run->db, (const char *const *)run->opts.schemas, run->opts.nschemas,
                            (const char *const *)run->opts.tables, run->opts.ntables, run->manifest.default_schema,
                            run->opts.partitions, stdout,
                            run->err, sizeof(run->err));
  fflush(stdout);
  if (r == 0) pf_log_debug("snapshot written in %llu ms", (unsigned long long)(pf_now_ms() - t0));
  return r;
}

/* Makes sure descriptors 0, 1 and 2 are open before anything else opens one. Started with one
 * closed (`<&-`, `2>&-`, a careless supervisor), the next descriptor opened would take its
 * number: libuv's epoll descriptor became "stderr", log lines went into it, and uv_loop_close
 * aborted on its assertion that it never closes 0-2. /dev/null is what the missing stream
 * means; in a root without /dev, a descriptor of "/" (every read and write fails) holds the
 * place instead. */
static void pf__sane_stdio(void) {
  for (int fd = 0; fd <= 2; fd++) {
    if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    /* open() returns the lowest free number, which is fd: 0..fd-1 are open by now. */
    int got = open("/dev/null", (fd == 0 ? O_RDONLY : O_WRONLY) | O_NOCTTY);
    if (got < 0) got = open("/", O_RDONLY | O_DIRECTORY);
    if (got >= 0 && got != fd) {
      (void)dup2(got, fd);
      close(got);
    }
  }
}

/* Turns an outcome into the exit status the contract gives it. */
static int pf__exit_status(int r) {
  if (r == PF_ESIGNAL) return 128 + pf_signals_caught();
  return pf_exit_status(r);
}

int main(int argc, char **argv) {
  static pf_run_t run;
  pf__sane_stdio();
  run.start_ms = pf_now_ms();
  pf_signals_save();
  pf_signals_early();
  int status;
  int r = pf_options_parse(argc, argv, &run.opts, run.err, sizeof(run.err));
  pf_log_setup(run.opts.log_format, run.opts.log_level);
  if (r != 0) {
    pf_log_error("%s", run.err);
    status = pf_exit_status(r);
    goto out;
  }
  if (run.opts.command == PF_CMD_HELP) {
    pf_options_usage();
    status = 0;
    goto out;
  }
  if (run.opts.command == PF_CMD_SCHEMA) {
    pf_buf_t schema = {0};
    pf_manifest_schema(&schema);
    bool written = fwrite(schema.data, 1, schema.len, stdout) == schema.len && fflush(stdout) == 0;
    status = written ? 0 : pf_exit_status(PF_EIO);
    pf_buf_free(&schema);
    goto out;
  }
  if (run.opts.command == PF_CMD_VERSION) {
    printf("preflight %s (libpq %d, libuv %s)\n", PF_VERSION, PQlibVersion(), uv_version_string());
    status = 0;
    goto out;
  }

  if (run.opts.command == PF_CMD_SNAPSHOT && run.opts.manifest_path == NULL &&
      access(pf_options_manifest_path(&run.opts), F_OK) != 0) {
    /* snapshot is how a first manifest gets written: it needs none, only a database. */
    static const char empty[] = "version: 1\n";
    r = pf_manifest_parse(empty, sizeof(empty) - 1, "(defaults)", ".", &run.manifest, run.err, sizeof(run.err));
    if (r == 0) {
      run.have_manifest = true;
      pf_options_resolve(&run.opts, &run.manifest);
      r = pf_wait_check_conninfo(run.manifest.database_url, run.err, sizeof(run.err));
    }
  } else {
    /* lint runs offline, in CI, where the deployment's variables and secrets are absent; and a
     * URL given by -d or DATABASE_URL(_FILE) replaces database.url, whose ${DATABASE_URL} then
     * need not be set. */
    pf_expand_allow_unset(run.opts.command == PF_CMD_LINT || run.opts.database_url != NULL);
    r = pf__early_target(&run) ? pf__load_beside_connect(&run) : pf__load(&run);
  }
  if (r == 0 && run.opts.command == PF_CMD_LINT) {
    pf_log_info("%s: valid, %zu objects", run.manifest.path, run.manifest.nitems);
    status = 0;
    goto out;
  }
  if (r == 0 && run.opts.cmd) r = pf_exec_resolve(run.opts.cmd[0], run.err, sizeof(run.err));
  if (r == 0) r = pf_wait_check_user(run.manifest.database_url, run.err, sizeof(run.err));
  if (r == 0) r = pf__start_loop(&run);
  if (r == 0) r = pf__wait(&run);
  if (run.opts.command == PF_CMD_SNAPSHOT) {
    if (r == 0) r = pf__snapshot(&run);
    if (r != 0) pf_log_error("%s", r == PF_ESIGNAL ? "stopped by a signal" : run.err);
    status = r == PF_ESIGNAL ? 128 + pf_signals_caught() : pf_exit_status(r);
    goto out;
  }
  if (r == 0 && run.opts.command != PF_CMD_WAIT) r = pf__gate(&run);

  if (run.have_manifest && run.opts.command != PF_CMD_WAIT && (r == 0 || run.have_before || r == PF_EUNAVAIL ||
                                                              r == PF_EAUTH || r == PF_EFALLBACK || r == PF_EDB ||
                                                              r == PF_ELOCKWAIT || r == PF_ETIMEOUT ||
                                                              r == PF_EMIGRATE))
    pf__finish_report(&run, r);
  if (r != 0) {
    if (r == PF_ESIGNAL)
      pf_log_error("stopped by signal %d (%s) before starting the application", pf_signals_caught(),
                   strsignal(pf_signals_caught()));
    else if (r != PF_EMISSING && run.err[0])
      pf_log_error("%s", run.err);
    status = pf__exit_status(r);
    goto out;
  }
  if (run.opts.cmd == NULL) {
    status = 0;
    goto out;
  }

  if (run.opts.init) {
    status = pf__supervise(&run);
    /* Only preflight's own failure, not the child's status, is preflight's to explain. */
    if (status != 0) pf_termlog_write(pf_log_last_error());
    fflush(stdout);
    pf_log_flush(25);
    /* A health probe may still be running in the thread pool; nothing is left to clean up that
     * the kernel does not reclaim, and waiting for it would delay the container's exit. */
    _exit(status);
  }

  /* Hand-over: nothing of ours may survive into the application. */
  char **cmd = run.opts.cmd;
  pf_log_debug("starting %s", cmd[0]);
  pf__cleanup(&run);
  r = pf_exec(cmd, run.err, sizeof(run.err));
  pf_log_error("%s", run.err);
  pf_termlog_write(pf_log_last_error());
  pf_log_flush(25);
  return pf_exit_status(r);

out:
  if (status != 0) pf_termlog_write(pf_log_last_error());
  if (!pf__cleanup(&run)) {
    /* libuv's library destructor joins its thread pool, which would wait for the abandoned
     * lookup (seconds, with an unanswering resolver): leave without running destructors. */
    fflush(stdout);
    _exit(status);
  }
  return status;
}
