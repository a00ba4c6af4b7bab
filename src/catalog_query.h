/* The bottom of the verification stack: building the one query (SQL text plus parameter arrays
 * rendered as literals) and reading its result cells. Used by the per-kind branches and judges
 * (catalog_kinds.c) and by the driver (catalog.c); it calls neither, so the three files form a
 * one-way stack: catalog.c -> catalog_kinds.c -> catalog_query.c. Not part of any public header. */
#ifndef PREFLIGHT_CATALOG_QUERY_H
#define PREFLIGHT_CATALOG_QUERY_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "preflight/catalog.h"

#define PF__MAX_PARAMS 128

/* The query under construction: SQL text plus parameters (arrays rendered as literals). */
typedef struct {
  pf_buf_t sql;
  pf_buf_t params[PF__MAX_PARAMS];
  int nparams;
  int branches;
} pf__qb_t;

/* Reserves the next parameter for an array literal and returns its buffer ("{" written);
 * *n receives the parameter's number ($n). */
pf_buf_t *pf__qb_array(pf__qb_t *qb, int *n);
/* Starts a new UNION ALL branch. */
void pf__qb_branch(pf__qb_t *qb);
/* Appends an int element to an array literal. */
void pf__array_int(pf_buf_t *arr, size_t v);
/* Appends "s" with identifier quoting. */
void pf__quote_ident(pf_buf_t *b, const char *s);

/* Records a verdict for one item (strings are copied). */
void pf__set(pf_item_state_t *st, pf_obj_state_t state, const char *detail, const char *expected, const char *found);
/* Whether a cell holds boolean true, sent as bool ("t") or bool::text ("true"). */
bool pf__true(const char *v);
/* The text of a result cell, or NULL for SQL NULL. */
const char *pf__cell(PGresult *r, int row, int col);

#endif
