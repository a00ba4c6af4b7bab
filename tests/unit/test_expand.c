/* ${VAR} expansion: set, unset, empty, defaults, $$, and the malformed forms. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "pf_test.h"
#include "preflight/error.h"
#include "preflight/expand.h"

static char expanded[512];

/* Expands s and returns the result (in a static buffer), or "ERROR: <message>". */
static const char *ex(const char *s) {
  char *out = NULL, err[256];
  if (pf_expand_env(s, &out, err, sizeof(err)) != 0) {
    CHECK(out == NULL);
    snprintf(expanded, sizeof(expanded), "ERROR: %s", err);
    return expanded;
  }
  snprintf(expanded, sizeof(expanded), "%s", out);
  free(out);
  return expanded;
}

int main(void) {
  setenv("PF_T_SET", "value", 1);
  setenv("PF_T_EMPTY", "", 1);
  setenv("PF_T_DOLLAR", "p$ss${x}", 1);
  unsetenv("PF_T_UNSET");

  CHECK_STR(ex(""), "");
  CHECK_STR(ex("plain text"), "plain text");
  CHECK_STR(ex("${PF_T_SET}"), "value");
  CHECK_STR(ex("a${PF_T_SET}b${PF_T_SET}c"), "avaluebvaluec");
  CHECK(strstr(ex("${PF_T_UNSET}"), "PF_T_UNSET is not set (nor PF_T_UNSET_FILE)") != NULL);
  CHECK(strstr(ex("x${PF_T_UNSET}"), "at character 2") != NULL);
  /* An unused default's variables are not required. */
  CHECK_STR(ex("${PF_T_SET:-${PF_T_UNSET}}"), "value");
  CHECK(strstr(ex("${PF_T_UNSET:-${PF_T_UNSET2}}"), "PF_T_UNSET2 is not set") != NULL);
  CHECK_STR(ex("${PF_T_UNSET:-dflt}"), "dflt");
  CHECK_STR(ex("${PF_T_EMPTY:-dflt}"), "dflt");
  CHECK_STR(ex("${PF_T_EMPTY-dflt}"), "");
  CHECK_STR(ex("${PF_T_UNSET-dflt}"), "dflt");
  CHECK_STR(ex("${PF_T_SET:-dflt}"), "value");
  CHECK_STR(ex("${PF_T_UNSET:-}"), "");
  CHECK_STR(ex("${PF_T_UNSET:-postgres://u@h:5432/db?x=1}"), "postgres://u@h:5432/db?x=1");
  CHECK_STR(ex("${PF_T_UNSET:-${PF_T_SET}}"), "value");
  CHECK_STR(ex("${PF_T_UNSET:-${PF_T_UNSET:-deep}}x"), "deepx");
  CHECK_STR(ex("${PF_T_SET:-${PF_T_UNSET:-deep}}"), "value");
  /* The value of a variable is not expanded again. */
  CHECK_STR(ex("${PF_T_DOLLAR}"), "p$ss${x}");
  CHECK_STR(ex("$$"), "$");
  CHECK_STR(ex("$${PF_T_SET}"), "${PF_T_SET}");
  CHECK_STR(ex("a$b"), "a$b");
  CHECK_STR(ex("trailing$"), "trailing$");
  CHECK_STR(ex("$PF_T_SET"), "$PF_T_SET");
  CHECK(strstr(ex("${_under_1}"), "_under_1 is not set") != NULL);
  pf_expand_allow_unset(true);   /* lint */
  CHECK_STR(ex("${PF_T_UNSET}"), "");
  CHECK_STR(ex("${_under_1}"), "");
  pf_expand_allow_unset(false);

  /* VAR_FILE stands for an unset (or empty) VAR; the variable wins when both are set. */
  char tmp[] = "/tmp/pf_secret_XXXXXX";
  int fd = mkstemp(tmp);
  CHECK(fd >= 0 && write(fd, "from-file\n\n", 11) == 11);
  close(fd);
  setenv("PF_T_UNSET_FILE", tmp, 1);
  setenv("PF_T_SET_FILE", tmp, 1);
  setenv("PF_T_EMPTY_FILE", tmp, 1);
  CHECK_STR(ex("<${PF_T_UNSET}>"), "<from-file>");
  CHECK_STR(ex("${PF_T_UNSET:-dflt}"), "from-file");
  CHECK_STR(ex("${PF_T_SET}"), "value");
  CHECK_STR(ex("${PF_T_EMPTY}"), "from-file");
  fd = open(tmp, O_WRONLY | O_TRUNC);
  CHECK(fd >= 0 && write(fd, "\n", 1) == 1);
  close(fd);
  const char *msg = ex("${PF_T_UNSET}");
  CHECK(strstr(msg, "PF_T_UNSET_FILE") != NULL && strstr(msg, tmp) != NULL && strstr(msg, "is empty") != NULL);
  unlink(tmp);
  msg = ex("${PF_T_UNSET}");
  CHECK(strstr(msg, "PF_T_UNSET_FILE: cannot read") != NULL && strstr(msg, "No such file") != NULL);
  setenv("PF_T_UNSET_FILE", "/tmp", 1);
  CHECK(strstr(ex("${PF_T_UNSET}"), "not a regular file") != NULL);
  unsetenv("PF_T_UNSET_FILE");
  unsetenv("PF_T_SET_FILE");
  unsetenv("PF_T_EMPTY_FILE");
  CHECK_STR(ex("${PF_T_UNSET:-a$$b}"), "a$b");

  CHECK(strstr(ex("${PF_T_SET"), "unterminated") != NULL);
  CHECK(strstr(ex("abc${"), "unterminated \"${\" at character 4") != NULL);
  CHECK(strstr(ex("${PF_T_UNSET:-abc"), "unterminated") != NULL);
  CHECK(strstr(ex("${PF_T_UNSET:-${X}"), "unterminated") != NULL);
  CHECK(strstr(ex("${}"), "empty variable name") != NULL);
  CHECK(strstr(ex("${1ABC}"), "invalid variable name") != NULL);
  CHECK(strstr(ex("${A B}"), "invalid variable reference") != NULL);
  CHECK(strstr(ex("${A:?err}"), "invalid variable reference") != NULL);
  CHECK(strstr(ex("${A:=x}"), "invalid variable reference") != NULL);
  CHECK(strstr(ex("${-x}"), "invalid variable name") != NULL);
  CHECK(strstr(ex("${A:-${B:-${C:-${D:-${E:-${F:-${G:-${H:-${I:-x}}}}}}}}}"), "nested too deeply") !=
        NULL);
  /* Messages never quote the input, which may hold a password. */
  CHECK(strstr(ex("postgres://u:s3cret@h/${"), "s3cret") == NULL);
  /* The expanded size is bounded (a value repeating a large variable must not exhaust memory),
   * and the bound is checked before anything past it is allocated. */
  {
    static char big[PF_EXPAND_MAX / 4 + 1];
    memset(big, 'x', sizeof(big) - 1);
    setenv("PF_T_BIG", big, 1);
    char *o = NULL, e[256];
    CHECK(pf_expand_env("${PF_T_BIG}${PF_T_BIG}${PF_T_BIG}", &o, e, sizeof(e)) == 0);
    CHECK(o != NULL && strlen(o) == 3 * (sizeof(big) - 1));
    free(o);
    CHECK(strstr(ex("${PF_T_BIG}${PF_T_BIG}${PF_T_BIG}${PF_T_BIG}${PF_T_BIG}"),
                 "more than 65536 bytes at character 45") != NULL);
    CHECK(strstr(ex("${PF_T_BIG}${PF_T_BIG}${PF_T_BIG}${PF_T_BIG}${PF_T_BIG}"), "xxxx") == NULL);
    CHECK(strstr(ex("${U:-${PF_T_BIG}${PF_T_BIG}${PF_T_BIG}${PF_T_BIG}${PF_T_BIG}}"),
                 "more than") != NULL);
    /* Exactly at the limit is still fine. */
    static char edge[PF_EXPAND_MAX + 1];
    memset(edge, 'y', PF_EXPAND_MAX);
    setenv("PF_T_EDGE", edge, 1);
    CHECK(pf_expand_env("${PF_T_EDGE}", &o, e, sizeof(e)) == 0);
    free(o);
    CHECK(strstr(ex("${PF_T_EDGE}z"), "more than") != NULL);
  }
  char *out = (char *)"untouched";
  CHECK(pf_expand_env("${", &out, NULL, 0) == PF_ECONFIG);
  CHECK(out == NULL);
  PF_TEST_DONE();
}
