/* SPDX-License-Identifier: MIT */
/* ObError and the small helpers of util.c. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "fs.h"
#include "path.h"
#include "testutil.h"
#include "util.h"

static char tmp_root[4096];

static void tmp_setup(void)
{
        test_tmpdir(tmp_root, sizeof(tmp_root), "util");
}

static void tmp_teardown(void)
{
        test_rm_rf(tmp_root);
}

/* Entries of a directory other than "." and "..". */
static size_t dir_count(const char *path)
{
        DIR *d = opendir(path);
        struct dirent *de;
        size_t n = 0;
        if (!d)
                return (size_t) -1;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                        n++;
        closedir(d);
        return n;
}

/* ---- ObError ---- */

START_TEST(test_error_set_appends_strerror)
{
        ObError e = { 0 };
        char expected[512];
        int r = ob_error_set(&e, ENOENT, "cannot open '%s'", "x.yml");
        ck_assert_int_eq(r, -ENOENT);
        ck_assert_int_eq(e.code, ENOENT);
        snprintf(expected, sizeof(expected), "cannot open 'x.yml': %s", strerror(ENOENT));
        ck_assert_str_eq(e.msg, expected);

        /* A negative errno is accepted too. */
        r = ob_error_set(&e, -EACCES, "denied");
        ck_assert_int_eq(r, -EACCES);
        ck_assert_int_eq(e.code, EACCES);
        snprintf(expected, sizeof(expected), "denied: %s", strerror(EACCES));
        ck_assert_str_eq(e.msg, expected);

        /* Code 0 means "bad input": EINVAL, and no strerror text. */
        r = ob_error_set(&e, 0, "bad value %d", 7);
        ck_assert_int_eq(r, -EINVAL);
        ck_assert_int_eq(e.code, EINVAL);
        ck_assert_str_eq(e.msg, "bad value 7");
}
END_TEST

START_TEST(test_error_null_err)
{
        ck_assert_int_eq(ob_error_set(NULL, ENOSPC, "x"), -ENOSPC);
        ck_assert_int_eq(ob_error_plain(NULL, 0, "x"), -EINVAL);
        ck_assert_int_eq(ob_error_wrap(NULL, "ctx"), -EINVAL);
        ob_error_clear(NULL);
}
END_TEST

START_TEST(test_error_plain_no_strerror)
{
        ObError e = { 0 };
        int r = ob_error_plain(&e, ENOENT, "file.yml:3:5: unknown key '%s'", "x");
        ck_assert_int_eq(r, -ENOENT);
        ck_assert_int_eq(e.code, ENOENT);
        ck_assert_str_eq(e.msg, "file.yml:3:5: unknown key 'x'");
        ck_assert_ptr_null(strstr(e.msg, strerror(ENOENT)));
}
END_TEST

START_TEST(test_error_wrap)
{
        ObError e = { 0 };
        ob_error_plain(&e, EEXIST, "inner");
        int r = ob_error_wrap(&e, "middle %d", 2);
        ck_assert_int_eq(r, -EEXIST);
        r = ob_error_wrap(&e, "outer");
        ck_assert_int_eq(r, -EEXIST);
        ck_assert_str_eq(e.msg, "outer: middle 2: inner");
        ck_assert_int_eq(e.code, EEXIST);

        /* A wrap of an error without a code still reports failure. */
        ob_error_clear(&e);
        ck_assert_int_eq(e.code, 0);
        ck_assert_str_eq(e.msg, "");
        ck_assert_int_eq(ob_error_wrap(&e, "ctx"), -EINVAL);
        ck_assert_str_eq(e.msg, "ctx: ");
}
END_TEST

