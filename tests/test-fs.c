/* SPDX-License-Identifier: MIT */
/* Removing trees: rm_rf_at() and the temporary-file registry that calls it
 * from a signal handler. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "testutil.h"
#include "tmpfile.h"
#include "util.h"

static char tmp_root[4096];

static void tmp_setup(void)
{
        test_tmpdir(tmp_root, sizeof(tmp_root), "fs");
}

static void tmp_teardown(void)
{
        test_rm_rf(tmp_root);
}

static char *tmp_path(const char *rel)
{
        return xasprintf("%s/%s", tmp_root, rel);
}

static void set_mode(const char *rel, mode_t mode)
{
        _cleanup_free_ char *p = tmp_path(rel);
        ck_assert_msg(chmod(p, mode) == 0, "%s: %s", rel, strerror(errno));
}

static void make_dir(const char *rel, mode_t mode)
{
        _cleanup_free_ char *p = tmp_path(rel);
        ck_assert_msg(mkdir(p, 0755) == 0, "%s: %s", rel, strerror(errno));
        set_mode(rel, mode);
}

static void make_file(const char *rel, const char *text)
{
        _cleanup_free_ char *p = tmp_path(rel);
        ObError err = { 0 };
        ck_assert_msg(write_file_atomic(p, text, strlen(text), 0644, &err) == 0, "%s", err.msg);
}

static void make_link(const char *rel, const char *target)
{
        _cleanup_free_ char *p = tmp_path(rel);
        ck_assert_int_eq(symlink(target, p), 0);
}

static bool tmp_exists(const char *rel)
{
        _cleanup_free_ char *p = tmp_path(rel);
        struct stat st;
        return lstat(p, &st) == 0;
}

/* name/, holding files, a read-only (0500) directory with content, a
 * directory no one may enter (0000), and symlinks to outside/ and to a file
 * in it (made once, with outside/keep). */
static void make_tree(const char *name)
{
        _cleanup_free_ char *outside = tmp_path("outside");
        _cleanup_free_ char *outside_file = tmp_path("outside/keep");
        const struct {
                const char *rel;
                char type;       /* 'd' directory, 'f' file, 'l' symlink */
                const char *arg; /* content or target */
        } entries[] = {
                { "", 'd', NULL },
                { "a", 'd', NULL },
                { "a/b", 'd', NULL },
                { "a/b/file", 'f', "deep\n" },
                { "a/to-dir", 'l', outside },
                { "a/b/to-file", 'l', outside_file },
                { "ro", 'd', NULL },
                { "ro/inner", 'd', NULL },
                { "ro/inner/file", 'f', "x\n" },
                { "ro/dangling", 'l', "/nonexistent/ob-test" },
                { "closed", 'd', NULL },
                { "closed/file", 'f', "x\n" },
        };

        if (!tmp_exists("outside")) {
                make_dir("outside", 0755);
                make_file("outside/keep", "keep\n");
        }
        for (size_t i = 0; i < ELEMENTSOF(entries); i++) {
                _cleanup_free_ char *rel = xasprintf("%s/%s", name, entries[i].rel);
                if (entries[i].type == 'd')
                        make_dir(rel, 0755);
                else if (entries[i].type == 'f')
                        make_file(rel, entries[i].arg);
                else
                        make_link(rel, entries[i].arg);
        }
        /* Modes last: nothing could be made inside them afterwards. */
        _cleanup_free_ char *ro = xasprintf("%s/ro", name);
        _cleanup_free_ char *closed = xasprintf("%s/closed", name);
        set_mode(ro, 0500);
        set_mode(closed, 0000);
}

static void check_outside_intact(void)
{
        ck_assert(tmp_exists("outside"));
        ck_assert(tmp_exists("outside/keep"));
}

