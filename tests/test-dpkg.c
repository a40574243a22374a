/* SPDX-License-Identifier: MIT */
/* The dpkg status reader: paragraphs, fields and continuation lines, what
 * counts as installed, and the version of a package from a sysroot's
 * database (tests/data/dpkg/root), without running anything. */
#include <check.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "dpkg.h"
#include "sysroot.h"
#include "testutil.h"
#include "util.h"

#define DPKG_ROOT TEST_DATA_DIR "/dpkg/root"

static Sysroot *open_root(void)
{
        ObError err = { 0 };
        Sysroot *s = NULL;
        ck_assert_msg(sysroot_open(DPKG_ROOT, &s, &err) == 0, "%s", err.msg);
        return s;
}

/* ---- parsing ---------------------------------------------------------- */

START_TEST(test_parse_paragraphs)
{
        _cleanup_(dpkg_status_freep) DpkgStatus *s = dpkg_status_parse("Package: a\n"
                                                                       "Status: install ok installed\n"
                                                                       "Version: 1.0\n"
                                                                       "\n"
                                                                       "\n"
                                                                       "Package: b\n"
                                                                       "Version:2\n"
                                                                       " \t\n"
                                                                       "package:   c  \n");
        ck_assert_uint_eq(s->n_paragraphs, 3);
        ck_assert_uint_eq(s->paragraphs[0].n_fields, 3);
        ck_assert_str_eq(s->paragraphs[0].fields[0].name, "Package");
        ck_assert_str_eq(s->paragraphs[0].fields[0].value, "a");
        ck_assert_str_eq(dpkg_paragraph_get(&s->paragraphs[0], "Version"), "1.0");
        /* no blank after the colon; a line of blanks ends a paragraph too */
        ck_assert_str_eq(dpkg_paragraph_get(&s->paragraphs[1], "Version"), "2");
        ck_assert_ptr_null(dpkg_paragraph_get(&s->paragraphs[1], "Status"));
        /* names compare without regard to case; the value loses its blanks */
        ck_assert_str_eq(dpkg_paragraph_get(&s->paragraphs[2], "Package"), "c");
}
END_TEST

START_TEST(test_parse_continuation)
{
        _cleanup_(dpkg_status_freep) DpkgStatus *s = dpkg_status_parse("Package: doc\n"
                                                                       "Description: short\n"
                                                                       " Package: not-a-field\n"
                                                                       " .\n"
                                                                       "\tlast line\n"
                                                                       "Conffiles:\n"
                                                                       " /etc/doc.conf 0123\n"
                                                                       "Version: 3\n");
        ck_assert_uint_eq(s->n_paragraphs, 1);
        const DpkgParagraph *p = &s->paragraphs[0];
        ck_assert_uint_eq(p->n_fields, 4);
        ck_assert_str_eq(dpkg_paragraph_get(p, "Description"), "short\n Package: not-a-field\n .\n\tlast line");
        ck_assert_str_eq(dpkg_paragraph_get(p, "Conffiles"), "\n /etc/doc.conf 0123");
        ck_assert_str_eq(dpkg_paragraph_get(p, "Package"), "doc");
        ck_assert_str_eq(dpkg_paragraph_get(p, "Version"), "3");
}
END_TEST

START_TEST(test_parse_damaged)
{
        /* Lines that are neither fields nor continuations are passed over. */
        _cleanup_(dpkg_status_freep) DpkgStatus *s = dpkg_status_parse(" orphan continuation\n"
                                                                       "no colon here\n"
                                                                       ": no name\n"
                                                                       "Package: p\n"
                                                                       "Version: 1");
        ck_assert_uint_eq(s->n_paragraphs, 1);
        ck_assert_uint_eq(s->paragraphs[0].n_fields, 2);
        ck_assert_str_eq(dpkg_paragraph_get(&s->paragraphs[0], "Version"), "1");

        _cleanup_(dpkg_status_freep) DpkgStatus *empty = dpkg_status_parse("");
        ck_assert_uint_eq(empty->n_paragraphs, 0);
        ck_assert_ptr_null(dpkg_status_find_installed(empty, "p"));
}
END_TEST

