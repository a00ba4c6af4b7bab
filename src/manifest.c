/* The manifest as a whole, the top of the loader's stack: reading the file, the document's keys
 * and settings sections (version, database, wait, fallback, defaults), the checks that span items
 * (duplicates) and freeing. Items are parsed by manifest_items.c; every key is described in
 * manifest_keys.c. */
#include "preflight/manifest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest_items.h"
#include "manifest_keys.h"
#include "manifest_read.h"
#include "preflight/duration.h"
#include "preflight/error.h"
#include "preflight/sqllex.h"

/* Checks that `node` is a mapping (or null, read as an empty one) for the section `where`. */
static int pf__msection(pf__mctx_t *c, const pf_ynode_t *node, const char *where) {
  if (node->kind == PF_YNODE_MAPPING || pf_ynode_is_null(node)) return 0;
  return pf__merr(c, node, where, "expected a mapping, got %s", pf_ynode_describe(node));
}

/* Reads one settings section with its table, then the rules that span its keys. */
static int pf__msection_parse(pf__mctx_t *c, const pf_msection_t *sec, const pf_ynode_t *node) {
  int rc = pf__msection(c, node, sec->name);
  if (rc != 0) return rc;
  uint64_t seen;
  rc = pf_msection_read(c, sec, node, sec->name, NULL, c->m, NULL, &seen);
  if (rc != 0) return rc;
  if (strcmp(sec->name, "fallback") == 0) {
    /* fallback.after always runs inside preflight's transaction: no transaction control. */
    for (size_t i = 0; c->m->after != NULL && i < node->n; i++)
      if (strcmp(node->pairs[i].key->text, "after") == 0)
        return pf_sqllex_check_sql(c->m->after, c->path, node->pairs[i].value->line,
                                   "fallback.after", c->err, c->errlen);
    return 0;
  }
  if (strcmp(sec->name, "wait") != 0) return 0;

  pf_manifest_t *m = c->m;
  int ti = pf_mkey_find(sec, "timeout");
  const pf_ynode_t *interval = NULL, *max_interval = NULL;
  for (size_t i = 0; i < node->n; i++) {
    if (strcmp(node->pairs[i].key->text, "interval") == 0) interval = node->pairs[i].value;
    if (strcmp(node->pairs[i].key->text, "max_interval") == 0) max_interval = node->pairs[i].value;
  }
  m->has_wait_timeout = (seen >> ti) & 1u;
  if (interval != NULL && m->wait_interval_ms == 0)
    return pf__merr(c, interval, "wait.interval", "must be greater than 0");
  for (size_t i = 0; i < node->n; i++)
    if (strcmp(node->pairs[i].key->text, "schema_interval") == 0 && m->await_interval_ms == 0)
      return pf__merr(c, node->pairs[i].value, "wait.schema_interval", "must be greater than 0");
  if (max_interval == NULL) {
    /* Only the interval was raised: the default ceiling follows it rather than contradicting. */
    if (m->wait_max_interval_ms < m->wait_interval_ms)
      m->wait_max_interval_ms = m->wait_interval_ms;
  } else if (m->wait_max_interval_ms < m->wait_interval_ms) {
    char x[32], y[32];
    return pf__merr(c, max_interval, "wait.max_interval", "%s is below wait.interval (%s)",
                    pf_duration_format(m->wait_max_interval_ms, x, sizeof(x)),
                    pf_duration_format(m->wait_interval_ms, y, sizeof(y)));
  }
  return 0;
}

/* First pass over the document: settings, and a check that every key is known. The settings
 * come first so that defaults.schema applies to items listed above it. */
