/* The command line and the PREFLIGHT_* environment, parsed into one structure. Manifest values
 * and built-in defaults are merged later (pf_options_resolve), giving the contract's precedence:
 * command line > environment > manifest > default. */
#ifndef PREFLIGHT_OPTIONS_H
#define PREFLIGHT_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "preflight/log.h"
#include "preflight/manifest.h"

typedef enum {
  PF_CMD_RUN,
  PF_CMD_CHECK,
  PF_CMD_WAIT,
  PF_CMD_LINT,
  PF_CMD_SNAPSHOT,
  PF_CMD_HELP,
  PF_CMD_VERSION,
  PF_CMD_SCHEMA
} pf_command_t;

typedef struct {
  pf_command_t command;
  const char *manifest_path;      /* -f / PREFLIGHT_MANIFEST; NULL: the default search */
  const char *database_url;       /* -d / DATABASE_URL; NULL: manifest, then PG* */
  int64_t timeout_ms;             /* -t / PREFLIGHT_TIMEOUT; -1 unset */
  int64_t statement_timeout_ms;   /* --statement-timeout / PREFLIGHT_STATEMENT_TIMEOUT; -1 unset */
  int64_t await_schema_ms;        /* --await-schema / PREFLIGHT_AWAIT_SCHEMA (wait.schema); -1 unset */
  bool check_mode;                /* --check / PREFLIGHT_MODE=check, or the check command */
  bool init;                      /* --init / PREFLIGHT_INIT=1 */
  bool init_group;                /* --init-group */
  const char *health_listen;      /* --health-listen ADDR:PORT / PREFLIGHT_HEALTH_LISTEN */
  bool health_listen_env;         /* health_listen came from the environment */
  int64_t health_interval_ms;     /* --health-interval / PREFLIGHT_HEALTH_INTERVAL; default 10s */
  const char **services;          /* --service (repeatable) / PREFLIGHT_SERVICES; NULL: the manifest's */
  int nservices;
  bool services_set;              /* either was given (an empty PREFLIGHT_SERVICES clears the list) */
  char *services_buf;             /* owns PREFLIGHT_SERVICES's split copy */
  char *database_url_buf;         /* owns what DATABASE_URL_FILE held */
  char *pgpassword_buf;           /* owns what PGPASSWORD_FILE held (exported as PGPASSWORD) */
  pf_log_format_t log_format;
  pf_log_level_t log_level;
  const char *report_path;        /* --report / PREFLIGHT_REPORT */
  const char *fallback_root;      /* --fallback-root / PREFLIGHT_FALLBACK_ROOT; NULL: the manifest's folder */
  bool json_stdout;               /* check --format json */
  const char **schemas;           /* snapshot --schema (repeatable) */
  int nschemas;
  const char **tables;            /* snapshot --table (repeatable) */
  int ntables;
  bool partitions;                /* snapshot --partitions */
  char **cmd;                     /* COMMAND [ARG...], NULL-terminated; NULL when none */
  int ncmd;
} pf_options_t;

/* Parses argv and the environment. Returns 0, or PF_EUSAGE (a bad option, or a boolean variable
 * that is not a boolean) / PF_ECONFIG (another bad value in the environment, an unreadable
 * DATABASE_URL_FILE or PGPASSWORD_FILE) with a one-line message in err. The result points into
 * argv and environ. PGPASSWORD_FILE's contents are exported as PGPASSWORD (when PGPASSWORD is
 * unset), because that is where libpq and any migration command look for it.
 *
 * Options end at the first argument that is not one, or at "--". A "--" that comes first (after
 * the subcommand, if any) only says that no subcommand follows: options may still follow it, up to
 * the command or a second "--". So `ENTRYPOINT ["preflight", "--"]` with `CMD ["--init", "node",
 * "app.js"]` works, and `preflight -- -- -weird` runs a command named "-weird". */
int pf_options_parse(int argc, char **argv, pf_options_t *o, char *err, size_t errlen) PF_MUST_CHECK;

void pf_options_free(pf_options_t *o);

/* Returns the manifest path to load: the option, else ./preflight.yaml if it exists, else
 * /etc/preflight/preflight.yaml. */
const char *pf_options_manifest_path(const pf_options_t *o);

/* Like pf_options_manifest_path, but fails with PF_ECONFIG when the manifest does not exist, with
 * a message that names every path tried and says how to write one (preflight snapshot). */
int pf_options_find_manifest(const pf_options_t *o, const char **path, char *err, size_t errlen) PF_MUST_CHECK;

/* Parses a boolean environment value: 1/0, true/false, yes/no, on/off in any case. Returns 0 with
 * *out set, or PF_EUSAGE naming `var`. */
int pf_options_bool(const char *var, const char *value, bool *out, char *err, size_t errlen) PF_MUST_CHECK;

/* Applies the command line and environment over the manifest's values (which already hold the
 * built-in defaults). */
void pf_options_resolve(const pf_options_t *o, pf_manifest_t *m);

/* Prints the --help text to stdout. */
void pf_options_usage(void);

#endif