START_TEST(test_installed)
{
        static const struct {
                const char *status;
                bool installed;
        } cases[] = {
                { "Status: install ok installed\n", true },
                { "Status: hold ok installed\n", true },
                { "Status: deinstall ok config-files\n", false },
                { "Status: purge ok not-installed\n", false },
                { "Status: install reinstreq half-installed\n", false },
                { "Status: install ok unpacked\n", false },
                { "", false },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *text = xasprintf("Package: p\n%s", cases[i].status);
                _cleanup_(dpkg_status_freep) DpkgStatus *s = dpkg_status_parse(text);
                ck_assert_uint_eq(s->n_paragraphs, 1);
                ck_assert_msg(dpkg_paragraph_installed(&s->paragraphs[0]) == cases[i].installed, "%s", cases[i].status);
        }
}
END_TEST

START_TEST(test_find_installed)
{
        /* The removed copy that comes first is passed over. */
        _cleanup_(dpkg_status_freep) DpkgStatus *s = dpkg_status_parse("Package: lib\n"
                                                                       "Status: deinstall ok config-files\n"
                                                                       "Version: 1\n"
                                                                       "\n"
                                                                       "Package: lib-dev\n"
                                                                       "Status: install ok installed\n"
                                                                       "Version: 2\n"
                                                                       "\n"
                                                                       "Package: lib\n"
                                                                       "Status: install ok installed\n"
                                                                       "Version: 3\n");
        const DpkgParagraph *p = dpkg_status_find_installed(s, "lib");
        ck_assert_ptr_eq(p, &s->paragraphs[2]);
        ck_assert_str_eq(dpkg_paragraph_get(p, "Version"), "3");
        ck_assert_ptr_null(dpkg_status_find_installed(s, "li"));
        ck_assert_ptr_null(dpkg_status_find_installed(s, "nothing"));
}
END_TEST

/* ---- a sysroot's database ---------------------------------------------- */

START_TEST(test_load)
{
        _cleanup_(sysroot_freep) Sysroot *root = open_root();
        _cleanup_(dpkg_status_freep) DpkgStatus *s = NULL;
        ObError e = { 0 };

        ck_assert_msg(dpkg_status_load(root, &s, &e) == 0, "%s", e.msg);
        ck_assert_uint_eq(s->n_paragraphs, 6);
        ck_assert_str_eq(dpkg_paragraph_get(&s->paragraphs[5], "Description"),
                         "the package a tool wants\n Package: not-a-field\n Version: 0.0");
}
END_TEST

/* The database has several paragraphs; the wanted package is installed in
 * the last one only, after a removed copy and a package whose name starts
 * the same way. */
START_TEST(test_package_version)
{
        _cleanup_(sysroot_freep) Sysroot *root = open_root();
        ObError e = { 0 };
        char *v = NULL;

        ck_assert_msg(dpkg_package_version(root, "wanted", &v, &e) == 0, "%s", e.msg);
        ck_assert_str_eq(v, "1:2.3+dfsg-1~deb12u1");
        free(v);
        v = NULL;
        ck_assert_msg(dpkg_package_version(root, "wanted-dev", &v, &e) == 0, "%s", e.msg);
        ck_assert_str_eq(v, "5.0");
        free(v);
        v = NULL;
        ck_assert_msg(dpkg_package_version(root, "other", &v, &e) == 0, "%s", e.msg);
        ck_assert_str_eq(v, "1.0");
        free(v);
        v = NULL;

        /* listed, but not installed */
        static const char *const absent[] = { "ghost", "halfway", "missing", "wanted-d", "not-a-field" };
        for (size_t i = 0; i < ELEMENTSOF(absent); i++) {
                int r = dpkg_package_version(root, absent[i], &v, &e);
                ck_assert_msg(r == -ENOPKG, "%s: %d", absent[i], r);
                ck_assert_ptr_null(v);
                _cleanup_free_ char *want = xasprintf("the Debian package '%s' is not installed (apt-get install %s)",
                                                      absent[i], absent[i]);
                ck_assert_str_eq(e.msg, want);
        }
}
END_TEST

