/* The manifest: what the application needs from the database, loaded from YAML and validated
 * completely before any network activity.
 *
 * The manifest is flattened into one array of items in manifest order; a table's columns follow
 * it as items of kind PF_KIND_COLUMN that point back at the table. The pf_kind_t order is the
 * dependency order in which fallbacks run. */
#ifndef PREFLIGHT_MANIFEST_H
#define PREFLIGHT_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "preflight/util.h"

/* The default size limit of manifests and fallback files alike. It keeps a wrong path (a disk
 * image, /dev/zero) from being read into memory; PREFLIGHT_MANIFEST_MAX_BYTES changes it, up to
 * PF_MANIFEST_MAX_LIMIT. A 32,000-item manifest is about 2 MB. */
#define PF_MANIFEST_MAX_BYTES (16u * 1024u * 1024u)
#define PF_MANIFEST_MAX_LIMIT ((unsigned long long)1024 * 1024 * 1024)
#define PF_NO_PARENT SIZE_MAX

/* Declaration order is fallback order: roles and extensions first, free checks last. */
#define PF_KIND_MAP(XX)                     \
  XX(ROLE,       "role",       "roles")       \
  XX(EXTENSION,  "extension",  "extensions")  \
  XX(SCHEMA,     "schema",     "schemas")     \
  XX(TYPE,       "type",       "types")       \
  XX(SEQUENCE,   "sequence",   "sequences")   \
  XX(TABLE,      "table",      "tables")      \
  XX(COLUMN,     "column",     "columns")     \
  XX(VIEW,       "view",       "views")       \
  XX(FUNCTION,   "function",   "functions")   \
  XX(INDEX,      "index",      "indexes")     \
  XX(CONSTRAINT, "constraint", "constraints") \
  XX(TRIGGER,    "trigger",    "triggers")    \
  XX(POLICY,     "policy",     "policies")    \
  XX(GRANT,      "grant",      "grants")      \
  XX(MIGRATION,  "migration",  "migrations")  \
  XX(CHECK,      "check",      "checks")

typedef enum {
#define PF__KIND_ENUM(name, singular, plural) PF_KIND_##name,
  PF_KIND_MAP(PF__KIND_ENUM)
#undef PF__KIND_ENUM
  PF_KIND__COUNT
} pf_kind_t;

typedef enum { PF_SEVERITY_ERROR = 0, PF_SEVERITY_WARN = 1 } pf_severity_t;
typedef enum { PF_MODE_APPLY = 0, PF_MODE_CHECK = 1 } pf_mode_t;
typedef enum { PF_MIGRATE_WHEN_MISSING = 0, PF_MIGRATE_WHEN_ALWAYS = 1 } pf_migrate_when_t;

/* An optional boolean attribute: PF_UNSET when the manifest does not mention it. */
#define PF_UNSET (-1)

typedef struct {
  pf_kind_t kind;
  int line, column;     /* 1-based position of the item in the manifest */
  size_t parent;        /* columns: index of their table in pf_manifest_t.items; else PF_NO_PARENT */

  /* Exact catalog names, never case-folded or unquoted. `schema` is the explicit `schema:` key,
   * else the part before the first dot of `name:`, else defaults.schema; NULL for kinds that live
   * outside schemas (role, extension, schema, grant, migration, check). For a function, `name` is
   * the part of the signature before "(", and `args` the text between the parentheses. */
  char *schema;
  char *name;
  char *table_schema;   /* owning table of columns, indexes, constraints, triggers, policies */
  char *table;
  char *display;        /* how logs and reports name it: "public.users.avatar_url",
                           "public.get_nodes_system(uuid, integer)", a check's name */

  /* What only one kind has: a union, so an item is not the sum of every kind's fields (at 32,000
   * items each pointer costs 256 KB, and on the machines CI uses fresh memory is slow to touch).
   * Read a field only from an item of its kind: in another kind's item it holds that kind's. */
  union {
    struct {            /* columns */
      char *type;       /* as written, e.g. "varchar(255)"; NULL = any type */
      char *default_expr; /* `default:`, compared with pg_get_expr */
      char *identity;   /* `identity: always | by default` */
      char *generated;  /* `generated: stored | virtual` */
    };
    struct {            /* functions */
      char *args;
      char *returns;    /* NULL = any */
    };
    struct {            /* checks */
      char *sql;
    };
    struct {            /* indexes, constraints */
      char *constraint_type;  /* primary_key | foreign_key | unique | check | exclusion */
      char *references;       /* "auth.users(id)" */
    };
    struct {            /* triggers: `enabled: origin | always | replica | disabled`; NULL = fires in ordinary sessions */
      char *trigger_enabled;
    };
    struct {            /* grants: `role` holds `values` on `on` ("table users", "function f(int)", "schema s", "sequence q") */
      char *role;
      char *on;
    };
    struct {            /* extensions (minimum version), migrations (version at least) */
      char *version;
      char *tool;       /* migrations: alembic | prisma | flyway | golang-migrate | dbmate | rails | knex */
    };
  };
  /* functions */
  int procedure;        /* `kind: procedure` -> 1 */
  int security_definer; /* `security: definer` -> 1, `invoker` -> 0 */
  /* columns */
  int nullable;         /* PF_UNSET, 0, 1 */
  /* tables */
  int row_level_security;
  /* views */
  int materialized;
  /* indexes, constraints */
  int unique;
  /* roles */
  int login;
  /* types (enum labels), grants (privileges) */
  char **values;
  size_t nvalues;

  /* How to repair it. `fallback` is the SQL text, inline or read from `fallback_file` at load
   * time; `fallback_file` keeps the path as written, for messages. `fallback_line` is the manifest
   * line where inline SQL starts (1 for a file), so a PostgreSQL error position can be turned into
   * a line of the right file. */
  char *fallback;
  char *fallback_file;
  char *fallback_path;  /* fallback_file resolved against the manifest's folder */
  int fallback_line;
  bool transaction;     /* default true; false: run after the commit, outside the transaction */
  pf_severity_t severity;
} pf_item_t;

