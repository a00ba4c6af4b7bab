/* Durations as the contract writes them: 250ms, 5s, 2m, 5min, 1h, a bare integer meaning
 * seconds, and sums such as 1m30s. */
#ifndef PREFLIGHT_DURATION_H
#define PREFLIGHT_DURATION_H

#include <stdint.h>

#include "preflight/util.h"

/* Parses `s` into milliseconds. Returns 0, or PF_ECONFIG with the reason in err (the caller adds
 * where the text came from). Rejects negative values, empty strings, unknown units and values
 * over ~24 days (they would overflow libuv's and PostgreSQL's millisecond settings). */
int pf_duration_parse(const char *s, int64_t *ms, char *err, size_t errlen) PF_MUST_CHECK;

/* Formats ms compactly for messages ("250ms", "5s", "1m30s") into buf; returns buf. */
const char *pf_duration_format(int64_t ms, char *buf, size_t buflen);

#endif
