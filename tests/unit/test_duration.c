/* Durations: every unit, sums, bare seconds, the limits and the formatter. */
#include "pf_test.h"
#include "preflight/duration.h"
#include "preflight/error.h"

/* Returns the parsed value of s, or -1 when it does not parse. */
static int64_t parse(const char *s) {
  int64_t ms = -2;
  char err[256];
  return pf_duration_parse(s, &ms, err, sizeof(err)) == 0 ? ms : -1;
}

/* Returns the error message for s, or "" when it parses. */
static const char *parse_err(const char *s) {
  static char err[256];
  int64_t ms;
  err[0] = '\0';
  if (pf_duration_parse(s, &ms, err, sizeof(err)) == 0) return "";
  return err;
}

/* Returns pf_duration_format's output for ms. */
static const char *fmt(int64_t ms) {
  static char buf[64];
  return pf_duration_format(ms, buf, sizeof(buf));
}

int main(void) {
  CHECK(parse("250ms") == 250);
  CHECK(parse("5s") == 5000);
  CHECK(parse("2m") == 120000);
  CHECK(parse("5min") == 300000);
  CHECK(parse("1h") == 3600000);
  CHECK(parse("0") == 0);
  CHECK(parse("0s") == 0);
  CHECK(parse("60") == 60000);
  CHECK(parse("1m30s") == 90000);
  CHECK(parse("1h2m3s4ms") == 3723004);
  CHECK(parse("1s500ms") == 1500);
  CHECK(parse("2147483647ms") == 2147483647);
  CHECK(parse("2147483s") == 2147483000);

  CHECK(parse("") == -1);
  CHECK(parse("-5s") == -1);
  CHECK(parse("5") == 5000);
  CHECK(parse("5d") == -1);
  CHECK(parse("5 s") == -1);
  CHECK(parse(" 5s") == -1);
  CHECK(parse("5s ") == -1);
  CHECK(parse("1.5s") == -1);
  CHECK(parse("s") == -1);
  CHECK(parse("5mins") == -1);
  CHECK(parse("5sec") == -1);
  CHECK(parse("1m30") == -1);
  CHECK(parse("abc") == -1);
  CHECK(parse("2147483648ms") == -1);
  CHECK(parse("2147484s") == -1);
  CHECK(parse("2147484") == -1);
  CHECK(parse("596524h") == -1);
  CHECK(parse("99999999999999999999999s") == -1);
  CHECK(parse("2147483s648ms") == -1);
  CHECK(parse("2147483s647ms") == 2147483647);

  CHECK(strstr(parse_err(""), "empty") != NULL);
  CHECK(strstr(parse_err("-1s"), "negative") != NULL);
  CHECK(strstr(parse_err("5d"), "units are") != NULL);
  CHECK(strstr(parse_err("3000000s"), "too large") != NULL);
  int64_t ms;
  CHECK(pf_duration_parse("x", &ms, NULL, 0) == PF_ECONFIG);

  CHECK_STR(fmt(0), "0s");
  CHECK_STR(fmt(250), "250ms");
  CHECK_STR(fmt(5000), "5s");
  CHECK_STR(fmt(90000), "1m30s");
  CHECK_STR(fmt(300000), "5m");
  CHECK_STR(fmt(3600000), "1h");
  CHECK_STR(fmt(1500), "1s500ms");
  CHECK_STR(fmt(3723004), "1h2m3s4ms");
  char small[4];
  pf_duration_format(3723004, small, sizeof(small));
  CHECK(strlen(small) < sizeof(small));
  /* Formatting and parsing round-trip. */
  for (int64_t v = 0; v < 4000000; v += 999)
    CHECK(parse(fmt(v)) == v);
  PF_TEST_DONE();
}
