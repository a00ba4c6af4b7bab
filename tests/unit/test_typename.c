/* Type names read as PostgreSQL's grammar reads them (src/typename.c): the catalog name each
 * spelling stands for, its schema, modifiers and array dimensions, and the texts that are no type
 * name. Also the argument split of function signatures, which must respect quotes. */
#include <stdlib.h>

#include "pf_test.h"
#include "preflight/typename.h"
#include "preflight/util.h"

static void check_one(const char *text, const char *schema, const char *name, int dims, const char *mods) {
  pf_typename_t t;
  char err[200];
  bool ok = pf_typename_parse(text, &t, err, sizeof(err));
  CHECK(ok);
  if (!ok) {
    fprintf(stderr, "  parse(%s): %s\n", text, err);
    return;
  }
  bool same = ((schema == NULL && t.schema == NULL) || (schema && t.schema && strcmp(schema, t.schema) == 0)) &&
              strcmp(name, t.name) == 0 && dims == t.dims && strcmp(mods, t.mods) == 0;
  CHECK(same);
  if (!same)
    fprintf(stderr, "  parse(%s) = schema %s name %s dims %d mods %s\n", text, t.schema ? t.schema : "(none)", t.name, t.dims,
            t.mods);
  pf_typename_free(&t);
}

static void check_bad(const char *text, const char *why) {
  pf_typename_t t;
  char err[200];
  bool ok = pf_typename_parse(text, &t, err, sizeof(err));
  CHECK(!ok);
  if (ok) {
    fprintf(stderr, "  parse(%s) should fail\n", text);
    pf_typename_free(&t);
    return;
  }
  CHECK(strstr(err, why) != NULL);
  if (strstr(err, why) == NULL) fprintf(stderr, "  parse(%s): %s (expected %s)\n", text, err, why);
}

static void test_parse(void) {
  check_one("integer", NULL, "int4", 0, "");
  check_one("INT", NULL, "int4", 0, "");
  check_one("int4", NULL, "int4", 0, "");
  check_one("  bigint  ", NULL, "int8", 0, "");
  check_one("double precision", NULL, "float8", 0, "");
  check_one("float(10)", NULL, "float4", 0, "");
  check_one("float", NULL, "float8", 0, "");
  check_one("character varying(255)", NULL, "varchar", 0, "255");
  check_one("character varying(255)[]", NULL, "varchar", 1, "255");
  check_one("varchar( 10 )", NULL, "varchar", 0, "10");
  check_one("numeric(10, 2)", NULL, "numeric", 0, "10,2");
  check_one("numeric(3,-1)", NULL, "numeric", 0, "3,-1");
  check_one("timestamp(3) with time zone", NULL, "timestamptz", 0, "3");
  check_one("timestamp without time zone", NULL, "timestamp", 0, "");
  check_one("time with time zone", NULL, "timetz", 0, "");
  check_one("interval day to second(3)", NULL, "interval", 0, "3");
  check_one("bit varying(5)", NULL, "varbit", 0, "5");
  check_one("char", NULL, "bpchar", 0, "");
  check_one("\"char\"", NULL, "char", 0, "");
  check_one("int[][]", NULL, "int4", 2, "");
  check_one("int[3]", NULL, "int4", 1, "");
  check_one("integer ARRAY", NULL, "int4", 1, "");
  check_one("text array[4]", NULL, "text", 1, "");
  check_one("_int4", NULL, "_int4", 0, "");
  check_one("public.mood", "public", "mood", 0, "");
  check_one("App.\"Mood\"[]", "app", "Mood", 1, "");
  check_one("\"my.schema\".\"a,b\"", "my.schema", "a,b", 0, "");
  check_one("\"paren(type\"", NULL, "paren(type", 0, "");
  check_one("\"q\"\"uote\"", NULL, "q\"uote", 0, "");
  check_one("public.geometry(Polygon,4326)", "public", "geometry", 0, "Polygon,4326");
  check_one("geometry(Polygon, 4326)[]", NULL, "geometry", 1, "Polygon,4326");
  check_one("extensions.citext", "extensions", "citext", 0, "");
  check_one("caf\xc3\xa9", NULL, "caf\xc3\xa9", 0, "");
  check_one("arrayish", NULL, "arrayish", 0, "");

  check_bad("", "missing");
  check_bad("int; DROP TABLE x", "unexpected \";\"");
  check_bad("foo bar", "not a type name");
  check_bad("\"open", "unterminated");
  check_bad("numeric(10,2)(3)", "only one");
  {
    pf_typename_t t;
    char err[200];
    CHECK(pf_typename_parse("other.public.int4", &t, err, sizeof(err)));
    CHECK_STR(t.database, "other");
    CHECK_STR(t.schema, "public");
    CHECK_STR(t.name, "int4");
    pf_typename_free(&t);
  }
  check_bad("varchar(10", "unterminated");
  check_bad("int[", "expected ]");
  check_bad("\"\"", "empty");
  check_bad("x(a(b))", "unexpected \"(\"");
}

static void add_arg(void *ctx, const char *arg) {
  pf_buf_t *b = ctx;
  pf_buf_printf(b, "<%s>", arg);
}

static void test_split_args(void) {
  static const struct {
    const char *args, *want;
  } cases[] = {
      {"", ""},
      {"integer", "<integer>"},
      {" uuid , integer ", "<uuid><integer>"},
      {"numeric(10,2), text", "<numeric(10,2)><text>"},
      {"\"comma,type\"", "<\"comma,type\">"},
      {"\"paren(type\", integer", "<\"paren(type\"><integer>"},
      {"\"a\"\"b,c\", int", "<\"a\"\"b,c\"><int>"},
      {"geometry(Polygon,4326)[], \"x)y\"", "<geometry(Polygon,4326)[]><\"x)y\">"},
  };
  for (size_t i = 0; i < PF_ARRAY_SIZE(cases); i++) {
    pf_buf_t b = {0};
    pf_buf_puts(&b, "");
    pf_typename_split_args(cases[i].args, add_arg, &b);
    CHECK_STR(b.data ? b.data : "", cases[i].want);
    pf_buf_free(&b);
  }
}

int main(void) {
  test_parse();
  test_split_args();
  PF_TEST_DONE();
}
