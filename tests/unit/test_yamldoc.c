/* The YAML tree's two readers: the fast reader of the manifests' subset (src/yamlfast.c) must
 * give exactly libyaml's tree, positions included, wherever it accepts a text, and must accept
 * what manifests are written in (or it is never used, and every test here would pass anyway).
 * Runs from tests/ (ctest's working directory). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pf_test.h"
#include "preflight/error.h"
#include "preflight/util.h"
#include "preflight/yamldoc.h"

/* Parses text both ways. Returns 1 when the fast reader accepted it (and then checks that
 * libyaml accepted it too, into the same tree), 0 when it declined, -1 on a mismatch. */
static int both(const char *text, size_t len, const char *name) {
  pf_ynode_t *fast = NULL, *slow = NULL;
  char err[512] = "", err2[512] = "";
  int rf = pf_ydoc_parse_with(text, len, 0, name, PF_YDOC_FAST, &fast, err, sizeof(err));
  int rs = pf_ydoc_parse_with(text, len, 0, name, PF_YDOC_LIBYAML, &slow, err2, sizeof(err2));
  int out = 0;
  if (rf == 0) {
    out = 1;
    if (rs != 0) {
      fprintf(stderr, "%s: the fast reader accepted what libyaml refuses: %s\n", name, err2);
      out = -1;
    } else if (!pf_ynode_same(fast, slow)) {
      fprintf(stderr, "%s: the fast reader's tree differs from libyaml's\n", name);
      out = -1;
    }
  } else if (rf != PF_YDOC_NOT_FAST) {
    fprintf(stderr, "%s: the fast reader returned %d\n", name, rf);
    out = -1;
  }
  /* What the default does is one of the two, with libyaml's words for errors. */
  pf_ynode_t *auto_root = NULL;
  char err3[512] = "";
  int ra = pf_ydoc_parse_with(text, len, 0, name, PF_YDOC_AUTO, &auto_root, err3, sizeof(err3));
  if (ra != rs || (rs == 0 && !pf_ynode_same(auto_root, slow)) || (rs != 0 && strcmp(err3, err2) != 0)) {
    fprintf(stderr, "%s: the default parse differs from libyaml's (%d/%d: %s | %s)\n", name, ra, rs,
            err3, err2);
    out = -1;
  }
  pf_ynode_free(fast);
  pf_ynode_free(slow);
  pf_ynode_free(auto_root);
  return out;
}

/* Reads a whole file into a new buffer; returns NULL when it cannot. */
static char *slurp(const char *path, size_t *len) {
  FILE *fp = fopen(path, "rb");
  if (fp == NULL) return NULL;
  pf_buf_t b = {0};
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) pf_buf_append(&b, chunk, n);
  fclose(fp);
  *len = b.len;
  if (b.data == NULL) return pf_xstrdup("");
  return b.data;
}

/* Every YAML file in dir: no mismatch. Returns how many the fast reader accepted. */
static int files_in(const char *dir, int *total) {
  DIR *d = opendir(dir);
  CHECK(d != NULL);
  if (d == NULL) return 0;
  int accepted = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    size_t n = strlen(e->d_name);
    if (n < 5 || strcmp(e->d_name + n - 5, ".yaml") != 0) continue;
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    size_t len;
    char *text = slurp(path, &len);
    CHECK(text != NULL);
    if (text == NULL) continue;
    int r = both(text, len, path);
    CHECK(r >= 0);
    accepted += r == 1;
    (*total)++;
    free(text);
  }
  closedir(d);
  return accepted;
}

static void test_project_files(void) {
  int total = 0;
  int valid = files_in("data/manifests/valid", &total);
  /* Every valid manifest keeps to the subset but two: one written to show block scalars, and
   * one that starts with a %YAML directive. */
  CHECK(valid >= total - 2);
  CHECK(total >= 7);
  int examples = files_in("../config/examples", &total);
  CHECK(examples >= 4);
  CHECK(files_in("../config", &total) >= 1);
  files_in("data/manifests/invalid", &total);
  files_in("../docker/k8s", &total);
}

