/* The items of a manifest: reading one item of each kind with its table (manifest_keys.c), how
 * names are split into schema and name, how each kind is named in logs, and how fallback files
 * are read. Calls only the layers below (manifest_keys.c, manifest_read.c). */
#include "manifest_items.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "manifest_keys.h"
#include "preflight/error.h"
#include "preflight/sqllex.h"

extern const char *const pf_mprivileges[];

/* The object types a grant's `on:` may start with. */
static const char *const pf__grant_targets[] = {"table", "sequence", "function", "schema"};

/* Concatenates strings into the arena (display names are built for every item: no printf). */
#define PF__CAT(arena, ...)                                                     \
  pf_arena_cat((arena), sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *), \
               (const char *[]){__VA_ARGS__})

/* Writes "<prefix>[<i>]" into buf (of at least 64 bytes more than prefix) without printf:
 * every item gets one of these names for its messages. Returns buf. */
static char *pf__iwhere(char *buf, size_t buflen, const char *prefix, size_t i) {
  size_t n = strlen(prefix);
  if (n + 24 > buflen) n = buflen > 24 ? buflen - 24 : 0;
  memcpy(buf, prefix, n);
  char digits[24];
  size_t d = 0;
  do {
    digits[d++] = (char)('0' + i % 10);
    i /= 10;
  } while (i != 0);
  buf[n++] = '[';
  while (d > 0) buf[n++] = digits[--d];
  buf[n++] = ']';
  buf[n] = '\0';
  return buf;
}

/* Appends a new item with every default set; returns its index. Items are addressed by index
 * because appending may move the array (only if the count made beforehand was short). */
static size_t pf__iadd(pf__mctx_t *c, pf_kind_t kind, const pf_ynode_t *node, size_t parent) {
  pf_manifest_t *m = c->m;
  if (m->nitems == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 16;
    pf_item_t *items = pf_arena_alloc(c->arena, cap * sizeof(*items));
    if (m->nitems) memcpy(items, m->items, m->nitems * sizeof(*items));
    m->items = items;
    c->cap = cap;
  }
  pf_item_t *it = &m->items[m->nitems];
  memset(it, 0, sizeof(*it));
  it->kind = kind;
  it->line = node->line;
  it->column = node->column;
  it->parent = parent;
  it->nullable = it->row_level_security = it->materialized = it->unique = it->login = PF_UNSET;
  it->procedure = it->security_definer = PF_UNSET;
  it->transaction = true;
  it->severity = PF_SEVERITY_ERROR;
  return m->nitems++;
}

/* Splits "schema.name" at the first dot into two new strings; both parts must be non-empty.
 * Without a dot, *schema is `dflt` itself (an arena string that lives as long). */
static int pf__isplit(pf__mctx_t *c, const pf_ynode_t *at, const char *where, const char *key,
                      const char *text, size_t len, const char *dflt, char **schema, char **name) {
  const char *dot = memchr(text, '.', len);
  if (dot == NULL) {
    *schema = (char *)dflt;
    *name = text[len] == '\0' ? (char *)text : pf_arena_strndup(c->arena, text, len);
    return 0;
  }
  char field[160];
  if (dot == text || dot + 1 == text + len)
    return pf__merr(c, at, pf__mfield(field, sizeof(field), where, key),
                    "\"%.*s\" has an empty schema or name on one side of the dot (write the "
                    "schema in `schema:` when a name really contains a dot)",
                    (int)(len > 60 ? 60 : len), text);
  *schema = pf_arena_strndup(c->arena, text, (size_t)(dot - text));
  *name = pf_arena_strndup(c->arena, dot + 1, (size_t)(text + len - dot - 1));
  return 0;
}

/* Reads a slot that the table marks required (so it is present) as a string. */
static int pf__islot(pf__mctx_t *c, const pf_ynode_t *v, const char *where, const char *key,
                     char **out) {
  return pf__mstring(c, v, where, key, false, false, out);
}

/* Sets the item's name, splitting "schema.name" unless `schema:` was given explicitly. */
static int pf__iname(pf__mctx_t *c, pf_item_t *it, const pf_mslots_t *s, const char *where,
                     const char *dflt_schema) {
  char *text;
  int rc = pf__islot(c, s->name, where, "name", &text);
  if (rc != 0) return rc;
  if (it->schema != NULL) {
    it->name = text;
    return 0;
  }
  return pf__isplit(c, s->name, where, "name", text, strlen(text), dflt_schema, &it->schema, &it->name);
}

/* Sets table_schema and table from `table:` ("users" or "auth.users"); with `schema:` (a schema
 * whose name holds a dot), `table:` is the table's name in that schema, not split. */
