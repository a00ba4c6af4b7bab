/* yamlrate FILE: how fast libyaml alone reads FILE, in MB/s (the best of 7 passes, in-process):
 * events only, nothing built from them. scripts/bench.sh prints it beside preflight's own
 * parsing rate, as the ceiling that any parser built on libyaml works under. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <yaml.h>

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: yamlrate FILE\n");
    return 2;
  }
  FILE *f = fopen(argv[1], "rb");
  if (f == NULL || fseek(f, 0, SEEK_END) != 0) {
    perror(argv[1]);
    return 1;
  }
  long n = ftell(f);
  rewind(f);
  unsigned char *text = malloc((size_t)n + 1);
  if (text == NULL || fread(text, 1, (size_t)n, f) != (size_t)n) {
    perror(argv[1]);
    return 1;
  }
  fclose(f);
  double best = 0;
  for (int pass = 0; pass < 7; pass++) {
    double t0 = now_ms();
    yaml_parser_t p;
    yaml_event_t e;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, text, (size_t)n);
    for (int done = 0; !done;) {
      if (!yaml_parser_parse(&p, &e)) {
        fprintf(stderr, "%s: %s\n", argv[1], p.problem ? p.problem : "YAML error");
        return 1;
      }
      done = e.type == YAML_STREAM_END_EVENT;
      yaml_event_delete(&e);
    }
    yaml_parser_delete(&p);
    double rate = (double)n / 1e3 / (now_ms() - t0);
    if (rate > best) best = rate;
  }
  printf("%.1f\n", best);
  free(text);
  return 0;
}
