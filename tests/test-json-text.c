/* SPDX-License-Identifier: MIT */
/* The one-pass JSON writer, judged by jansson's own json_dumps() with the
 * same flags on documents of every kind of value: they must be the same
 * bytes, as the SBOMs' digests depend on them. */
#include <check.h>
#include <jansson.h>
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

int main(void)
{
        Suite *s = suite_create("json-text");
        TCase *tc = tcase_create("text");
        tcase_add_test(tc, test_values);
        tcase_add_test(tc, test_strings);
        tcase_add_test(tc, test_key_order);
        tcase_add_test(tc, test_not_a_document);
        suite_add_tcase(s, tc);
        return test_run(s);
}
