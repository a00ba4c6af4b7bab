/* Internal interface of the per-kind query branches and judges (catalog_kinds.c), used by the
 * verification driver (catalog.c). Both build on catalog_migrations.h and catalog_query.h;
 * catalog_kinds.c never calls into catalog.c. Not part of any public header. */
#ifndef PREFLIGHT_CATALOG_INT_H
#define PREFLIGHT_CATALOG_INT_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "preflight/catalog.h"
#include "catalog_migrations.h"
#include "catalog_query.h"

/* One kind's part of the verification query. `branch` appends a UNION ALL branch (or nothing
 * when the manifest has no item of its kinds); every branch returns the columns
 * (i int, present bool, a, b, c, d, e, f text). `judge` reads the attribute columns of a row
 * whose object exists and sets the item's state. */
typedef struct {
  void (*branch)(pf__qb_t *qb, const pf_manifest_t *m);
  void (*judge)(const pf_manifest_t *m, const pf_item_t *it, PGresult *r, int row, pf_item_state_t *st);
  /* For a kind whose rows are not one per item (columns: every column of the relations named),
   * judges all its items from the whole result, after the per-item rows. Rows that belong to no
   * item have a NULL or negative i. */
  void (*judge_all)(const pf_manifest_t *m, const pf__qb_t *qb, PGresult *r, pf_verify_t *v);
} pf__kind_ops_t;

/* Indexed by pf_kind_t; entries with a NULL branch are verified elsewhere (columns ride with
 * their own branch too, checks run in their own round trip). */
extern const pf__kind_ops_t pf__kind_ops[PF_KIND__COUNT];

/* Fills in why a grant is missing: its role or its object does not exist. */
void pf__grant_missing_detail(const pf_item_t *it, PGresult *r, int row, pf_item_state_t *st);


#endif
