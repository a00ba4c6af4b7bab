/* A reader of the YAML that manifests are written in, several times faster than libyaml's event
 * API (which costs a malloc and a free for every token, event and scalar): `preflight snapshot`'s
 * output and hand-written manifests alike keep to a small subset, and a large manifest's parse
 * was most of `lint` and a good part of `check`.
 *
 * The subset, judged line by line:
 * - printable ASCII and line feeds (no tab or CR), with UTF-8 in comments only;
 * - blank lines, and comments (`#` at a line's start, or after a space);
 * - block mappings of one-line keys (plain, or quoted without escapes) with a value on the same
 *   line, a block mapping or sequence on the following ones (indented, or a sequence at the
 *   key's own column), or nothing (null);
 * - block sequences whose entries are a value, or a mapping begun on the entry's line;
 * - values: one-line plain scalars, quoted scalars without escapes or line breaks, and flow
 *   collections of the same, over one line or several.
 * Anything else (a scalar continued on the next line, block scalars, anchors, tags, document
 * markers, escapes, ...) and every error returns PF__YF_OUT at once: yamldoc.c
 * then parses the whole text again with libyaml, which reads all of YAML and words the errors.
 * Within the subset the tree is exactly libyaml's, positions included: where the two could
 * differ, this reader declines. tests/fuzz/fuzz_manifest.c holds them to that.
 *
 * The block and flow readers call each other, each call opening a collection, so the builder's
 * depth limit bounds the recursion. */
#include "yamlfast.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define PF__YF_OUT 1

/* libyaml's simple keys end within 1,024 characters of their start; keep well inside that. */
#define PF__YF_MAX_KEY 1000

typedef struct {
  pf__ybuilder_t *b;
  const char *p;        /* the cursor */
  const char *end;
  const char *bol;      /* the start of the cursor's line */
  int line;             /* 1-based */
  int ind;              /* after pf__yf_content: the content line's indentation, -1 at the end */
  bool utf8;            /* the text has characters past ASCII (in comments, or declined) */
} pf__yf_t;

/* A scalar read but not yet made into a node: keys are recognised by what follows them, and a
 * block mapping's node must exist before its first key's. */
typedef struct {
  const char *s;        /* the text between the quotes, or the plain text */
  size_t len;           /* of s as written */
  size_t quotes;        /* single-quoted: doubled quotes in s, each one character of the value */
  int line, column;
  pf_ystyle_t style;
} pf__yf_tok_t;

/* Character classes, by table since musl's strchr is a call: what cannot start a plain scalar
 * (libyaml's scanner, fetch_next_token); what in flow may not follow a ":" inside one; and what a
 * plain scalar's loop must stop at and look at, in the block and in the flow context. */
#define PF__YF_INDICATOR 1
#define PF__YF_FLOW_AFTER_COLON 2
#define PF__YF_STOP_BLOCK 4
#define PF__YF_STOP_FLOW 8
#define PF__YF_STOP (PF__YF_STOP_BLOCK | PF__YF_STOP_FLOW)
#define PF__YF_IN_FLOW (PF__YF_INDICATOR | PF__YF_FLOW_AFTER_COLON | PF__YF_STOP_FLOW)
static const unsigned char pf__yf_class[256] = {
    ['-'] = PF__YF_INDICATOR, ['?'] = PF__YF_INDICATOR | PF__YF_FLOW_AFTER_COLON,
    [':'] = PF__YF_INDICATOR | PF__YF_STOP, ['#'] = PF__YF_INDICATOR | PF__YF_STOP,
    [','] = PF__YF_IN_FLOW, ['['] = PF__YF_IN_FLOW, [']'] = PF__YF_IN_FLOW, ['{'] = PF__YF_IN_FLOW,
    ['}'] = PF__YF_IN_FLOW, ['&'] = PF__YF_INDICATOR, ['*'] = PF__YF_INDICATOR,
    ['!'] = PF__YF_INDICATOR, ['|'] = PF__YF_INDICATOR, ['>'] = PF__YF_INDICATOR,
    ['\''] = PF__YF_INDICATOR, ['"'] = PF__YF_INDICATOR, ['%'] = PF__YF_INDICATOR,
    ['@'] = PF__YF_INDICATOR, ['`'] = PF__YF_INDICATOR, [' '] = PF__YF_STOP, ['\n'] = PF__YF_STOP,
};

