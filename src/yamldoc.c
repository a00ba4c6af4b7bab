/* A YAML stream loaded with libyaml's event API into a tree of nodes that remember their
 * positions. The tree is built with an explicit stack, never recursion, so the depth limit is the
 * only thing that bounds it. */
#include "preflight/yamldoc.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "preflight/arena.h"
#include "preflight/error.h"
#include "preflight/manifest.h"

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
  /* Children of every open collection, innermost last (a mapping's as key, value, key, ...).
   * A collection's children are copied into an exact-size arena array when it ends, so no array
   * is ever grown inside the arena. */
  pf_ynode_t **scratch;
  size_t nscratch, capscratch;
  char *err;
  size_t errlen;
} pf__ybuilder_t;

/* Writes "path:line:column: message" into the builder's error buffer; returns PF_ECONFIG. */
static int pf__yerr(pf__ybuilder_t *b, int line, int column, const char *fmt, ...) PF_PRINTF(4, 5);
static int pf__yerr(pf__ybuilder_t *b, int line, int column, const char *fmt, ...) {
  pf_buf_t msg = {0};
  va_list ap;
  va_start(ap, fmt);
  pf_buf_vprintf(&msg, fmt, ap);
  va_end(ap);
  pf_seterr(b->err, b->errlen, PF_ECONFIG, "%s:%d:%d: %s", b->path, line, column,
            msg.data ? msg.data : "");
  pf_buf_free(&msg);
  return PF_ECONFIG;
}

/* The root node, with the arena the whole tree lives in right behind it. */
typedef struct {
  pf_ynode_t node;
  pf_arena_t *arena;
} pf__yroot_t;

/* Returns a new node of the given kind positioned at libyaml's 0-based mark. */
static pf_ynode_t *pf__ynode_new(pf__ybuilder_t *b, pf_ynode_kind_t kind, yaml_mark_t mark) {
  pf_ynode_t *n;
  if (b->depth == 0 && b->root == NULL) {
    /* The first node at the top is the root: it carries the arena for pf_ynode_free. */
    pf__yroot_t *r = pf_arena_calloc(b->arena, 1, sizeof(*r));
    r->arena = b->arena;
    n = &r->node;
  } else {
    n = pf_arena_calloc(b->arena, 1, sizeof(*n));
  }
  n->kind = kind;
  n->line = (int)mark.line + 1;
  n->column = (int)mark.column + 1;
  return n;
}

/* Frees a tree: everything lives in the root's arena. */
void pf_ynode_free(pf_ynode_t *node) {
  if (node != NULL) pf_arena_free(((pf__yroot_t *)node)->arena);
}

/* Returns true for a plain scalar that YAML 1.1/1.2 reads as null. */
bool pf_ynode_is_null(const pf_ynode_t *node) {
  if (node == NULL) return true;
  if (node->kind != PF_YNODE_SCALAR || node->style != PF_YSTYLE_PLAIN) return false;
  const char *t = node->text;
  switch (t[0]) {
    case '\0': return true;
    case '~': return t[1] == '\0';
    case 'n': return strcmp(t, "null") == 0;
    case 'N': return strcmp(t, "Null") == 0 || strcmp(t, "NULL") == 0;
    default: return false;
  }
}

/* Returns a short description of what a node is, for "expected X, got Y" messages. */
const char *pf_ynode_describe(const pf_ynode_t *node) {
  if (pf_ynode_is_null(node)) return "nothing (null)";
  switch (node->kind) {
    case PF_YNODE_MAPPING: return "a mapping";
    case PF_YNODE_SEQUENCE: return "a sequence";
    case PF_YNODE_SCALAR: break;
  }
  return "a scalar";
}

/* Copies a bounded, printable excerpt of a scalar into buf; returns buf. */
const char *pf_ynode_excerpt(const pf_ynode_t *node, char *buf, size_t buflen) {
  const size_t max = 40;
  if (buflen == 0) return buf;
  const char *t = node != NULL && node->kind == PF_YNODE_SCALAR && node->text != NULL ? node->text : "";
  size_t o = 0, i = 0;
  for (; t[i] != '\0' && i < max && o + 4 < buflen; i++)
    buf[o++] = (unsigned char)t[i] < 0x20 || t[i] == 0x7f ? '?' : t[i];
  if (t[i] != '\0' && o + 4 <= buflen) {
    memcpy(buf + o, "...", 3);
    o += 3;
  }
  buf[o] = '\0';
  return buf;
}