/* Texts the fast reader must accept, each into libyaml's own tree. */
static const char *const accepted[] = {
    "version: 1\n",
    "version: 1",
    "a: b\nc: d\n",
    "# head\n\nversion: 1   # trailing\n\n# between\ntables:\n  - name: t\n",
    "tables:\n- name: t\n  columns: [a, b]\n- name: u\n",
    "tables:\n  - name: t\n    columns:\n      - {name: id, type: bigint, nullable: false}\n      - {name: c5, type: \"numeric(10,2)\"}\n  - name: u\n",
    "a:\n  b:\n    c: d\n  e: f\ng: h\n",
    "a : b\n",
    "a: b#c\n",
    "a: b # c\n",
    "a: 'it''s'\n",
    "a: ''\nb: \"\"\n",
    "'quoted key': 1\n\"double\": 2\n",
    "a: {}\nb: []\n",
    "a: [[x, y], {k: v}, 'q', \"d\"]\n",
    "a: {k: [1, 2], j: {x: y}}\n",
    "- -1\n- x\n- --flag\n- -x-\n",
    "command: [npx, --no-install, knex, migrate:latest]\n",
    "---x: 1\n",
    "---: x\n",
    "- a\n- b: c\n  d: e\n- f\n",
    "x:\n- a: 1\n  l:\n  - p\n  - q\n- b\n",
    "url: postgresql://u:p@h:5432/db?sslmode=require\n",
    "run: ${DATABASE_URL}\n",
    "a: b c   d\n",
    "a: [b c , d]\n",
    "f: {signature: \"f1(integer, text)\", schema: public, returns: integer}\n",
    "a:\nb:\n  c:\n  d: e\nf:",
    "a:\n# c\nb: []\n",
    "x:\n- a:\n  b: 1\n",
    "a: [b,\n    c]\n",
    "a: [{b: c, d: e,\n     f: g}]\nh: i\n",
    "a: [ # c\n  b, # d\n  c\n  ]\n",
    "a: [b\n  , c]\n",
    "# \xc3\xa9t\xc3\xa9 \xe2\x80\x94 \xf0\x9f\x98\x80\na: b # \xc3\xa9\n",
    "a: ...\n",
    "a: b\n...x: 1\n",
    "a:   \n  b: c\n",
    "a: b\n\n\n",
    "a: b\n   # deeper comment\nc: d\n",
};

/* Texts it must leave to libyaml (some valid YAML, some not). */
static const char *const declined[] = {
    "",
    "# only a comment\n",
    "a: b\n  c\n",
    "- a\n  b\n",
    "a: |\n  text\n",
    "a: >\n  text\n",
    "a: &x 1\nb: *x\n",
    "a: !!str 1\n",
    "---\na: 1\n",
    "a: 1\n...\n",
    "a: 1\n---\nb: 2\n",
    "a:\tb\n",
    "a_long_key_here: a long value\x7f and more\n",
    "a_long_key_here: 'a long value \x01 and more'\n",
    "a_long_key_here: a long value\n# comment \x1f\n",
    "a_long_key_here: a long value\nb: \x1b\n",
    "a_long_key_here: a long value\nb: c\x7f",
    "a: b\r\n",
    "a: \xc3\xa9" "\n",
    "'\xc3\xa9' : b\n",
    "a: b # \xc2\x85\n",
    "a: b # \xe2\x80\xa8\n",
    "\xef\xbb\xbf" "a: b\n",
    "a: b # \xc0\xaf\n",
    "a: b # \xed\xa0\x80\n",
    "a: b # \xc3\n",
    "a: [b\n  c]\n",
    "a: [b,\nc]\n",
    "a: [b,\n...]\n",
    "a: {b:\n  c}\n",
    "sql: SELECT 1; -- x: y\n",
    "a: \"x\\ny\"\n",
    "a: 'x\n  y'\n",
    "a: {b: c,}\n",
    "a: [b, ]\n",
    "a: {b}\n",
    "a: b: c\n",
    "a: b\na: c\n",
    "a: \"x\"#c\n",
    "- - a\n",
    "-\n  a: b\n",
    "  a: b\n",
    "[a, b]\n",
    "scalar\n",
    "a: - b\n",
    "a: b\n- c\n",
    "a:\n- b\n c: d\n",
    "? a\n: b\n",
    "a: {x:[y]}\n",
    "a: [x:, y]\n",
    "a: {x:y}\n",
    "a: 1\n--- \n",
    "a: [x: y]\n",
    "a: [x #c]\n",
    "a: @b\n",
    "%YAML 1.1\n---\na: 1\n",
    "a: 1\n b: 2\n",
};

