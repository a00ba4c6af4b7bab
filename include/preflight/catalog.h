/* Verification: is every object of the manifest in the live catalog, as declared?
 *
 * All catalog objects are verified by ONE query, whatever the manifest's size: each kind
 * contributes a branch that unnests parameter arrays and joins pg_catalog by exact name. Free
 * checks add one more round trip for all of them together. information_schema is never used: it
 * hides objects the connected role cannot read, and they still exist. */
#ifndef PREFLIGHT_CATALOG_H
#define PREFLIGHT_CATALOG_H

#include <stdbool.h>

#include "preflight/db.h"
#include "preflight/manifest.h"

typedef enum {
  PF_OBJ_PRESENT = 0,
  PF_OBJ_MISSING,     /* does not exist */
  PF_OBJ_MISMATCH,    /* exists, but not as declared (type, nullability, kind, ...) */
} pf_obj_state_t;

typedef struct {
  pf_obj_state_t state;
  char *detail;       /* NULL when present; else why, in one line */
  char *expected;     /* for a mismatch: what the manifest says */
  char *found;        /* for a mismatch: what the catalog says */
} pf_item_state_t;

typedef struct {
  size_t nitems;
  pf_item_state_t *items;     /* parallel to pf_manifest_t.items */
  size_t missing_required;    /* not present, severity error */
  size_t missing_warn;        /* not present, severity warn */
  int round_trips;            /* queries sent by this verification */
} pf_verify_t;

/* Verifies every item of m. in_txn says whether a transaction is open (the fallback's): free
 * checks then run under a savepoint, otherwise in a READ ONLY transaction so that a check can
 * never write. Returns 0 and fills *v (free with pf_verify_free), or PF_EDB / PF_ESIGNAL, or
 * PF_ECONFIG when PostgreSQL rejects a type or signature written in the manifest (err names the
 * item's line). */
int pf_catalog_verify(pf_db_t *db, const pf_manifest_t *m, bool in_txn, pf_verify_t *v,
                      char *err, size_t errlen) PF_MUST_CHECK;

void pf_verify_free(pf_verify_t *v);

/* Extracts the numeric type modifiers of a type name, normalised without spaces: "varchar(255)"
 * gives "255", "numeric(10, 2)" gives "10,2", "timestamp(3) with time zone" gives "3", "text"
 * gives "". Pure: compared against format_type()'s output to match lengths and precisions. */
void pf_catalog_type_mods(const char *type, char *out, size_t outlen);

/* Appends a PostgreSQL array literal element for s (quoted and escaped; NULL as NULL). */
void pf_catalog_array_add(pf_buf_t *arr, const char *s);

/* Compares dotted version strings numerically ("1.10" > "1.9"): <0, 0 or >0. Pure. */
int pf_catalog_version_cmp(const char *a, const char *b);

#endif
