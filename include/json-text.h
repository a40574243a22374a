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

/* The same text written a member at a time, for a document too large to be
 * worth a tree: the caller gives each object's keys in jansson's sorted
 * order (json_text_key_cmp()), and the text is that of json_text_sorted()
 * of the tree those calls describe. sink NULL: the text is kept, for
 * json_text_writer_finish(). */
typedef struct JsonWriter JsonWriter;
JsonWriter *json_writer_new(unsigned indent, JsonTextSink sink, void *userdata);
/* Opens an object ('{') or array ('['), as a value. */
void json_writer_open(JsonWriter *w, char open);
/* Closes the innermost one: close is '}' or ']'. */
void json_writer_close(JsonWriter *w, char close);
/* Starts a member of the open object: its value comes next. */
void json_writer_key(JsonWriter *w, const char *key);
/* Starts an element of the open array: its value comes next. */
void json_writer_item(JsonWriter *w);
void json_writer_string(JsonWriter *w, const char *s);
/* A value from a tree, written as json_text_sorted() would at this place. */
void json_writer_value(JsonWriter *w, const json_t *j);
/* Ends the document with suffix (may be NULL), hands the rest to the sink
 * and frees w. 0, or -1 when a value could not be written, the sink failed
 * or what was opened was not closed. Without a sink, *ret_text (if not
 * NULL) is the NUL-terminated text and *ret_size its length. */
int json_writer_finish(JsonWriter *w, const char *suffix, char **ret_text, size_t *ret_size);
void json_writer_free(JsonWriter *w);

/* jansson's order of keys, for strcmp()-like sorting. */
int json_text_key_cmp(const char *a, const char *b);

/* A copy of s that is valid UTF-8, as JSON text must be: each byte that
 * starts no valid sequence becomes U+FFFD. A file name on disk is bytes;
 * jansson refuses a string that is not UTF-8. */
char *json_text_utf8(const char *s);