/* Returns the cursor's character, or NUL at the end (the text has no NUL of its own). */
static inline char pf__yf_ch(const pf__yf_t *f) {
  return f->p < f->end ? *f->p : '\0';
}

/* Returns the character after the cursor's, or NUL past the end. */
static inline char pf__yf_ch1(const pf__yf_t *f) {
  return f->p + 1 < f->end ? f->p[1] : '\0';
}

/* Moves the cursor past spaces. */
static inline void pf__yf_spaces(pf__yf_t *f) {
  while (f->p < f->end && *f->p == ' ') f->p++;
}

/* Moves the cursor to the start of the next line, or to the end. */
static void pf__yf_next_line(pf__yf_t *f) {
  const char *nl = memchr(f->p, '\n', (size_t)(f->end - f->p));
  if (nl == NULL) {
    f->p = f->end;
    return;
  }
  f->p = f->bol = nl + 1;
  f->line++;
}

/* From a line's start, skips blank and comment lines to the next line with content: sets f->ind
 * to its indentation (-1 at the end) with the cursor on its first character. Returns 0, or
 * PF__YF_OUT for a document marker. */
static int pf__yf_content(pf__yf_t *f) {
  for (;;) {
    pf__yf_spaces(f);
    char c = pf__yf_ch(f);
    if (c == '\0') {
      f->ind = -1;
      return 0;
    }
    if (c == '\n' || c == '#') {
      pf__yf_next_line(f);
      continue;
    }
    f->ind = (int)(f->p - f->bol);
    if (f->ind == 0 && f->end - f->p >= 3 &&
        (memcmp(f->p, "...", 3) == 0 || memcmp(f->p, "---", 3) == 0) &&
        (f->p + 3 == f->end || f->p[3] == ' ' || f->p[3] == '\n'))
      return PF__YF_OUT;
    return 0;
  }
}

/* After a value: spaces, a comment or nothing, and the line's end; then on to the next line
 * with content. Returns 0 or PF__YF_OUT. */
static int pf__yf_eol(pf__yf_t *f) {
  pf__yf_spaces(f);
  char c = pf__yf_ch(f);
  /* libyaml takes a "#" straight after a quote or a bracket as a comment; YAML does not. */
  if (c == '#' ? f->p[-1] != ' ' : c != '\n' && c != '\0') return PF__YF_OUT;
  pf__yf_next_line(f);
  return pf__yf_content(f);
}

/* Returns true when the cursor is on a block sequence entry's "-". */
static inline bool pf__yf_is_entry(const pf__yf_t *f) {
  char n = pf__yf_ch1(f);
  return pf__yf_ch(f) == '-' && (n == ' ' || n == '\n' || n == '\0');
}

/* Reads a plain scalar at the cursor, in the block or the flow context, up to what ends it: the
 * line's end, ": ", " #", and in flow also ",[]{}". Returns 0 or PF__YF_OUT. */
