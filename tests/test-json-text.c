/* SPDX-License-Identifier: MIT */
/* The one-pass JSON writer, judged by jansson's own json_dumps() with the
 * same flags on documents of every kind of value: they must be the same
 * bytes, as the SBOMs' digests depend on them. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-text.h"
#include "testutil.h"
#include "util.h"

static void assert_like_jansson(const json_t *j, unsigned indent)
{
        _cleanup_free_ char *want = json_dumps(j, JSON_SORT_KEYS | JSON_INDENT(indent));
        _cleanup_free_ char *got = json_text_sorted(j, indent, NULL);
        ck_assert_ptr_nonnull(want);
        ck_assert_ptr_nonnull(got);
        ck_assert_str_eq(got, want);
        _cleanup_free_ char *with_suffix = json_text_sorted(j, indent, "\n");
        _cleanup_free_ char *want_suffix = xasprintf("%s\n", want);
        ck_assert_str_eq(with_suffix, want_suffix);
}

START_TEST(test_values)
{
        json_t *j = json_pack("{s:s, s:i, s:I, s:b, s:b, s:n, s:f, s:[], s:{}, s:[i, [], {}, [[]]], s:{s:{s:[s]}}}",
                              "string", "plain", "int", -42, "big", (json_int_t) 9007199254740993LL, "yes", 1, "no", 0,
                              "null", "real", 0.1, "empty array", "empty object", "mixed", 7, "deep", "a", "b", "c");
        ck_assert_ptr_nonnull(j);
        for (unsigned indent = 1; indent <= 4; indent++)
                assert_like_jansson(j, indent);
        json_t *a = json_pack("[s, i, {s:s}]", "x", 1, "k", "v");
        assert_like_jansson(a, 1);
        json_t *empty = json_object();
        assert_like_jansson(empty, 1);
        json_decref(j);
        json_decref(a);
        json_decref(empty);
}
END_TEST

/* Quotes, backslashes, every control character, UTF-8 (kept as it is),
 * a slash (not escaped), and a NUL inside a string. */
