/* The manifest's vocabulary as data: one table per section (the document, database, wait,
 * fallback, defaults) and one per object kind, each listing its keys with their type, enum
 * values, storage and description. The parser reads these tables (pf_mkey_apply) and so does the
 * JSON Schema generator (manifest_schema.c), so the two cannot drift: adding a key is adding one
 * line here. Sits on manifest_read.h; not a public API. */
#ifndef PREFLIGHT_MANIFEST_KEYS_H
#define PREFLIGHT_MANIFEST_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "manifest_read.h"

/* What a key's value looks like in YAML (and in the JSON Schema). */
typedef enum {
  PF_MV_STRING,    /* a non-empty scalar (numbers read as their text) */
  PF_MV_BOOL,      /* plain true/false */
  PF_MV_ENUM,      /* one of `choices` */
  PF_MV_LIST,      /* a sequence of non-empty scalars */
  PF_MV_DURATION,  /* 250ms, 5s, 2m, 5min, 1h, sums like 1m30s, or a bare number of seconds */
  PF_MV_VERSION,   /* the plain integer 1 */
  PF_MV_SECTION,   /* a mapping described by `section` (null reads as empty) */
  PF_MV_ITEMS,     /* a sequence of items of kind `sub` (null reads as empty) */
  PF_MV_CUSTOM,    /* read by `parse`, described by `schema_json` */
} pf_mvalue_t;

/* Where pf_mkey_apply puts a value, at byte offset `off` of the target. */
typedef enum {
  PF_MS_NONE,      /* nowhere: items keep the node in pf_mslots_t at `off` for their finishing
                      step; sections and the document read such keys in their own code */
  PF_MS_STR,       /* char * (arena string) */
  PF_MS_INT,       /* int: a boolean as 0/1, an enum as the index of its choice */
  PF_MS_FLAG,      /* bool */
  PF_MS_MS,        /* int64_t milliseconds */
  PF_MS_VALUES,    /* an item's values/nvalues */
} pf_mstore_t;

#define PF_MK_REQUIRED 1u    /* the item or section must have it */
#define PF_MK_EXPAND 2u      /* ${VAR} / ${VAR:-default} expanded from the environment */
#define PF_MK_UNSET_OK 4u    /* null, or empty after expansion, means "not set here" */
#define PF_MK_NONEMPTY 8u    /* lists: at least one entry */

typedef struct pf_mkey pf_mkey_t;
typedef struct pf_msection pf_msection_t;

/* A custom reader: reads `v` (the value of key k->key, named `where` in messages) into target. */
typedef int (*pf_mparse_fn)(pf__mctx_t *c, const pf_mkey_t *k, const pf_ynode_t *v,
                            const char *where, void *target);

struct pf_mkey {
  const char *key;
  pf_mvalue_t value;
  pf_mstore_t store;
  size_t off;
  unsigned flags;
  const char *const *choices;          /* PF_MV_ENUM: NULL-terminated */
  const char *pattern;                 /* the schema's regular expression for the text, or NULL */
  const char *(*check)(const char *);  /* the parser's test of the same rule: NULL or why not */
  const pf_msection_t *section;        /* PF_MV_SECTION */
  int sub;                             /* PF_MV_ITEMS: the pf_kind_t of its items */
  pf_mparse_fn parse;                  /* PF_MV_CUSTOM */
  const char *schema_json;             /* PF_MV_CUSTOM: its JSON Schema, as JSON text */
  const char *desc;                    /* one sentence for editors */
};

struct pf_msection {
  const char *name;     /* "database", ...; NULL for kinds (pf_kind_name), "" for the root */
  const char *desc;
  const pf_mkey_t *keys;
  size_t nkeys;         /* at most 64 */
};

/* The nodes an item keeps for its finishing step (their meaning depends on other keys). */
typedef struct {
  const pf_ynode_t *name, *columns, *signature, *table, *fallback, *file;
} pf_mslots_t;

/* The document's own keys: version, the sections, and one list per kind but columns. */
extern const pf_msection_t pf_mroot;
/* One table per kind, indexed by pf_kind_t. */
extern const pf_msection_t pf_mkinds[PF_KIND__COUNT];

/* Returns the index of `key` in sec->keys, or -1. */
int pf_mkey_find(const pf_msection_t *sec, const char *key);

/* Reads value `v` of key `k` into target (the item or the manifest; slots for PF_MS_NONE items,
 * may be NULL elsewhere) according to the table. `where` names the enclosing mapping. */
int pf_mkey_apply(pf__mctx_t *c, const pf_mkey_t *k, const pf_ynode_t *v, const char *where,
                  void *target, pf_mslots_t *slots) PF_MUST_CHECK;

/* Reads every key of mapping `map` (or null) with sec's table into target: unknown keys are
 * errors naming the nearest valid key, then missing required keys are reported in table order.
 * Keys with PF_MS_NONE (and no slots) are skipped for the caller. `what` names the item's kind
 * in "unknown key ... for a table" messages (NULL, for sections, lists the valid keys instead). *seen receives
 * a bit per key index that was present. */
int pf_msection_read(pf__mctx_t *c, const pf_msection_t *sec, const pf_ynode_t *map,
                     const char *where, const char *what, void *target, pf_mslots_t *slots,
                     uint64_t *seen) PF_MUST_CHECK;

/* Checks a column type for characters that have no business in a type name; NULL if fine. */
const char *pf_mcheck_coltype(const char *type);

#endif
