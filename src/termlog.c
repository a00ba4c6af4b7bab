/* The Kubernetes termination message; see termlog.h. */
#include "preflight/termlog.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "preflight/util.h"

void pf_termlog_write(const char *msg) {
  if (msg == NULL || *msg == '\0') return;
  const char *path = getenv("PREFLIGHT_TERMINATION_LOG");
  if (path == NULL || *path == '\0') path = PF_TERMLOG_DEFAULT;
  /* No O_CREAT: the file's existence is how Kubernetes says it wants one. O_NONBLOCK: a FIFO put
   * there must not hang the exit. */
  int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return;
  struct stat sb;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || ftruncate(fd, 0) != 0) {
    close(fd);
    return;
  }
  pf_buf_t b = {0};
  pf_buf_puts(&b, "preflight: ");
  pf_buf_puts(&b, msg);
  if (b.len > PF_TERMLOG_MAX_BYTES - 1) {
    b.len = PF_TERMLOG_MAX_BYTES - 1;
    /* Never end in the middle of a UTF-8 sequence. */
    while (b.len > 0 && ((unsigned char)b.data[b.len] & 0xC0) == 0x80) b.len--;
  }
  pf_buf_putc(&b, '\n');
  const char *p = b.data;
  size_t left = b.len;
  while (left > 0) {
    ssize_t n = write(fd, p, left);
    if (n <= 0) break;
    p += n;
    left -= (size_t)n;
  }
  pf_buf_free(&b);
  close(fd);
}
