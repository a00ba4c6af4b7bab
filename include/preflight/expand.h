/* ${VAR} and ${VAR:-default} expansion from the environment, applied by the manifest loader to
 * the scalar values under `database:` and `wait:` only (SQL text is never expanded). */
#ifndef PREFLIGHT_EXPAND_H
#define PREFLIGHT_EXPAND_H

#include <stdbool.h>
#include <stddef.h>

#include "preflight/util.h"

/* The most bytes one expanded value may hold. Connection strings and durations are far shorter;
 * the bound keeps a manifest that repeats a large variable thousands of times from exhausting
 * memory (it is an error, 78, naming the value's line and column). */
#define PF_EXPAND_MAX 65536

/* Expands `in` into a new string in *out (the caller frees it). Recognised forms:
 *   ${VAR}            the variable's value; an error when it is unset (see below);
 *   ${VAR:-default}   the value if set and non-empty, else default (itself expanded);
 *   ${VAR-default}    the value if set (even empty), else default;
 *   $$                a literal "$".
 * A "$" followed by anything else is kept as is. An unterminated "${", an invalid variable name
 * ([A-Za-z_][A-Za-z0-9_]*), any other operator or a result over PF_EXPAND_MAX bytes is an error: returns PF_ECONFIG with the reason
 * in err, which never quotes the input (it may hold a password). */
int pf_expand_env(const char *in, char **out, char *err, size_t errlen) PF_MUST_CHECK;
/*
 * A variable that is unset or empty while VAR_FILE is set takes that file's contents (trailing
 * newlines dropped; the Docker/Kubernetes secrets convention); an unreadable or empty file is an
 * error naming both variables' names and the file, never its contents. ${VAR} with neither VAR
 * nor VAR_FILE set is an error naming VAR (a typo or a missing secret would otherwise be waited
 * for as libpq's default socket), unless pf_expand_allow_unset(true) was called: then it expands
 * to "". Defaults that are not used are parsed but never looked up. */

/* Lets ${VAR} of an unset VAR expand to "" instead of failing: `preflight lint` checks a
 * manifest offline, where the deployment's variables and secrets are usually absent. */
void pf_expand_allow_unset(bool allow);

#endif
