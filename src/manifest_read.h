/* The bottom of the manifest loader: the context every layer above fills, located error
 * messages, and the typed readers (string, boolean, one-of, duration, file) that manifest_keys.c,
 * manifest_items.c and manifest.c all use. It calls nothing above it. Not a public API.
 *
 *   manifest.c        the document, settings sections, duplicates        (calls all below)
 *   manifest_items.c  one item of each kind                              (calls keys, read)
 *   manifest_keys.c   the tables: every key, type, enum and description  (calls read)
 *   manifest_read.c   context, errors, typed readers                     (calls yamldoc, arena)
 *   manifest_schema.c the JSON Schema, from the tables alone             (calls keys) */
#ifndef PREFLIGHT_MANIFEST_READ_H
#define PREFLIGHT_MANIFEST_READ_H

#include <stdbool.h>
#include <stdint.h>

#include "preflight/arena.h"
#include "preflight/manifest.h"
#include "preflight/yamldoc.h"

typedef struct pf__mctx {
  const char *path;     /* for messages */
  const char *dir;      /* fallback_file paths are relative to it */
  const char *root;     /* and must resolve to a file under this folder (default: dir) */
  pf_manifest_t *m;     /* being filled */
  pf_arena_t *arena;    /* m->arena: every string and item of the manifest */
  size_t cap;           /* allocated length of m->items */
  size_t max_bytes;     /* size limit for fallback files */
  char *err;
  size_t errlen;
  /* Strings that passed a key's check (pf_mkey_t.check), remembered by hash so that a value
   * repeated thousands of times (a column type) is checked once: direct-mapped, no allocation. */
  struct {
    const void *key;
    const char *s;
  } passed[64];
} pf__mctx_t;

/* Writes "path:line:column: where: message" (where may be NULL or "") at node `at`; returns
 * PF_ECONFIG. */
int pf__merr(pf__mctx_t *c, const pf_ynode_t *at, const char *where, const char *fmt, ...)
    PF_PRINTF(4, 5);

/* Formats "where.key" (or just "key") into buf for messages about one value; returns buf. */
const char *pf__mfield(char *buf, size_t buflen, const char *where, const char *key);

/* Reads a non-null scalar as a new arena string into *out, ${VAR}-expanded when `expand`. Empty
 * strings are errors unless allow_empty. `where` and `key` name it in messages. */
int pf__mstring(pf__mctx_t *c, const pf_ynode_t *node, const char *where, const char *key,
                bool expand, bool allow_empty, char **out) PF_MUST_CHECK;

/* Reads a plain true/false (any of true, True, TRUE and their false forms) into *out. */
int pf__mbool(pf__mctx_t *c, const pf_ynode_t *node, const char *where, const char *key,
              int *out) PF_MUST_CHECK;

/* Reads a string that must be one of the NULL-terminated `choices`; *idx receives its index. */
int pf__menum(pf__mctx_t *c, const pf_ynode_t *node, const char *where, const char *key,
              const char *const *choices, int *idx) PF_MUST_CHECK;

/* Reads a duration scalar (expanded when `expand`) into *ms. */
int pf__mduration(pf__mctx_t *c, const pf_ynode_t *node, const char *where, const char *key,
                  bool expand, int64_t *ms) PF_MUST_CHECK;

/* Reads a sequence of non-empty strings into a new arena array. */
int pf__mlist(pf__mctx_t *c, const pf_ynode_t *node, const char *where, const char *key,
              char ***out, size_t *n) PF_MUST_CHECK;

/* Reads a whole file of at most max_bytes into a new malloc'ed NUL-terminated buffer. With
 * regular_only, anything but a regular file is refused without blocking on it (a FIFO would
 * hang start-up). Returns 0, or -1 with why (a buffer of whylen bytes) set to the reason. */
int pf__mread_file(const char *path, bool regular_only, size_t max_bytes, char **out,
                   size_t *len, char *why, size_t whylen) PF_MUST_CHECK;

/* Returns the candidate closest to `word` (edit distance with transpositions, case ignored) if
 * it is close enough to be a likely typo, else NULL. `candidates` has n entries; NULL entries are
 * skipped. */
const char *pf__msuggest(const char *word, const char *const *candidates, size_t n);

/* Reports an unknown key at `k`: `what` begins the message ("unknown key \"x\" for a table"),
 * followed by "; did you mean \"y\"?" when a candidate is close, else by `otherwise` (may be
 * NULL, e.g. "(expected url, connect_timeout)"). Returns PF_ECONFIG. */
int pf__munknown(pf__mctx_t *c, const pf_ynode_t *k, const char *where, const char *what,
                 const char *const *candidates, size_t n, const char *otherwise);

#endif
