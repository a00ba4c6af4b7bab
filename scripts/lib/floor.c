/* The floor of any gate, for scripts/bench.sh: one libpq connection (the same conninfo, so the same
 * authentication) and one SELECT 1, then exit. Whatever preflight costs beyond this is its own.
 * With --wait as its second argument it retries a failed connection every 5 ms first, as a gate
 * that waits and verifies nothing would: the floor of the detection latency. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv) {
  const char *url = argc > 1 ? argv[1] : getenv("DATABASE_URL");
  PGconn *c = PQconnectdb(url ? url : "");
  while (argc > 2 && strcmp(argv[2], "--wait") == 0 && PQstatus(c) != CONNECTION_OK) {
    PQfinish(c);
    nanosleep(&(struct timespec){0, 5000000}, NULL);
    c = PQconnectdb(url ? url : "");
  }
  if (PQstatus(c) != CONNECTION_OK) {
    fprintf(stderr, "floor: %s", PQerrorMessage(c));
    return 1;
  }
  PGresult *r = PQexec(c, "SELECT 1");
  int ok = PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "1") == 0;
  PQclear(r);
  PQfinish(c);
  return ok ? 0 : 1;
}