static int pf__msettings(pf__mctx_t *c, const pf_ynode_t *root) {
  bool have_version = false;
  for (size_t i = 0; i < root->n; i++) {
    const pf_ynode_t *k = root->pairs[i].key, *v = root->pairs[i].value;
    int at = pf_mkey_find(&pf_mroot, k->text);
    int rc = 0;
    if (at < 0 && strcmp(k->text, "columns") == 0) {
      rc = pf__merr(c, k, NULL, "\"columns\" belongs inside a table (tables[].columns)");
    } else if (at < 0) {
      const char *names[64];
      size_t n = 0;
      for (; n < pf_mroot.nkeys && n < PF_ARRAY_SIZE(names); n++) names[n] = pf_mroot.keys[n].key;
      char ex[64], msg[128];
      snprintf(msg, sizeof(msg), "unknown top-level key \"%s\"", pf_ynode_excerpt(k, ex, sizeof(ex)));
      rc = pf__munknown(c, k, NULL, msg, names, n, NULL);
    } else {
      const pf_mkey_t *key = &pf_mroot.keys[at];
      if (key->value == PF_MV_SECTION) rc = pf__msection_parse(c, key->section, v);
      else if (key->value != PF_MV_ITEMS) rc = pf_mkey_apply(c, key, v, NULL, c->m, NULL);
      if (key->value == PF_MV_VERSION) have_version = true;
    }
    if (rc != 0) return rc;
  }
  if (!have_version)
    return pf__merr(c, root, NULL, "missing required key \"version\" (add \"version: 1\")");
  return 0;
}

/* Returns the FNV-1a hash of an item's identity: its kind and display name. */
static uint64_t pf__mident_hash(const pf_item_t *it) {
  uint64_t h = UINT64_C(14695981039346656037) ^ (uint64_t)it->kind;
  h *= UINT64_C(1099511628211);
  for (const unsigned char *p = (const unsigned char *)it->display; *p != '\0'; p++) {
    h ^= *p;
    h *= UINT64_C(1099511628211);
  }
  return h;
}

/* Rejects two items of the same kind with the same identity, naming both lines. One pass with a
 * hash table (linear in the manifest); the first repetition in manifest order is reported,
 * against the first declaration. */
static int pf__mduplicates(pf__mctx_t *c) {
  pf_manifest_t *m = c->m;
  if (m->nitems < 2 || m->nitems >= UINT32_MAX / 4) return 0;
  size_t cap = 16;
  while (cap < m->nitems * 2) cap *= 2;
  /* 32 bits of the hash are kept beside the index, so a collision rarely touches the other
   * item; 8-byte slots keep the table small (fresh pages are expensive to touch). */
  struct pf__mslot {
    uint32_t hash;
    uint32_t index;   /* item index + 1; 0 = empty */
  } *slots = pf_xcalloc(cap, sizeof(*slots));
  size_t first = SIZE_MAX, again = SIZE_MAX;
  for (size_t i = 0; i < m->nitems && again == SIZE_MAX; i++) {
    const pf_item_t *it = &m->items[i];
    uint64_t full = pf__mident_hash(it);
    uint32_t hash = (uint32_t)(full >> 32);
    for (size_t h = (size_t)full & (cap - 1);; h = (h + 1) & (cap - 1)) {
      if (slots[h].index == 0) {
        slots[h].hash = hash;
        slots[h].index = (uint32_t)(i + 1);
        break;
      }
      if (slots[h].hash != hash) continue;
      const pf_item_t *o = &m->items[slots[h].index - 1];
      if (o->kind == it->kind && strcmp(o->display, it->display) == 0) {
        first = slots[h].index - 1;
        again = i;
        break;
      }
    }
  }
  free(slots);
  if (again == SIZE_MAX) return 0;
  const pf_item_t *x = &m->items[first], *y = &m->items[again];
  pf_ynode_t at = {.line = y->line, .column = y->column};
  if (x->line == y->line)
    return pf__merr(c, &at, NULL,
                    "duplicate %s \"%s\" (first at line %d, column %d, again at column %d)",
                    pf_kind_name(y->kind), y->display, x->line, x->column, y->column);
  return pf__merr(c, &at, NULL, "duplicate %s \"%s\" (first at line %d, again at line %d)",
                  pf_kind_name(y->kind), y->display, x->line, y->line);
}

/* Fills the built-in defaults, so that a manifest only ever overrides them. */
static void pf__mdefaults_init(pf_manifest_t *m) {
  m->connect_timeout_ms = 5000;
  m->db_statement_timeout_ms = 30000;
  m->wait_timeout_ms = 60000;
  m->wait_interval_ms = 50;
  m->wait_max_interval_ms = 500;
  m->await_interval_ms = 250;
  m->mode = PF_MODE_APPLY;
  m->lock_key = "preflight";
  m->lock_timeout_ms = 5000;
  m->statement_timeout_ms = 5 * 60 * 1000;
  m->default_schema = "public";
}

