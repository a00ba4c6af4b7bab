/* The manifest as a whole: reading the file, the settings sections (version, database, wait,
 * fallback, defaults), the checks that span items (duplicates) and freeing. The items of each
 * kind are parsed in manifest_items.c. */
#include "preflight/manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "manifest_int.h"
#include "preflight/sqllex.h"
#include "preflight/duration.h"
#include "preflight/error.h"
#include "preflight/expand.h"
#include "preflight/service_url.h"

static const char *const pf__kind_names[] = {
#define PF__KIND_NAME(name, singular, plural) singular,
    PF_KIND_MAP(PF__KIND_NAME)
#undef PF__KIND_NAME
};

static const char *const pf__kind_keys[] = {
#define PF__KIND_KEY(name, singular, plural) plural,
    PF_KIND_MAP(PF__KIND_KEY)
#undef PF__KIND_KEY
};

/* Returns the kind's singular name ("table"), or "?" for a value outside the enum. */
const char *pf_kind_name(pf_kind_t kind) {
  return (unsigned)kind < PF_KIND__COUNT ? pf__kind_names[kind] : "?";
}

/* Returns the kind's manifest key ("tables"), or "?" for a value outside the enum. */
const char *pf_kind_key(pf_kind_t kind) {
  return (unsigned)kind < PF_KIND__COUNT ? pf__kind_keys[kind] : "?";
}

/* Writes a located error message; see manifest_int.h. */
int pf__merr(pf__mctx_t *c, const pf_ynode_t *at, const char *where, const char *fmt, ...) {
  pf_buf_t msg = {0};
  va_list ap;
  va_start(ap, fmt);
  pf_buf_vprintf(&msg, fmt, ap);
  va_end(ap);
  int line = at ? at->line : 1, column = at ? at->column : 1;
  if (where != NULL && *where != '\0')
    pf_seterr(c->err, c->errlen, PF_ECONFIG, "%s:%d:%d: %s: %s", c->path, line, column, where,
              msg.data ? msg.data : "");
  else
    pf_seterr(c->err, c->errlen, PF_ECONFIG, "%s:%d:%d: %s", c->path, line, column,
              msg.data ? msg.data : "");
  pf_buf_free(&msg);
  return PF_ECONFIG;
}

/* Formats "where.key" (or just "key") into buf for messages about one value; returns buf. */
static const char *pf__mfield(char *buf, size_t buflen, const char *where, const char *key) {
  if (where != NULL && *where != '\0')
    snprintf(buf, buflen, "%s.%s", where, key);
  else
    snprintf(buf, buflen, "%s", key);
  return buf;
}

/* Reads a scalar as a string; see manifest_int.h. */
int pf__mstring(pf__mctx_t *c, const pf_ynode_t *node, const char *where, const char *key,
                bool expand, bool allow_empty, char **out) {
  char field[160];
  pf__mfield(field, sizeof(field), where, key);
  *out = NULL;
  if (pf_ynode_is_null(node)) return pf__merr(c, node, field, "a value is required");
  if (node->kind != PF_YNODE_SCALAR)
    return pf__merr(c, node, field, "expected a string, got %s", pf_ynode_describe(node));
  char *s;
  if (expand) {
    char why[256];
    if (pf_expand_env(node->text, &s, why, sizeof(why)) != 0)
      return pf__merr(c, node, field, "%s", why);
  } else {
    s = pf_xstrndup(node->text, node->len);
  }
  if (*s == '\0' && !allow_empty) {
    free(s);
    return pf__merr(c, node, field, expand ? "must not be empty (after expanding variables)"
                                           : "must not be empty");
  }
  *out = s;
  return 0;
}

/* Reads a boolean; see manifest_int.h. Only plain scalars count: "true" in quotes is a string,
 * and YAML 1.1's yes/no/on/off are refused because they surprise more people than they help. */
