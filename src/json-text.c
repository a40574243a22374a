/* SPDX-License-Identifier: MIT */
#include "json-text.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

typedef struct Text {
        char *p;
        size_t n, cap;
        JsonTextSink sink; /* NULL: all of it in p */
        void *userdata;
        bool failed; /* the sink said no: the rest is dropped */
} Text;

/* With a sink, the text goes to it in pieces of about this many bytes. */
#define JSON_TEXT_PIECE (64u * 1024u)

static void reserve(Text *t, size_t more)
{
        if (t->sink && t->n > 0 && t->n + more > JSON_TEXT_PIECE) {
                if (!t->failed && t->sink(t->p, t->n, t->userdata) < 0)
                        t->failed = true;
                t->n = 0;
        }
        if (t->n + more <= t->cap)
                return;
        while (t->n + more > t->cap)
                t->cap = t->cap ? t->cap * 2 : 4096;
        t->p = xrealloc(t->p, t->cap);
}

static void put(Text *t, const char *s, size_t n)
{
        reserve(t, n);
        memcpy(t->p + t->n, s, n);
        t->n += n;
}

static void put_indent(Text *t, unsigned indent, unsigned depth)
{
        size_t n = (size_t) indent * depth;
        reserve(t, n + 1);
        t->p[t->n++] = '\n';
        memset(t->p + t->n, ' ', n);
        t->n += n;
}

/* As jansson escapes a string without JSON_ENSURE_ASCII or
 * JSON_ESCAPE_SLASH: the quote, the backslash and control characters. */
static void put_string(Text *t, const char *s, size_t n)
{
        reserve(t, n + 2);
        t->p[t->n++] = '"';
        size_t start = 0;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];
                if (c >= 0x20 && c != '"' && c != '\\')
                        continue;
                put(t, s + start, i - start);
                start = i + 1;
                char esc[8];
                switch (c) {
                case '"':
                        put(t, "\\\"", 2);
                        break;
                case '\\':
                        put(t, "\\\\", 2);
                        break;
                case '\b':
                        put(t, "\\b", 2);
                        break;
                case '\f':
                        put(t, "\\f", 2);
                        break;
                case '\n':
                        put(t, "\\n", 2);
                        break;
                case '\r':
                        put(t, "\\r", 2);
                        break;
                case '\t':
                        put(t, "\\t", 2);
                        break;
                default:
                        snprintf(esc, sizeof(esc), "\\u%04X", c);
                        put(t, esc, 6);
                        break;
                }
        }
        put(t, s + start, n - start);
        put(t, "\"", 1);
}

typedef struct Key {
        const char *key;
        size_t len;
        json_t *value;
} Key;

/* jansson's order of keys: bytes, then the shorter first. */
static int key_cmp(const void *a, const void *b)
{
        const Key *x = a, *y = b;
        int c = memcmp(x->key, y->key, x->len < y->len ? x->len : y->len);
        if (c)
                return c;
        return x->len < y->len ? -1 : x->len > y->len;
}

static int put_value(Text *t, const json_t *j, unsigned indent, unsigned depth)
{
        char buf[32];
        switch (json_typeof(j)) {
        case JSON_NULL:
                put(t, "null", 4);
                return 0;
        case JSON_TRUE:
                put(t, "true", 4);
                return 0;
        case JSON_FALSE:
                put(t, "false", 5);
                return 0;
        case JSON_INTEGER: {
                int n = snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
                put(t, buf, (size_t) n);
                return 0;
        }
        case JSON_REAL: {
                /* Rare in our documents: jansson's own formatting. */
                char *s = json_dumps(j, JSON_ENCODE_ANY);
                if (!s)
                        return -1;
                put(t, s, strlen(s));
                free(s);
                return 0;
        }
        case JSON_STRING:
                put_string(t, json_string_value(j), json_string_length(j));
                return 0;
        case JSON_ARRAY: {
                size_t n = json_array_size(j);
                if (n == 0) {
                        put(t, "[]", 2);
                        return 0;
                }
                put(t, "[", 1);
                put_indent(t, indent, depth + 1);
                for (size_t i = 0; i < n; i++) {
                        if (put_value(t, json_array_get(j, i), indent, depth + 1) < 0)
                                return -1;
                        if (i + 1 < n) {
                                put(t, ",", 1);
                                put_indent(t, indent, depth + 1);
                        } else {
                                put_indent(t, indent, depth);
                        }
                }
                put(t, "]", 1);
                return 0;
        }
        case JSON_OBJECT: {
                size_t n = json_object_size(j);
                if (n == 0) {
                        put(t, "{}", 2);
                        return 0;
                }
                put(t, "{", 1);
                _cleanup_free_ Key *keys = xcalloc(n, sizeof(Key));
                size_t k = 0;
                for (void *it = json_object_iter((json_t *) j); it && k < n;
                     it = json_object_iter_next((json_t *) j, it), k++)
                        keys[k] = (Key){ .key = json_object_iter_key(it),
                                         .len = json_object_iter_key_len(it),
                                         .value = json_object_iter_value(it) };
                qsort(keys, k, sizeof(Key), key_cmp);
                put_indent(t, indent, depth + 1);
                for (size_t i = 0; i < k; i++) {
                        put_string(t, keys[i].key, keys[i].len);
                        put(t, ": ", 2);
                        if (put_value(t, keys[i].value, indent, depth + 1) < 0)
                                return -1;
                        if (i + 1 < k) {
                                put(t, ",", 1);
                                put_indent(t, indent, depth + 1);
                        } else {
                                put_indent(t, indent, depth);
                        }
                }
                put(t, "}", 1);
                return 0;
        }
        }
        return -1;
}

