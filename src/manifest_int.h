/* Internal to the manifest loader: what manifest.c (settings, files, the whole document) and
 * manifest_items.c (one item of each kind) share. Not part of any public API. */
#ifndef PREFLIGHT_MANIFEST_INT_H
#define PREFLIGHT_MANIFEST_INT_H

#include <stdbool.h>

#include "preflight/manifest.h"
#include "preflight/yamldoc.h"

typedef struct {
  const char *path;     /* for messages */
  const char *dir;      /* fallback_file paths are relative to it */
  const char *root;     /* and must resolve to a file under this folder (default: dir) */
  pf_manifest_t *m;     /* being filled */
  size_t cap;           /* allocated length of m->items */
  char *err;
  size_t errlen;
} pf__mctx_t;

/* Writes "path:line:column: where: message" (where may be NULL or "") at node `at`; returns
 * PF_ECONFIG. */
int pf__merr(pf__mctx_t *c, const pf_ynode_t *at, const char *where, const char *fmt, ...)
    PF_PRINTF(4, 5);

/* Reads a non-null scalar as a new string into *out, ${VAR}-expanded when `expand`. Empty
 * strings are errors unless allow_empty. `where` and `key` name it in messages. */
int pf__mstring(pf__mctx_t *c, const pf_ynode_t *node, const char *where, const char *key,
                bool expand, bool allow_empty, char **out) PF_MUST_CHECK;

/* Reads a plain true/false (any of true, True, TRUE and their false forms) into *out. */
int pf__mbool(pf__mctx_t *c, const pf_ynode_t *node, const char *where, const char *key,
              int *out) PF_MUST_CHECK;

/* Reads a string that must be one of the NULL-terminated `choices`; *idx receives its index. */
int pf__menum(pf__mctx_t *c, const pf_ynode_t *node, const char *where, const char *key,
              const char *const *choices, int *idx) PF_MUST_CHECK;

/* Reads a whole file of at most PF_MANIFEST_MAX_BYTES into a new NUL-terminated buffer. With
 * regular_only, anything but a regular file is refused without blocking on it (a FIFO would
 * hang start-up). Returns 0, or -1 with *why set to a static reason (strerror or our own). */
int pf__mread_file(const char *path, bool regular_only, char **out, size_t *len,
                   const char **why) PF_MUST_CHECK;

/* Parses the list under a kind's key (tables:, views:, ...) and appends its items. */
int pf__mparse_kind_list(pf__mctx_t *c, pf_kind_t kind, const pf_ynode_t *list) PF_MUST_CHECK;

/* Frees everything an item owns (not the item itself). */
void pf__mitem_free(pf_item_t *it);

#endif
