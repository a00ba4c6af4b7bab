/* Migrations' part of verification (catalog_migrations.c): the branch and judge that
 * catalog_kinds.c lists, and the history read catalog.c runs after the main query. Not part of
 * any public header. */
#ifndef PREFLIGHT_CATALOG_MIGRATIONS_H
#define PREFLIGHT_CATALOG_MIGRATIONS_H

#include <libpq-fe.h>

#include "catalog_query.h"

/* Adds the migrations branch: only whether each history table exists. */
void pf__branch_migrations(pf__qb_t *qb, const pf_manifest_t *m);
/* Marks a migration whose table exists as present until its history has been read. */
void pf__judge_migration(const pf_manifest_t *m, const pf_item_t *it, PGresult *r, int row, pf_item_state_t *st);

/* Reads the history tables of migrations whose table exists (one round trip for all of them)
 * and marks those below their version, or dirty. Returns 0, PF_EDB or PF_ESIGNAL. */
int pf__verify_migrations(pf_db_t *db, const pf_manifest_t *m, pf_verify_t *v, int *round_trips);

/* The history table name of a migration item's tool. */
const char *pf__migration_table(const pf_item_t *it);

#endif
