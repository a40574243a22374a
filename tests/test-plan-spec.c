/* SPDX-License-Identifier: MIT */
/* The whole layer of a base-tier spec: rootfs, files from a sysroot built in
 * a temporary directory, directories, symlinks, passwd and group. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "plan.h"
#include "spec.h"
#include "sysroot.h"
#include "testutil.h"
#include "util.h"

static char tmp_root[4096];

static void tmp_setup(void)
{
        test_tmpdir(tmp_root, sizeof(tmp_root), "plan-spec");
}

static void tmp_teardown(void)
{
        test_rm_rf(tmp_root);
}

static char *test_dir(const char *name)
{
        char *p = xasprintf("%s/%s", tmp_root, name);
        ck_assert_int_eq(mkdir(p, 0755), 0);
        return p;
}

static Spec *load_spec(const char *path)
{
        ObError e = { 0 };
        Spec *s = NULL;
        ck_assert_msg(spec_load_base(path, "1", &s, &e) == 0, "%s", e.msg);
        return s;
}

static const char spec_text[] = "name: base\n"
                                "description: d\n"
                                "rootfs: rootfs\n"
                                "files:\n"
                                "  - path: /etc/ssl/certs/ca-certificates.crt\n"
                                "    source: /etc/ssl/certs/ca.crt\n"
                                "    mode: \"0644\"\n"
                                "  - path: /usr/share/zoneinfo\n"
                                "    exclude: \"*.tab\"\n"
                                "directories:\n"
                                "  - { path: /tmp, mode: \"1777\" }\n"
                                "  - { path: /home/nonroot, mode: \"0700\", owner: \"1000:1000\" }\n"
                                "symlinks:\n"
                                "  - { path: /var/run, target: /run }\n"
                                "groups:\n"
                                "  - { name: root, gid: 0 }\n"
                                "users:\n"
                                "  - { name: root, uid: 0, gid: 0, home: /root }\n";

static void make_spec_tree(const char *dir)
{
        test_mk_dir(dir, "rootfs", 0755);
        test_mk_dir(dir, "rootfs/etc", 0700);
        test_mk_file(dir, "rootfs/etc/os-release", "ID=test\n", 0600);
        test_mk_dir(dir, "root", 0755);
        test_mk_dir(dir, "root/etc", 0755);
        test_mk_dir(dir, "root/etc/ssl", 0755);
        test_mk_dir(dir, "root/etc/ssl/certs", 0755);
        test_mk_file(dir, "root/etc/ssl/certs/ca.crt", "CERT", 0600);
        test_mk_dir(dir, "root/usr", 0755);
        test_mk_dir(dir, "root/usr/share", 0755);
        test_mk_dir(dir, "root/usr/share/zoneinfo", 0755);
        test_mk_file(dir, "root/usr/share/zoneinfo/UTC", "TZif", 0644);
        test_mk_file(dir, "root/usr/share/zoneinfo/zone.tab", "tab", 0644);
        test_mk_link(dir, "root/usr/share/zoneinfo/localtime", "UTC");
        test_mk_file(dir, "base.yml", spec_text, 0644);
}

START_TEST(test_from_spec)
{
        char *dir = test_dir("spec");
        make_spec_tree(dir);
        char *cfg = xasprintf("%s/base.yml", dir);
        char *rootdir = xasprintf("%s/root", dir);
        Spec *s = load_spec(cfg);
        Sysroot *sr = test_open_root(rootdir);
        Plan p;
        ObError e = { 0 };
        plan_init(&p);
        ck_assert_msg(plan_from_spec(&p, s, sr, 12345, &e) == 0, "%s", e.msg);

        static const char *const want[] = {
                "etc",
                "etc/group",
                "etc/os-release",
                "etc/passwd",
                "etc/ssl",
                "etc/ssl/certs",
                "etc/ssl/certs/ca-certificates.crt",
                "home",
                "home/nonroot",
                "tmp",
                "usr",
                "usr/share",
                "usr/share/zoneinfo",
                "usr/share/zoneinfo/UTC",
                "usr/share/zoneinfo/localtime",
                "var",
                "var/run",
        };
        test_assert_paths(&p, want, ELEMENTSOF(want));

        const Entry *en = test_must_find(&p, "etc/passwd");
        ck_assert_int_eq(en->type, ENTRY_FILE);
        ck_assert_str_eq(en->data, "root:x:0:0:root:/root:/sbin/nologin\n");
        ck_assert_uint_eq(en->size, strlen(en->data));
        ck_assert_uint_eq(en->mode, 0644);
        ck_assert_int_eq(en->mtime, 12345);
        ck_assert_str_eq(test_must_find(&p, "etc/group")->data, "root:x:0:\n");

        /* rootfs: modes normalised */
        ck_assert_uint_eq(test_must_find(&p, "etc")->mode, 0755);
        en = test_must_find(&p, "etc/os-release");
        ck_assert_uint_eq(en->mode, 0644);
        ck_assert_ptr_nonnull(en->source);
        ck_assert(str_endswith(en->source, "/rootfs/etc/os-release"));

        en = test_must_find(&p, "etc/ssl/certs/ca-certificates.crt");
        ck_assert_uint_eq(en->mode, 0644);
        char *ca = xasprintf("%s/etc/ssl/certs/ca.crt", rootdir);
        ck_assert_str_eq(en->source, ca);
        ck_assert_ptr_nonnull(strstr(en->why, "base.yml:5"));

        ck_assert_uint_eq(test_must_find(&p, "tmp")->mode, 01777);
        en = test_must_find(&p, "home");
        ck_assert_uint_eq(en->mode, 0755);
        ck_assert_uint_eq(en->uid, 0);
        en = test_must_find(&p, "home/nonroot");
        ck_assert_uint_eq(en->mode, 0700);
        ck_assert_uint_eq(en->uid, 1000);
        ck_assert_uint_eq(en->gid, 1000);
        en = test_must_find(&p, "usr/share/zoneinfo/localtime");
        ck_assert_int_eq(en->type, ENTRY_SYMLINK);
        ck_assert_str_eq(en->target, "UTC");
        en = test_must_find(&p, "var/run");
        ck_assert_int_eq(en->type, ENTRY_SYMLINK);
        ck_assert_str_eq(en->target, "/run");
        ck_assert_ptr_null(plan_find(&p, "usr/share/zoneinfo/zone.tab"));

        plan_clear(&p);
        sysroot_free(sr);
        spec_free(s);
        free(ca);
        free(rootdir);
        free(cfg);
        free(dir);
}
END_TEST

