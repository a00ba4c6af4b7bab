/* The builder of yamldoc's node trees, below both of the parsers that feed it: libyaml's events
 * (yamldoc.c) and the fast reader of the manifest's common subset (yamlfast.c). Whatever reads
 * the YAML, the tree comes out of these functions, so the two parsers cannot disagree on its
 * shape, its positions, the depth limit or duplicate keys. Internal to those three files; ytree.c
 * also holds the functions yamldoc.h declares for finished trees, so that it calls nothing above
 * it. */
#ifndef PREFLIGHT_YTREE_H
#define PREFLIGHT_YTREE_H

#include <stddef.h>

#include "preflight/arena.h"
#include "preflight/yamldoc.h"

typedef struct {
  pf_ynode_t *node;
  pf_ynode_t *key;      /* mappings: a key read and waiting for its value */
  size_t base;          /* where this collection's children start on the scratch stack */
} pf__yframe_t;

typedef struct {
  const char *path;
  const char *text;
  size_t len;
  pf_arena_t *arena;
  pf_ynode_t *root;
  pf__yframe_t stack[PF_YDOC_MAX_DEPTH];
  int depth;
  unsigned nodes;       /* nodes made so far: the progress hook runs every 1,024 */
  /* Children of every open collection, innermost last (a mapping's as key, value, key, ...).
   * A collection's children are copied into an exact-size arena array when it ends, so no array
   * is ever grown inside the arena. */
  pf_ynode_t **scratch;
  size_t nscratch, capscratch;
  char *err;
  size_t errlen;
} pf__ybuilder_t;

/* Prepares b for a tree of text[0..len) named path in messages, with a fresh arena. */
void pf__yb_init(pf__ybuilder_t *b, const char *path, const char *text, size_t len, char *err,
                 size_t errlen);

/* Releases what the builder holds but the tree: the scratch stack. */
void pf__yb_finish(pf__ybuilder_t *b);

/* Frees the builder's arena and with it every node made so far, and forgets the root. */
void pf__yb_discard(pf__ybuilder_t *b);

/* Writes "path:line:column: message" into the builder's error buffer; returns PF_ECONFIG. */
int pf__yerr(pf__ybuilder_t *b, int line, int column, const char *fmt, ...) PF_PRINTF(4, 5);

/* Returns a new scalar node at the 1-based line and column, whose text is the len bytes that
 * follow it in the arena (the caller writes them, with a NUL after). */
pf_ynode_t *pf__yb_scalar(pf__ybuilder_t *b, int line, int column, pf_ystyle_t style, size_t len);

/* Hangs a finished scalar under the innermost open collection, or makes it the root. Returns 0,
 * or PF_ECONFIG. */
int pf__yb_attach(pf__ybuilder_t *b, pf_ynode_t *node) PF_MUST_CHECK;

/* Opens a sequence or a mapping at the 1-based line and column, under the innermost open
 * collection. Returns 0, or PF_ECONFIG (nesting deeper than PF_YDOC_MAX_DEPTH, a collection
 * used as a mapping key). */
int pf__yb_open(pf__ybuilder_t *b, pf_ynode_kind_t kind, int line, int column) PF_MUST_CHECK;

/* Closes the innermost open collection. Returns 0, or PF_ECONFIG for a mapping that repeats a
 * key or for a close with nothing open (line and column say where). */
int pf__yb_close(pf__ybuilder_t *b, int line, int column) PF_MUST_CHECK;

#endif