static int pf__itable(pf__mctx_t *c, pf_item_t *it, const pf_mslots_t *s, const char *where) {
  char *text;
  int rc = pf__islot(c, s->table, where, "table", &text);
  if (rc != 0) return rc;
  if (it->schema != NULL) {
    it->table_schema = it->schema;
    it->table = text;
    return 0;
  }
  return pf__isplit(c, s->table, where, "table", text, strlen(text), c->m->default_schema,
                    &it->table_schema, &it->table);
}

/* Sets a function's schema, name and args from `signature: [schema.]name(args)`. */
static int pf__isignature(pf__mctx_t *c, pf_item_t *it, const pf_mslots_t *s,
                          const char *where) {
  char *sig, field[160];
  int rc = pf__islot(c, s->signature, where, "signature", &sig);
  if (rc != 0) return rc;
  size_t len = strlen(sig);
  const char *open = strchr(sig, '(');
  if (open == NULL || sig[len - 1] != ')' || open == sig)
    return pf__merr(c, s->signature, pf__mfield(field, sizeof(field), where, "signature"),
                    "expected name(argument types), such as get_user(uuid, integer) or now()");
  if (it->schema != NULL)
    it->name = pf_arena_strndup(c->arena, sig, (size_t)(open - sig));
  else
    rc = pf__isplit(c, s->signature, where, "signature", sig, (size_t)(open - sig),
                    c->m->default_schema, &it->schema, &it->name);
  if (rc == 0)
    it->args = pf_arena_strndup(c->arena, open + 1, (size_t)(sig + len - 1 - (open + 1)));
  return rc;
}

/* Checks a grant's privileges and target, which PostgreSQL would otherwise reject at run time. */
static int pf__igrant(pf__mctx_t *c, pf_item_t *it, const pf_ynode_t *item, const char *where) {
  if (it->nvalues == 0) return pf__merr(c, item, where, "\"privileges\" must list at least one");
  for (size_t i = 0; i < it->nvalues; i++) {
    bool known = false;
    for (size_t j = 0; pf_mprivileges[j] != NULL && !known; j++)
      known = strcasecmp(it->values[i], pf_mprivileges[j]) == 0;
    if (!known)
      return pf__merr(c, item, where, "unknown privilege \"%.40s\"", it->values[i]);
  }
  const char *sp = strchr(it->on, ' ');
  bool known = false;
  size_t wlen = sp != NULL && sp[1] != '\0' ? (size_t)(sp - it->on) : 0;
  for (size_t j = 0; wlen > 0 && !known && j < PF_ARRAY_SIZE(pf__grant_targets); j++)
    known = strlen(pf__grant_targets[j]) == wlen && strncmp(it->on, pf__grant_targets[j], wlen) == 0;
  if (!known)
    return pf__merr(c, item, where,
                    "\"on\" must be \"table T\", \"sequence S\", \"function F(args)\" or "
                    "\"schema S\", not \"%.60s\"", it->on);
  pf_buf_t d = {0};
  pf_buf_printf(&d, "%s: ", it->role);
  for (size_t i = 0; i < it->nvalues; i++) pf_buf_printf(&d, "%s%s", i ? ", " : "", it->values[i]);
  pf_buf_printf(&d, " on %s", it->on);
  it->display = pf_arena_strndup(c->arena, d.data, d.len);
  pf_buf_free(&d);
  return 0;
}

/* Finishes an item once all its keys are read (the table has checked the required ones):
 * names and the display name. */
