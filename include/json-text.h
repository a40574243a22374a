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

/* The same text handed to sink in pieces of about 64 KiB, in order, so
 * that a large document is never held whole; sink returns a negative
 * number to fail. 0, or -1 when the value cannot be written or the sink
 * failed (the rest is then not handed over). */
typedef int (*JsonTextSink)(const char *data, size_t size, void *userdata);
int json_text_sorted_to(const json_t *j, unsigned indent, const char *suffix, JsonTextSink sink, void *userdata);
