/* Migrations: whether each migration tool's history table exists (a branch of the one
 * verification query) and, in one more round trip, whether its history reaches the declared
 * version. Below catalog_kinds.c (which lists its branch and judge) and catalog.c (which runs
 * the history read); it builds only on catalog_query.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog_migrations.h"
#include "preflight/db.h"

/* Each tool's history table, and a SELECT over it returning (applied versions joined by
 * commas, dirty) — "dirty" is the tool's own word for a migration that started and never
 * finished: golang-migrate's dirty flag, Prisma's unfinished rows, Flyway's failed ones. */
static const struct {
  const char *tool;
  const char *table;
  const char *select;
} pf__migration_tools[] = {
    {"alembic", "alembic_version", "string_agg(version_num::text, ','), false"},
    {"prisma", "_prisma_migrations",
     "string_agg(migration_name, ',') FILTER (WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL),"
     " coalesce(bool_or(finished_at IS NULL AND rolled_back_at IS NULL), false)"},
    {"flyway", "flyway_schema_history", "string_agg(version, ',') FILTER (WHERE success), coalesce(bool_or(NOT success), false)"},
    {"golang-migrate", "schema_migrations", "string_agg(version::text, ','), coalesce(bool_or(dirty), false)"},
    {"dbmate", "schema_migrations", "string_agg(version::text, ','), false"},
    {"rails", "schema_migrations", "string_agg(version::text, ','), false"},
    {"knex", "knex_migrations", "string_agg(name, ','), false"},
};

/* Returns the index of the item's tool in pf__migration_tools (the parser allows no other). */
static size_t pf__migration_tool(const pf_item_t *it) {
  for (size_t k = 0; k < PF_ARRAY_SIZE(pf__migration_tools); k++)
    if (strcmp(pf__migration_tools[k].tool, it->tool) == 0) return k;
  return 0;
}

/* The schema of a migration's history table: the manifest's default schema unless given. */
static const char *pf__migration_schema(const pf_manifest_t *m, const pf_item_t *it) {
  return it->schema ? it->schema : m->default_schema;
}

static const char *pf__f_mig_schema(const pf_manifest_t *m, const pf_item_t *it) { return pf__migration_schema(m, it); }
static const char *pf__f_mig_table(const pf_manifest_t *m, const pf_item_t *it) { return pf__migration_table(it); }

/* In the main query, migrations only ask whether their history table exists; the table's
 * contents are read by pf__verify_migrations in one more round trip, because a statement cannot
 * name a table that may not exist. */
void pf__branch_migrations(pf__qb_t *qb, const pf_manifest_t *m) {
  static const pf__field_fn f[] = {pf__f_mig_schema, pf__f_mig_table};
  pf__simple_branch(qb, m, PF__KM(PF_KIND_MIGRATION), 2, f, "c.oid IS NOT NULL, NULL, NULL, NULL, NULL, NULL, NULL",
                    "i, s, n",
                    "LEFT JOIN pg_catalog.pg_namespace ns ON ns.nspname = t.s\n"
                    "LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = ns.oid AND c.relname = t.n");
}


const char *pf__migration_table(const pf_item_t *it) { return pf__migration_tools[pf__migration_tool(it)].table; }

/* Marks a migration whose table exists as present until its history has been read. */
void pf__judge_migration(const pf_manifest_t *m, const pf_item_t *it, PGresult *r, int row, pf_item_state_t *st) {
  pf__set(st, PF_OBJ_PRESENT, NULL, NULL, NULL);
}

/* Whether a comma-joined list of applied versions reaches `want`: it contains it, or (except for
 * alembic, whose revisions are hashes without order) its highest version compares >= want. */
static bool pf__migration_reached(const char *tool, const char *applied, const char *want, char *best, size_t bestlen) {
  bool reached = false;
  best[0] = '\0';
  const char *p = applied;
  while (p && *p) {
    const char *comma = strchr(p, ',');
    size_t n = comma ? (size_t)(comma - p) : strlen(p);
    char v[256];
    snprintf(v, sizeof(v), "%.*s", (int)n, p);
    if (strcmp(v, want) == 0) reached = true;
    if (!best[0] || pf_catalog_version_cmp(v, best) > 0) snprintf(best, bestlen, "%s", v);
    p = comma ? comma + 1 : NULL;
  }
  if (!reached && best[0] && strcmp(tool, "alembic") != 0 && pf_catalog_version_cmp(best, want) >= 0) reached = true;
  return reached;
}

int pf__verify_migrations(pf_db_t *db, const pf_manifest_t *m, pf_verify_t *v, int *round_trips) {
  pf_buf_t sql = {0};
  int n = 0;
  for (size_t i = 0; i < m->nitems; i++) {
    const pf_item_t *it = &m->items[i];
    if (it->kind != PF_KIND_MIGRATION || v->items[i].state != PF_OBJ_PRESENT) continue;
    size_t k = pf__migration_tool(it);
    /* Identifiers cannot be parameters: both parts are quoted, and the table name is ours. */
    pf_buf_printf(&sql, "%sSELECT %zu, %s FROM ", n++ ? "\nUNION ALL\n" : "", i, pf__migration_tools[k].select);
    pf__quote_ident(&sql, pf__migration_schema(m, it));
    pf_buf_putc(&sql, '.');
    pf__quote_ident(&sql, pf__migration_tools[k].table);
  }
  if (n == 0) return 0;
  /* Bounded like every verification query (a deadline: this runs outside any transaction). */
  int r = pf_db_query(db, sql.data, 0, NULL, m->db_statement_timeout_ms);
  (*round_trips)++;
  pf_buf_free(&sql);
  if (r != 0) return r;
  PGresult *res = pf_db_result(db);
  for (int row = 0; row < PQntuples(res); row++) {
    size_t i = (size_t)strtoul(PQgetvalue(res, row, 0), NULL, 10);
    if (i >= m->nitems) continue;
    const pf_item_t *it = &m->items[i];
    char best[256];
    bool reached = pf__migration_reached(it->tool, pf__cell(res, row, 1), it->version, best, sizeof(best));
    if (pf__true(pf__cell(res, row, 2)))
      pf__mismatch(&v->items[i], "clean", "dirty", "%s history has a failed or unfinished migration (dirty)", it->tool);
    else if (!reached)
      pf__mismatch(&v->items[i], it->version, best[0] ? best : "none", "%s history is at %s, expected at least %s", it->tool,
                   best[0] ? best : "no migration", it->version);
  }
  return 0;
}
