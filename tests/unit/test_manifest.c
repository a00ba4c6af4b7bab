/* The manifest loader: every file under data/manifests/valid must load, every file under
 * data/manifests/invalid must fail with the message its "# expect:" line gives, and the loaded
 * structures hold what the manifest says (names, defaults, display names, fallback text, the
 * position of columns behind their table). Runs with tests/ as the working directory. */
#include <glob.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "pf_test.h"
#include "preflight/error.h"
#include "preflight/manifest.h"

#define VALID "data/manifests/valid"
#define INVALID "data/manifests/invalid"

/* Returns true when every byte of the manifest struct is zero, as a failed load must leave it. */
static bool is_empty(const pf_manifest_t *m) {
  static const pf_manifest_t zero;
  return memcmp(m, &zero, sizeof(zero)) == 0;
}

/* Loads every valid manifest and checks that none fails. */
static void test_valid_files(void) {
  glob_t g;
  CHECK(glob(VALID "/*.yaml", 0, NULL, &g) == 0);
  CHECK(g.gl_pathc >= 5);
  for (size_t i = 0; i < g.gl_pathc; i++) {
    pf_manifest_t m;
    char err[1024] = "";
    int rc = pf_manifest_load(g.gl_pathv[i], &m, err, sizeof(err));
    CHECK(rc == 0);
    if (rc != 0) fprintf(stderr, "  %s: %s\n", g.gl_pathv[i], err);
    pf_manifest_free(&m);
  }
  globfree(&g);
}

/* Loads every invalid manifest and checks the error code and the expected message part. */
static void test_invalid_files(void) {
  glob_t g;
  CHECK(glob(INVALID "/*.yaml", 0, NULL, &g) == 0);
  CHECK(g.gl_pathc >= 50);
  for (size_t i = 0; i < g.gl_pathc; i++) {
    const char *path = g.gl_pathv[i];
    char first[512] = "", expect[512] = "";
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (f == NULL) continue;
    if (fgets(first, sizeof(first), f) == NULL) first[0] = '\0';
    fclose(f);
    first[strcspn(first, "\n")] = '\0';
    CHECK(strncmp(first, "# expect: ", 10) == 0);
    snprintf(expect, sizeof(expect), "%s", first + 10);

    pf_manifest_t m;
    char err[1024] = "";
    int rc = pf_manifest_load(path, &m, err, sizeof(err));
    CHECK(rc == PF_ECONFIG);
    CHECK(is_empty(&m));
    /* Every message starts with the file, a line and a column. */
    char prefix[600];
    snprintf(prefix, sizeof(prefix), "%s:", path);
    CHECK(strncmp(err, prefix, strlen(prefix)) == 0);
    CHECK(strstr(err, expect) != NULL);
    if (rc != PF_ECONFIG || strstr(err, expect) == NULL)
      fprintf(stderr, "  %s\n    expected: %s\n    got (%d): %s\n", path, expect, rc, err);
    if (rc == 0) pf_manifest_free(&m);
  }
  globfree(&g);
}

/* Returns the first item of the given kind and display name, or NULL. */
static const pf_item_t *find(const pf_manifest_t *m, pf_kind_t kind, const char *display) {
  for (size_t i = 0; i < m->nitems; i++)
    if (m->items[i].kind == kind && strcmp(m->items[i].display, display) == 0) return &m->items[i];
  return NULL;
}