int pf__mbool(pf__mctx_t *c, const pf_ynode_t *node, const char *where, const char *key,
              int *out) {
  static const char *const truths[] = {"true", "True", "TRUE"};
  static const char *const lies[] = {"false", "False", "FALSE"};
  char field[160], ex[64];
  pf__mfield(field, sizeof(field), where, key);
  if (node->kind == PF_YNODE_SCALAR && node->style == PF_YSTYLE_PLAIN) {
    for (size_t i = 0; i < PF_ARRAY_SIZE(truths); i++) {
      if (strcmp(node->text, truths[i]) == 0) {
        *out = 1;
        return 0;
      }
      if (strcmp(node->text, lies[i]) == 0) {
        *out = 0;
        return 0;
      }
    }
  }
  if (node->kind != PF_YNODE_SCALAR || pf_ynode_is_null(node))
    return pf__merr(c, node, field, "expected true or false, got %s", pf_ynode_describe(node));
  return pf__merr(c, node, field, "expected true or false, got %s\"%s\"",
                  node->style == PF_YSTYLE_PLAIN ? "" : "the quoted string ",
                  pf_ynode_excerpt(node, ex, sizeof(ex)));
}

/* Reads one of a fixed set of words; see manifest_int.h. */
int pf__menum(pf__mctx_t *c, const pf_ynode_t *node, const char *where, const char *key,
              const char *const *choices, int *idx) {
  char field[160], ex[64];
  pf__mfield(field, sizeof(field), where, key);
  if (node->kind == PF_YNODE_SCALAR && !pf_ynode_is_null(node)) {
    for (int i = 0; choices[i] != NULL; i++) {
      if (strcmp(node->text, choices[i]) == 0) {
        *idx = i;
        return 0;
      }
    }
  }
  pf_buf_t list = {0};
  for (int i = 0; choices[i] != NULL; i++) pf_buf_printf(&list, "%s%s", i ? ", " : "", choices[i]);
  int rc;
  if (node->kind == PF_YNODE_SCALAR && !pf_ynode_is_null(node))
    rc = pf__merr(c, node, field, "expected one of %s; got \"%s\"", list.data,
                  pf_ynode_excerpt(node, ex, sizeof(ex)));
  else
    rc = pf__merr(c, node, field, "expected one of %s; got %s", list.data,
                  pf_ynode_describe(node));
  pf_buf_free(&list);
  return rc;
}

/* Reads a duration scalar (expanded when `expand`) into *ms. */
static int pf__mduration(pf__mctx_t *c, const pf_ynode_t *node, const char *where,
                         const char *key, bool expand, int64_t *ms) {
  char *s, field[160], why[256];
  int rc = pf__mstring(c, node, where, key, expand, false, &s);
  if (rc != 0) return rc;
  rc = pf_duration_parse(s, ms, why, sizeof(why));
  free(s);
  if (rc != 0) return pf__merr(c, node, pf__mfield(field, sizeof(field), where, key), "%s", why);
  return 0;
}

/* Says where a file read as (b, then chunk) passes PF_MANIFEST_MAX_BYTES: the line and column of
 * the first byte over the limit, so the message points into the file like every other manifest
 * error. Returns a static string. */
static const char *pf__mtoo_large(const pf_buf_t *b, const char *chunk, size_t n) {
  static char why[128];
  size_t line = 1, col = 1, total = 0;
  const char *parts[2] = {b->data ? b->data : "", chunk};
  size_t lens[2] = {b->len, n};
  for (int i = 0; i < 2; i++)
    for (size_t k = 0; k < lens[i] && total < PF_MANIFEST_MAX_BYTES; k++, total++) {
      if (parts[i][k] == '\n')
        line++, col = 1;
      else
        col++;
    }
  snprintf(why, sizeof(why), "larger than the %u MiB limit, which line %zu passes at column %zu",
           PF_MANIFEST_MAX_BYTES / (1024u * 1024u), line, col);
  return why;
}

/* Reads a whole file; see manifest_int.h. */
int pf__mread_file(const char *path, bool regular_only, char **out, size_t *len,
                   const char **why) {
  *out = NULL;
  *len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC | (regular_only ? O_NONBLOCK : 0));
  if (fd < 0) {
    *why = strerror(errno);
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    *why = strerror(errno);
    close(fd);
    return -1;
  }
  if (S_ISDIR(st.st_mode) || (regular_only && !S_ISREG(st.st_mode))) {
    *why = S_ISDIR(st.st_mode) ? strerror(EISDIR)
           : S_ISFIFO(st.st_mode) ? "a FIFO, not a regular file (reading it could block for ever)"
                                  : "not a regular file";
    close(fd);
    return -1;
  }
  pf_buf_t b = {0};
  char chunk[65536];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *why = strerror(errno);
      goto fail;
    }
    if (n == 0) break;
    /* Stop as soon as the limit is passed, so a huge or endless file costs nothing. */
    if (b.len + (size_t)n > PF_MANIFEST_MAX_BYTES) {
      *why = pf__mtoo_large(&b, chunk, (size_t)n);
      goto fail;
    }
    pf_buf_append(&b, chunk, (size_t)n);
  }
  close(fd);
  *len = b.len;
  *out = pf_buf_steal(&b);
  return 0;

