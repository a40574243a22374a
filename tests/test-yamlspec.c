/* SPDX-License-Identifier: MIT */
/* Strict YAML reading: each typed getter on good and bad values, and the
 * exact "file:line:col: message" of each mistake. */
#include <check.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include "testutil.h"
#include "util.h"
#include "yamlspec.h"

/* n copies of s. */
static char *str_repeat(const char *s, size_t n)
{
        size_t l = strlen(s);
        char *out = xmalloc(l * n + 1);
        for (size_t i = 0; i < n; i++)
                memcpy(out + i * l, s, l);
        out[l * n] = '\0';
        return out;
}

static YamlDoc *load(const char *text)
{
        ObError e = { 0 };
        YamlDoc *d = NULL;
        int r = ydoc_load_string("t.yml", text, &d, &e);
        ck_assert_msg(r == 0, "%s", e.msg);
        return d;
}

START_TEST(test_y_uint)
{
        YamlDoc *d = load("a: 4294967294\nb: 18446744073709551615\nc: 18446744073709551616\nd: ''\ne: [1]\nf: 007\n");
        yaml_node_t *root = ydoc_root(d);
        ObError e = { 0 };
        uint64_t v = 0;
        ck_assert_int_eq(y_uint(d, y_get(d, root, "a"), "a", 0xfffffffeu, &v, &e), 0);
        ck_assert_uint_eq(v, 4294967294u);
        ck_assert_int_eq(y_uint(d, y_get(d, root, "b"), "b", UINT64_MAX, &v, &e), 0);
        ck_assert(v == UINT64_MAX);
        ck_assert_int_eq(y_uint(d, y_get(d, root, "c"), "c", UINT64_MAX, &v, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml:3:4: 'c' is out of range: 18446744073709551616 (at most 18446744073709551615)");
        ck_assert_int_eq(y_uint(d, y_get(d, root, "d"), "d", 10, &v, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml:4:4: 'd' must be a number, found an empty string");
        ck_assert_int_eq(y_uint(d, y_get(d, root, "e"), "e", 10, &v, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml:5:4: 'e' must be a number, found a list");
        ck_assert_int_eq(y_uint(d, y_get(d, root, "f"), "f", 10, &v, &e), 0);
        ck_assert_uint_eq(v, 7); /* decimal, leading zeros ignored */
        ck_assert_int_eq(y_uint(d, y_get(d, root, "a"), "a", 4294967293u, &v, &e), -EINVAL);
        ydoc_free(d);
}
END_TEST

START_TEST(test_y_bool_and_str)
{
        YamlDoc *d = load("t: true\ny: yes\nf: false\nn: no\nbad: True\ne:\nq: \"\"\nl: [a]\n");
        yaml_node_t *root = ydoc_root(d);
        ObError e = { 0 };
        bool b = false;
        ck_assert_int_eq(y_bool(d, y_get(d, root, "t"), "t", &b, &e), 0);
        ck_assert(b);
        ck_assert_int_eq(y_bool(d, y_get(d, root, "f"), "f", &b, &e), 0);
        ck_assert(!b);
        ck_assert_int_eq(y_bool(d, y_get(d, root, "y"), "y", &b, &e), 0);
        ck_assert(b);
        ck_assert_int_eq(y_bool(d, y_get(d, root, "n"), "n", &b, &e), 0);
        ck_assert(!b);
        ck_assert_int_eq(y_bool(d, y_get(d, root, "bad"), "bad", &b, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml:5:6: 'bad' must be true or false");

        /* A plain empty value is null; a quoted one is an empty string. */
        ck_assert_ptr_null(y_get(d, root, "e"));
        yaml_node_t *q = y_get(d, root, "q");
        ck_assert_ptr_nonnull(q);
        char *s = NULL;
        ck_assert_int_eq(y_str(d, q, "q", &s, &e), 0);
        ck_assert_str_eq(s, "");
        free(s);
        s = NULL;
        ck_assert_int_eq(y_nonempty_str(d, q, "q", &s, &e), -EINVAL);
        ck_assert_ptr_null(s);
        ck_assert_str_eq(e.msg, "t.yml:7:4: 'q' must not be empty");
        ck_assert_int_eq(y_str(d, y_get(d, root, "l"), "l", &s, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml:8:4: 'l' must be a string, found a list");
        ydoc_free(d);
}
END_TEST

START_TEST(test_y_null_and_require)
{
        YamlDoc *d = load("a: ~\nb:\nc: null\nd: ''\ne: x\n");
        yaml_node_t *root = ydoc_root(d);
        ObError e = { 0 };
        yaml_node_t *v = NULL;
        ck_assert_ptr_null(y_get(d, root, "a"));
        ck_assert_ptr_null(y_get(d, root, "b"));
        ck_assert_ptr_null(y_get(d, root, "c"));
        ck_assert_ptr_nonnull(y_get(d, root, "d"));
        ck_assert_ptr_null(y_get(d, root, "zzz"));
        ck_assert_ptr_nonnull(y_get_key(d, root, "b"));
        ck_assert_ptr_null(y_get_key(d, root, "zzz"));
        ck_assert_ptr_null(y_get(d, y_get(d, root, "e"), "x")); /* not a mapping */

        ck_assert_int_eq(y_require(d, root, "c", "the thing", &v, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml:3:1: 'c' in the thing must have a value");
        ck_assert_int_eq(y_require(d, root, "zzz", "the thing", &v, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml:1:1: missing required key 'zzz' in the thing");
        ck_assert_int_eq(y_require(d, root, "e", "the thing", &v, &e), 0);
        ck_assert_ptr_eq(v, y_get(d, root, "e"));

        ck_assert_int_eq(y_error(d, NULL, &e, "no position %d", 1), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml: no position 1");
        ck_assert_str_eq(y_kind(root), "a mapping");
        ck_assert_str_eq(y_kind(y_get(d, root, "e")), "a scalar");
        ydoc_free(d);
}
END_TEST

START_TEST(test_y_mode)
{
        static const struct {
                const char *text;
                int64_t want; /* -1: rejected */
        } cases[] = {
                { "\"0755\"", 0755 }, { "\"755\"", 0755 },  { "\"1777\"", 01777 }, { "\"01777\"", 01777 },
                { "\"0000\"", 0 },    { "0644", 0644 },     { "\"75\"", -1 },      { "\"0999\"", -1 },
                { "\"10000\"", -1 },  { "\"007777\"", -1 }, { "\"0x1ff\"", -1 },   { "\"-755\"", -1 },
                { "[1]", -1 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *text = xasprintf("m: %s\n", cases[i].text);
                YamlDoc *d = load(text);
                ObError e = { 0 };
                uint32_t mode = 0;
                int r = y_mode(d, y_get(d, ydoc_root(d), "m"), "m", /* flags= */ 0, &mode, &e);
                if (cases[i].want < 0) {
                        ck_assert_msg(r == -EINVAL, "%s accepted as %o", cases[i].text, mode);
                        ck_assert(str_startswith(e.msg, "t.yml:1:4: 'm' must be an octal mode"));
                } else {
                        ck_assert_msg(r == 0, "%s rejected: %s", cases[i].text, e.msg);
                        ck_assert_uint_eq(mode, (uint32_t) cases[i].want);
                }
                ydoc_free(d);
                free(text);
        }
}
END_TEST

START_TEST(test_y_owner)
{
        static const struct {
                const char *text;
                int64_t uid, gid; /* uid -1: rejected */
        } cases[] = {
                { "\"1000\"", 1000, 1000 },   { "\"1:2\"", 1, 2 },
                { "\"0:0\"", 0, 0 },          { "\"4294967294:4294967294\"", 4294967294, 4294967294 },
                { "\"4294967295\"", -1, 0 },  { "\"1:4294967295\"", -1, 0 },
                { "\"root:root\"", -1, 0 },   { "\"root\"", -1, 0 },
                { "\":1\"", -1, 0 },          { "\"1:\"", -1, 0 },
                { "\"1:2:3\"", -1, 0 },       { "\" 1\"", -1, 0 },
                { "\"-1\"", -1, 0 },          { "\"\"", -1, 0 },
                { "\"12345678901\"", -1, 0 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *text = xasprintf("o: %s\n", cases[i].text);
                YamlDoc *d = load(text);
                ObError e = { 0 };
                uint32_t uid = 99, gid = 99;
                int r = y_owner(d, y_get(d, ydoc_root(d), "o"), "owner", &uid, &gid, &e);
                if (cases[i].uid < 0) {
                        ck_assert_msg(r == -EINVAL, "%s accepted as %u:%u", cases[i].text, uid, gid);
                        ck_assert(str_startswith(e.msg, "t.yml:1:4: 'owner' must be numeric \"UID:GID\""));
                        ck_assert_uint_eq(uid, 99);
                } else {
                        ck_assert_msg(r == 0, "%s rejected: %s", cases[i].text, e.msg);
                        ck_assert_uint_eq(uid, (uint32_t) cases[i].uid);
                        ck_assert_uint_eq(gid, (uint32_t) cases[i].gid);
                }
                ydoc_free(d);
                free(text);
        }
}
END_TEST

START_TEST(test_y_abs_path)
{
        YamlDoc *d = load("a: /usr//lib/./x/\nb: /\nc: rel/x\nd: /a/../b\n");
        yaml_node_t *root = ydoc_root(d);
        ObError e = { 0 };
        char *p = NULL;
        ck_assert_int_eq(y_abs_path(d, y_get(d, root, "a"), "a", &p, &e), 0);
        ck_assert_str_eq(p, "/usr/lib/x");
        free(p);
        ck_assert_int_eq(y_abs_path(d, y_get(d, root, "b"), "b", &p, &e), 0);
        ck_assert_str_eq(p, "/");
        free(p);
        ck_assert_int_eq(y_abs_path(d, y_get(d, root, "c"), "c", &p, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml:3:4: 'c' must be an absolute path (starting with '/'), found 'rel/x'");
        ck_assert_int_eq(y_abs_path(d, y_get(d, root, "d"), "d", &p, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml:4:4: 'd' must be a path inside the image without '..', found '/a/../b'");
        ydoc_free(d);
}
END_TEST

START_TEST(test_y_str_list)
{
        YamlDoc *d = load("s: one\nl: [a, b, 'c d']\ne: []\nn: [a, [b]]\nm: {a: b}\n");
        yaml_node_t *root = ydoc_root(d);
        ObError e = { 0 };
        char **v = NULL;
        ck_assert_int_eq(y_str_list(d, y_get(d, root, "s"), "s", Y_LIST_ALLOW_SCALAR, &v, &e), 0);
        ck_assert_uint_eq(strv_length(v), 1);
        ck_assert_str_eq(v[0], "one");
        strv_free(v);
        ck_assert_int_eq(y_str_list(d, y_get(d, root, "s"), "s", /* flags= */ 0, &v, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml:1:4: 's' must be a list of strings, found a scalar");
        ck_assert_int_eq(y_str_list(d, y_get(d, root, "l"), "l", /* flags= */ 0, &v, &e), 0);
        ck_assert_uint_eq(strv_length(v), 3);
        ck_assert_str_eq(v[2], "c d");
        strv_free(v);
        ck_assert_int_eq(y_str_list(d, y_get(d, root, "e"), "e", /* flags= */ 0, &v, &e), 0);
        ck_assert_ptr_nonnull(v);
        ck_assert_uint_eq(strv_length(v), 0);
        strv_free(v);
        ck_assert_int_eq(y_str_list(d, y_get(d, root, "n"), "n", /* flags= */ 0, &v, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml:4:8: items of 'n' must be strings, found a list");
        ck_assert_int_eq(y_str_list(d, y_get(d, root, "m"), "m", Y_LIST_ALLOW_SCALAR, &v, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml:5:4: 'm' must be a list of strings, found a mapping");
        ydoc_free(d);
}
END_TEST

START_TEST(test_y_rel_path_list)
{
        YamlDoc *d = load("ok: [a, ./b//c/, ., 'd e']\n"
                          "abs: [a, /etc]\n"
                          "up: [a/../../x]\n"
                          "empty: ['']\n"
                          "s: a\n");
        yaml_node_t *root = ydoc_root(d);
        ObError e = { 0 };
        char **v = NULL;
        size_t *lines = NULL;
        ck_assert_int_eq(y_rel_path_list(d, y_get(d, root, "ok"), "ok", &v, &lines, &e), 0);
        ck_assert_uint_eq(strv_length(v), 4);
        ck_assert_str_eq(v[0], "a");
        ck_assert_str_eq(v[1], "b/c");
        ck_assert_str_eq(v[2], ".");
        ck_assert_str_eq(v[3], "d e");
        ck_assert_uint_eq(lines[1], 1);
        strv_free(v);
        free(lines);
        ck_assert_int_eq(y_rel_path_list(d, y_get(d, root, "abs"), "abs", &v, NULL, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml:2:10: items of 'abs' must be paths inside the workdir, relative to it and "
                                "without '..', found '/etc'");
        ck_assert_int_eq(y_rel_path_list(d, y_get(d, root, "up"), "up", &v, NULL, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml:3:6: items of 'up' must be paths inside the workdir, relative to it and "
                                "without '..', found 'a/../../x'");
        ck_assert_int_eq(y_rel_path_list(d, y_get(d, root, "empty"), "empty", &v, NULL, &e), -EINVAL);
        ck_assert_int_eq(y_rel_path_list(d, y_get(d, root, "s"), "s", &v, NULL, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml:5:4: 's' must be a list of paths relative to the workdir, found a scalar");
        ydoc_free(d);
}
END_TEST

/* The digest of a node: its structure and values, not how they are written. */
START_TEST(test_y_node_sha256)
{
        YamlDoc *d = load("a: {command: [npm, ci], inputs: [x]}\n"
                          "b:\n  command:\n    - npm\n    - \"ci\"   # a comment\n  inputs: [x]\n"
                          "c: {command: [npm, ci], inputs: [y]}\n"
                          "d: {command: [npm, ci, x]}\n"
                          "e: {command: [npm, cix]}\n");
        yaml_node_t *root = ydoc_root(d);
        char *a = y_node_sha256(d, y_get(d, root, "a"));
        char *b = y_node_sha256(d, y_get(d, root, "b"));
        char *c = y_node_sha256(d, y_get(d, root, "c"));
        char *x = y_node_sha256(d, y_get(d, root, "d"));
        char *y = y_node_sha256(d, y_get(d, root, "e"));
        ck_assert_uint_eq(strlen(a), 64);
        ck_assert_str_eq(a, b);
        ck_assert_str_ne(a, c);
        ck_assert_str_ne(x, y); /* the structure counts, not only the text */
        free(a);
        free(b);
        free(c);
        free(x);
        free(y);
        ydoc_free(d);
}
END_TEST

START_TEST(test_y_str_map)
{
        YamlDoc *d = load("ok:\n  B: 2\n  A: x=y\n  N: 1\n"
                          "dup: {A: 1, A: 2}\n"
                          "eq: {A=B: 1}\n"
                          "val: {A: [1]}\n"
                          "lst: [A]\n");
        yaml_node_t *root = ydoc_root(d);
        ObError e = { 0 };
        char **v = NULL;
        ck_assert_int_eq(y_str_map(d, y_get(d, root, "ok"), "ok", &v, &e), 0);
        ck_assert_uint_eq(strv_length(v), 3);
        ck_assert_str_eq(v[0], "B=2"); /* document order, not sorted */
        ck_assert_str_eq(v[1], "A=x=y");
        ck_assert_str_eq(v[2], "N=1");
        strv_free(v);
        ck_assert_int_eq(y_str_map(d, y_get(d, root, "dup"), "env", &v, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml:5:13: duplicate key 'A' in 'env' (first at line 5)");
        ck_assert_int_eq(y_str_map(d, y_get(d, root, "eq"), "env", &v, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml:6:6: keys of 'env' must not contain '=', found 'A=B'");
        ck_assert_int_eq(y_str_map(d, y_get(d, root, "val"), "env", &v, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml:7:10: 'env.A' must be a string, found a list");
        ck_assert_int_eq(y_str_map(d, y_get(d, root, "lst"), "env", &v, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml:8:6: 'env' must be a mapping of names to strings, found a list");
        ydoc_free(d);
}
END_TEST

START_TEST(test_y_check_map)
{
        static const char *const allowed[] = { "name", "description", "files", NULL };
        static const YamlRename renames[] = { { "dirs", "use 'directories'" }, { NULL, NULL } };
        static const struct {
                const char *text, *msg;
        } cases[] = {
                { "name: a\nfiles: []\n", NULL },
                { "name: a\ndesc: b\n", "t.yml:2:1: unknown key 'desc' in X (did you mean 'description'?)" },
                { "nmae: a\n", "t.yml:1:1: unknown key 'nmae' in X (did you mean 'name'?)" },
                { "filesystem: a\n", "t.yml:1:1: unknown key 'filesystem' in X (did you mean 'files'?)" },
                { "zzz: a\n", "t.yml:1:1: unknown key 'zzz' in X (expected one of: name, description, files)" },
                { "dirs: []\n", "t.yml:1:1: key 'dirs' is not supported in X: use 'directories'" },
                { "name: a\nname: b\n", "t.yml:2:1: duplicate key 'name' in X (first at line 1)" },
                { "? [a]\n: b\n", "t.yml:1:3: keys of X must be strings, found a list" },
                { "[a]\n", "t.yml:1:1: X must be a mapping, found a list" },
                { "just text\n", "t.yml:1:1: X must be a mapping, found a scalar" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                YamlDoc *d = load(cases[i].text);
                ObError e = { 0 };
                int r = y_check_map(d, ydoc_root(d), "X", allowed, renames, &e);
                /* a bad key is noted, and the others stay usable */
                if (r == 0)
                        r = y_problems(d, &e);
                if (!cases[i].msg)
                        ck_assert_msg(r == 0, "%s", e.msg);
                else {
                        ck_assert_int_eq(r, -EINVAL);
                        ck_assert_str_eq(e.msg, cases[i].msg);
                }
                ydoc_free(d);
        }
}
END_TEST

/* y_note() keeps config problems for y_problems() and passes anything
 * else back; one text noted twice is said once. */
START_TEST(test_y_note)
{
        YamlDoc *d = load("a: 1\nb: x\n");
        ObError e = { 0 };
        ck_assert_int_eq(y_problems(d, &e), 0);
        ck_assert_int_eq(y_note(d, 0, &e), 0);
        ck_assert_int_eq(y_note(d, -ENOMEM, &e), -ENOMEM);
        ck_assert(!y_has_problems(d));
        yaml_node_t *a = y_get(d, ydoc_root(d), "a"), *b = y_get(d, ydoc_root(d), "b");
        uint64_t u;
        ck_assert_int_eq(y_note(d, y_bool(d, a, "a", &(bool){ false }, &e), &e), 0);
        ck_assert_int_eq(y_note(d, y_uint(d, b, "b", 10, &u, &e), &e), 0);
        ck_assert_int_eq(y_note(d, y_bool(d, a, "a", &(bool){ false }, &e), &e), 0);
        ck_assert(y_has_problems(d));
        ck_assert_int_eq(y_problems(d, &e), -EINVAL);
        ck_assert_int_eq(e.code, EINVAL);
        ck_assert_str_eq(e.msg, "t.yml:1:4: 'a' must be true or false\n"
                                "t.yml:2:4: 'b' must be a whole number from 0 to 10, found 'x'");
        ydoc_free(d);
}
END_TEST

/* A required key that an unknown key of the same mapping stands for is
 * said once, as the unknown key; one another mapping has is not. */
START_TEST(test_y_require_after_unknown)
{
        static const char *const allowed[] = { "name", "description", NULL };
        static const YamlRename renames[] = { { "desc", "write 'description'" }, { NULL, NULL } };
        YamlDoc *d = load("a: {nmae: x, desc: y}\nb: {zzz: 1}\n");
        ObError e = { 0 };
        yaml_node_t *a = y_get(d, ydoc_root(d), "a"), *b = y_get(d, ydoc_root(d), "b"), *v = NULL;
        ck_assert_int_eq(y_check_map(d, a, "A", allowed, renames, &e), 0);
        ck_assert_int_eq(y_check_map(d, b, "B", allowed, renames, &e), 0);
        /* misspelt, and renamed with a hint that names it */
        ck_assert_int_eq(y_require(d, a, "name", "A", &v, &e), Y_ALREADY_SAID);
        ck_assert_int_eq(y_note(d, Y_ALREADY_SAID, &e), 0);
        ck_assert_int_eq(y_require(d, a, "description", "A", &v, &e), Y_ALREADY_SAID);
        /* 'zzz' is nothing like 'name': missing, and said so */
        ck_assert_int_eq(y_note(d, y_require(d, b, "name", "B", &v, &e), &e), 0);
        ck_assert_int_eq(y_problems(d, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "t.yml:1:5: unknown key 'nmae' in A (did you mean 'name'?)\n"
                                "t.yml:1:14: key 'desc' is not supported in A: write 'description'\n"
                                "t.yml:2:5: unknown key 'zzz' in B (expected one of: name, description)\n"
                                "t.yml:2:4: missing required key 'name' in B");
        ydoc_free(d);
}
END_TEST

START_TEST(test_ydoc_load_string_errors)
{
        ObError e = { 0 };
        YamlDoc *d = NULL;
        ck_assert_int_eq(ydoc_load_string("x.yml", "a: [1, 2\n", &d, &e), -EINVAL);
        ck_assert_ptr_null(d);
        ck_assert(str_startswith(e.msg, "x.yml:2:1: invalid YAML: "));
        ck_assert_int_eq(ydoc_load_string("x.yml", "", &d, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "x.yml:1:1: the file is empty (expected a mapping)");
        ydoc_free(NULL);
}
END_TEST

START_TEST(test_y_mode_setuid)
{
        /* Whatever the tier, a mode reaches the image only through y_mode(). */
        static const char *const refused[] = { "6755", "4755", "2000", "6777", "07777", "4000" };
        for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
                char *text = xasprintf("m: \"%s\"\n", refused[i]);
                YamlDoc *d = load(text);
                ObError e = { 0 };
                uint32_t mode = 0;
                char *want = xasprintf("t.yml:1:4: 'm' \"%s\" sets setuid/setgid bits, which are not allowed in a "
                                       "distroless image",
                                       refused[i]);
                ck_assert_int_eq(y_mode(d, y_get(d, ydoc_root(d), "m"), "m", /* flags= */ 0, &mode, &e), -EINVAL);
                ck_assert_uint_eq(mode, 0);
                ck_assert_str_eq(e.msg, want);
                free(want);
                /* a directory may pass its group on, never the setuid bit */
                int r = y_mode(d, y_get(d, ydoc_root(d), "m"), "m", Y_MODE_DIRECTORY, &mode, &e);
                if (strchr("4567", refused[i][strlen(refused[i]) - 4])) {
                        want = xasprintf("t.yml:1:4: 'm' \"%s\" sets the setuid bit, which is not allowed in a "
                                         "distroless image",
                                         refused[i]);
                        ck_assert_int_eq(r, -EINVAL);
                        ck_assert_str_eq(e.msg, want);
                        free(want);
                } else {
                        ck_assert_msg(r == 0, "%s", e.msg);
                        ck_assert_uint_eq(mode, 02000);
                }
                mode = 0;
                ydoc_free(d);
                free(text);
        }
}
END_TEST

/* Loads size bytes of data and checks the exact error. */
static void check_load_fails(const char *data, size_t size, const char *want)
{
        ObError e = { 0 };
        YamlDoc *d = NULL;
        ck_assert_int_eq(ydoc_load_data("x.yml", data, size, &d, &e), -EINVAL);
        ck_assert_ptr_null(d);
        ck_assert_str_eq(e.msg, want);
}

#define CHECK_LOAD_FAILS(literal, want) check_load_fails(literal, sizeof(literal) - 1, want)

START_TEST(test_ydoc_load_ignores_nothing)
{
        /* Text after a NUL byte, or after "\0" in a scalar, used to vanish. */
        CHECK_LOAD_FAILS("a: b\nc: d\0e: f\n", "x.yml:2:5: a NUL byte is not allowed in a config");
        CHECK_LOAD_FAILS("a: b\nc: \"d\\0e: f\"\n", "x.yml:2:4: a NUL character (\\0) is not allowed in a config");
        CHECK_LOAD_FAILS("a: b\n\"k\\x00ey\": c\n", "x.yml:2:1: a NUL character (\\0) is not allowed in a config");
        /* So did every document after the first, even one that is not YAML. */
        CHECK_LOAD_FAILS("a: b\n---\nc: d\n",
                         "x.yml:2:1: a second YAML document starts here; a config is one document");
        CHECK_LOAD_FAILS("a: b\n--- ]]]: [ {\n",
                         "x.yml:2:1: a second YAML document starts here; a config is one document");
        CHECK_LOAD_FAILS("a: b\n...\n--- c\n",
                         "x.yml:3:1: a second YAML document starts here; a config is one document");
        CHECK_LOAD_FAILS("a: b\n...\nc: d\n", "x.yml:3:1: invalid YAML: did not find expected <document start>");
        /* One explicit document is one document. */
        ObError e = { 0 };
        YamlDoc *d = NULL;
        ck_assert_int_eq(ydoc_load_string("x.yml", "---\na: b\n...\n", &d, &e), 0);
        ck_assert_str_eq((const char *) y_get(d, ydoc_root(d), "a")->data.scalar.value, "b");
        ydoc_free(d);
}
END_TEST

START_TEST(test_ydoc_load_positions)
{
        /* libyaml gives a byte offset, not a line, for text that is not UTF-8 */
        CHECK_LOAD_FAILS("a: b\nc: d\xff\n", "x.yml:2:5: invalid leading UTF-8 octet (0xff)");
        CHECK_LOAD_FAILS("a: b\r\nc: \xc3\xa9\xc3\n", "x.yml:2:6: invalid trailing UTF-8 octet (0x0a)");
        CHECK_LOAD_FAILS("a: b\nc: \x1b[31m\n", "x.yml:2:4: control characters are not allowed (0x1b)");
        CHECK_LOAD_FAILS("a: b\n\tc: d\n", "x.yml:2:1: tabs cannot indent YAML; indent with spaces");
        CHECK_LOAD_FAILS("a:\n\t- b\n", "x.yml:2:1: tabs cannot indent YAML; indent with spaces");
        CHECK_LOAD_FAILS("a:\n  b: 1\n \tc: 2\n", "x.yml:3:2: tabs cannot indent YAML; indent with spaces");
        /* a tab after a key is separation, not indentation */
        ObError e = { 0 };
        YamlDoc *d = NULL;
        ck_assert_int_eq(ydoc_load_string("x.yml", "a:\tb\n", &d, &e), 0);
        ydoc_free(d);
        CHECK_LOAD_FAILS("a: [1, 2\n", "x.yml:2:1: invalid YAML: did not find expected ',' or ']' while parsing a "
                                       "flow sequence");
}
END_TEST

START_TEST(test_ydoc_escapes_messages)
{
        /* Config text and file names may hold escape sequences for the
         * terminal the message is printed on. */
        YamlDoc *d = NULL;
        ObError e = { 0 };
        uint64_t v;
        ck_assert_int_eq(ydoc_load_string("x\x1b[2J.yml", "a: \"\\e[31mred\\u009b\\n\"\n", &d, &e), 0);
        ck_assert_int_eq(y_uint(d, y_get(d, ydoc_root(d), "a"), "a", 10, &v, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "x\\x1b[2J.yml:1:4: 'a' must be a whole number from 0 to 10, found "
                                "'\\x1b[31mred\\xc2\\x9b\\x0a'");
        ydoc_free(d);
        ck_assert_int_eq(ydoc_load_string("x\n.yml", "", &d, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "x\\x0a.yml:1:1: the file is empty (expected a mapping)");

        char buf[16];
        ck_assert_str_eq(ob_escape("caf\xc3\xa9 \x7f\xff", buf, sizeof(buf)), "caf\xc3\xa9 \\x7f\\xff");
        ck_assert_str_eq(ob_escape("abcdefghijklmnopq", buf, 8), "abcdefg");
        ck_assert_str_eq(ob_escape("abcde\x01", buf, 8), "abcde"); /* never half an escape */
}
END_TEST

START_TEST(test_ydoc_load_limits)
{
        /* 63 brackets under the root mapping: 64 levels, the most there may be */
        char *opening = str_repeat("[", 63), *closing = str_repeat("]", 63);
        char *ok = xasprintf("x: %s%s\n", opening, closing);
        YamlDoc *d = NULL;
        ObError e = { 0 };
        ck_assert_int_eq(ydoc_load_string("x.yml", ok, &d, &e), 0);
        ydoc_free(d);
        free(ok);
        free(closing);
        free(opening);

        /* A million levels took libyaml minutes before anything could be checked. */
        char *deep = str_repeat("[", 1000000);
        char *text = xasprintf("a: b\nx: %s\n", deep);
        check_load_fails(text, strlen(text), "x.yml:2:67: nested deeper than 64 levels, more than a config may be");
        free(text);
        free(deep);
        deep = str_repeat("- ", 500000);
        text = xasprintf("x:\n%sa\n", deep);
        check_load_fails(text, strlen(text), "x.yml:2:127: nested deeper than 64 levels, more than a config may be");
        free(text);
        free(deep);

        /* Aliases of aliases: 456 bytes that were 10^9 nodes. */
        text = xstrdup("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
        for (int i = 1; i < 9; i++) {
                int p = i - 1;
                char *next = xasprintf("%sl%d: &l%d [*l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d]\n",
                                       text, i, i, p, p, p, p, p, p, p, p, p, p);
                free(text);
                text = next;
        }
        check_load_fails(text, strlen(text),
                         "x.yml:4:45: aliases expand to more than 10000 nodes or 1024 KiB, more than a config may "
                         "have");
        free(text);
        /* Few nodes, many bytes: one long scalar named 600 times. */
        char *long_value = str_repeat("v", 2000);
        text = xasprintf("a: &s %s\nb: [", long_value);
        for (int i = 0; i < 600; i++) {
                char *next = xasprintf("%s*s, ", text);
                free(text);
                text = next;
        }
        char *closed = xasprintf("%s]\n", text);
        check_load_fails(closed, strlen(closed),
                         "x.yml:2:2101: aliases expand to more than 10000 nodes or 1024 KiB, more than a config may "
                         "have");
        free(closed);
        free(text);
        free(long_value);

        /* What an alias may still do: name a list twice. */
        ck_assert_int_eq(ydoc_load_string("x.yml", "a: &j [x, y]\nb: *j\n", &d, &e), 0);
        char **v = NULL;
        ck_assert_int_eq(y_str_list(d, y_get(d, ydoc_root(d), "b"), "b", /* flags= */ 0, &v, &e), 0);
        ck_assert_uint_eq(strv_length(v), 2);
        ck_assert_str_eq(v[1], "y");
        strv_free(v);
        ydoc_free(d);
        CHECK_LOAD_FAILS("a: &a [*a]\n", "x.yml:1:8: alias '*a' is inside the node it names");
        CHECK_LOAD_FAILS("a: *b\n", "x.yml:1:4: alias '*b' names no anchor defined before it");
        CHECK_LOAD_FAILS("a: &d x\nb: &d y\n", "x.yml:2:4: anchor '&d' is defined twice");

        /* The size of a file. */
        char *big = str_repeat("#", YDOC_MAX_SIZE + 1);
        check_load_fails(big, YDOC_MAX_SIZE + 1, "x.yml: larger than a config may be (1024 KiB)");
        big[YDOC_MAX_SIZE - 1] = '\n';
        memcpy(big, "a: b\n", 5);
        ck_assert_int_eq(ydoc_load_data("x.yml", big, YDOC_MAX_SIZE, &d, &e), 0);
        ydoc_free(d);
        free(big);
}
END_TEST

static double cpu_seconds(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

START_TEST(test_large_maps_are_linear)
{
        /* An 80,000-key env took 37 s of CPU (a quadratic duplicate check),
         * 60,000 anchors 10 s (libyaml's own loader); each is well under a
         * second now, and the bound leaves room for a slow sanitizer build. */
        size_t cap = YDOC_MAX_SIZE, len = 0;
        char *text = xmalloc(cap);
        len += (size_t) snprintf(text + len, cap - len, "env:\n");
        for (int i = 0; i < 80000; i++)
                len += (size_t) snprintf(text + len, cap - len, " k%x: v\n", i);
        /* the last key repeats the first, so the check must look at all of them */
        len += (size_t) snprintf(text + len, cap - len, " k0: w\n");
        ck_assert_uint_lt(len, cap);
        double start = cpu_seconds();
        YamlDoc *d = NULL;
        ObError e = { 0 };
        ck_assert_msg(ydoc_load_data("x.yml", text, len, &d, &e) == 0, "%s", e.msg);
        char **v = NULL;
        ck_assert_int_eq(y_str_map(d, y_get(d, ydoc_root(d), "env"), "env", &v, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "x.yml:80002:2: duplicate key 'k0' in 'env' (first at line 2)");
        ydoc_free(d);

        len = 0;
        for (int i = 0; i < 60000; i++)
                len += (size_t) snprintf(text + len, cap - len, "- &a%x v\n", i);
        ck_assert_uint_lt(len, cap);
        ck_assert_msg(ydoc_load_data("x.yml", text, len, &d, &e) == 0, "%s", e.msg);
        double spent = cpu_seconds() - start;
        ck_assert_msg(spent < 5, "80,000 keys and 60,000 anchors took %.1f s", spent);
        ydoc_free(d);
        free(text);
}
END_TEST

static Suite *yamlspec_suite(void)
{
        Suite *s = suite_create("yamlspec");
        TCase *tc = tcase_create("getters");
        tcase_add_test(tc, test_y_uint);
        tcase_add_test(tc, test_y_rel_path_list);
        tcase_add_test(tc, test_y_node_sha256);
        tcase_add_test(tc, test_y_bool_and_str);
        tcase_add_test(tc, test_y_null_and_require);
        tcase_add_test(tc, test_y_mode);
        tcase_add_test(tc, test_y_owner);
        tcase_add_test(tc, test_y_abs_path);
        tcase_add_test(tc, test_y_str_list);
        tcase_add_test(tc, test_y_str_map);
        tcase_add_test(tc, test_y_check_map);
        tcase_add_test(tc, test_y_note);
        tcase_add_test(tc, test_y_require_after_unknown);
        tcase_add_test(tc, test_ydoc_load_string_errors);
        tcase_add_test(tc, test_y_mode_setuid);
        suite_add_tcase(s, tc);

        tc = tcase_create("loading");
        tcase_add_test(tc, test_ydoc_load_ignores_nothing);
        tcase_add_test(tc, test_ydoc_load_positions);
        tcase_add_test(tc, test_ydoc_escapes_messages);
        /* before the bounds, libyaml took minutes over a deep config */
        tcase_set_timeout(tc, 20);
        tcase_add_test(tc, test_ydoc_load_limits);
        tcase_add_test(tc, test_large_maps_are_linear);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return test_run(yamlspec_suite());
}