/* The contract's own example: settings, split names, display names and fallback files. */
static void test_contract_example(void) {
  pf_manifest_t m;
  char err[1024] = "";
  unsetenv("PF_TEST_DATABASE_URL");
  int rc = pf_manifest_load(VALID "/contract_example.yaml", &m, err, sizeof(err));
  CHECK(rc == 0);
  if (rc != 0) {
    fprintf(stderr, "  %s\n", err);
    return;
  }
  CHECK_STR(m.path, VALID "/contract_example.yaml");
  CHECK_STR(m.dir, VALID);
  CHECK(m.version == 1);
  CHECK_STR(m.database_url, "postgres://app@db:5432/app");
  CHECK(m.connect_timeout_ms == 5000);
  CHECK(m.wait_timeout_ms == 60000 && m.has_wait_timeout);
  CHECK(m.wait_interval_ms == 50 && m.wait_max_interval_ms == 500);
  CHECK(m.mode == PF_MODE_APPLY);
  CHECK_STR(m.lock_key, "preflight");
  CHECK(m.lock_timeout_ms == 5000 && m.statement_timeout_ms == 300000);
  CHECK_STR(m.after, "NOTIFY pgrst, 'reload schema';");
  CHECK_STR(m.default_schema, "public");
  CHECK(m.nitems == 13);

  static const char *const order[] = {
      "extension pgcrypto", "schema auth", "type public.mood", "table public.users",
      "column public.users.id", "column public.users.avatar_url", "view public.active_users",
      "function public.get_nodes_system(uuid, integer)", "index public.avatar_projects_userId_idx",
      "constraint public.users.users_id_fkey", "trigger auth.users.on_auth_user_created",
      "policy public.users.users_select_own", "check version table has its plural name"};
  for (size_t i = 0; i < PF_ARRAY_SIZE(order) && i < m.nitems; i++) {
    char got[300];
    snprintf(got, sizeof(got), "%s %s", pf_kind_name(m.items[i].kind), m.items[i].display);
    CHECK_STR(got, order[i]);
  }

  const pf_item_t *ext = &m.items[0];
  CHECK(ext->schema == NULL && ext->parent == PF_NO_PARENT);
  CHECK_STR(ext->fallback, "CREATE EXTENSION IF NOT EXISTS pgcrypto;");
  CHECK(ext->fallback_line == 23 && ext->fallback_file == NULL);
  CHECK(ext->line == 23 && ext->column == 15);
  CHECK(ext->transaction && ext->severity == PF_SEVERITY_ERROR);

  const pf_item_t *type = &m.items[2];
  CHECK(type->nvalues == 2);
  if (type->nvalues == 2) {
    CHECK_STR(type->values[0], "happy");
    CHECK_STR(type->values[1], "sad");
  }

  const pf_item_t *users = &m.items[3];
  CHECK_STR(users->schema, "public");
  CHECK_STR(users->name, "users");
  CHECK_STR(users->fallback_file, "../sql/users.sql");
  CHECK_STR(users->fallback_path, VALID "/../sql/users.sql");
  CHECK_STR(users->fallback, "CREATE TABLE IF NOT EXISTS users (\n  id uuid PRIMARY KEY\n);\n");
  CHECK(users->fallback_line == 1);
  CHECK(users->row_level_security == PF_UNSET);
  CHECK(users->line == 28 && users->column == 5);

  const pf_item_t *id = &m.items[4], *avatar = &m.items[5];
  CHECK(id->kind == PF_KIND_COLUMN && id->parent == 3 && avatar->parent == 3);
  CHECK_STR(id->schema, "public");
  CHECK_STR(id->table_schema, "public");
  CHECK_STR(id->table, "users");
  CHECK_STR(id->name, "id");
  CHECK_STR(id->type, "uuid");
  CHECK(id->nullable == 0 && avatar->nullable == PF_UNSET);
  CHECK(id->fallback == NULL && id->fallback_line == 0);
  CHECK_STR(avatar->fallback, "ALTER TABLE users ADD COLUMN IF NOT EXISTS avatar_url text;");
  CHECK(avatar->fallback_line == 36);

  const pf_item_t *fn = &m.items[7];
  CHECK_STR(fn->schema, "public");
  CHECK_STR(fn->name, "get_nodes_system");
  CHECK_STR(fn->args, "uuid, integer");
  CHECK_STR(fn->returns, "setof nodes");
  CHECK(fn->procedure == PF_UNSET && fn->security_definer == PF_UNSET);
  CHECK(fn->fallback != NULL && strstr(fn->fallback, "$$;\nCOMMENT ON FUNCTION") != NULL);

  const pf_item_t *idx = &m.items[8];
  CHECK_STR(idx->table_schema, "public");
  CHECK_STR(idx->table, "avatar_projects");
  CHECK_STR(idx->name, "avatar_projects_userId_idx");
  CHECK_STR(idx->schema, "public");

  const pf_item_t *con = &m.items[9];
  CHECK_STR(con->constraint_type, "foreign_key");
  CHECK_STR(con->schema, "public");

  const pf_item_t *trg = &m.items[10];
  CHECK_STR(trg->table_schema, "auth");
  CHECK_STR(trg->table, "users");
  CHECK_STR(trg->name, "on_auth_user_created");

  const pf_item_t *chk = &m.items[12];
  CHECK_STR(chk->name, "version table has its plural name");
  CHECK_STR(chk->sql, "SELECT to_regclass('schedule_runs_version') IS NOT NULL");
  CHECK(chk->schema == NULL);
  pf_manifest_free(&m);
  CHECK(is_empty(&m));
  pf_manifest_free(&m);
}

