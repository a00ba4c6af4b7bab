/* The pure parts of preflight snapshot: YAML scalar quoting (every name must read back as the
 * same string, through our own YAML reader, in block and flow context), the column types the
 * manifest parser accepts, and --table splitting. */
#include <stdlib.h>

#include "pf_test.h"
#include "preflight/error.h"
#include "preflight/manifest.h"
#include "preflight/snapshot.h"
#include "preflight/yamldoc.h"

/* Names that YAML would read as something else, or not at all, if written plain. */
static const char *const must_quote[] = {
    "yes", "Yes", "YES", "no", "No", "true", "True", "FALSE", "on", "Off", "y", "N", "null", "Null", "NULL", "~",
    "oN", "fAlSe", "nULL", "yEs",
    "123", "1.3", "0x1F", "1e3", "-1", ".inf", ".NaN", "0o17", "2001-12-14",
    "-x", "- x", "#h", "a #b", "a: b", "a:b", "key:", "*s", "&a", "!b", "%x", "@x", "`x", "|x", ">x", "?x", "?",
    "'quoted'", "\"dq\"", "q\"uote", "it's", "a,b", "[x]", "{x}", "x]", "x}",
    "public.users", "my.table", "auth.users(id)", "integer[]", "numeric(10,2)", "1.3.0",
    "", " leading", "trailing ", "two  spaces", "tab\tx", "new\nline", "cr\rx", "bell\x07", "del\x7f",
    "caf\xc3\xa9", "\xc3\xa9t\xc3\xa9", "snow\xe2\x98\x83", "emoji\xf0\x9f\x98\x80",
    "nel\xc2\x85x", "ls\xe2\x80\xa8x", "ps\xe2\x80\xa9x", "c1\xc2\x80x", "bom\xef\xbb\xbfx", "back\\slash",
    "<<", "=", "a=b", "$x", "a/b", "a-b",
};

/* Names that stay plain: they read back as strings anywhere. */
static const char *const may_be_plain[] = {
    "users", "userId", "UserID", "_private", "a b", "character varying(255)", "timestamp with time zone",
    "SETOF nodes", "get_nodes()", "by default", "t123", "yes_no", "nullable", "trueish", "x1",
    "ye", "of", "nul", "tru", "fals", "yess", "o", "n_", "y1", "no_",
};

/* Parses `doc` and returns the scalar found by `pick`, or NULL; the tree is freed by the caller. */
static pf_ynode_t *parse(const char *doc) {
  pf_ynode_t *root = NULL;
  char err[512] = "";
  int rc = pf_ydoc_parse(doc, strlen(doc), "test.yaml", &root, err, sizeof(err));
  if (rc != 0) {
    fprintf(stderr, "  cannot parse %s: %s\n", doc, err);
    return NULL;
  }
  return root;
}

/* Writes s in three contexts (block mapping value, flow sequence item, flow mapping value) and
 * checks that each reads back as exactly s, and never as null. */
static void check_round_trip(const char *s) {
  pf_buf_t q = {0};
  CHECK(pf_snapshot_yaml_scalar(&q, s));
  char *docs[3] = {pf_xasprintf("k: %s\n", q.data), pf_xasprintf("k: [%s, x]\n", q.data),
                   pf_xasprintf("- {k: %s, z: 1}\n", q.data)};
  for (int d = 0; d < 3; d++) {
    pf_ynode_t *root = parse(docs[d]);
    CHECK(root != NULL);
    if (root == NULL) continue;
    const pf_ynode_t *v = NULL;
    if (d == 0 && root->kind == PF_YNODE_MAPPING && root->n == 1) v = root->pairs[0].value;
    if (d == 1 && root->kind == PF_YNODE_MAPPING && root->n == 1 && root->pairs[0].value->kind == PF_YNODE_SEQUENCE &&
        root->pairs[0].value->n == 2)
      v = root->pairs[0].value->items[0];
    if (d == 2 && root->kind == PF_YNODE_SEQUENCE && root->n == 1 && root->items[0]->kind == PF_YNODE_MAPPING &&
        root->items[0]->n == 2)
      v = root->items[0]->pairs[0].value;
    CHECK(v != NULL && v->kind == PF_YNODE_SCALAR);
    if (v != NULL && v->kind == PF_YNODE_SCALAR) {
      CHECK(v->len == strlen(s) && memcmp(v->text, s, v->len) == 0);
      CHECK(!pf_ynode_is_null(v) || *s != '\0');
      if (v->len != strlen(s) || memcmp(v->text, s, v->len) != 0)
        fprintf(stderr, "  %s read back as \"%s\"\n", docs[d], v->text);
    }
    pf_ynode_free(root);
  }
  for (int d = 0; d < 3; d++) free(docs[d]);
  pf_buf_free(&q);
}