static int put_document(Text *t, const json_t *j, unsigned indent, const char *suffix)
{
        if (!j || (!json_is_object(j) && !json_is_array(j)) || indent < 1 || indent > 31)
                return -1;
        if (put_value(t, j, indent, 0) < 0)
                return -1;
        if (suffix)
                put(t, suffix, strlen(suffix));
        return 0;
}

char *json_text_sorted(const json_t *j, unsigned indent, const char *suffix)
{
        Text t = { 0 };
        if (put_document(&t, j, indent, suffix) < 0) {
                free(t.p);
                return NULL;
        }
        put(&t, "", 1);
        return t.p;
}

int json_text_sorted_to(const json_t *j, unsigned indent, const char *suffix, JsonTextSink sink, void *userdata)
{
        Text t = { .sink = sink, .userdata = userdata };
        int r = put_document(&t, j, indent, suffix);
        if (r == 0 && t.n > 0 && !t.failed && sink(t.p, t.n, userdata) < 0)
                t.failed = true;
        free(t.p);
        return r < 0 || t.failed ? -1 : 0;
}

/* The open containers a writer can nest: an SPDX document needs five. */
#define JSON_WRITER_DEPTH 32

struct JsonWriter {
        Text t;
        unsigned indent;
        unsigned level;                    /* open containers */
        size_t members[JSON_WRITER_DEPTH]; /* so far, of each */
        bool bad;                          /* a value could not be written, or too deep */
};

JsonWriter *json_writer_new(unsigned indent, JsonTextSink sink, void *userdata)
{
        JsonWriter *w = xcalloc(1, sizeof(*w));
        w->t = (Text){ .sink = sink, .userdata = userdata };
        w->indent = indent;
        w->bad = indent < 1 || indent > 31;
        return w;
}

/* Before a member or element: the comma after the one before, and the
 * line of this one, as put_value() writes them. */
static void next_member(JsonWriter *w)
{
        if (w->level == 0) {
                w->bad = true;
                return;
        }
        if (w->members[w->level - 1]++ > 0)
                put(&w->t, ",", 1);
        put_indent(&w->t, w->indent, w->level);
}

void json_writer_open(JsonWriter *w, char open)
{
        if (w->level >= JSON_WRITER_DEPTH) {
                w->bad = true;
                return;
        }
        put(&w->t, &open, 1);
        w->members[w->level++] = 0;
}

void json_writer_close(JsonWriter *w, char close)
{
        if (w->level == 0) {
                w->bad = true;
                return;
        }
        /* An empty one closes on its line: "[]", "{}". */
        if (w->members[--w->level] > 0)
                put_indent(&w->t, w->indent, w->level);
        put(&w->t, &close, 1);
}

void json_writer_key(JsonWriter *w, const char *key)
{
        next_member(w);
        put_string(&w->t, key, strlen(key));
        put(&w->t, ": ", 2);
}

void json_writer_item(JsonWriter *w)
{
        next_member(w);
}

void json_writer_string(JsonWriter *w, const char *s)
{
        put_string(&w->t, s, strlen(s));
}

void json_writer_value(JsonWriter *w, const json_t *j)
{
        if (!j || put_value(&w->t, j, w->indent, w->level) < 0)
                w->bad = true;
}

void json_writer_free(JsonWriter *w)
{
        if (!w)
                return;
        free(w->t.p);
        free(w);
}

int json_writer_finish(JsonWriter *w, const char *suffix, char **ret_text, size_t *ret_size)
{
        if (suffix)
                put(&w->t, suffix, strlen(suffix));
        int r = w->bad || w->level > 0 ? -1 : 0;
        if (r == 0 && w->t.sink) {
                if (w->t.n > 0 && !w->t.failed && w->t.sink(w->t.p, w->t.n, w->t.userdata) < 0)
                        w->t.failed = true;
                if (w->t.failed)
                        r = -1;
        } else if (r == 0) {
                size_t size = w->t.n;
                put(&w->t, "", 1);
                if (ret_size)
                        *ret_size = size;
                if (ret_text)
                        *ret_text = TAKE_PTR(w->t.p);
        }
        json_writer_free(w);
        return r;
}

int json_text_key_cmp(const char *a, const char *b)
{
        Key x = { .key = a, .len = strlen(a) }, y = { .key = b, .len = strlen(b) };
        return key_cmp(&x, &y);
}

/* The length of the valid UTF-8 sequence at s (n bytes left), else 0:
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
        unsigned char c = s[0];
        if (c < 0x80)
                return 1;
        size_t len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
        if (len == 0 || len > n)
                return 0;
        for (size_t i = 1; i < len; i++)
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
        if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) || (c == 0xf0 && s[1] < 0x90) ||
            (c == 0xf4 && s[1] > 0x8f))
                return 0;
        return len;
}

char *json_text_utf8(const char *s)
{
        size_t n = strlen(s);
        /* At most three bytes for each one replaced. */
        char *out = xmalloc(3 * n + 1);
        size_t o = 0;
        for (size_t i = 0; i < n;) {
                size_t len = utf8_sequence((const unsigned char *) s + i, n - i);
                if (len == 0) {
                        memcpy(out + o, "\xef\xbf\xbd", 3);
                        o += 3;
                        i++;
                        continue;
                }
                memcpy(out + o, s + i, len);
                o += len;
                i += len;
        }
        out[o] = '\0';
        return out;
}