/* Every kind with its optional keys, from valid/every_kind.yaml. */
static void test_every_kind(void) {
  pf_manifest_t m;
  char err[1024] = "";
  int rc = pf_manifest_load(VALID "/every_kind.yaml", &m, err, sizeof(err));
  CHECK(rc == 0);
  if (rc != 0) {
    fprintf(stderr, "  %s\n", err);
    return;
  }
  const pf_item_t *it;
  CHECK_STR(m.default_schema, "app");
  CHECK((it = find(&m, PF_KIND_ROLE, "anon")) != NULL && it->login == 0);
  CHECK((it = find(&m, PF_KIND_ROLE, "authenticator")) != NULL && it->login == 1);
  CHECK((it = find(&m, PF_KIND_EXTENSION, "pgcrypto")) != NULL && it->version != NULL &&
        strcmp(it->version, "1.3") == 0);
  CHECK(find(&m, PF_KIND_SCHEMA, "Mixed Case") != NULL);
  CHECK((it = find(&m, PF_KIND_TYPE, "app.mood")) != NULL && it->nvalues == 3 &&
        it->severity == PF_SEVERITY_WARN);
  CHECK(find(&m, PF_KIND_SEQUENCE, "public.order_seq") != NULL);

  /* auth.users splits; "weird.name" with an explicit schema keeps its dot. */
  const pf_item_t *users = find(&m, PF_KIND_TABLE, "auth.users");
  CHECK(users != NULL && users->row_level_security == 1);
  CHECK((it = find(&m, PF_KIND_TABLE, "public.weird.name")) != NULL && strcmp(it->schema, "public") == 0 &&
        strcmp(it->name, "weird.name") == 0);
  if (users != NULL) {
    size_t t = (size_t)(users - m.items);
    CHECK(m.items[t + 1].kind == PF_KIND_COLUMN && m.items[t + 1].parent == t);
    CHECK(m.items[t + 7].kind == PF_KIND_COLUMN && m.items[t + 7].parent == t);
    CHECK(m.items[t + 8].kind == PF_KIND_TABLE);
  }
  CHECK((it = find(&m, PF_KIND_COLUMN, "auth.users.id")) != NULL && it->nullable == 0 &&
        strcmp(it->identity, "by default") == 0);
  CHECK((it = find(&m, PF_KIND_COLUMN, "auth.users.email")) != NULL &&
        strcmp(it->type, "character varying(255)") == 0 &&
        strcmp(it->default_expr, "''::character varying") == 0);
  CHECK((it = find(&m, PF_KIND_COLUMN, "auth.users.amount")) != NULL &&
        strcmp(it->type, "numeric(10, 2)") == 0);
  CHECK((it = find(&m, PF_KIND_COLUMN, "auth.users.total")) != NULL &&
        strcmp(it->generated, "stored") == 0);
  CHECK((it = find(&m, PF_KIND_COLUMN, "auth.users.ref")) != NULL &&
        strcmp(it->type, "public.\"MyType\"") == 0);
  /* Exact names: never folded. */
  CHECK((it = find(&m, PF_KIND_COLUMN, "app.avatar_projects.userId")) != NULL &&
        strcmp(it->name, "userId") == 0);

  CHECK((it = find(&m, PF_KIND_VIEW, "app.stats")) != NULL && it->materialized == 1 &&
        !it->transaction);
  CHECK((it = find(&m, PF_KIND_VIEW, "app.active_users")) != NULL && it->materialized == 0 &&
        it->transaction);
  CHECK((it = find(&m, PF_KIND_FUNCTION, "auth.uid()")) != NULL && it->procedure == 0 &&
        it->security_definer == 1 && strcmp(it->args, "") == 0 && strcmp(it->returns, "uuid") == 0);
  CHECK((it = find(&m, PF_KIND_FUNCTION, "app.do_work(integer, text)")) != NULL &&
        it->procedure == 1 && it->security_definer == 0);
  CHECK((it = find(&m, PF_KIND_FUNCTION, "other.f(numeric(10,2))")) != NULL &&
        strcmp(it->args, "numeric(10,2)") == 0);
  /* An index defaults to its table's schema, not the default schema. */
  CHECK((it = find(&m, PF_KIND_INDEX, "auth.users_email_idx")) != NULL && !it->transaction &&
        strcmp(it->table_schema, "auth") == 0 && it->unique == PF_UNSET);
  CHECK((it = find(&m, PF_KIND_INDEX, "app.avatar_projects_userId_idx")) != NULL &&
        it->unique == 1);
  CHECK((it = find(&m, PF_KIND_CONSTRAINT, "app.avatar_projects.fk")) != NULL &&
        strcmp(it->references, "auth.users(id)") == 0);
  CHECK(find(&m, PF_KIND_TRIGGER, "auth.users.on_auth_user_created") != NULL);
  CHECK(find(&m, PF_KIND_POLICY, "auth.users.users_select_own") != NULL);
  CHECK((it = find(&m, PF_KIND_GRANT, "anon: select, insert, update on table avatar_projects")) !=
            NULL &&
        it->nvalues == 3 && strcmp(it->role, "anon") == 0 &&
        strcmp(it->on, "table avatar_projects") == 0);
  CHECK(find(&m, PF_KIND_GRANT, "anon: EXECUTE on function auth.uid()") != NULL);
  CHECK(find(&m, PF_KIND_MIGRATION, "golang-migrate 20240101120000") != NULL);
  /* Numbers are kept as written, not as a float would print them. */
  CHECK((it = find(&m, PF_KIND_MIGRATION, "prisma 1.10")) != NULL && strcmp(it->tool, "prisma") == 0);
  CHECK((it = find(&m, PF_KIND_CHECK, "one row")) != NULL &&
        strcmp(it->sql, "SELECT count(*) = 1\nFROM settings\n") == 0 &&
        strcmp(it->fallback, "INSERT INTO settings DEFAULT VALUES;\n") == 0);
  if (it != NULL) CHECK(it->fallback_line == it->line + 5);
  pf_manifest_free(&m);
}

