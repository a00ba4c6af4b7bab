/* Command-line parsing. Options are read up to "--" or the first argument that is not an option,
 * POSIX style, so that `preflight node server.js --port 3000` passes `--port 3000` to the app. A
 * leading "--" (the `ENTRYPOINT ["preflight", "--"]` form) does not end them; see options.h. */
#include "preflight/options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "preflight/duration.h"
#include "preflight/error.h"
#include "preflight/secretfile.h"
#include "preflight/service_url.h"

static const struct {
  const char *name;
  pf_command_t command;
} pf__commands[] = {
    {"run", PF_CMD_RUN}, {"check", PF_CMD_CHECK}, {"wait", PF_CMD_WAIT},
    {"lint", PF_CMD_LINT}, {"snapshot", PF_CMD_SNAPSHOT}, {"schema", PF_CMD_SCHEMA},
};

/* The options that take a value, as a table: short name, long name. */
enum { PF__OPT_MANIFEST = 1, PF__OPT_URL, PF__OPT_TIMEOUT, PF__OPT_LOG_FORMAT, PF__OPT_REPORT,
       PF__OPT_FORMAT, PF__OPT_SCHEMA, PF__OPT_TABLE, PF__OPT_HEALTH_LISTEN, PF__OPT_HEALTH_INTERVAL,
       PF__OPT_FALLBACK_ROOT, PF__OPT_SERVICE, PF__OPT_STATEMENT_TIMEOUT, PF__OPT_AWAIT_SCHEMA };
static const struct {
  char short_name;
  const char *long_name;
  int id;
} pf__valued[] = {
    {'f', "manifest", PF__OPT_MANIFEST},         {'d', "database-url", PF__OPT_URL},
    {'t', "timeout", PF__OPT_TIMEOUT},           {0, "log-format", PF__OPT_LOG_FORMAT},
    {0, "report", PF__OPT_REPORT},               {0, "format", PF__OPT_FORMAT},
    {0, "schema", PF__OPT_SCHEMA},               {0, "table", PF__OPT_TABLE},
    {0, "health-listen", PF__OPT_HEALTH_LISTEN}, {0, "health-interval", PF__OPT_HEALTH_INTERVAL},
    {0, "fallback-root", PF__OPT_FALLBACK_ROOT},
    {0, "service", PF__OPT_SERVICE},
    {0, "statement-timeout", PF__OPT_STATEMENT_TIMEOUT},
    {0, "await-schema", PF__OPT_AWAIT_SCHEMA},
};