START_TEST(test_package_version_no_database)
{
        char empty[256];
        test_tmpdir(empty, sizeof(empty), "dpkg-empty");
        ObError e = { 0 };
        Sysroot *root = NULL;
        ck_assert_msg(sysroot_open(empty, &root, &e) == 0, "%s", e.msg);
        char *v = NULL;
        ck_assert_int_eq(dpkg_package_version(root, "wanted", &v, &e), -ENOENT); /* no database: not ENOPKG */
        ck_assert_ptr_null(v);
        ck_assert_ptr_nonnull(strstr(e.msg, "/var/lib/dpkg/status"));
        sysroot_free(root);
        test_rm_rf(empty);
}
END_TEST

/* Every reader of a sysroot's database gets the one parsed copy while the
 * file is unchanged; a replaced file is read again, and a reference to the
 * old copy stays good. */
START_TEST(test_load_shared)
{
        char dir[256];
        test_tmpdir(dir, sizeof(dir), "dpkg-shared");
        test_mk_dir(dir, "var", 0755);
        test_mk_dir(dir, "var/lib", 0755);
        test_mk_dir(dir, "var/lib/dpkg", 0755);
        test_mk_file(dir, "var/lib/dpkg/status",
                     "Package: tool\nStatus: install ok installed\nVersion: 1.0\nDescription: a\n long\n text\n", 0644);
        ObError e = { 0 };
        Sysroot *root = NULL;
        ck_assert_msg(sysroot_open(dir, &root, &e) == 0, "%s", e.msg);

        DpkgStatus *a = NULL, *b = NULL, *c = NULL;
        ck_assert_msg(dpkg_status_load(root, &a, &e) == 0, "%s", e.msg);
        ck_assert_msg(dpkg_status_load(root, &b, &e) == 0, "%s", e.msg);
        ck_assert_ptr_eq(a, b);
        ck_assert_str_eq(dpkg_paragraph_get(&a->paragraphs[0], "Description"), "a\n long\n text");
        ck_assert_ptr_nonnull(strstr(a->text, "Version: 1.0\n"));
        dpkg_status_free(b);
        char *v = NULL;
        ck_assert_msg(dpkg_package_version(root, "tool", &v, &e) == 0, "%s", e.msg);
        ck_assert_str_eq(v, "1.0");
        free(v);

        /* dpkg replaces its database by renaming a new file over it */
        test_mk_file(dir, "var/lib/dpkg/status.new", "Package: tool\nStatus: install ok installed\nVersion: 2.0\n",
                     0644);
        _cleanup_free_ char *from = xasprintf("%s/var/lib/dpkg/status.new", dir);
        _cleanup_free_ char *to = xasprintf("%s/var/lib/dpkg/status", dir);
        ck_assert_int_eq(rename(from, to), 0);
        ck_assert_msg(dpkg_status_load(root, &c, &e) == 0, "%s", e.msg);
        ck_assert_ptr_ne(a, c);
        ck_assert_str_eq(dpkg_paragraph_get(&c->paragraphs[0], "Version"), "2.0");
        ck_assert_str_eq(dpkg_paragraph_get(&a->paragraphs[0], "Version"), "1.0");
        v = NULL;
        ck_assert_msg(dpkg_package_version(root, "tool", &v, &e) == 0, "%s", e.msg);
        ck_assert_str_eq(v, "2.0");
        free(v);

        /* the sysroot goes before the readers' references */
        sysroot_free(root);
        ck_assert_str_eq(dpkg_paragraph_get(&c->paragraphs[0], "Version"), "2.0");
        dpkg_status_free(a);
        dpkg_status_free(c);
        test_rm_rf(dir);
}
END_TEST

/* Many continuation lines and paragraphs: each value grows in place, each
 * array by doubling, and every line is still there. */