/* Returns the size limit for manifests and fallback files; see manifest.h. */
int pf_manifest_max_bytes(size_t *out, char *err, size_t errlen) {
  *out = PF_MANIFEST_MAX_BYTES;
  const char *v = getenv("PREFLIGHT_MANIFEST_MAX_BYTES");
  if (v == NULL || *v == '\0') return 0;
  char *end;
  errno = 0;
  unsigned long long n = strtoull(v, &end, 10);
  unsigned long long unit = 1;
  if (strcmp(end, "K") == 0 || strcmp(end, "KiB") == 0) unit = 1024;
  else if (strcmp(end, "M") == 0 || strcmp(end, "MiB") == 0) unit = 1024 * 1024;
  else if (strcmp(end, "G") == 0 || strcmp(end, "GiB") == 0) unit = 1024 * 1024 * 1024;
  else if (*end != '\0') unit = 0;
  if (errno != 0 || end == v || *v == '-' || unit == 0 || n == 0 || n > PF_MANIFEST_MAX_LIMIT / unit)
    return pf_seterr(err, errlen, PF_ECONFIG,
                     "PREFLIGHT_MANIFEST_MAX_BYTES: expected a size from 1 to 1GiB such as "
                     "16777216, 16MiB or 64M, got \"%.40s\"", v);
  *out = (size_t)(n * unit);
  return 0;
}

/* The --fallback-root folder, or NULL for the manifest's own folder. */
static const char *pf__fallback_root;

/* Sets the folder fallback files must lie in; see manifest.h. */
void pf_manifest_set_fallback_root(const char *dir) { pf__fallback_root = dir && *dir ? dir : NULL; }

/* Builds and validates a manifest from its YAML tree, which it frees; `len` is the YAML's size.
 * The tree copies every scalar, so the YAML text is no longer needed here. */
static int pf__mbuild(pf_ynode_t *root, size_t len, size_t max_bytes, const char *path, const char *dir,
                      pf_manifest_t *m, char *err, size_t errlen) {
  int rc;
  pf_manifest_t tmp = {0};
  tmp.arena = pf_arena_new(len / 2 + 1024);
  pf__mctx_t c = {.path = path, .m = &tmp, .arena = tmp.arena, .max_bytes = max_bytes,
                  .err = err, .errlen = errlen};
  tmp.path = pf_arena_strdup(tmp.arena, path);
  tmp.dir = pf_arena_strdup(tmp.arena, dir && *dir ? dir : ".");
  c.dir = tmp.dir;
  c.root = pf__fallback_root ? pf__fallback_root : c.dir;
  pf__mdefaults_init(&tmp);
  if (root == NULL || pf_ynode_is_null(root)) {
    rc = pf__merr(&c, root, NULL, "the manifest is empty (it needs at least \"version: 1\")");
    goto out;
  }
  if (root->kind != PF_YNODE_MAPPING) {
    rc = pf__merr(&c, root, NULL, "the manifest must be a mapping (version:, tables:, ...), not %s",
                  pf_ynode_describe(root));
    goto out;
  }
  rc = pf__msettings(&c, root);
  /* Count first, so the item array is allocated once at its final size. */
  size_t count = 0;
  for (size_t i = 0; rc == 0 && i < root->n; i++) {
    int at = pf_mkey_find(&pf_mroot, root->pairs[i].key->text);
    if (pf_mroot.keys[at].value == PF_MV_ITEMS)
      count += pf_mitems_count((pf_kind_t)pf_mroot.keys[at].sub, root->pairs[i].value);
  }
  if (rc == 0 && count > 0) {
    tmp.items = pf_arena_alloc(tmp.arena, count * sizeof(*tmp.items));
    c.cap = count;
  }
  for (size_t i = 0; rc == 0 && i < root->n; i++) {
    const pf_mkey_t *key = &pf_mroot.keys[pf_mkey_find(&pf_mroot, root->pairs[i].key->text)];
    if (key->value == PF_MV_ITEMS) rc = pf_mitems_parse(&c, (pf_kind_t)key->sub, root->pairs[i].value);
  }
  if (rc == 0) rc = pf__mduplicates(&c);

out:
  pf_ynode_free(root);
  if (rc != 0) {
    pf_manifest_free(&tmp);
    return rc;
  }
  *m = tmp;
  return 0;
}

