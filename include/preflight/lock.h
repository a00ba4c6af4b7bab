/* The replica-wide lock: every write preflight makes or starts (fallbacks in and out of a
 * transaction, the migration command) happens while this is held, so replicas that share a
 * lock_key do it once at a time.
 *
 * The lock is pg_advisory_xact_lock(pf_lock_id(lock_key)) held in an open transaction on a
 * DEDICATED connection that does nothing else: READ COMMITTED, no catalog read, no snapshot kept
 * once the lock statement has returned. That is what lets a CREATE INDEX CONCURRENTLY or a
 * migration's ALTER TABLE run on other connections while we hold it: they wait for transactions
 * that hold a snapshot or a table lock, and ours holds neither. Being transaction-scoped, it works
 * through a transaction-pooling PgBouncer (the open transaction pins one server connection), and
 * it ends with the transaction: pf_lock_release, or the server noticing that our socket closed
 * (exit, crash, kill -9).
 *
 * Waiting never keeps a snapshot either: pg_try_advisory_xact_lock is polled, each attempt in a
 * transaction of its own that is rolled back when the lock is busy, so a lock holder's
 * CREATE INDEX CONCURRENTLY never waits on a replica that waits on it. The wait is bounded; when
 * it ends, the error names the lock key and, as far as pg_locks/pg_stat_activity tell, the
 * holder's pid, application_name, client address and since when it holds it.
 *
 * How to use it (the gate, a migration, the fallbacks):
 *
 *     pf_lock_t *lock = NULL;
 *     pf_lock_opts_t lo = {.conninfo = url, .lock_key = m->lock_key,
 *                          .connect_timeout_ms = m->connect_timeout_ms, .wait_ms = budget,
 *                          .purpose = "the migration"};
 *     r = pf_lock_acquire(loop, &lo, &lock, err, errlen);     // PF_ELOCKWAIT, PF_EDB, PF_ESIGNAL
 *     if (r != 0) return r;                                   // nothing is held
 *     ... verify again on the MAIN connection (someone may have finished while we waited) ...
 *     ... run the child process / the fallbacks on the main connection ...
 *     r = pf_lock_check(lock, err, errlen);                   // before committing what you did:
 *                                                             // is the lock still ours?
 *     ... verify ...
 *     pf_lock_release(lock);                                  // always, on every path
 *
 * Never run a query of your own on the lock's connection: anything besides the lock statement
 * would keep locks or a snapshot that other sessions' DDL then waits on. The main connection
 * (pf_db_t of the gate) is where every other query goes. */
#ifndef PREFLIGHT_LOCK_H
#define PREFLIGHT_LOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "preflight/util.h"

typedef struct pf_lock pf_lock_t;

typedef struct {
  const char *conninfo;        /* the connection string the main session used (NULL: PG* defaults) */
  const char *lock_key;        /* fallback.lock_key */
  int64_t connect_timeout_ms;  /* for the lock connection's one connection attempt (0 = none) */
  int64_t wait_ms;             /* how long to wait while another session holds it (0 = no limit) */
  const char *purpose;         /* for log lines: "the fallbacks", "the migration" (NULL: "repairs") */
} pf_lock_opts_t;

/* Opens the lock connection, begins its transaction and waits (at most o->wait_ms) until the
 * advisory lock is ours. Runs the loop, so signals are honoured while waiting. Returns 0 with
 * *out set, or, with nothing held and *out NULL: PF_ELOCKWAIT (the wait ended; err names the key
 * and the holder), PF_EDB (the lock connection failed; err says why), PF_EAUTH, PF_ESIGNAL. */
int pf_lock_acquire(uv_loop_t *loop, const pf_lock_opts_t *o, pf_lock_t **out, char *err,
                    size_t errlen) PF_MUST_CHECK;

/* Confirms, with one round trip on the lock connection, that the lock is still held (the
 * connection is alive and its transaction open). Call it before committing work done under the
 * lock. Returns 0, PF_EDB with err (the lock is lost: another replica may be running), or
 * PF_ESIGNAL. */
int pf_lock_check(pf_lock_t *l, char *err, size_t errlen) PF_MUST_CHECK;

/* How long pf_lock_acquire waited for another holder, in milliseconds. */
int64_t pf_lock_waited_ms(const pf_lock_t *l);

/* Ends the lock's transaction (which releases the lock), closes its connection and frees l.
 * NULL is ignored. Never fails: a connection that cannot roll back is closed, which releases the
 * lock on the server just as well. */
void pf_lock_release(pf_lock_t *l);

/* The key of the second, transaction-scoped advisory lock that the fallback transaction takes on
 * the MAIN connection, in the same transaction as its writes. The replica-wide lock lives on
 * another connection, so when a holder is killed, its lock is released at once while its
 * fallback transaction may still be running on the server (a backend busy in a statement does
 * not notice that its client is gone); this lock makes the next holder wait for that transaction
 * to end. It is pf_lock_id of lock_key plus "/work". */
int64_t pf_lock_work_id(const char *lock_key);

/* The advisory lock key for lock_key: 64-bit FNV-1a of its bytes, as PostgreSQL's bigint. Pure
 * and stable across versions, unlike hashtext(). */
int64_t pf_lock_id(const char *lock_key);

#endif