fail:
  pf_buf_free(&b);
  close(fd);
  return -1;
}

/* Checks that `node` is a mapping (or null, read as an empty one) for the section `where`. */
static int pf__msection(pf__mctx_t *c, const pf_ynode_t *node, const char *where) {
  if (node->kind == PF_YNODE_MAPPING || pf_ynode_is_null(node)) return 0;
  return pf__merr(c, node, where, "expected a mapping, got %s", pf_ynode_describe(node));
}

/* Parses `version:`, which must be the plain integer 1. */
static int pf__mversion(pf__mctx_t *c, const pf_ynode_t *node) {
  char ex[64];
  if (node->kind != PF_YNODE_SCALAR || pf_ynode_is_null(node))
    return pf__merr(c, node, "version", "expected the integer 1, got %s",
                    pf_ynode_describe(node));
  const char *t = node->text;
  bool digits = node->style == PF_YSTYLE_PLAIN && *t != '\0' && strspn(t, "0123456789") == node->len;
  if (!digits)
    return pf__merr(c, node, "version", "expected the integer 1, got %s\"%s\"",
                    node->style == PF_YSTYLE_PLAIN ? "" : "the quoted string ",
                    pf_ynode_excerpt(node, ex, sizeof(ex)));
  if (strcmp(t + strspn(t, "0"), "1") != 0)
    return pf__merr(c, node, "version",
                    "unsupported manifest version %s (this preflight reads version 1)",
                    pf_ynode_excerpt(node, ex, sizeof(ex)));
  c->m->version = 1;
  return 0;
}

/* Parses `database:`; its values are ${VAR}-expanded. */
static int pf__mdatabase(pf__mctx_t *c, const pf_ynode_t *sec) {
  for (size_t i = 0; sec->kind == PF_YNODE_MAPPING && i < sec->n; i++) {
    const pf_ynode_t *k = sec->pairs[i].key, *v = sec->pairs[i].value;
    char ex[64];
    int rc;
    if (strcmp(k->text, "url") == 0) {
      free(c->m->database_url);
      c->m->database_url = NULL;
      /* An empty or null url means "not set here": DATABASE_URL or libpq's PG* variables win. */
      if (pf_ynode_is_null(v)) continue;
      rc = pf__mstring(c, v, "database", "url", true, true, &c->m->database_url);
      if (rc == 0 && c->m->database_url[0] == '\0') {
        free(c->m->database_url);
        c->m->database_url = NULL;
      }
    } else if (strcmp(k->text, "connect_timeout") == 0) {
      rc = pf__mduration(c, v, "database", "connect_timeout", true, &c->m->connect_timeout_ms);
    } else if (strcmp(k->text, "statement_timeout") == 0) {
      rc = pf__mduration(c, v, "database", "statement_timeout", true, &c->m->db_statement_timeout_ms);
    } else {
      rc = pf__merr(c, k, "database", "unknown key \"%s\" (expected url, connect_timeout, statement_timeout)",
                    pf_ynode_excerpt(k, ex, sizeof(ex)));
    }
    if (rc != 0) return rc;
  }
  return 0;
}

/* Parses `wait.services`: a list of service URLs (services.h), ${VAR}-expanded, each checked. */
static int pf__mservices(pf__mctx_t *c, const pf_ynode_t *list) {
  if (list->kind != PF_YNODE_SEQUENCE)
    return pf__merr(c, list, "wait.services", "expected a list of URLs, got %s", pf_ynode_describe(list));
  for (size_t i = 0; i < list->n; i++) {
    char *url, why[512];
    int rc = pf__mstring(c, list->items[i], "wait", "services", true, false, &url);
    if (rc != 0) return rc;
    pf_service_t svc;
    if (pf_service_parse(url, &svc, why, sizeof(why)) != 0) {
      free(url);
      return pf__merr(c, list->items[i], "wait.services", "%s", why);
    }
    pf_service_free(&svc);
    c->m->services = pf_xrealloc(c->m->services, sizeof(char *) * (c->m->nservices + 1));
    c->m->services[c->m->nservices++] = url;
  }
  return 0;
}

