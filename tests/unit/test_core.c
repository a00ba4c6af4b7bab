/* Unit tests for the pure logic of the core modules: no database needed. */
#include <stdlib.h>
#include <unistd.h>

#include "pf_test.h"
#include "preflight/backoff.h"
#include "preflight/catalog.h"
#include "preflight/db.h"
#include "preflight/error.h"
#include "preflight/exec.h"
#include "preflight/fallback.h"
#include "preflight/options.h"
#include "preflight/redact.h"
#include "preflight/util.h"

static void check_redact(const char *in, const char *want) {
  char *out = pf_redact(in);
  CHECK_STR(out, want);
  free(out);
}

static void test_redact(void) {
  check_redact("postgresql://app:s3cret@db:5432/x", "postgresql://app:***@db:5432/x");
  check_redact("postgres://app:p@ss@db/x", "postgres://app:***@db/x");
  check_redact("postgresql://app@db/x", "postgresql://app@db/x");
  check_redact("postgresql://db:5432/x", "postgresql://db:5432/x");
  check_redact("host=db password=s3cret user=app", "host=db password=*** user=app");
  check_redact("host=db password = 's3 cr\\'et' user=app", "host=db password = *** user=app");
  check_redact("postgresql://db/x?user=app&password=s3cret&sslmode=require",
               "postgresql://db/x?user=app&password=***&sslmode=require");
  check_redact("PASSWORD=abc", "PASSWORD=***");
  check_redact("no_password_here=abc", "no_password_here=abc");
  check_redact("url \"postgresql://u:pw@h/d\" failed", "url \"postgresql://u:***@h/d\" failed");
  char *s = pf_redact_secret("a hunter2 b hunter2", "hunter2");
  CHECK_STR(s, "a *** b ***");
  free(s);
  /* Passwords libpq misreads: unencoded '/', '%', '?', '#' and two '@' (issue 10 item 2). The
   * userinfo runs to the last '@' of the URL, whatever lies between. */
  check_redact("postgresql://app:Zq9/x+Yw==@db/app", "postgresql://app:***@db/app");
  check_redact("database app:x postgresql://app:50%off!@db/app", "database app:x postgresql://app:***@db/app");
  check_redact("postgresql://app:a?b@c@db:5432/app?sslmode=disable", "postgresql://app:***@db:5432/app?sslmode=disable");
  check_redact("postgresql://app:a#b@db/app", "postgresql://app:***@db/app");
  check_redact("\"postgresql://app:p@ss/w@rd@db/app\" x@y", "\"postgresql://app:***@db/app\" x@y");
  check_redact("postgresql://app@db:5432/app", "postgresql://app@db:5432/app");
  check_redact("postgresql://db:5432/app?sslmode=require", "postgresql://db:5432/app?sslmode=require");
  check_redact("postgresql://u:pw@h1:5432,h2:5433/db", "postgresql://u:***@h1:5432,h2:5433/db");
  check_redact("host=db password='it''s x' user=app", "host=db password=***'s x' user=app");

  char **pw = pf_redact_passwords("postgresql://app:Zq9/x+Yw==@db/app");
  CHECK(pw && pw[0] && strcmp(pw[0], "Zq9/x+Yw==") == 0 && pw[1] == NULL);
  pf_redact_passwords_free(pw);
  pw = pf_redact_passwords("postgresql://app:a%2Fb@db/app");
  CHECK(pw && pw[0] && pw[1] && strcmp(pw[0], "a%2Fb") == 0 && strcmp(pw[1], "a/b") == 0);
  pf_redact_passwords_free(pw);
  pw = pf_redact_passwords("host=db password='se cr\\'et' user=app");
  CHECK(pw && pw[0] && pw[1] && strcmp(pw[1], "se cr'et") == 0);
  pf_redact_passwords_free(pw);
  CHECK(pf_redact_passwords("postgresql://app@db/app") == NULL);
  CHECK(pf_redact_passwords("host=db user=app") == NULL);
  CHECK(pf_redact_passwords(NULL) == NULL);

  /* Short or common-word secrets are not replaced everywhere: "database ready" stays. */
  CHECK(!pf_redact_distinctive("database"));
  CHECK(!pf_redact_distinctive("12345678"));
  CHECK(!pf_redact_distinctive("ab1"));
  CHECK(pf_redact_distinctive("hunter2"));
  CHECK(pf_redact_distinctive("Zq9/x+Yw=="));
  CHECK(pf_redact_distinctive("correcthorsebatterystaple"));
  s = pf_redact_quoted("invalid percent-encoded token: \"50%off!\" (x)");
  CHECK_STR(s, "invalid percent-encoded token: \"***\" (x)");
  free(s);
}

