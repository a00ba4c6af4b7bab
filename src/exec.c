/* execvp with the exit codes shells use: 127 for not found, 126 for found but not executable. */
#include "preflight/exec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "preflight/error.h"
#include "preflight/signals.h"

/* Reads the interpreter of a "#!" script at path into interp (empty when path is no script or
 * cannot be read: execve will then say what is wrong). The kernel takes the first word after
 * "#!" on the first line, up to 255 bytes. */
static void pf__interpreter(const char *path, char *interp, size_t len) {
  interp[0] = '\0';
  FILE *f = fopen(path, "rb");
  if (f == NULL) return;
  char head[258];
  size_t n = fread(head, 1, sizeof(head) - 1, f);
  fclose(f);
  head[n] = '\0';
  if (n < 2 || head[0] != '#' || head[1] != '!') return;
  const char *p = head + 2;
  while (*p == ' ' || *p == '\t') p++;
  size_t k = strcspn(p, " \t\r\n");
  snprintf(interp, len, "%.*s", (int)k, p);
}

/* Classifies one candidate path: 0 executable file, PF_ENOEXEC exists but cannot run,
 * PF_ENOTFOUND absent. A script whose #! interpreter is missing or not executable fails as
 * execve would (ENOENT: 127; EACCES: 126), with the interpreter's name in interp. */
static int pf__probe(const char *path, char *interp, size_t len) {
  struct stat sb;
  interp[0] = '\0';
  if (stat(path, &sb) != 0) return PF_ENOTFOUND;
  if (S_ISDIR(sb.st_mode) || access(path, X_OK) != 0) return PF_ENOEXEC;
  char in[256];
  pf__interpreter(path, in, sizeof(in));
  if (in[0] == '\0') return 0;
  snprintf(interp, len, "%s", in);
  if (stat(in, &sb) != 0) return PF_ENOTFOUND;
  if (S_ISDIR(sb.st_mode) || access(in, X_OK) != 0) return PF_ENOEXEC;
  interp[0] = '\0';
  return 0;
}

int pf_exec_resolve(const char *file, char *err, size_t errlen) {
  if (file == NULL || *file == '\0') return pf_seterr(err, errlen, PF_ENOTFOUND, "empty command");
  int r;
  char interp[256] = "";
  if (strchr(file, '/')) {
    r = pf__probe(file, interp, sizeof(interp));
  } else {
    const char *path = getenv("PATH");
    if (path == NULL) path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    r = PF_ENOTFOUND;
    const char *p = path;
    for (;;) {
      const char *colon = strchr(p, ':');
      size_t n = colon ? (size_t)(colon - p) : strlen(p);
      char *cand = pf_xasprintf("%.*s%s%s", (int)n, p, n ? "/" : "", file);
      int c = pf__probe(cand, interp, sizeof(interp));
      if (c == 0 || interp[0]) {
        /* execvp stops at the first executable file, whether or not its interpreter exists. */
        free(cand);
        r = c;
        break;
      }
      free(cand);
      if (c == PF_ENOEXEC) r = PF_ENOEXEC;  /* keep looking: a later entry may be executable */
      if (!colon) break;
      p = colon + 1;
    }
  }
  if (r != 0 && interp[0])
    return pf_seterr(err, errlen, r, "command %s is a script whose interpreter %s (its #! line) %s", file, interp,
                     r == PF_ENOTFOUND ? "does not exist" : "is not executable");
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