static int pf__ifinish(pf__mctx_t *c, size_t idx, const pf_ynode_t *item, const pf_mslots_t *s,
                       const char *where) {
  pf_manifest_t *m = c->m;
  pf_item_t *it = &m->items[idx];
  pf_arena_t *a = c->arena;
  int rc = 0;
  switch (it->kind) {
    case PF_KIND_ROLE:
    case PF_KIND_EXTENSION:
    case PF_KIND_SCHEMA:
    case PF_KIND_CHECK:
      rc = pf__islot(c, s->name, where, "name", &it->name);
      if (rc == 0) it->display = it->name;
      return rc;
    case PF_KIND_TYPE:
    case PF_KIND_SEQUENCE:
    case PF_KIND_TABLE:
    case PF_KIND_VIEW:
      rc = pf__iname(c, it, s, where, m->default_schema);
      if (rc == 0) it->display = PF__CAT(a, it->schema, ".", it->name);
      return rc;
    case PF_KIND_COLUMN: {
      const pf_item_t *t = &m->items[it->parent];
      rc = pf__islot(c, s->name, where, "name", &it->name);
      if (rc != 0) return rc;
      it->schema = t->schema;
      it->table_schema = t->schema;
      it->table = t->name;
      it->display = PF__CAT(a, t->display, ".", it->name);
      return 0;
    }
    case PF_KIND_FUNCTION:
      rc = pf__isignature(c, it, s, where);
      if (rc == 0) it->display = PF__CAT(a, it->schema, ".", it->name, "(", it->args, ")");
      return rc;
    case PF_KIND_INDEX:
      rc = pf__itable(c, it, s, where);
      /* An index lives in its table's schema unless the manifest says otherwise. */
      if (rc == 0) rc = pf__iname(c, it, s, where, it->table_schema);
      if (rc == 0) it->display = PF__CAT(a, it->schema, ".", it->name);
      return rc;
    case PF_KIND_CONSTRAINT:
    case PF_KIND_TRIGGER:
    case PF_KIND_POLICY:
      rc = pf__itable(c, it, s, where);
      /* These names are not schema-qualified in PostgreSQL, so a dot is part of the name. */
      if (rc == 0) rc = pf__islot(c, s->name, where, "name", &it->name);
      if (rc != 0) return rc;
      it->schema = it->table_schema;
      it->display = PF__CAT(a, it->table_schema, ".", it->table, ".", it->name);
      return 0;
    case PF_KIND_GRANT:
      return pf__igrant(c, it, item, where);
    case PF_KIND_MIGRATION:
      it->display = PF__CAT(a, it->tool, " ", it->version);
      return 0;
    case PF_KIND__COUNT:
      break;
  }
  return pf__merr(c, item, where, "internal error: unknown kind");
}

/* Checks that a fallback_file resolves to a file inside the allowed folder (the manifest's, or
 * --fallback-root): an absolute path, "../" or a symlink planted beside the manifest could
 * otherwise send /etc/shadow to the server as SQL, and its syntax error would quote it back into
 * the logs. On success *out is the resolved path (the caller reads the file through it, and
 * frees it); messages keep naming the path as written. Returns 0 or PF_ECONFIG. */
static int pf__ifallback_confined(pf__mctx_t *c, pf_item_t *it, const pf_ynode_t *at,
                                  const char *field, char **out) {
  char *real;
  *out = NULL;
  const char *why;
  int in = pf_path_within(it->fallback_path, c->root, &real, &why);
  if (in < 0)
    return pf__merr(c, at, field, "cannot read \"%s\" (%s): %s", it->fallback_file,
                    it->fallback_path, why);
  if (in > 0) {
    int rc = pf__merr(c, at, field,
                      "\"%s\" resolves to %s, outside %s; fallback files must lie in the "
                      "manifest's folder unless --fallback-root (PREFLIGHT_FALLBACK_ROOT) allows "
                      "another", it->fallback_file, real, c->root);
    free(real);
    return rc;
  }
  *out = real;
  return 0;
}

/* Reads `fallback:` or `fallback_file:`. A file is read now, so a missing file fails start-up
 * before any waiting, and later reads cannot see a half-updated file. */
static int pf__ifallback(pf__mctx_t *c, pf_item_t *it, const pf_mslots_t *s,
                         const char *where) {
  char field[160];
  if (s->fallback != NULL && s->file != NULL) {
    const pf_ynode_t *later = s->file->line > s->fallback->line ? s->file : s->fallback;
    return pf__merr(c, later, where, "use either fallback or fallback_file, not both");
  }
  if (s->fallback != NULL) {
    int rc = pf__mstring(c, s->fallback, where, "fallback", false, false, &it->fallback);
    if (rc != 0) return rc;
    /* Block scalar text starts on the line after its | or > indicator. */
    bool block = s->fallback->style == PF_YSTYLE_LITERAL || s->fallback->style == PF_YSTYLE_FOLDED;
    it->fallback_line = s->fallback->line + (block ? 1 : 0);
    return 0;
  }
  if (s->file == NULL) return 0;
  int rc = pf__mstring(c, s->file, where, "fallback_file", false, false, &it->fallback_file);
  if (rc != 0) return rc;
  it->fallback_path = it->fallback_file[0] == '/'
                          ? it->fallback_file
                          : pf_arena_printf(c->arena, "%s/%s", c->dir, it->fallback_file);
  pf__mfield(field, sizeof(field), where, "fallback_file");
  size_t len;
  char why[256], *text, *real;
  if (pf__ifallback_confined(c, it, s->file, field, &real) != 0) return PF_ECONFIG;
  int read = pf__mread_file(real, true, c->max_bytes, &text, &len, why, sizeof(why));
  free(real);
  if (read != 0)
    return pf__merr(c, s->file, field, "cannot read \"%s\" (%s): %s", it->fallback_file,
                    it->fallback_path, why);
  rc = 0;
  if (len == 0)
    rc = pf__merr(c, s->file, field, "\"%s\" (%s) is empty", it->fallback_file,
                  it->fallback_path);
  else if (memchr(text, '\0', len) != NULL)
    rc = pf__merr(c, s->file, field, "\"%s\" (%s) contains a NUL byte", it->fallback_file,
                  it->fallback_path);
  else
    it->fallback = pf_arena_strndup(c->arena, text, len);
  free(text);
  it->fallback_line = 1;
  return rc;
}