/* Parses a manifest held in a string; returns the code and leaves the message in err. */
static int parse(const char *text, pf_manifest_t *m, char *err, size_t errlen) {
  err[0] = '\0';
  return pf_manifest_parse(text, strlen(text), "t.yaml", VALID, m, err, errlen);
}

/* Built-in defaults, ${VAR} expansion in database: and wait: only, and the interval rules. */
static void test_settings(void) {
  pf_manifest_t m;
  char err[1024];
  CHECK(parse("version: 1\n", &m, err, sizeof(err)) == 0);
  CHECK(m.database_url == NULL && m.connect_timeout_ms == 5000 && m.wait_timeout_ms == 60000 &&
        !m.has_wait_timeout && m.wait_interval_ms == 50 && m.wait_max_interval_ms == 500 &&
        m.mode == PF_MODE_APPLY && m.lock_timeout_ms == 5000 &&
        m.statement_timeout_ms == 300000 && m.after == NULL && m.nitems == 0 &&
        m.items == NULL);
  CHECK_STR(m.lock_key, "preflight");
  CHECK_STR(m.default_schema, "public");
  CHECK_STR(m.path, "t.yaml");
  pf_manifest_free(&m);

  setenv("PF_T_URL", "postgres://u@h/db", 1);
  setenv("PF_T_TIMEOUT", "2m", 1);
  setenv("PF_T_EMPTY", "", 1);
  unsetenv("PF_T_UNSET");
  CHECK(parse("version: 1\n"
              "database: {url: '${PF_T_URL}', connect_timeout: '${PF_T_UNSET:-3s}'}\n"
              "wait: {timeout: '${PF_T_TIMEOUT}', interval: 2s}\n"
              "fallback: {mode: check, lock_key: '$${PF_T_URL}', after: 'SELECT ${PF_T_URL}'}\n"
              "checks: [{name: '${PF_T_URL}', sql: 'SELECT ${PF_T_URL}'}]\n",
              &m, err, sizeof(err)) == 0);
  CHECK_STR(m.database_url, "postgres://u@h/db");
  CHECK(m.connect_timeout_ms == 3000 && m.wait_timeout_ms == 120000 && m.has_wait_timeout);
  /* Raising only the interval raises the default ceiling with it. */
  CHECK(m.wait_interval_ms == 2000 && m.wait_max_interval_ms == 2000);
  CHECK(m.mode == PF_MODE_CHECK);
  /* Outside database: and wait:, nothing is expanded. */
  CHECK_STR(m.lock_key, "$${PF_T_URL}");
  CHECK_STR(m.after, "SELECT ${PF_T_URL}");
  CHECK(m.nitems == 1);
  if (m.nitems == 1) {
    CHECK_STR(m.items[0].name, "${PF_T_URL}");
    CHECK_STR(m.items[0].sql, "SELECT ${PF_T_URL}");
  }
  pf_manifest_free(&m);

  CHECK(parse("version: 1\ndatabase: {url: '${PF_T_EMPTY}'}\nwait: {timeout: 0}\n", &m, err,
              sizeof(err)) == 0);
  CHECK(m.database_url == NULL && m.wait_timeout_ms == 0 && m.has_wait_timeout);
  pf_manifest_free(&m);

  CHECK(parse("version: 1\ndatabase: {url: }\n", &m, err, sizeof(err)) == 0);
  CHECK(m.database_url == NULL);
  pf_manifest_free(&m);

  /* An error message never quotes the URL, which may hold a password. */
  CHECK(parse("version: 1\ndatabase: {url: 'postgres://u:s3cret@h/${'}\n", &m, err,
              sizeof(err)) == PF_ECONFIG);
  CHECK(strstr(err, "t.yaml:2:17: database.url: unterminated") == err);
  CHECK(strstr(err, "s3cret") == NULL);
  CHECK(is_empty(&m));
}

