/* The JSON Schema of the manifest, written from the tables in manifest_keys.c and nothing else:
 * every section and kind table becomes an object schema with additionalProperties false, every
 * key's type, enum values, pattern and description come from its table line. What the schema
 * cannot say (duplicate names, files that must exist, a duration's upper bound, sums of units
 * that overflow) the parser still checks; tests/e2e/test_schema.py marks those cases. */
#include "preflight/manifest_schema.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "manifest_keys.h"

/* A scalar read as text: YAML gives numbers and booleans their own JSON types, but preflight
 * reads `default: 0` or `version: 20240101` as the text it is written with. */
#define PF__SCALAR "[\"string\", \"number\", \"boolean\"]"

/* Durations: a bare integer of seconds, or numbers with units, optionally summed. */
#define PF__DURATION_RE "^(?:[0-9]+|(?:[0-9]+(?:ms|min|s|m|h))+)$"
/* Text in which every "${" is a well-formed ${NAME}, ${NAME:-default} or ${NAME-default} and "$$"
 * is a literal "$" (src/expand.c). */
#define PF__EXPAND_RE \
  "^(?:[^$]|\\$\\$|\\$(?!\\{)|\\$\\{[A-Za-z_][A-Za-z0-9_]*(?::?-[^}]*)?\\})*$"

/* Writes `n` levels of two-space indentation after a newline. */
static void pf__sindent(pf_buf_t *b, int n) {
  pf_buf_putc(b, '\n');
  for (int i = 0; i < n; i++) pf_buf_puts(b, "  ");
}

/* Writes "key": at the given depth, with a comma before unless first. */
static void pf__skey(pf_buf_t *b, int depth, bool *first, const char *key) {
  if (!*first) pf_buf_putc(b, ',');
  *first = false;
  pf__sindent(b, depth);
  pf_buf_json_string(b, key);
  pf_buf_puts(b, ": ");
}

/* Appends a regular expression that matches any of the NULL-terminated words, ignoring case. */
static void pf__snocase(pf_buf_t *re, const char *const *words) {
  pf_buf_puts(re, "^(?:");
  for (size_t i = 0; words[i] != NULL; i++) {
    if (i) pf_buf_putc(re, '|');
    for (const char *p = words[i]; *p; p++) {
      if (isalpha((unsigned char)*p))
        pf_buf_printf(re, "[%c%c]", toupper((unsigned char)*p), tolower((unsigned char)*p));
      else
        pf_buf_putc(re, *p);
    }
  }
  pf_buf_puts(re, ")$");
}

static void pf__ssection(pf_buf_t *b, int depth, bool *first, const pf_msection_t *sec, bool item);

/* Writes the schema of one key's value (an object) at the given depth. */
static void pf__svalue(pf_buf_t *b, int depth, const pf_mkey_t *k) {
  bool first = true;
  pf_buf_putc(b, '{');
  if (k->desc != NULL) {
    char desc[640];
    snprintf(desc, sizeof(desc), "%s%s", k->desc,
             (k->flags & PF_MK_EXPAND) ? " ${VAR} and ${VAR:-default} are expanded." : "");
    pf__skey(b, depth + 1, &first, "description");
    pf_buf_json_string(b, desc);
  }
  switch (k->value) {
    case PF_MV_STRING:
      pf__skey(b, depth + 1, &first, "type");
      pf_buf_puts(b, (k->flags & PF_MK_UNSET_OK) ? "[\"string\", \"number\", \"boolean\", \"null\"]"
                                                 : PF__SCALAR);
      if (!(k->flags & PF_MK_UNSET_OK)) {
        pf__skey(b, depth + 1, &first, "minLength");
        pf_buf_puts(b, "1");
      }
      if (k->pattern != NULL || (k->flags & PF_MK_EXPAND)) {
        pf__skey(b, depth + 1, &first, "pattern");
        pf_buf_json_string(b, k->pattern != NULL ? k->pattern : PF__EXPAND_RE);
      }
      break;
    case PF_MV_BOOL:
      pf__skey(b, depth + 1, &first, "type");
      pf_buf_puts(b, "\"boolean\"");
      break;
    case PF_MV_ENUM:
      pf__skey(b, depth + 1, &first, "enum");
      pf_buf_putc(b, '[');
      for (size_t i = 0; k->choices[i] != NULL; i++) {
        if (i) pf_buf_puts(b, ", ");
        pf_buf_json_string(b, k->choices[i]);
      }
      pf_buf_putc(b, ']');
      break;
    case PF_MV_LIST: {
      pf__skey(b, depth + 1, &first, "type");
      pf_buf_puts(b, "\"array\"");
      if (k->flags & PF_MK_NONEMPTY) {
        pf__skey(b, depth + 1, &first, "minItems");
        pf_buf_puts(b, "1");
      }
      pf__skey(b, depth + 1, &first, "items");
      pf_buf_puts(b, "{\"type\": " PF__SCALAR ", \"minLength\": 1");
      if (k->choices != NULL) {
        pf_buf_t re = {0};
        pf__snocase(&re, k->choices);
        pf_buf_puts(b, ", \"pattern\": ");
        pf_buf_json_string(b, re.data);
        pf_buf_free(&re);
      }
      pf_buf_putc(b, '}');
      break;
    }
    case PF_MV_DURATION:
      pf__skey(b, depth + 1, &first, "anyOf");
      pf_buf_puts(b, "[{\"type\": \"integer\", \"minimum\": 0}, {\"type\": \"string\", \"pattern\": ");
      pf_buf_json_string(b, PF__DURATION_RE);
      pf_buf_putc(b, '}');
      if (k->flags & PF_MK_EXPAND) {
        /* A variable that expands to a duration at start-up. */
        pf_buf_puts(b, ", {\"type\": \"string\", \"allOf\": [{\"pattern\": \"\\\\$\\\\{\"}, {\"pattern\": ");
        pf_buf_json_string(b, PF__EXPAND_RE);
        pf_buf_puts(b, "}]}");
      }
      pf_buf_putc(b, ']');
      break;
    case PF_MV_VERSION:
      pf__skey(b, depth + 1, &first, "const");
      pf_buf_puts(b, "1");
      break;
    case PF_MV_SECTION:
      pf__ssection(b, depth + 1, &first, k->section, false);
      break;
    case PF_MV_ITEMS:
      pf__skey(b, depth + 1, &first, "type");
      pf_buf_puts(b, "[\"array\", \"null\"]");
      pf__skey(b, depth + 1, &first, "items");
      pf_buf_printf(b, "{\"$ref\": \"#/$defs/%s\"}", pf_kind_name((pf_kind_t)k->sub));
      break;
    case PF_MV_CUSTOM:
      /* The key's own schema object, spliced in after the description. */
      if (k->schema_json != NULL && k->schema_json[0] == '{' && k->schema_json[1] != '}') {
        if (!first) pf_buf_putc(b, ',');
        first = false;
        pf__sindent(b, depth + 1);
        pf_buf_append(b, k->schema_json + 1, strlen(k->schema_json) - 2);
      }
      break;
  }
  pf__sindent(b, depth);
  pf_buf_putc(b, '}');
}

