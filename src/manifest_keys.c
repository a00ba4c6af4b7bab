/* The manifest's tables (see manifest_keys.h) and the table-driven reader that applies them. To
 * add a key: add one line to its section's or kind's table, with a description; the parser, the
 * "did you mean" suggestions and `preflight schema` all follow. */
#include "manifest_keys.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "preflight/error.h"
#include "preflight/service_url.h"
#include "preflight/typename.h"

/* ---- enums ---- */

static const char *const pf__identity_choices[] = {"always", "by default", NULL};
static const char *const pf__generated_choices[] = {"stored", "virtual", NULL};
static const char *const pf__constraint_choices[] = {"primary_key", "foreign_key", "unique",
                                                     "check", "exclusion", "not_null", NULL};
static const char *const pf__enabled_choices[] = {"origin", "always", "replica", "disabled", NULL};
static const char *const pf__fkind_choices[] = {"function", "procedure", NULL};
static const char *const pf__security_choices[] = {"invoker", "definer", NULL};
static const char *const pf__severity_choices[] = {"error", "warn", NULL};
static const char *const pf__tool_choices[] = {"alembic", "dbmate", "flyway", "golang-migrate",
                                               "knex", "prisma", "rails", NULL};
static const char *const pf__mode_choices[] = {"apply", "check", NULL};
static const char *const pf__when_choices[] = {"missing", "always", NULL};
/* Privileges that GRANT and the has_*_privilege functions understand, compared without case. */
const char *const pf_mprivileges[] = {
    "SELECT",  "INSERT",  "UPDATE",    "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER",
    "USAGE",   "EXECUTE", "CREATE",    "CONNECT", "TEMPORARY", "TEMP",     "ALL",
    "ALL PRIVILEGES", "MAINTAIN", "SET", "ALTER SYSTEM", NULL,
};

/* ---- patterns: each is the schema's form of a check the parser makes in C ---- */

/* A column type (typename.c's grammar, approximately): name characters and quoted names, with
 * at most one list of type modifiers ((10,2), (3,-1), (Polygon,4326)). */
#define PF__TYPE_CHARS "\"(?:[^\"]|\"\")+\"|[A-Za-z0-9_ .$\\[\\]]|[^\\x00-\\x7f]"
static const char pf__coltype_pattern[] =
    "^(?:" PF__TYPE_CHARS ")+(?:\\([A-Za-z0-9_ ,+.\\-]+\\)(?:" PF__TYPE_CHARS ")*)?$";
static const char pf__signature_pattern[] = "^[^(]+\\([\\s\\S]*\\)$";
static const char pf__on_pattern[] = "^(?:table|sequence|function|schema) [\\s\\S]";
/* A table reference splits at its first dot, and neither side may be empty. */
static const char pf__tableref_pattern[] = "^[^.]+(?:\\.[\\s\\S]+)?$";

/* Checks a column type; see manifest_keys.h. A name that PostgreSQL would read but refuse
 * (database.schema.name) passes: verification reports it on its own item. */
const char *pf_mcheck_coltype(const char *t) {
  static char why[200];
  pf_typename_t parsed;
  if (!pf_typename_parse(t, &parsed, why, sizeof(why))) return why;
  pf_typename_free(&parsed);
  return NULL;
}

/* ---- custom readers ---- */

/* Reads `wait.services`: a list of service URLs (service_url.h), ${VAR}-expanded, each checked
 * now so that a typo fails start-up at its line. */
static int pf__mservices(pf__mctx_t *c, const pf_mkey_t *k, const pf_ynode_t *list,
                         const char *where, void *target) {
  pf_manifest_t *m = target;
  char field[160];
  pf__mfield(field, sizeof(field), where, k->key);
  if (list->kind != PF_YNODE_SEQUENCE)
    return pf__merr(c, list, field, "expected a list of URLs, got %s", pf_ynode_describe(list));
  m->services = pf_arena_calloc(c->arena, list->n ? list->n : 1, sizeof(*m->services));
  m->nservices = 0;
  for (size_t i = 0; i < list->n; i++) {
    char *url, why[512];
    int rc = pf__mstring(c, list->items[i], where, k->key, true, false, &url);
    if (rc != 0) return rc;
    pf_service_t svc;
    if (pf_service_parse(url, &svc, why, sizeof(why)) != 0)
      return pf__merr(c, list->items[i], field, "%s", why);
    pf_service_free(&svc);
    m->services[m->nservices++] = url;
  }
  return 0;
}

