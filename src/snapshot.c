/* preflight snapshot: the live catalog written out as a manifest.
 *
 * One query per kind, inside one REPEATABLE READ READ ONLY transaction, so that the kinds agree
 * with each other and the cost does not grow with the number of objects. Every query applies the
 * same three filters, passed as parameters: $1 the --schema names, $2 and $3 the --table schemas
 * and names (NULL when not given). Rows come back ordered bytewise (COLLATE "C") by schema and
 * name, and are written as they arrive; only a table's columns need grouping, and they arrive
 * right behind their table.
 *
 * What is written is what verification (catalog_kinds.c) reads back, in the same canonical form,
 * so that `check` against a fresh snapshot passes. Objects that exist but that verification
 * would judge as not as declared (an INVALID index, a NOT VALID constraint, a disabled trigger, a
 * policy on a table without row level security) are left out with a comment saying why, and so
 * are objects the manifest cannot name. Objects that PostgreSQL creates and drops together with
 * another one are left out too, so that dropping one object makes check name exactly that object:
 * indexes that implement a constraint, the copies of indexes, constraints and triggers that
 * partitions inherit, identity sequences, table row types, array and multirange types, range
 * constructors, and everything that belongs to an extension. */
#include "preflight/snapshot.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "preflight/catalog.h"
#include "preflight/error.h"
#include "preflight/log.h"
#include "preflight/manifest.h"
#include "preflight/typename.h"
#include "preflight/util.h"

/* A schema that is not PostgreSQL's own: pg_catalog, pg_toast, pg_temp_N and pg_toast_temp_N all
 * start with "pg_", a prefix CREATE SCHEMA refuses to users. */
#define PF__USER_NS(n) "(" n ".nspname !~ '^pg_' AND " n ".nspname <> 'information_schema')"

/* No dependency of the listed types from the object: 'e' member of an extension, 'i' internal
 * part of another object, 'P'/'I' partition copy of a parent's object. PF__NO_DEP_EACH is the
 * same test as a probe of pg_depend's index per row, for a test inside an OR, which the planner
 * otherwise answers by hashing every dependency of the catalog first (OFFSET 0 keeps the
 * subquery as it is written). */
#define PF__NO_DEP_(catalog, oid, types, tail)                                                       \
  "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend dep WHERE dep.classid = 'pg_catalog." catalog \
  "'::pg_catalog.regclass AND dep.objid = " oid " AND dep.deptype IN (" types ")" tail ")"
#define PF__NO_DEP(catalog, oid, types) PF__NO_DEP_(catalog, oid, types, "")
#define PF__NO_DEP_EACH(catalog, oid, types) PF__NO_DEP_(catalog, oid, types, " OFFSET 0")

/* The --schema filter for objects that live in a schema. */
#define PF__IN_SCHEMAS(n) "($1::text[] IS NULL OR " n ".nspname::text = ANY($1::text[]))"

/* The --schema and --table filters for objects that live on a table. Partitions (and what lives
 * on them) are left out, their parent describes them, unless $4 (--partitions) is true or
 * --table names them. */
#define PF__ON_TABLES(n, c)                                                                           \
  "(((($1::text[] IS NULL AND $2::text[] IS NULL) OR " n ".nspname::text = ANY($1::text[]))"          \
  " AND ($4::bool OR NOT " c ".relispartition)) OR EXISTS "                                           \
  "(SELECT 1 FROM unnest($2::text[], $3::text[]) AS f(s, t) WHERE f.s = " n ".nspname::text AND f.t = " c \
  ".relname::text))"

/* Extensions that initdb created (plpgsql) have OIDs below FirstNormalObjectId. */
static const char pf__q_extensions[] =
    "SELECT e.extname::text, e.extversion::text\n"
    "FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace\n"
    "WHERE e.oid >= 16384 AND " PF__IN_SCHEMAS("n");

static const char pf__q_schemas[] =
    "SELECT n.nspname::text FROM pg_catalog.pg_namespace n\n"
    "WHERE " PF__USER_NS("n") " AND " PF__IN_SCHEMAS("n") " AND " PF__NO_DEP("pg_namespace", "n.oid", "'e'");

/* Enums (one row per label, in label order), domains, ranges, base types and standalone
 * composite types. A table's row type and an array or multirange type depend internally on
 * their table or element type; a standalone composite type does too, on its pg_class entry,
 * so it is recognised by that entry's relkind instead, read for composite types only: a join
 * hashed all of pg_class for it (11,000 rows at 32,000 items). */
static const char pf__q_types[] =
    "SELECT n.nspname::text, t.typname::text, t.typtype::text, e.enumlabel::text, e.enumsortorder\n"
    "FROM pg_catalog.pg_type t\n"
    "JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace\n"
    "LEFT JOIN pg_catalog.pg_enum e ON e.enumtypid = t.oid\n"
    "WHERE " PF__USER_NS("n") " AND " PF__IN_SCHEMAS("n") "\n"
    "  AND (t.typtype = 'c' AND (SELECT r.relkind FROM pg_catalog.pg_class r WHERE r.oid = t.typrelid) = 'c'\n"
    "       AND " PF__NO_DEP_EACH("pg_class", "t.typrelid", "'e'") "\n"
    "       OR t.typtype IN ('b', 'd', 'e', 'r') AND " PF__NO_DEP_EACH("pg_type", "t.oid", "'e', 'i'") ")\n"
    "  AND " PF__NO_DEP("pg_type", "t.oid", "'e'");

/* Identity sequences depend internally on their column and are left out; serial sequences
 * (an auto dependency) are ordinary objects that defaults name. */
static const char pf__q_sequences[] =
    "SELECT n.nspname::text, c.relname::text\n"
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n"
    "WHERE c.relkind = 'S' AND " PF__USER_NS("n") " AND " PF__IN_SCHEMAS("n") "\n"
    "  AND " PF__NO_DEP("pg_class", "c.oid", "'e', 'i'");

/* Tables with their columns, one row per column (a table without columns has one row of NULLs).
 * Foreign tables come too, only to be named in a comment. %s: the NOT VALID NOT NULL test
 * (PostgreSQL 18), then twice the generated-column expression, which PostgreSQL 11 lacks. A default cannot refer to a column, so pg_get_expr is given no
 * relation (0): given one, it opens every table to name its columns. */
