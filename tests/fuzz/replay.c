/* Replays files through a libFuzzer target's LLVMFuzzerTestOneInput without libFuzzer, so that the
 * normal gcc build links the target's exact source list (a source missing from it fails every
 * build, not only the clang fuzz stage) and runs the seed inputs under ASan/UBSan. Usage:
 * fuzz_manifest_replay FILE...; exits 0 when every input ran. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    FILE *f = fopen(argv[i], "rb");
    if (f == NULL) {
      perror(argv[i]);
      return 1;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
      n += got;
      if (n == cap) buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    if (buf == NULL) return 1;
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
  }
  printf("replayed %d inputs\n", argc - 1);
  return 0;
}
