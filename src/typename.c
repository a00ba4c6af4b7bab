/* Type names read as PostgreSQL's grammar reads them (see include/preflight/typename.h).
 *
 * The grammar covered: an optionally schema-qualified name (each part quoted or not; unquoted
 * parts are lowercased), or one of SQL's multi-word spellings ("double precision", "character
 * varying", "timestamp with time zone", "interval day to second"...); one parenthesised list of
 * type modifiers after any word of it; then array bounds ("[]", "[3]", "array"). SQL's
 * spellings are mapped to the catalog names gram.y maps them to (SystemTypeName). */
#include "preflight/typename.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "preflight/util.h"

/* SQL spellings of built-in types (unquoted, lowercased, one space between words) and the
 * pg_type.typname each stands for. Any other single unquoted word is a typname itself. */
static const struct {
  const char *sql;
  const char *typname;
} pf__aliases[] = {
    {"int", "int4"},
    {"integer", "int4"},
    {"smallint", "int2"},
    {"bigint", "int8"},
    {"real", "float4"},
    {"double precision", "float8"},
    {"decimal", "numeric"},
    {"dec", "numeric"},
    {"boolean", "bool"},
    {"char", "bpchar"},
    {"character", "bpchar"},
    {"nchar", "bpchar"},
    {"national character", "bpchar"},
    {"national char", "bpchar"},
    {"character varying", "varchar"},
    {"char varying", "varchar"},
    {"nchar varying", "varchar"},
    {"national character varying", "varchar"},
    {"national char varying", "varchar"},
    {"bit varying", "varbit"},
    {"timestamp without time zone", "timestamp"},
    {"timestamp with time zone", "timestamptz"},
    {"time without time zone", "time"},
    {"time with time zone", "timetz"},
};

/* The field restrictions of an interval ("interval day to second"): part of its modifier,
 * which format_type shows after the name; they are accepted and not compared. */
static const char *const pf__interval_fields[] = {
    "year", "month", "day", "hour", "minute", "second", "year to month", "day to hour", "day to minute",
    "day to second", "hour to minute", "hour to second", "minute to second",
};

static bool pf__ident_start(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80; }
static bool pf__ident_char(unsigned char c) { return pf__ident_start(c) || (c >= '0' && c <= '9') || c == '$'; }

static void pf__skip_space(const char **p) {
  while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r') (*p)++;
}

/* Reads one identifier at *p into a new string: quoted ("" is a quote) or unquoted
 * (lowercased). Returns NULL with err set if there is none. */
static char *pf__ident(const char **p, bool *quoted, char *err, size_t errlen) {
  const char *s = *p;
  pf_buf_t b = {0};
  *quoted = false;
  if (*s == '"') {
    *quoted = true;
    for (s++;; s++) {
      if (*s == '\0') {
        pf_buf_free(&b);
        snprintf(err, errlen, "unterminated quoted name");
        return NULL;
      }
      if (*s == '"') {
        if (s[1] != '"') break;
        s++;
      }
      pf_buf_putc(&b, *s);
    }
    s++;
    if (b.len == 0) {
      pf_buf_free(&b);
      snprintf(err, errlen, "empty quoted name");
      return NULL;
    }
  } else if (pf__ident_start((unsigned char)*s)) {
    for (; pf__ident_char((unsigned char)*s); s++) pf_buf_putc(&b, *s >= 'A' && *s <= 'Z' ? (char)(*s - 'A' + 'a') : *s);
  } else {
    if (*s == '\0') snprintf(err, errlen, "a type name is missing");
    else snprintf(err, errlen, "unexpected \"%c\"", *s);
    return NULL;
  }
  *p = s;
  return pf_buf_steal(&b);
}

/* Reads "( ... )" at *p into mods (white space removed). */
static bool pf__mods(const char **p, pf_buf_t *mods, char *err, size_t errlen) {
  const char *s = *p + 1;
  for (; *s != ')'; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == ' ' || c == '\t') continue;
    if (!(pf__ident_char(c) || c == ',' || c == '-' || c == '+' || c == '.')) {
      snprintf(err, errlen, c ? "unexpected \"%c\" in the type modifiers" : "unterminated type modifiers", c);
      return false;
    }
    pf_buf_putc(mods, (char)c);
  }
  if (mods->len == 0) {
    snprintf(err, errlen, "empty type modifiers");
    return false;
  }
  *p = s + 1;
  return true;
}

void pf_typename_free(pf_typename_t *t) {
  free(t->database);
  free(t->schema);
  free(t->name);
  free(t->mods);
  memset(t, 0, sizeof(*t));
}