static const char pf__q_tables[] =
    "SELECT n.nspname::text, c.relname::text, c.relkind::text, c.relrowsecurity::text, a.attname::text,\n"
    "  pg_catalog.format_type(a.atttypid, a.atttypmod),\n"
    "  (a.attnotnull%s)::text,\n"
    "  CASE WHEN %s = '' THEN pg_catalog.pg_get_expr(d.adbin, 0) END, a.attidentity::text, %s, a.attnum\n"
    "FROM pg_catalog.pg_class c\n"
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n"
    "LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped\n"
    "LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum\n"
    "WHERE c.relkind IN ('r', 'p', 'f') AND " PF__USER_NS("n") " AND " PF__ON_TABLES("n", "c") "\n"
    "  AND " PF__NO_DEP("pg_class", "c.oid", "'e'");

static const char pf__q_views[] =
    "SELECT n.nspname::text, c.relname::text, c.relkind::text\n"
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n"
    "WHERE c.relkind IN ('v', 'm') AND " PF__USER_NS("n") " AND " PF__IN_SCHEMAS("n") "\n"
    "  AND " PF__NO_DEP("pg_class", "c.oid", "'e'");

/* Argument types come from proargtypes (input arguments only, no names, no modes): the list
 * to_regprocedure reads, where pg_get_function_identity_arguments would add names it cannot
 * parse. %s: prokind, which PostgreSQL 11 introduced. */
static const char pf__q_functions[] =
    "SELECT n.nspname::text, p.proname::text, pg_catalog.oidvectortypes(p.proargtypes),\n"
    "  pg_catalog.pg_get_function_result(p.oid), %s, p.prosecdef::text\n"
    "FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace\n"
    "WHERE " PF__USER_NS("n") " AND " PF__IN_SCHEMAS("n") " AND " PF__NO_DEP("pg_proc", "p.oid", "'e', 'i'");

/* Indexes of tables and materialized views; not those that implement a constraint (internal
 * dependency on it) nor a partition's copy of its parent's index. */
static const char pf__q_indexes[] =
    "SELECT n.nspname::text, c.relname::text, i.relname::text, x.indisunique::text, x.indisvalid::text, i.relkind::text\n"
    "FROM pg_catalog.pg_index x\n"
    "JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid\n"
    "JOIN pg_catalog.pg_class c ON c.oid = x.indrelid\n"
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n"
    "WHERE c.relkind IN ('r', 'p', 'm') AND " PF__USER_NS("n") " AND " PF__ON_TABLES("n", "c") "\n"
    "  AND " PF__NO_DEP("pg_class", "c.oid", "'e'") " AND " PF__NO_DEP("pg_class", "i.oid", "'e', 'i', 'P', 'I'");

/* Table constraints defined on the table itself (not inherited, not a partition's clone). The
 * foreign key target is built exactly as verification builds it. %s: PostgreSQL 18's NOT
 * ENFORCED test (conenforced; nothing before 18), then the clone condition. */
static const char pf__q_constraints[] =
    "SELECT n.nspname::text, c.relname::text, co.conname::text, co.contype::text,\n"
    "  CASE WHEN co.convalidated THEN 'true' %s ELSE 'false' END,\n"
    "  (SELECT rn.nspname || '.' || rc.relname || '(' || string_agg(ra.attname, ', ' ORDER BY k.o) || ')'\n"
    "   FROM unnest(co.confkey) WITH ORDINALITY AS k(a, o)\n"
    "   JOIN pg_catalog.pg_attribute ra ON ra.attrelid = co.confrelid AND ra.attnum = k.a\n"
    "   JOIN pg_catalog.pg_class rc ON rc.oid = co.confrelid\n"
    "   JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace\n"
    "   GROUP BY rn.nspname, rc.relname)\n"
    "FROM pg_catalog.pg_constraint co\n"
    "JOIN pg_catalog.pg_class c ON c.oid = co.conrelid\n"
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n"
    "WHERE co.contype IN ('p', 'f', 'u', 'c', 'x') AND co.conislocal%s\n"
    "  AND c.relkind IN ('r', 'p') AND " PF__USER_NS("n") " AND " PF__ON_TABLES("n", "c") "\n"
    "  AND " PF__NO_DEP("pg_class", "c.oid", "'e'");

/* User triggers, including constraint triggers, on any relation. %s: the clone condition
 * (PostgreSQL 13+; before it, partitions' copies were internal triggers). */
static const char pf__q_triggers[] =
    "SELECT n.nspname::text, c.relname::text, t.tgname::text, (t.tgenabled <> 'D')::text, t.tgenabled::text\n"
    "FROM pg_catalog.pg_trigger t\n"
    "JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid\n"
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n"
    "WHERE NOT t.tgisinternal%s AND " PF__USER_NS("n") " AND " PF__ON_TABLES("n", "c") "\n"
    "  AND " PF__NO_DEP("pg_class", "c.oid", "'e'") " AND " PF__NO_DEP("pg_trigger", "t.oid", "'e'");

static const char pf__q_policies[] =
    "SELECT n.nspname::text, c.relname::text, p.polname::text, c.relrowsecurity::text\n"
    "FROM pg_catalog.pg_policy p\n"
    "JOIN pg_catalog.pg_class c ON c.oid = p.polrelid\n"
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n"
    "WHERE " PF__USER_NS("n") " AND " PF__ON_TABLES("n", "c") " AND " PF__NO_DEP("pg_class", "c.oid", "'e'");

/* ---- YAML scalars ------------------------------------------------------------------------- */