void pf_options_usage(void) {
  fputs(
      "Usage:\n"
      "  preflight [run] [OPTIONS] [--] [COMMAND [ARG...]]  wait, verify, migrate, fall back, then exec\n"
      "                                COMMAND (migrate: and wait.schema in the manifest)\n"
      "  preflight check [OPTIONS]     wait and verify; never writes; exit 0 or 65\n"
      "  preflight wait  [OPTIONS]     only wait until the database (and services) are ready\n"
      "  preflight lint  [OPTIONS]     validate the manifest and fallback files offline\n"
      "  preflight snapshot [OPTIONS] [--schema S]... [--table T]... [--partitions]\n"
      "                                print a manifest describing the live database\n"
      "                                (partitions only with --partitions)\n"
      "  preflight schema              print the manifest's JSON Schema (draft 2020-12)\n"
      "  preflight --help | --version\n"
      "\n"
      "Options end at COMMAND or at \"--\". A \"--\" given first only says that no subcommand\n"
      "follows, so with ENTRYPOINT [\"preflight\", \"--\"] the image's CMD (or Kubernetes args) may\n"
      "start with options: --init node server.js. A second \"--\" ends them for good.\n"
      "\n"
      "Options:\n"
      "  -f, --manifest FILE      manifest (PREFLIGHT_MANIFEST; default ./preflight.yaml,\n"
      "                           else /etc/preflight/preflight.yaml)\n"
      "  -d, --database-url URL   libpq URI or key=value string (DATABASE_URL, or the file\n"
      "                           DATABASE_URL_FILE names; else the manifest's database.url;\n"
      "                           else libpq's PG* variables; PGPASSWORD_FILE too)\n"
      "  -t, --timeout DURATION   total wait budget, 0 = no limit (PREFLIGHT_TIMEOUT)\n"
      "      --service URL        also wait for tcp://HOST:PORT, http://HOST[:PORT]/PATH (2xx)\n"
      "                           or redis://HOST[:PORT] (PING); repeatable; replaces\n"
      "                           wait.services (PREFLIGHT_SERVICES, comma-separated)\n"
      "      --statement-timeout D  bound for each verification query preflight sends (catalog,\n"
      "                           checks); default 30s, 0 = none (PREFLIGHT_STATEMENT_TIMEOUT,\n"
      "                           database.statement_timeout)\n"
      "      --await-schema D     when objects are missing, wait up to D for another process\n"
      "                           (a migration Job) to create them (PREFLIGHT_AWAIT_SCHEMA;\n"
      "                           manifest wait.schema; default 0 = do not wait)\n"
      "      --check              report what is missing, apply nothing (PREFLIGHT_MODE=check)\n"
      "      --init               stay PID 1 and supervise COMMAND (PREFLIGHT_INIT=1)\n"
      "      --init-group         with --init, forward signals to COMMAND's process group\n"
      "                           (PREFLIGHT_INIT_GROUP=1; implies --init)\n"
      "      --health-listen A:P  with --init, serve GET /health and /ready on ADDR:PORT\n"
      "                           (PREFLIGHT_HEALTH_LISTEN)\n"
      "      --health-interval D  re-verify at most once per D, default 10s\n"
      "                           (PREFLIGHT_HEALTH_INTERVAL)\n"
      "      --log-format text|json  stderr log format (PREFLIGHT_LOG_FORMAT)\n"
      "      --report FILE        write the JSON report there (PREFLIGHT_REPORT)\n"
      "      --fallback-root DIR  fallback_file may lie anywhere under DIR, not only in the\n"
      "                           manifest's folder (PREFLIGHT_FALLBACK_ROOT)\n"
      "      --format text|json   check: print the JSON report on stdout\n"
      "  -q, --quiet              only warnings and errors (PREFLIGHT_LOG_LEVEL=warn)\n"
      "  -v, --verbose            debug output (PREFLIGHT_LOG_LEVEL=debug)\n"
      "  -h, --help               this text\n"
      "  -V, --version            the version\n"
      "\n"
      "Booleans in the environment: 1/0, true/false, yes/no, on/off (any case).\n"
      "Durations: 250ms, 5s, 2m, 1h, or a bare integer meaning seconds.\n"
      "Exit codes: 0 ok; 64 usage; 65 objects missing; 69 database or service not ready in\n"
      "  time; 70 fallback or migrate.command failed; 75 another replica's lock or a verification\n"
      "  query outlasted its bound; 77 authentication/permission; 78 bad manifest\n"
      "  or configuration; 126/127 COMMAND not executable/not found; 128+N stopped by signal N;\n"
      "  otherwise COMMAND's own status.\n"
      "The final error is also written to /dev/termination-log when that is writable\n"
      "(Kubernetes; PREFLIGHT_TERMINATION_LOG names another file).\n",
      stdout);
}

/* Parses a duration option value, naming the option in the error. */
static int pf__duration_opt(const char *what, const char *s, int64_t *out, int code, char *err, size_t errlen) {
  char why[256];
  if (pf_duration_parse(s, out, why, sizeof(why)) != 0)
    return pf_seterr(err, errlen, code, "%s: invalid duration \"%s\": %s", what, s, why);
  return 0;
}

/* Parses a log format name. */
static int pf__log_format(const char *what, const char *s, pf_log_format_t *out, int code, char *err, size_t errlen) {
  if (strcmp(s, "text") == 0) *out = PF_LOG_TEXT;
  else if (strcmp(s, "json") == 0) *out = PF_LOG_JSON;
  else return pf_seterr(err, errlen, code, "%s: expected text or json, got \"%s\"", what, s);
  return 0;
}