START_TEST(test_strings)
{
        json_t *j = json_object();
        char ctl[64];
        for (int c = 1; c < 0x20; c++) {
                char s[4] = { 'a', (char) c, 'z', 0 };
                snprintf(ctl, sizeof(ctl), "ctl %02d", c);
                json_object_set_new(j, ctl, json_string(s));
        }
        json_object_set_new(j, "quote", json_string("say \"hi\" \\ back/slash"));
        json_object_set_new(j, "utf-8", json_string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \x7f"));
        json_object_set_new(j, "nul", json_stringn("a\0b", 3));
        json_object_set_new(j, "key \"with\" \n escapes", json_string(""));
        json_object_setn_new(j, "k\0ey", 4, json_true());
        json_object_set_new(j, "k", json_false());
        assert_like_jansson(j, 1);
        json_decref(j);
}
END_TEST

/* Keys in every order jansson may sort: prefixes, bytes above 0x7f,
 * upper before lower case, many of them in one object. */
START_TEST(test_key_order)
{
        json_t *j = json_object();
        static const char *const keys[] = { "b", "a", "ab", "aa", "a b", "A", "Z", "_", "\xc3\xa9", "0", "10", "9" };
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                json_object_set_new(j, keys[i], json_integer((json_int_t) i));
        srand(1);
        json_t *many = json_array();
        for (int i = 0; i < 200; i++) {
                json_t *o = json_object();
                for (int k = 0; k < 20; k++) {
                        char key[16];
                        snprintf(key, sizeof(key), "%x", (unsigned) rand() % 4096);
                        json_object_set_new(o, key, json_integer(rand() - RAND_MAX / 2));
                }
                json_array_append_new(many, o);
        }
        json_object_set_new(j, "many", many);
        assert_like_jansson(j, 1);
        assert_like_jansson(j, 2);
        json_decref(j);
}
END_TEST

START_TEST(test_not_a_document)
{
        json_t *s = json_string("top");
        ck_assert_ptr_null(json_text_sorted(s, 1, NULL));
        ck_assert_ptr_null(json_text_sorted(NULL, 1, NULL));
        json_decref(s);
}
END_TEST

typedef struct Pieces {
        char *text;
        size_t n, calls, largest;
        size_t fail_at; /* 0: never; else the call that fails */
} Pieces;

static int gather(const char *data, size_t size, void *userdata)
{
        Pieces *p = userdata;
        p->calls++;
        if (p->fail_at && p->calls == p->fail_at)
                return -1;
        p->text = xrealloc(p->text, p->n + size + 1);
        memcpy(p->text + p->n, data, size);
        p->n += size;
        p->text[p->n] = '\0';
        if (size > p->largest)
                p->largest = size;
        return 0;
}

/* Bytes that are not UTF-8 become U+FFFD, one for each; valid text, of
 * one to four bytes a character, stays as it is; jansson takes the result. */
START_TEST(test_utf8)
{
        static const struct {
                const char *in, *want;
        } cases[] = {
                { "plain/ascii", "plain/ascii" },
                { "caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x93\xa6", "caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x93\xa6" },
                { "a\xff"
                  "b",
                  "a\xef\xbf\xbd"
                  "b" },
                { "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd" },                                 /* overlong "/" */
                { "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },                 /* a surrogate */
                { "end\xe2\x82", "end\xef\xbf\xbd\xef\xbf\xbd" },                           /* cut short */
                { "\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" }, /* above U+10FFFF */
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                _cleanup_free_ char *got = json_text_utf8(cases[i].in);
                ck_assert_str_eq(got, cases[i].want);
                json_t *j = json_string(got);
                ck_assert_ptr_nonnull(j);
                json_decref(j);
        }
}
END_TEST

/* A document of a few MB, shaped like an SBOM: 40000 files whose names
 * need escaping. */
static json_t *big_doc(void)
{
        json_t *doc = json_object(), *files = json_array();
        for (int i = 0; i < 40000; i++) {
                char name[64];
                snprintf(name, sizeof(name), "usr/share/doc/file-%05d \"q\"\t", i);
                json_array_append_new(files, json_pack("{s:s,s:i,s:b}", "fileName", name, "n", i, "x", i % 2));
        }
        json_object_set_new(doc, "files", files);
        json_object_set_new(doc, "spdxVersion", json_string("SPDX-2.3"));
        return doc;
}

/* A document of a few MB reaches the sink in order, in pieces far smaller
 * than itself, as the same bytes as jansson's; a sink that fails fails it. */
START_TEST(test_pieces)
{
        json_t *doc = big_doc();
        _cleanup_free_ char *dumped = json_dumps(doc, JSON_SORT_KEYS | JSON_INDENT(1));
        _cleanup_free_ char *want = xasprintf("%s\n", dumped);
        ck_assert_uint_gt(strlen(want), 2u << 20);

        Pieces p = { 0 };
        ck_assert_int_eq(json_text_sorted_to(doc, 1, "\n", gather, &p), 0);
        ck_assert_uint_eq(p.n, strlen(want));
        ck_assert_str_eq(p.text, want);
        ck_assert_uint_gt(p.calls, 20u);
        ck_assert_uint_le(p.largest, 128u * 1024u);
        free(p.text);

        Pieces bad = { .fail_at = 3 };
        ck_assert_int_eq(json_text_sorted_to(doc, 1, NULL, gather, &bad), -1);
        ck_assert_uint_eq(bad.calls, 3u); /* nothing handed over after the failure */
        free(bad.text);

        Pieces none = { 0 };
        json_t *s = json_string("top");
        ck_assert_int_eq(json_text_sorted_to(s, 1, NULL, gather, &none), -1);
        ck_assert_uint_eq(none.calls, 0u);
        json_decref(s);
        json_decref(doc);
}
END_TEST

static int key_sort(const void *a, const void *b)
{
        return json_text_key_cmp(*(const char *const *) a, *(const char *const *) b);
}

/* j through the writer: containers opened and closed, objects' keys in
 * the sorted order, and every other value alone, or (whole_at) any value
 * at that depth and below handed over as a tree. */
static void write_tree(JsonWriter *w, json_t *j, unsigned depth, unsigned whole_at)
{
        if (depth >= whole_at || (!json_is_object(j) && !json_is_array(j))) {
                if (json_is_string(j) && depth < whole_at)
                        json_writer_string(w, json_string_value(j));
                else
                        json_writer_value(w, j);
                return;
        }
        if (json_is_array(j)) {
                json_writer_open(w, '[');
                for (size_t i = 0; i < json_array_size(j); i++) {
                        json_writer_item(w);
                        write_tree(w, json_array_get(j, i), depth + 1, whole_at);
                }
                json_writer_close(w, ']');
                return;
        }
        size_t n = json_object_size(j), k = 0;
        _cleanup_free_ const char **keys = xcalloc(n + 1, sizeof(char *));
        const char *key;
        json_t *v;
        json_object_foreach(j, key, v)
                keys[k++] = key;
        qsort(keys, n, sizeof(char *), key_sort);
        json_writer_open(w, '{');
        for (size_t i = 0; i < n; i++) {
                json_writer_key(w, keys[i]);
                write_tree(w, json_object_get(j, keys[i]), depth + 1, whole_at);
        }
        json_writer_close(w, '}');
}

static void assert_writer_like_jansson(json_t *j, unsigned indent)
{
        _cleanup_free_ char *dumped = json_dumps(j, JSON_SORT_KEYS | JSON_INDENT(indent));
        _cleanup_free_ char *want = xasprintf("%s\n", dumped);
        for (unsigned whole_at = 1; whole_at <= 4; whole_at++) {
                JsonWriter *w = json_writer_new(indent, NULL, NULL);
                write_tree(w, j, 0, whole_at);
                char *got = NULL;
                size_t size = 0;
                ck_assert_int_eq(json_writer_finish(w, "\n", &got, &size), 0);
                ck_assert_str_eq(got, want);
                ck_assert_uint_eq(size, strlen(want));
                free(got);
        }
}

/* The writer, member by member, gives json_text_sorted()'s bytes, with
 * trees handed to it at any depth. */
START_TEST(test_writer)
{
        json_t *j = json_pack("{s:s, s:i, s:b, s:n, s:[], s:{}, s:[i, [], {}, [[]]], s:{s:{s:[s]}}, s:s, s:s}",
                              "string", "plain \"q\"\n", "int", -42, "yes", 1, "null", "empty array", "empty object",
                              "mixed", 7, "deep", "a", "b", "c", "B", "upper first", "ab", "a prefix after");
        ck_assert_ptr_nonnull(j);
        for (unsigned indent = 1; indent <= 3; indent++)
                assert_writer_like_jansson(j, indent);
        json_t *a = json_pack("[s, i, {s:s}]", "x", 1, "k", "v");
        assert_writer_like_jansson(a, 1);
        json_t *empty = json_object();
        assert_writer_like_jansson(empty, 1);
        json_decref(j);
        json_decref(a);
        json_decref(empty);

        /* Wrong nesting is a failure, not a text. */
        JsonWriter *w = json_writer_new(1, NULL, NULL);
        json_writer_open(w, '{');
        char *text = NULL;
        ck_assert_int_eq(json_writer_finish(w, NULL, &text, NULL), -1);
        ck_assert_ptr_null(text);
        w = json_writer_new(1, NULL, NULL);
        json_writer_key(w, "top");
        ck_assert_int_eq(json_writer_finish(w, NULL, &text, NULL), -1);
        w = json_writer_new(1, NULL, NULL);
        json_writer_close(w, ']');
        ck_assert_int_eq(json_writer_finish(w, NULL, &text, NULL), -1);
        ck_assert_ptr_null(text);
}
END_TEST

/* Through a sink: the same pieces and the same failure as
 * json_text_sorted_to(). */
START_TEST(test_writer_pieces)
{
        json_t *doc = big_doc();
        _cleanup_free_ char *dumped = json_dumps(doc, JSON_SORT_KEYS | JSON_INDENT(1));
        _cleanup_free_ char *want = xasprintf("%s\n", dumped);

        Pieces p = { 0 };
        JsonWriter *w = json_writer_new(1, gather, &p);
        write_tree(w, doc, 0, 3);
        ck_assert_int_eq(json_writer_finish(w, "\n", NULL, NULL), 0);
        ck_assert_uint_eq(p.n, strlen(want));
        ck_assert_str_eq(p.text, want);
        ck_assert_uint_gt(p.calls, 20u);
        ck_assert_uint_le(p.largest, 128u * 1024u);
        free(p.text);

        Pieces bad = { .fail_at = 3 };
        w = json_writer_new(1, gather, &bad);
        write_tree(w, doc, 0, 3);
        ck_assert_int_eq(json_writer_finish(w, "\n", NULL, NULL), -1);
        ck_assert_uint_eq(bad.calls, 3u);
        free(bad.text);
        json_decref(doc);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("json-text");
        TCase *tc = tcase_create("text");
        tcase_add_test(tc, test_values);
        tcase_add_test(tc, test_strings);
        tcase_add_test(tc, test_key_order);
        tcase_add_test(tc, test_not_a_document);
        tcase_add_test(tc, test_pieces);
        tcase_add_test(tc, test_utf8);
        tcase_add_test(tc, test_writer);
        tcase_add_test(tc, test_writer_pieces);
        suite_add_tcase(s, tc);
        return test_run(s);
}
