/* A small SQL lexer for fallback text: where its top-level statements start and end, and whether
 * any of them is transaction control.
 *
 * It knows what can hide a semicolon or a keyword: 'single-quoted' strings ('' inside),
 * E'escape' strings (backslashes), "quoted identifiers", dollar quotes ($$...$$, $tag$...$tag$, so
 * DO blocks and function bodies), -- comments, nested block comments and the BEGIN ATOMIC ... END
 * body of CREATE FUNCTION / PROCEDURE (SQL-standard bodies whose statements end in semicolons),
 * the way psql's own lexer tells statements apart. Pure: unit-tested without a server. */
#ifndef PREFLIGHT_SQLLEX_H
#define PREFLIGHT_SQLLEX_H

#include <stdbool.h>
#include <stddef.h>

#include "preflight/manifest.h"

/* One top-level statement: bytes [start, end) of the text, from its first token to just before
 * its terminating semicolon (or the end of the text). Statements with no token are left out. */
typedef struct {
  size_t start, end;
} pf_sqllex_stmt_t;

/* Splits sql into its top-level statements. Returns how many, with a new array in *out (free
 * it; NULL when there are none). */
size_t pf_sqllex_split(const char *sql, pf_sqllex_stmt_t **out);

/* Finds the first top-level transaction-control statement (BEGIN, START TRANSACTION, COMMIT, END,
 * ROLLBACK, ABORT, SAVEPOINT, RELEASE, PREPARE TRANSACTION, COMMIT/ROLLBACK PREPARED). Returns
 * true with its byte offset and its leading keywords in upper case ("COMMIT", "START
 * TRANSACTION") in what, or false. */
bool pf_sqllex_find_txn_control(const char *sql, size_t *offset, char *what, size_t whatlen);

/* Finds the first top-level statement that PostgreSQL refuses inside a transaction block (CREATE
 * [UNIQUE] INDEX CONCURRENTLY, DROP INDEX CONCURRENTLY, REINDEX ... CONCURRENTLY, VACUUM,
 * CREATE/DROP DATABASE or TABLESPACE, ALTER SYSTEM), like pf_sqllex_find_txn_control. */
bool pf_sqllex_find_nontxn(const char *sql, size_t *offset, char *what, size_t whatlen);

/* The manifest's rule for one item: a fallback that runs in preflight's transaction
 * (transaction: true, the default) must not contain transaction control, nor a statement that
 * cannot run in a transaction block (it would fail every time, after the wait). Returns 0, or PF_ECONFIG
 * with "file:line:column: where: ..." in err, the position being that of the keyword in the
 * manifest (inline fallback) or in the fallback_file. manifest_path names the manifest. */
int pf_sqllex_check_item(const pf_item_t *it, const char *manifest_path, const char *where, char *err,
                         size_t errlen);

/* The same rule for SQL that always runs inside preflight's transaction (fallback.after), which
 * starts at first_line of file. */
int pf_sqllex_check_sql(const char *sql, const char *file, int first_line, const char *where, char *err,
                        size_t errlen);

#endif