START_TEST(test_parse_long)
{
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        {
                _cleanup_fclose_ FILE *f = open_memstream(&text, &size);
                for (int i = 0; i < 300; i++) {
                        fprintf(f, "Package: p%d\nStatus: install ok installed\nConffiles:\n", i);
                        for (int k = 0; k < 40; k++)
                                fprintf(f, " /etc/p%d/%d.conf 0123 \n", i, k);
                        fprintf(f, "Version: %d\n\n", i);
                }
        }
        _cleanup_(dpkg_status_freep) DpkgStatus *s = dpkg_status_parse(text);
        ck_assert_uint_eq(s->n_paragraphs, 300);
        for (int i = 0; i < 300; i++) {
                const DpkgParagraph *p = &s->paragraphs[i];
                ck_assert_uint_eq(p->n_fields, 4);
                _cleanup_free_ char *want = NULL;
                size_t n = 0;
                {
                        _cleanup_fclose_ FILE *f = open_memstream(&want, &n);
                        for (int k = 0; k < 40; k++)
                                fprintf(f, "\n /etc/p%d/%d.conf 0123", i, k);
                }
                ck_assert_str_eq(dpkg_paragraph_get(p, "Conffiles"), want);
                _cleanup_free_ char *version = xasprintf("%d", i);
                ck_assert_str_eq(dpkg_paragraph_get(p, "Version"), version);
        }
}
END_TEST

START_TEST(test_paragraph_files)
{
        _cleanup_(sysroot_freep) Sysroot *root = open_root();
        _cleanup_(dpkg_status_freep) DpkgStatus *s = NULL;
        ObError e = { 0 };
        ck_assert_msg(dpkg_status_load(root, &s, &e) == 0, "%s", e.msg);

        _cleanup_strv_ char **files = NULL;
        ck_assert_msg(dpkg_paragraph_files(root, dpkg_status_find_installed(s, "wanted"), &files, &e) == 0, "%s",
                      e.msg);
        _cleanup_free_ char *joined = strv_join(files, " ");
        ck_assert_str_eq(joined, "/. /usr /usr/bin /usr/bin/wanted /usr/lib/wanted /usr/lib/wanted/bin "
                                 "/usr/lib/wanted/bin/helper /usr/sbin /usr/sbin/wantedd "
                                 "/usr/share/doc/wanted/copyright");

        /* Multi-Arch: same: the list is named after package and architecture */
        _cleanup_strv_ char **dev = NULL;
        ck_assert_msg(dpkg_paragraph_files(root, dpkg_status_find_installed(s, "wanted-dev"), &dev, &e) == 0, "%s",
                      e.msg);
        _cleanup_free_ char *dev_joined = strv_join(dev, " ");
        ck_assert_str_eq(dev_joined, "/. /usr/include/wanted.h");

        /* no list at all: ENOENT, ret untouched */
        char **none = NULL;
        ck_assert_int_eq(dpkg_paragraph_files(root, dpkg_status_find_installed(s, "other"), &none, &e), -ENOENT);
        ck_assert_ptr_null(none);
        ck_assert_ptr_nonnull(strstr(e.msg, "/var/lib/dpkg/info/other.list"));
}
END_TEST

/* ---- versions as tags ---------------------------------------------------- */

/* Versions of Debian 12 packages (and made-up ones for the corners): the
 * epoch goes, '~' becomes '-', '+' becomes '_'. */
static const struct {
        const char *version;
        const char *tag;
} tag_cases[] = {
        { "1:2.39.5-0+deb12u3", "2.39.5-0_deb12u3" },   /* git */
        { "5:7.0.15-1~deb12u10", "7.0.15-1-deb12u10" }, /* redis-server */
        { "7.88.1-10+deb12u15", "7.88.1-10_deb12u15" }, /* curl */
        { "2:1.0~rc1-1", "1.0-rc1-1" },
        { "1.6-2.1+b1", "1.6-2.1_b1" },                         /* a binNMU */
        { "18.20.4+dfsg-1~deb12u1", "18.20.4_dfsg-1-deb12u1" }, /* nodejs */
        { "2:1.19~1", "1.19-1" },                               /* golang-go */
        { "15+248+deb12u1", "15_248_deb12u1" },                 /* postgresql */
        { "1:9.2p1-2+deb12u5", "9.2p1-2_deb12u5" },             /* openssh-server */
        { "20.20.2-1nodesource1+repack1", "20.20.2-1nodesource1_repack1" },
        { "2.36-9+deb12u10", "2.36-9_deb12u10" }, /* libc6 */
        { "1.0", "1.0" },
        { "0:1.0-1", "1.0-1" },           /* an explicit zero epoch */
        { "1:2.0:beta-1", "2.0_beta-1" }, /* a colon after the epoch stays no epoch */
        { "a:1", "a_1" },                 /* no digits: no epoch */
        { "~rc1", "_rc1" },               /* a tag cannot start with '-' */
        { ".5", "_5" },
        { "1:", NULL },
        { "", NULL },
};

