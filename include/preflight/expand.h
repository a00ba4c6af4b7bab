/* ${VAR} and ${VAR:-default} expansion from the environment, applied by the manifest loader to
 * the scalar values under `database:` and `wait:` only (SQL text is never expanded). */
#ifndef PREFLIGHT_EXPAND_H
#define PREFLIGHT_EXPAND_H

#include <stddef.h>

#include "preflight/util.h"

/* The most bytes one expanded value may hold. Connection strings and durations are far shorter;
 * the bound keeps a manifest that repeats a large variable thousands of times from exhausting
 * memory (it is an error, 78, naming the value's line and column). */
#define PF_EXPAND_MAX 65536

/* Expands `in` into a new string in *out (the caller frees it). Recognised forms:
 *   ${VAR}            the variable's value, or "" when it is unset;
 *   ${VAR:-default}   the value if set and non-empty, else default (itself expanded);
 *   ${VAR-default}    the value if set (even empty), else default;
 *   $$                a literal "$".
 * A "$" followed by anything else is kept as is. An unterminated "${", an invalid variable name
 * ([A-Za-z_][A-Za-z0-9_]*), any other operator or a result over PF_EXPAND_MAX bytes is an error: returns PF_ECONFIG with the reason
 * in err, which never quotes the input (it may hold a password). */
int pf_expand_env(const char *in, char **out, char *err, size_t errlen) PF_MUST_CHECK;

#endif