static int pf__yf_plain(pf__yf_t *f, bool flow, pf__yf_tok_t *t) {
  const char *s = f->p, *q = s, *last = s;
  char c = pf__yf_ch(f);
  /* "-1" and "--flag" are plain scalars; the other indicators start something else (or are
   * refused). */
  char n = pf__yf_ch1(f);
  if (c == '\0' || c == ' ' || c == '\n' ||
      ((pf__yf_class[(unsigned char)c] & PF__YF_INDICATOR) && !(c == '-' && n != ' ' && n != '\n' && n != '\0')))
    return PF__YF_OUT;
  const unsigned char stop = flow ? PF__YF_STOP_FLOW : PF__YF_STOP_BLOCK;
  for (;;) {
    const char *r = q;
    while (r < f->end && !(pf__yf_class[(unsigned char)*r] & stop)) r++;
    if (r > q) last = r;
    q = r;
    if (q == f->end) break;
    c = *q;
    if (c == ' ') {
      q++;
      continue;
    }
    if (c == '\n') break;
    if (c == '#') {
      if (q[-1] == ' ') {
        if (flow) return PF__YF_OUT;
        break;
      }
    } else if (c == ':') {
      n = q + 1 < f->end ? q[1] : '\0';
      if (n == ' ' || n == '\n' || n == '\0') break;
      /* In flow, libyaml refuses these after a ":" and takes anything else into the scalar. */
      if (flow && (pf__yf_class[(unsigned char)n] & PF__YF_FLOW_AFTER_COLON)) return PF__YF_OUT;
    } else {
      break; /* ",[]{}" in flow */
    }
    last = ++q;
  }
  *t = (pf__yf_tok_t){.s = s, .len = (size_t)(last - s), .line = f->line,
                      .column = (int)(s - f->bol) + 1, .style = PF_YSTYLE_PLAIN};
  f->p = q;
  return 0;
}

/* Reads a quoted scalar at the cursor that ends on its line: single-quoted with its doubled
 * quotes, double-quoted without a backslash. Returns 0 or PF__YF_OUT. */
static int pf__yf_quoted(pf__yf_t *f, pf__yf_tok_t *t) {
  char quote = *f->p;
  const char *s = f->p + 1, *q = s;
  size_t quotes = 0;
  for (;;) {
    const char *e = memchr(q, quote, (size_t)(f->end - q));
    if (e == NULL || memchr(q, '\n', (size_t)(e - q)) != NULL) return PF__YF_OUT;
    if (quote == '"' && memchr(q, '\\', (size_t)(e - q)) != NULL) return PF__YF_OUT;
    if (quote == '\'' && e + 1 < f->end && e[1] == '\'') {
      quotes++;
      q = e + 2;
      continue;
    }
    q = e;
    break;
  }
  *t = (pf__yf_tok_t){.s = s, .len = (size_t)(q - s), .quotes = quotes, .line = f->line,
                      .column = (int)(f->p - f->bol) + 1,
                      .style = quote == '"' ? PF_YSTYLE_DOUBLE_QUOTED : PF_YSTYLE_SINGLE_QUOTED};
  f->p = q + 1;
  return 0;
}

/* Reads a scalar of any supported style at the cursor. Returns 0 or PF__YF_OUT. */
static int pf__yf_scalar(pf__yf_t *f, bool flow, pf__yf_tok_t *t) {
  char c = pf__yf_ch(f);
  return c == '\'' || c == '"' ? pf__yf_quoted(f, t) : pf__yf_plain(f, flow, t);
}

/* Makes a read scalar into a node under the innermost open collection. Returns 0 or non-zero. */
static int pf__yf_emit(pf__yf_t *f, const pf__yf_tok_t *t) {
  size_t len = t->len - t->quotes;
  /* libyaml counts columns in characters: a scalar past ASCII would shift the nodes after it. */
  if (f->utf8)
    for (size_t i = 0; i < t->len; i++)
      if ((unsigned char)t->s[i] >= 0x80) return PF__YF_OUT;
  pf_ynode_t *n = pf__yb_scalar(f->b, t->line, t->column, t->style, len);
  if (t->quotes == 0) {
    memcpy(n->text, t->s, len);
  } else {
    char *o = n->text;
    for (size_t i = 0; i < t->len; i++) {
      *o++ = t->s[i];
      if (t->s[i] == '\'') i++;
    }
  }
  n->text[len] = '\0';
  return pf__yb_attach(f->b, n);
}

