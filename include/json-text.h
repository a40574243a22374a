/* SPDX-License-Identifier: MIT */
#pragma once

#include <jansson.h>
#include <stddef.h>

/* The text of json_dumps(j, JSON_SORT_KEYS | JSON_INDENT(indent)), byte for
 * byte, followed by suffix (may be NULL), written in one pass into one
 * buffer: jansson's writer goes through a callback per token, which made
 * it most of the time an SBOM of thousands of files takes. indent is 1 to
 * 31, as JSON_INDENT() allows. NULL when jansson's would fail too (a value
 * that is not an object or an array at the top, or a NULL). */
char *json_text_sorted(const json_t *j, unsigned indent, const char *suffix);