static void test_backoff(void) {
  pf_backoff_t b;
  pf_backoff_init(&b, 50, 500, 42);
  int64_t ceiling = 50;
  for (int i = 0; i < 20; i++) {
    int64_t d = pf_backoff_next(&b);
    CHECK(d >= ceiling / 2 && d <= ceiling);
    ceiling = ceiling * 2 > 500 ? 500 : ceiling * 2;
  }
  /* Two replicas seeded differently do not retry in lockstep. */
  pf_backoff_t a, c;
  pf_backoff_init(&a, 100, 1000, 1);
  pf_backoff_init(&c, 100, 1000, 2);
  int same = 0;
  for (int i = 0; i < 10; i++) same += pf_backoff_next(&a) == pf_backoff_next(&c);
  CHECK(same < 10);
  /* max below initial is lifted to initial. */
  pf_backoff_init(&b, 200, 100, 7);
  for (int i = 0; i < 5; i++) CHECK(pf_backoff_next(&b) <= 200);

  /* Cheap refusals: nothing listening, no socket file, starting up. Everything else that the
   * server had to work for (too many connections, authentication) is not. */
  CHECK(pf_backoff_cheap("", "connection to server at \"h\", port 1 failed: Connection refused Is the server running?"));
  CHECK(pf_backoff_cheap("", "connection to server on socket \"/run/x/.s.PGSQL.5432\" failed: No such file or directory"));
  CHECK(pf_backoff_cheap("57P03", "FATAL:  the database system is starting up"));
  CHECK(!pf_backoff_cheap("53300", "FATAL:  sorry, too many clients already"));
  CHECK(!pf_backoff_cheap("28P01", "FATAL:  password authentication failed for user \"app\""));
  CHECK(!pf_backoff_cheap("", "connection attempt timed out"));
  CHECK(!pf_backoff_cheap("", "could not translate host name \"db\" to address: Name or service not known"));
  /* Their delays stay within [5, 10] ms, and do not advance the expensive ceiling. */
  pf_backoff_init(&b, 50, 500, 9);
  for (int i = 0; i < 50; i++) {
    int64_t d = pf_backoff_next_cheap(&b);
    CHECK(d >= PF_BACKOFF_CHEAP_MS / 2 && d <= PF_BACKOFF_CHEAP_MS);
  }
  int64_t first = pf_backoff_next(&b);
  CHECK(first >= 25 && first <= 50);
  /* An interval below the cheap delay is the cheap delay. */
  pf_backoff_init(&b, 2, 500, 9);
  for (int i = 0; i < 10; i++) CHECK(pf_backoff_next_cheap(&b) >= 1 && pf_backoff_next_cheap(&b) <= 2);
}

static void test_parse_error(void) {
  char st[6], clean[512];
  pf_db_parse_error("connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  28P01: password authentication "
                    "failed for user \"app\"\nLOCATION:  auth_failed, auth.c:326\n",
                    st, clean, sizeof(clean));
  CHECK_STR(st, "28P01");
  CHECK_STR(clean, "connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  password authentication failed for user \"app\"");
  pf_db_parse_error("connection to server at \"h\", port 1 failed: Connection refused\n\tIs the server running?\n", st,
                    clean, sizeof(clean));
  CHECK_STR(st, "");
  CHECK_STR(clean, "connection to server at \"h\", port 1 failed: Connection refused Is the server running?");
  pf_db_parse_error("FATAL:  57P03: the database system is starting up\n", st, clean, sizeof(clean));
  CHECK_STR(st, "57P03");
}