/* Pushes a child of the innermost open collection onto the scratch stack. */
static void pf__yscratch_push(pf__ybuilder_t *b, pf_ynode_t *node) {
  if (b->nscratch == b->capscratch) {
    b->capscratch = b->capscratch ? b->capscratch * 2 : 256;
    b->scratch = pf_xrealloc(b->scratch, b->capscratch * sizeof(*b->scratch));
  }
  b->scratch[b->nscratch++] = node;
}

/* Hangs a new node under the innermost open collection (or makes it the root). Returns 0, or
 * PF_ECONFIG for a collection used as a mapping key. */
static int pf__yattach(pf__ybuilder_t *b, pf_ynode_t *node) {
  if (b->depth == 0) {
    b->root = node;
    return 0;
  }
  pf__yframe_t *f = &b->stack[b->depth - 1];
  if (f->node->kind == PF_YNODE_MAPPING) {
    if (f->key == NULL) {
      if (node->kind != PF_YNODE_SCALAR)
        return pf__yerr(b, node->line, node->column, "mapping keys must be plain strings, not %s",
                        node->kind == PF_YNODE_MAPPING ? "mappings" : "sequences");
      f->key = node;
      return 0;
    }
    pf__yscratch_push(b, f->key);
    f->key = NULL;
  }
  pf__yscratch_push(b, node);
  return 0;
}

/* Moves the children of the collection that just ended from the scratch stack into its own
 * arrays. */
static void pf__yclose(pf__ybuilder_t *b, pf__yframe_t *f) {
  pf_ynode_t *node = f->node;
  size_t count = b->nscratch - f->base;
  /* An empty collection before any child was pushed leaves scratch NULL: no arithmetic on it. */
  pf_ynode_t *const *kids = count ? b->scratch + f->base : NULL;
  if (node->kind == PF_YNODE_SEQUENCE) {
    node->n = (uint32_t)count;
    node->items = pf_arena_alloc(b->arena, count * sizeof(*node->items));
    if (count) memcpy(node->items, kids, count * sizeof(*node->items));
  } else {
    node->n = (uint32_t)(count / 2);
    node->pairs = pf_arena_alloc(b->arena, node->n * sizeof(*node->pairs));
    for (size_t i = 0; i < node->n; i++) {
      node->pairs[i].key = kids[2 * i];
      node->pairs[i].value = kids[2 * i + 1];
    }
  }
  b->nscratch = f->base;
}

/* Orders mapping pairs by key text, then by position, so duplicates become neighbours. */
static int pf__ykey_cmp(const void *a, const void *b) {
  const pf_ypair_t *pa = *(const pf_ypair_t *const *)a, *pb = *(const pf_ypair_t *const *)b;
  const pf_ynode_t *ka = pa->key, *kb = pb->key;
  size_t n = ka->len < kb->len ? ka->len : kb->len;
  int c = memcmp(ka->text, kb->text, n);
  if (c != 0) return c;
  if (ka->len != kb->len) return ka->len < kb->len ? -1 : 1;
  return pa < pb ? -1 : pa > pb;
}

/* Returns true when two scalar keys have the same text. */
static bool pf__ysame_key(const pf_ynode_t *a, const pf_ynode_t *b) {
  return a->len == b->len && memcmp(a->text, b->text, a->len) == 0;
}

/* Rejects a mapping that repeats a key, naming both lines. Small mappings (every manifest item)
 * compare pairwise without allocating; larger ones are sorted, so that a hostile mapping with a
 * hundred thousand keys does not cost a quadratic number of comparisons. */
static int pf__ymap_check_duplicates(pf__ybuilder_t *b, const pf_ynode_t *map) {
  if (map->n < 2) return 0;
  const pf_ypair_t *first = NULL, *again = NULL;
  if (map->n <= 16) {
    for (size_t j = 1; j < map->n && again == NULL; j++)
      for (size_t i = 0; i < j; i++)
        if (pf__ysame_key(map->pairs[i].key, map->pairs[j].key)) {
          first = &map->pairs[i];
          again = &map->pairs[j];
          break;
        }
  } else {
    const pf_ypair_t **sorted = pf_xmalloc(map->n * sizeof(*sorted));
    for (size_t i = 0; i < map->n; i++) sorted[i] = &map->pairs[i];
    qsort(sorted, map->n, sizeof(*sorted), pf__ykey_cmp);
    /* Report the duplicate that comes first in the document, whatever the sort order. */
    for (size_t i = 0; i + 1 < map->n; i++) {
      if (pf__ysame_key(sorted[i]->key, sorted[i + 1]->key) &&
          (again == NULL || sorted[i + 1] < again)) {
        first = sorted[i];
        again = sorted[i + 1];
      }
    }
    free(sorted);
  }
  if (again == NULL) return 0;
  char ex[64];
  const pf_ynode_t *k1 = first->key, *k2 = again->key;
  pf_ynode_excerpt(k2, ex, sizeof(ex));
  if (k1->line == k2->line)
    return pf__yerr(b, k2->line, k2->column,
                    "duplicate key \"%s\" (first at line %d, column %d, again at column %d)", ex,
                    k1->line, k1->column, k2->column);
  return pf__yerr(b, k2->line, k2->column, "duplicate key \"%s\" (first at line %d, again at line %d)",
                  ex, k1->line, k2->line);
}