int pf_options_bool(const char *var, const char *value, bool *out, char *err, size_t errlen) {
  static const char *const yes[] = {"1", "true", "yes", "on"};
  static const char *const no[] = {"0", "false", "no", "off"};
  for (size_t i = 0; i < PF_ARRAY_SIZE(yes); i++) {
    if (strcasecmp(value, yes[i]) == 0) return *out = true, 0;
    if (strcasecmp(value, no[i]) == 0) return *out = false, 0;
  }
  return pf_seterr(err, errlen, PF_EUSAGE, "%s: expected a boolean (1/0, true/false, yes/no, on/off), got \"%.40s\"",
                   var, value);
}

/* Checks one service URL, naming where it came from. */
static int pf__service_opt(const char *what, const char *url, int code, char *err, size_t errlen) {
  pf_service_t svc;
  char why[512];
  if (pf_service_parse(url, &svc, why, sizeof(why)) != 0) return pf_seterr(err, errlen, code, "%s: %s", what, why);
  pf_service_free(&svc);
  return 0;
}

/* Splits PREFLIGHT_SERVICES ("tcp://redis:6379, http://auth/health") into o->services, checking
 * each URL. Empty elements are skipped, so an empty variable clears the manifest's list. */
static int pf__services_env(pf_options_t *o, const char *v, char *err, size_t errlen) {
  o->services_buf = pf_xstrdup(v);
  o->services_set = true;
  for (char *save = NULL, *tok = strtok_r(o->services_buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    while (*tok == ' ' || *tok == '\t' || *tok == '\n') tok++;
    size_t n = strlen(tok);
    while (n > 0 && (tok[n - 1] == ' ' || tok[n - 1] == '\t' || tok[n - 1] == '\n')) tok[--n] = '\0';
    if (n == 0) continue;
    int r = pf__service_opt("PREFLIGHT_SERVICES", tok, PF_ECONFIG, err, errlen);
    if (r != 0) return r;
    o->services = pf_xrealloc(o->services, sizeof(char *) * (size_t)(o->nservices + 1));
    o->services[o->nservices++] = tok;
  }
  return 0;
}

/* Reads the PREFLIGHT_* variables, DATABASE_URL(_FILE) and PGPASSWORD_FILE: the layer between the
 * command line and the manifest. */
static int pf__from_env(pf_options_t *o, char *err, size_t errlen) {
  const char *v;
  int r;
  if ((v = getenv("PREFLIGHT_MANIFEST")) && *v) o->manifest_path = v;
  r = pf_secretfile_getenv("DATABASE_URL", &o->database_url, &o->database_url_buf, err, errlen);
  if (r != 0) return r;
  if (!((v = getenv("PGPASSWORD")) && *v) && getenv("PGPASSWORD_FILE")) {
    r = pf_secretfile_read("PGPASSWORD_FILE", getenv("PGPASSWORD_FILE"), &o->pgpassword_buf, err, errlen);
    if (r != 0) return r;
    /* libpq reads only PGPASSWORD (or a passfile); a migration command expects it there too. */
    setenv("PGPASSWORD", o->pgpassword_buf, 1);
  }
  if ((v = getenv("PREFLIGHT_TIMEOUT")) && *v)
    if (pf__duration_opt("PREFLIGHT_TIMEOUT", v, &o->timeout_ms, PF_ECONFIG, err, errlen)) return PF_ECONFIG;
  if ((v = getenv("PREFLIGHT_AWAIT_SCHEMA")) && *v)
    if (pf__duration_opt("PREFLIGHT_AWAIT_SCHEMA", v, &o->await_schema_ms, PF_ECONFIG, err, errlen)) return PF_ECONFIG;
  if ((v = getenv("PREFLIGHT_STATEMENT_TIMEOUT")) && *v)
    if (pf__duration_opt("PREFLIGHT_STATEMENT_TIMEOUT", v, &o->statement_timeout_ms, PF_ECONFIG, err, errlen))
      return PF_ECONFIG;
  if ((v = getenv("PREFLIGHT_MODE")) && *v) {
    if (strcmp(v, "check") == 0) o->check_mode = true;
    else if (strcmp(v, "apply") != 0)
      return pf_seterr(err, errlen, PF_ECONFIG, "PREFLIGHT_MODE: expected apply or check, got \"%s\"", v);
  }
  bool init_set = false;
  if ((v = getenv("PREFLIGHT_INIT")) && *v) {
    if ((r = pf_options_bool("PREFLIGHT_INIT", v, &o->init, err, errlen)) != 0) return r;
    init_set = true;
  }
  if ((v = getenv("PREFLIGHT_INIT_GROUP")) && *v) {
    if ((r = pf_options_bool("PREFLIGHT_INIT_GROUP", v, &o->init_group, err, errlen)) != 0) return r;
    /* Like --init-group, it implies --init, unless PREFLIGHT_INIT says otherwise. */
    if (o->init_group && !init_set) o->init = true;
  }
  if ((v = getenv("PREFLIGHT_HEALTH_LISTEN")) && *v) {
    o->health_listen = v;
    o->health_listen_env = true;
  }
  if ((v = getenv("PREFLIGHT_HEALTH_INTERVAL")) && *v) {
    if (pf__duration_opt("PREFLIGHT_HEALTH_INTERVAL", v, &o->health_interval_ms, PF_ECONFIG, err, errlen))
      return PF_ECONFIG;
    if (o->health_interval_ms <= 0)
      return pf_seterr(err, errlen, PF_ECONFIG,
                       "PREFLIGHT_HEALTH_INTERVAL: must be more than 0 (how long a probe's result is reused)");
  }
  if ((v = getenv("PREFLIGHT_SERVICES")) != NULL)
    if ((r = pf__services_env(o, v, err, errlen)) != 0) return r;
  if ((v = getenv("PREFLIGHT_LOG_FORMAT")) && *v)
    if (pf__log_format("PREFLIGHT_LOG_FORMAT", v, &o->log_format, PF_ECONFIG, err, errlen)) return PF_ECONFIG;
  if ((v = getenv("PREFLIGHT_REPORT")) && *v) o->report_path = v;
  if ((v = getenv("PREFLIGHT_FALLBACK_ROOT")) && *v) o->fallback_root = v;
  if ((v = getenv("PREFLIGHT_LOG_LEVEL")) && *v) {
    static const char *const names[] = {"error", "warn", "info", "debug"};
    size_t i;
    for (i = 0; i < PF_ARRAY_SIZE(names) && strcasecmp(v, names[i]) != 0; i++) {}
    if (i == PF_ARRAY_SIZE(names))
      return pf_seterr(err, errlen, PF_ECONFIG, "PREFLIGHT_LOG_LEVEL: expected error, warn, info or debug, got \"%s\"", v);
    o->log_level = (pf_log_level_t)i;
  }
  return 0;
}

/* Applies one valued option. */
static int pf__apply(pf_options_t *o, int id, const char *name, const char *val, char *err, size_t errlen) {
  switch (id) {
    case PF__OPT_MANIFEST: o->manifest_path = val; break;
    case PF__OPT_URL: o->database_url = val; break;
    case PF__OPT_TIMEOUT: return pf__duration_opt(name, val, &o->timeout_ms, PF_EUSAGE, err, errlen);
    case PF__OPT_LOG_FORMAT: return pf__log_format(name, val, &o->log_format, PF_EUSAGE, err, errlen);
    case PF__OPT_REPORT: o->report_path = val; break;
    case PF__OPT_FORMAT:
      if (strcmp(val, "json") == 0) o->json_stdout = true;
      else if (strcmp(val, "text") == 0) o->json_stdout = false;
      else return pf_seterr(err, errlen, PF_EUSAGE, "%s: expected text or json, got \"%s\"", name, val);
      break;
    case PF__OPT_SCHEMA:
      o->schemas = pf_xrealloc(o->schemas, sizeof(char *) * (size_t)(o->nschemas + 1));
      o->schemas[o->nschemas++] = val;
      break;
    case PF__OPT_TABLE:
      o->tables = pf_xrealloc(o->tables, sizeof(char *) * (size_t)(o->ntables + 1));
      o->tables[o->ntables++] = val;
      break;
    case PF__OPT_HEALTH_LISTEN:
      o->health_listen = val;
      o->health_listen_env = false;
      break;
    case PF__OPT_SERVICE: {
      int r = pf__service_opt(name, val, PF_EUSAGE, err, errlen);
      if (r != 0) return r;
      if (!o->services_set || o->services_buf) {
        /* The first --service replaces PREFLIGHT_SERVICES' list. */
        free(o->services_buf);
        o->services_buf = NULL;
        o->nservices = 0;
        o->services_set = true;
      }
      o->services = pf_xrealloc(o->services, sizeof(char *) * (size_t)(o->nservices + 1));
      o->services[o->nservices++] = val;
      break;
    }
    case PF__OPT_AWAIT_SCHEMA: return pf__duration_opt(name, val, &o->await_schema_ms, PF_EUSAGE, err, errlen);
    case PF__OPT_HEALTH_INTERVAL:
      if (pf__duration_opt(name, val, &o->health_interval_ms, PF_EUSAGE, err, errlen) != 0) return PF_EUSAGE;
      /* 0 used to fall back to 10 s without a word; a probe on every request is not offered. */
      if (o->health_interval_ms <= 0)
        return pf_seterr(err, errlen, PF_EUSAGE, "%s: must be more than 0 (how long a probe's result is reused)", name);
      break;
    case PF__OPT_FALLBACK_ROOT: o->fallback_root = val; break;
    case PF__OPT_STATEMENT_TIMEOUT:
      return pf__duration_opt(name, val, &o->statement_timeout_ms, PF_EUSAGE, err, errlen);
  }
  return 0;
}

int pf_options_parse(int argc, char **argv, pf_options_t *o, char *err, size_t errlen) {
  memset(o, 0, sizeof(*o));
  o->command = PF_CMD_RUN;
  o->timeout_ms = -1;
  o->statement_timeout_ms = -1;
  o->await_schema_ms = -1;
  o->health_interval_ms = 10000;
  o->log_level = PF_LOG_INFO;
  int r = pf__from_env(o, err, errlen);
  if (r != 0) return r;

  int i = 1;
  if (i < argc) {
    for (size_t c = 0; c < PF_ARRAY_SIZE(pf__commands); c++)
      if (strcmp(argv[i], pf__commands[c].name) == 0) {
        o->command = pf__commands[c].command;
        i++;
        break;
      }
  }
  if (o->command == PF_CMD_CHECK) o->check_mode = true;

  /* A leading "--" only rules out a subcommand (see options.h); options may still follow. */
  if (i < argc && strcmp(argv[i], "--") == 0 && o->command == PF_CMD_RUN) i++;

  for (; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    }
    if (a[0] != '-' || a[1] == '\0') break;   /* the command starts here */

    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) { o->command = PF_CMD_HELP; return 0; }
    if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) { o->command = PF_CMD_VERSION; return 0; }
    if (strcmp(a, "--check") == 0) { o->check_mode = true; continue; }
    if (strcmp(a, "--init") == 0) { o->init = true; continue; }
    if (strcmp(a, "--partitions") == 0) { o->partitions = true; continue; }
    if (strcmp(a, "--init-group") == 0) { o->init = true; o->init_group = true; continue; }
    if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) { o->log_level = PF_LOG_WARN; continue; }
    if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) { o->log_level = PF_LOG_DEBUG; continue; }

    /* Valued options: --name=value, --name value, -x value, -xvalue. */
    int id = 0;
    const char *val = NULL;
    char name[64];
    if (a[1] == '-') {
      const char *eq = strchr(a, '=');
      size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
      for (size_t k = 0; k < PF_ARRAY_SIZE(pf__valued); k++)
        if (strlen(pf__valued[k].long_name) == n && strncmp(a + 2, pf__valued[k].long_name, n) == 0) id = pf__valued[k].id;
      snprintf(name, sizeof(name), "--%.*s", (int)n, a + 2);
      if (eq) val = eq + 1;
    } else {
      for (size_t k = 0; k < PF_ARRAY_SIZE(pf__valued); k++)
        if (pf__valued[k].short_name == a[1]) id = pf__valued[k].id;
      snprintf(name, sizeof(name), "-%c", a[1]);
      if (a[2]) val = a + 2;
    }
    if (id == 0)
      return pf_seterr(err, errlen, PF_EUSAGE,
                       "unknown option %s (see preflight --help; a COMMAND whose name starts with \"-\" goes after "
                       "\"--\")", a);
    if (val == NULL) {
      if (i + 1 >= argc) return pf_seterr(err, errlen, PF_EUSAGE, "option %s needs a value", name);
      val = argv[++i];
    }
    r = pf__apply(o, id, name, val, err, errlen);
    if (r != 0) return r;
  }

  if (i < argc) {
    if (o->command != PF_CMD_RUN)
      return pf_seterr(err, errlen, PF_EUSAGE, "unexpected argument \"%s\": only run takes a COMMAND", argv[i]);
    o->cmd = argv + i;
    o->ncmd = argc - i;
  }
  if (o->command != PF_CMD_SNAPSHOT && (o->nschemas || o->ntables || o->partitions))
    return pf_seterr(err, errlen, PF_EUSAGE, "--schema, --table and --partitions belong to the snapshot command");
  if (o->json_stdout && o->command != PF_CMD_CHECK)
    return pf_seterr(err, errlen, PF_EUSAGE, "--format belongs to the check command");
  if (o->health_listen && o->health_listen_env && o->command != PF_CMD_RUN) {
    /* The same environment often serves an init container's `preflight wait` and the app's
     * `preflight --init`: only the one that supervises listens. */
    o->health_listen = NULL;
  }
  if (o->health_listen && !o->init)
    return pf_seterr(err, errlen, PF_EUSAGE, o->health_listen_env ? "PREFLIGHT_HEALTH_LISTEN needs --init (or PREFLIGHT_INIT=1)"
                                                                  : "--health-listen needs --init");
  return 0;
}

