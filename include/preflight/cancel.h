/* A query cancel that cannot hang: libpq's PQcancel, bounded by a deadline. */
#ifndef PREFLIGHT_CANCEL_H
#define PREFLIGHT_CANCEL_H

#include <libpq-fe.h>
#include <stdbool.h>

/* Asks the server to cancel conn's running query, waiting at most timeout_ms for the request to
 * be delivered. Returns true when the server took the request in time, false when it failed or
 * the deadline passed (the request is then abandoned, still in flight; nothing of it touches
 * conn, which the caller may close at once). */
bool pf_cancel_bounded(PGconn *conn, int timeout_ms);

#endif
