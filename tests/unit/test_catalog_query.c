/* The catalog query's distinct-key sets (src/catalog_query.c): relations and types are sent once
 * each and items carry their numbers, so the numbering must be stable, dense and exact: NULL is
 * not "", ("a", "bc") is not ("ab", "c"), and thousands of keys keep their numbers as the table
 * grows. Also the parameter arrays the sets write. */
#include <stdlib.h>

#include "../../src/catalog_query.h"
#include "pf_test.h"

static size_t intern2(pf__intern_t *t, const char *a, const char *b, bool *added) {
  const char *parts[2] = {a, b};
  return pf__intern(t, parts, 2, added);
}

static void test_intern(void) {
  pf__intern_t t = {0};
  bool added;
  CHECK(intern2(&t, "public", "users", &added) == 1 && added);
  CHECK(intern2(&t, "public", "users", &added) == 1 && !added);
  CHECK(intern2(&t, "a", "bc", &added) == 2 && added);
  CHECK(intern2(&t, "ab", "c", &added) == 3 && added);
  CHECK(intern2(&t, NULL, "c", &added) == 4 && added);
  CHECK(intern2(&t, "", "c", &added) == 5 && added);
  CHECK(intern2(&t, NULL, "c", &added) == 4 && !added);
  /* Past the first table size: every key keeps its number through the growths. */
  char name[32];
  for (int i = 0; i < 5000; i++) {
    snprintf(name, sizeof(name), "t%d", i);
    CHECK(intern2(&t, "s", name, &added) == (size_t)i + 6 && added);
  }
  for (int i = 0; i < 5000; i++) {
    snprintf(name, sizeof(name), "t%d", i);
    CHECK(intern2(&t, "s", name, &added) == (size_t)i + 6 && !added);
  }
  CHECK(intern2(&t, "public", "users", &added) == 1 && !added);
  CHECK(t.n == 5005);
  pf__intern_free(&t);
}

static void test_sets(void) {
  pf__qb_t qb = {0};
  pf__relset_t rels;
  pf__typeset_t types;
  pf__relset_init(&qb, &rels);
  pf__typeset_init(&qb, &types);
  CHECK(pf__relset_add(&rels, "public", "users") == 1);
  CHECK(pf__relset_add(&rels, "auth", "users") == 2);
  CHECK(pf__relset_add(&rels, "public", "users") == 1);
  CHECK(pf__relset_add(&rels, "public", "we\"ird\\") == 3);
  /* Spellings of one type share a number; arrays, schemas and other types do not. */
  CHECK(pf__typeset_add(&types, "integer") == 1);
  CHECK(pf__typeset_add(&types, "int4") == 1);
  CHECK(pf__typeset_add(&types, "int") == 1);
  CHECK(pf__typeset_add(&types, "int[]") == 2);
  CHECK(pf__typeset_add(&types, "pg_catalog.int4") == 3);
  CHECK(pf__typeset_add(&types, "varchar(255)") == 4);
  CHECK(pf__typeset_add(&types, "character varying(10)") == 4);
  /* No number for what is not a type name of this database. */
  CHECK(pf__typeset_add(&types, NULL) == 0);
  CHECK(pf__typeset_add(&types, "a.b.c.d") == 0);
  CHECK(pf__typeset_add(&types, "otherdb.public.t") == 0);
  /* Texts have numbers of their own: the same text, the same number (parsed once); two texts of
   * one type share the type's number but keep their own modifiers; a text that names no type of
   * this database has a number, type 0 and no modifiers. */
  size_t v255 = pf__typeset_text(&types, "varchar(255)"), v10 = pf__typeset_text(&types, "character varying(10)");
  CHECK(v255 != 0 && v10 != 0 && v255 != v10);
  CHECK(pf__typeset_text(&types, "varchar(255)") == v255);
  CHECK(pf__typeset_k(&types, v255) == 4 && pf__typeset_k(&types, v10) == 4);
  CHECK_STR(pf__typeset_mods(&types, v255), "255");
  CHECK_STR(pf__typeset_mods(&types, v10), "10");
  size_t i4 = pf__typeset_text(&types, "int4");
  CHECK(pf__typeset_k(&types, i4) == 1);
  CHECK_STR(pf__typeset_mods(&types, i4), "");
  size_t bad = pf__typeset_text(&types, "a.b.c.d"), other = pf__typeset_text(&types, "otherdb.public.t");
  CHECK(bad != 0 && pf__typeset_k(&types, bad) == 0 && pf__typeset_mods(&types, bad) == NULL);
  CHECK(other != 0 && pf__typeset_k(&types, other) == 0 && pf__typeset_mods(&types, other) == NULL);
  CHECK(pf__typeset_text(&types, NULL) == 0 && pf__typeset_k(&types, 0) == 0);
  CHECK(pf__typeset_k(&types, 9999) == 0 && pf__typeset_mods(&types, 9999) == NULL);
  /* A text longer than the stack key is interned like any other. */
  char longtext[600];
  memset(longtext, 'x', sizeof(longtext) - 1);
  longtext[sizeof(longtext) - 1] = '\0';
  size_t lt = pf__typeset_text(&types, longtext);
  CHECK(lt != 0 && pf__typeset_text(&types, longtext) == lt && pf__typeset_k(&types, lt) == 5);
  CHECK(qb.nparams == 5);
  for (int i = 0; i < qb.nparams; i++) pf_buf_putc(&qb.params[i], '}');
  CHECK_STR(qb.params[0].data, "{\"public\",\"auth\",\"public\"}");
  CHECK_STR(qb.params[1].data, "{\"users\",\"users\",\"we\\\"ird\\\\\"}");
  CHECK_STR(qb.params[2].data, "{NULL,NULL,\"pg_catalog\",NULL,NULL}");
  CHECK(strncmp(qb.params[3].data, "{\"int4\",\"int4\",\"int4\",\"varchar\",\"xxx", 33) == 0);
  CHECK_STR(qb.params[4].data, "{\"0\",\"1\",\"0\",\"0\",\"0\"}");
  pf_buf_t sql = {0};
  pf__relset_sql(&sql, &rels);
  CHECK(strstr(sql.data, "unnest($1::text[], $2::text[]) WITH ORDINALITY") != NULL);
  pf_buf_free(&sql);
  pf__typeset_sql(&sql, &types);
  CHECK(strstr(sql.data, "unnest($3::text[], $4::text[], $5::text[]) WITH ORDINALITY") != NULL);
  pf_buf_free(&sql);
  pf__relset_free(&rels);
  pf__typeset_free(&types);
  for (int i = 0; i < qb.nparams; i++) pf_buf_free(&qb.params[i]);
}

