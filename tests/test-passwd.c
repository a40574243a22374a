/* SPDX-License-Identifier: MIT */
/* /etc/passwd and /etc/group: rendered from a config's users and groups,
 * and read back from an image tree to find whom its user is. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "passwd.h"
#include "testutil.h"
#include "util.h"

static char tmp_root[4096];

static void tmp_setup(void)
{
        test_tmpdir(tmp_root, sizeof(tmp_root), "passwd");
}

static void tmp_teardown(void)
{
        test_rm_rf(tmp_root);
}

/* ---- rendering ---------------------------------------------------------------- */

START_TEST(test_render_passwd)
{
        SpecUser users[] = {
                { .name = (char *) "root",
                  .uid = 0,
                  .gid = 0,
                  .home = (char *) "/root",
                  .shell = (char *) "/sbin/nologin",
                  .gecos = (char *) "root" },
                { .name = (char *) "nonroot",
                  .uid = 1000,
                  .gid = 1000,
                  .home = (char *) "/home/nonroot",
                  .shell = (char *) "/bin/false",
                  .gecos = (char *) "Non Root" },
                { .name = (char *) "nobody",
                  .uid = 65534,
                  .gid = 65534,
                  .home = (char *) "/nonexistent",
                  .shell = (char *) "/sbin/nologin",
                  .gecos = (char *) "" },
        };
        char *s = passwd_render(users, ELEMENTSOF(users));
        ck_assert_str_eq(s, "root:x:0:0:root:/root:/sbin/nologin\n"
                            "nonroot:x:1000:1000:Non Root:/home/nonroot:/bin/false\n"
                            "nobody:x:65534:65534::/nonexistent:/sbin/nologin\n");
        free(s);
        s = passwd_render(NULL, 0);
        ck_assert_str_eq(s, "");
        free(s);
}
END_TEST

START_TEST(test_render_group)
{
        char *one[] = { (char *) "nonroot", NULL };
        char *two[] = { (char *) "a", (char *) "b", NULL };
        char *none[] = { NULL };
        SpecGroup groups[] = {
                { .name = (char *) "root", .gid = 0 },
                { .name = (char *) "nonroot", .gid = 1000, .members = one },
                { .name = (char *) "pair", .gid = 2000, .members = two },
                { .name = (char *) "empty", .gid = 2001, .members = none },
        };
        char *s = group_render(groups, ELEMENTSOF(groups));
        ck_assert_str_eq(s, "root:x:0:\nnonroot:x:1000:nonroot\npair:x:2000:a,b\nempty:x:2001:\n");
        free(s);
        s = group_render(NULL, 0);
        ck_assert_str_eq(s, "");
        free(s);
}
END_TEST

/* ---- lookup ------------------------------------------------------------------- */

static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
                             "# not an entry\n"
                             "nonroot:x:1000:1000:nonroot:/home/nonroot:/sbin/nologin\n"
                             "relative:x:1001:1001::home/relative:/bin/sh\n"
                             "broken:x:notanumber:1:::\n";
/* nonroot is listed in its own primary group too: that one is not a
 * supplementary group. */
static const char group[] = "root:x:0:\n"
                            "nonroot:x:1000:nonroot\n"
                            "extra:x:2000:someone,nonroot\n"
                            "more:x:2001:nonroot\n"
                            "others:x:2002:nonrootx,xnonroot\n";

static void write_text(const char *root, const char *path, const char *text)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", root, path);
        ObError err = { 0 };
        ck_assert_msg(write_file_atomic(p, text, strlen(text), 0644, &err) == 0, "%s", err.msg);
}

/* An image tree under the temporary directory with /etc/passwd and
 * /etc/group (either may be NULL: no such file). */
static char *image_root(const char *name, const char *passwd_text, const char *group_text)
{
        char *root = xasprintf("%s/%s", tmp_root, name);
        _cleanup_free_ char *etc = xasprintf("%s/etc", root);
        ObError err = { 0 };
        ck_assert_msg(mkdir_p(etc, 0755, &err) == 0, "%s", err.msg);
        if (passwd_text)
                write_text(root, "etc/passwd", passwd_text);
        if (group_text)
                write_text(root, "etc/group", group_text);
        return root;
}

static ImageAccount lookup(const char *root, const char *user)
{
        ImageAccount a = { 0 };
        ObError err = { 0 };
        ck_assert_msg(passwd_lookup(root, "img", user, &a, &err) == 0, "%s: %s", user, err.msg);
        return a;
}

static void check_account(const ImageAccount *a, uid_t uid, gid_t gid, const char *home, size_t n_groups,
                          const gid_t *groups)
{
        ck_assert_uint_eq(a->uid, uid);
        ck_assert_uint_eq(a->gid, gid);
        ck_assert_str_eq(a->home, home);
        ck_assert_uint_eq(a->n_groups, n_groups);
        for (size_t i = 0; i < n_groups; i++)
                ck_assert_uint_eq(a->groups[i], groups[i]);
}