static void test_type_mods(void) {
  char m[32];
  pf_catalog_type_mods("varchar(255)", m, sizeof(m));
  CHECK_STR(m, "255");
  pf_catalog_type_mods("numeric( 10 , 2 )", m, sizeof(m));
  CHECK_STR(m, "10,2");
  pf_catalog_type_mods("timestamp(3) with time zone", m, sizeof(m));
  CHECK_STR(m, "3");
  pf_catalog_type_mods("text", m, sizeof(m));
  CHECK_STR(m, "");
  pf_catalog_type_mods("character varying(255)[]", m, sizeof(m));
  CHECK_STR(m, "255");
  pf_buf_t a = {0};
  pf_buf_putc(&a, '{');
  pf_catalog_array_add(&a, "plain");
  pf_catalog_array_add(&a, "with \"quote\" and \\ and ,");
  pf_catalog_array_add(&a, NULL);
  CHECK_STR(a.data, "{\"plain\",\"with \\\"quote\\\" and \\\\ and ,\",NULL");
  pf_buf_free(&a);
}

static void test_fallback_helpers(void) {
  CHECK(pf_lock_id("preflight") == pf_lock_id("preflight"));
  CHECK(pf_lock_id("preflight") != pf_lock_id("preflight2"));
  int line, col;
  pf_fallback_position("SELECT 1;\nSELEC 2;", 11, 1, &line, &col);
  CHECK(line == 2 && col == 1);
  pf_fallback_position("-- é\nBAD", 6, 10, &line, &col);   /* é is one character, two bytes */
  CHECK(line == 11 && col == 1);
  pf_fallback_position("abc", 2, 5, &line, &col);
  CHECK(line == 5 && col == 2);
}

static int parse(pf_options_t *o, int argc, const char **argv) {
  char err[256];
  return pf_options_parse(argc, (char **)argv, o, err, sizeof(err));
}

static void test_options(void) {
  unsetenv("DATABASE_URL");
  unsetenv("PREFLIGHT_TIMEOUT");
  unsetenv("PREFLIGHT_MODE");
  pf_options_t o;
  const char *a1[] = {"preflight", "--", "node", "server.js", "--port", "3"};
  CHECK(parse(&o, 6, a1) == 0);
  CHECK(o.command == PF_CMD_RUN && o.ncmd == 4 && strcmp(o.cmd[0], "node") == 0 && strcmp(o.cmd[2], "--port") == 0);
  pf_options_free(&o);
  const char *a2[] = {"preflight", "-f", "m.yaml", "--timeout=2s", "node", "-v"};
  CHECK(parse(&o, 6, a2) == 0);
  CHECK(strcmp(o.manifest_path, "m.yaml") == 0 && o.timeout_ms == 2000 && o.ncmd == 2 && o.log_level == PF_LOG_INFO);
  pf_options_free(&o);
  const char *a3[] = {"preflight", "check", "--format", "json", "-dpostgres://x"};
  CHECK(parse(&o, 5, a3) == 0);
  CHECK(o.command == PF_CMD_CHECK && o.check_mode && o.json_stdout && strcmp(o.database_url, "postgres://x") == 0);
  pf_options_free(&o);
  const char *a4[] = {"preflight", "--bogus"};
  CHECK(parse(&o, 2, a4) == PF_EUSAGE);
  pf_options_free(&o);
  const char *a5[] = {"preflight", "-t"};
  CHECK(parse(&o, 2, a5) == PF_EUSAGE);
  pf_options_free(&o);
  const char *a6[] = {"preflight", "check", "node"};
  CHECK(parse(&o, 3, a6) == PF_EUSAGE);
  pf_options_free(&o);
  const char *a7[] = {"preflight", "-t", "5 parsecs"};
  CHECK(parse(&o, 3, a7) == PF_EUSAGE);
  pf_options_free(&o);
  setenv("PREFLIGHT_TIMEOUT", "3s", 1);
  setenv("DATABASE_URL", "postgres://env", 1);
  const char *a8[] = {"preflight", "-t", "1s", "wait"};
  CHECK(parse(&o, 4, a8) == 0);   /* "wait" after options is a COMMAND, not the subcommand */
  CHECK(o.timeout_ms == 1000 && o.command == PF_CMD_RUN && o.ncmd == 1);
  CHECK(strcmp(o.database_url, "postgres://env") == 0);
  pf_options_free(&o);
  setenv("PREFLIGHT_TIMEOUT", "soon", 1);
  const char *a9[] = {"preflight"};
  CHECK(parse(&o, 1, a9) == PF_ECONFIG);
  pf_options_free(&o);
  unsetenv("PREFLIGHT_TIMEOUT");
  unsetenv("DATABASE_URL");
}