/* Inside a flow collection: skips spaces, line breaks and comments (a "#" after a space or at a
 * line's start). A line with content at the first column is left to libyaml (a document marker
 * there ends the collection). Returns 0 or PF__YF_OUT. */
static int pf__yf_flow_ws(pf__yf_t *f) {
  for (;;) {
    pf__yf_spaces(f);
    char c = pf__yf_ch(f);
    if (c == '#' && f->p[-1] == ' ') {
      const char *nl = memchr(f->p, '\n', (size_t)(f->end - f->p));
      f->p = nl != NULL ? nl : f->end;
      c = pf__yf_ch(f);
    }
    if (c != '\n') return 0;
    pf__yf_next_line(f);
    c = pf__yf_ch(f);
    if (c != ' ' && c != '\n') return PF__YF_OUT;
  }
}

/* Reads a mapping's key at the cursor, in a block or in a flow mapping, leaving the cursor on the
 * ":" after it. Returns 0, or PF__YF_OUT when what is there is no key, or one too long for
 * libyaml's simple keys (which then takes no key: in flow as in block). */
static int pf__yf_key(pf__yf_t *f, bool flow, pf__yf_tok_t *key) {
  const char *ks = f->p;
  if (pf__yf_scalar(f, flow, key) != 0) return PF__YF_OUT;
  pf__yf_spaces(f);
  return pf__yf_ch(f) == ':' && f->p - ks <= PF__YF_MAX_KEY ? 0 : PF__YF_OUT;
}

/* Reads a flow collection at its "[" or "{"; it may go on over several lines, but its scalars
 * may not. Returns 0 or non-zero. */
static int pf__yf_flow(pf__yf_t *f) {
  bool map = *f->p == '{';
  char close = map ? '}' : ']';
  int rc = pf__yb_open(f->b, map ? PF_YNODE_MAPPING : PF_YNODE_SEQUENCE, f->line,
                       (int)(f->p - f->bol) + 1);
  if (rc != 0) return rc;
  f->p++;
  if (pf__yf_flow_ws(f) != 0) return PF__YF_OUT;
  if (pf__yf_ch(f) == close) {
    f->p++;
    return pf__yb_close(f->b, f->line, 1);
  }
  for (;;) {
    pf__yf_tok_t t;
    if (map) {
      if (pf__yf_key(f, true, &t) != 0 || pf__yf_ch1(f) != ' ') return PF__YF_OUT;
      f->p += 2;
      pf__yf_spaces(f);
      rc = pf__yf_emit(f, &t);
      if (rc != 0) return rc;
    }
    char c = pf__yf_ch(f);
    if (c == '[' || c == '{') {
      rc = pf__yf_flow(f);
    } else {
      rc = pf__yf_scalar(f, true, &t);
      if (rc == 0) rc = pf__yf_emit(f, &t);
    }
    if (rc != 0 || pf__yf_flow_ws(f) != 0) return PF__YF_OUT;
    c = pf__yf_ch(f);
    if (c == close) {
      f->p++;
      return pf__yb_close(f->b, f->line, 1);
    }
    if (c != ',') return PF__YF_OUT;
    f->p++;
    if (pf__yf_flow_ws(f) != 0) return PF__YF_OUT;
    if (pf__yf_ch(f) == close) return PF__YF_OUT; /* a trailing comma */
  }
}

/* Reads a value on the current line, a scalar or a flow collection, then the line's end. */
static int pf__yf_inline(pf__yf_t *f) {
  char c = pf__yf_ch(f);
  int rc;
  if (c == '[' || c == '{') {
    rc = pf__yf_flow(f);
  } else {
    pf__yf_tok_t t;
    rc = pf__yf_scalar(f, false, &t);
    if (rc == 0) rc = pf__yf_emit(f, &t);
  }
  return rc != 0 ? rc : pf__yf_eol(f);
}

