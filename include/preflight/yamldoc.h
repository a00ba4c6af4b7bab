/* A YAML stream loaded into a small tree of mappings, sequences and scalars, each with its
 * 1-based line and column, so that the manifest validator can name the exact place of every
 * problem.
 *
 * Only the subset of YAML a manifest needs is accepted: one document, scalar mapping keys, no
 * anchors, aliases or explicit tags, no duplicate keys, at most PF_YDOC_MAX_DEPTH levels of
 * nesting and at most PF_MANIFEST_MAX_BYTES of input (or the limit the caller gives).
 *
 * The parsers are in src/yamldoc.c (with src/yamlfast.c); the functions on finished trees and the
 * progress hook in src/ytree.c, below them, with the builder both parsers feed. */
#ifndef PREFLIGHT_YAMLDOC_H
#define PREFLIGHT_YAMLDOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "preflight/util.h"

#define PF_YDOC_MAX_DEPTH 64

typedef enum { PF_YNODE_SCALAR = 0, PF_YNODE_SEQUENCE = 1, PF_YNODE_MAPPING = 2 } pf_ynode_kind_t;

/* How a scalar was written: plain scalars are the only ones that can be null, booleans or
 * numbers; quoted and block scalars are always strings. */
typedef enum {
  PF_YSTYLE_PLAIN = 0,
  PF_YSTYLE_SINGLE_QUOTED,
  PF_YSTYLE_DOUBLE_QUOTED,
  PF_YSTYLE_LITERAL,   /* | */
  PF_YSTYLE_FOLDED,    /* > */
} pf_ystyle_t;

typedef struct pf_ynode pf_ynode_t;

typedef struct {
  pf_ynode_t *key;      /* always a scalar */
  pf_ynode_t *value;
} pf_ypair_t;

/* 32 bytes: a large manifest has a node for every 8 bytes of YAML, and the tree is most of the
 * parser's memory (on the machines CI uses, a first touch of a page costs ~12 us). Lengths fit
 * 32 bits because input is limited to 1 GiB. A node holds one of text, items and pairs, by its
 * kind: read `text` only from a scalar; `n` is 0 for a scalar, so loops over items or pairs
 * never run on one. */
struct pf_ynode {
  unsigned char kind;   /* pf_ynode_kind_t */
  unsigned char style;  /* pf_ystyle_t (scalars) */
  int line, column;     /* 1-based start: the indicator of a block scalar, the quote, the "[" */
  uint32_t len;         /* scalars: the text's length */
  uint32_t n;           /* sequences: items[0..n); mappings: pairs[0..n) in document order */
  union {
    char *text;         /* scalars: NUL-terminated text (never containing a NUL itself) */
    pf_ynode_t **items; /* sequences */
    pf_ypair_t *pairs;  /* mappings */
  };
};

/* Parses text[0..len) into *root (NULL for a stream without a document or an empty document).
 * Every node, array and text of the tree is allocated from one arena that the root owns, so the
 * tree costs a handful of mallocs whatever its size. Returns 0, or PF_ECONFIG with
 * "path:line:column: message" in err. A tab where YAML expects indentation is named as such,
 * since libyaml's own words ("found character that cannot start any token") do not say it. */
int pf_ydoc_parse(const char *text, size_t len, const char *path, pf_ynode_t **root, char *err,
                  size_t errlen) PF_MUST_CHECK;

/* The same with an explicit size limit (0: PF_MANIFEST_MAX_BYTES). */
int pf_ydoc_parse_limit(const char *text, size_t len, size_t max_bytes, const char *path,
                        pf_ynode_t **root, char *err, size_t errlen) PF_MUST_CHECK;

/* Which parser reads the text. PF_YDOC_AUTO, what pf_ydoc_parse does: the fast reader of the
 * subset manifests are written in (block mappings and sequences, one-line flow collections, plain
 * and quoted one-line scalars, comments; printable ASCII), and libyaml for anything else and for
 * every error, so that messages are libyaml's. The others are for the tests and the fuzz target,
 * which hold the two to the same tree. */
typedef enum { PF_YDOC_AUTO = 0, PF_YDOC_LIBYAML, PF_YDOC_FAST } pf_ydoc_parser_t;

/* What pf_ydoc_parse_with returns for PF_YDOC_FAST when the text is outside the fast reader's
 * subset or has an error (err is not to be read then: libyaml words errors). */
#define PF_YDOC_NOT_FAST 1

/* pf_ydoc_parse_limit with the parser chosen. */
int pf_ydoc_parse_with(const char *text, size_t len, size_t max_bytes, const char *path,
                       pf_ydoc_parser_t which, pf_ynode_t **root, char *err,
                       size_t errlen) PF_MUST_CHECK;

/* Returns true when two trees are the same in every field: kinds, styles, positions, texts and
 * order. NULL equals NULL only. */
bool pf_ynode_same(const pf_ynode_t *a, const pf_ynode_t *b);

/* A function the parser calls every 1,024 nodes, and the manifest builder every 256 items, or
 * NULL (the default): main.c advances a database connection started before the manifest is read
 * (one thread, one loop), so that the server's fork, authentication and start-up overlap the
 * parse. The hook must not touch the tree or the manifest being built. */
void pf_ydoc_set_progress(void (*fn)(void *arg), void *arg);

/* Calls the progress hook, if one is set. */
void pf_ydoc_progress(void);

/* Frees a tree returned by pf_ydoc_parse: pass its root and nothing else (the root carries the
 * tree's arena); NULL is ignored. */
void pf_ynode_free(pf_ynode_t *node);

/* Returns true for a plain scalar that YAML reads as null: "", "~", "null", "Null", "NULL". */
bool pf_ynode_is_null(const pf_ynode_t *node);

/* Returns "a mapping", "a sequence", "a string" or "null", for "expected X, got Y" messages. */
const char *pf_ynode_describe(const pf_ynode_t *node);

/* Copies a scalar's text into buf for quoting in a message: at most ~40 bytes, control
 * characters replaced by "?", "..." appended when cut. Returns buf. */
const char *pf_ynode_excerpt(const pf_ynode_t *node, char *buf, size_t buflen);

#endif