/* Parses `wait:`; its values are ${VAR}-expanded. */
static int pf__mwait(pf__mctx_t *c, const pf_ynode_t *sec) {
  pf_manifest_t *m = c->m;
  const pf_ynode_t *interval = NULL, *max_interval = NULL;
  for (size_t i = 0; sec->kind == PF_YNODE_MAPPING && i < sec->n; i++) {
    const pf_ynode_t *k = sec->pairs[i].key, *v = sec->pairs[i].value;
    char ex[64];
    int rc;
    if (strcmp(k->text, "timeout") == 0) {
      rc = pf__mduration(c, v, "wait", "timeout", true, &m->wait_timeout_ms);
      m->has_wait_timeout = true;
    } else if (strcmp(k->text, "interval") == 0) {
      rc = pf__mduration(c, v, "wait", "interval", true, &m->wait_interval_ms);
      interval = v;
    } else if (strcmp(k->text, "max_interval") == 0) {
      rc = pf__mduration(c, v, "wait", "max_interval", true, &m->wait_max_interval_ms);
      max_interval = v;
    } else if (strcmp(k->text, "schema") == 0) {
      rc = pf__mduration(c, v, "wait", "schema", true, &m->await_schema_ms);
    } else if (strcmp(k->text, "schema_interval") == 0) {
      rc = pf__mduration(c, v, "wait", "schema_interval", true, &m->await_interval_ms);
      if (rc == 0 && m->await_interval_ms == 0)
        rc = pf__merr(c, v, "wait.schema_interval", "must be greater than 0");
    } else if (strcmp(k->text, "services") == 0) {
      rc = pf__mservices(c, v);
    } else {
      rc = pf__merr(c, k, "wait", "unknown key \"%s\" (expected timeout, interval, max_interval, services, schema, schema_interval)",
                    pf_ynode_excerpt(k, ex, sizeof(ex)));
    }
    if (rc != 0) return rc;
  }
  if (interval != NULL && m->wait_interval_ms == 0)
    return pf__merr(c, interval, "wait.interval", "must be greater than 0");
  if (max_interval == NULL) {
    /* Only the interval was raised: the default ceiling follows it rather than contradicting. */
    if (m->wait_max_interval_ms < m->wait_interval_ms)
      m->wait_max_interval_ms = m->wait_interval_ms;
  } else if (m->wait_max_interval_ms < m->wait_interval_ms) {
    char a[32], b[32];
    return pf__merr(c, max_interval, "wait.max_interval", "%s is below wait.interval (%s)",
                    pf_duration_format(m->wait_max_interval_ms, a, sizeof(a)),
                    pf_duration_format(m->wait_interval_ms, b, sizeof(b)));
  }
  return 0;
}

/* Parses `fallback:` (the section, not an item's fallback). SQL here is never expanded. */
static int pf__mfallback(pf__mctx_t *c, const pf_ynode_t *sec) {
  static const char *const modes[] = {"apply", "check", NULL};
  pf_manifest_t *m = c->m;
  for (size_t i = 0; sec->kind == PF_YNODE_MAPPING && i < sec->n; i++) {
    const pf_ynode_t *k = sec->pairs[i].key, *v = sec->pairs[i].value;
    char ex[64];
    int rc, mode;
    if (strcmp(k->text, "mode") == 0) {
      rc = pf__menum(c, v, "fallback", "mode", modes, &mode);
      if (rc == 0) m->mode = mode == 1 ? PF_MODE_CHECK : PF_MODE_APPLY;
    } else if (strcmp(k->text, "lock_key") == 0) {
      free(m->lock_key);
      m->lock_key = NULL;
      rc = pf__mstring(c, v, "fallback", "lock_key", false, false, &m->lock_key);
    } else if (strcmp(k->text, "lock_timeout") == 0) {
      rc = pf__mduration(c, v, "fallback", "lock_timeout", false, &m->lock_timeout_ms);
    } else if (strcmp(k->text, "statement_timeout") == 0) {
      rc = pf__mduration(c, v, "fallback", "statement_timeout", false, &m->statement_timeout_ms);
    } else if (strcmp(k->text, "after") == 0) {
      free(m->after);
      m->after = NULL;
      rc = pf__mstring(c, v, "fallback", "after", false, false, &m->after);
      if (rc == 0) rc = pf_sqllex_check_sql(m->after, c->path, v->line, "fallback.after", c->err, c->errlen);
    } else {
      rc = pf__merr(c, k, "fallback",
                    "unknown key \"%s\" (expected mode, lock_key, lock_timeout, "
                    "statement_timeout, after)",
                    pf_ynode_excerpt(k, ex, sizeof(ex)));
    }
    if (rc != 0) return rc;
  }
  return 0;
}