START_TEST(test_error_wrap_long)
{
        ObError e = { 0 };
        static char big[8192];
        memset(big, 'm', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';

        /* The message itself is cut to fit. */
        ob_error_plain(&e, EIO, "%s", big);
        ck_assert_uint_eq(strlen(e.msg), sizeof(e.msg) - 1);

        /* A long context on a full message: bounded, terminated, prefix first. */
        static char ctx[3000];
        memset(ctx, 'c', sizeof(ctx) - 1);
        ctx[sizeof(ctx) - 1] = '\0';
        int r = ob_error_wrap(&e, "%s", ctx);
        ck_assert_int_eq(r, -EIO);
        size_t n = strnlen(e.msg, sizeof(e.msg));
        ck_assert_uint_lt(n, sizeof(e.msg));
        ck_assert_uint_gt(n, 1000);
        ck_assert_int_eq(e.msg[0], 'c');
        const char *sep = strstr(e.msg, ": ");
        ck_assert_ptr_nonnull(sep);
        ck_assert_int_eq(sep[2], 'm');
        for (const char *p = e.msg; p < sep; p++)
                ck_assert_int_eq(*p, 'c');

        /* Wrapping again and again never overflows. */
        for (int i = 0; i < 200; i++)
                ob_error_wrap(&e, "level %d", i);
        n = strnlen(e.msg, sizeof(e.msg));
        ck_assert_uint_lt(n, sizeof(e.msg));
        ck_assert(str_startswith(e.msg, "level 199: level 198: "));
}
END_TEST

START_TEST(test_error_wrap_subject)
{
        ObError e = { 0 };

        /* The message names the subject the context names: said once. */
        ob_error_plain(&e, EINVAL, "'/usr/bin/ldd': not an ELF file");
        ck_assert_int_eq(ob_error_wrap_subject(&e, "/usr/bin/ldd", "cfg.yml: binary '%s'", "/usr/bin/ldd"), -EINVAL);
        ck_assert_str_eq(e.msg, "cfg.yml: binary '/usr/bin/ldd': not an ELF file");
        ob_error_plain(&e, ENOENT, "'/opt/x' does not exist in the sysroot");
        ck_assert_int_eq(ob_error_wrap_subject(&e, "/opt/x", "cfg.yml:7: files entry '/opt/x'"), -ENOENT);
        ck_assert_str_eq(e.msg, "cfg.yml:7: files entry '/opt/x' does not exist in the sysroot");

        /* Another subject (a parent, a longer path), or one not at the start: a plain wrap. */
        ob_error_plain(&e, ENOENT, "'/opt' does not exist in the sysroot (resolving '/opt/x')");
        ob_error_wrap_subject(&e, "/opt/x", "files entry '/opt/x'");
        ck_assert_str_eq(e.msg, "files entry '/opt/x': '/opt' does not exist in the sysroot (resolving '/opt/x')");
        ob_error_plain(&e, ENOENT, "'/opt/xy' does not exist");
        ob_error_wrap_subject(&e, "/opt/x", "entry");
        ck_assert_str_eq(e.msg, "entry: '/opt/xy' does not exist");
        ob_error_plain(&e, EIO, "cannot read '/opt/x'");
        ob_error_wrap_subject(&e, "/opt/x", "entry '/opt/x'");
        ck_assert_str_eq(e.msg, "entry '/opt/x': cannot read '/opt/x'");
        ck_assert_int_eq(ob_error_wrap_subject(NULL, "/x", "ctx"), -EINVAL);
}
END_TEST

/* ---- paths ---- */

START_TEST(test_path_join)
{
        static const struct {
                const char *a, *b, *want;
        } cases[] = {
                { "/", "etc", "/etc" },  { "/", "/etc", "/etc" },       { "/a", "b", "/a/b" },
                { "/a/", "/b", "/a/b" }, { "/a//", "//b/c", "/a/b/c" }, { "a", "b", "a/b" },
                { "a", "", "a" },        { "/a/", "", "/a" },           { "/", "", "/" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *p = path_join(cases[i].a, cases[i].b);
                ck_assert_msg(strcmp(p, cases[i].want) == 0, "path_join('%s', '%s') = '%s', expected '%s'", cases[i].a,
                              cases[i].b, p, cases[i].want);
                free(p);
        }
}
END_TEST

START_TEST(test_path_normalize_abs)
{
        static const struct {
                const char *in, *want;
        } good[] = {
                { "/", "/" },
                { "///", "/" },
                { "/etc", "/etc" },
                { "/etc/", "/etc" },
                { "//etc//ssl///certs", "/etc/ssl/certs" },
                { "/./etc/./ssl/.", "/etc/ssl" },
                { "/a/..b/c..", "/a/..b/c.." },
                { "/a/.b", "/a/.b" },
        };
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                ObError e = { 0 };
                char *p = path_normalize_abs(good[i].in, &e);
                ck_assert_msg(p != NULL, "'%s' rejected: %s", good[i].in, e.msg);
                ck_assert_msg(strcmp(p, good[i].want) == 0, "'%s' -> '%s', expected '%s'", good[i].in, p, good[i].want);
                free(p);
        }

        static const struct {
                const char *in, *msg;
        } bad[] = {
                { "etc/passwd", "'etc/passwd' is not an absolute path" },
                { "", "'' is not an absolute path" },
                { "./x", "'./x' is not an absolute path" },
                { "/a/../b", "'/a/../b' contains '..'" },
                { "/..", "'/..' contains '..'" },
                { "/a/b/..", "'/a/b/..' contains '..'" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                ObError e = { 0 };
                char *p = path_normalize_abs(bad[i].in, &e);
                ck_assert_msg(p == NULL, "'%s' accepted as '%s'", bad[i].in, p);
                ck_assert_int_eq(e.code, EINVAL);
                ck_assert_str_eq(e.msg, bad[i].msg);
        }
        ObError e = { 0 };
        ck_assert_ptr_null(path_normalize_abs(NULL, &e));
        ck_assert_int_eq(e.code, EINVAL);
}
END_TEST

static int sign(int v)
{
        return v < 0 ? -1 : v > 0 ? 1 : 0;
}

START_TEST(test_path_compare_pairs)
{
        static const struct {
                const char *a, *b;
                int want;
        } cases[] = {
                { "a", "a", 0 },
                { "", "", 0 },
                { "", "a", -1 },
                { "a", "a/b", -1 },   /* a directory before its contents */
                { "a/b", "a-b", -1 }, /* strcmp says the opposite: '-' < '/' */
                { "a/z", "a.txt", -1 },
                { "a/zzz", "a0", -1 },
                { "a/b/c", "a/bc", -1 },
                { "a/b/c", "a/b-c", -1 },
                { "usr/lib", "usr/lib64", -1 },
                { "abc", "abd", -1 },
                { "a/\xc3\xa9", "a/z", 1 }, /* bytes compare unsigned */
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int r1 = sign(path_compare(cases[i].a, cases[i].b));
                int r2 = sign(path_compare(cases[i].b, cases[i].a));
                ck_assert_msg(r1 == cases[i].want, "path_compare('%s', '%s') = %d, expected %d", cases[i].a, cases[i].b,
                              r1, cases[i].want);
                ck_assert_msg(r2 == -cases[i].want, "path_compare is not antisymmetric for '%s', '%s'", cases[i].a,
                              cases[i].b);
        }
}
END_TEST

static int cmp_paths(const void *a, const void *b)
{
        return path_compare(*(const char *const *) a, *(const char *const *) b);
}

START_TEST(test_path_compare_sort)
{
        /* Shuffled input; the expected order keeps every subtree contiguous. */
        const char *in[] = { "b", "a.txt", "a/b/c", "a-b", "a", "a/b", "a/z", "ab", "a0", "a/b-c", "a/b.d", "a/b/c/d" };
        static const char *const want[] = { "a",   "a/b", "a/b/c", "a/b/c/d", "a/b-c", "a/b.d",
                                            "a/z", "a-b", "a.txt", "a0",      "ab",    "b" };
        ck_assert_uint_eq(ELEMENTSOF(in), ELEMENTSOF(want));
        qsort(in, ELEMENTSOF(in), sizeof(in[0]), cmp_paths);
        for (size_t i = 0; i < ELEMENTSOF(want); i++)
                ck_assert_str_eq(in[i], want[i]);
}
END_TEST

/* ---- strings ---- */

START_TEST(test_str_prefix_suffix)
{
        ck_assert(str_startswith("sha256:abc", "sha256:"));
        ck_assert(str_startswith("abc", ""));
        ck_assert(str_startswith("abc", "abc"));
        ck_assert(!str_startswith("ab", "abc"));
        ck_assert(!str_startswith("xabc", "abc"));
        ck_assert(str_endswith("base.yml", ".yml"));
        ck_assert(str_endswith("base.yml", ""));
        ck_assert(str_endswith(".yml", ".yml"));
        ck_assert(!str_endswith("yml", ".yml"));
        ck_assert(!str_endswith("base.yaml", ".yml"));
        ck_assert(!str_endswith("", "x"));
}
END_TEST

START_TEST(test_strv)
{
        char **v = NULL;
        char buf[16];

        ck_assert_uint_eq(strv_length(NULL), 0);
        ck_assert(!strv_contains(NULL, "x"));
        strv_free(NULL);

        snprintf(buf, sizeof(buf), "first");
        strv_push(&v, buf);
        snprintf(buf, sizeof(buf), "second"); /* strv_push copied */
        strv_push(&v, buf);
        strv_push(&v, "");
        ck_assert_uint_eq(strv_length(v), 3);
        ck_assert_str_eq(v[0], "first");
        ck_assert_str_eq(v[1], "second");
        ck_assert_str_eq(v[2], "");
        ck_assert_ptr_null(v[3]);
        ck_assert(strv_contains(v, "second"));
        ck_assert(strv_contains(v, ""));
        ck_assert(!strv_contains(v, "sec"));
        ck_assert(!strv_contains(v, "third"));
        strv_free(v);

        /* _cleanup_strv_ frees on scope exit (checked by the leak checker). */
        {
                _cleanup_strv_ char **w = NULL;
                for (int i = 0; i < 100; i++) {
                        char *s = xasprintf("item-%d", i);
                        strv_push(&w, s);
                        free(s);
                }
                ck_assert_uint_eq(strv_length(w), 100);
                ck_assert_str_eq(w[99], "item-99");
        }
}
END_TEST

START_TEST(test_x_helpers)
{
        char *s = xasprintf("%s-%05d", "v", 42);
        ck_assert_str_eq(s, "v-00042");
        free(s);
        s = xstrndup("abcdef", 3);
        ck_assert_str_eq(s, "abc");
        free(s);
        s = xstrndup("ab", 10);
        ck_assert_str_eq(s, "ab");
        free(s);
        unsigned char *z = xcalloc(10, 10);
        for (int i = 0; i < 100; i++)
                ck_assert_int_eq(z[i], 0);
        free(z);
        /* Zero-size allocations still give a pointer. */
        void *p = xmalloc(0);
        ck_assert_ptr_nonnull(p);
        free(p);
}
END_TEST

/* ---- files ---- */

START_TEST(test_write_read_roundtrip)
{
        ObError e = { 0 };
        char *dir = xasprintf("%s/roundtrip", tmp_root);
        char *path = xasprintf("%s/file", dir);
        ck_assert_int_eq(mkdir(dir, 0755), 0);
        static const char data[] = "line one\n\0binary\xff\x01 tail";
        int r = write_file_atomic(path, data, sizeof(data), 0600, &e);
        ck_assert_msg(r == 0, "%s", e.msg);

        struct stat st;
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_int_eq(st.st_mode & 07777, 0600);
        ck_assert_int_eq((long long) st.st_size, (long long) sizeof(data));

        char *got = NULL;
        size_t size = 0;
        r = read_file(path, &got, &size, &e);
        ck_assert_msg(r == 0, "%s", e.msg);
        ck_assert_uint_eq(size, sizeof(data));
        ck_assert_mem_eq(got, data, sizeof(data));
        ck_assert_int_eq(got[size], '\0'); /* always terminated */
        free(got);

        /* Replacing keeps one file and no temporary beside it. */
        r = write_file_atomic(path, "new", 3, 0644, &e);
        ck_assert_msg(r == 0, "%s", e.msg);
        r = read_file(path, &got, NULL, &e);
        ck_assert_int_eq(r, 0);
        ck_assert_str_eq(got, "new");
        free(got);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_int_eq(st.st_mode & 07777, 0644);
        ck_assert_uint_eq(dir_count(dir), 1);
        unlink(path);
        rmdir(dir);
        free(path);
        free(dir);
}
END_TEST

START_TEST(test_read_file_large_and_empty)
{
        ObError e = { 0 };
        char *path = xasprintf("%s/large", tmp_root);
        size_t n = 100000 + 3;
        char *data = xmalloc(n);
        for (size_t i = 0; i < n; i++)
                data[i] = (char) (i * 7 + i / 251);
        FILE *f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(data, 1, n, f), n);
        fclose(f);

        char *got = NULL;
        size_t size = 0;
        ck_assert_int_eq(read_file(path, &got, &size, &e), 0);
        ck_assert_uint_eq(size, n);
        ck_assert_mem_eq(got, data, n);
        free(got);
        free(data);

        ck_assert_int_eq(write_file_atomic(path, "", 0, 0644, &e), 0);
        ck_assert_int_eq(read_file(path, &got, &size, &e), 0);
        ck_assert_uint_eq(size, 0);
        ck_assert_str_eq(got, "");
        free(got);
        unlink(path);
        free(path);
}
END_TEST

START_TEST(test_file_errors)
{
        ObError e = { 0 };
        char expected[4096];
        char *missing = xasprintf("%s/no-such-file", tmp_root);
        char *got = NULL;
        int r = read_file(missing, &got, NULL, &e);
        ck_assert_int_eq(r, -ENOENT);
        ck_assert_ptr_null(got);
        snprintf(expected, sizeof(expected), "cannot open '%s': %s", missing, strerror(ENOENT));
        ck_assert_str_eq(e.msg, expected);

        char *in_missing_dir = xasprintf("%s/no-such-dir/file", tmp_root);
        r = write_file_atomic(in_missing_dir, "x", 1, 0644, &e);
        ck_assert_int_eq(r, -ENOENT);
        snprintf(expected, sizeof(expected), "cannot create a temporary file beside '%s'", in_missing_dir);
        ck_assert(str_startswith(e.msg, expected));
        ck_assert(str_endswith(e.msg, strerror(ENOENT)));

        /* Renaming over a directory fails; the temporary file is removed. */
        char *sub = xasprintf("%s/adir", tmp_root);
        char *parent = xasprintf("%s", tmp_root);
        ck_assert_int_eq(mkdir(sub, 0755), 0);
        char *inner = xasprintf("%s/adir/x", tmp_root);
        FILE *f = fopen(inner, "w");
        ck_assert_ptr_nonnull(f);
        fclose(f);
        size_t before = dir_count(parent);
        r = write_file_atomic(sub, "x", 1, 0644, &e);
        ck_assert_int_lt(r, 0);
        snprintf(expected, sizeof(expected), "cannot write '%s'", sub);
        ck_assert(str_startswith(e.msg, expected));
        ck_assert_uint_eq(dir_count(parent), before);
        unlink(inner);
        rmdir(sub);
        free(inner);
        free(sub);
        free(parent);
        free(missing);
        free(in_missing_dir);
}
END_TEST

START_TEST(test_write_all)
{
        int fds[2];
        ck_assert_int_eq(pipe(fds), 0);
        ck_assert_int_eq(write_all(fds[1], "hello", 5), 0);
        char buf[8] = { 0 };
        ck_assert_int_eq(read(fds[0], buf, sizeof(buf)), 5);
        ck_assert_str_eq(buf, "hello");
        close(fds[0]);
        close(fds[1]);
        ck_assert_int_eq(write_all(fds[1], "x", 1), -EBADF);
}
END_TEST

START_TEST(test_format_size)
{
        static const struct {
                uint64_t v;
                const char *want;
        } cases[] = {
                { 0, "0 B" },
                { 1, "1 B" },
                { 999, "999 B" },
                { 1000, "1.0 kB" },
                { 461200, "461.2 kB" },
                { 999949, "999.9 kB" },
                { 1000000, "1.0 MB" },
                { 1500000, "1.5 MB" },
                { 2500000000ull, "2.50 GB" },
                { 12345678901234ull, "12345.68 GB" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char buf[32];
                const char *s = format_size(cases[i].v, buf);
                ck_assert_ptr_eq(s, buf);
                ck_assert_msg(strcmp(s, cases[i].want) == 0, "format_size(%llu) = '%s', expected '%s'",
                              (unsigned long long) cases[i].v, s, cases[i].want);
        }
}
END_TEST

static Suite *util_suite(void)
{
        Suite *s = suite_create("error-util");
        TCase *tc = tcase_create("error");
        tcase_add_test(tc, test_error_set_appends_strerror);
        tcase_add_test(tc, test_error_null_err);
        tcase_add_test(tc, test_error_plain_no_strerror);
        tcase_add_test(tc, test_error_wrap);
        tcase_add_test(tc, test_error_wrap_long);
        tcase_add_test(tc, test_error_wrap_subject);
        suite_add_tcase(s, tc);

        tc = tcase_create("strings");
        tcase_add_test(tc, test_path_join);
        tcase_add_test(tc, test_path_normalize_abs);
        tcase_add_test(tc, test_path_compare_pairs);
        tcase_add_test(tc, test_path_compare_sort);
        tcase_add_test(tc, test_str_prefix_suffix);
        tcase_add_test(tc, test_strv);
        tcase_add_test(tc, test_x_helpers);
        tcase_add_test(tc, test_format_size);
        suite_add_tcase(s, tc);

        tc = tcase_create("files");
        tcase_add_unchecked_fixture(tc, tmp_setup, tmp_teardown);
        tcase_add_test(tc, test_write_read_roundtrip);
        tcase_add_test(tc, test_read_file_large_and_empty);
        tcase_add_test(tc, test_file_errors);
        tcase_add_test(tc, test_write_all);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return test_run(util_suite());
}
