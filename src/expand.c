/* ${VAR} and ${VAR:-default} expansion from the environment. */
#include "preflight/expand.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preflight/error.h"
#include "preflight/secretfile.h"

static bool pf__allow_unset;

void pf_expand_allow_unset(bool allow) { pf__allow_unset = allow; }

/* Looks up one variable for ${NAME}: the environment, else (when NAME is unset or empty) the file
 * NAME_FILE names. *val is NULL when neither exists; *owned holds what a file gave (the caller
 * frees it). Returns 0 or PF_ECONFIG (the file is unreadable or empty; err names both). */
static int pf__lookup(const char *name, const char **val, char **owned, char *err, size_t errlen) {
  *owned = NULL;
  *val = getenv(name);
  char fvar[300];
  snprintf(fvar, sizeof(fvar), "%s_FILE", name);
  const char *path = getenv(fvar);
  if ((*val == NULL || **val == '\0') && path != NULL) {
    int rc = pf_secretfile_read(fvar, path, owned, err, errlen);
    if (rc != 0 && pf__allow_unset) return 0;   /* lint: the secret is mounted at run time */
    if (rc != 0) return rc;
    *val = *owned;
  }
  return 0;
}

/* Defaults may themselves hold references (${A:-${B}}); the limit keeps a hostile manifest from
 * recursing deeply, and nobody nests defaults more than two or three levels on purpose. */
#define PF__EXPAND_MAX_DEPTH 8

/* Appends n bytes to out unless that would take it past PF_EXPAND_MAX; `at` (1-based) is the
 * character whose expansion is being appended, for the message. Checking before appending keeps
 * the memory of a hostile manifest (thousands of ${BIG} in one value) bounded by the limit, not
 * by the product of the references and the variable's size. Returns 0 or PF_ECONFIG. */
static int pf__put(pf_buf_t *out, const char *s, size_t n, size_t at, char *err, size_t errlen) {
  if (n > PF_EXPAND_MAX || out->len > PF_EXPAND_MAX - n)
    return pf_seterr(err, errlen, PF_ECONFIG,
                     "the value expands to more than %d bytes at character %zu (is a variable "
                     "referenced too often, or far larger than expected?)",
                     PF_EXPAND_MAX, at);
  pf_buf_append(out, s, n);
  return 0;
}

/* Expands from *pp into out until the end of the string or, inside a default (in_default), until
 * an unmatched "}", where it stops without consuming it. `start` is the beginning of the whole
 * input, for offsets in messages. A default that will not be used is still parsed, but with
 * `live` false: its variables are neither required nor read from files. Returns 0 or PF_ECONFIG. */
static int pf__expand(const char **pp, const char *start, bool in_default, bool live, int depth,
                      pf_buf_t *out, char *err, size_t errlen) {
  const char *p = *pp;
  while (*p != '\0') {
    if (in_default && *p == '}') break;
    size_t at = (size_t)(p - start) + 1;
    if (*p != '$' || (p[1] != '$' && p[1] != '{')) {
      if (pf__put(out, p, 1, at, err, errlen) != 0) return PF_ECONFIG;
      p++;
      continue;
    }
    if (p[1] == '$') {
      if (pf__put(out, "$", 1, at, err, errlen) != 0) return PF_ECONFIG;
      p += 2;
      continue;
    }

    p += 2;
    const char *name = p;
    if (!isalpha((unsigned char)*p) && *p != '_') {
      if (*p == '\0' || *p == '}')
        return pf_seterr(err, errlen, PF_ECONFIG,
                         *p == '\0' ? "unterminated \"${\" at character %zu"
                                    : "empty variable name in \"${}\" at character %zu",
                         at);
      return pf_seterr(err, errlen, PF_ECONFIG,
                       "invalid variable name after \"${\" at character %zu "
                       "(names are letters, digits and _, not starting with a digit)", at);
    }
    while (isalnum((unsigned char)*p) || *p == '_') p++;
    char *var = pf_xstrndup(name, (size_t)(p - name));
    const char *val = NULL;
    char *owned = NULL;
    if (live && pf__lookup(var, &val, &owned, err, errlen) != 0) {
      free(var);
      return PF_ECONFIG;
    }

    if (*p == '}') {
      if (live && val == NULL && !pf__allow_unset) {
        int rc = pf_seterr(err, errlen, PF_ECONFIG,
                           "%s is not set (nor %s_FILE) for \"${%s}\" at character %zu; set it, or give a default "
                           "with ${%s:-default}",
                           var, var, var, at, var);
        free(var);
        return rc;
      }
      free(var);
      int rc = val != NULL ? pf__put(out, val, strlen(val), at, err, errlen) : 0;
      free(owned);
      if (rc != 0) return PF_ECONFIG;
      p++;
      continue;
    }
    free(var);
    bool colon = false;
    if (p[0] == ':' && p[1] == '-') {
      colon = true;
      p += 2;
    } else if (p[0] == '-') {
      p++;
    } else if (*p == '\0') {
      free(owned);
      return pf_seterr(err, errlen, PF_ECONFIG, "unterminated \"${\" at character %zu", at);
    } else {
      free(owned);
      return pf_seterr(err, errlen, PF_ECONFIG,
                       "invalid variable reference at character %zu (use ${NAME} or "
                       "${NAME:-default})", at);
    }
    if (depth >= PF__EXPAND_MAX_DEPTH) {
      free(owned);
      return pf_seterr(err, errlen, PF_ECONFIG,
                       "variable defaults nested too deeply at character %zu", at);
    }

    bool use_default = val == NULL || (colon && *val == '\0');
    pf_buf_t def = {0};
    int rc = pf__expand(&p, start, true, live && use_default, depth + 1, &def, err, errlen);
    if (rc == 0 && *p != '}')
      rc = pf_seterr(err, errlen, PF_ECONFIG, "unterminated \"${\" at character %zu", at);
    if (rc != 0) {
      pf_buf_free(&def);
      free(owned);
      return rc;
    }
    p++;
    if (use_default)
      rc = pf__put(out, def.data ? def.data : "", def.len, at, err, errlen);
    else
      rc = pf__put(out, val, strlen(val), at, err, errlen);
    pf_buf_free(&def);
    free(owned);
    if (rc != 0) return rc;
  }
  *pp = p;
  return 0;
}

/* Expands ${VAR} references in `in`; see expand.h. */
int pf_expand_env(const char *in, char **out, char *err, size_t errlen) {
  pf_buf_t b = {0};
  const char *p = in;
  /* Syntax first, with nothing looked up, so that a malformed reference is reported as such
   * even when an earlier variable is missing. */
  int rc = pf__expand(&p, in, false, false, 0, &b, err, errlen);
  pf_buf_free(&b);
  p = in;
  if (rc == 0) rc = pf__expand(&p, in, false, true, 0, &b, err, errlen);
  if (rc != 0) {
    pf_buf_free(&b);
    *out = NULL;
    return rc;
  }
  *out = pf_buf_steal(&b);
  return 0;
}
