/* The outcome of a run: the contract's JSON report, the per-item log lines and the summary. */
#ifndef PREFLIGHT_REPORT_H
#define PREFLIGHT_REPORT_H

#include <stdint.h>

#include "preflight/catalog.h"
#include "preflight/fallback.h"
#include "preflight/manifest.h"
#include "preflight/migrate.h"

typedef struct {
  const char *status;            /* ok | fixed | missing | failed | unavailable */
  const char *error;             /* the failure, for failed / unavailable; NULL otherwise */
  const char *host, *port, *dbname, *server_version;   /* NULL when never connected */
  int64_t wait_ms, verify_ms, fallback_ms, total_ms;
  int round_trips;               /* queries sent by verification, all passes */
  const pf_manifest_t *m;
  const pf_verify_t *before;     /* first verification; NULL if none */
  const pf_verify_t *after;      /* final verification; NULL if none */
  const pf_fallback_t *fb;       /* NULL if no fallback ran */
  int64_t await_ms;              /* time spent awaiting the schema (wait.schema) */
  /* migrate: (NULL migrate_command when the manifest has none) */
  const char *migrate_command;
  const pf_migrate_result_t *migrate;   /* NULL when it did not run */
  const char *migrate_skipped;   /* why it did not run: "schema complete", "done by another replica" */
} pf_report_t;

/* Returns the report as one JSON document (newly allocated, ending in a newline), scrubbed of
 * passwords like every log line. */
char *pf_report_json(const pf_report_t *r);

/* Writes text to path: a regular file (or a new one) atomically, through an exclusively created
 * temporary file with an unpredictable name and a rename; anything else (a device such as
 * /dev/null, a FIFO, a symlink such as /dev/stdout) directly, without replacing it, and never a
 * block device. Returns 0 or PF_EIO with err. */
int pf_report_write(const char *path, const char *text, char *err, size_t errlen) PF_MUST_CHECK;

/* Logs one line per item that is not present (error for required, warn for severity warn), one
 * per item created, and the summary line: checked, missing, created, timings. */
void pf_report_log(const pf_report_t *r);

/* The status word of item i in the report: present, missing, created, failed or warned. */
const char *pf_report_item_status(const pf_report_t *r, size_t i);

#endif
