/* Test driver for src/snapshot.c: connects once (no waiting) and prints the snapshot, as
 * `preflight snapshot` does once main.c wires it in.
 *
 *   snapshot_driver -d URL [--schema S]... [--table T]... [--default-schema S]
 *
 * Exits 0, 69 for a database error, 74 when stdout cannot be written, 64 for a usage error, 128+N
 * when stopped by signal N. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "preflight/db.h"
#include "preflight/error.h"
#include "preflight/log.h"
#include "preflight/signals.h"
#include "preflight/snapshot.h"

int main(int argc, char **argv) {
  const char *url = NULL, *default_schema = "public";
  const char **schemas = calloc((size_t)argc, sizeof(char *));
  const char **tables = calloc((size_t)argc, sizeof(char *));
  int nschemas = 0, ntables = 0;
  bool partitions = false;
  pf_log_setup(PF_LOG_TEXT, PF_LOG_INFO);
  for (int i = 1; i < argc; i++) {
    if (i + 1 < argc && (strcmp(argv[i], "-d") == 0 || strcmp(argv[i], "--database-url") == 0)) url = argv[++i];
    else if (i + 1 < argc && strcmp(argv[i], "--schema") == 0) schemas[nschemas++] = argv[++i];
    else if (i + 1 < argc && strcmp(argv[i], "--table") == 0) tables[ntables++] = argv[++i];
    else if (i + 1 < argc && strcmp(argv[i], "--default-schema") == 0) default_schema = argv[++i];
    else if (strcmp(argv[i], "--partitions") == 0) partitions = true;
    else {
      fprintf(stderr, "snapshot_driver: unknown argument %s\n", argv[i]);
      return 64;
    }
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  pf_signals_install(&loop);
  pf_db_t *db = pf_db_new(&loop);
  char err[2048] = "";
  int r = pf_db_connect(db, url, 10000);
  if (r != 0) snprintf(err, sizeof(err), "cannot connect: %s", pf_db_last_error(db)->message);
  if (r == 0) r = pf_snapshot_write(db, schemas, nschemas, tables, ntables, default_schema, partitions, stdout, err, sizeof(err));
  if (r == PF_ESIGNAL) fprintf(stderr, "snapshot_driver: stopped by signal %d\n", pf_signals_caught());
  else if (r != 0) fprintf(stderr, "snapshot_driver: %s\n", err);
  int status = r == 0 ? 0 : r == PF_ESIGNAL ? 128 + pf_signals_caught() : pf_exit_status(r);
  pf_db_free(db);
  pf_signals_close();
  uv_run(&loop, UV_RUN_NOWAIT);
  uv_loop_close(&loop);
  free(schemas);
  free(tables);
  return status;
}