/* Turns libyaml's parser error into "path:line:column: problem (context)". Reader errors (bad
 * encoding) carry only a byte offset, which is turned into a line and column here. */
static int pf__yparser_error(pf__ybuilder_t *b, const yaml_parser_t *parser) {
  const char *problem = parser->problem ? parser->problem : "invalid YAML";
  if (parser->error == YAML_MEMORY_ERROR)
    return pf__yerr(b, 1, 1, "out of memory while parsing YAML");
  if (parser->error == YAML_READER_ERROR) {
    int line = 1, column = 1;
    for (size_t i = 0; i < parser->problem_offset && i < b->len; i++) {
      if (b->text[i] == '\n') {
        line++;
        column = 1;
      } else {
        column++;
      }
    }
    if (parser->problem_value != -1)
      return pf__yerr(b, line, column, "%s (byte 0x%02x)", problem, parser->problem_value & 0xff);
    return pf__yerr(b, line, column, "%s", problem);
  }
  int line = (int)parser->problem_mark.line + 1, column = (int)parser->problem_mark.column + 1;
  /* libyaml reports a tab in indentation as "found character that cannot start any token" (or
   * as a tab that "violates indentation"), which does not say what the character is. */
  size_t at = parser->problem_mark.index;
  if ((at < b->len && b->text[at] == '\t') || strstr(problem, "tab") != NULL)
    return pf__yerr(b, line, column,
                    "a tab character: YAML indents with spaces only (replace the tab with spaces)");
  if (parser->context != NULL)
    return pf__yerr(b, line, column, "%s (%s at line %d, column %d)", problem, parser->context,
                    (int)parser->context_mark.line + 1, (int)parser->context_mark.column + 1);
  return pf__yerr(b, line, column, "%s", problem);
}

/* Rejects the node properties preflight does not support: anchors and explicit tags. */
static int pf__ycheck_props(pf__ybuilder_t *b, yaml_mark_t mark, const yaml_char_t *anchor,
                            const yaml_char_t *tag) {
  if (anchor != NULL)
    return pf__yerr(b, (int)mark.line + 1, (int)mark.column + 1,
                    "YAML aliases and anchors are not supported");
  if (tag != NULL)
    return pf__yerr(b, (int)mark.line + 1, (int)mark.column + 1,
                    "explicit YAML tags are not supported (found \"%.40s\")", (const char *)tag);
  return 0;
}