/* Reads migrate.command: an argv list of strings, or one string run with /bin/sh -c. */
static int pf__mmigrate_command(pf__mctx_t *c, const pf_mkey_t *k, const pf_ynode_t *v,
                                const char *where, void *target) {
  pf_manifest_t *m = target;
  pf_arena_t *a = c->arena;
  char field[160];
  pf__mfield(field, sizeof(field), where, k->key);
  m->migrate_line = v->line;
  if (v->kind == PF_YNODE_SCALAR) {
    char *s;
    int rc = pf__mstring(c, v, where, k->key, false, false, &s);
    if (rc != 0) return rc;
    m->migrate_argv = pf_arena_calloc(a, 4, sizeof(char *));
    m->migrate_argv[0] = "/bin/sh";
    m->migrate_argv[1] = "-c";
    m->migrate_argv[2] = s;
    m->migrate_display = s;
    return 0;
  }
  if (v->kind != PF_YNODE_SEQUENCE || v->n == 0)
    return pf__merr(c, v, field, "expected a list of words or a shell command string, got %s",
                    v->kind == PF_YNODE_SEQUENCE ? "an empty list" : pf_ynode_describe(v));
  char **argv = pf_arena_calloc(a, v->n + 1, sizeof(char *));
  for (size_t i = 0; i < v->n; i++) {
    const pf_ynode_t *w = v->items[i];
    if (w->kind != PF_YNODE_SCALAR || pf_ynode_is_null(w))
      return pf__merr(c, w, field, "word %zu: expected a string, got %s", i + 1,
                      pf_ynode_describe(w));
    argv[i] = pf_arena_strndup(a, w->text, w->len);
  }
  if (argv[0][0] == '\0')
    return pf__merr(c, v->items[0], field, "the program name must not be empty");
  pf_buf_t b = {0};
  for (size_t i = 0; i < v->n; i++) pf_buf_printf(&b, "%s%s", i ? " " : "", argv[i]);
  m->migrate_argv = argv;
  m->migrate_display = pf_arena_strndup(a, b.data, b.len);
  pf_buf_free(&b);
  return 0;
}

/* Reads migrate.workdir, resolved against the manifest's folder. */
static int pf__mmigrate_workdir(pf__mctx_t *c, const pf_mkey_t *k, const pf_ynode_t *v,
                                const char *where, void *target) {
  pf_manifest_t *m = target;
  char *w;
  int rc = pf__mstring(c, v, where, k->key, false, false, &w);
  if (rc != 0) return rc;
  m->migrate_workdir = w[0] == '/' ? w : pf_arena_printf(c->arena, "%s/%s", c->dir, w);
  return 0;
}

static const char pf__command_schema[] =
    "{\"oneOf\": [{\"type\": \"string\", \"minLength\": 1}, {\"type\": \"array\", \"minItems\": 1, "
    "\"items\": {\"type\": [\"string\", \"number\", \"boolean\"]}}]}";
static const char pf__workdir_schema[] = "{\"type\": [\"string\", \"number\"], \"minLength\": 1}";

static const char pf__services_schema[] =
    "{\"type\": \"array\", \"items\": {\"type\": \"string\", \"pattern\": "
    "\"^(?:[Tt][Cc][Pp]|[Hh][Tt][Tt][Pp]|[Rr][Ee][Dd][Ii][Ss])://|\\\\$\\\\{\"}}";

/* ---- sections ---- */

#define PF__M(field) offsetof(pf_manifest_t, field)
#define PF__I(field) offsetof(pf_item_t, field)
#define PF__S(field) offsetof(pf_mslots_t, field)

static const pf_mkey_t pf__database_keys[] = {
    {.key = "url", .value = PF_MV_STRING, .store = PF_MS_STR, .off = PF__M(database_url),
     .flags = PF_MK_EXPAND | PF_MK_UNSET_OK,
     .desc = "libpq connection string or postgres:// URL, usually ${DATABASE_URL}. Empty or "
             "absent: DATABASE_URL, then libpq's PG* variables."},
    {.key = "connect_timeout", .value = PF_MV_DURATION, .store = PF_MS_MS,
     .off = PF__M(connect_timeout_ms), .flags = PF_MK_EXPAND,
     .desc = "Time limit of one connection attempt (default 5s)."},
    {.key = "statement_timeout", .value = PF_MV_DURATION, .store = PF_MS_MS,
     .off = PF__M(db_statement_timeout_ms), .flags = PF_MK_EXPAND,
     .desc = "Bounds every query preflight itself sends: catalog, checks, migration history "
             "(default 30s; 0 = no limit)."},
};
static const pf_msection_t pf__database = {
    "database", "How to reach PostgreSQL. Values are ${VAR} / ${VAR:-default} expanded.",
    pf__database_keys, PF_ARRAY_SIZE(pf__database_keys)};