/* Parses `defaults:`. */
static int pf__mdefaults(pf__mctx_t *c, const pf_ynode_t *sec) {
  for (size_t i = 0; sec->kind == PF_YNODE_MAPPING && i < sec->n; i++) {
    const pf_ynode_t *k = sec->pairs[i].key, *v = sec->pairs[i].value;
    char ex[64];
    if (strcmp(k->text, "schema") != 0)
      return pf__merr(c, k, "defaults", "unknown key \"%s\" (expected schema)",
                      pf_ynode_excerpt(k, ex, sizeof(ex)));
    char *s;
    int rc = pf__mstring(c, v, "defaults", "schema", false, false, &s);
    if (rc != 0) return rc;
    free(c->m->default_schema);
    c->m->default_schema = s;
  }
  return 0;
}

/* Returns the kind whose list key is `key`, or PF_KIND__COUNT. */
static pf_kind_t pf__mkind_of_key(const char *key) {
  for (int k = 0; k < PF_KIND__COUNT; k++)
    if (k != PF_KIND_COLUMN && strcmp(key, pf__kind_keys[k]) == 0) return (pf_kind_t)k;
  return PF_KIND__COUNT;
}

/* Parses migrate.command: an argv list of strings, or one string run with /bin/sh -c. */
static int pf__mmigrate_command(pf__mctx_t *c, const pf_ynode_t *v) {
  pf_manifest_t *m = c->m;
  m->migrate_line = v->line;
  if (v->kind == PF_YNODE_SCALAR) {
    char *s;
    int rc = pf__mstring(c, v, "migrate", "command", false, false, &s);
    if (rc != 0) return rc;
    m->migrate_argv = pf_xcalloc(4, sizeof(char *));
    m->migrate_argv[0] = pf_xstrdup("/bin/sh");
    m->migrate_argv[1] = pf_xstrdup("-c");
    m->migrate_argv[2] = s;
    m->migrate_display = pf_xstrdup(s);
    return 0;
  }
  if (v->kind != PF_YNODE_SEQUENCE || v->n == 0)
    return pf__merr(c, v, "migrate.command", "expected a list of words or a shell command string, got %s",
                    v->kind == PF_YNODE_SEQUENCE ? "an empty list" : pf_ynode_describe(v));
  char **argv = pf_xcalloc(v->n + 1, sizeof(char *));
  for (size_t i = 0; i < v->n; i++) {
    const pf_ynode_t *w = v->items[i];
    if (w->kind != PF_YNODE_SCALAR || pf_ynode_is_null(w)) {
      for (size_t k = 0; k < i; k++) free(argv[k]);
      free(argv);
      return pf__merr(c, w, "migrate.command", "word %zu: expected a string, got %s", i + 1, pf_ynode_describe(w));
    }
    argv[i] = pf_xstrndup(w->text, w->len);
  }
  if (argv[0][0] == '\0') {
    for (size_t k = 0; k < v->n; k++) free(argv[k]);
    free(argv);
    return pf__merr(c, v->items[0], "migrate.command", "the program name must not be empty");
  }
  pf_buf_t b = {0};
  for (size_t i = 0; i < v->n; i++) pf_buf_printf(&b, "%s%s", i ? " " : "", argv[i]);
  m->migrate_argv = argv;
  m->migrate_display = pf_buf_steal(&b);
  return 0;
}