bool pf_snapshot_yaml_plain(const char *s) {
  /* Words YAML 1.1 (PyYAML, Ruby, Go's yaml.v2) or 1.2 reads as null or a boolean. */
  static const char *const reserved[] = {"null", "true", "false", "yes", "no", "on", "off", "y", "n"};
  if (s == NULL || !(s[0] == '_' || (s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) return false;
  const char *p = s;
  for (; *p; p++) {
    unsigned char c = (unsigned char)*p;
    bool word = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (word || c == '(' || c == ')') continue;
    /* One space between two non-spaces: a plain scalar keeps inner spaces but would lose
     * trailing ones, and double spaces are easy to misread. */
    if (c == ' ' && p[1] != '\0' && p[1] != ' ') continue;
    return false;
  }
  /* Compared by length first and by folding ASCII case in place: musl's strcasecmp calls
   * tolower for every character, and most names of a schema are five letters or fewer. (The
   * reserved words are lower-case letters; "| 0x20" maps no other character onto one.) */
  size_t len = (size_t)(p - s);
  for (size_t i = 0; len <= 5 && i < PF_ARRAY_SIZE(reserved); i++) {
    size_t k = 0;
    while (k < len && reserved[i][k] == (char)(s[k] | 0x20)) k++;
    if (k == len && reserved[i][k] == '\0') return false;
  }
  return true;
}

/* Decodes one UTF-8 sequence at s into *cp; returns its length, or 0 if it is not valid
 * (overlong, surrogate, beyond U+10FFFF, truncated). */
static size_t pf__utf8(const unsigned char *s, uint32_t *cp) {
  if (s[0] < 0x80) return *cp = s[0], 1;
  size_t n = (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
  if (n == 0) return 0;
  uint32_t v = s[0] & (0x7F >> n);
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    v = (v << 6) | (s[i] & 0x3F);
  }
  static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
  if (v < min[n] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return n;
}

bool pf_snapshot_yaml_scalar(pf_buf_t *b, const char *s) {
  if (pf_snapshot_yaml_plain(s)) {
    pf_buf_puts(b, s);
    return true;
  }
  bool exact = true;
  pf_buf_putc(b, '"');
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    uint32_t cp;
    size_t n = pf__utf8(p, &cp);
    if (n == 0) {
      pf_buf_printf(b, "\\x%02X", *p++);
      exact = false;
      continue;
    }
    if (cp == '"' || cp == '\\') {
      pf_buf_putc(b, '\\');
      pf_buf_putc(b, (char)cp);
    } else if (cp == '\n') {
      pf_buf_puts(b, "\\n");
    } else if (cp == '\t') {
      pf_buf_puts(b, "\\t");
    } else if (cp == '\r') {
      pf_buf_puts(b, "\\r");
    } else if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) {
      /* Control characters, and U+0085 which YAML would read as a line break. */
      pf_buf_printf(b, "\\x%02X", (unsigned)cp);
    } else if (cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF || cp == 0xFFFE || cp == 0xFFFF) {
      /* Line and paragraph separators would be folded; the others are not printable. */
      pf_buf_printf(b, "\\u%04X", (unsigned)cp);
    } else {
      pf_buf_append(b, (const char *)p, n);
    }
    p += n;
  }
  pf_buf_putc(b, '"');
  return exact;
}

bool pf_snapshot_type_ok(const char *t) {
  pf_typename_t parsed;
  char why[160];
  if (t == NULL || !pf_typename_parse(t, &parsed, why, sizeof(why))) return false;
  pf_typename_free(&parsed);
  return true;
}

void pf_snapshot_split_table(const char *arg, const char *default_schema, char **schema, char **name) {
  const char *dot = strchr(arg, '.');
  if (dot == NULL || dot == arg || dot[1] == '\0') {
    *schema = pf_xstrdup(default_schema);
    *name = pf_xstrdup(arg);
    return;
  }
  *schema = pf_xstrndup(arg, (size_t)(dot - arg));
  *name = pf_xstrdup(dot + 1);
}

/* ---- the writer --------------------------------------------------------------------------- */

/* How a query's rows are written: ordered by up to three text columns, byte by byte as COLLATE
 * "C" orders them, then by a numeric column (num >= 0), NULL last as in ORDER BY ... ASC. The
 * queries carry no ORDER BY: at 32,000 items PostgreSQL spent more than half of the tables
 * query sorting 21,000 wide rows in a fresh backend (~100 of ~180 ms under EXPLAIN ANALYZE),
 * where sorting pointers here takes a few milliseconds. */
typedef struct {
  int ntext, text[3], num;
} pf__order_t;

/* A query's result in its order: row i of the output is r's row ix[i]. */
typedef struct {
  PGresult *r;
  int n;
  int *ix;
} pf__rows_t;

/* The keys of one row: each text key as its rank among the column's distinct values (NULL
 * last), so that sorting compares integers. Comparing the texts themselves with strcmp in
 * musl's qsort (smoothsort) was a third of a 32,000-item snapshot's client time. Sorted as
 * pointers (pf_sort_ptrs): the comparison ends on the row number, so the order is total. */
typedef struct {
  uint32_t k[3];
  double num;
  bool num_null;
  int row;
} pf__sortkey_t;

static int pf__sortkey_cmp(const void *pa, const void *pb) {
  const pf__sortkey_t *a = pa, *b = pb;
  for (int i = 0; i < 3; i++)
    if (a->k[i] != b->k[i]) return a->k[i] < b->k[i] ? -1 : 1;
  if (a->num_null != b->num_null) return a->num_null ? 1 : -1;
  if (a->num != b->num) return a->num < b->num ? -1 : 1;
  return (a->row > b->row) - (a->row < b->row);
}

typedef struct {
  const char *v;
  size_t slot;
} pf__distinct_t;

static int pf__distinct_cmp(const void *pa, const void *pb) {
  return strcmp(((const pf__distinct_t *)pa)->v, ((const pf__distinct_t *)pb)->v);
}

/* Sets keys[i].k[c] to the rank of row i's text in column col, byte order, NULL last. */
static void pf__rank_column(PGresult *r, int col, pf__sortkey_t *keys, int n, int c) {
  size_t nslots = 16;
  while (nslots < (size_t)n * 2) nslots *= 2;
  const char **slots = pf_xcalloc(nslots, sizeof(*slots)); /* the distinct texts, hashed */
  uint32_t *rank = pf_xcalloc(nslots, sizeof(*rank));      /* each slot's text's rank */
  size_t *at = pf_xcalloc((size_t)n + 1, sizeof(*at));        /* each row's slot, nslots for NULL */
  pf__distinct_t *distinct = pf_xcalloc((size_t)n + 1, sizeof(*distinct));
  size_t nd = 0;
  for (int i = 0; i < n; i++) {
    if (PQgetisnull(r, i, col)) {
      at[i] = nslots;
      continue;
    }
    const char *v = PQgetvalue(r, i, col);
    size_t h = pf_hash(v, (size_t)PQgetlength(r, i, col)) & (nslots - 1);
    while (slots[h] != NULL && strcmp(slots[h], v) != 0) h = (h + 1) & (nslots - 1);
    if (slots[h] == NULL) {
      slots[h] = v;
      distinct[nd++] = (pf__distinct_t){v, h};
    }
    at[i] = h;
  }
  pf__distinct_t **sorted = pf_xcalloc(nd + 1, sizeof(*sorted));
  for (size_t d = 0; d < nd; d++) sorted[d] = &distinct[d];
  pf_sort_ptrs((void **)sorted, nd, pf__distinct_cmp);
  for (size_t d = 0; d < nd; d++) rank[sorted[d]->slot] = (uint32_t)d;
  free(sorted);
  for (int i = 0; i < n; i++) keys[i].k[c] = at[i] == nslots ? UINT32_MAX : rank[at[i]];
  free(distinct);
  free(at);
  free(rank);
  free(slots);
}

/* Orders the rows of r; see pf__order_t. */
static void pf__rows_order(pf__rows_t *rows, PGresult *r, const pf__order_t *order) {
  rows->r = r;
  rows->n = PQntuples(r);
  free(rows->ix);
  rows->ix = pf_xcalloc((size_t)rows->n + 1, sizeof(*rows->ix));
  pf__sortkey_t *keys = pf_xcalloc((size_t)rows->n + 1, sizeof(*keys));
  for (int c = 0; c < order->ntext; c++) pf__rank_column(r, order->text[c], keys, rows->n, c);
  for (int i = 0; i < rows->n; i++) {
    pf__sortkey_t *k = &keys[i];
    k->num_null = order->num < 0 || PQgetisnull(r, i, order->num);
    k->num = k->num_null ? 0 : strtod(PQgetvalue(r, i, order->num), NULL);
    k->row = i;
  }
  pf__sortkey_t **sorted = pf_xcalloc((size_t)rows->n + 1, sizeof(*sorted));
  for (int i = 0; i < rows->n; i++) sorted[i] = &keys[i];
  pf_sort_ptrs((void **)sorted, (size_t)rows->n, pf__sortkey_cmp);
  for (int i = 0; i < rows->n; i++) rows->ix[i] = sorted[i]->row;
  free(sorted);
  free(keys);
}

typedef struct {
  pf_db_t *db;
  int server_version;     /* PQserverVersion: 150004 */
  const char *params[4];  /* $1 schemas, $2 table schemas, $3 table names: array literals or NULL;
                             $4 "true" to write partitions too */
  pf_buf_t body;          /* everything after the header */
  pf_buf_t notes;         /* header lines about filters that matched nothing */
  const char *list_key;   /* the kind key to write before the next item, once */
  int nfields;            /* fields written in the current flow mapping */
  bool lossy;             /* a name was not valid UTF-8 */
  bool partitions;        /* --partitions: write partitions and what lives on them too */
  pf__rows_t rows;        /* the last query's rows, in the order they are written */
  char *err;
  size_t errlen;
} pf__snap_t;

/* Returns the cell of the row written at position `row`, or NULL for SQL NULL. */
static const char *pf__val(const pf__rows_t *t, int row, int col) {
  int at = t->ix[row];
  return PQgetisnull(t->r, at, col) ? NULL : PQgetvalue(t->r, at, col);
}

static bool pf__is_true(const char *v) { return v && (strcmp(v, "t") == 0 || strcmp(v, "true") == 0); }

/* Runs one catalog query with the first nparams filter parameters. Returns 0 with its rows in
 * `order` in *res (valid until the next query), or the failure with err set. */
static int pf__snap_query(pf__snap_t *s, const char *what, const char *sql, int nparams, const pf__order_t *order,
                          const pf__rows_t **res) {
  int r = pf_db_query(s->db, sql, nparams, nparams > 0 ? s->params : NULL, 0);
  if (r == PF_ESIGNAL) return r;
  if (r != 0)
    return pf_seterr(s->err, s->errlen, PF_EDB, "snapshot: reading the %s failed: %s", what, pf_db_last_error(s->db)->message);
  PGresult *pr = pf_db_result(s->db);
  if (pr == NULL || PQresultStatus(pr) != PGRES_TUPLES_OK)
    return pf_seterr(s->err, s->errlen, PF_EDB, "snapshot: reading the %s returned no rows", what);
  pf__rows_order(&s->rows, pr, order);
  *res = &s->rows;
  return 0;
}

/* The orders: by name, by schema and name, by schema, table and name. */
static const pf__order_t pf__by_1 = {1, {0}, -1};
static const pf__order_t pf__by_2 = {2, {0, 1}, -1};
static const pf__order_t pf__by_3 = {3, {0, 1, 2}, -1};

/* Writes the pending kind key ("tables:") before the first item or comment of its list. */
static void pf__key(pf__snap_t *s) {
  if (s->list_key == NULL) return;
  pf_buf_printf(&s->body, "%s:\n", s->list_key);
  s->list_key = NULL;
}

/* Appends text to a comment, with control characters (a newline would end the comment) shown
 * as "?". */
static void pf__comment_text(pf_buf_t *b, const char *text) {
  for (const unsigned char *p = (const unsigned char *)text; *p; p++)
    pf_buf_putc(b, *p < 0x20 || *p == 0x7F ? '?' : (char)*p);
}

/* Writes "<indent># <message>" as a line of the current list. */
static void pf__comment(pf__snap_t *s, const char *indent, const char *fmt, ...) PF_PRINTF(3, 4);
static void pf__comment(pf__snap_t *s, const char *indent, const char *fmt, ...) {
  pf_buf_t msg = {0};
  va_list ap;
  va_start(ap, fmt);
  pf_buf_vprintf(&msg, fmt, ap);
  va_end(ap);
  pf__key(s);
  pf_buf_printf(&s->body, "%s# ", indent);
  pf__comment_text(&s->body, msg.data ? msg.data : "");
  pf_buf_putc(&s->body, '\n');
  pf_buf_free(&msg);
}

/* Starts a flow-mapping item: "<indent>- {". */
/* The writers below run for every item and field (~200,000 times at 32,000 items): plain
 * appends, no printf. */
static void pf__item(pf__snap_t *s, const char *indent) {
  pf__key(s);
  pf_buf_puts(&s->body, indent);
  pf_buf_append(&s->body, "- {", 3);
  s->nfields = 0;
}

static void pf__field_key(pf__snap_t *s, const char *key) {
  if (s->nfields++) pf_buf_append(&s->body, ", ", 2);
  pf_buf_puts(&s->body, key);
  pf_buf_append(&s->body, ": ", 2);
}

/* Adds "key: value" to the current item, the value quoted as needed. */
static void pf__field(pf__snap_t *s, const char *key, const char *value) {
  pf__field_key(s, key);
  if (!pf_snapshot_yaml_scalar(&s->body, value)) s->lossy = true;
}

/* Adds "key: value" with a value that is already YAML (true, a sequence). */
static void pf__field_raw(pf__snap_t *s, const char *key, const char *yaml) {
  pf__field_key(s, key);
  pf_buf_puts(&s->body, yaml);
}

static void pf__item_end(pf__snap_t *s) { pf_buf_puts(&s->body, "}\n"); }

/* Writes the table an object lives on: "schema.table" as `table:`. The manifest splits that at the
 * first dot, so a schema whose name holds a dot is written as `schema:` beside the table's bare
 * name in `table:` (which the manifest then does not split). */
static void pf__table_field(pf__snap_t *s, const char *schema, const char *table) {
  if (strchr(schema, '.') != NULL) {
    pf__field(s, "schema", schema);
    pf__field(s, "table", table);
    return;
  }
  char *ref = pf_xasprintf("%s.%s", schema, table);
  pf__field(s, "table", ref);
  free(ref);
}

static int pf__snap_extensions(pf__snap_t *s) {
  const pf__rows_t *r;
  int rc = pf__snap_query(s, "extensions", pf__q_extensions, 1, &pf__by_1, &r);
  if (rc != 0) return rc;
  s->list_key = "extensions";
  for (int i = 0; i < r->n; i++) {
    pf__item(s, "  ");
    pf__field(s, "name", pf__val(r, i, 0));
    /* No version: verification reads one as a minimum, and the installed version is what this
     * server ships (citext 1.8 on 18, 1.6 on 15), not what the app needs; a snapshot taken on
     * one major must pass on another. A minimum the app relies on is added by hand. */
    pf__item_end(s);
  }
  return 0;
}

static int pf__snap_schemas(pf__snap_t *s, const char *const *schemas, int nschemas, bool *found) {
  const pf__rows_t *r;
  int rc = pf__snap_query(s, "schemas", pf__q_schemas, 1, &pf__by_1, &r);
  if (rc != 0) return rc;
  s->list_key = "schemas";
  for (int i = 0; i < r->n; i++) {
    const char *name = pf__val(r, i, 0);
    for (int k = 0; k < nschemas; k++)
      if (strcmp(schemas[k], name) == 0) found[k] = true;
    pf__item(s, "  ");
    pf__field(s, "name", name);
    pf__item_end(s);
  }
  return 0;
}

static int pf__snap_types(pf__snap_t *s) {
  const pf__rows_t *r;
  int rc = pf__snap_query(s, "types", pf__q_types, 1, &(const pf__order_t){2, {0, 1}, 4}, &r);
  if (rc != 0) return rc;
  s->list_key = "types";
  int n = r->n;
  for (int i = 0; i < n;) {
    const char *schema = pf__val(r, i, 0), *name = pf__val(r, i, 1), *typtype = pf__val(r, i, 2);
    pf__item(s, "  ");
    pf__field(s, "name", name);
    pf__field(s, "schema", schema);
    int j = i;
    if (typtype[0] == 'e') {
      /* Every label, in the enum's order; an enum without labels gets an empty list. */
      pf_buf_puts(&s->body, ", values: [");
      s->nfields++;
      for (; j < n && strcmp(pf__val(r, j, 0), schema) == 0 && strcmp(pf__val(r, j, 1), name) == 0; j++) {
        const char *label = pf__val(r, j, 3);
        if (label == NULL) continue;
        if (j > i) pf_buf_puts(&s->body, ", ");
        if (!pf_snapshot_yaml_scalar(&s->body, label)) s->lossy = true;
      }
      pf_buf_putc(&s->body, ']');
    } else {
      j++;
    }
    pf__item_end(s);
    i = j;
  }
  return 0;
}

/* Writes the rows of a query returning (schema, name[, relkind]) as named items; views add
 * `materialized: true` for materialized views. */
static int pf__snap_relations(pf__snap_t *s, const char *what, const char *key, const char *sql, bool views) {
  const pf__rows_t *r;
  int rc = pf__snap_query(s, what, sql, 1, &pf__by_2, &r);
  if (rc != 0) return rc;
  s->list_key = key;
  for (int i = 0; i < r->n; i++) {
    pf__item(s, "  ");
    pf__field(s, "name", pf__val(r, i, 1));
    pf__field(s, "schema", pf__val(r, i, 0));
    if (views && pf__val(r, i, 2)[0] == 'm') pf__field_raw(s, "materialized", "true");
    pf__item_end(s);
  }
  return 0;
}

/* Writes one column row of the tables query as a flow mapping under its table. */
static void pf__snap_column(pf__snap_t *s, const pf__rows_t *r, int i, const char *schema, const char *table) {
  const char *name = pf__val(r, i, 4), *type = pf__val(r, i, 5), *notnull = pf__val(r, i, 6);
  const char *dflt = pf__val(r, i, 7), *identity = pf__val(r, i, 8), *generated = pf__val(r, i, 9);
  bool type_ok = pf_snapshot_type_ok(type);
  if (!type_ok)
    pf__comment(s, "      ", "column %s.%s.%s: its type %s cannot be written as a manifest type; written without one",
                schema, table, name, type);
  pf__item(s, "      ");
  pf__field(s, "name", name);
  if (type_ok) pf__field(s, "type", type);
  if (pf__is_true(notnull)) pf__field_raw(s, "nullable", "false");
  if (dflt) pf__field(s, "default", dflt);
  if (identity && identity[0] == 'a') pf__field(s, "identity", "always");
  if (identity && identity[0] == 'd') pf__field(s, "identity", "by default");
  if (generated && generated[0] == 's') pf__field(s, "generated", "stored");
  if (generated && generated[0] == 'v') pf__field(s, "generated", "virtual");
  pf__item_end(s);
}

static int pf__snap_tables(pf__snap_t *s, char **tschemas, char **tnames, int ntables, bool *found) {
  /* NOT NULL constraints are rows of pg_constraint, which may be NOT VALID, from PostgreSQL 18
   * on; before it attnotnull is the whole story, and the lookup is not even planned. */
  const char *notvalid = s->server_version >= 180000
                             ? " AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint nn WHERE nn.conrelid = a.attrelid\n"
                               "     AND nn.contype = 'n' AND nn.conkey[1] = a.attnum AND NOT nn.convalidated)"
                             : "";
  const char *generated = s->server_version >= 120000 ? "a.attgenerated::text" : "''";
  char *sql = pf_xasprintf(pf__q_tables, notvalid, generated, generated);
  const pf__rows_t *r;
  int rc = pf__snap_query(s, "tables", sql, 4, &(const pf__order_t){2, {0, 1}, 10}, &r);
  free(sql);
  if (rc != 0) return rc;
  s->list_key = "tables";
  int n = r->n;
  for (int i = 0; i < n;) {
    const char *schema = pf__val(r, i, 0), *table = pf__val(r, i, 1), *relkind = pf__val(r, i, 2);
    int j = i;
    while (j < n && strcmp(pf__val(r, j, 0), schema) == 0 && strcmp(pf__val(r, j, 1), table) == 0) j++;
    for (int k = 0; k < ntables; k++)
      if (strcmp(tschemas[k], schema) == 0 && strcmp(tnames[k], table) == 0) found[k] = true;
    if (relkind[0] == 'f') {
      pf__comment(s, "  ", "foreign table %s.%s: not written (verification accepts only ordinary and partitioned tables)",
                  schema, table);
      i = j;
      continue;
    }
    pf__key(s);
    pf_buf_puts(&s->body, "  - name: ");
    if (!pf_snapshot_yaml_scalar(&s->body, table)) s->lossy = true;
    pf_buf_puts(&s->body, "\n    schema: ");
    if (!pf_snapshot_yaml_scalar(&s->body, schema)) s->lossy = true;
    pf_buf_putc(&s->body, '\n');
    if (pf__is_true(pf__val(r, i, 3))) pf_buf_puts(&s->body, "    row_level_security: true\n");
    if (pf__val(r, i, 4) != NULL) {
      pf_buf_puts(&s->body, "    columns:\n");
      for (int k = i; k < j; k++) pf__snap_column(s, r, k, schema, table);
    }
    i = j;
  }
  return 0;
}

static int pf__snap_functions(pf__snap_t *s) {
  char *sql = pf_xasprintf(pf__q_functions, s->server_version >= 110000
                                                ? "p.prokind::text"
                                                : "CASE WHEN p.proisagg THEN 'a' WHEN p.proiswindow THEN 'w' ELSE 'f' END");
  const pf__rows_t *r;
  int rc = pf__snap_query(s, "functions", sql, 1, &pf__by_3, &r);
  free(sql);
  if (rc != 0) return rc;
  s->list_key = "functions";
  for (int i = 0; i < r->n; i++) {
    const char *schema = pf__val(r, i, 0), *name = pf__val(r, i, 1), *args = pf__val(r, i, 2);
    const char *result = pf__val(r, i, 3), *kind = pf__val(r, i, 4);
    if (strchr(name, '(') != NULL) {
      pf__comment(s, "  ", "function %s.%s(%s): its name contains \"(\", which `signature:` cannot express", schema, name, args);
      continue;
    }
    char *sig = pf_xasprintf("%s(%s)", name, args);
    pf__item(s, "  ");
    pf__field(s, "signature", sig);
    pf__field(s, "schema", schema);
    if (result) pf__field(s, "returns", result);
    if (kind[0] == 'p') pf__field(s, "kind", "procedure");
    if (pf__is_true(pf__val(r, i, 5))) pf__field(s, "security", "definer");
    pf__item_end(s);
    free(sig);
  }
  return 0;
}

static int pf__snap_indexes(pf__snap_t *s) {
  const pf__rows_t *r;
  int rc = pf__snap_query(s, "indexes", pf__q_indexes, 4, &pf__by_3, &r);
  if (rc != 0) return rc;
  s->list_key = "indexes";
  for (int i = 0; i < r->n; i++) {
    const char *schema = pf__val(r, i, 0), *table = pf__val(r, i, 1), *name = pf__val(r, i, 2);
    if (!pf__is_true(pf__val(r, i, 4))) {
      const char *relkind = pf__val(r, i, 5);
      if (relkind && relkind[0] == 'I')
        pf__comment(s, "  ", "index %s.%s on %s.%s: created ON ONLY the partitioned table and not attached to every "
                    "partition's index, so not valid; not written", schema, name, schema, table);
      else
        pf__comment(s, "  ", "index %s.%s on %s.%s: INVALID (a failed CREATE INDEX CONCURRENTLY?); not written", schema, name,
                    schema, table);
      continue;
    }
    pf__item(s, "  ");
    pf__field(s, "name", name);
    /* Without `schema:`, a dot in the name would be read as schema.name; with it, `table:` is the
     * bare table name in that schema. */
    if (strchr(name, '.') != NULL && strchr(schema, '.') == NULL) {
      pf__field(s, "schema", schema);
      pf__field(s, "table", table);
    } else {
      pf__table_field(s, schema, table);
    }
    if (pf__is_true(pf__val(r, i, 3))) pf__field_raw(s, "unique", "true");
    pf__item_end(s);
  }
  return 0;
}

static int pf__snap_constraints(pf__snap_t *s) {
  static const struct {
    char code;
    const char *name;
  } types[] = {{'p', "primary_key"}, {'f', "foreign_key"}, {'u', "unique"}, {'c', "check"}, {'x', "exclusion"}};
  char *sql = pf_xasprintf(pf__q_constraints, s->server_version >= 180000 ? "WHEN NOT co.conenforced THEN 'notenforced'" : "",
                           s->server_version >= 110000 ? " AND co.conparentid = 0" : "");
  const pf__rows_t *r;
  int rc = pf__snap_query(s, "constraints", sql, 4, &pf__by_3, &r);
  free(sql);
  if (rc != 0) return rc;
  s->list_key = "constraints";
  for (int i = 0; i < r->n; i++) {
    const char *schema = pf__val(r, i, 0), *table = pf__val(r, i, 1), *name = pf__val(r, i, 2);
    const char *code = pf__val(r, i, 3), *refs = pf__val(r, i, 5);
    if (strcmp(pf__val(r, i, 4), "notenforced") == 0) {
      pf__comment(s, "  ", "constraint %s on %s.%s: NOT ENFORCED (PostgreSQL does not check it); not written", name, schema,
                  table);
      continue;
    }
    if (!pf__is_true(pf__val(r, i, 4))) {
      pf__comment(s, "  ", "constraint %s on %s.%s: NOT VALID (existing rows were never checked); not written", name, schema,
                  table);
      continue;
    }
    const char *type = NULL;
    for (size_t k = 0; k < PF_ARRAY_SIZE(types); k++)
      if (types[k].code == code[0]) type = types[k].name;
    pf__item(s, "  ");
    pf__field(s, "name", name);
    pf__table_field(s, schema, table);
    if (type) pf__field(s, "type", type);
    /* Verification reads a target with "(" before its first dot as unqualified; such a target
     * (a schema name with "(") is left out rather than misread. */
    if (refs) {
      const char *dot = strchr(refs, '.'), *paren = strchr(refs, '(');
      if (dot && paren && dot < paren) pf__field(s, "references", refs);
    }
    pf__item_end(s);
  }
  return 0;
}

/* Writes triggers or policies from rows of (schema, table, name, usable). An object that is not
 * usable (a disabled trigger; a policy on a table without row level security) is one that
 * verification would report, so it becomes a comment that says why_not. */
static int pf__snap_on_table(pf__snap_t *s, const char *kind, const char *key, const char *sql, const char *why_not) {
  const pf__rows_t *r;
  int rc = pf__snap_query(s, key, sql, 4, &pf__by_3, &r);
  if (rc != 0) return rc;
  s->list_key = key;
  for (int i = 0; i < r->n; i++) {
    const char *schema = pf__val(r, i, 0), *table = pf__val(r, i, 1), *name = pf__val(r, i, 2);
    if (!pf__is_true(pf__val(r, i, 3))) {
      pf__comment(s, "  ", "%s %s on %s.%s: %s", kind, name, schema, table, why_not);
      continue;
    }
    pf__item(s, "  ");
    pf__field(s, "name", name);
    pf__table_field(s, schema, table);
    /* A trigger's state when it is not the default (ENABLE): ALWAYS or REPLICA. */
    const char *state = PQnfields(r->r) > 4 ? pf__val(r, i, 4) : NULL;
    if (state && state[0] == 'A') pf__field(s, "enabled", "always");
    if (state && state[0] == 'R') pf__field(s, "enabled", "replica");
    pf__item_end(s);
  }
  return 0;
}

/* Writes the header: where and when the snapshot was taken, with which filters, and what a
 * snapshot never contains. The date honours SOURCE_DATE_EPOCH, for reproducible output. */
static void pf__snap_header(pf_buf_t *h, pf__snap_t *s, const char *const *schemas, int nschemas, const char *const *tables,
                            int ntables, const char *search_path) {
  time_t now = time(NULL);
  const char *sde = getenv("SOURCE_DATE_EPOCH");
  if (sde && *sde && strspn(sde, "0123456789") == strlen(sde)) now = (time_t)strtoll(sde, NULL, 10);
  struct tm tm;
  char date[32] = "?";
  if (gmtime_r(&now, &tm)) strftime(date, sizeof(date), "%Y-%m-%d", &tm);
  const char *version = PQparameterStatus(pf_db_conn(s->db), "server_version");

  pf_buf_t line = {0};
  pf_buf_printf(&line, "Generated by preflight snapshot on %s from PostgreSQL %s.", date, version ? version : "(unknown)");
  pf_buf_puts(h, "# ");
  pf__comment_text(h, line.data);
  pf_buf_free(&line);
  pf_buf_puts(h, "\n# Filters:");
  if (nschemas == 0 && ntables == 0) pf_buf_puts(h, " none (every user object)");
  for (int i = 0; i < nschemas; i++) {
    pf_buf_t q = {0};
    pf_snapshot_yaml_scalar(&q, schemas[i]);
    pf_buf_puts(h, " --schema ");
    pf__comment_text(h, q.data);
    pf_buf_free(&q);
  }
  for (int i = 0; i < ntables; i++) {
    pf_buf_t q = {0};
    pf_snapshot_yaml_scalar(&q, tables[i]);
    pf_buf_puts(h, " --table ");
    pf__comment_text(h, q.data);
    pf_buf_free(&q);
  }
  pf_buf_puts(h, "\n");
  if (s->notes.len) pf_buf_puts(h, s->notes.data);
  pf_buf_puts(h, "# Names outside pg_catalog are written schema-qualified (read with search_path = pg_catalog; the\n"
              "# session's was ");
  pf__comment_text(h, search_path ? search_path : "?");
  pf_buf_puts(h, "), so this snapshot means the same under any search_path.\n");
  if (!s->partitions)
    pf_buf_puts(h, "# Partitions are described by their partitioned table and not written (--partitions writes them).\n");
  pf_buf_puts(h,
              "# Not written: roles (they belong to the cluster, not to this database) and grants (they\n"
              "# depend on the deployment): add them by hand if the application relies on them. Nor are\n"
              "# objects that belong to extensions, indexes that implement a constraint, identity sequences,\n"
              "# or the copies of indexes, constraints and triggers that partitions inherit.\n"
              "version: 1\n");
}

int pf_snapshot_write(pf_db_t *db, const char *const *schemas, int nschemas, const char *const *tables, int ntables,
                      const char *default_schema, bool partitions, FILE *out, char *err, size_t errlen) {
  pf__snap_t s = {.db = db, .err = err, .errlen = errlen, .partitions = partitions};
  s.server_version = PQserverVersion(pf_db_conn(db));
  if (default_schema == NULL) default_schema = "public";
  if (nschemas < 0) nschemas = 0;
  if (ntables < 0) ntables = 0;

  /* The filters, as array literals for $1..$3. */
  pf_buf_t arr[3] = {{0}};
  char **tschemas = pf_xcalloc((size_t)ntables + 1, sizeof(char *));
  char **tnames = pf_xcalloc((size_t)ntables + 1, sizeof(char *));
  bool *schema_found = pf_xcalloc((size_t)nschemas + 1, sizeof(bool));
  bool *table_found = pf_xcalloc((size_t)ntables + 1, sizeof(bool));
  if (nschemas > 0) {
    pf_buf_putc(&arr[0], '{');
    for (int i = 0; i < nschemas; i++) pf_catalog_array_add(&arr[0], schemas[i]);
    pf_buf_putc(&arr[0], '}');
  }
  if (ntables > 0) {
    pf_buf_putc(&arr[1], '{');
    pf_buf_putc(&arr[2], '{');
    for (int i = 0; i < ntables; i++) {
      pf_snapshot_split_table(tables[i], default_schema, &tschemas[i], &tnames[i]);
      pf_catalog_array_add(&arr[1], tschemas[i]);
      pf_catalog_array_add(&arr[2], tnames[i]);
    }
    pf_buf_putc(&arr[1], '}');
    pf_buf_putc(&arr[2], '}');
  }
  for (int i = 0; i < 3; i++) s.params[i] = arr[i].data;
  s.params[3] = partitions ? "true" : "false";
  /* With only --table, the kinds that do not live on a table are not wanted at all. */
  bool schema_kinds = !(nschemas == 0 && ntables > 0);

  char *search_path = NULL;
  bool in_txn = false;
  /* With only pg_catalog on the search path, format_type, pg_get_expr, oidvectortypes and
   * pg_get_function_result qualify every name outside it: the output does not depend on the
   * session's search_path (Supabase puts `extensions` on it; another role may not). SET LOCAL
   * ends with the transaction. */
  int rc = pf_db_query(db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT pg_catalog.current_setting('search_path')",
                       -1, NULL, 0);
  if (rc == PF_EDB) rc = pf_seterr(err, errlen, PF_EDB, "snapshot: cannot start a read-only transaction: %s",
                                   pf_db_last_error(db)->message);
  if (rc == 0) {
    in_txn = true;
    PGresult *r = pf_db_result(db);
    if (r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) search_path = pf_xstrdup(PQgetvalue(r, 0, 0));
    rc = pf_db_query(db, "SET LOCAL search_path = pg_catalog", -1, NULL, 0);
    if (rc == PF_EDB)
      rc = pf_seterr(err, errlen, PF_EDB, "snapshot: cannot set the search_path: %s", pf_db_last_error(db)->message);
  }
  if (rc == 0 && schema_kinds) rc = pf__snap_extensions(&s);
  if (rc == 0 && schema_kinds) rc = pf__snap_schemas(&s, schemas, nschemas, schema_found);
  if (rc == 0 && schema_kinds) rc = pf__snap_types(&s);
  if (rc == 0 && schema_kinds) rc = pf__snap_relations(&s, "sequences", "sequences", pf__q_sequences, false);
  if (rc == 0) rc = pf__snap_tables(&s, tschemas, tnames, ntables, table_found);
  if (rc == 0 && schema_kinds) rc = pf__snap_relations(&s, "views", "views", pf__q_views, true);
  if (rc == 0 && schema_kinds) rc = pf__snap_functions(&s);
  if (rc == 0) rc = pf__snap_indexes(&s);
  if (rc == 0) rc = pf__snap_constraints(&s);
  if (rc == 0) {
    char *sql = pf_xasprintf(pf__q_triggers, s.server_version >= 130000 ? " AND t.tgparentid = 0" : "");
    rc = pf__snap_on_table(&s, "trigger", "triggers", sql, "disabled; not written");
    free(sql);
  }
  if (rc == 0)
    rc = pf__snap_on_table(&s, "policy", "policies", pf__q_policies,
                           "row level security is off on the table, so it is not enforced; not written");
  if (in_txn && rc != PF_ESIGNAL && pf_db_connected(db)) {
    /* Read only: COMMIT and ROLLBACK are the same, but a failed query needs the ROLLBACK. */
    int r2 = pf_db_query(db, rc == 0 ? "COMMIT" : "ROLLBACK", -1, NULL, 0);
    if (r2 == PF_ESIGNAL) rc = r2;
    else if (r2 != 0 && rc == 0)
      rc = pf_seterr(err, errlen, PF_EDB, "snapshot: cannot end the transaction: %s", pf_db_last_error(db)->message);
  }

  if (rc == 0) {
    for (int i = 0; i < nschemas; i++) {
      if (schema_found[i]) continue;
      pf_buf_t q = {0};
      pf_snapshot_yaml_scalar(&q, schemas[i]);
      pf_buf_puts(&s.notes, "# --schema ");
      pf__comment_text(&s.notes, q.data);
      pf_buf_puts(&s.notes, ": no such schema (names are exact and case-sensitive)\n");
      pf_log_warn("snapshot: --schema %s: no such schema", q.data);
      pf_buf_free(&q);
    }
    for (int i = 0; i < ntables; i++) {
      if (table_found[i]) continue;
      pf_buf_t q = {0};
      pf_snapshot_yaml_scalar(&q, tschemas[i]);
      pf_buf_putc(&q, '.');
      pf_snapshot_yaml_scalar(&q, tnames[i]);
      pf_buf_puts(&s.notes, "# --table ");
      pf__comment_text(&s.notes, q.data);
      pf_buf_puts(&s.notes, ": no such table (names are exact and case-sensitive)\n");
      pf_log_warn("snapshot: --table %s: no such table", q.data);
      pf_buf_free(&q);
    }
    if (s.lossy) pf_log_warn("snapshot: some names are not valid UTF-8; they are written with \\x escapes and will not match");
    pf_buf_t head = {0};
    pf__snap_header(&head, &s, schemas, nschemas, tables, ntables, search_path);
    /* The same limit `check` will apply to what is written here, PREFLIGHT_MANIFEST_MAX_BYTES
     * included (an unusable value is reported by the manifest loader; the default stands here). */
    size_t limit = PF_MANIFEST_MAX_BYTES;
    char lerr[256];
    if (pf_manifest_max_bytes(&limit, lerr, sizeof(lerr)) != 0) limit = PF_MANIFEST_MAX_BYTES;
    if (head.len + s.body.len > limit)
      pf_log_warn("snapshot: the output is %zu bytes, over the %zu bytes a manifest may have: narrow it with "
                  "--schema or --table, or raise PREFLIGHT_MANIFEST_MAX_BYTES", head.len + s.body.len, limit);
    errno = 0;
    bool ok = fwrite(head.data, 1, head.len, out) == head.len;
    if (ok && s.body.len) ok = fwrite(s.body.data, 1, s.body.len, out) == s.body.len;
    if (fflush(out) != 0) ok = false;
    if (!ok) rc = pf_seterr(err, errlen, PF_EIO, "snapshot: cannot write the output: %s", errno ? strerror(errno) : "short write");
    pf_buf_free(&head);
  }

  free(search_path);
  free(s.rows.ix);
  pf_buf_free(&s.body);
  pf_buf_free(&s.notes);
  for (int i = 0; i < 3; i++) pf_buf_free(&arr[i]);
  for (int i = 0; i < ntables; i++) free(tschemas[i]), free(tnames[i]);
  free(tschemas);
  free(tnames);
  free(schema_found);
  free(table_found);
  return rc;
}