static const pf_mkey_t pf__wait_keys[] = {
    {.key = "timeout", .value = PF_MV_DURATION, .store = PF_MS_MS, .off = PF__M(wait_timeout_ms),
     .flags = PF_MK_EXPAND,
     .desc = "Total budget to reach a ready database (default 60s; 0 = no limit)."},
    {.key = "interval", .value = PF_MV_DURATION, .store = PF_MS_MS, .off = PF__M(wait_interval_ms),
     .flags = PF_MK_EXPAND,
     .desc = "First retry delay (default 50ms); it grows with jitter up to max_interval."},
    {.key = "max_interval", .value = PF_MV_DURATION, .store = PF_MS_MS,
     .off = PF__M(wait_max_interval_ms), .flags = PF_MK_EXPAND,
     .desc = "Longest retry delay (default 500ms, never below interval)."},
    {.key = "services", .value = PF_MV_CUSTOM, .store = PF_MS_NONE, .flags = PF_MK_EXPAND,
     .parse = pf__mservices, .schema_json = pf__services_schema,
     .desc = "Also wait for these before verifying, all must answer: tcp://HOST:PORT (a TCP "
             "connection is accepted), http://HOST[:PORT]/PATH (a GET answers 2xx), "
             "redis://HOST[:PORT] (PING answers). --service / PREFLIGHT_SERVICES replace them."},
    {.key = "schema", .value = PF_MV_DURATION, .store = PF_MS_MS, .off = PF__M(await_schema_ms),
     .flags = PF_MK_EXPAND,
     .desc = "When objects are missing, wait up to this long for someone else (a migration job, "
             "a compose migrate service) to create them; default 0 = do not wait. "
             "PREFLIGHT_AWAIT_SCHEMA sets it too."},
    {.key = "schema_interval", .value = PF_MV_DURATION, .store = PF_MS_MS,
     .off = PF__M(await_interval_ms), .flags = PF_MK_EXPAND,
     .desc = "How often to verify again while awaiting the schema (default 250ms)."},
};
static const pf_msection_t pf__wait = {
    "wait", "How long and how often to retry until PostgreSQL accepts connections. Values are "
            "${VAR} expanded.",
    pf__wait_keys, PF_ARRAY_SIZE(pf__wait_keys)};

static const pf_mkey_t pf__fallback_keys[] = {
    {.key = "mode", .value = PF_MV_ENUM, .store = PF_MS_INT, .off = PF__M(mode),
     .choices = pf__mode_choices,
     .desc = "apply (default): run the fallbacks of missing objects; check: only report."},
    {.key = "lock_key", .value = PF_MV_STRING, .store = PF_MS_STR, .off = PF__M(lock_key),
     .desc = "Replicas sharing this key serialise their fallbacks through one advisory lock "
             "(default \"preflight\")."},
    {.key = "lock_timeout", .value = PF_MV_DURATION, .store = PF_MS_MS,
     .off = PF__M(lock_timeout_ms), .desc = "lock_timeout of every fallback statement (default 5s)."},
    {.key = "statement_timeout", .value = PF_MV_DURATION, .store = PF_MS_MS,
     .off = PF__M(statement_timeout_ms),
     .desc = "statement_timeout of every fallback statement (default 5min)."},
    {.key = "after", .value = PF_MV_STRING, .store = PF_MS_STR, .off = PF__M(after),
     .desc = "SQL run once after fallbacks changed something, e.g. NOTIFY pgrst, 'reload schema'."},
};
static const pf_msection_t pf__fallback = {
    "fallback", "How missing objects are repaired. SQL is never expanded.", pf__fallback_keys,
    PF_ARRAY_SIZE(pf__fallback_keys)};

static const pf_mkey_t pf__migrate_keys[] = {
    {.key = "command", .value = PF_MV_CUSTOM, .store = PF_MS_NONE, .flags = PF_MK_REQUIRED,
     .parse = pf__mmigrate_command, .schema_json = pf__command_schema,
     .desc = "The application's migration command: an argv list ([alembic, upgrade, head]) or a "
             "string run with /bin/sh -c. It runs under the replica-wide lock."},
    {.key = "when", .value = PF_MV_ENUM, .store = PF_MS_INT, .off = PF__M(migrate_when),
     .choices = pf__when_choices,
     .desc = "missing (default): only when verification finds a required object missing; "
             "always: on every start (still once at a time)."},
    {.key = "timeout", .value = PF_MV_DURATION, .store = PF_MS_MS, .off = PF__M(migrate_timeout_ms),
     .desc = "The command is killed (TERM, then KILL) after this; default 0 = no limit."},
    {.key = "workdir", .value = PF_MV_CUSTOM, .store = PF_MS_NONE, .parse = pf__mmigrate_workdir,
     .schema_json = pf__workdir_schema,
     .desc = "Working folder of the command, relative to the manifest's folder (default: "
             "preflight's working directory)."},
};
static const pf_msection_t pf__migrate = {
    "migrate", "The application's own migration command, run exactly once across replicas.",
    pf__migrate_keys, PF_ARRAY_SIZE(pf__migrate_keys)};

