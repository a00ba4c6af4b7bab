/* execvp with the exit codes shells use: 127 for not found, 126 for found but not executable. */
#include "preflight/exec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "preflight/error.h"
#include "preflight/signals.h"

/* Classifies one candidate path: 0 executable file, PF_ENOEXEC exists but cannot run,
 * PF_ENOTFOUND absent. */
static int pf__probe(const char *path) {
  struct stat sb;
  if (stat(path, &sb) != 0) return PF_ENOTFOUND;
  if (S_ISDIR(sb.st_mode) || access(path, X_OK) != 0) return PF_ENOEXEC;
  return 0;
}

int pf_exec_resolve(const char *file, char *err, size_t errlen) {
  if (file == NULL || *file == '\0') return pf_seterr(err, errlen, PF_ENOTFOUND, "empty command");
  int r;
  if (strchr(file, '/')) {
    r = pf__probe(file);
  } else {
    const char *path = getenv("PATH");
    if (path == NULL) path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    r = PF_ENOTFOUND;
    const char *p = path;
    for (;;) {
      const char *colon = strchr(p, ':');
      size_t n = colon ? (size_t)(colon - p) : strlen(p);
      char *cand = pf_xasprintf("%.*s%s%s", (int)n, p, n ? "/" : "", file);
      int c = pf__probe(cand);
      free(cand);
      if (c == 0) {
        r = 0;
        break;
      }
      if (c == PF_ENOEXEC) r = PF_ENOEXEC;  /* keep looking: a later entry may be executable */
      if (!colon) break;
      p = colon + 1;
    }
  }
  if (r == PF_ENOTFOUND) return pf_seterr(err, errlen, r, "command not found: %s", file);
  if (r == PF_ENOEXEC) return pf_seterr(err, errlen, r, "command not executable: %s: permission denied or a directory", file);
  return 0;
}

int pf_exec(char *const argv[], char *err, size_t errlen) {
  pf_signals_restore();
  execvp(argv[0], argv);
  int e = errno;
  /* We only get here on failure; put our own signal handling back out of the picture is moot
   * since the caller exits right away. */
  if (e == ENOENT || e == ENOTDIR)
    return pf_seterr(err, errlen, PF_ENOTFOUND, "command not found: %s", argv[0]);
  return pf_seterr(err, errlen, PF_ENOEXEC, "cannot execute %s: %s", argv[0], strerror(e));
}
