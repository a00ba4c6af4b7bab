/* Parse-only throughput of the manifest loader: reads one manifest file, parses it ROUNDS times
 * (default 20) and prints the best and median CPU time and MB/s. Used to measure the parser alone,
 * without a database; scripts/bench.sh measures whole runs.
 *
 *   python3 tests/tools/gen_manifest.py > /tmp/big.yaml && build/tests/manifest_bench /tmp/big.yaml */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "preflight/manifest.h"

/* Returns the process's CPU time in seconds: on a shared machine wall time mostly measures the
 * other processes, CPU time what parsing costs. */
static double pf__now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Orders doubles ascending for qsort. */
static int pf__dcmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: manifest_bench FILE [ROUNDS]\n");
    return 64;
  }
  int rounds = argc > 2 ? atoi(argv[2]) : 20;
  if (rounds < 1) rounds = 1;
  FILE *f = fopen(argv[1], "rb");
  if (f == NULL) {
    perror(argv[1]);
    return 66;
  }
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *text = malloc((size_t)size + 1);
  if (text == NULL || fread(text, 1, (size_t)size, f) != (size_t)size) {
    fprintf(stderr, "%s: cannot read\n", argv[1]);
    return 66;
  }
  fclose(f);
  double *t = calloc((size_t)rounds, sizeof(*t));
  size_t nitems = 0;
  for (int r = 0; r < rounds; r++) {
    pf_manifest_t m;
    char err[1024];
    double t0 = pf__now();
    int rc = pf_manifest_parse(text, (size_t)size, argv[1], ".", &m, err, sizeof(err));
    t[r] = pf__now() - t0;
    if (rc != 0) {
      fprintf(stderr, "%s\n", err);
      return 65;
    }
    nitems = m.nitems;
    pf_manifest_free(&m);
  }
  qsort(t, (size_t)rounds, sizeof(*t), pf__dcmp);
  double mb = (double)size / 1e6;
  printf("%s: %.2f MB, %zu items, %d rounds, CPU time: best %.1f ms (%.1f MB/s), median %.1f ms (%.1f MB/s)\n",
         argv[1], mb, nitems, rounds, t[0] * 1e3, mb / t[0], t[rounds / 2] * 1e3,
         mb / t[rounds / 2]);
  free(t);
  free(text);
  return 0;
}