static int pf__yf_bseq(pf__yf_t *f, int s);

/* Reads a block mapping whose keys stand at indentation k. The cursor is on the first key, or,
 * when first is given (a key already read: the mapping's first), on the ":" after it. Returns
 * with the cursor on the next line with content past the mapping: 0 or non-zero. */
static int pf__yf_bmap(pf__yf_t *f, int k, const pf__yf_tok_t *first) {
  pf__yf_tok_t key;
  if (first != NULL)
    key = *first;
  else if (pf__yf_key(f, false, &key) != 0)
    return PF__YF_OUT;
  int rc = pf__yb_open(f->b, PF_YNODE_MAPPING, key.line, key.column);
  for (;;) {
    if (rc != 0) return rc;
    /* The cursor is on the ":" after a key; a quoted key may have anything after it. */
    char c = pf__yf_ch1(f);
    if (c != ' ' && c != '\n' && c != '\0') return PF__YF_OUT;
    rc = pf__yf_emit(f, &key);
    if (rc != 0) return rc;
    int colon = (int)(f->p - f->bol);
    if (f->line != key.line) return PF__YF_OUT;
    f->p++;
    pf__yf_spaces(f);
    c = pf__yf_ch(f);
    if (c == '\0' || c == '\n' || c == '#') {
      /* The value is a block collection on the next lines, or else null: an empty plain scalar
       * where libyaml puts it, right after the ":". */
      pf__yf_tok_t null = {.s = f->p, .line = key.line, .column = colon + 2, .style = PF_YSTYLE_PLAIN};
      pf__yf_next_line(f);
      rc = pf__yf_content(f);
      if (rc != 0) return rc;
      if (f->ind >= k && pf__yf_is_entry(f))
        rc = pf__yf_bseq(f, f->ind);
      else if (f->ind > k)
        rc = pf__yf_bmap(f, f->ind, NULL);
      else
        rc = pf__yf_emit(f, &null);
    } else {
      rc = pf__yf_inline(f);
    }
    if (rc != 0) return rc;
    /* A deeper line would continue a plain scalar (or be an error); a "-" at the keys' column
     * is an error. */
    if (f->ind < k) break;
    if (f->ind > k || pf__yf_is_entry(f) || pf__yf_key(f, false, &key) != 0) return PF__YF_OUT;
  }
  return pf__yb_close(f->b, f->line, 1);
}

/* Reads a block sequence whose "-" stand at indentation s, the cursor on the first. Returns with
 * the cursor on the next line with content past the sequence: 0 or non-zero. */
static int pf__yf_bseq(pf__yf_t *f, int s) {
  int rc = pf__yb_open(f->b, PF_YNODE_SEQUENCE, f->line, s + 1);
  for (;;) {
    if (rc != 0) return rc;
    f->p++;
    if (pf__yf_ch(f) != ' ') return PF__YF_OUT; /* "-" alone: the entry is on the next lines */
    pf__yf_spaces(f);
    char c = pf__yf_ch(f);
    if (c == '\0' || c == '\n' || c == '#' || pf__yf_is_entry(f)) return PF__YF_OUT;
    if (c == '[' || c == '{') {
      rc = pf__yf_inline(f);
    } else {
      /* A scalar, or the first key of a mapping that starts on the entry's line. */
      int m = (int)(f->p - f->bol);
      const char *ks = f->p;
      pf__yf_tok_t t;
      if (pf__yf_scalar(f, false, &t) != 0) return PF__YF_OUT;
      const char *after = f->p;
      pf__yf_spaces(f);
      if (pf__yf_ch(f) == ':') {
        if (f->p - ks > PF__YF_MAX_KEY) return PF__YF_OUT;
        rc = pf__yf_bmap(f, m, &t);
      } else {
        f->p = after;
        rc = pf__yf_emit(f, &t);
        if (rc == 0) rc = pf__yf_eol(f);
      }
    }
    if (rc != 0) return rc;
    if (f->ind < s) break;
    if (f->ind > s) return PF__YF_OUT;
    /* A line at the entries' column that is no entry ends the sequence: the parent mapping's
     * next key, when the sequence stands at that mapping's column; else the parent refuses it. */
    if (!pf__yf_is_entry(f)) break;
  }
  return pf__yb_close(f->b, f->line, 1);
}