/* Name rules, positions of inline SQL and messages that depend on the environment. */
static void test_items(void) {
  pf_manifest_t m;
  char err[1024];
  CHECK(parse("version: 1\n"
              "tables:\n"
              "  - name: a.b.c\n"
              "  - name: Users\n"
              "  - {name: x.y, schema: s}\n"
              "  - name: ' padded '\n"
              "functions:\n"
              "  - signature: s.f(a.b, \"x\")\n"
              "constraints: [{name: a.b, table: t}]\n"
              "checks:\n"
              "  - name: c\n"
              "    sql: SELECT true\n"
              "    fallback: >-\n"
              "      UPDATE x\n"
              "      SET y = 1\n"
              "  - name: d\n"
              "    sql: SELECT true\n"
              "    fallback: \"SELECT\n"
              "      1\"\n",
              &m, err, sizeof(err)) == 0);
  CHECK(m.nitems == 8);
  if (m.nitems == 8) {
    CHECK_STR(m.items[0].schema, "a");
    CHECK_STR(m.items[0].name, "b.c");
    CHECK_STR(m.items[0].display, "a.b.c");
    CHECK_STR(m.items[1].name, "Users");
    CHECK_STR(m.items[2].schema, "s");
    CHECK_STR(m.items[2].name, "x.y");
    CHECK_STR(m.items[2].display, "s.x.y");
    CHECK_STR(m.items[3].name, " padded ");
    CHECK_STR(m.items[4].schema, "s");
    CHECK_STR(m.items[4].name, "f");
    CHECK_STR(m.items[4].args, "a.b, \"x\"");
    CHECK_STR(m.items[5].name, "a.b");
    CHECK_STR(m.items[5].display, "public.t.a.b");
    CHECK_STR(m.items[6].fallback, "UPDATE x SET y = 1");
    CHECK(m.items[6].fallback_line == 14);
    CHECK_STR(m.items[7].fallback, "SELECT 1");
    CHECK(m.items[7].fallback_line == 18);
  }
  pf_manifest_free(&m);

  /* A fallback file's error names the item, the file and the OS reason. */
  CHECK(parse("version: 1\nviews:\n  - name: v\n    fallback_file: nope.sql\n", &m, err,
              sizeof(err)) == PF_ECONFIG);
  CHECK_STR(err, "t.yaml:4:20: views[0].fallback_file: cannot read \"nope.sql\" "
                 "(" VALID "/nope.sql): No such file or directory");

  /* Absolute paths are used as they are. */
  char abs[4096 + 64], cwd[4096], text[8192];
  CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
  snprintf(abs, sizeof(abs), "%s/data/manifests/sql/users.sql", cwd);
  snprintf(text, sizeof(text), "version: 1\ntables: [{name: t, fallback_file: '%s'}]\n", abs);
  CHECK(parse(text, &m, err, sizeof(err)) == 0);
  if (m.nitems == 1) {
    CHECK_STR(m.items[0].fallback_path, abs);
    CHECK(strncmp(m.items[0].fallback, "CREATE TABLE", 12) == 0);
  }
  pf_manifest_free(&m);

  /* A fallback file over the limit is refused without reading all of it. */
  char big[] = "/tmp/pf_test_manifest_XXXXXX";
  int fd = mkstemp(big);
  CHECK(fd >= 0);
  if (fd >= 0) {
    CHECK(ftruncate(fd, (off_t)PF_MANIFEST_MAX_BYTES + 1) == 0);
    close(fd);
    snprintf(text, sizeof(text), "version: 1\nchecks: [{name: c, sql: x, fallback_file: '%s'}]\n",
             big);
    /* Outside the allowed folder it is not even opened; allowed, it is too large. */
    CHECK(parse(text, &m, err, sizeof(err)) == PF_ECONFIG);
    CHECK(strstr(err, "outside") != NULL);
    pf_manifest_set_fallback_root("/");
    CHECK(parse(text, &m, err, sizeof(err)) == PF_ECONFIG);
    pf_manifest_set_fallback_root("data/manifests");
    CHECK(strstr(err, "t.yaml:2:43: checks[0].fallback_file: cannot read") == err);
    if (strstr(err, "t.yaml:2:43:") != err) fprintf(stderr, "  %s\n", err);
    CHECK(strstr(err, "larger than the 16 MiB limit") != NULL);
    unlink(big);
  }
}

