/* SPDX-License-Identifier: MIT */
/* debroot: the dpkg database written from .deb files (made here with
 * dpkg-deb --build, no network), and the CA bundle from the certificates
 * that etc/ca-certificates.conf names. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "debroot.h"
#include "path.h"
#include "platform.h"
#include "testutil.h"
#include "util.h"

static char tmp_root[512];

static void tmp_setup(void)
{
        test_tmpdir(tmp_root, sizeof(tmp_root), "debroot");
}

static void tmp_teardown(void)
{
        test_rm_rf(tmp_root);
}

/* The text of the file rel under dir. */
static char *text_at(const char *dir, const char *rel)
{
        _cleanup_free_ char *path = path_join(dir, rel);
        return test_file_text(path);
}

static void make_deb(const char *name, const char *control)
{
        _cleanup_free_ char *pkg = xasprintf("%s/pkg-%s", tmp_root, name);
        _cleanup_free_ char *cmd =
                xasprintf("mkdir -p '%s/DEBIAN' '%s/usr/bin' '%s/debs' && printf '%%s' '%s' > '%s/DEBIAN/control' && "
                          "echo hi > '%s/usr/bin/%s' && dpkg-deb --build --root-owner-group '%s' '%s/debs/%s.deb' "
                          ">/dev/null 2>&1",
                          pkg, pkg, tmp_root, control, pkg, pkg, name, pkg, tmp_root, name);
        if (system(cmd) != 0)
                test_skip("dpkg-deb --build failed (dpkg-deb missing?)");
}

START_TEST(test_record_packages)
{
        make_deb("libc6", "Package: libc6\nVersion: 2.36-9\nArchitecture: arm64\nMulti-Arch: same\n"
                          "Maintainer: x <x@example.org>\nDescription: C library\n long text\n");
        make_deb("hello", "Package: hello\nVersion: 1.0\nArchitecture: arm64\nMaintainer: x <x@example.org>\n"
                          "Description: hi\n");
        _cleanup_free_ char *tree = path_join(tmp_root, "tree");
        _cleanup_free_ char *debs = path_join(tmp_root, "debs");
        test_mk_dir(tmp_root, "tree", 0755);
        ObError e = { 0 };
        ck_assert_msg(debroot_record_packages(tree, debs, "arm64", &e) == 0, "%s", e.msg);

        _cleanup_free_ char *status = text_at(tree, "var/lib/dpkg/status");
        ck_assert_msg(strstr(status, "Package: hello\nStatus: install ok installed\nVersion: 1.0\n"), "%s", status);
        ck_assert_msg(strstr(status, "Package: libc6\nStatus: install ok installed\n"), "%s", status);
        ck_assert_msg(strstr(status, "Description: C library\n long text\n\n"), "%s", status);
        _cleanup_free_ char *list = text_at(tree, "var/lib/dpkg/info/libc6:arm64.list");
        ck_assert_msg(strstr(list, "/.\n") == list && strstr(list, "\n/usr/bin/libc6\n"), "%s", list);
        _cleanup_free_ char *hello = text_at(tree, "var/lib/dpkg/info/hello.list");
        ck_assert_msg(strstr(hello, "\n/usr/bin\n/usr/bin/hello\n"), "%s", hello);
        _cleanup_free_ char *arch = text_at(tree, "var/lib/dpkg/arch");
        ck_assert_str_eq(arch, "arm64\n");

        /* What the rest of the program reads of it. */
        _cleanup_(sysroot_freep) Sysroot *root = NULL;
        ck_assert_int_eq(sysroot_open(tree, &root, &e), 0);
        Platform p;
        ck_assert_int_eq(platform_of_sysroot(root, &p, &e), 1);
        ck_assert_str_eq(p.arch, "arm64");
}
END_TEST

START_TEST(test_ca_bundle)
{
        test_mk_dir(tmp_root, "etc", 0755);
        test_mk_dir(tmp_root, "usr", 0755);
        test_mk_dir(tmp_root, "usr/share", 0755);
        test_mk_dir(tmp_root, "usr/share/ca-certificates", 0755);
        test_mk_dir(tmp_root, "usr/share/ca-certificates/mozilla", 0755);
        test_mk_file(tmp_root, "usr/share/ca-certificates/mozilla/b.crt", "B\n", 0644);
        test_mk_file(tmp_root, "usr/share/ca-certificates/mozilla/a.crt", "A", 0644);
        ObError e = { 0 };
        /* No conf: every certificate, in name order, each ending in a newline. */
        ck_assert_msg(debroot_ca_bundle(tmp_root, &e) == 0, "%s", e.msg);
        _cleanup_free_ char *bundle = text_at(tmp_root, "etc/ssl/certs/ca-certificates.crt");
        ck_assert_str_eq(bundle, "A\nB\n");
        /* A conf that deselects one ('!'). */
        test_mk_file(tmp_root, "etc/ca-certificates.conf", "# comment\n!mozilla/a.crt\nmozilla/b.crt\n", 0644);
        ck_assert_msg(debroot_ca_bundle(tmp_root, &e) == 0, "%s", e.msg);
        _cleanup_free_ char *again = text_at(tmp_root, "etc/ssl/certs/ca-certificates.crt");
        ck_assert_str_eq(again, "B\n");
}
END_TEST

static Suite *debroot_suite(void)
{
        Suite *s = suite_create("debroot");
        TCase *tc = tcase_create("debroot");
        tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
        tcase_add_test(tc, test_record_packages);
        tcase_add_test(tc, test_ca_bundle);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return test_run(debroot_suite());
}