/* The query's shared sets become its common table expressions, named as the branches join them,
 * each once, before the branches; a query that used neither is the branches alone. */
static void test_query_text(void) {
  pf__qb_t qb = {0};
  pf__qb_branch(&qb);
  pf_buf_puts(&qb.sql, "SELECT 1");
  pf_buf_t text = {0};
  pf__qb_text(&qb, &text);
  CHECK_STR(text.data, "SELECT 1");
  pf_buf_free(&text);
  CHECK(pf__relset_add(pf__qb_rels(&qb), "public", "users") == 1);
  CHECK(pf__qb_rels(&qb) == &qb.rels && qb.nparams == 2);
  CHECK(pf__typeset_add(pf__qb_types(&qb), "uuid") == 1);
  CHECK(pf__typeset_add(pf__qb_types(&qb), "uuid") == 1 && qb.nparams == 5);
  pf__qb_text(&qb, &text);
  CHECK(strncmp(text.data, "WITH rels AS (SELECT r.k, rc.oid, rc.relkind, rc.relrowsecurity, false AS cols\n", 79) == 0);
  CHECK(strstr(text.data, "FROM unnest($1::text[], $2::text[]) WITH ORDINALITY") != NULL);
  CHECK(strstr(text.data, "),\ntys AS (SELECT u.k, r.oid") != NULL);
  CHECK(strstr(text.data, "unnest($3::text[], $4::text[], $5::text[])") != NULL);
  size_t n = strlen(text.data);
  CHECK(n > 9 && strcmp(text.data + n - 10, ")\nSELECT 1") == 0);
  pf_buf_free(&text);
  /* Flags: one per relation known when they are written; later ones are padded (NULL: false). */
  CHECK(pf__relset_add(&qb.rels, "public", "posts") == 2);
  pf__relset_flag(&qb, &qb.rels, (const unsigned char[]){0, 0, 1});
  CHECK(pf__relset_add(&qb.rels, "public", "tags") == 3);
  CHECK(qb.rels.num[2] == 6);
  pf_buf_putc(&qb.params[5], '}');
  CHECK_STR(qb.params[5].data, "{\"f\",\"t\"}");
  pf__qb_text(&qb, &text);
  CHECK(strstr(text.data, "coalesce(r.c, false) AS cols\n   FROM unnest($1::text[], $2::text[], $6::bool[]) WITH ORDINALITY AS r(s, n, c, k)") != NULL);
  pf_buf_free(&text);
  pf__qb_free(&qb);
  CHECK(qb.nparams == 0 && !qb.have_rels && !qb.have_types);
}

int main(void) {
  test_intern();
  test_sets();
  test_query_text();
  PF_TEST_DONE();
}