static void test_cases(void) {
  for (size_t i = 0; i < sizeof(accepted) / sizeof(*accepted); i++) {
    int r = both(accepted[i], strlen(accepted[i]), "accepted.yaml");
    if (r != 1) fprintf(stderr, "expected the fast reader to accept case %zu: \"%s\"\n", i, accepted[i]);
    CHECK(r == 1);
  }
  for (size_t i = 0; i < sizeof(declined) / sizeof(*declined); i++) {
    int r = both(declined[i], strlen(declined[i]), "declined.yaml");
    if (r != 0) fprintf(stderr, "expected the fast reader to decline case %zu: \"%s\"\n", i, declined[i]);
    CHECK(r == 0);
  }
}

/* Positions: the first key of an entry's mapping, a quote, a bracket, the "-" of a sequence at
 * its key's column. */
static void test_positions(void) {
  const char *text = "# c\nx:\n- a: 'q'\n  b: [1, {k: v}]\n";
  pf_ynode_t *root = NULL;
  char err[256];
  CHECK(pf_ydoc_parse_with(text, strlen(text), 0, "p.yaml", PF_YDOC_FAST, &root, err, sizeof(err)) == 0);
  if (root == NULL) return;
  CHECK(root->kind == PF_YNODE_MAPPING && root->line == 2 && root->column == 1);
  const pf_ynode_t *seq = root->pairs[0].value;
  CHECK(seq->kind == PF_YNODE_SEQUENCE && seq->line == 3 && seq->column == 1);
  const pf_ynode_t *map = seq->items[0];
  CHECK(map->kind == PF_YNODE_MAPPING && map->line == 3 && map->column == 3);
  const pf_ynode_t *q = map->pairs[0].value;
  CHECK(q->style == PF_YSTYLE_SINGLE_QUOTED && q->column == 6);
  const pf_ynode_t *flow = map->pairs[1].value;
  CHECK(flow->kind == PF_YNODE_SEQUENCE && flow->line == 4 && flow->column == 6);
  CHECK(flow->n == 2 && flow->items[1]->column == 10);
  pf_ynode_free(root);
}

/* Keys around libyaml's simple-key limit (1,024 characters from the key's start to its ":"),
 * plain and quoted, in block and in flow: past it libyaml takes no key (an error in flow), so
 * the fast reader must decline; well inside it, accept. */
static void test_long_keys(void) {
  static const char *const forms[][2] = {{"", ": v\n"}, {"a: {", ": v}\n"}, {"- ", ": v\n"}, {"a: {'", "' : v}\n"}};
  for (size_t fi = 0; fi < PF_ARRAY_SIZE(forms); fi++) {
    for (size_t n = 990; n <= 1030; n += 5) {
      char *key = malloc(n + 1);
      memset(key, 'k', n);
      key[n] = '\0';
      pf_buf_t b = {0};
      pf_buf_printf(&b, "%s%s%s", forms[fi][0], key, forms[fi][1]);
      int r = both(b.data, b.len, "long.yaml");
      CHECK(r >= 0);
      if (n <= 995) CHECK(r == 1);
      if (n >= 1025) CHECK(r == 0);
      pf_buf_free(&b);
      free(key);
    }
  }
}

/* A manifest of the shape `preflight snapshot` writes, thousands of items long. */
static void test_large(void) {
  pf_buf_t b = {0};
  pf_buf_printf(&b, "# Generated\nversion: 1\nschemas:\n  - {name: public}\ntables:\n");
  for (int t = 1; t <= 300; t++) {
    pf_buf_printf(&b, "  - name: t%d\n    schema: public\n    columns:\n", t);
    for (int c = 0; c < 10; c++)
      pf_buf_printf(&b, "      - {name: c%d, type: %s%s}\n", c, c % 2 ? "\"numeric(10,2)\"" : "text",
                    c % 3 ? "" : ", nullable: false, default: 'it''s'");
  }
  pf_buf_printf(&b, "functions:\n");
  for (int f = 1; f <= 100; f++)
    pf_buf_printf(&b, "  - {signature: \"f%d(integer, text)\", schema: public, returns: integer}\n", f);
  CHECK(both(b.data, b.len, "large.yaml") == 1);
  pf_buf_free(&b);
}

int main(void) {
  test_project_files();
  test_cases();
  test_positions();
  test_long_keys();
  test_large();
  PF_TEST_DONE();
}
