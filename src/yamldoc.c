/* A YAML stream loaded into a tree of nodes that remember their positions: by yamlfast.c when the
 * text keeps to the subset manifests are written in, else by libyaml's event API. Both feed the
 * same builder (ytree.c). */
#include "preflight/yamldoc.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "preflight/arena.h"
#include "preflight/error.h"
#include "preflight/manifest.h"
#include "yamlfast.h"
#include "ytree.h"

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
      pf_ystyle_t style;
      switch (ev->data.scalar.style) {
        case YAML_SINGLE_QUOTED_SCALAR_STYLE: style = PF_YSTYLE_SINGLE_QUOTED; break;
        case YAML_DOUBLE_QUOTED_SCALAR_STYLE: style = PF_YSTYLE_DOUBLE_QUOTED; break;
        case YAML_LITERAL_SCALAR_STYLE: style = PF_YSTYLE_LITERAL; break;
        case YAML_FOLDED_SCALAR_STYLE: style = PF_YSTYLE_FOLDED; break;
        default: style = PF_YSTYLE_PLAIN; break;
      }
      pf_ynode_t *node = pf__yb_scalar(b, line, column, style, len);
      memcpy(node->text, value, len);
      node->text[len] = '\0';
      return pf__yb_attach(b, node);
    }

    case YAML_SEQUENCE_START_EVENT:
      rc = pf__ycheck_props(b, mark, ev->data.sequence_start.anchor, ev->data.sequence_start.tag);
      return rc != 0 ? rc : pf__yb_open(b, PF_YNODE_SEQUENCE, line, column);
    case YAML_MAPPING_START_EVENT:
      rc = pf__ycheck_props(b, mark, ev->data.mapping_start.anchor, ev->data.mapping_start.tag);
      return rc != 0 ? rc : pf__yb_open(b, PF_YNODE_MAPPING, line, column);

    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
      return pf__yb_close(b, line, column);
  }
  return 0;
}

/* Parses a YAML stream into a node tree; see yamldoc.h. */
int pf_ydoc_parse(const char *text, size_t len, const char *path, pf_ynode_t **root, char *err,
                  size_t errlen) {
  return pf_ydoc_parse_limit(text, len, 0, path, root, err, errlen);
}

/* Builds the tree from libyaml's events into b, whose arena is fresh. Returns 1 at the end of
 * the stream, or PF_ECONFIG. */
static int pf__ydoc_libyaml(pf__ybuilder_t *b) {
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) return pf__yerr(b, 1, 1, "out of memory");
  yaml_parser_set_input_string(&parser, (const unsigned char *)b->text, b->len);
  int rc = 0, documents = 0;
  for (;;) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&parser, &ev)) {
      rc = pf__yparser_error(b, &parser);
      break;
    }
    rc = pf__yevent(b, &ev, &documents);
    yaml_event_delete(&ev);
    if (rc != 0) break;
  }
  yaml_parser_delete(&parser);
  return rc;
}

/* Parses a YAML stream with an explicit size limit; see yamldoc.h. */
int pf_ydoc_parse_limit(const char *text, size_t len, size_t max_bytes, const char *path,
                        pf_ynode_t **root, char *err, size_t errlen) {
  return pf_ydoc_parse_with(text, len, max_bytes, path, PF_YDOC_AUTO, root, err, errlen);
}

/* Parses with a chosen parser; see yamldoc.h. */
int pf_ydoc_parse_with(const char *text, size_t len, size_t max_bytes, const char *path,
                       pf_ydoc_parser_t which, pf_ynode_t **root, char *err, size_t errlen) {
  pf__ybuilder_t b = {.path = path, .err = err, .errlen = errlen};
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

  int rc;
  if (which != PF_YDOC_LIBYAML) {
    /* The common subset first; anything outside it, and every error, is libyaml's to read and
     * to word, from scratch. */
    pf__yb_init(&b, path, text, len, err, errlen);
    rc = pf__yfast_parse(&b);
    pf__yb_finish(&b);
    if (rc == 0) {
      *root = b.root;
      return 0;
    }
    pf__yb_discard(&b);
    if (which == PF_YDOC_FAST) return PF_YDOC_NOT_FAST;
  }
  pf__yb_init(&b, path, text, len, err, errlen);
  rc = pf__ydoc_libyaml(&b);
  pf__yb_finish(&b);
  if (rc == 1 && b.root != NULL) {
    *root = b.root;
    return 0;
  }
  pf__yb_discard(&b);
  return rc == 1 ? 0 : rc;
}
