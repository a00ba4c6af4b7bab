/* Command-line parsing. Options are read up to "--" or the first argument that is not an option,
 * POSIX style, so that `preflight node server.js --port 3000` passes `--port 3000` to the app. */
#include "preflight/options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "preflight/duration.h"
#include "preflight/error.h"

static const struct {
  const char *name;
  pf_command_t command;
} pf__commands[] = {
    {"run", PF_CMD_RUN}, {"check", PF_CMD_CHECK}, {"wait", PF_CMD_WAIT},
    {"lint", PF_CMD_LINT}, {"snapshot", PF_CMD_SNAPSHOT},
};

/* The options that take a value, as a table: short name, long name. */
enum { PF__OPT_MANIFEST = 1, PF__OPT_URL, PF__OPT_TIMEOUT, PF__OPT_LOG_FORMAT, PF__OPT_REPORT,
       PF__OPT_FORMAT, PF__OPT_SCHEMA, PF__OPT_TABLE, PF__OPT_HEALTH_LISTEN, PF__OPT_HEALTH_INTERVAL,
       PF__OPT_FALLBACK_ROOT };
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
};

void pf_options_usage(void) {
  fputs(
      "Usage:\n"
      "  preflight [run] [OPTIONS] [--] [COMMAND [ARG...]]  wait, verify, fall back, then exec COMMAND\n"
      "  preflight check [OPTIONS]     wait and verify; never writes; exit 0 or 65\n"
      "  preflight wait  [OPTIONS]     only wait until the database is ready\n"
      "  preflight lint  [OPTIONS]     validate the manifest and fallback files offline\n"
      "  preflight snapshot [OPTIONS] [--schema S]... [--table T]...\n"
      "                                print a manifest describing the live database\n"
      "  preflight --help | --version\n"
      "\n"
      "Options:\n"
      "  -f, --manifest FILE      manifest (PREFLIGHT_MANIFEST; default ./preflight.yaml,\n"
      "                           else /etc/preflight/preflight.yaml)\n"
      "  -d, --database-url URL   libpq URI or key=value string (DATABASE_URL; else the\n"
      "                           manifest's database.url; else libpq's PG* variables)\n"
      "  -t, --timeout DURATION   total wait budget, 0 = no limit (PREFLIGHT_TIMEOUT)\n"
      "      --check              report what is missing, apply nothing (PREFLIGHT_MODE=check)\n"
      "      --init               stay PID 1 and supervise COMMAND (PREFLIGHT_INIT=1)\n"
      "      --init-group         with --init, forward signals to COMMAND's process group\n"
      "      --health-listen A:P  with --init, serve GET /health and /ready on ADDR:PORT\n"
      "      --health-interval D  re-verify at most once per D (default 10s)\n"
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
      "Durations: 250ms, 5s, 2m, 1h, or a bare integer meaning seconds.\n"
      "Exit codes: 0 ok; 64 usage; 65 objects missing; 69 database not ready in time;\n"
      "  70 fallback failed (rolled back); 77 authentication/permission; 78 bad manifest or\n"
      "  configuration; 126/127 COMMAND not executable/not found; 128+N stopped by signal N;\n"
      "  otherwise COMMAND's own status.\n",
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

/* Reads the PREFLIGHT_* variables: the layer between the command line and the manifest. */
static int pf__from_env(pf_options_t *o, char *err, size_t errlen) {
  const char *v;
  if ((v = getenv("PREFLIGHT_MANIFEST")) && *v) o->manifest_path = v;
  if ((v = getenv("DATABASE_URL")) && *v) o->database_url = v;
  if ((v = getenv("PREFLIGHT_TIMEOUT")) && *v)
    if (pf__duration_opt("PREFLIGHT_TIMEOUT", v, &o->timeout_ms, PF_ECONFIG, err, errlen)) return PF_ECONFIG;
  if ((v = getenv("PREFLIGHT_MODE")) && *v) {
    if (strcmp(v, "check") == 0) o->check_mode = true;
    else if (strcmp(v, "apply") != 0)
      return pf_seterr(err, errlen, PF_ECONFIG, "PREFLIGHT_MODE: expected apply or check, got \"%s\"", v);
  }
  if ((v = getenv("PREFLIGHT_INIT")) && *v) o->init = strcmp(v, "0") != 0 && strcasecmp(v, "false") != 0;
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
    case PF__OPT_HEALTH_LISTEN: o->health_listen = val; break;
    case PF__OPT_HEALTH_INTERVAL:
      if (pf__duration_opt(name, val, &o->health_interval_ms, PF_EUSAGE, err, errlen) != 0) return PF_EUSAGE;
      /* 0 used to fall back to 10 s without a word; a probe on every request is not offered. */
      if (o->health_interval_ms <= 0)
        return pf_seterr(err, errlen, PF_EUSAGE, "%s: must be more than 0 (how long a probe's result is reused)", name);
      break;
    case PF__OPT_FALLBACK_ROOT: o->fallback_root = val; break;
  }
  return 0;
}

int pf_options_parse(int argc, char **argv, pf_options_t *o, char *err, size_t errlen) {
  memset(o, 0, sizeof(*o));
  o->command = PF_CMD_RUN;
  o->timeout_ms = -1;
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
    if (id == 0) return pf_seterr(err, errlen, PF_EUSAGE, "unknown option %s (see preflight --help)", a);
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
  if (o->command != PF_CMD_SNAPSHOT && (o->nschemas || o->ntables))
    return pf_seterr(err, errlen, PF_EUSAGE, "--schema and --table belong to the snapshot command");
  if (o->json_stdout && o->command != PF_CMD_CHECK)
    return pf_seterr(err, errlen, PF_EUSAGE, "--format belongs to the check command");
  if (o->health_listen && !o->init)
    return pf_seterr(err, errlen, PF_EUSAGE, "--health-listen needs --init");
  return 0;
}

void pf_options_free(pf_options_t *o) {
  free(o->schemas);
  free(o->tables);
  o->schemas = NULL;
  o->tables = NULL;
}

const char *pf_options_manifest_path(const pf_options_t *o) {
  if (o->manifest_path) return o->manifest_path;
  if (access("preflight.yaml", F_OK) == 0) return "preflight.yaml";
  return "/etc/preflight/preflight.yaml";
}

void pf_options_resolve(const pf_options_t *o, pf_manifest_t *m) {
  if (o->timeout_ms >= 0) m->wait_timeout_ms = o->timeout_ms;
  if (o->check_mode) m->mode = PF_MODE_CHECK;
  if (o->database_url) {
    free(m->database_url);
    m->database_url = pf_xstrdup(o->database_url);
  }
}
