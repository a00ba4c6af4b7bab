/* Logging to stderr, never stdout (stdout belongs to the application).
 *
 * Text format: "preflight: <message>". JSON format: one object per line with ts, level, msg and any
 * extra fields the caller passes. Every line is scrubbed of the secrets registered with
 * pf_log_secret() and of passwords in conninfo form before it is written, so no module has to
 * remember to redact what it prints. */
#ifndef PREFLIGHT_LOG_H
#define PREFLIGHT_LOG_H

#include <stdarg.h>

#include "preflight/util.h"

typedef enum { PF_LOG_ERROR = 0, PF_LOG_WARN = 1, PF_LOG_INFO = 2, PF_LOG_DEBUG = 3 } pf_log_level_t;
typedef enum { PF_LOG_TEXT = 0, PF_LOG_JSON = 1 } pf_log_format_t;

void pf_log_setup(pf_log_format_t format, pf_log_level_t level);
pf_log_format_t pf_log_format(void);
pf_log_level_t pf_log_level(void);

/* Registers a string (a password) that must never appear in any output; it is replaced by "***"
 * wherever it occurs, also in its JSON-escaped form. Secrets that are not distinctive
 * (pf_redact_distinctive: "database", "12345") are not registered: replacing them everywhere
 * would mangle ordinary words and numbers, and they rely on the structural redaction of
 * connection strings instead. */
void pf_log_secret(const char *secret);
/* Registers every password the connection string holds, read structurally (pf_redact_passwords)
 * whether or not libpq can parse it. */
void pf_log_conninfo(const char *conninfo);
void pf_log_secrets_clear(void);

/* Returns a newly allocated copy of text scrubbed exactly as log lines are: for every other
 * output channel (the report, check --format json, the health endpoint's answers). */
char *pf_log_scrub(const char *text);

/* Writes what is still buffered (lines stderr did not take at once), waiting at most timeout_ms;
 * call before exiting or exec-ing. Lines that still do not fit are lost. */
void pf_log_flush(int timeout_ms);

/* The number of lines dropped since the last "lines dropped" notice. */
unsigned long pf_log_dropped(void);

/* Writes one log line. `fields` is NULL or a JSON object body without braces, such as
 * "\"attempt\":3,\"delay_ms\":100", added to JSON lines and ignored in text format (the message
 * must therefore say everything a person needs). */
void pf_log_fields(pf_log_level_t level, const char *fields, const char *fmt, ...) PF_PRINTF(3, 4);
void pf_log_v(pf_log_level_t level, const char *fields, const char *fmt, va_list ap) PF_PRINTF(3, 0);

/* The last message logged at error level, redacted, without the "preflight: " prefix; NULL when
 * there was none. main.c copies it to Kubernetes' termination log (termlog.h). */
const char *pf_log_last_error(void);

/* Writes one error line holding msg (a fixed sentence without characters JSON would escape)
 * using only async-signal-safe calls; for signal handlers. */
void pf_log_signal_safe(const char *msg);

#define pf_log_error(...) pf_log_fields(PF_LOG_ERROR, NULL, __VA_ARGS__)
#define pf_log_warn(...)  pf_log_fields(PF_LOG_WARN, NULL, __VA_ARGS__)
#define pf_log_info(...)  pf_log_fields(PF_LOG_INFO, NULL, __VA_ARGS__)
#define pf_log_debug(...) pf_log_fields(PF_LOG_DEBUG, NULL, __VA_ARGS__)

#endif