/* Writes the members of an object schema for a section or kind table, without braces (*first:
 * nothing written in this object yet). Sections may be null (read as empty); items and the
 * document must be mappings, and items may not carry both fallback and fallback_file. */
static void pf__ssection(pf_buf_t *b, int depth, bool *firstp, const pf_msection_t *sec,
                         bool item) {
  bool first = *firstp;
  *firstp = false;
  pf__skey(b, depth, &first, "type");
  pf_buf_puts(b, item ? "\"object\"" : "[\"object\", \"null\"]");
  pf__skey(b, depth, &first, "additionalProperties");
  pf_buf_puts(b, "false");
  pf__skey(b, depth, &first, "properties");
  pf_buf_putc(b, '{');
  bool pfirst = true;
  for (size_t i = 0; i < sec->nkeys; i++) {
    pf__skey(b, depth + 1, &pfirst, sec->keys[i].key);
    pf__svalue(b, depth + 1, &sec->keys[i]);
  }
  pf__sindent(b, depth);
  pf_buf_putc(b, '}');
  bool any = false;
  for (size_t i = 0; i < sec->nkeys; i++) {
    if (!(sec->keys[i].flags & PF_MK_REQUIRED)) continue;
    if (!any) {
      pf__skey(b, depth, &first, "required");
      pf_buf_putc(b, '[');
    }
    if (any) pf_buf_puts(b, ", ");
    pf_buf_json_string(b, sec->keys[i].key);
    any = true;
  }
  if (any) pf_buf_putc(b, ']');
  if (item && pf_mkey_find(sec, "fallback") >= 0 && pf_mkey_find(sec, "fallback_file") >= 0) {
    pf__skey(b, depth, &first, "not");
    pf_buf_puts(b, "{\"required\": [\"fallback\", \"fallback_file\"]}");
  }
}

/* Writes the whole schema; see manifest_schema.h. */
void pf_manifest_schema(pf_buf_t *b) {
  bool first = true;
  pf_buf_putc(b, '{');
  pf__skey(b, 1, &first, "$schema");
  pf_buf_puts(b, "\"https://json-schema.org/draft/2020-12/schema\"");
  pf__skey(b, 1, &first, "$id");
  pf_buf_printf(b, "\"urn:preflight:manifest:1:%s\"", PF_VERSION);
  pf__skey(b, 1, &first, "title");
  pf_buf_json_string(b, "preflight manifest (version 1)");
  pf__skey(b, 1, &first, "description");
  pf_buf_json_string(b, pf_mroot.desc);
  pf__ssection(b, 1, &first, &pf_mroot, true);
  pf__skey(b, 1, &first, "$defs");
  pf_buf_putc(b, '{');
  bool dfirst = true;
  for (int k = 0; k < PF_KIND__COUNT; k++) {
    pf__skey(b, 2, &dfirst, pf_kind_name((pf_kind_t)k));
    pf_buf_putc(b, '{');
    bool kfirst = true;
    pf__skey(b, 3, &kfirst, "description");
    pf_buf_json_string(b, pf_mkinds[k].desc);
    pf__ssection(b, 3, &kfirst, &pf_mkinds[k], true);
    pf__sindent(b, 2);
    pf_buf_putc(b, '}');
  }
  pf__sindent(b, 1);
  pf_buf_putc(b, '}');
  pf__sindent(b, 0);
  pf_buf_puts(b, "}\n");
}