/* Expects `text` to fail with a message containing `want`. */
static void expect_error(const char *text, const char *want) {
  pf_manifest_t m;
  char err[1024] = "";
  int rc = parse(text, &m, err, sizeof(err));
  CHECK(rc == PF_ECONFIG);
  CHECK(strstr(err, want) != NULL);
  if (rc != PF_ECONFIG || strstr(err, want) == NULL)
    fprintf(stderr, "  %s\n    expected: %s\n    got: %s\n", text, want, err);
  if (rc == 0) pf_manifest_free(&m);
}

/* Unknown keys and enum values name the nearest valid one (issue 12 item 5), at their line and
 * column; words too far from any key get no guess. Every kind's list key is accepted. */
static void test_suggestions(void) {
  expect_error("version: 1\ntables: [{name: t, colums: []}]\n",
               "t.yaml:2:20: tables[0]: unknown key \"colums\" for a table (did you mean \"columns\"?)");
  expect_error("version: 1\ntables:\n  - name: t\n    columns: [{name: c, nulable: true}]\n",
               "t.yaml:4:25: tables[0].columns[0]: unknown key \"nulable\" for a column (did you mean \"nullable\"?)");
  expect_error("version: 1\nindexes: [{name: i, tabel: t}]\n", "(did you mean \"table\"?)");
  expect_error("version: 1\nfunctions: [{signatrue: f()}]\n", "(did you mean \"signature\"?)");
  expect_error("version: 1\nviews: [{name: v, fallbak_file: x.sql}]\n", "(did you mean \"fallback_file\"?)");
  expect_error("version: 1\ntabels: []\n", "t.yaml:2:1: unknown top-level key \"tabels\" (did you mean \"tables\"?)");
  expect_error("version: 1\nVersion: 1\n", "(did you mean \"version\"?)");
  expect_error("version: 1\nwait:\n  timout: 5s\n",
               "t.yaml:3:3: wait: unknown key \"timout\" (did you mean \"timeout\"? expected timeout, interval, max_interval");
  expect_error("version: 1\nconstraints: [{name: c, table: t, type: primary-key}]\n",
               "got \"primary-key\" (did you mean \"primary_key\"?)");
  expect_error("version: 1\nfallback: {mode: aply}\n", "got \"aply\" (did you mean \"apply\"?)");
  /* Nothing close: no guess. */
  pf_manifest_t m;
  char err[1024] = "";
  CHECK(parse("version: 1\ntables: [{name: t, zzzzzz: 1}]\n", &m, err, sizeof(err)) == PF_ECONFIG);
  CHECK(strstr(err, "did you mean") == NULL);
  CHECK(parse("version: 1\ntables: [{name: t, x: 1}]\n", &m, err, sizeof(err)) == PF_ECONFIG);
  CHECK(strstr(err, "did you mean") == NULL);
  /* Empty collections before any other node (found by the fuzzer: no arithmetic on the empty
   * child stack under UBSan). */
  expect_error("[]\n", "the manifest must be a mapping");
  CHECK(parse("{}\n", &m, err, sizeof(err)) == PF_ECONFIG);
  CHECK(parse("version: 1\nroles: []\nviews: []\ntables: [{name: t, columns: []}]\n", &m, err,
              sizeof(err)) == 0);
  pf_manifest_free(&m);
  /* A tab in indentation is called a tab, at its position. */
  expect_error("version: 1\ntables:\n\t- name: a\n", "t.yaml:3:1: a tab character: YAML indents with spaces only");
  /* Every kind but column has its list at the top level, under pf_kind_key's name. */
  for (int k = 0; k < PF_KIND__COUNT; k++) {
    char text[128];
    snprintf(text, sizeof(text), "version: 1\n%s: []\n", pf_kind_key((pf_kind_t)k));
    int rc = parse(text, &m, err, sizeof(err));
    CHECK(rc == (k == PF_KIND_COLUMN ? PF_ECONFIG : 0));
    if (rc == 0) pf_manifest_free(&m);
  }
}

