/* The items of a manifest: which keys each kind accepts (one table, pf__fields), how names are
 * split into schema and name, how each kind is named in logs, and how fallback files are read. */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "manifest_int.h"
#include "preflight/sqllex.h"
#include "preflight/error.h"

#define PF__K(kind) (1u << PF_KIND_##kind)
#define PF__K_ALL ((1u << PF_KIND__COUNT) - 1u)

typedef enum {
  PF__F_STRING,       /* non-empty string at `off` */
  PF__F_BOOL,         /* PF_UNSET / 0 / 1 at `off` */
  PF__F_ENUM,         /* one of `choices`, kept as a string at `off` */
  PF__F_CHOICE,       /* one of `choices`, its index stored as an int at `off` */
  PF__F_LIST,         /* a sequence of strings into values/nvalues */
  PF__F_COLTYPE,      /* a column type, checked for stray characters */
  PF__F_SLOT,         /* the node, kept for the kind's finishing step (offset in pf__islots_t) */
  PF__F_TRANSACTION,
  PF__F_SEVERITY,
} pf__ftype_t;

/* Values whose meaning depends on other keys of the same item (a name splits differently when
 * `schema:` is present; columns need their finished table), so they are read after the loop. */
typedef struct {
  const pf_ynode_t *name, *columns, *signature, *table, *fallback, *file;
} pf__islots_t;

typedef struct {
  const char *key;
  unsigned kinds;
  pf__ftype_t type;
  size_t off;
  const char *const *choices;
} pf__field_t;

static const char *const pf__identity_choices[] = {"always", "by default", NULL};
static const char *const pf__generated_choices[] = {"stored", NULL};
static const char *const pf__constraint_choices[] = {"primary_key", "foreign_key", "unique",
                                                     "check", "exclusion", NULL};
static const char *const pf__fkind_choices[] = {"function", "procedure", NULL};
static const char *const pf__security_choices[] = {"invoker", "definer", NULL};
static const char *const pf__severity_choices[] = {"error", "warn", NULL};
static const char *const pf__tool_choices[] = {"alembic", "dbmate", "flyway", "golang-migrate",
                                               "knex", "prisma", "rails", NULL};

#define PF__ITEM(field) offsetof(pf_item_t, field)
#define PF__SLOT(field) offsetof(pf__islots_t, field)
#define PF__NAMED (PF__K_ALL & ~(PF__K(FUNCTION) | PF__K(GRANT) | PF__K(MIGRATION)))
#define PF__IN_SCHEMA \
  (PF__K(TYPE) | PF__K(SEQUENCE) | PF__K(TABLE) | PF__K(VIEW) | PF__K(FUNCTION) | PF__K(INDEX))
#define PF__ON_TABLE (PF__K(INDEX) | PF__K(CONSTRAINT) | PF__K(TRIGGER) | PF__K(POLICY))