/* Handles one libyaml event. Returns 0, 1 at the end of the stream, or PF_ECONFIG. */
static int pf__yevent(pf__ybuilder_t *b, const yaml_event_t *ev, int *documents) {
  yaml_mark_t mark = ev->start_mark;
  int line = (int)mark.line + 1, column = (int)mark.column + 1;
  pf_ynode_t *node;
  int rc;

  switch (ev->type) {
    case YAML_STREAM_START_EVENT:
    case YAML_DOCUMENT_END_EVENT:
    case YAML_NO_EVENT:
      return 0;
    case YAML_STREAM_END_EVENT:
      return 1;
    case YAML_DOCUMENT_START_EVENT:
      if (++*documents > 1)
        return pf__yerr(b, line, column,
                        "more than one YAML document (a manifest is a single document)");
      return 0;
    case YAML_ALIAS_EVENT:
      return pf__yerr(b, line, column, "YAML aliases and anchors are not supported");

    case YAML_SCALAR_EVENT: {
      rc = pf__ycheck_props(b, mark, ev->data.scalar.anchor, ev->data.scalar.tag);
      if (rc != 0) return rc;
      const char *value = (const char *)ev->data.scalar.value;
      size_t len = ev->data.scalar.length;
      /* A "\0" escape in a double-quoted scalar would silently cut every C string made from it. */
      if (memchr(value, '\0', len) != NULL)
        return pf__yerr(b, line, column, "NUL characters are not allowed in values");
      node = pf__ynode_new(b, PF_YNODE_SCALAR, mark);
      node->text = pf_arena_strndup(b->arena, value, len);
      node->len = (uint32_t)len;
      switch (ev->data.scalar.style) {
        case YAML_SINGLE_QUOTED_SCALAR_STYLE: node->style = PF_YSTYLE_SINGLE_QUOTED; break;
        case YAML_DOUBLE_QUOTED_SCALAR_STYLE: node->style = PF_YSTYLE_DOUBLE_QUOTED; break;
        case YAML_LITERAL_SCALAR_STYLE: node->style = PF_YSTYLE_LITERAL; break;
        case YAML_FOLDED_SCALAR_STYLE: node->style = PF_YSTYLE_FOLDED; break;
        default: node->style = PF_YSTYLE_PLAIN; break;
      }
      return pf__yattach(b, node);
    }

    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
      bool seq = ev->type == YAML_SEQUENCE_START_EVENT;
      rc = seq ? pf__ycheck_props(b, mark, ev->data.sequence_start.anchor,
                                  ev->data.sequence_start.tag)
               : pf__ycheck_props(b, mark, ev->data.mapping_start.anchor,
                                  ev->data.mapping_start.tag);
      if (rc != 0) return rc;
      if (b->depth >= PF_YDOC_MAX_DEPTH)
        return pf__yerr(b, line, column, "nesting deeper than %d levels", PF_YDOC_MAX_DEPTH);
      node = pf__ynode_new(b, seq ? PF_YNODE_SEQUENCE : PF_YNODE_MAPPING, mark);
      rc = pf__yattach(b, node);
      if (rc != 0) return rc;
      b->stack[b->depth].node = node;
      b->stack[b->depth].key = NULL;
      b->stack[b->depth].base = b->nscratch;
      b->depth++;
      return 0;
    }

    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
      if (b->depth == 0) return pf__yerr(b, line, column, "unbalanced end of a collection");
      b->depth--;
      pf__yclose(b, &b->stack[b->depth]);
      if (ev->type == YAML_MAPPING_END_EVENT)
        return pf__ymap_check_duplicates(b, b->stack[b->depth].node);
      return 0;
  }
  return 0;
}

/* Parses a YAML stream into a node tree; see yamldoc.h. */
int pf_ydoc_parse(const char *text, size_t len, const char *path, pf_ynode_t **root, char *err,
                  size_t errlen) {
  return pf_ydoc_parse_limit(text, len, 0, path, root, err, errlen);
}

static void (*pf__yprogress)(void *);
static void *pf__yprogress_arg;

void pf_ydoc_set_progress(void (*fn)(void *arg), void *arg) {
  pf__yprogress = fn;
  pf__yprogress_arg = arg;
}

void pf_ydoc_progress(void) {
  if (pf__yprogress) pf__yprogress(pf__yprogress_arg);
}

/* Parses a YAML stream with an explicit size limit; see yamldoc.h. */
int pf_ydoc_parse_limit(const char *text, size_t len, size_t max_bytes, const char *path,
                        pf_ynode_t **root, char *err, size_t errlen) {
  pf__ybuilder_t b = {.path = path, .text = text, .len = len, .err = err, .errlen = errlen};
  *root = NULL;
  if (max_bytes == 0) max_bytes = PF_MANIFEST_MAX_BYTES;
  if (len > max_bytes)
    return max_bytes % (1024 * 1024) == 0
               ? pf__yerr(&b, 1, 1,
                          "the manifest is larger than the %zu MiB limit (raise it with "
                          "PREFLIGHT_MANIFEST_MAX_BYTES)", max_bytes / (1024 * 1024))
               : pf__yerr(&b, 1, 1,
                          "the manifest is larger than the %zu-byte limit (raise it with "
                          "PREFLIGHT_MANIFEST_MAX_BYTES)", max_bytes);

  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) return pf__yerr(&b, 1, 1, "out of memory");
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  /* Nodes take about 64 bytes each and there is roughly one per 8 bytes of YAML. */
  b.arena = pf_arena_new(len * 4 + 1024);

  int rc = 0, documents = 0;
  for (unsigned events = 1;; events++) {
    if ((events & 1023) == 0) pf_ydoc_progress();
    yaml_event_t ev;
    if (!yaml_parser_parse(&parser, &ev)) {
      rc = pf__yparser_error(&b, &parser);
      break;
    }
    rc = pf__yevent(&b, &ev, &documents);
    yaml_event_delete(&ev);
    if (rc != 0) break;
  }
  yaml_parser_delete(&parser);
  free(b.scratch);
  if (rc == 1 && b.root != NULL) {
    *root = b.root;
    return 0;
  }
  pf_arena_free(b.arena);
  return rc == 1 ? 0 : rc;
}