/* PREFLIGHT_MANIFEST_MAX_BYTES sets the size limit (issue 11 item 12); a value that is not a
 * size from 1 byte to 1 GiB is an error naming the variable. */
static void test_size_limit_variable(void) {
  pf_manifest_t m;
  char err[1024] = "";
  char text[2048];
  memset(text, '#', sizeof(text));
  memcpy(text, "version: 1\n", 11);
  CHECK(setenv("PREFLIGHT_MANIFEST_MAX_BYTES", "1K", 1) == 0);
  CHECK(pf_manifest_parse(text, 1024, "s.yaml", ".", &m, err, sizeof(err)) == 0);
  pf_manifest_free(&m);
  CHECK(pf_manifest_parse(text, 1025, "s.yaml", ".", &m, err, sizeof(err)) == PF_ECONFIG);
  CHECK(strstr(err, "s.yaml:1:1: the manifest is larger than the 1024-byte limit") == err);
  CHECK(strstr(err, "PREFLIGHT_MANIFEST_MAX_BYTES") != NULL);
  size_t n;
  CHECK(setenv("PREFLIGHT_MANIFEST_MAX_BYTES", "64MiB", 1) == 0);
  CHECK(pf_manifest_max_bytes(&n, err, sizeof(err)) == 0 && n == (size_t)64 << 20);
  CHECK(setenv("PREFLIGHT_MANIFEST_MAX_BYTES", "5000000", 1) == 0);
  CHECK(pf_manifest_max_bytes(&n, err, sizeof(err)) == 0 && n == 5000000);
  const char *bad[] = {"0", "-1", "2G", "lots", "16 MiB", "16MB", "99999999999999999999999"};
  for (size_t i = 0; i < PF_ARRAY_SIZE(bad); i++) {
    CHECK(setenv("PREFLIGHT_MANIFEST_MAX_BYTES", bad[i], 1) == 0);
    CHECK(pf_manifest_max_bytes(&n, err, sizeof(err)) == PF_ECONFIG);
    CHECK(strncmp(err, "PREFLIGHT_MANIFEST_MAX_BYTES: ", 30) == 0);
    CHECK(pf_manifest_parse("version: 1\n", 11, "s.yaml", ".", &m, err, sizeof(err)) == PF_ECONFIG);
    CHECK(is_empty(&m));
  }
  CHECK(unsetenv("PREFLIGHT_MANIFEST_MAX_BYTES") == 0);
  CHECK(pf_manifest_max_bytes(&n, err, sizeof(err)) == 0 && n == PF_MANIFEST_MAX_BYTES);
}

