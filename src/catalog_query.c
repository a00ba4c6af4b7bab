/* The verification query's builder and its result-cell helpers: the bottom of the catalog
 * stack (catalog.c -> catalog_kinds.c -> here), calling neither of the files above it. */
#include "catalog_query.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reserves parameter $n for an array, returning its buffer. */
pf_buf_t *pf__qb_array(pf__qb_t *qb, int *n) {
  pf_buf_t *b = &qb->params[qb->nparams++];
  *n = qb->nparams;
  pf_buf_putc(b, '{');
  return b;
}

/* Array literals are the bulk of the query's bytes (a 32,000-item manifest sends ~1 MB), so
 * elements are appended in runs, not a character or a printf at a time. */
void pf_catalog_array_add(pf_buf_t *arr, const char *s) {
  if (arr->len > 1) pf_buf_putc(arr, ',');
  if (s == NULL) {
    pf_buf_append(arr, "NULL", 4);
    return;
  }
  pf_buf_putc(arr, '"');
  for (;;) {
    size_t run = strcspn(s, "\"\\");
    pf_buf_append(arr, s, run);
    s += run;
    if (*s == '\0') break;
    char esc[2] = {'\\', *s++};
    pf_buf_append(arr, esc, 2);
  }
  pf_buf_putc(arr, '"');
}

/* Appends an int element to an array literal. */
void pf__array_int(pf_buf_t *arr, size_t v) {
  char tmp[24];
  size_t n = sizeof(tmp);
  do {
    tmp[--n] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  if (arr->len > 1) tmp[--n] = ',';
  pf_buf_append(arr, tmp + n, sizeof(tmp) - n);
}

/* Starts a new UNION ALL branch. */
void pf__qb_branch(pf__qb_t *qb) {
  if (qb->branches++ > 0) pf_buf_puts(&qb->sql, "\nUNION ALL\n");
}

/* Appends `"schema"."name"` with identifier quoting, the form to_regprocedure reads exactly. */
void pf__quote_ident(pf_buf_t *b, const char *s) {
  pf_buf_putc(b, '"');
  for (; *s; s++) {
    if (*s == '"') pf_buf_putc(b, '"');
    pf_buf_putc(b, *s);
  }
  pf_buf_putc(b, '"');
}


/* Records a verdict for one item (takes ownership of nothing: strings are copied). */
void pf__set(pf_item_state_t *st, pf_obj_state_t state, const char *detail, const char *expected, const char *found) {
  st->state = state;
  free(st->detail);
  free(st->expected);
  free(st->found);
  st->detail = pf_xstrdup(detail);
  st->expected = pf_xstrdup(expected);
  st->found = pf_xstrdup(found);
}

/* Whether a cell holds boolean true, whether it was sent as bool ("t") or bool::text ("true"). */
bool pf__true(const char *v) { return v && (strcmp(v, "t") == 0 || strcmp(v, "true") == 0); }

/* Returns the text of a result cell, or NULL for SQL NULL. */
const char *pf__cell(PGresult *r, int row, int col) {
  return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}


void pf_catalog_type_mods(const char *type, char *out, size_t outlen) {
  size_t o = 0;
  const char *p = type ? strchr(type, '(') : NULL;
  if (outlen) out[0] = '\0';
  if (p == NULL) return;
  for (p++; *p && *p != ')'; p++) {
    if (isspace((unsigned char)*p)) continue;
    if (o + 1 < outlen) out[o++] = *p;
  }
  if (outlen) out[o < outlen ? o : outlen - 1] = '\0';
}
