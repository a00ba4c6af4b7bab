/* Unit tests for configuration from the environment and the retry-noise policy. */
#include <stdlib.h>
#include <string.h>

#include "pf_test.h"
#include "preflight/error.h"
#include "preflight/options.h"
#include "preflight/retrylog.h"
#include "preflight/service_url.h"

static int parse(pf_options_t *o, int argc, const char **argv) {
  char err[512];
  return pf_options_parse(argc, (char **)argv, o, err, sizeof(err));
}

/* A leading "--" rules out a subcommand but not options (ENTRYPOINT ["preflight", "--"]). */
static void test_leading_double_dash(void) {
  pf_options_t o;
  const char *a1[] = {"preflight", "--", "--init", "--health-listen", ":8080", "node", "server.js", "--port", "3"};
  CHECK(parse(&o, 9, a1) == 0);
  CHECK(o.init && o.health_listen && strcmp(o.health_listen, ":8080") == 0);
  CHECK(o.ncmd == 4 && strcmp(o.cmd[0], "node") == 0 && strcmp(o.cmd[2], "--port") == 0);
  pf_options_free(&o);
  const char *a2[] = {"preflight", "--", "check"};   /* a command named check */
  CHECK(parse(&o, 3, a2) == 0);
  CHECK(o.command == PF_CMD_RUN && o.ncmd == 1 && strcmp(o.cmd[0], "check") == 0);
  pf_options_free(&o);
  const char *a3[] = {"preflight", "--", "--", "-weird"};
  CHECK(parse(&o, 4, a3) == 0);
  CHECK(o.ncmd == 1 && strcmp(o.cmd[0], "-weird") == 0);
  pf_options_free(&o);
  const char *a4[] = {"preflight", "-t", "1s", "--", "--init"};   /* a later "--" still ends options */
  CHECK(parse(&o, 5, a4) == 0);
  CHECK(!o.init && o.ncmd == 1 && strcmp(o.cmd[0], "--init") == 0);
  pf_options_free(&o);
  const char *a5[] = {"preflight", "--", "--nonsense", "node"};
  CHECK(parse(&o, 4, a5) == PF_EUSAGE);
  pf_options_free(&o);
}

static void test_env_booleans(void) {
  static const char *const truths[] = {"1", "true", "TRUE", "Yes", "on", "ON"};
  static const char *const lies[] = {"0", "false", "False", "no", "NO", "off"};
  pf_options_t o;
  const char *a[] = {"preflight"};
  for (size_t i = 0; i < sizeof(truths) / sizeof(truths[0]); i++) {
    setenv("PREFLIGHT_INIT", truths[i], 1);
    CHECK(parse(&o, 1, a) == 0 && o.init);
    pf_options_free(&o);
    setenv("PREFLIGHT_INIT", lies[i], 1);
    CHECK(parse(&o, 1, a) == 0 && !o.init);
    pf_options_free(&o);
  }
  setenv("PREFLIGHT_INIT", "maybe", 1);
  CHECK(parse(&o, 1, a) == PF_EUSAGE);
  pf_options_free(&o);
  unsetenv("PREFLIGHT_INIT");
  setenv("PREFLIGHT_INIT_GROUP", "yes", 1);
  CHECK(parse(&o, 1, a) == 0 && o.init && o.init_group);
  pf_options_free(&o);
  setenv("PREFLIGHT_INIT", "off", 1);
  CHECK(parse(&o, 1, a) == 0 && !o.init);
  pf_options_free(&o);
  unsetenv("PREFLIGHT_INIT");
  unsetenv("PREFLIGHT_INIT_GROUP");
}

static void test_env_options(void) {
  pf_options_t o;
  const char *a[] = {"preflight"};
  setenv("PREFLIGHT_SERVICES", "tcp://redis:6379, http://auth:9999/health,,", 1);
  setenv("PREFLIGHT_HEALTH_INTERVAL", "3s", 1);
  CHECK(parse(&o, 1, a) == 0);
  CHECK(o.nservices == 2 && strcmp(o.services[0], "tcp://redis:6379") == 0 &&
        strcmp(o.services[1], "http://auth:9999/health") == 0 && o.health_interval_ms == 3000);
  pf_options_free(&o);
  const char *b[] = {"preflight", "--service", "redis://cache"};
  CHECK(parse(&o, 3, b) == 0);   /* the command line replaces the environment's list */
  CHECK(o.nservices == 1 && strcmp(o.services[0], "redis://cache") == 0);
  pf_options_free(&o);
  setenv("PREFLIGHT_SERVICES", "tcp://redis", 1);
  CHECK(parse(&o, 1, a) == PF_ECONFIG);
  pf_options_free(&o);
  unsetenv("PREFLIGHT_SERVICES");
  unsetenv("PREFLIGHT_HEALTH_INTERVAL");
  setenv("PREFLIGHT_HEALTH_LISTEN", ":8080", 1);
  CHECK(parse(&o, 1, a) == PF_EUSAGE);   /* needs --init */
  pf_options_free(&o);
  const char *c[] = {"preflight", "wait"};
  CHECK(parse(&o, 2, c) == 0 && o.health_listen == NULL);   /* ignored where nothing is supervised */
  pf_options_free(&o);
  const char *d[] = {"preflight", "--init", "true"};
  CHECK(parse(&o, 3, d) == 0 && strcmp(o.health_listen, ":8080") == 0);
  pf_options_free(&o);
  unsetenv("PREFLIGHT_HEALTH_LISTEN");
}