bool pf_typename_parse(const char *text, pf_typename_t *out, char *err, size_t errlen) {
  memset(out, 0, sizeof(*out));
  if (errlen) err[0] = '\0';
  const char *p = text ? text : "";
  char *parts[3] = {NULL};
  bool quoted[3] = {false};
  int nparts = 0;
  pf_buf_t words = {0}, mods = {0};
  bool ok = false;
  int nmods = 0;

  pf__skip_space(&p);
  for (;;) {
    parts[nparts] = pf__ident(&p, &quoted[nparts], err, errlen);
    if (parts[nparts] == NULL) goto done;
    nparts++;
    pf__skip_space(&p);
    if (*p != '.') break;
    if (nparts == 3) break;
    p++;
    pf__skip_space(&p);
  }
  /* SQL's multi-word spellings: only after one unquoted word. */
  pf_buf_puts(&words, parts[0]);
  for (;;) {
    if (*p == '(') {
      if (nmods++ > 0) {
        snprintf(err, errlen, "only one parenthesised list is allowed");
        goto done;
      }
      if (!pf__mods(&p, &mods, err, errlen)) goto done;
      pf__skip_space(&p);
      continue;
    }
    if (nparts == 1 && !quoted[0] && pf__ident_start((unsigned char)*p)) {
      const char *save = p;
      bool q;
      char *w = pf__ident(&p, &q, err, errlen);
      if (strcmp(w, "array") == 0) { /* lowercased by pf__ident */
        free(w);
        p = save;
        break;
      }
      pf_buf_putc(&words, ' ');
      pf_buf_puts(&words, w);
      free(w);
      pf__skip_space(&p);
      continue;
    }
    break;
  }
  /* Array bounds: [] or [N], repeated, or the word ARRAY with at most one [N]. */
  if (strncasecmp(p, "array", 5) == 0) {
    if (pf__ident_char((unsigned char)p[5])) {
      snprintf(err, errlen, "unexpected \"%c\"", *p);
      goto done;
    }
    p += 5;
    out->dims = 1;
    pf__skip_space(&p);
    if (*p == '[') {
      for (p++; *p >= '0' && *p <= '9'; p++) {}
      if (*p != ']') {
        snprintf(err, errlen, "expected ] in the array bounds");
        goto done;
      }
      p++;
      pf__skip_space(&p);
    }
  } else {
    while (*p == '[') {
      for (p++; *p == ' '; p++) {}
      for (; *p >= '0' && *p <= '9'; p++) {}
      for (; *p == ' '; p++) {}
      if (*p != ']') {
        snprintf(err, errlen, "expected ] in the array bounds");
        goto done;
      }
      p++;
      out->dims++;
      pf__skip_space(&p);
    }
  }
  if (*p != '\0') {
    snprintf(err, errlen, "unexpected \"%c\"", *p);
    goto done;
  }

  if (nparts == 3) {
    /* database.schema.name: PostgreSQL's grammar reads it and then refuses it ("cross-database
     * references are not implemented"); kept so that verification says so on its item. */
    out->database = parts[0];
    out->schema = parts[1];
    out->name = parts[2];
    parts[0] = parts[1] = parts[2] = NULL;
  } else if (nparts == 2) {
    out->schema = parts[0];
    out->name = parts[1];
    parts[0] = parts[1] = NULL;
  } else if (quoted[0]) {
    out->name = parts[0];
    parts[0] = NULL;
  } else {
    const char *w = words.data;
    const char *typname = NULL;
    for (size_t i = 0; i < PF_ARRAY_SIZE(pf__aliases) && !typname; i++)
      if (strcmp(w, pf__aliases[i].sql) == 0) typname = pf__aliases[i].typname;
    if (!typname && strcmp(w, "float") == 0) {
      /* FLOAT(p): real up to 24 binary digits, double precision above; the precision is no
       * modifier of the resulting type. */
      typname = mods.len && atoi(mods.data) <= 24 ? "float4" : "float8";
      mods.len = 0;
    }
    if (!typname && strncmp(w, "interval ", 9) == 0)
      for (size_t i = 0; i < PF_ARRAY_SIZE(pf__interval_fields); i++)
        if (strcmp(w + 9, pf__interval_fields[i]) == 0) typname = "interval";
    if (!typname && strchr(w, ' ') != NULL) {
      snprintf(err, errlen, "\"%s\" is not a type name PostgreSQL knows", w);
      goto done;
    }
    out->name = pf_xstrdup(typname ? typname : w);
  }
  out->mods = pf_xstrndup(mods.len ? mods.data : "", mods.len);
  ok = true;

done:
  for (int i = 0; i < 3; i++) free(parts[i]);
  pf_buf_free(&words);
  pf_buf_free(&mods);
  if (!ok) pf_typename_free(out);
  return ok;
}

void pf_typename_split_args(const char *args, void (*each)(void *ctx, const char *arg), void *ctx) {
  const char *p = args ? args : "";
  while (*p) {
    int depth = 0;
    bool in_quotes = false;
    const char *q = p;
    for (; *q && !(*q == ',' && depth == 0 && !in_quotes); q++) {
      if (*q == '"') in_quotes = !in_quotes; /* "" inside quotes toggles twice: still inside */
      else if (!in_quotes && *q == '(') depth++;
      else if (!in_quotes && *q == ')') depth--;
    }
    const char *a = p, *b = q;
    while (a < b && (*a == ' ' || *a == '\t' || *a == '\n')) a++;
    while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\n')) b--;
    if (b > a) {
      char *arg = pf_xstrndup(a, (size_t)(b - a));
      each(ctx, arg);
      free(arg);
    }
    p = *q ? q + 1 : q;
  }
}