static void test_quoting(void) {
  for (size_t i = 0; i < PF_ARRAY_SIZE(must_quote); i++) {
    const char *s = must_quote[i];
    CHECK(!pf_snapshot_yaml_plain(s));
    if (pf_snapshot_yaml_plain(s)) fprintf(stderr, "  \"%s\" should be quoted\n", s);
    if (*s != '\0') check_round_trip(s);
  }
  for (size_t i = 0; i < PF_ARRAY_SIZE(may_be_plain); i++) {
    const char *s = may_be_plain[i];
    CHECK(pf_snapshot_yaml_plain(s));
    if (!pf_snapshot_yaml_plain(s)) fprintf(stderr, "  \"%s\" could be plain\n", s);
    check_round_trip(s);
  }
  /* Quoted forms are exactly what they should be. */
  pf_buf_t b = {0};
  pf_snapshot_yaml_scalar(&b, "q\"uote\\ new\nline\ttab\x01");
  CHECK_STR(b.data, "\"q\\\"uote\\\\ new\\nline\\ttab\\x01\"");
  pf_buf_free(&b);
  pf_snapshot_yaml_scalar(&b, "ls\xe2\x80\xa8 nel\xc2\x85");
  CHECK_STR(b.data, "\"ls\\u2028 nel\\x85\"");
  pf_buf_free(&b);
  pf_snapshot_yaml_scalar(&b, "caf\xc3\xa9");
  CHECK_STR(b.data, "\"caf\xc3\xa9\"");
  pf_buf_free(&b);
  pf_snapshot_yaml_scalar(&b, "1.3");
  CHECK_STR(b.data, "\"1.3\"");
  pf_buf_free(&b);
  pf_snapshot_yaml_scalar(&b, "users");
  CHECK_STR(b.data, "users");
  pf_buf_free(&b);
  /* Bytes that are not UTF-8 cannot be written exactly: the caller is told. */
  CHECK(!pf_snapshot_yaml_scalar(&b, "bad\xff"));
  CHECK_STR(b.data, "\"bad\\xFF\"");
  pf_buf_free(&b);
  CHECK(!pf_snapshot_yaml_scalar(&b, "overlong\xc0\xaf"));
  pf_buf_free(&b);
  CHECK(!pf_snapshot_yaml_scalar(&b, "surrogate\xed\xa0\x80"));
  pf_buf_free(&b);
  CHECK(!pf_snapshot_yaml_scalar(&b, "cut\xe2\x98"));
  pf_buf_free(&b);
}

/* pf_snapshot_type_ok must agree with the manifest parser, which is what reads the snapshot. */
static void test_type_ok(void) {
  static const struct {
    const char *type;
    bool ok;
  } cases[] = {
      {"integer", true},
      {"character varying(255)", true},
      {"character varying(255)[]", true},
      {"numeric(10,2)", true},
      {"timestamp(3) with time zone", true},
      {"interval day to second(3)", true},
      {"bit varying(5)", true},
      {"\"char\"", true},
      {"app.\"Mood\"", true},
      {"\"My Type\"[]", true},
      {"public.mood", true},
      {"caf\xc3\xa9", true},
      {"\"my-type\"", true},
      {"\"a(b\"", true},
      {"\"a,b\"", true},
      {"x(a)", true},
      {"numeric(3,-1)", true},
      {"public.geometry(Polygon,4326)", true},
      {"numeric(10,2)(3)", false},
      {"int; DROP TABLE t", false},
      {"varchar(10", false},
      {"", false},
  };
  for (size_t i = 0; i < PF_ARRAY_SIZE(cases); i++) {
    CHECK(pf_snapshot_type_ok(cases[i].type) == cases[i].ok);
    if (pf_snapshot_type_ok(cases[i].type) != cases[i].ok) fprintf(stderr, "  type_ok(%s)\n", cases[i].type);
    if (cases[i].type[0] == '\0') continue;
    pf_buf_t doc = {0};
    pf_buf_puts(&doc, "version: 1\ntables:\n  - name: t\n    columns:\n      - {name: c, type: ");
    pf_snapshot_yaml_scalar(&doc, cases[i].type);
    pf_buf_puts(&doc, "}\n");
    pf_manifest_t m;
    char err[512] = "";
    int rc = pf_manifest_parse(doc.data, doc.len, "t.yaml", ".", &m, err, sizeof(err));
    CHECK((rc == 0) == cases[i].ok);
    if ((rc == 0) != cases[i].ok) fprintf(stderr, "  parser and type_ok disagree on %s: %s\n", cases[i].type, err);
    if (rc == 0) {
      CHECK(m.nitems == 2);
      if (m.nitems == 2) CHECK_STR(m.items[1].type, cases[i].type);
      pf_manifest_free(&m);
    }
    pf_buf_free(&doc);
  }
}

