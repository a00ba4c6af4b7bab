/* Password redaction for anything that may contain a connection string. */
#ifndef PREFLIGHT_REDACT_H
#define PREFLIGHT_REDACT_H

#include <stdbool.h>
#include <stddef.h>

/* Returns a newly allocated copy of `text` in which every password written in connection-string
 * form is replaced by "***": the userinfo password of a URL (postgresql://user:SECRET@host, the
 * secret running to the last '@' of the URL, so unencoded '/', '?', '#', '%' and '@' in it are
 * covered), and the value of a `password=` key in key=value strings (quoted or not) and URL query
 * strings. */
char *pf_redact(const char *text);

/* Returns the passwords a connection string holds, read structurally as pf_redact reads them
 * and whether or not libpq can parse the string: each as written and as libpq would decode it
 * (%XX, quotes). A NULL-terminated list, or NULL when there is none; free it with
 * pf_redact_passwords_free. */
char **pf_redact_passwords(const char *conninfo);
void pf_redact_passwords_free(char **list);

/* Whether a secret is distinctive enough to be replaced wherever it occurs in output: at least 16
 * bytes, or at least 5 mixing letters with other characters. Replacing "database" or "12345"
 * everywhere would turn "database ready" into "*** ready" and mangle timings; such secrets rely
 * on the structural redaction alone. */
bool pf_redact_distinctive(const char *secret);

/* Returns a copy of msg with every double-quoted token replaced by "***": for libpq's messages
 * about a connection string it could not parse, which quote the offending fragment (possibly a
 * piece of the password). */
char *pf_redact_quoted(const char *msg);

/* Returns a newly allocated copy of `text` with every occurrence of `secret` replaced by "***".
 * NULL or an empty secret returns a plain copy. */
char *pf_redact_secret(const char *text, const char *secret);

#endif
