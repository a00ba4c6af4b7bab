/* The fallback SQL lexer: statement boundaries and top-level transaction control, with every
 * construct that can hide a semicolon or a keyword. */
#include <stdlib.h>

#include "pf_test.h"
#include "preflight/error.h"
#include "preflight/sqllex.h"

/* Returns the transaction control found in sql ("" when none) and its offset in *off. */
static const char *txn(const char *sql, size_t *off) {
  static char what[32];
  size_t o = (size_t)-1;
  if (!pf_sqllex_find_txn_control(sql, &o, what, sizeof(what))) what[0] = '\0';
  if (off) *off = o;
  return what;
}

/* Returns the number of statements and the text of statement k in buf. */
static size_t split(const char *sql, size_t k, char *buf, size_t buflen) {
  pf_sqllex_stmt_t *v;
  size_t n = pf_sqllex_split(sql, &v);
  buf[0] = '\0';
  if (k < n) snprintf(buf, buflen, "%.*s", (int)(v[k].end - v[k].start), sql + v[k].start);
  free(v);
  return n;
}

int main(void) {
  char err[512];
  size_t off;
  char b[256];

  /* The reproductions of issue 9.3. */
  CHECK_STR(txn("CREATE TABLE a(id int); COMMIT;", &off), "COMMIT");
  CHECK(off == 24);
  CHECK_STR(txn("ROLLBACK; CREATE TABLE b(id int)", &off), "ROLLBACK");
  CHECK(off == 0);
  CHECK_STR(txn("create table a(id int);\n  commit", NULL), "COMMIT");
  CHECK_STR(txn("BEGIN; CREATE TABLE a(id int)", NULL), "BEGIN");
  CHECK_STR(txn("start transaction; select 1", NULL), "START TRANSACTION");
  CHECK_STR(txn("SELECT 1; END", NULL), "END");
  CHECK_STR(txn("SELECT 1; abort", NULL), "ABORT");
  CHECK_STR(txn("SAVEPOINT s; SELECT 1", NULL), "SAVEPOINT");
  CHECK_STR(txn("SELECT 1; RELEASE SAVEPOINT s", NULL), "RELEASE");
  CHECK_STR(txn("SELECT 1; ROLLBACK TO SAVEPOINT s", NULL), "ROLLBACK");
  CHECK_STR(txn("PREPARE TRANSACTION 'x'", NULL), "PREPARE TRANSACTION");
  CHECK_STR(txn("COMMIT PREPARED 'x'", NULL), "COMMIT PREPARED");
  CHECK_STR(txn("ROLLBACK PREPARED 'x'", NULL), "ROLLBACK PREPARED");
  CHECK_STR(txn("/* a */ -- b\n  Commit", &off), "COMMIT");
  CHECK(off == 15);

  /* Not transaction control, or hidden where it cannot act at the top level. */
  CHECK_STR(txn("PREPARE q AS SELECT 1", NULL), "");
  CHECK_STR(txn("SELECT 'x; COMMIT'", NULL), "");
  CHECK_STR(txn("SELECT 'it''s; COMMIT'", NULL), "");
  CHECK_STR(txn("SELECT E'\\'; COMMIT'", NULL), "");           /* E'\'; COMMIT' is one string */
  CHECK_STR(txn("SELECT e'a\\\\'; COMMIT", NULL), "COMMIT");    /* e'a\\' ends at the second quote */
  CHECK_STR(txn("SELECT '\\'; COMMIT", NULL), "COMMIT");        /* standard strings: \ is a byte */
  CHECK_STR(txn("SELECT 1 AS \"x; COMMIT\"", NULL), "");
  CHECK_STR(txn("SELECT 1 AS \"a\"\"b; commit\"", NULL), "");
  CHECK_STR(txn("SELECT $$; COMMIT $$", NULL), "");
  CHECK_STR(txn("SELECT $tag$ $$; COMMIT; $$ $tag$", NULL), "");
  CHECK_STR(txn("SELECT $a$ x $b$; commit; $b$ $a$; COMMIT", NULL), "COMMIT");
  CHECK_STR(txn("SELECT $1; COMMIT", NULL), "COMMIT");          /* a parameter, not a quote */
  CHECK_STR(txn("SELECT a$b$ FROM t; COMMIT", NULL), "COMMIT"); /* $ inside an identifier */
  CHECK_STR(txn("-- COMMIT;\nSELECT 1", NULL), "");
  CHECK_STR(txn("/* outer /* inner */ ; COMMIT; */ SELECT 1", NULL), "");
  CHECK_STR(txn("DO $$ BEGIN COMMIT; END $$", NULL), "");
  CHECK_STR(txn("DO LANGUAGE plpgsql $body$BEGIN ROLLBACK; END$body$;", NULL), "");
  CHECK_STR(txn("CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END; SELECT 2", NULL), "");
  CHECK_STR(txn("CREATE OR REPLACE PROCEDURE p() BEGIN ATOMIC\n  SELECT CASE WHEN true THEN 1 END;\n"
                "  SELECT 2;\nEND;\nCOMMIT",
                NULL),
            "COMMIT");
  CHECK_STR(txn("CREATE TABLE t (commit int, \"begin\" int)", NULL), "");
  CHECK_STR(txn("UPDATE t SET x = 1 WHERE y = 'end'; SELECT 'begin'", NULL), "");
  CHECK_STR(txn("", NULL), "");
  CHECK_STR(txn(";;  ;", NULL), "");
  CHECK_STR(txn("SELECT 'unterminated; COMMIT", NULL), "");

  /* Statement boundaries, for transaction: false fallbacks sent one at a time. */
  CHECK(split("DROP INDEX CONCURRENTLY IF EXISTS i; CREATE INDEX CONCURRENTLY i ON t (a);\n", 1, b, sizeof(b)) == 2);
  CHECK_STR(b, "CREATE INDEX CONCURRENTLY i ON t (a)");
  CHECK(split("  -- only a comment\n", 0, b, sizeof(b)) == 0);
  CHECK(split("SELECT 1", 0, b, sizeof(b)) == 1);
  CHECK_STR(b, "SELECT 1");
  CHECK(split("SELECT ';'; SELECT $$;$$ ;", 1, b, sizeof(b)) == 2);
  CHECK_STR(b, "SELECT $$;$$ ");
  CHECK(split("CREATE FUNCTION f() RETURNS int BEGIN ATOMIC SELECT 1; SELECT 2; END; SELECT 3", 0, b, sizeof(b)) == 2);
  CHECK_STR(b, "CREATE FUNCTION f() RETURNS int BEGIN ATOMIC SELECT 1; SELECT 2; END");

  /* Statements that cannot run in a transaction block. */
  {
    char w[32];
    size_t o;
    CHECK(pf_sqllex_find_nontxn("SELECT 1;\ncreate unique index concurrently i on t (a)", &o, w, sizeof(w)) && o == 10);
    CHECK_STR(w, "CREATE INDEX CONCURRENTLY");
    CHECK(pf_sqllex_find_nontxn("REINDEX (VERBOSE) INDEX CONCURRENTLY i", &o, w, sizeof(w)));
    CHECK(pf_sqllex_find_nontxn("VACUUM ANALYZE t", &o, w, sizeof(w)));
    CHECK(!pf_sqllex_find_nontxn("CREATE INDEX i ON t (concurrently)", &o, w, sizeof(w)));
    CHECK(!pf_sqllex_find_nontxn("SELECT 'CREATE INDEX CONCURRENTLY'", &o, w, sizeof(w)));
    CHECK(pf_sqllex_check_sql("CREATE INDEX CONCURRENTLY i ON t (a)", "m.yaml", 3, "indexes[0]", err, sizeof(err)) ==
          PF_ECONFIG);
    CHECK(strstr(err, "m.yaml:3:1: indexes[0]: CREATE INDEX CONCURRENTLY cannot run inside a transaction") != NULL);
  }

  /* The manifest rule: file:line:column of the keyword. */
  CHECK(pf_sqllex_check_sql("CREATE TABLE a (id int);\n  COMMIT;\n", "m.yaml", 7, "tables[0]", err, sizeof(err)) ==
        PF_ECONFIG);
  CHECK(strncmp(err, "m.yaml:8:3: tables[0]: COMMIT:", 30) == 0);
  CHECK(pf_sqllex_check_sql("SELECT 1", "m.yaml", 1, "x", err, sizeof(err)) == 0);
  PF_TEST_DONE();
}
