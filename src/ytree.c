/* The node tree: the functions that read a finished tree and the progress hook (declared in
 * yamldoc.h, whose parsers sit above this file), and the builder both parsers feed: nodes in one
 * arena, children gathered on a scratch stack and copied into exact-size arrays when their
 * collection ends, duplicate keys rejected as each mapping closes. An explicit stack, never
 * recursion, so the depth limit is the only thing that bounds it. */
#include "ytree.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "preflight/error.h"

/* The root node, with the arena the whole tree lives in right behind it: pf_ynode_free finds the
 * arena there. */
typedef struct {
  pf_ynode_t node;
  pf_arena_t *arena;
} pf__yroot_t;

/* The progress hook; see yamldoc.h. */
static void (*pf__yprogress)(void *);
static void *pf__yprogress_arg;

/* Sets the progress hook; see yamldoc.h. */
void pf_ydoc_set_progress(void (*fn)(void *arg), void *arg) {
  pf__yprogress = fn;
  pf__yprogress_arg = arg;
}

/* Calls the progress hook; see yamldoc.h. */
void pf_ydoc_progress(void) {
  if (pf__yprogress) pf__yprogress(pf__yprogress_arg);
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

/* Compares two trees field by field; see yamldoc.h. */
bool pf_ynode_same(const pf_ynode_t *a, const pf_ynode_t *b) {
  if (a == NULL || b == NULL) return a == b;
  if (a->kind != b->kind || a->line != b->line || a->column != b->column || a->n != b->n)
    return false;
  switch (a->kind) {
    case PF_YNODE_SCALAR:
      return a->style == b->style && a->len == b->len && memcmp(a->text, b->text, a->len + 1) == 0;
    case PF_YNODE_SEQUENCE:
      for (uint32_t i = 0; i < a->n; i++)
        if (!pf_ynode_same(a->items[i], b->items[i])) return false;
      return true;
    default:
      for (uint32_t i = 0; i < a->n; i++)
        if (!pf_ynode_same(a->pairs[i].key, b->pairs[i].key) ||
            !pf_ynode_same(a->pairs[i].value, b->pairs[i].value))
          return false;
      return true;
  }
}

/* Prepares a builder; see ytree.h. Nodes take 32 bytes and there is roughly one per 8 bytes of
 * YAML, plus their text and arrays. */
void pf__yb_init(pf__ybuilder_t *b, const char *path, const char *text, size_t len, char *err,
                 size_t errlen) {
  memset(b, 0, sizeof(*b));
  b->path = path;
  b->text = text;
  b->len = len;
  b->err = err;
  b->errlen = errlen;
  b->arena = pf_arena_new(len * 4 + 1024);
}

/* Frees the scratch stack; see ytree.h. */
void pf__yb_finish(pf__ybuilder_t *b) {
  free(b->scratch);
  b->scratch = NULL;
  b->nscratch = b->capscratch = 0;
}

/* Frees every node made so far; see ytree.h. */
void pf__yb_discard(pf__ybuilder_t *b) {
  pf_arena_free(b->arena);
  b->arena = NULL;
  b->root = NULL;
}

/* Formats an error at a position; see ytree.h. */
int pf__yerr(pf__ybuilder_t *b, int line, int column, const char *fmt, ...) {
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

/* Returns a new node of the given kind at a 1-based position, with `extra` bytes of text room
 * behind it. Every 1,024 nodes it gives the progress hook a turn. */
static pf_ynode_t *pf__ynode_new(pf__ybuilder_t *b, pf_ynode_kind_t kind, int line, int column,
                                 size_t extra) {
  pf_ynode_t *n;
  if ((++b->nodes & 1023) == 0) pf_ydoc_progress();
  if (b->depth == 0 && b->root == NULL) {
    /* The first node at the top is the root: it carries the arena for pf_ynode_free. */
    pf__yroot_t *r = pf_arena_alloc(b->arena, sizeof(*r) + extra);
    memset(r, 0, sizeof(*r));
    r->arena = b->arena;
    n = &r->node;
    if (extra) n->text = (char *)(r + 1);
  } else {
    n = pf_arena_alloc(b->arena, sizeof(*n) + extra);
    memset(n, 0, sizeof(*n));
    if (extra) n->text = (char *)(n + 1);
  }
  n->kind = (unsigned char)kind;
  n->line = line;
  n->column = column;
  return n;
}

/* Returns a scalar with room for its text behind it; see ytree.h. */
pf_ynode_t *pf__yb_scalar(pf__ybuilder_t *b, int line, int column, pf_ystyle_t style, size_t len) {
  pf_ynode_t *n = pf__ynode_new(b, PF_YNODE_SCALAR, line, column, len + 1);
  n->style = (unsigned char)style;
  n->len = (uint32_t)len;
  return n;
}

/* Pushes a child of the innermost open collection onto the scratch stack. */
static void pf__yscratch_push(pf__ybuilder_t *b, pf_ynode_t *node) {
  if (b->nscratch == b->capscratch) {
    b->capscratch = b->capscratch ? b->capscratch * 2 : 256;
    b->scratch = pf_xrealloc(b->scratch, b->capscratch * sizeof(*b->scratch));
  }
  b->scratch[b->nscratch++] = node;
}

/* Hangs a node under the innermost open collection, or makes it the root; see ytree.h. */
int pf__yb_attach(pf__ybuilder_t *b, pf_ynode_t *node) {
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

/* Opens a collection; see ytree.h. */
int pf__yb_open(pf__ybuilder_t *b, pf_ynode_kind_t kind, int line, int column) {
  if (b->depth >= PF_YDOC_MAX_DEPTH)
    return pf__yerr(b, line, column, "nesting deeper than %d levels", PF_YDOC_MAX_DEPTH);
  pf_ynode_t *node = pf__ynode_new(b, kind, line, column, 0);
  int rc = pf__yb_attach(b, node);
  if (rc != 0) return rc;
  b->stack[b->depth].node = node;
  b->stack[b->depth].key = NULL;
  b->stack[b->depth].base = b->nscratch;
  b->depth++;
  return 0;
}

/* Orders mapping pairs by key text, then by position, so duplicates become neighbours. */
static int pf__ykey_cmp(const void *a, const void *b) {
  const pf_ypair_t *pa = a, *pb = b;
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
    pf_sort_ptrs((void **)sorted, map->n, pf__ykey_cmp);
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

/* Closes the innermost collection, moving its children from the scratch stack into its own
 * arrays; see ytree.h. */
int pf__yb_close(pf__ybuilder_t *b, int line, int column) {
  if (b->depth == 0) return pf__yerr(b, line, column, "unbalanced end of a collection");
  pf__yframe_t *f = &b->stack[--b->depth];
  pf_ynode_t *node = f->node;
  size_t count = b->nscratch - f->base;
  /* An empty collection before any child was pushed leaves scratch NULL: no arithmetic on it. */
  pf_ynode_t *const *kids = count ? b->scratch + f->base : NULL;
  if (node->kind == PF_YNODE_SEQUENCE) {
    node->n = (uint32_t)count;
    node->items = pf_arena_alloc(b->arena, count * sizeof(*node->items));
    if (count) memcpy(node->items, kids, count * sizeof(*node->items));
    b->nscratch = f->base;
    return 0;
  }
  node->n = (uint32_t)(count / 2);
  node->pairs = pf_arena_alloc(b->arena, node->n * sizeof(*node->pairs));
  for (size_t i = 0; i < node->n; i++) {
    node->pairs[i].key = kids[2 * i];
    node->pairs[i].value = kids[2 * i + 1];
  }
  b->nscratch = f->base;
  return pf__ymap_check_duplicates(b, node);
}
