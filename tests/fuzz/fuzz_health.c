/* libFuzzer target for the health endpoint's request parser and listen-address parser: any bytes
 * a client sends must yield one of the documented verdicts, the same one however the bytes are
 * split into reads, and never touch memory outside the buffer. Built only with -DPF_FUZZ=ON and
 * clang; see tests/CMakeLists.txt.
 *
 *   ./fuzz_health -dict=../tests/fuzz/health.dict -max_total_time=60 corpus */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "preflight/error.h"
#include "preflight/health.h"

/* Aborts with a message, so that libFuzzer records the input that broke an invariant. */
static void pf__fuzz_fail(const char *what, int code) {
  fprintf(stderr, "fuzz_health: invariant broken: %s (%d)\n", what, code);
  abort();
}

/* Whether code is one pf_health_parse_request may return. */
static int pf__known(int code) {
  static const int codes[] = {0, 200, 400, 404, 405, 413, 414, 431, 505};
  for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
    if (codes[i] == code) return 1;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* The request head, copied to a buffer of exactly its size so ASan sees any overread, with a
   * head limit the input itself chooses (the server's is 8 KiB). */
  if (size == 0) return 0;
  size_t max = 16 + (size_t)(data[0] % 4) * 512;
  const uint8_t *req = data + 1;
  size_t len = size - 1 > max ? max : size - 1;
  char *buf = malloc(len ? len : 1);
  memcpy(buf, req, len);
  pf_health_route_t route = 0;
  int code = pf_health_parse_request(buf, len, max, &route);
  if (!pf__known(code)) pf__fuzz_fail("unknown verdict", code);
  if (code == 200 && route != PF_HEALTH_ROUTE_HEALTH && route != PF_HEALTH_ROUTE_READY)
    pf__fuzz_fail("200 without a route", (int)route);
  /* Same bytes, same verdict. */
  pf_health_route_t again = 0;
  if (pf_health_parse_request(buf, len, max, &again) != code || (code == 200 && again != route))
    pf__fuzz_fail("not deterministic", code);
  /* The server judges a growing buffer: once a prefix has a final verdict other than "more"
   * it answers with it, so a prefix must never accept what the whole refuses as malformed. */
  if (code == 400) {
    for (size_t cut = 1; cut < len; cut += 1 + cut / 4) {
      pf_health_route_t r = 0;
      if (pf_health_parse_request(buf, cut, max, &r) == 200) pf__fuzz_fail("prefix accepted, whole malformed", 200);
    }
  }
  free(buf);

  /* The listen address parser, on the same bytes as a NUL-terminated string. */
  char *s = malloc(size + 1);
  memcpy(s, data, size);
  s[size] = '\0';
  struct sockaddr_storage ss;
  char err[256];
  int rc = pf_health_parse_listen(s, &ss, err, sizeof(err));
  if (rc != 0 && rc != PF_ECONFIG) pf__fuzz_fail("listen error code", rc);
  if (rc == 0 && ss.ss_family != AF_INET && ss.ss_family != AF_INET6) pf__fuzz_fail("listen family", ss.ss_family);
  free(s);
  return 0;
}
