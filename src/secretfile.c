/* Secrets from files; see secretfile.h. */
#include "preflight/secretfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "preflight/error.h"

int pf_secretfile_read(const char *var, const char *path, char **out, char *err, size_t errlen) {
  *out = NULL;
  if (path == NULL || *path == '\0') return pf_seterr(err, errlen, PF_ECONFIG, "%s is set but empty: name a file", var);
  /* O_NONBLOCK: a FIFO planted where the secret should be must not hang start-up in open(). */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return pf_seterr(err, errlen, PF_ECONFIG, "%s: cannot read %s: %s", var, path, strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    close(fd);
    return pf_seterr(err, errlen, PF_ECONFIG, "%s: %s is not a regular file", var, path);
  }
  if (sb.st_size > (off_t)PF_SECRETFILE_MAX_BYTES) {
    close(fd);
    return pf_seterr(err, errlen, PF_ECONFIG, "%s: %s is larger than %u KiB; is it the right file?", var, path,
                     PF_SECRETFILE_MAX_BYTES / 1024);
  }
  char *buf = pf_xmalloc(PF_SECRETFILE_MAX_BYTES + 1);
  size_t len = 0;
  for (;;) {
    ssize_t n = read(fd, buf + len, PF_SECRETFILE_MAX_BYTES + 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      close(fd);
      free(buf);
      return pf_seterr(err, errlen, PF_ECONFIG, "%s: cannot read %s: %s", var, path, strerror(e));
    }
    if (n == 0 || (len += (size_t)n) > PF_SECRETFILE_MAX_BYTES) break;
  }
  close(fd);
  if (len > PF_SECRETFILE_MAX_BYTES) {
    free(buf);
    return pf_seterr(err, errlen, PF_ECONFIG, "%s: %s is larger than %u KiB; is it the right file?", var, path,
                     PF_SECRETFILE_MAX_BYTES / 1024);
  }
  while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) len--;
  buf[len] = '\0';
  if (len == 0) {
    free(buf);
    return pf_seterr(err, errlen, PF_ECONFIG, "%s: %s is empty", var, path);
  }
  if (memchr(buf, '\0', len) != NULL) {
    free(buf);
    return pf_seterr(err, errlen, PF_ECONFIG, "%s: %s holds a NUL byte; expected text", var, path);
  }
  *out = pf_xrealloc(buf, len + 1);
  return 0;
}

int pf_secretfile_getenv(const char *name, const char **value, char **owned, char *err, size_t errlen) {
  *value = NULL;
  *owned = NULL;
  const char *v = getenv(name);
  if (v && *v) {
    *value = v;
    return 0;
  }
  char var[256];
  if (snprintf(var, sizeof(var), "%s_FILE", name) >= (int)sizeof(var)) return 0;
  const char *path = getenv(var);
  if (path == NULL) return 0;
  int r = pf_secretfile_read(var, path, owned, err, errlen);
  if (r != 0) return r;
  *value = *owned;
  return 0;
}