static void test_exec_resolve(void) {
  char err[256];
  CHECK(pf_exec_resolve("sh", err, sizeof(err)) == 0);
  CHECK(pf_exec_resolve("/bin/sh", err, sizeof(err)) == 0);
  CHECK(pf_exec_resolve("no-such-command-xyz", err, sizeof(err)) == PF_ENOTFOUND);
  char tmp[] = "/tmp/pf_noexec_XXXXXX";
  int fd = mkstemp(tmp);
  CHECK(fd >= 0);
  close(fd);
  CHECK(pf_exec_resolve(tmp, err, sizeof(err)) == PF_ENOEXEC);
  unlink(tmp);
  CHECK(pf_exec_resolve("/tmp", err, sizeof(err)) == PF_ENOEXEC);
  CHECK(pf_exit_status(PF_ENOTFOUND) == 127 && pf_exit_status(PF_ENOEXEC) == 126);
  CHECK(pf_exit_status(PF_ECONFIG) == 78 && pf_exit_status(PF_EMISSING) == 65 && pf_exit_status(PF_EAUTH) == 77);
}

/* An element for the sort test: a key with many duplicates, and its position before sorting. */
typedef struct {
  int key;
  size_t pos;
} sort_el_t;

static int sort_by_key(const void *a, const void *b) {
  const sort_el_t *x = a, *y = b;
  return (x->key > y->key) - (x->key < y->key);
}

/* pf_sort_ptrs against its contract on every length up to 300 and a few large ones, keys drawn
 * from ranges small enough for long runs of equal keys, in random, ascending and descending
 * input: the result is a permutation, in key order, and equal keys keep their input order. */
static void test_sort(void) {
  static const size_t big[] = {1000, 4096, 4097, 33333};
  unsigned seed = 12345;
  for (size_t t = 0; t < 300 + PF_ARRAY_SIZE(big); t++) {
    size_t n = t < 300 ? t : big[t - 300];
    for (int shape = 0; shape < 3; shape++) {
      sort_el_t *el = calloc(n + 1, sizeof(*el));
      void **p = calloc(n + 1, sizeof(*p));
      int range = (int)(n / 4) + 1;
      for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        el[i].key = shape == 0 ? (int)((seed >> 8) % (unsigned)range) : shape == 1 ? (int)(i / 3) : (int)((n - i) / 3);
        el[i].pos = i;
        p[i] = &el[i];
      }
      pf_sort_ptrs(p, n, sort_by_key);
      char *seen = calloc(n + 1, 1);
      bool ok = true;
      for (size_t i = 0; i < n; i++) {
        const sort_el_t *e = p[i];
        ok = ok && e >= el && e < el + n && !seen[e - el];
        if (!ok) break;
        seen[e - el] = 1;
        if (i > 0) {
          const sort_el_t *d = p[i - 1];
          ok = d->key < e->key || (d->key == e->key && d->pos < e->pos);
        }
      }
      if (!ok) fprintf(stderr, "pf_sort_ptrs: n=%zu shape=%d out of order\n", n, shape);
      CHECK(ok);
      free(seen);
      free(p);
      free(el);
    }
  }
}

int main(void) {
  test_redact();
  test_backoff();
  test_parse_error();
  test_type_mods();
  test_fallback_helpers();
  test_options();
  test_exec_resolve();
  test_sort();
  PF_TEST_DONE();
}