/* Every key an item may carry, and the kinds that accept it. */
static const pf__field_t pf__fields[] = {
    {"name", PF__NAMED, PF__F_SLOT, PF__SLOT(name), NULL},
    {"schema", PF__IN_SCHEMA, PF__F_STRING, PF__ITEM(schema), NULL},
    {"table", PF__ON_TABLE, PF__F_SLOT, PF__SLOT(table), NULL},
    {"columns", PF__K(TABLE), PF__F_SLOT, PF__SLOT(columns), NULL},
    {"row_level_security", PF__K(TABLE), PF__F_BOOL, PF__ITEM(row_level_security), NULL},
    {"type", PF__K(COLUMN), PF__F_COLTYPE, PF__ITEM(type), NULL},
    {"nullable", PF__K(COLUMN), PF__F_BOOL, PF__ITEM(nullable), NULL},
    {"default", PF__K(COLUMN), PF__F_STRING, PF__ITEM(default_expr), NULL},
    {"identity", PF__K(COLUMN), PF__F_ENUM, PF__ITEM(identity), pf__identity_choices},
    {"generated", PF__K(COLUMN), PF__F_ENUM, PF__ITEM(generated), pf__generated_choices},
    {"materialized", PF__K(VIEW), PF__F_BOOL, PF__ITEM(materialized), NULL},
    {"signature", PF__K(FUNCTION), PF__F_SLOT, PF__SLOT(signature), NULL},
    {"returns", PF__K(FUNCTION), PF__F_STRING, PF__ITEM(returns), NULL},
    {"kind", PF__K(FUNCTION), PF__F_CHOICE, PF__ITEM(procedure), pf__fkind_choices},
    {"security", PF__K(FUNCTION), PF__F_CHOICE, PF__ITEM(security_definer), pf__security_choices},
    {"unique", PF__K(INDEX), PF__F_BOOL, PF__ITEM(unique), NULL},
    {"type", PF__K(CONSTRAINT), PF__F_ENUM, PF__ITEM(constraint_type), pf__constraint_choices},
    {"references", PF__K(CONSTRAINT), PF__F_STRING, PF__ITEM(references), NULL},
    {"version", PF__K(EXTENSION) | PF__K(MIGRATION), PF__F_STRING, PF__ITEM(version), NULL},
    {"values", PF__K(TYPE), PF__F_LIST, 0, NULL},
    {"login", PF__K(ROLE), PF__F_BOOL, PF__ITEM(login), NULL},
    {"role", PF__K(GRANT), PF__F_STRING, PF__ITEM(role), NULL},
    {"privileges", PF__K(GRANT), PF__F_LIST, 0, NULL},
    {"on", PF__K(GRANT), PF__F_STRING, PF__ITEM(on), NULL},
    {"tool", PF__K(MIGRATION), PF__F_ENUM, PF__ITEM(tool), pf__tool_choices},
    {"sql", PF__K(CHECK), PF__F_STRING, PF__ITEM(sql), NULL},
    {"fallback", PF__K_ALL, PF__F_SLOT, PF__SLOT(fallback), NULL},
    {"fallback_file", PF__K_ALL, PF__F_SLOT, PF__SLOT(file), NULL},
    {"transaction", PF__K_ALL, PF__F_TRANSACTION, 0, NULL},
    {"severity", PF__K_ALL, PF__F_SEVERITY, 0, pf__severity_choices},
};

/* Privileges that GRANT and the has_*_privilege functions understand, compared without case. */
static const char *const pf__privileges[] = {
    "SELECT",  "INSERT",  "UPDATE",    "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER",
    "USAGE",   "EXECUTE", "CREATE",    "CONNECT", "TEMPORARY", "TEMP",     "ALL",
    "ALL PRIVILEGES", "MAINTAIN", "SET", "ALTER SYSTEM",
};

/* The object types a grant's `on:` may start with. */
static const char *const pf__grant_targets[] = {"table", "sequence", "function", "schema"};

/* Appends a new item with every default set; returns its index. Items are addressed by index
 * because appending columns may move the array. */