void pf_options_free(pf_options_t *o) {
  free(o->schemas);
  free(o->tables);
  free(o->services);
  free(o->services_buf);
  free(o->database_url_buf);
  free(o->pgpassword_buf);
  o->schemas = NULL;
  o->tables = NULL;
  o->services = NULL;
  o->services_buf = o->database_url_buf = o->pgpassword_buf = NULL;
  o->database_url = NULL;
}

const char *pf_options_manifest_path(const pf_options_t *o) {
  if (o->manifest_path) return o->manifest_path;
  if (access("preflight.yaml", F_OK) == 0) return "preflight.yaml";
  return "/etc/preflight/preflight.yaml";
}

int pf_options_find_manifest(const pf_options_t *o, const char **path, char *err, size_t errlen) {
  *path = pf_options_manifest_path(o);
  if (access(*path, F_OK) == 0) return 0;
  if (o->manifest_path)
    return pf_seterr(err, errlen, PF_ECONFIG,
                     "manifest %s (from %s) does not exist; write one with `preflight snapshot > %s` against a "
                     "database that has the schema",
                     *path, getenv("PREFLIGHT_MANIFEST") && getenv("PREFLIGHT_MANIFEST") == o->manifest_path
                                ? "PREFLIGHT_MANIFEST" : "-f",
                     *path);
  char cwd[1024];
  if (getcwd(cwd, sizeof(cwd)) == NULL) snprintf(cwd, sizeof(cwd), ".");
  return pf_seterr(err, errlen, PF_ECONFIG,
                   "no manifest: tried %s/preflight.yaml and /etc/preflight/preflight.yaml; write one with "
                   "`preflight snapshot -d URL > preflight.yaml` against a database that has the schema, or name "
                   "one with -f FILE or PREFLIGHT_MANIFEST",
                   strcmp(cwd, "/") == 0 ? "" : cwd);
}

void pf_options_resolve(const pf_options_t *o, pf_manifest_t *m) {
  if (o->timeout_ms >= 0) m->wait_timeout_ms = o->timeout_ms;
  if (o->statement_timeout_ms >= 0) m->db_statement_timeout_ms = o->statement_timeout_ms;
  if (o->await_schema_ms >= 0) m->await_schema_ms = o->await_schema_ms;
  if (o->check_mode) m->mode = PF_MODE_CHECK;
  if (o->database_url) m->database_url = pf_manifest_strdup(m, o->database_url);
  if (o->services_set) {
    /* A list replaces the manifest's, as every other setting does. Strings of a manifest live
     * in its arena (pf_manifest_strdup). */
    m->services = pf_manifest_alloc(m, sizeof(char *) * (o->nservices ? (size_t)o->nservices : 1));
    m->nservices = 0;
    for (int i = 0; i < o->nservices; i++)
      m->services[m->nservices++] = pf_manifest_strdup(m, o->services[i]);
  }
}
