/* libFuzzer target for the manifest parser: any byte string must either load into a manifest that
 * keeps the loader's promises, or fail with PF_ECONFIG, a "file:line:column: " message and an
 * empty manifest. And wherever the fast YAML reader (src/yamlfast.c) accepts a text, libyaml
 * must accept it too, into the very same tree. Built only with -DPF_FUZZ=ON and clang; see tests/CMakeLists.txt.
 *
 *   ./fuzz_manifest -dict=../tests/fuzz/manifest.dict corpus ../tests/data/manifests/valid
 *
 * Relative fallback_file paths resolve against a folder that does not exist, so the fuzzer
 * exercises the error path without reading the files around it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preflight/error.h"
#include "preflight/manifest.h"
#include "preflight/yamldoc.h"

/* Aborts with a message, so that libFuzzer records the input that broke an invariant. */
static void pf__fuzz_fail(const char *what, const char *detail) {
  fprintf(stderr, "fuzz_manifest: invariant broken: %s: %s\n", what, detail ? detail : "");
  abort();
}

/* Checks what every successfully loaded manifest must hold. */
static void pf__fuzz_check_manifest(const pf_manifest_t *m) {
  if (m->version != 1) pf__fuzz_fail("version", NULL);
  if (m->lock_key == NULL || m->lock_key[0] == '\0') pf__fuzz_fail("lock_key", NULL);
  if (m->default_schema == NULL || m->default_schema[0] == '\0') pf__fuzz_fail("schema", NULL);
  if (m->wait_interval_ms <= 0 || m->wait_max_interval_ms < m->wait_interval_ms)
    pf__fuzz_fail("intervals", NULL);
  if (m->database_url != NULL && m->database_url[0] == '\0') pf__fuzz_fail("empty url", NULL);
  for (size_t i = 0; i < m->nitems; i++) {
    const pf_item_t *it = &m->items[i];
    if (it->kind < 0 || it->kind >= PF_KIND__COUNT) pf__fuzz_fail("kind", NULL);
    if (it->display == NULL || it->display[0] == '\0') pf__fuzz_fail("display", NULL);
    if (it->line < 1 || it->column < 1) pf__fuzz_fail("position", it->display);
    if (it->kind == PF_KIND_COLUMN) {
      if (it->parent >= i || m->items[it->parent].kind != PF_KIND_TABLE)
        pf__fuzz_fail("column parent", it->display);
      if (it->table == NULL || strcmp(it->table, m->items[it->parent].name) != 0)
        pf__fuzz_fail("column table", it->display);
    } else if (it->parent != PF_NO_PARENT) {
      pf__fuzz_fail("parent of a non-column", it->display);
    }
    if (it->fallback != NULL && (it->fallback[0] == '\0' || it->fallback_line < 1))
      pf__fuzz_fail("fallback", it->display);
    if ((it->fallback_file != NULL) != (it->fallback_path != NULL))
      pf__fuzz_fail("fallback_file", it->display);
    for (size_t v = 0; v < it->nvalues; v++)
      if (it->values[v] == NULL) pf__fuzz_fail("values", it->display);
  }
}

/* Holds the fast YAML reader to libyaml's tree wherever it accepts the text. */
static void pf__fuzz_check_readers(const char *text, size_t size) {
  pf_ynode_t *fast = NULL, *slow = NULL;
  char err[512];
  int rf = pf_ydoc_parse_with(text, size, 0, "fuzz.yaml", PF_YDOC_FAST, &fast, err, sizeof(err));
  if (rf != 0 && rf != PF_YDOC_NOT_FAST) pf__fuzz_fail("fast reader's return", NULL);
  if (rf == 0) {
    int rs = pf_ydoc_parse_with(text, size, 0, "fuzz.yaml", PF_YDOC_LIBYAML, &slow, err, sizeof(err));
    if (rs != 0) pf__fuzz_fail("the fast reader accepted what libyaml refuses", err);
    if (!pf_ynode_same(fast, slow)) pf__fuzz_fail("the fast reader's tree differs from libyaml's", NULL);
  }
  pf_ynode_free(fast);
  pf_ynode_free(slow);
}

/* Parses one input; returns 0 always (libFuzzer's contract) and aborts on a broken invariant. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  pf__fuzz_check_readers((const char *)data, size);
  static const pf_manifest_t zero;
  pf_manifest_t m;
  char err[1024];
  int rc = pf_manifest_parse((const char *)data, size, "fuzz.yaml", "/nonexistent-preflight-fuzz",
                             &m, err, sizeof(err));
  if (rc == 0) {
    pf__fuzz_check_manifest(&m);
    pf_manifest_free(&m);
    if (memcmp(&m, &zero, sizeof(m)) != 0) pf__fuzz_fail("free leaves it empty", NULL);
    return 0;
  }
  if (rc != PF_ECONFIG) pf__fuzz_fail("error code", err);
  if (memcmp(&m, &zero, sizeof(m)) != 0) pf__fuzz_fail("failed load not empty", err);
  int line = 0, column = 0, n = 0;
  if (sscanf(err, "fuzz.yaml:%d:%d: %n", &line, &column, &n) != 2 || n == 0 || line < 1 ||
      column < 1 || err[n] == '\0')
    pf__fuzz_fail("message form", err);
  return 0;
}
