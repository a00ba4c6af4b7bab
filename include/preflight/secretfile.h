/* Secrets from files, the convention of Docker and Kubernetes secrets and of the official database
 * images: FOO_FILE=/run/secrets/foo stands for FOO with that file's contents. */
#ifndef PREFLIGHT_SECRETFILE_H
#define PREFLIGHT_SECRETFILE_H

#include <stddef.h>

#include "preflight/util.h"

#define PF_SECRETFILE_MAX_BYTES (64u * 1024u)

/* Reads the file that variable `var` names (var is "DATABASE_URL_FILE", path its value) into a new
 * string in *out, trailing newlines (and CRs) dropped, as a shell's "$(cat file)" would. A missing,
 * unreadable, non-regular, over-64-KiB or empty file is PF_ECONFIG with a message naming the
 * variable and the file, never the contents. */
int pf_secretfile_read(const char *var, const char *path, char **out, char *err, size_t errlen) PF_MUST_CHECK;

/* Looks `name` up the way the contract's _FILE convention says: the variable if it is set and
 * non-empty, else the contents of the file named by name_FILE when that is set, else NULL.
 * Returns 0 with *value pointing at the environment or at *owned (a new string the caller frees;
 * NULL when nothing was read), or PF_ECONFIG from pf_secretfile_read. */
int pf_secretfile_getenv(const char *name, const char **value, char **owned, char *err, size_t errlen) PF_MUST_CHECK;

#endif