/* The size limit, a missing manifest, a NULL dir, and the kind tables. */
static void test_limits_and_names(void) {
  pf_manifest_t m;
  char err[1024];
  size_t big = PF_MANIFEST_MAX_BYTES + 1;
  char *text = malloc(big);
  CHECK(text != NULL);
  if (text != NULL) {
    memset(text, '#', big);
    memcpy(text, "version: 1\n", 11);
    CHECK(pf_manifest_parse(text, big, "big.yaml", ".", &m, err, sizeof(err)) == PF_ECONFIG);
    CHECK(strstr(err, "big.yaml:1:1: the manifest is larger than the 16 MiB limit") == err);
    CHECK(is_empty(&m));
    /* Exactly at the limit is fine. */
    text[11] = '\n';
    CHECK(pf_manifest_parse(text, big - 1, "big.yaml", ".", &m, err, sizeof(err)) == 0);
    pf_manifest_free(&m);
    free(text);
  }

  CHECK(pf_manifest_load("data/manifests/no-such.yaml", &m, err, sizeof(err)) == PF_ECONFIG);
  CHECK_STR(err, "data/manifests/no-such.yaml: cannot read the manifest: No such file or directory");
  CHECK(pf_manifest_load("data/manifests", &m, err, sizeof(err)) == PF_ECONFIG);
  CHECK(strstr(err, "Is a directory") != NULL);

  CHECK(pf_manifest_parse("version: 1\n", 11, NULL, NULL, &m, err, sizeof(err)) == 0);
  CHECK_STR(m.dir, ".");
  pf_manifest_free(&m);
  /* A tiny error buffer truncates, never overflows. */
  char tiny[8];
  CHECK(pf_manifest_parse("x: 1\n", 5, "t.yaml", ".", &m, tiny, sizeof(tiny)) == PF_ECONFIG);
  CHECK(strlen(tiny) == 7);

  CHECK_STR(pf_kind_name(PF_KIND_TABLE), "table");
  CHECK_STR(pf_kind_key(PF_KIND_TABLE), "tables");
  CHECK_STR(pf_kind_name(PF_KIND_POLICY), "policy");
  CHECK_STR(pf_kind_key(PF_KIND_POLICY), "policies");
  CHECK_STR(pf_kind_key(PF_KIND_INDEX), "indexes");
  CHECK_STR(pf_kind_name(PF_KIND__COUNT), "?");
  CHECK_STR(pf_kind_key((pf_kind_t)-1), "?");
}

int main(void) {
  /* The test manifests share one sql/ folder beside their own (../sql/x.sql): that is what
   * --fallback-root is for. */
  pf_manifest_set_fallback_root("data/manifests");
  test_valid_files();
  test_invalid_files();
  test_contract_example();
  test_every_kind();
  test_settings();
  test_items();
  test_limits_and_names();
  test_suggestions();
  test_size_limit_variable();
  PF_TEST_DONE();
}
