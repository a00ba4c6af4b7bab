/* The floor of any gate, for scripts/bench.sh: one libpq connection (the same conninfo, so the same
 * authentication) and one SELECT 1, then exit. Whatever preflight costs beyond this is its own. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  const char *url = argc > 1 ? argv[1] : getenv("DATABASE_URL");
  PGconn *c = PQconnectdb(url ? url : "");
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