START_TEST(test_rm_rf_at_tree)
{
        make_tree("tree");
        _cleanup_free_ char *tree = tmp_path("tree");
        ck_assert_int_eq(rm_rf_at(AT_FDCWD, tree), 0);
        ck_assert(!tmp_exists("tree"));
        check_outside_intact();

        /* The same relative to a directory descriptor. */
        make_tree("tree2");
        _cleanup_close_ int fd = open(tmp_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(rm_rf_at(fd, "tree2"), 0);
        ck_assert(!tmp_exists("tree2"));
        check_outside_intact();
}
END_TEST

START_TEST(test_rm_rf_at_link_and_file)
{
        make_dir("outside", 0755);
        make_file("outside/keep", "keep\n");
        /* A symlink named directly is removed itself, never its target. */
        _cleanup_free_ char *outside = tmp_path("outside");
        make_link("link", outside);
        _cleanup_free_ char *link = tmp_path("link");
        ck_assert_int_eq(rm_rf_at(AT_FDCWD, link), 0);
        ck_assert(!tmp_exists("link"));
        check_outside_intact();

        make_file("plain", "x\n");
        _cleanup_free_ char *plain = tmp_path("plain");
        ck_assert_int_eq(rm_rf_at(AT_FDCWD, plain), 0);
        ck_assert(!tmp_exists("plain"));
}
END_TEST

START_TEST(test_rm_rf_at_missing)
{
        _cleanup_free_ char *missing = tmp_path("no-such-thing");
        ck_assert_int_eq(rm_rf_at(AT_FDCWD, missing), 0);
        _cleanup_close_ int fd = open(tmp_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(rm_rf_at(fd, "no-such-thing"), 0);
        ObError err = { 0 };
        ck_assert_msg(rm_tree(missing, &err) == 0, "%s", err.msg);
}
END_TEST

START_TEST(test_tmpfile_cleanup_all)
{
        make_tree("registered-tree");
        make_file("registered-file", "x\n");
        make_file("unregistered-file", "x\n");
        make_file("forgotten-file", "x\n");
        _cleanup_free_ char *tree = tmp_path("registered-tree");
        _cleanup_free_ char *file = tmp_path("registered-file");
        _cleanup_free_ char *unregistered = tmp_path("unregistered-file");
        _cleanup_free_ char *forgotten = tmp_path("forgotten-file");
        _cleanup_free_ char *missing = tmp_path("never-made");

        int slots[5] = {
                tmpfile_register_tree(tree), tmpfile_register(file),         tmpfile_register(unregistered),
                tmpfile_register(forgotten), tmpfile_register_tree(missing),
        };
        for (size_t i = 0; i < ELEMENTSOF(slots); i++)
                ck_assert_int_ge(slots[i], 0);
        tmpfile_unregister(slots[2]);
        tmpfile_forget(forgotten);

        tmpfile_cleanup_all();
        ck_assert(!tmp_exists("registered-tree"));
        ck_assert(!tmp_exists("registered-file"));
        ck_assert(tmp_exists("unregistered-file"));
        ck_assert(tmp_exists("forgotten-file"));
        check_outside_intact();

        for (size_t i = 0; i < ELEMENTSOF(slots); i++)
                tmpfile_unregister(slots[i]);
        tmpfile_unregister(-1);
}
END_TEST

/* read_file() reads regular files only: a FIFO planted under a name must not
 * hang a build, nor a link to /dev/zero exhaust its memory. */
START_TEST(test_read_file_only_regular)
{
        char dir[256];
        test_tmpdir(dir, sizeof(dir), "fs-read");
        _cleanup_free_ char *fifo = xasprintf("%s/fifo", dir), *zero = xasprintf("%s/zero", dir),
                            *good = xasprintf("%s/good", dir);
        ck_assert_int_eq(mkfifo(fifo, 0600), 0);
        ck_assert_int_eq(symlink("/dev/zero", zero), 0);
        ObError e = { 0 };
        ck_assert_int_eq(write_file_atomic(good, "abc", 3, 0644, &e), 0);
        char *data = NULL;
        size_t size = 0;
        ck_assert_int_eq(read_file(fifo, &data, &size, &e), -EINVAL);
        ck_assert_msg(strstr(e.msg, "is not a regular file"), "%s", e.msg);
        ck_assert_int_eq(read_file(zero, &data, &size, &e), -EINVAL);
        ck_assert_ptr_null(data);
        ck_assert_int_eq(read_file(good, &data, &size, &e), 0);
        ck_assert_uint_eq(size, 3);
        ck_assert_str_eq(data, "abc");
        free(data);
        test_rm_rf(dir);
}
END_TEST

static Suite *fs_suite(void)
{
        Suite *s = suite_create("fs");
        TCase *tc = tcase_create("remove");
        tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
        tcase_add_test(tc, test_rm_rf_at_tree);
        tcase_add_test(tc, test_rm_rf_at_link_and_file);
        tcase_add_test(tc, test_rm_rf_at_missing);
        tcase_add_test(tc, test_tmpfile_cleanup_all);
        tcase_add_test(tc, test_read_file_only_regular);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return test_run(fs_suite());
}
