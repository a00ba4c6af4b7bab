/* The fast reader of the YAML subset that manifests are written in, for yamldoc.c. */
#ifndef PREFLIGHT_YAMLFAST_H
#define PREFLIGHT_YAMLFAST_H

#include "ytree.h"

/* Reads b->text into b's tree when the whole text keeps to the subset (see yamlfast.c), producing
 * exactly the tree libyaml's events would. Returns 0 with b->root set, or non-zero as soon as
 * anything is outside the subset or wrong: the caller then discards b and asks libyaml, which
 * also words every error. */
int pf__yfast_parse(pf__ybuilder_t *b) PF_MUST_CHECK;

#endif