/* Parses `migrate:`. */
static int pf__mmigrate(pf__mctx_t *c, const pf_ynode_t *sec) {
  pf_manifest_t *m = c->m;
  const pf_ynode_t *command = NULL;
  for (size_t i = 0; sec->kind == PF_YNODE_MAPPING && i < sec->n; i++) {
    const pf_ynode_t *k = sec->pairs[i].key, *v = sec->pairs[i].value;
    char ex[64];
    int rc;
    if (strcmp(k->text, "command") == 0) {
      command = v;
      rc = pf__mmigrate_command(c, v);
    } else if (strcmp(k->text, "when") == 0) {
      static const char *const whens[] = {"missing", "always", NULL};
      int w = 0;
      rc = pf__menum(c, v, "migrate", "when", whens, &w);
      m->migrate_when = (pf_migrate_when_t)w;
    } else if (strcmp(k->text, "timeout") == 0) {
      rc = pf__mduration(c, v, "migrate", "timeout", false, &m->migrate_timeout_ms);
    } else if (strcmp(k->text, "workdir") == 0) {
      char *w;
      rc = pf__mstring(c, v, "migrate", "workdir", false, false, &w);
      if (rc == 0) {
        free(m->migrate_workdir);
        m->migrate_workdir = w[0] == '/' ? w : pf_xasprintf("%s/%s", c->dir, w);
        if (w[0] != '/') free(w);
      }
    } else {
      rc = pf__merr(c, k, "migrate", "unknown key \"%s\" (expected command, when, timeout, workdir)",
                    pf_ynode_excerpt(k, ex, sizeof(ex)));
    }
    if (rc != 0) return rc;
  }
  if (command == NULL && sec->kind == PF_YNODE_MAPPING)
    return pf__merr(c, sec, "migrate", "missing required key \"command\"");
  return 0;
}

/* First pass over the top level: settings, and a check that every key is known. The settings
 * come first so that defaults.schema applies to items listed above it. */
static int pf__msettings(pf__mctx_t *c, const pf_ynode_t *root) {
  bool have_version = false;
  for (size_t i = 0; i < root->n; i++) {
    const pf_ynode_t *k = root->pairs[i].key, *v = root->pairs[i].value;
    const char *key = k->text;
    char ex[64];
    int rc = 0;
    if (strcmp(key, "version") == 0) {
      rc = pf__mversion(c, v);
      have_version = true;
    } else if (strcmp(key, "database") == 0 || strcmp(key, "wait") == 0 ||
               strcmp(key, "fallback") == 0 || strcmp(key, "defaults") == 0 || strcmp(key, "migrate") == 0) {
      rc = pf__msection(c, v, key);
      if (rc == 0) {
        if (key[0] == 'd' && key[1] == 'a') rc = pf__mdatabase(c, v);
        else if (key[0] == 'w') rc = pf__mwait(c, v);
        else if (key[0] == 'f') rc = pf__mfallback(c, v);
        else if (key[0] == 'm') rc = pf__mmigrate(c, v);
        else rc = pf__mdefaults(c, v);
      }
    } else if (strcmp(key, "columns") == 0) {
      rc = pf__merr(c, k, NULL, "\"columns\" belongs inside a table (tables[].columns)");
    } else if (pf__mkind_of_key(key) == PF_KIND__COUNT) {
      rc = pf__merr(c, k, NULL, "unknown top-level key \"%s\"", pf_ynode_excerpt(k, ex, sizeof(ex)));
    }
    if (rc != 0) return rc;
  }
  if (!have_version)
    return pf__merr(c, root, NULL, "missing required key \"version\" (add \"version: 1\")");
  return 0;
}

typedef struct {
  pf_kind_t kind;
  const char *display;
  size_t index;
} pf__mident_t;

/* Orders identities by kind, then display name, then position, so that duplicates are
 * neighbours with the first declaration first. */
static int pf__mident_cmp(const void *a, const void *b) {
  const pf__mident_t *x = a, *y = b;
  if (x->kind != y->kind) return x->kind < y->kind ? -1 : 1;
  int r = strcmp(x->display, y->display);
  if (r != 0) return r;
  return x->index < y->index ? -1 : x->index > y->index;
}

/* Rejects two items of the same kind with the same identity, naming both lines. Sorting keeps
 * a manifest with thousands of items from costing a quadratic number of comparisons. */
static int pf__mduplicates(pf__mctx_t *c) {
  pf_manifest_t *m = c->m;
  if (m->nitems < 2) return 0;
  pf__mident_t *ids = pf_xmalloc(m->nitems * sizeof(*ids));
  for (size_t i = 0; i < m->nitems; i++)
    ids[i] = (pf__mident_t){m->items[i].kind, m->items[i].display, i};
  qsort(ids, m->nitems, sizeof(*ids), pf__mident_cmp);
  /* Report the duplicate that comes first in the manifest, whatever the sort order. */
  size_t first = SIZE_MAX, again = SIZE_MAX;
  for (size_t i = 0; i + 1 < m->nitems; i++) {
    if (ids[i].kind == ids[i + 1].kind && strcmp(ids[i].display, ids[i + 1].display) == 0 &&
        (again == SIZE_MAX || ids[i + 1].index < again)) {
      first = ids[i].index;
      again = ids[i + 1].index;
    }
  }
  free(ids);
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
  m->lock_key = pf_xstrdup("preflight");
  m->lock_timeout_ms = 5000;
  m->statement_timeout_ms = 5 * 60 * 1000;
  m->default_schema = pf_xstrdup("public");
}

