/* Password redaction for anything that may contain a connection string. */
#ifndef PREFLIGHT_REDACT_H
#define PREFLIGHT_REDACT_H

#include <stddef.h>

/* Returns a newly allocated copy of `text` in which every password written in connection-string
 * form is replaced by "***": the userinfo of a URL (postgresql://user:SECRET@host), and the value
 * of a `password=` key in key=value strings (quoted or not) and URL query strings. */
char *pf_redact(const char *text);

/* Returns a newly allocated copy of `text` with every occurrence of `secret` replaced by "***".
 * NULL or an empty secret returns a plain copy. */
char *pf_redact_secret(const char *text, const char *secret);

#endif