static const pf_mkey_t pf__defaults_keys[] = {
    {.key = "schema", .value = PF_MV_STRING, .store = PF_MS_STR, .off = PF__M(default_schema),
     .desc = "Schema of names written without one (default public)."},
};
static const pf_msection_t pf__defaults = {"defaults", "Defaults for items.", pf__defaults_keys,
                                           PF_ARRAY_SIZE(pf__defaults_keys)};

/* ---- the document ---- */

#define PF__LIST(kind, name, text) \
  {.key = name, .value = PF_MV_ITEMS, .store = PF_MS_NONE, .sub = PF_KIND_##kind, .desc = text}

/* The list keys must match PF_KIND_MAP's plurals; the unit tests compare them. */
static const pf_mkey_t pf__root_keys[] = {
    {.key = "version", .value = PF_MV_VERSION, .store = PF_MS_INT, .off = PF__M(version),
     .flags = PF_MK_REQUIRED, .desc = "Manifest format version: always 1."},
    {.key = "database", .value = PF_MV_SECTION, .store = PF_MS_NONE, .section = &pf__database,
     .desc = "How to reach PostgreSQL."},
    {.key = "wait", .value = PF_MV_SECTION, .store = PF_MS_NONE, .section = &pf__wait,
     .desc = "How long to wait for PostgreSQL."},
    {.key = "fallback", .value = PF_MV_SECTION, .store = PF_MS_NONE, .section = &pf__fallback,
     .desc = "How missing objects are repaired."},
    {.key = "migrate", .value = PF_MV_SECTION, .store = PF_MS_NONE, .section = &pf__migrate,
     .desc = "The application's own migration command."},
    {.key = "defaults", .value = PF_MV_SECTION, .store = PF_MS_NONE, .section = &pf__defaults,
     .desc = "Defaults for items."},
    PF__LIST(ROLE, "roles", "Roles that must exist."),
    PF__LIST(EXTENSION, "extensions", "Extensions that must be installed."),
    PF__LIST(SCHEMA, "schemas", "Schemas that must exist."),
    PF__LIST(TYPE, "types", "Types that must exist (enum labels that must be present)."),
    PF__LIST(SEQUENCE, "sequences", "Sequences that must exist."),
    PF__LIST(TABLE, "tables", "Tables that must exist, with the columns the app needs."),
    PF__LIST(VIEW, "views", "Views (or materialized views) that must exist."),
    PF__LIST(FUNCTION, "functions", "Functions and procedures that must exist, by exact signature."),
    PF__LIST(INDEX, "indexes", "Indexes that must exist and be valid."),
    PF__LIST(CONSTRAINT, "constraints", "Constraints that must exist and be validated."),
    PF__LIST(TRIGGER, "triggers", "Triggers that must exist and be enabled."),
    PF__LIST(POLICY, "policies", "Row-level security policies that must exist."),
    PF__LIST(GRANT, "grants", "Privileges a role must hold."),
    PF__LIST(MIGRATION, "migrations", "Migration-tool history that must have reached a version."),
    PF__LIST(CHECK, "checks", "Free assertions: one SQL statement returning one boolean."),
};

const pf_msection_t pf_mroot = {"", "A preflight manifest: what the application needs from its "
                                     "PostgreSQL database, and how to repair what is missing.",
                                pf__root_keys, PF_ARRAY_SIZE(pf__root_keys)};

/* ---- kinds ---- */

/* Keys every item may carry. */
#define PF__COMMON                                                                                \
  {.key = "fallback", .value = PF_MV_STRING, .store = PF_MS_NONE, .off = PF__S(fallback),         \
   .desc = "SQL that creates the object when it is missing, sent verbatim (several statements, " \
           "$$ bodies and comments work)."},                                                      \
  {.key = "fallback_file", .value = PF_MV_STRING, .store = PF_MS_NONE, .off = PF__S(file),        \
   .desc = "File holding the fallback SQL, relative to the manifest's folder; read at start-up."}, \
  {.key = "transaction", .value = PF_MV_BOOL, .store = PF_MS_FLAG, .off = PF__I(transaction),     \
   .desc = "false: run the fallback after the shared transaction commits (for statements such "  \
           "as CREATE INDEX CONCURRENTLY). Default true."},                                       \
  {.key = "severity", .value = PF_MV_ENUM, .store = PF_MS_INT, .off = PF__I(severity),            \
   .choices = pf__severity_choices,                                                               \
   .desc = "warn: report a missing object without blocking start-up. Default error."}

#define PF__NAME(text)                                                                      \
  {.key = "name", .value = PF_MV_STRING, .store = PF_MS_NONE, .off = PF__S(name),           \
   .flags = PF_MK_REQUIRED, .desc = text}
#define PF__QNAME(what)                                                                     \
  PF__NAME("The " what "'s exact catalog name, optionally schema-qualified (auth.users); " \
           "case-sensitive, never folded or quoted.")
#define PF__SCHEMA(what)                                                                    \
  {.key = "schema", .value = PF_MV_STRING, .store = PF_MS_STR, .off = PF__I(schema),        \
   .desc = "The " what "'s schema, when its name itself contains a dot (default: the part "   \
           "before the first dot of the name, else defaults.schema)."}
#define PF__TABLE                                                                           \
  {.key = "table", .value = PF_MV_STRING, .store = PF_MS_NONE, .off = PF__S(table),         \
   .flags = PF_MK_REQUIRED, .pattern = pf__tableref_pattern,                               \
   .desc = "The table it belongs to, optionally schema-qualified."}

static const pf_mkey_t pf__role_keys[] = {
    PF__NAME("The role's name."),
    {.key = "login", .value = PF_MV_BOOL, .store = PF_MS_INT, .off = PF__I(login),
     .desc = "true: the role must be able to log in."},
    PF__COMMON,
};
static const pf_mkey_t pf__extension_keys[] = {
    PF__NAME("The extension's name, as in CREATE EXTENSION."),
    {.key = "version", .value = PF_MV_STRING, .store = PF_MS_STR, .off = PF__I(version),
     .desc = "Lowest acceptable installed version."},
    PF__COMMON,
};
static const pf_mkey_t pf__schema_keys[] = {
    PF__NAME("The schema's name."),
    PF__COMMON,
};
static const pf_mkey_t pf__type_keys[] = {
    PF__QNAME("type"),
    PF__SCHEMA("type"),
    {.key = "values", .value = PF_MV_LIST, .store = PF_MS_VALUES,
     .desc = "Enum labels that must be present (in any order; others may exist)."},
    PF__COMMON,
};
static const pf_mkey_t pf__sequence_keys[] = {
    PF__QNAME("sequence"),
    PF__SCHEMA("sequence"),
    PF__COMMON,
};
static const pf_mkey_t pf__table_keys[] = {
    PF__QNAME("table"),
    PF__SCHEMA("table"),
    {.key = "columns", .value = PF_MV_ITEMS, .store = PF_MS_NONE, .off = PF__S(columns),
     .sub = PF_KIND_COLUMN, .desc = "Columns the table must have."},
    {.key = "row_level_security", .value = PF_MV_BOOL, .store = PF_MS_INT,
     .off = PF__I(row_level_security), .desc = "true: row level security must be enabled."},
    PF__COMMON,
};
static const pf_mkey_t pf__column_keys[] = {
    PF__NAME("The column's exact name (userId is userId)."),
    {.key = "type", .value = PF_MV_STRING, .store = PF_MS_STR, .off = PF__I(type),
     .pattern = pf__coltype_pattern, .check = pf_mcheck_coltype,
     .desc = "Type as PostgreSQL canonicalises it (int = int4 = integer); without a length or "
             "precision any is accepted. Absent: any type."},
    {.key = "nullable", .value = PF_MV_BOOL, .store = PF_MS_INT, .off = PF__I(nullable),
     .desc = "false: the column must be NOT NULL; true: it must allow NULL."},
    {.key = "default", .value = PF_MV_STRING, .store = PF_MS_STR, .off = PF__I(default_expr),
     .desc = "Default expression, compared with pg_get_expr's text."},
    {.key = "identity", .value = PF_MV_ENUM, .store = PF_MS_STR, .off = PF__I(identity),
     .choices = pf__identity_choices, .desc = "The column must be an identity column of this kind."},
    {.key = "generated", .value = PF_MV_ENUM, .store = PF_MS_STR, .off = PF__I(generated),
     .choices = pf__generated_choices, .desc = "The column must be a generated column of this kind."},
    PF__COMMON,
};
static const pf_mkey_t pf__view_keys[] = {
    PF__QNAME("view"),
    PF__SCHEMA("view"),
    {.key = "materialized", .value = PF_MV_BOOL, .store = PF_MS_INT, .off = PF__I(materialized),
     .desc = "true: must be a materialized view; false: must be a plain view."},
    PF__COMMON,
};
static const pf_mkey_t pf__function_keys[] = {
    {.key = "signature", .value = PF_MV_STRING, .store = PF_MS_NONE, .off = PF__S(signature),
     .flags = PF_MK_REQUIRED, .pattern = pf__signature_pattern,
     .desc = "[schema.]name(argument types), e.g. get_nodes_system(uuid, integer) or now(); "
             "overloads are told apart by their argument types."},
    PF__SCHEMA("function"),
    {.key = "returns", .value = PF_MV_STRING, .store = PF_MS_STR, .off = PF__I(returns),
     .desc = "Return type, e.g. setof nodes. Absent: any."},
    {.key = "kind", .value = PF_MV_ENUM, .store = PF_MS_INT, .off = PF__I(procedure),
     .choices = pf__fkind_choices, .desc = "function or procedure."},
    {.key = "security", .value = PF_MV_ENUM, .store = PF_MS_INT, .off = PF__I(security_definer),
     .choices = pf__security_choices, .desc = "SECURITY INVOKER or SECURITY DEFINER."},
    PF__COMMON,
};
static const pf_mkey_t pf__index_keys[] = {
    PF__TABLE,
    PF__NAME("The index's name, optionally schema-qualified (default: its table's schema)."),
    PF__SCHEMA("index"),
    {.key = "unique", .value = PF_MV_BOOL, .store = PF_MS_INT, .off = PF__I(unique),
     .desc = "true: the index must be unique."},
    PF__COMMON,
};
#define PF__TABLE_SCHEMA                                                                     \
  {.key = "schema", .value = PF_MV_STRING, .store = PF_MS_STR, .off = PF__I(schema),         \
   .desc = "The table's schema, when its name contains a dot; `table:` is then the table's " \
           "name in it, not split at a dot."}

static const pf_mkey_t pf__constraint_keys[] = {
    PF__TABLE,
    PF__TABLE_SCHEMA,
    PF__NAME("The constraint's name (not schema-qualified: a dot is part of the name)."),
    {.key = "type", .value = PF_MV_ENUM, .store = PF_MS_STR, .off = PF__I(constraint_type),
     .choices = pf__constraint_choices, .desc = "The kind of constraint it must be."},
    {.key = "references", .value = PF_MV_STRING, .store = PF_MS_STR, .off = PF__I(references),
     .desc = "Foreign keys: the referenced table and columns, e.g. auth.users(id)."},
    PF__COMMON,
};
static const pf_mkey_t pf__trigger_keys[] = {
    PF__TABLE,
    PF__TABLE_SCHEMA,
    PF__NAME("The trigger's name (not schema-qualified)."),
    {.key = "enabled", .value = PF_MV_ENUM, .store = PF_MS_STR, .off = PF__I(trigger_enabled),
     .choices = pf__enabled_choices,
     .desc = "The trigger's state must be this one: origin (ENABLE), always (ENABLE ALWAYS), "
             "replica (ENABLE REPLICA: fires only in replica sessions) or disabled. Absent: origin "
             "or always, the states in which it fires in ordinary sessions."},
    PF__COMMON,
};
static const pf_mkey_t pf__policy_keys[] = {
    PF__TABLE,
    PF__TABLE_SCHEMA,
    PF__NAME("The policy's name (not schema-qualified)."),
    PF__COMMON,
};
static const pf_mkey_t pf__grant_keys[] = {
    {.key = "role", .value = PF_MV_STRING, .store = PF_MS_STR, .off = PF__I(role),
     .flags = PF_MK_REQUIRED, .desc = "The role that must hold the privileges."},
    {.key = "privileges", .value = PF_MV_LIST, .store = PF_MS_VALUES,
     .flags = PF_MK_REQUIRED | PF_MK_NONEMPTY, .choices = pf_mprivileges,
     .desc = "Privileges it must hold (SELECT, INSERT, EXECUTE, USAGE, ...; any case)."},
    {.key = "on", .value = PF_MV_STRING, .store = PF_MS_STR, .off = PF__I(on),
     .flags = PF_MK_REQUIRED, .pattern = pf__on_pattern,
     .desc = "\"table T\", \"sequence S\", \"function F(args)\" or \"schema S\"."},
    PF__COMMON,
};
static const pf_mkey_t pf__migration_keys[] = {
    {.key = "tool", .value = PF_MV_ENUM, .store = PF_MS_STR, .off = PF__I(tool),
     .flags = PF_MK_REQUIRED, .choices = pf__tool_choices,
     .desc = "The migration tool whose history table is read."},
    {.key = "version", .value = PF_MV_STRING, .store = PF_MS_STR, .off = PF__I(version),
     .flags = PF_MK_REQUIRED, .desc = "The history must have reached at least this version."},
    PF__COMMON,
};
static const pf_mkey_t pf__check_keys[] = {
    PF__NAME("What the check asserts, for reports."),
    {.key = "sql", .value = PF_MV_STRING, .store = PF_MS_STR, .off = PF__I(sql),
     .flags = PF_MK_REQUIRED, .desc = "One SQL statement returning one row with one boolean."},
    PF__COMMON,
};

/* Each kind's names, from PF_KIND_MAP. Declared in manifest.h, which every stage reads; kept here
 * with the kinds' tables, below both the document's reader (manifest.c) and the items' reader
 * (manifest_items.c), which both name kinds. */
static const char *const pf__kind_names[] = {
#define PF__KIND_NAME(name, singular, plural) singular,
    PF_KIND_MAP(PF__KIND_NAME)
#undef PF__KIND_NAME
};

static const char *const pf__kind_keys[] = {
#define PF__KIND_KEY(name, singular, plural) plural,
    PF_KIND_MAP(PF__KIND_KEY)
#undef PF__KIND_KEY
};

/* Returns the kind's singular name ("table"), or "?" for a value outside the enum. */
const char *pf_kind_name(pf_kind_t kind) {
  return (unsigned)kind < PF_KIND__COUNT ? pf__kind_names[kind] : "?";
}

/* Returns the kind's manifest key ("tables"), or "?" for a value outside the enum. */
const char *pf_kind_key(pf_kind_t kind) {
  return (unsigned)kind < PF_KIND__COUNT ? pf__kind_keys[kind] : "?";
}

#define PF__KIND(kind, keys, text) \
  [PF_KIND_##kind] = {NULL, text, keys, PF_ARRAY_SIZE(keys)}
const pf_msection_t pf_mkinds[PF_KIND__COUNT] = {
    PF__KIND(ROLE, pf__role_keys, "A role."),
    PF__KIND(EXTENSION, pf__extension_keys, "An extension."),
    PF__KIND(SCHEMA, pf__schema_keys, "A schema."),
    PF__KIND(TYPE, pf__type_keys, "A type; with values, an enum that has these labels."),
    PF__KIND(SEQUENCE, pf__sequence_keys, "A sequence."),
    PF__KIND(TABLE, pf__table_keys, "A table and the columns the app needs."),
    PF__KIND(COLUMN, pf__column_keys, "A column of its table."),
    PF__KIND(VIEW, pf__view_keys, "A view or materialized view."),
    PF__KIND(FUNCTION, pf__function_keys, "A function or procedure, by exact signature."),
    PF__KIND(INDEX, pf__index_keys, "An index (reported when INVALID)."),
    PF__KIND(CONSTRAINT, pf__constraint_keys, "A constraint (reported when NOT VALID)."),
    PF__KIND(TRIGGER, pf__trigger_keys, "A trigger (reported when disabled)."),
    PF__KIND(POLICY, pf__policy_keys, "A row-level security policy."),
    PF__KIND(GRANT, pf__grant_keys, "Privileges a role holds on an object."),
    PF__KIND(MIGRATION, pf__migration_keys, "The history of a migration tool."),
    PF__KIND(CHECK, pf__check_keys, "A free assertion."),
};

/* ---- the reader ---- */

/* Returns the index of a key in a table; see manifest_keys.h. */
int pf_mkey_find(const pf_msection_t *sec, const char *key) {
  for (size_t i = 0; i < sec->nkeys; i++)
    if (sec->keys[i].key[0] == key[0] && strcmp(sec->keys[i].key, key) == 0) return (int)i;
  return -1;
}

/* Parses `version:`, which must be the plain integer 1. */
static int pf__mversion(pf__mctx_t *c, const pf_ynode_t *node, int *out) {
  char ex[64];
  if (node->kind != PF_YNODE_SCALAR || pf_ynode_is_null(node))
    return pf__merr(c, node, "version", "expected the integer 1, got %s",
                    pf_ynode_describe(node));
  const char *t = node->text;
  bool digits = node->style == PF_YSTYLE_PLAIN && *t != '\0' && strspn(t, "0123456789") == node->len;
  if (!digits)
    return pf__merr(c, node, "version", "expected the integer 1, got %s\"%s\"",
                    node->style == PF_YSTYLE_PLAIN ? "" : "the quoted string ",
                    pf_ynode_excerpt(node, ex, sizeof(ex)));
  if (strcmp(t + strspn(t, "0"), "1") != 0)
    return pf__merr(c, node, "version",
                    "unsupported manifest version %s (this preflight reads version 1)",
                    pf_ynode_excerpt(node, ex, sizeof(ex)));
  *out = 1;
  return 0;
}

/* Applies one key; see manifest_keys.h. */
int pf_mkey_apply(pf__mctx_t *c, const pf_mkey_t *k, const pf_ynode_t *v, const char *where,
                  void *target, pf_mslots_t *slots) {
  char field[160];
  void *dst = (char *)target + k->off;
  bool expand = (k->flags & PF_MK_EXPAND) != 0;
  int rc = 0, idx = 0, b = 0;
  if (k->store == PF_MS_NONE && k->value != PF_MV_CUSTOM) {
    if (slots != NULL) *(const pf_ynode_t **)((char *)slots + k->off) = v;
    return 0;
  }
  switch (k->value) {
    case PF_MV_STRING: {
      if ((k->flags & PF_MK_UNSET_OK) && pf_ynode_is_null(v)) {
        *(char **)dst = NULL;
        return 0;
      }
      char *s;
      rc = pf__mstring(c, v, where, k->key, expand, (k->flags & PF_MK_UNSET_OK) != 0, &s);
      if (rc != 0) return rc;
      if (k->check != NULL) {
        size_t slot = pf_hash(s, strlen(s)) % PF_ARRAY_SIZE(c->passed);
        if (c->passed[slot].key != k || strcmp(c->passed[slot].s, s) != 0) {
          const char *why = k->check(s);
          if (why != NULL)
            return pf__merr(c, v, pf__mfield(field, sizeof(field), where, k->key),
                            "invalid %s \"%.60s\": %s", k->key, s, why);
          c->passed[slot].key = k;
          c->passed[slot].s = s;
        }
      }
      *(char **)dst = *s == '\0' && (k->flags & PF_MK_UNSET_OK) ? NULL : s;
      return 0;
    }
    case PF_MV_BOOL:
      rc = pf__mbool(c, v, where, k->key, &b);
      if (rc != 0) return rc;
      if (k->store == PF_MS_FLAG) *(bool *)dst = b != 0;
      else *(int *)dst = b;
      return 0;
    case PF_MV_ENUM:
      rc = pf__menum(c, v, where, k->key, k->choices, &idx);
      if (rc != 0) return rc;
      if (k->store == PF_MS_STR) *(char **)dst = (char *)k->choices[idx];
      else *(int *)dst = idx;
      return 0;
    case PF_MV_LIST: {
      pf_item_t *it = target;
      return pf__mlist(c, v, where, k->key, &it->values, &it->nvalues);
    }
    case PF_MV_DURATION:
      return pf__mduration(c, v, where, k->key, expand, (int64_t *)dst);
    case PF_MV_VERSION:
      return pf__mversion(c, v, (int *)dst);
    case PF_MV_CUSTOM:
      return k->parse(c, k, v, where, target);
    case PF_MV_SECTION:
    case PF_MV_ITEMS:
      break;
  }
  return pf__merr(c, v, pf__mfield(field, sizeof(field), where, k->key),
                  "internal error: key stored in an unknown way");
}

/* Reads a whole mapping with a table; see manifest_keys.h. */
int pf_msection_read(pf__mctx_t *c, const pf_msection_t *sec, const pf_ynode_t *map,
                     const char *where, const char *what, void *target, pf_mslots_t *slots,
                     uint64_t *seen) {
  *seen = 0;
  for (size_t i = 0; map != NULL && map->kind == PF_YNODE_MAPPING && i < map->n; i++) {
    const pf_ynode_t *k = map->pairs[i].key, *v = map->pairs[i].value;
    int at = pf_mkey_find(sec, k->text);
    if (at < 0) {
      const char *names[64];
      char ex[64], msg[160];
      pf_buf_t list = {0};
      for (size_t j = 0; j < sec->nkeys && j < PF_ARRAY_SIZE(names); j++) {
        names[j] = sec->keys[j].key;
        pf_buf_printf(&list, "%s%s", j ? ", " : "expected ", names[j]);
      }
      if (what != NULL)
        snprintf(msg, sizeof(msg), "unknown key \"%s\" for a %s",
                 pf_ynode_excerpt(k, ex, sizeof(ex)), what);
      else
        snprintf(msg, sizeof(msg), "unknown key \"%s\"", pf_ynode_excerpt(k, ex, sizeof(ex)));
      int rc = pf__munknown(c, k, where, msg, names, sec->nkeys < 64 ? sec->nkeys : 64,
                            what == NULL ? list.data : NULL);
      pf_buf_free(&list);
      return rc;
    }
    *seen |= UINT64_C(1) << at;
    const pf_mkey_t *key = &sec->keys[at];
    if (key->store == PF_MS_NONE && key->value != PF_MV_CUSTOM && slots == NULL) continue;
    int rc = pf_mkey_apply(c, key, v, where, target, slots);
    if (rc != 0) return rc;
  }
  /* A null section (every key commented out) is an empty one and requires nothing. */
  for (size_t j = 0; map != NULL && map->kind == PF_YNODE_MAPPING && j < sec->nkeys; j++)
    if ((sec->keys[j].flags & PF_MK_REQUIRED) && !(*seen & (UINT64_C(1) << j)))
      return pf__merr(c, map, where, "missing required key \"%s\"", sec->keys[j].key);
  return 0;
}