static void test_service_urls(void) {
  pf_service_t s;
  char err[512];
  CHECK(pf_service_parse("tcp://redis:6379", &s, err, sizeof(err)) == 0);
  CHECK(s.kind == PF_SERVICE_TCP && strcmp(s.host, "redis") == 0 && s.port == 6379 && s.path == NULL);
  pf_service_free(&s);
  CHECK(pf_service_parse("http://auth/health?x=1#frag", &s, err, sizeof(err)) == 0);
  CHECK(s.kind == PF_SERVICE_HTTP && s.port == 80 && strcmp(s.path, "/health?x=1") == 0);
  CHECK_STR(s.display, "http://auth:80/health?x=1");
  pf_service_free(&s);
  CHECK(pf_service_parse("http://[::1]:8080", &s, err, sizeof(err)) == 0);
  CHECK(strcmp(s.host, "::1") == 0 && s.port == 8080 && strcmp(s.path, "/") == 0);
  CHECK_STR(s.display, "http://[::1]:8080/");
  pf_service_free(&s);
  CHECK(pf_service_parse("redis://default:p%40ss@cache/2", &s, err, sizeof(err)) == 0);
  CHECK(s.port == 6379 && strcmp(s.user, "default") == 0 && strcmp(s.password, "p@ss") == 0);
  CHECK_STR(s.display, "redis://default:***@cache:6379");
  pf_service_free(&s);
  CHECK(pf_service_parse("redis://:topsecret@cache:1/x", &s, err, sizeof(err)) == PF_ECONFIG);
  CHECK(strstr(err, "topsecret") == NULL);
  CHECK(pf_service_parse("tcp://redis", &s, err, sizeof(err)) == PF_ECONFIG);
  CHECK(pf_service_parse("tcp://redis:0", &s, err, sizeof(err)) == PF_ECONFIG);
  CHECK(pf_service_parse("tcp://redis:65536", &s, err, sizeof(err)) == PF_ECONFIG);
  CHECK(pf_service_parse("tcp://:80", &s, err, sizeof(err)) == PF_ECONFIG);
  CHECK(pf_service_parse("redis:6379", &s, err, sizeof(err)) == PF_ECONFIG);
  CHECK(pf_service_parse("http://a/b c", &s, err, sizeof(err)) == PF_ECONFIG);
  CHECK(pf_service_parse("http://u:pw@a/", &s, err, sizeof(err)) == PF_ECONFIG && strstr(err, "pw") == NULL);
}

/* A minute of failures every 300 ms with one cause gives the first line and a progress line
 * about every 5 s; a change of cause is said at once. */
static void test_retrylog(void) {
  pf_retrylog_t r;
  pf_retrylog_init(&r);
  int info = 0, progress = 0;
  for (uint64_t t = 0; t < 60000; t += 300) {
    pf_retrylog_kind_t k = pf_retrylog_decide(&r, "connection refused", t);
    if (t == 0) CHECK(k == PF_RETRYLOG_ATTEMPT);
    if (k != PF_RETRYLOG_DEBUG) info++;
    if (k == PF_RETRYLOG_PROGRESS) progress++;
  }
  CHECK(r.attempts == 200);
  CHECK(progress >= 10 && progress <= 12);
  CHECK(info <= 13);
  CHECK(pf_retrylog_decide(&r, "the database system is starting up", 60100) == PF_RETRYLOG_ATTEMPT);
  CHECK(pf_retrylog_decide(&r, "the database system is starting up", 60400) == PF_RETRYLOG_DEBUG);
  CHECK(pf_retrylog_decide(&r, "connection refused", 60700) == PF_RETRYLOG_ATTEMPT);
}

int main(void) {
  test_retrylog();
  test_leading_double_dash();
  test_env_booleans();
  test_env_options();
  test_service_urls();
  PF_TEST_DONE();
}
