/* The fallback SQL lexer (see sqllex.h). One pass over the bytes; everything that is not a word,
 * a semicolon or a parenthesis is skipped as a unit (strings, quoted identifiers, dollar quotes,
 * comments), so nothing inside them can end a statement or look like a keyword. */
#include "preflight/sqllex.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preflight/error.h"
#include "preflight/util.h"

#define PF__LEX_WORDS 4   /* leading words kept per statement: enough for "create or replace function" */

typedef struct {
  size_t start, end;
  char words[PF__LEX_WORDS][16];   /* lower case; "" for a quoted identifier or a longer word */
  size_t word_at[PF__LEX_WORDS];
  int nwords;
} pf__lex_stmt_t;

/* Bytes that continue an identifier: letters, digits, _, $ and anything non-ASCII. */
static bool pf__ident_char(unsigned char c) { return isalnum(c) || c == '_' || c == '$' || c >= 0x80; }
static bool pf__ident_start(unsigned char c) { return isalpha(c) || c == '_' || c >= 0x80; }

/* Skips a string body from just after its opening quote; backslash escapes when `escapes`.
 * Returns the index just after the closing quote (or the end). */
static size_t pf__skip_string(const char *s, size_t i, size_t n, bool escapes) {
  while (i < n) {
    if (escapes && s[i] == '\\' && i + 1 < n) {
      i += 2;
      continue;
    }
    if (s[i] == '\'') {
      if (i + 1 < n && s[i + 1] == '\'') {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return n;
}

/* Skips a quoted identifier body from just after its opening double quote. */
static size_t pf__skip_qident(const char *s, size_t i, size_t n) {
  while (i < n) {
    if (s[i] == '"') {
      if (i + 1 < n && s[i + 1] == '"') {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return n;
}

/* At s[i] == '$' (not inside a word): skips a dollar-quoted string, a $1 parameter or a lone $.
 * Returns the index after it. */
static size_t pf__skip_dollar(const char *s, size_t i, size_t n) {
  size_t j = i + 1;
  if (j < n && isdigit((unsigned char)s[j])) {
    while (j < n && isdigit((unsigned char)s[j])) j++;
    return j;
  }
  if (j < n && pf__ident_start((unsigned char)s[j]))
    while (j < n && pf__ident_char((unsigned char)s[j]) && s[j] != '$') j++;
  if (j >= n || s[j] != '$') return i + 1;
  size_t taglen = j - i + 1;   /* "$tag$" */
  const char *tag = s + i;
  for (size_t k = j + 1; k + taglen <= n; k++)
    if (s[k] == '$' && memcmp(s + k, tag, taglen) == 0) return k + taglen;
  return n;
}

/* Skips a block comment from its opening slash-star; they nest in PostgreSQL. */
static size_t pf__skip_block_comment(const char *s, size_t i, size_t n) {
  int depth = 0;
  while (i < n) {
    if (s[i] == '/' && i + 1 < n && s[i + 1] == '*') {
      depth++;
      i += 2;
    } else if (s[i] == '*' && i + 1 < n && s[i + 1] == '/') {
      i += 2;
      if (--depth == 0) return i;
    } else {
      i++;
    }
  }
  return n;
}

/* Whether the statement's leading words are CREATE [OR REPLACE] FUNCTION|PROCEDURE. */
static bool pf__is_create_routine(const pf__lex_stmt_t *st) {
  const char(*w)[16] = st->words;
  if (st->nwords < 2 || strcmp(w[0], "create") != 0) return false;
  if (strcmp(w[1], "function") == 0 || strcmp(w[1], "procedure") == 0) return true;
  return st->nwords >= 4 && strcmp(w[1], "or") == 0 && strcmp(w[2], "replace") == 0 &&
         (strcmp(w[3], "function") == 0 || strcmp(w[3], "procedure") == 0);
}

/* Scans sql into statements (with their leading words). Returns the count; *out is new. */
static size_t pf__lex(const char *s, pf__lex_stmt_t **out) {
  size_t n = strlen(s), cap = 0, count = 0, i = 0;
  pf__lex_stmt_t *v = NULL, cur;
  memset(&cur, 0, sizeof(cur));
  bool open = false;
  int paren = 0, begin_depth = 0;
  while (i < n) {
    unsigned char c = (unsigned char)s[i];
    if (isspace(c)) {
      i++;
      continue;
    }
    if (c == '-' && i + 1 < n && s[i + 1] == '-') {
      while (i < n && s[i] != '\n') i++;
      continue;
    }
    if (c == '/' && i + 1 < n && s[i + 1] == '*') {
      i = pf__skip_block_comment(s, i, n);
      continue;
    }
    if (c == ';' && paren == 0 && begin_depth == 0) {
      if (open) {
        cur.end = i;
        if (count == cap) v = pf_xrealloc(v, (cap = cap ? cap * 2 : 8) * sizeof(*v));
        v[count++] = cur;
      }
      memset(&cur, 0, sizeof(cur));
      open = false;
      i++;
      continue;
    }
    if (!open) {
      open = true;
      cur.start = i;
    }
    if (c == '\'') {
      i = pf__skip_string(s, i + 1, n, false);
    } else if (c == '"') {
      if (cur.nwords < PF__LEX_WORDS) cur.word_at[cur.nwords] = i, cur.words[cur.nwords++][0] = '\0';
      i = pf__skip_qident(s, i + 1, n);
    } else if (c == '$') {
      i = pf__skip_dollar(s, i, n);
    } else if (pf__ident_start(c)) {
      size_t j = i;
      while (j < n && pf__ident_char((unsigned char)s[j])) j++;
      if (j - i == 1 && (c == 'E' || c == 'e') && j < n && s[j] == '\'') {
        i = pf__skip_string(s, j + 1, n, true);
        continue;
      }
      char w[16] = "";
      if (j - i < sizeof(w))
        for (size_t k = 0; k < j - i; k++) w[k] = (char)tolower((unsigned char)s[i + k]);
      if (cur.nwords < PF__LEX_WORDS) {
        cur.word_at[cur.nwords] = i;
        memcpy(cur.words[cur.nwords++], w, sizeof(w));
      }
      /* SQL-standard routine bodies: BEGIN ATOMIC ... END, with CASE ... END inside. */
      if (strcmp(w, "begin") == 0 && paren == 0 && pf__is_create_routine(&cur))
        begin_depth++;
      else if (strcmp(w, "case") == 0 && begin_depth > 0)
        begin_depth++;
      else if (strcmp(w, "end") == 0 && begin_depth > 0)
        begin_depth--;
      i = j;
    } else {
      if (c == '(') paren++;
      else if (c == ')' && paren > 0) paren--;
      i++;
    }
  }
  if (open) {
    cur.end = n;
    while (cur.end > cur.start && isspace((unsigned char)s[cur.end - 1])) cur.end--;
    if (count == cap) v = pf_xrealloc(v, (cap = cap ? cap * 2 : 8) * sizeof(*v));
    v[count++] = cur;
  }
  *out = v;
  return count;
}

size_t pf_sqllex_split(const char *sql, pf_sqllex_stmt_t **out) {
  pf__lex_stmt_t *v;
  size_t n = pf__lex(sql, &v);
  *out = NULL;
  if (n == 0) {
    free(v);
    return 0;
  }
  *out = pf_xcalloc(n, sizeof(**out));
  for (size_t i = 0; i < n; i++) (*out)[i].start = v[i].start, (*out)[i].end = v[i].end;
  free(v);
  return n;
}

/* Returns the upper-case name of the transaction control that statement st is, or NULL. */
static const char *pf__txn_word(const pf__lex_stmt_t *st) {
  if (st->nwords == 0) return NULL;
  const char *w0 = st->words[0], *w1 = st->nwords > 1 ? st->words[1] : "";
  static const char *const single[] = {"begin", "commit", "end", "rollback", "abort", "savepoint", "release"};
  static const char *const upper[] = {"BEGIN", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE"};
  if (strcmp(w0, "start") == 0 && strcmp(w1, "transaction") == 0) return "START TRANSACTION";
  if (strcmp(w0, "prepare") == 0 && strcmp(w1, "transaction") == 0) return "PREPARE TRANSACTION";
  if (strcmp(w1, "prepared") == 0 && strcmp(w0, "commit") == 0) return "COMMIT PREPARED";
  if (strcmp(w1, "prepared") == 0 && strcmp(w0, "rollback") == 0) return "ROLLBACK PREPARED";
  for (size_t k = 0; k < PF_ARRAY_SIZE(single); k++)
    if (strcmp(w0, single[k]) == 0) return upper[k];
  return NULL;
}

/* Returns the upper-case name of a statement PostgreSQL refuses inside a transaction block
 * (CREATE INDEX CONCURRENTLY, VACUUM, CREATE DATABASE, ...), or NULL. */
static const char *pf__nontxn_word(const pf__lex_stmt_t *st) {
  const char(*w)[16] = st->words;
  int n = st->nwords;
#define PF__W(i, s) (n > (i) && strcmp(w[i], s) == 0)
  if (PF__W(0, "create") && ((PF__W(1, "index") && PF__W(2, "concurrently")) ||
                             (PF__W(1, "unique") && PF__W(2, "index") && PF__W(3, "concurrently"))))
    return "CREATE INDEX CONCURRENTLY";
  if (PF__W(0, "drop") && PF__W(1, "index") && PF__W(2, "concurrently")) return "DROP INDEX CONCURRENTLY";
  if (PF__W(0, "reindex") && (PF__W(1, "concurrently") || PF__W(2, "concurrently") || PF__W(3, "concurrently")))
    return "REINDEX CONCURRENTLY";
  if (PF__W(0, "vacuum")) return "VACUUM";
  if ((PF__W(0, "create") || PF__W(0, "drop")) && PF__W(1, "database")) return PF__W(0, "create") ? "CREATE DATABASE" : "DROP DATABASE";
  if ((PF__W(0, "create") || PF__W(0, "drop")) && PF__W(1, "tablespace"))
    return PF__W(0, "create") ? "CREATE TABLESPACE" : "DROP TABLESPACE";
  if (PF__W(0, "alter") && PF__W(1, "system")) return "ALTER SYSTEM";
#undef PF__W
  return NULL;
}

/* Finds the first statement that `classify` names; see the two public finders. */
static bool pf__find(const char *sql, const char *(*classify)(const pf__lex_stmt_t *), size_t *offset, char *what,
                     size_t whatlen) {
  pf__lex_stmt_t *v;
  size_t n = pf__lex(sql, &v);
  bool found = false;
  for (size_t i = 0; i < n && !found; i++) {
    const char *w = classify(&v[i]);
    if (w == NULL) continue;
    found = true;
    *offset = v[i].word_at[0];
    snprintf(what, whatlen, "%s", w);
  }
  free(v);
  return found;
}

bool pf_sqllex_find_nontxn(const char *sql, size_t *offset, char *what, size_t whatlen) {
  return pf__find(sql, pf__nontxn_word, offset, what, whatlen);
}

bool pf_sqllex_find_txn_control(const char *sql, size_t *offset, char *what, size_t whatlen) {
  return pf__find(sql, pf__txn_word, offset, what, whatlen);
}

int pf_sqllex_check_sql(const char *sql, const char *file, int first_line, const char *where, char *err,
                        size_t errlen) {
  size_t off;
  char what[32];
  if (sql == NULL) return 0;
  bool control = pf_sqllex_find_txn_control(sql, &off, what, sizeof(what));
  if (!control && !pf_sqllex_find_nontxn(sql, &off, what, sizeof(what))) return 0;
  int line = first_line, col = 1;
  for (size_t k = 0; k < off; k++) {
    if (sql[k] == '\n') line++, col = 1;
    else if (((unsigned char)sql[k] & 0xC0) != 0x80) col++;
  }
  if (!control)
    return pf_seterr(err, errlen, PF_ECONFIG,
                     "%s:%d:%d: %s: %s cannot run inside a transaction block, and this SQL runs in preflight's "
                     "transaction; set transaction: false on the item",
                     file, line, col, where, what);
  return pf_seterr(err, errlen, PF_ECONFIG,
                   "%s:%d:%d: %s: %s: transaction control is not allowed in SQL that runs in preflight's "
                   "transaction (it would commit part of the repair, or release the replica-wide lock, behind "
                   "preflight's back); remove it, or set transaction: false on the item",
                   file, line, col, where, what);
}

int pf_sqllex_check_item(const pf_item_t *it, const char *manifest_path, const char *where, char *err,
                         size_t errlen) {
  if (it->fallback == NULL || !it->transaction) return 0;
  return pf_sqllex_check_sql(it->fallback, it->fallback_file ? it->fallback_path : manifest_path, it->fallback_line,
                             where, err, errlen);
}