/* 1 for an ASCII control character (or DEL) other than the line feed, else 0. */
static inline unsigned pf__yf_control(unsigned char c) {
  return ((unsigned char)(c - 0x20) > 0x5e) & (c != '\n') & (c < 0x80);
}

/* Returns true when text[0..len) is UTF-8 that libyaml reads without complaint, with no line
 * break but the line feed (NEL, LS and PS are breaks to YAML) and no tab, CR or byte order mark.
 * Sets *utf8 when any character is past ASCII. */
static bool pf__yf_printable(const char *text, size_t len, bool *utf8) {
  const unsigned char *s = (const unsigned char *)text;
  const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
  uint64_t high = 0;
  unsigned bad = 0;
  size_t i = 0;
  /* Eight bytes at a time: any byte below 0x20 or equal to 0x7f (exact tests for "any", from
   * Sean Anderson's bit hacks) sends the word to the byte loop, which lets the line feed pass. */
  for (; i + 8 <= len; i += 8) {
    uint64_t w, del;
    memcpy(&w, s + i, 8);
    high |= w & highs;
    del = w ^ (ones * 0x7f);
    if ((((w - ones * 0x20) & ~w) | ((del - ones) & ~del)) & highs)
      for (size_t j = i; j < i + 8; j++) bad |= pf__yf_control(s[j]);
  }
  for (; i < len; i++) {
    bad |= pf__yf_control(s[i]);
    high |= s[i] & 0x80;
  }
  *utf8 = high != 0;
  if (bad) return false;
  if (!high) return true;
  for (size_t at = 0; at < len;) {
    unsigned c = s[at];
    if (c < 0x80) {
      at++;
      continue;
    }
    size_t w = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (w == 0 || at + w > len) return false;
    unsigned v = c & (0xff >> (w + 1));
    for (size_t j = 1; j < w; j++) {
      if ((s[at + j] & 0xc0) != 0x80) return false;
      v = v << 6 | (s[at + j] & 0x3f);
    }
    if ((w == 3 && v < 0x800) || (w == 4 && (v < 0x10000 || v > 0x10ffff))) return false;
    /* Printable to libyaml, and not a break (0x85, 0x2028, 0x2029) or a BOM. */
    if (v < 0xa0 || (v >= 0xd800 && v <= 0xdfff) || v == 0x2028 || v == 0x2029 || v == 0xfeff ||
        v == 0xfffe || v == 0xffff)
      return false;
    at += w;
  }
  return true;
}

/* Reads the whole text, or declines; see yamlfast.h. */
int pf__yfast_parse(pf__ybuilder_t *b) {
  pf__yf_t f = {.b = b, .p = b->text, .end = b->text + b->len, .bol = b->text, .line = 1};
  if (!pf__yf_printable(b->text, b->len, &f.utf8)) return PF__YF_OUT;
  int rc = pf__yf_content(&f);
  /* The document's root: a block mapping or sequence at the first column. */
  if (rc != 0 || f.ind != 0) return PF__YF_OUT;
  if (pf__yf_is_entry(&f)) {
    rc = pf__yf_bseq(&f, 0);
  } else {
    pf__yf_tok_t t;
    if (pf__yf_key(&f, false, &t) != 0) return PF__YF_OUT;
    rc = pf__yf_bmap(&f, 0, &t);
  }
  if (rc != 0) return rc;
  return f.ind < 0 && b->root != NULL ? 0 : PF__YF_OUT;
}