/* Parses text[0..len) into a manifest. `owned`, when not NULL, is the text's buffer, freed as
 * soon as the YAML tree holds the text: at 32,000 items the manifest's peak memory is the tree
 * and the items together, and a file's text is another 1.5 MB beside them. */
static int pf__mparse(const char *text, size_t len, char *owned, size_t max_bytes, const char *path, const char *dir,
                      pf_manifest_t *m, char *err, size_t errlen) {
  pf_ynode_t *root = NULL;
  int rc = pf_ydoc_parse_limit(text, len, max_bytes, path, &root, err, errlen);
  free(owned);
  return rc != 0 ? rc : pf__mbuild(root, len, max_bytes, path, dir, m, err, errlen);
}

/* Parses and validates a manifest held in memory; see manifest.h. */
int pf_manifest_parse(const char *text, size_t len, const char *path, const char *dir,
                      pf_manifest_t *m, char *err, size_t errlen) {
  memset(m, 0, sizeof(*m));
  if (path == NULL) path = "manifest";
  size_t max_bytes;
  int rc = pf_manifest_max_bytes(&max_bytes, err, errlen);
  if (rc != 0) return rc;
  return pf__mparse(text, len, NULL, max_bytes, path, dir, m, err, errlen);
}

/* Reads the manifest file and parses it; see manifest.h. */
int pf_manifest_load(const char *path, pf_manifest_t *m, char *err, size_t errlen) {
  memset(m, 0, sizeof(*m));
  size_t max_bytes;
  int rc = pf_manifest_max_bytes(&max_bytes, err, errlen);
  if (rc != 0) return rc;
  char *text, why[256];
  size_t len;
  /* Only a regular file: a FIFO would block open() and start-up for ever. */
  if (pf__mread_file(path, true, max_bytes, &text, &len, why, sizeof(why)) != 0)
    return pf_seterr(err, errlen, PF_ECONFIG, "%s: cannot read the manifest: %s", path, why);
  const char *slash = strrchr(path, '/');
  char *dir = slash == NULL ? pf_xstrdup(".")
              : slash == path ? pf_xstrdup("/")
                              : pf_xstrndup(path, (size_t)(slash - path));
  rc = pf__mparse(text, len, text, max_bytes, path, dir, m, err, errlen);
  free(dir);
  return rc;
}

/* Copies a string into the manifest's arena; see manifest.h. */
char *pf_manifest_strdup(pf_manifest_t *m, const char *s) {
  if (m->arena == NULL) m->arena = pf_arena_new(0);
  return pf_arena_strdup(m->arena, s);
}

/* Allocates from the manifest's arena; see manifest.h. */
void *pf_manifest_alloc(pf_manifest_t *m, size_t n) {
  if (m->arena == NULL) m->arena = pf_arena_new(0);
  return pf_arena_alloc(m->arena, n);
}

/* Frees everything the manifest owns and leaves it empty; safe on an empty manifest. */
void pf_manifest_kind_order(const pf_manifest_t *m, bool phases, size_t *order, size_t *start) {
  size_t at[2 * PF_KIND__COUNT + 1] = {0};
  size_t nb = phases ? 2 * PF_KIND__COUNT : PF_KIND__COUNT;
#define PF__BUCKET(it) ((phases && !(it)->transaction ? PF_KIND__COUNT : 0) + (size_t)(it)->kind)
  for (size_t i = 0; i < m->nitems; i++) at[PF__BUCKET(&m->items[i]) + 1]++;
  for (size_t b = 1; b <= nb; b++) at[b] += at[b - 1];
  if (start) memcpy(start, at, (PF_KIND__COUNT + 1) * sizeof(*start));
  for (size_t i = 0; i < m->nitems; i++) order[at[PF__BUCKET(&m->items[i])]++] = i;
#undef PF__BUCKET
}

void pf_manifest_free(pf_manifest_t *m) {
  if (m == NULL) return;
  pf_arena_free(m->arena);
  memset(m, 0, sizeof(*m));
}