/* Names written with the snapshot's forms come back from the manifest parser unchanged: an
 * explicit schema key keeps dots in names, and `table: schema.name` splits at the first dot. */
static void test_manifest_forms(void) {
  static const char *const names[] = {"users", "my.table", "User Profiles", "yes", "123", "a: b", "#x", "q\"uote", "-dash"};
  for (size_t i = 0; i < PF_ARRAY_SIZE(names); i++) {
    pf_buf_t doc = {0}, ref = {0};
    char *t = pf_xasprintf("public.%s", names[i]);
    pf_buf_puts(&doc, "version: 1\ntables:\n  - name: ");
    pf_snapshot_yaml_scalar(&doc, names[i]);
    pf_buf_puts(&doc, "\n    schema: ");
    pf_snapshot_yaml_scalar(&doc, "Weird Schema");
    pf_buf_puts(&doc, "\ntriggers:\n  - {name: ");
    pf_snapshot_yaml_scalar(&doc, names[i]);
    pf_buf_puts(&doc, ", table: ");
    pf_snapshot_yaml_scalar(&doc, t);
    pf_buf_puts(&doc, "}\nfunctions:\n  - {signature: ");
    char *sig = pf_xasprintf("%s(integer, text[])", names[i]);
    pf_snapshot_yaml_scalar(&doc, sig);
    pf_buf_puts(&doc, ", schema: app}\n");
    pf_manifest_t m;
    char err[512] = "";
    int rc = pf_manifest_parse(doc.data, doc.len, "t.yaml", ".", &m, err, sizeof(err));
    CHECK(rc == 0);
    if (rc != 0) fprintf(stderr, "  %s\n%s\n", err, doc.data);
    if (rc == 0 && m.nitems == 3) {
      CHECK_STR(m.items[0].schema, "Weird Schema");
      CHECK_STR(m.items[0].name, names[i]);
      CHECK_STR(m.items[1].table_schema, "public");
      CHECK_STR(m.items[1].table, names[i]);
      CHECK_STR(m.items[1].name, names[i]);
      CHECK_STR(m.items[2].schema, "app");
      CHECK_STR(m.items[2].name, names[i]);
      CHECK_STR(m.items[2].args, "integer, text[]");
    }
    if (rc == 0) pf_manifest_free(&m);
    free(t);
    free(sig);
    pf_buf_free(&doc);
    pf_buf_free(&ref);
  }
}

static void test_split_table(void) {
  char *s, *n;
  pf_snapshot_split_table("users", "public", &s, &n);
  CHECK_STR(s, "public");
  CHECK_STR(n, "users");
  free(s), free(n);
  pf_snapshot_split_table("auth.users", "public", &s, &n);
  CHECK_STR(s, "auth");
  CHECK_STR(n, "users");
  free(s), free(n);
  pf_snapshot_split_table("public.my.table", "app", &s, &n);
  CHECK_STR(s, "public");
  CHECK_STR(n, "my.table");
  free(s), free(n);
  pf_snapshot_split_table(".hidden", "app", &s, &n);
  CHECK_STR(s, "app");
  CHECK_STR(n, ".hidden");
  free(s), free(n);
  pf_snapshot_split_table("trailing.", "app", &s, &n);
  CHECK_STR(s, "app");
  CHECK_STR(n, "trailing.");
  free(s), free(n);
}

int main(void) {
  test_quoting();
  test_type_ok();
  test_manifest_forms();
  test_split_table();
  PF_TEST_DONE();
}