static size_t pf__iadd(pf__mctx_t *c, pf_kind_t kind, const pf_ynode_t *node, size_t parent) {
  pf_manifest_t *m = c->m;
  if (m->nitems == c->cap) {
    c->cap = c->cap ? c->cap * 2 : 16;
    m->items = pf_xrealloc(m->items, c->cap * sizeof(*m->items));
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

/* Checks a column type for characters that have no business in a type name, so `int; DROP` is
 * refused here rather than by PostgreSQL at run time. Returns NULL if fine, else the reason. */
static const char *pf__coltype_problem(const char *t) {
  bool had_list = false;
  for (const char *p = t; *p != '\0'; p++) {
    unsigned char ch = (unsigned char)*p;
    if (isalnum(ch) || ch >= 0x80 || strchr("_ .\"[]", ch) != NULL) continue;
    if (ch != '(') return "only letters, digits, _, spaces, dots, quotes, [] and one (n) or (p, s)";
    if (had_list) return "only one parenthesised list is allowed";
    had_list = true;
    /* ( digits [, digits]... ) with optional spaces */
    p++;
    for (;;) {
      while (*p == ' ') p++;
      if (!isdigit((unsigned char)*p)) return "the parenthesised list must hold integers";
      while (isdigit((unsigned char)*p)) p++;
      while (*p == ' ') p++;
      if (*p == ',') {
        p++;
        continue;
      }
      if (*p == ')') break;
      return "the parenthesised list must hold integers separated by commas";
    }
  }
  return NULL;
}

/* Reads a sequence of strings into the item's values (type labels or grant privileges). */
static int pf__ilist(pf__mctx_t *c, pf_item_t *it, const pf_ynode_t *v, const char *where,
                     const char *key) {
  char field[160];
  snprintf(field, sizeof(field), "%s.%s", where, key);
  if (v->kind != PF_YNODE_SEQUENCE)
    return pf__merr(c, v, field, "expected a sequence of strings, got %s", pf_ynode_describe(v));
  it->values = pf_xcalloc(v->n, sizeof(*it->values));
  for (size_t i = 0; i < v->n; i++) {
    char sub[32];
    snprintf(sub, sizeof(sub), "%s[%zu]", key, i);
    int rc = pf__mstring(c, v->items[i], where, sub, false, false, &it->values[i]);
    if (rc != 0) return rc;
    it->nvalues++;
  }
  return 0;
}

/* Applies one key of an item according to its field description. */
static int pf__ifield(pf__mctx_t *c, pf_item_t *it, pf__islots_t *slots, const pf__field_t *f,
                      const pf_ynode_t *v, const char *where) {
  void *dst = (char *)it + f->off;
  int rc, idx, b;
  switch (f->type) {
    case PF__F_STRING:
      return pf__mstring(c, v, where, f->key, false, false, (char **)dst);
    case PF__F_BOOL:
      return pf__mbool(c, v, where, f->key, (int *)dst);
    case PF__F_ENUM:
      rc = pf__menum(c, v, where, f->key, f->choices, &idx);
      if (rc == 0) *(char **)dst = pf_xstrdup(f->choices[idx]);
      return rc;
    case PF__F_CHOICE:
      rc = pf__menum(c, v, where, f->key, f->choices, &idx);
      if (rc == 0) *(int *)dst = idx;
      return rc;
    case PF__F_LIST:
      return pf__ilist(c, it, v, where, f->key);
    case PF__F_COLTYPE: {
      rc = pf__mstring(c, v, where, f->key, false, false, (char **)dst);
      const char *why = rc == 0 ? pf__coltype_problem(*(char **)dst) : NULL;
      if (why != NULL) {
        char field[160];
        snprintf(field, sizeof(field), "%s.%s", where, f->key);
        return pf__merr(c, v, field, "invalid type \"%.60s\": %s", *(char **)dst, why);
      }
      return rc;
    }
    case PF__F_SLOT:
      *(const pf_ynode_t **)((char *)slots + f->off) = v;
      return 0;
    case PF__F_TRANSACTION:
      rc = pf__mbool(c, v, where, f->key, &b);
      if (rc == 0) it->transaction = b != 0;
      return rc;
    case PF__F_SEVERITY:
      rc = pf__menum(c, v, where, f->key, f->choices, &idx);
      if (rc == 0) it->severity = idx == 1 ? PF_SEVERITY_WARN : PF_SEVERITY_ERROR;
      return rc;
  }
  return PF_EINTERNAL;
}

/* Splits "schema.name" at the first dot into two new strings; both parts must be non-empty.
 * Without a dot, *schema is a copy of `dflt`. */
static int pf__isplit(pf__mctx_t *c, const pf_ynode_t *at, const char *field, const char *text,
                      size_t len, const char *dflt, char **schema, char **name) {
  const char *dot = memchr(text, '.', len);
  if (dot == NULL) {
    *schema = pf_xstrdup(dflt);
    *name = pf_xstrndup(text, len);
    return 0;
  }
  if (dot == text || dot + 1 == text + len)
    return pf__merr(c, at, field,
                    "\"%.*s\" has an empty schema or name on one side of the dot (write the "
                    "schema in `schema:` when a name really contains a dot)",
                    (int)(len > 60 ? 60 : len), text);
  *schema = pf_xstrndup(text, (size_t)(dot - text));
  *name = pf_xstrndup(dot + 1, (size_t)(text + len - dot - 1));
  return 0;
}

/* Reads a required slot as a string, or reports that the item lacks it. */
static int pf__irequired(pf__mctx_t *c, const pf_ynode_t *item, const pf_ynode_t *v,
                         const char *where, const char *key, char **out) {
  if (v == NULL) return pf__merr(c, item, where, "missing required key \"%s\"", key);
  return pf__mstring(c, v, where, key, false, false, out);
}

/* Sets the item's name, splitting "schema.name" unless `schema:` was given explicitly. */
static int pf__iname(pf__mctx_t *c, pf_item_t *it, const pf_ynode_t *item,
                     const pf__islots_t *s, const char *where, const char *dflt_schema) {
  char *text, field[160];
  int rc = pf__irequired(c, item, s->name, where, "name", &text);
  if (rc != 0) return rc;
  if (it->schema != NULL) {
    it->name = text;
    return 0;
  }
  snprintf(field, sizeof(field), "%s.name", where);
  rc = pf__isplit(c, s->name, field, text, strlen(text), dflt_schema, &it->schema, &it->name);
  free(text);
  return rc;
}

/* Sets table_schema and table from `table:` ("users" or "auth.users"). */
static int pf__itable(pf__mctx_t *c, pf_item_t *it, const pf_ynode_t *item,
                      const pf__islots_t *s, const char *where) {
  char *text, field[160];
  int rc = pf__irequired(c, item, s->table, where, "table", &text);
  if (rc != 0) return rc;
  snprintf(field, sizeof(field), "%s.table", where);
  rc = pf__isplit(c, s->table, field, text, strlen(text), c->m->default_schema, &it->table_schema,
                  &it->table);
  free(text);
  return rc;
}

/* Sets a function's schema, name and args from `signature: [schema.]name(args)`. */
static int pf__isignature(pf__mctx_t *c, pf_item_t *it, const pf_ynode_t *item,
                          const pf__islots_t *s, const char *where) {
  char *sig, field[160];
  int rc = pf__irequired(c, item, s->signature, where, "signature", &sig);
  if (rc != 0) return rc;
  snprintf(field, sizeof(field), "%s.signature", where);
  size_t len = strlen(sig);
  const char *open = strchr(sig, '(');
  if (open == NULL || sig[len - 1] != ')' || open == sig) {
    rc = pf__merr(c, s->signature, field,
                  "expected name(argument types), such as get_user(uuid, integer) or now()");
  } else if (it->schema != NULL) {
    it->name = pf_xstrndup(sig, (size_t)(open - sig));
  } else {
    rc = pf__isplit(c, s->signature, field, sig, (size_t)(open - sig), c->m->default_schema,
                    &it->schema, &it->name);
  }
  if (rc == 0) it->args = pf_xstrndup(open + 1, (size_t)(sig + len - 1 - (open + 1)));
  free(sig);
  return rc;
}

/* Checks a grant's privileges and target, which PostgreSQL would otherwise reject at run time. */
static int pf__igrant(pf__mctx_t *c, pf_item_t *it, const pf_ynode_t *item, const char *where) {
  if (it->role == NULL) return pf__merr(c, item, where, "missing required key \"role\"");
  if (it->values == NULL) return pf__merr(c, item, where, "missing required key \"privileges\"");
  if (it->nvalues == 0) return pf__merr(c, item, where, "\"privileges\" must list at least one");
  if (it->on == NULL) return pf__merr(c, item, where, "missing required key \"on\"");
  for (size_t i = 0; i < it->nvalues; i++) {
    bool known = false;
    for (size_t j = 0; j < PF_ARRAY_SIZE(pf__privileges) && !known; j++)
      known = strcasecmp(it->values[i], pf__privileges[j]) == 0;
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
  it->display = pf_buf_steal(&d);
  return 0;
}

/* Finishes an item once all its keys are read: required keys, names and the display name. */
static int pf__ifinish(pf__mctx_t *c, size_t idx, const pf_ynode_t *item, const pf__islots_t *s,
                       const char *where) {
  pf_manifest_t *m = c->m;
  pf_item_t *it = &m->items[idx];
  int rc = 0;
  switch (it->kind) {
    case PF_KIND_ROLE:
    case PF_KIND_EXTENSION:
    case PF_KIND_SCHEMA:
    case PF_KIND_CHECK:
      rc = pf__irequired(c, item, s->name, where, "name", &it->name);
      if (rc == 0 && it->kind == PF_KIND_CHECK && it->sql == NULL)
        rc = pf__merr(c, item, where, "missing required key \"sql\"");
      if (rc == 0) it->display = pf_xstrdup(it->name);
      return rc;
    case PF_KIND_TYPE:
    case PF_KIND_SEQUENCE:
    case PF_KIND_TABLE:
    case PF_KIND_VIEW:
      rc = pf__iname(c, it, item, s, where, m->default_schema);
      if (rc == 0) it->display = pf_xasprintf("%s.%s", it->schema, it->name);
      return rc;
    case PF_KIND_COLUMN: {
      const pf_item_t *t = &m->items[it->parent];
      rc = pf__irequired(c, item, s->name, where, "name", &it->name);
      if (rc != 0) return rc;
      it->schema = pf_xstrdup(t->schema);
      it->table_schema = pf_xstrdup(t->schema);
      it->table = pf_xstrdup(t->name);
      it->display = pf_xasprintf("%s.%s.%s", t->schema, t->name, it->name);
      return 0;
    }
    case PF_KIND_FUNCTION:
      rc = pf__isignature(c, it, item, s, where);
      if (rc == 0) it->display = pf_xasprintf("%s.%s(%s)", it->schema, it->name, it->args);
      return rc;
    case PF_KIND_INDEX:
      rc = pf__itable(c, it, item, s, where);
      /* An index lives in its table's schema unless the manifest says otherwise. */
      if (rc == 0) rc = pf__iname(c, it, item, s, where, it->table_schema);
      if (rc == 0) it->display = pf_xasprintf("%s.%s", it->schema, it->name);
      return rc;
    case PF_KIND_CONSTRAINT:
    case PF_KIND_TRIGGER:
    case PF_KIND_POLICY:
      rc = pf__itable(c, it, item, s, where);
      /* These names are not schema-qualified in PostgreSQL, so a dot is part of the name. */
      if (rc == 0) rc = pf__irequired(c, item, s->name, where, "name", &it->name);
      if (rc != 0) return rc;
      it->schema = pf_xstrdup(it->table_schema);
      it->display = pf_xasprintf("%s.%s.%s", it->table_schema, it->table, it->name);
      return 0;
    case PF_KIND_GRANT:
      return pf__igrant(c, it, item, where);
    case PF_KIND_MIGRATION:
      if (it->tool == NULL) return pf__merr(c, item, where, "missing required key \"tool\"");
      if (it->version == NULL) return pf__merr(c, item, where, "missing required key \"version\"");
      it->display = pf_xasprintf("%s %s", it->tool, it->version);
      return 0;
    case PF_KIND__COUNT:
      break;
  }
  return pf__merr(c, item, where, "internal error: unknown kind");
}

/* Checks that a fallback_file resolves to a file inside the allowed folder (the manifest's, or
 * --fallback-root): an absolute path, "../" or a symlink planted beside the manifest could
 * otherwise send /etc/shadow to the server as SQL, and its syntax error would quote it back into
 * the logs. On success *real is the resolved path (the caller reads the file through it, and
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
static int pf__ifallback(pf__mctx_t *c, pf_item_t *it, const pf__islots_t *s,
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
                          ? pf_xstrdup(it->fallback_file)
                          : pf_xasprintf("%s/%s", c->dir, it->fallback_file);
  snprintf(field, sizeof(field), "%s.fallback_file", where);
  size_t len;
  const char *why;
  char *real;
  if (pf__ifallback_confined(c, it, s->file, field, &real) != 0) return PF_ECONFIG;
  int read = pf__mread_file(real, true, &it->fallback, &len, &why);
  free(real);
  if (read != 0)
    return pf__merr(c, s->file, field, "cannot read \"%s\" (%s): %s", it->fallback_file,
                    it->fallback_path, why);
  if (len == 0)
    return pf__merr(c, s->file, field, "\"%s\" (%s) is empty", it->fallback_file,
                    it->fallback_path);
  if (memchr(it->fallback, '\0', len) != NULL)
    return pf__merr(c, s->file, field, "\"%s\" (%s) contains a NUL byte", it->fallback_file,
                    it->fallback_path);
  it->fallback_line = 1;
  return 0;
}

/* Declared ahead because a table's columns are parsed as items in their own right. */
static int pf__iparse(pf__mctx_t *c, pf_kind_t kind, const pf_ynode_t *node, const char *where,
                      size_t parent);

/* Parses a table's `columns:` list; each column is appended right after the items so far,
 * which puts a table's columns directly behind it. */
static int pf__icolumns(pf__mctx_t *c, size_t table, const pf_ynode_t *list, const char *where) {
  if (list == NULL || pf_ynode_is_null(list)) return 0;
  char field[160];
  snprintf(field, sizeof(field), "%s.columns", where);
  if (list->kind != PF_YNODE_SEQUENCE)
    return pf__merr(c, list, field, "expected a sequence of columns, got %s",
                    pf_ynode_describe(list));
  for (size_t i = 0; i < list->n; i++) {
    char sub[160];
    snprintf(sub, sizeof(sub), "%s.columns[%zu]", where, i);
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
  pf_item_t *it = &c->m->items[idx];
  pf__islots_t slots = {0};
  for (size_t i = 0; i < node->n; i++) {
    const pf_ynode_t *k = node->pairs[i].key, *v = node->pairs[i].value;
    const pf__field_t *f = NULL;
    for (size_t j = 0; j < PF_ARRAY_SIZE(pf__fields) && f == NULL; j++)
      if ((pf__fields[j].kinds & (1u << kind)) && strcmp(pf__fields[j].key, k->text) == 0)
        f = &pf__fields[j];
    if (f == NULL) {
      char ex[64];
      return pf__merr(c, k, where, "unknown key \"%s\" for a %s", pf_ynode_excerpt(k, ex, sizeof(ex)),
                      pf_kind_name(kind));
    }
    int rc = pf__ifield(c, it, &slots, f, v, where);
    if (rc != 0) return rc;
  }
  int rc = pf__ifinish(c, idx, node, &slots, where);
  if (rc == 0) rc = pf__ifallback(c, &c->m->items[idx], &slots, where);
  if (rc == 0) rc = pf_sqllex_check_item(&c->m->items[idx], c->path, where, c->err, c->errlen);
  if (rc == 0 && kind == PF_KIND_TABLE) rc = pf__icolumns(c, idx, slots.columns, where);
  return rc;
}

/* Parses the list under a kind's key; see manifest_int.h. A null list (every entry commented
 * out) is an empty one. */
int pf__mparse_kind_list(pf__mctx_t *c, pf_kind_t kind, const pf_ynode_t *list) {
  const char *key = pf_kind_key(kind);
  if (pf_ynode_is_null(list)) return 0;
  if (list->kind != PF_YNODE_SEQUENCE)
    return pf__merr(c, list, key, "expected a sequence (a list of items), got %s",
                    pf_ynode_describe(list));
  for (size_t i = 0; i < list->n; i++) {
    char where[64];
    snprintf(where, sizeof(where), "%s[%zu]", key, i);
    int rc = pf__iparse(c, kind, list->items[i], where, PF_NO_PARENT);
    if (rc != 0) return rc;
  }
  return 0;
}
