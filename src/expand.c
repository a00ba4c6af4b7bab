/* ${VAR} and ${VAR:-default} expansion from the environment. */
#include "preflight/expand.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "preflight/error.h"

/* Defaults may themselves hold references (${A:-${B}}); the limit keeps a hostile manifest from
 * recursing deeply, and nobody nests defaults more than two or three levels on purpose. */
#define PF__EXPAND_MAX_DEPTH 8

/* Expands from *pp into out until the end of the string or, inside a default (in_default), until
 * an unmatched "}", where it stops without consuming it. `start` is the beginning of the whole
 * input, for offsets in messages. Returns 0 or PF_ECONFIG. */
static int pf__expand(const char **pp, const char *start, bool in_default, int depth,
                      pf_buf_t *out, char *err, size_t errlen) {
  const char *p = *pp;
  while (*p != '\0') {
    if (in_default && *p == '}') break;
    if (*p != '$' || (p[1] != '$' && p[1] != '{')) {
      pf_buf_putc(out, *p++);
      continue;
    }
    if (p[1] == '$') {
      pf_buf_putc(out, '$');
      p += 2;
      continue;
    }

    size_t at = (size_t)(p - start) + 1;
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
    const char *val = getenv(var);
    free(var);

    if (*p == '}') {
      if (val != NULL) pf_buf_puts(out, val);
      p++;
      continue;
    }
    bool colon = false;
    if (p[0] == ':' && p[1] == '-') {
      colon = true;
      p += 2;
    } else if (p[0] == '-') {
      p++;
    } else if (*p == '\0') {
      return pf_seterr(err, errlen, PF_ECONFIG, "unterminated \"${\" at character %zu", at);
    } else {
      return pf_seterr(err, errlen, PF_ECONFIG,
                       "invalid variable reference at character %zu (use ${NAME} or "
                       "${NAME:-default})", at);
    }
    if (depth >= PF__EXPAND_MAX_DEPTH)
      return pf_seterr(err, errlen, PF_ECONFIG,
                       "variable defaults nested too deeply at character %zu", at);

    pf_buf_t def = {0};
    int rc = pf__expand(&p, start, true, depth + 1, &def, err, errlen);
    if (rc == 0 && *p != '}')
      rc = pf_seterr(err, errlen, PF_ECONFIG, "unterminated \"${\" at character %zu", at);
    if (rc != 0) {
      pf_buf_free(&def);
      return rc;
    }
    p++;
    bool use_default = val == NULL || (colon && *val == '\0');
    if (use_default)
      pf_buf_append(out, def.data ? def.data : "", def.len);
    else
      pf_buf_puts(out, val);
    pf_buf_free(&def);
  }
  *pp = p;
  return 0;
}

/* Expands ${VAR} references in `in`; see expand.h. */
int pf_expand_env(const char *in, char **out, char *err, size_t errlen) {
  pf_buf_t b = {0};
  const char *p = in;
  int rc = pf__expand(&p, in, false, 0, &b, err, errlen);
  if (rc != 0) {
    pf_buf_free(&b);
    *out = NULL;
    return rc;
  }
  *out = pf_buf_steal(&b);
  return 0;
}