/* Every string of a manifest and its items lives in the manifest's arena: nothing in it is freed
 * on its own, and pf_manifest_free releases all of it at once. */
typedef struct {
  struct pf_arena *arena;
  char *path;           /* the manifest's path as given */
  char *dir;            /* its folder; fallback_file paths are relative to it */
  int version;

  /* database: and wait: (after ${VAR} / ${VAR:-default} expansion). Unset values hold the
   * built-in defaults, so options only ever override. */
  char *database_url;   /* NULL when absent or expanded to "" */
  int64_t connect_timeout_ms;   /* default 5s */
  int64_t db_statement_timeout_ms; /* database.statement_timeout: bounds every query preflight
                                      itself sends (catalog, checks, migration history); default
                                      30s; 0 = no limit */
  int64_t wait_timeout_ms;      /* default 60s; 0 = no limit */
  int64_t wait_interval_ms;     /* default 50ms */
  int64_t wait_max_interval_ms; /* default 500ms (never below the interval) */
  bool has_wait_timeout;        /* the manifest set wait.timeout itself */
  char **services;              /* wait.services: URLs checked by pf_service_parse (services.h) */
  size_t nservices;
  int64_t await_schema_ms;      /* wait.schema: await missing objects this long; default 0 = not */
  int64_t await_interval_ms;    /* wait.schema_interval: default 250ms */

  /* migrate: the application's own migration command. */
  char **migrate_argv;          /* NULL-terminated; NULL when there is no migrate.command. A string
                                   command is {"/bin/sh", "-c", string} */
  char *migrate_display;        /* the command as written, for messages and the report */
  pf_migrate_when_t migrate_when;   /* default missing */
  int64_t migrate_timeout_ms;   /* default 0 = no limit */
  char *migrate_workdir;        /* resolved against the manifest's folder; NULL = preflight's cwd */
  int migrate_line;             /* where migrate.command is, for messages */

  /* fallback: */
  pf_mode_t mode;               /* default apply */
  char *lock_key;               /* default "preflight" */
  int64_t lock_timeout_ms;      /* default 5s */
  int64_t statement_timeout_ms; /* default 5min */
  char *after;                  /* NULL when absent */

  char *default_schema;         /* default "public" */

  pf_item_t *items;
  size_t nitems;
} pf_manifest_t;

/* fallback_file paths must resolve (symlinks and ".." followed) to a file inside this folder;
 * NULL, the default, means the manifest's own folder. Set from --fallback-root before loading. */
void pf_manifest_set_fallback_root(const char *dir);

/* Reads, parses and validates the manifest at `path`, including every fallback_file. Returns 0, or
 * PF_ECONFIG with "file:line:column: message" in err (PF_EIO is never returned: an unreadable file
 * is a configuration error too). On failure *m is left empty and needs no pf_manifest_free. */
int pf_manifest_load(const char *path, pf_manifest_t *m, char *err, size_t errlen) PF_MUST_CHECK;

/* The same for a manifest already in memory; `path` is used in messages and `dir` to resolve
 * fallback_file. This is the entry point of the fuzz target. */
int pf_manifest_parse(const char *text, size_t len, const char *path, const char *dir,
                      pf_manifest_t *m, char *err, size_t errlen) PF_MUST_CHECK;

void pf_manifest_free(pf_manifest_t *m);
/* Fills order[] (m->nitems entries) with the item indexes grouped by kind (kind order, manifest
 * order within a kind: dependency order). With `phases`, the `transaction: true` items come
 * first, grouped so, then the others. start, when not NULL (PF_KIND__COUNT + 1 entries, without
 * phases), receives where each kind's run begins: kind k is order[start[k]] .. order[start[k+1]-1].
 * One stable counting sort for the verification query, the fallbacks and the run's summary. */
void pf_manifest_kind_order(const pf_manifest_t *m, bool phases, size_t *order, size_t *start);

/* Copies s into the manifest's arena, for a caller that overrides a string setting (options
 * over database.url): the result lives and is freed with the manifest; never free() it. */
char *pf_manifest_strdup(pf_manifest_t *m, const char *s);
/* Returns n bytes from the manifest's arena (aligned for any type), the same way. */
void *pf_manifest_alloc(pf_manifest_t *m, size_t n);

/* Sets *out to the size limit for manifests and fallback files: PREFLIGHT_MANIFEST_MAX_BYTES
 * (bytes, or with a K/KiB, M/MiB or G/GiB suffix; at most 1 GiB) when set, else
 * PF_MANIFEST_MAX_BYTES. Returns 0, or PF_ECONFIG with a message naming the variable. Snapshots
 * use it too, so that what `snapshot` writes `check` can read. */
int pf_manifest_max_bytes(size_t *out, char *err, size_t errlen) PF_MUST_CHECK;

/* "table", "column", ...: the kind's name in reports. */
const char *pf_kind_name(pf_kind_t kind);
/* "tables", "columns", ...: the manifest key of a kind's list. */
const char *pf_kind_key(pf_kind_t kind);

#endif
