/* The items of a manifest, one layer above the tables (manifest_keys.h): manifest.c hands each
 * kind's list to this file. Not a public API. */
#ifndef PREFLIGHT_MANIFEST_ITEMS_H
#define PREFLIGHT_MANIFEST_ITEMS_H

#include "manifest_read.h"

/* Returns how many items (columns included) the list under a kind's key holds. */
size_t pf_mitems_count(pf_kind_t kind, const pf_ynode_t *list);

/* Parses the list under a kind's key (tables:, views:, ...) and appends its items. */
int pf_mitems_parse(pf__mctx_t *c, pf_kind_t kind, const pf_ynode_t *list) PF_MUST_CHECK;

#endif