/* Declared ahead because a table's columns are parsed as items in their own right. */
static int pf__iparse(pf__mctx_t *c, pf_kind_t kind, const pf_ynode_t *node, const char *where,
                      size_t parent);

/* Parses a table's `columns:` list; each column is appended right after the items so far,
 * which puts a table's columns directly behind it. */
static int pf__icolumns(pf__mctx_t *c, size_t table, const pf_ynode_t *list, const char *where) {
  if (list == NULL || pf_ynode_is_null(list)) return 0;
  char field[160];
  if (list->kind != PF_YNODE_SEQUENCE)
    return pf__merr(c, list, pf__mfield(field, sizeof(field), where, "columns"),
                    "expected a sequence of columns, got %s", pf_ynode_describe(list));
  char prefix[128], sub[160];
  snprintf(prefix, sizeof(prefix), "%s.columns", where);
  for (size_t i = 0; i < list->n; i++) {
    pf__iwhere(sub, sizeof(sub), prefix, i);
    int rc = pf__iparse(c, PF_KIND_COLUMN, list->items[i], sub, table);
    if (rc != 0) return rc;
  }
  return 0;
}

/* Parses one item mapping of the given kind and appends it (and, for a table, its columns). */
static int pf__iparse(pf__mctx_t *c, pf_kind_t kind, const pf_ynode_t *node, const char *where,
                      size_t parent) {
  if (node->kind != PF_YNODE_MAPPING)
    return pf__merr(c, node, where, "expected a mapping (name: ...), got %s",
                    pf_ynode_describe(node));
  size_t idx = pf__iadd(c, kind, node, parent);
  pf_mslots_t slots = {0};
  uint64_t seen;
  int rc = pf_msection_read(c, &pf_mkinds[kind], node, where, pf_kind_name(kind),
                            &c->m->items[idx], &slots, &seen);
  if (rc == 0) rc = pf__ifinish(c, idx, node, &slots, where);
  if (rc == 0) rc = pf__ifallback(c, &c->m->items[idx], &slots, where);
  if (rc == 0) rc = pf_sqllex_check_item(&c->m->items[idx], c->path, where, c->err, c->errlen);
  if (rc == 0 && kind == PF_KIND_TABLE) rc = pf__icolumns(c, idx, slots.columns, where);
  return rc;
}

/* Counts the items a kind's list will add (a table's columns included), so the item array can
 * be allocated once. Malformed entries count as one; parsing reports them. */
size_t pf_mitems_count(pf_kind_t kind, const pf_ynode_t *list) {
  if (list == NULL || list->kind != PF_YNODE_SEQUENCE) return 0;
  size_t n = list->n;
  for (size_t i = 0; kind == PF_KIND_TABLE && i < list->n; i++) {
    const pf_ynode_t *t = list->items[i];
    for (size_t j = 0; t->kind == PF_YNODE_MAPPING && j < t->n; j++)
      if (strcmp(t->pairs[j].key->text, "columns") == 0 &&
          t->pairs[j].value->kind == PF_YNODE_SEQUENCE)
        n += t->pairs[j].value->n;
  }
  return n;
}

/* Parses the list under a kind's key; see manifest_items.h. A null list (every entry commented
 * out) is an empty one. */
int pf_mitems_parse(pf__mctx_t *c, pf_kind_t kind, const pf_ynode_t *list) {
  const char *key = pf_kind_key(kind);
  if (pf_ynode_is_null(list)) return 0;
  if (list->kind != PF_YNODE_SEQUENCE)
    return pf__merr(c, list, key, "expected a sequence (a list of items), got %s",
                    pf_ynode_describe(list));
  for (size_t i = 0; i < list->n; i++) {
    char where[64];
    if ((i & 255) == 255) pf_ydoc_progress();
    pf__iwhere(where, sizeof(where), key, i);
    int rc = pf__iparse(c, kind, list->items[i], where, PF_NO_PARENT);
    if (rc != 0) return rc;
  }
  return 0;
}
