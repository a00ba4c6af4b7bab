/* `preflight schema`: a JSON Schema (draft 2020-12) of the manifest, generated from the same
 * tables the parser reads (src/manifest_keys.c), so that editors (yaml-language-server, VS Code,
 * JetBrains) complete and check manifests exactly as preflight reads them. */
#ifndef PREFLIGHT_MANIFEST_SCHEMA_H
#define PREFLIGHT_MANIFEST_SCHEMA_H

#include "preflight/util.h"

/* Appends the schema, as indented JSON ending in a newline, to out. */
void pf_manifest_schema(pf_buf_t *out);

#endif