START_TEST(test_version_tag)
{
        regex_t tag_re;
        ck_assert_int_eq(regcomp(&tag_re, "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", REG_EXTENDED | REG_NOSUB), 0);
        for (size_t i = 0; i < ELEMENTSOF(tag_cases); i++) {
                _cleanup_free_ char *tag = dpkg_version_tag(tag_cases[i].version);
                if (!tag_cases[i].tag) {
                        ck_assert_msg(tag == NULL, "'%s' gave '%s', expected none", tag_cases[i].version, tag);
                        continue;
                }
                ck_assert_msg(tag && strcmp(tag, tag_cases[i].tag) == 0, "'%s' gave '%s', expected '%s'",
                              tag_cases[i].version, tag ? tag : "(null)", tag_cases[i].tag);
                ck_assert_msg(regexec(&tag_re, tag, 0, NULL, 0) == 0, "'%s' is not a valid tag", tag);
        }

        /* cut at the longest tag a registry takes */
        char long_version[300];
        memset(long_version, '7', sizeof(long_version) - 1);
        long_version[sizeof(long_version) - 1] = '\0';
        long_version[1] = '+';
        _cleanup_free_ char *cut = dpkg_version_tag(long_version);
        ck_assert_uint_eq(strlen(cut), DPKG_TAG_MAX);
        ck_assert_int_eq(regexec(&tag_re, cut, 0, NULL, 0), 0);
        regfree(&tag_re);
}
END_TEST

START_TEST(test_status_check)
{
        ObError err = { 0 };
        ck_assert_int_eq(dpkg_status_check("Package: a\nDescription: x\n more\n .\n\n# note\nPackage: b\n", "s", &err),
                         0);
        ck_assert_int_eq(dpkg_status_check("Package: a\nVersion 1\n", "st", &err), -EBADMSG);
        ck_assert_str_eq(err.msg, "st:2: expected 'Name: value', got 'Version 1'");
        ck_assert_int_eq(dpkg_status_check(" lost\n", "st", &err), -EBADMSG);
        ck_assert_str_eq(err.msg, "st:1: a continuation line with no field before it");
        ck_assert_int_eq(dpkg_status_check("Package: a\n\nVersion: 1\nStatus: x\n", "st", &err), -EBADMSG);
        ck_assert_str_eq(err.msg, "st:3: a paragraph without 'Package'");
        ck_assert_int_eq(dpkg_status_check("Package: a\n\n: 1\n", "st", &err), -EBADMSG);
        ck_assert_str_eq(err.msg, "st:3: expected 'Name: value', got ': 1'");
}
END_TEST

static Suite *dpkg_suite(void)
{
        Suite *s = suite_create("dpkg");
        TCase *tc = tcase_create("parse");
        tcase_add_test(tc, test_parse_paragraphs);
        tcase_add_test(tc, test_parse_continuation);
        tcase_add_test(tc, test_parse_long);
        tcase_add_test(tc, test_parse_damaged);
        tcase_add_test(tc, test_installed);
        tcase_add_test(tc, test_find_installed);
        tcase_add_test(tc, test_status_check);
        suite_add_tcase(s, tc);

        tc = tcase_create("sysroot");
        tcase_add_test(tc, test_load);
        tcase_add_test(tc, test_package_version);
        tcase_add_test(tc, test_package_version_no_database);
        tcase_add_test(tc, test_paragraph_files);
        tcase_add_test(tc, test_load_shared);
        suite_add_tcase(s, tc);

        tc = tcase_create("tag");
        tcase_add_test(tc, test_version_tag);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return test_run(dpkg_suite());
}