START_TEST(test_from_spec_conflict)
{
        char *dir = test_dir("spec-conflict");
        make_spec_tree(dir);
        test_mk_file(dir, "rootfs/etc/passwd", "other\n", 0644);
        char *cfg = xasprintf("%s/base.yml", dir);
        char *rootdir = xasprintf("%s/root", dir);
        Spec *s = load_spec(cfg);
        Sysroot *sr = test_open_root(rootdir);
        Plan p;
        ObError e = { 0 };
        plan_init(&p);
        ck_assert_int_eq(plan_from_spec(&p, s, sr, 0, &e), -EEXIST);
        char *want = xasprintf("%s: two different sources for '/etc/passwd': file (", cfg);
        ck_assert_msg(str_startswith(e.msg, want), "%s", e.msg);
        ck_assert_ptr_nonnull(strstr(e.msg, "generated from 'users'"));
        plan_clear(&p);

        /* A files entry whose source is missing names the config line. */
        spec_free(s);
        char *text = xasprintf("name: base\ndescription: d\nfiles:\n  - /etc/missing\n");
        test_mk_file(dir, "missing.yml", text, 0644);
        char *cfg2 = xasprintf("%s/missing.yml", dir);
        s = load_spec(cfg2);
        plan_init(&p);
        ck_assert_int_eq(plan_from_spec(&p, s, sr, 0, &e), -ENOENT);
        char *want2 = xasprintf("%s:4: files entry '/etc/missing': '/etc/missing' does not exist in the sysroot", cfg2);
        ck_assert_str_eq(e.msg, want2);
        plan_clear(&p);

        sysroot_free(sr);
        spec_free(s);
        free(want2);
        free(cfg2);
        free(text);
        free(want);
        free(rootdir);
        free(cfg);
        free(dir);
}
END_TEST

/* Private files: copied only when named exactly. */

static Suite *plan_spec_suite(void)
{
        Suite *s = suite_create("plan-spec");
        TCase *tc = tcase_create("spec");
        tcase_add_unchecked_fixture(tc, tmp_setup, tmp_teardown);
        tcase_add_test(tc, test_from_spec);
        tcase_add_test(tc, test_from_spec_conflict);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return test_run(plan_spec_suite());
}