START_TEST(test_lookup_by_name)
{
        _cleanup_free_ char *root = image_root("by-name", passwd, group);
        ImageAccount a = lookup(root, "nonroot");
        check_account(&a, 1000, 1000, "/home/nonroot", 2, (const gid_t[]){ 2000, 2001 });
        image_account_clear(&a);

        /* A home that is not absolute is no home. */
        a = lookup(root, "relative");
        check_account(&a, 1001, 1001, "/", 0, NULL);
        image_account_clear(&a);
        image_account_clear(NULL);
}
END_TEST

START_TEST(test_lookup_by_uid)
{
        _cleanup_free_ char *root = image_root("by-uid", passwd, group);
        /* Found in /etc/passwd by its number: the same as by name. */
        ImageAccount a = lookup(root, "1000");
        check_account(&a, 1000, 1000, "/home/nonroot", 2, (const gid_t[]){ 2000, 2001 });
        image_account_clear(&a);

        /* A number /etc/passwd does not know needs no entry: group 0, no
         * home, no supplementary groups. */
        a = lookup(root, "4242");
        check_account(&a, 4242, 0, "/", 0, NULL);
        image_account_clear(&a);

        /* No user at all is root. */
        a = lookup(root, "");
        check_account(&a, 0, 0, "/root", 0, NULL);
        image_account_clear(&a);
}
END_TEST

START_TEST(test_lookup_group)
{
        _cleanup_free_ char *root = image_root("group", passwd, group);
        /* A group by name becomes the primary group, and so no longer a
         * supplementary one. */
        ImageAccount a = lookup(root, "nonroot:extra");
        check_account(&a, 1000, 2000, "/home/nonroot", 2, (const gid_t[]){ 1000, 2001 });
        image_account_clear(&a);

        a = lookup(root, "1000:3000");
        check_account(&a, 1000, 3000, "/home/nonroot", 3, (const gid_t[]){ 1000, 2000, 2001 });
        image_account_clear(&a);

        /* "USER:" is USER with the group of its passwd entry. */
        a = lookup(root, "nonroot:");
        check_account(&a, 1000, 1000, "/home/nonroot", 2, (const gid_t[]){ 2000, 2001 });
        image_account_clear(&a);
}
END_TEST

START_TEST(test_lookup_missing)
{
        _cleanup_free_ char *root = image_root("missing", passwd, group);
        ImageAccount a = { 0 };
        ObError err = { 0 };

        ck_assert_int_eq(passwd_lookup(root, "img", "nobody", &a, &err), -ENOENT);
        ck_assert_str_eq(err.msg, "the user 'nobody' of image 'img' is not in its /etc/passwd");
        /* A line without a valid uid is no entry. */
        ck_assert_int_eq(passwd_lookup(root, "img", "broken", &a, &err), -ENOENT);
        ck_assert_int_eq(passwd_lookup(root, "img", "nonroot:nogroup", &a, &err), -ENOENT);
        ck_assert_str_eq(err.msg, "the group 'nogroup' of image 'img' is not in its /etc/group");
        ck_assert_ptr_null(a.home);
        ck_assert_ptr_null(a.groups);

        /* Without /etc/passwd and /etc/group a number still works, a name
         * does not. */
        _cleanup_free_ char *bare = image_root("bare", NULL, NULL);
        a = lookup(bare, "1000:1000");
        check_account(&a, 1000, 1000, "/", 0, NULL);
        image_account_clear(&a);
        ck_assert_int_eq(passwd_lookup(bare, "img", "nonroot", &a, &err), -ENOENT);
}
END_TEST

START_TEST(test_lookup_symlink_inside)
{
        /* An absolute link resolves inside the image, not on the host. */
        _cleanup_free_ char *root = image_root("links", NULL, group);
        _cleanup_free_ char *real = xasprintf("%s/real", root);
        _cleanup_free_ char *link = xasprintf("%s/etc/passwd", root);
        ck_assert_int_eq(mkdir(real, 0755), 0);
        write_text(root, "real/passwd", "nonroot:x:1234:1000::/home/inside:/bin/sh\n");
        ck_assert_int_eq(symlink("/real/passwd", link), 0);

        ImageAccount a = lookup(root, "nonroot");
        check_account(&a, 1234, 1000, "/home/inside", 2, (const gid_t[]){ 2000, 2001 });
        image_account_clear(&a);
}
END_TEST

static Suite *passwd_suite(void)
{
        Suite *s = suite_create("passwd");
        TCase *tc = tcase_create("render");
        tcase_add_test(tc, test_render_passwd);
        tcase_add_test(tc, test_render_group);
        suite_add_tcase(s, tc);
        tc = tcase_create("lookup");
        tcase_add_unchecked_fixture(tc, tmp_setup, tmp_teardown);
        tcase_add_test(tc, test_lookup_by_name);
        tcase_add_test(tc, test_lookup_by_uid);
        tcase_add_test(tc, test_lookup_group);
        tcase_add_test(tc, test_lookup_missing);
        tcase_add_test(tc, test_lookup_symlink_inside);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return test_run(passwd_suite());
}
