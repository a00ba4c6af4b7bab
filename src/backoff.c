/* Jittered exponential backoff. Equal jitter keeps a floor of half the ceiling, so a retry is
 * never immediate (which would hammer a server that is refusing connections) while replicas that
 * failed at the same instant still spread out. */
#include "preflight/backoff.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

/* Returns the next value of a xorshift64* generator: fast, good enough for jitter. */
static uint64_t pf__rand(uint64_t *s) {
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 0x2545F4914F6CDD1DULL;
}

void pf_backoff_init(pf_backoff_t *b, int64_t initial_ms, int64_t max_ms, uint64_t seed) {
  if (initial_ms < 1) initial_ms = 1;
  if (max_ms < initial_ms) max_ms = initial_ms;
  b->initial_ms = initial_ms;
  b->max_ms = max_ms;
  b->ceiling_ms = initial_ms;
  if (seed == 0) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    seed = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40);
  }
  b->rng = seed ? seed : 0x9E3779B97F4A7C15ULL;
}

int64_t pf_backoff_next(pf_backoff_t *b) {
  int64_t ceiling = b->ceiling_ms;
  int64_t half = ceiling / 2;
  int64_t delay = half + (int64_t)(pf__rand(&b->rng) % (uint64_t)(ceiling - half + 1));
  b->ceiling_ms = ceiling > b->max_ms / 2 ? b->max_ms : ceiling * 2;
  return delay < 1 ? 1 : delay;
}

bool pf_backoff_cheap(const char *sqlstate, const char *message) {
  if (sqlstate && strcmp(sqlstate, "57P03") == 0) return true;
  if (sqlstate && sqlstate[0]) return false;
  /* libpq reports a refused or absent socket with strerror()'s text and no SQLSTATE. */
  return message && (strstr(message, "Connection refused") || strstr(message, "No such file or directory"));
}

int64_t pf_backoff_next_cheap(pf_backoff_t *b) {
  int64_t ceiling = b->initial_ms < PF_BACKOFF_CHEAP_MS ? b->initial_ms : PF_BACKOFF_CHEAP_MS;
  int64_t half = ceiling / 2;
  int64_t delay = half + (int64_t)(pf__rand(&b->rng) % (uint64_t)(ceiling - half + 1));
  return delay < 1 ? 1 : delay;
}