/* The --fallback-root folder, or NULL for the manifest's own folder. */
static const char *pf__fallback_root;

void pf_manifest_set_fallback_root(const char *dir) { pf__fallback_root = dir && *dir ? dir : NULL; }

/* Parses and validates a manifest held in memory; see manifest.h. */
int pf_manifest_parse(const char *text, size_t len, const char *path, const char *dir,
                      pf_manifest_t *m, char *err, size_t errlen) {
  memset(m, 0, sizeof(*m));
  if (path == NULL) path = "manifest";
  pf_manifest_t tmp = {0};
  pf__mctx_t c = {.path = path, .dir = dir && *dir ? dir : ".", .m = &tmp, .err = err,
                  .errlen = errlen};
  c.root = pf__fallback_root ? pf__fallback_root : c.dir;
  pf_ynode_t *root = NULL;
  int rc = pf_ydoc_parse(text, len, path, &root, err, errlen);
  if (rc != 0) return rc;

  tmp.path = pf_xstrdup(path);
  tmp.dir = pf_xstrdup(c.dir);
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
  for (size_t i = 0; rc == 0 && i < root->n; i++) {
    pf_kind_t kind = pf__mkind_of_key(root->pairs[i].key->text);
    if (kind != PF_KIND__COUNT) rc = pf__mparse_kind_list(&c, kind, root->pairs[i].value);
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

/* Reads the manifest file and parses it; see manifest.h. */
int pf_manifest_load(const char *path, pf_manifest_t *m, char *err, size_t errlen) {
  memset(m, 0, sizeof(*m));
  char *text;
  size_t len;
  const char *why;
  /* Only a regular file: a FIFO would block open() and start-up for ever. */
  if (pf__mread_file(path, true, &text, &len, &why) != 0)
    return pf_seterr(err, errlen, PF_ECONFIG, "%s: cannot read the manifest: %s", path, why);
  const char *slash = strrchr(path, '/');
  char *dir = slash == NULL ? pf_xstrdup(".")
              : slash == path ? pf_xstrdup("/")
                              : pf_xstrndup(path, (size_t)(slash - path));
  int rc = pf_manifest_parse(text, len, path, dir, m, err, errlen);
  free(dir);
  free(text);
  return rc;
}

/* Frees everything an item owns; see manifest_int.h. */
void pf__mitem_free(pf_item_t *it) {
  char **strings[] = {&it->schema, &it->name, &it->table_schema, &it->table, &it->display,
                      &it->type, &it->default_expr, &it->identity, &it->generated, &it->args,
                      &it->returns, &it->sql, &it->version, &it->constraint_type,
                      &it->references, &it->role, &it->on, &it->tool, &it->fallback,
                      &it->fallback_file, &it->fallback_path};
  for (size_t i = 0; i < PF_ARRAY_SIZE(strings); i++) {
    free(*strings[i]);
    *strings[i] = NULL;
  }
  for (size_t i = 0; i < it->nvalues; i++) free(it->values[i]);
  free(it->values);
  it->values = NULL;
  it->nvalues = 0;
}

/* Frees everything the manifest owns and leaves it empty; safe on an empty manifest. */
void pf_manifest_free(pf_manifest_t *m) {
  if (m == NULL) return;
  for (size_t i = 0; i < m->nitems; i++) pf__mitem_free(&m->items[i]);
  free(m->items);
  free(m->path);
  free(m->dir);
  free(m->database_url);
  free(m->lock_key);
  free(m->after);
  free(m->default_schema);
  for (size_t i = 0; i < m->nservices; i++) free(m->services[i]);
  free(m->services);
  for (size_t i = 0; m->migrate_argv && m->migrate_argv[i]; i++) free(m->migrate_argv[i]);
  free(m->migrate_argv);
  free(m->migrate_display);
  free(m->migrate_workdir);
  memset(m, 0, sizeof(*m));
}
