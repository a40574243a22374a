/* SPDX-License-Identifier: MIT */
/* Release archives unpacked: the formats (.tar.gz, .tar.xz, .zip), the
 * options (strip_components, include, exclude), and every archive that must
 * be refused (not an archive, damaged, '..', an absolute path, a symlink or
 * hard link out, a path through a symlink, more than the size limit), each
 * leaving no directory behind. The archives are written here with
 * libarchive's writer, which writes whatever names it is given. */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive-unpack.h"
#include "fs.h"
#include "path.h"
#include "testutil.h"
#include "util.h"

static char tmp_dir[256];

/* One entry to write: a file (data), a directory (name ends in '/'), a
 * symlink (target) or a hard link (hardlink). */
typedef struct Item {
        const char *name;
        const char *data;
        const char *target;
        const char *hardlink;
        mode_t mode;
        size_t zeros; /* a file of that many zero bytes instead of data */
} Item;

typedef enum Kind { TAR_GZ, TAR_XZ, ZIP } Kind;

static char *make_archive(const char *file, Kind kind, const Item *items, size_t n)
{
        char *path = xasprintf("%s/%s", tmp_dir, file);
        struct archive *a = archive_write_new();
        if (kind == ZIP)
                archive_write_set_format_zip(a);
        else {
                archive_write_set_format_pax_restricted(a);
                if (kind == TAR_GZ)
                        archive_write_add_filter_gzip(a);
                else
                        archive_write_add_filter_xz(a);
        }
        ck_assert_int_eq(archive_write_open_filename(a, path), ARCHIVE_OK);
        for (size_t i = 0; i < n; i++) {
                struct archive_entry *e = archive_entry_new();
                archive_entry_set_pathname(e, items[i].name);
                size_t size = items[i].zeros ? items[i].zeros : items[i].data ? strlen(items[i].data) : 0;
                if (items[i].target) {
                        archive_entry_set_filetype(e, AE_IFLNK);
                        archive_entry_set_symlink(e, items[i].target);
                        archive_entry_set_perm(e, 0777);
                } else if (items[i].hardlink) {
                        archive_entry_set_filetype(e, AE_IFREG);
                        archive_entry_set_hardlink(e, items[i].hardlink);
                        archive_entry_set_perm(e, 0644);
                } else if (str_endswith(items[i].name, "/")) {
                        archive_entry_set_filetype(e, AE_IFDIR);
                        archive_entry_set_perm(e, 0755);
                } else {
                        archive_entry_set_filetype(e, AE_IFREG);
                        archive_entry_set_perm(e, items[i].mode ? items[i].mode : 0644);
                        archive_entry_set_size(e, (la_int64_t) size);
                }
                ck_assert_int_ge(archive_write_header(a, e), ARCHIVE_WARN);
                if (items[i].zeros) {
                        static char zeros[65536];
                        for (size_t left = size; left > 0;) {
                                size_t k = left < sizeof(zeros) ? left : sizeof(zeros);
                                ck_assert_int_eq(archive_write_data(a, zeros, k), (la_ssize_t) k);
                                left -= k;
                        }
                } else if (items[i].data && !items[i].target && !items[i].hardlink)
                        ck_assert_int_eq(archive_write_data(a, items[i].data, size), (la_ssize_t) size);
                archive_entry_free(e);
        }
        ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
        archive_write_free(a);
        return path;
}

static char *out_dir(const char *name)
{
        return xasprintf("%s/out-%s", tmp_dir, name);
}

static char *read_text(const char *dir, const char *rel)
{
        _cleanup_free_ char *p = path_join(dir, rel);
        return test_file_text(p);
}

/* An archive refused with a message containing want, and nothing left. */
static void assert_refused(const char *archive, const ArchiveUnpackOptions *o, int code, const char *want)
{
        _cleanup_free_ char *dir = out_dir("refused");
        ObError e = { 0 };
        int r = archive_unpack(archive, dir, o, &e);
        ck_assert_msg(r == -code, "%s: got %d (%s), want %d", archive, r, e.msg, -code);
        ck_assert_msg(strstr(e.msg, want), "%s: message '%s' lacks '%s'", archive, e.msg, want);
        ck_assert_msg(strstr(e.msg, archive), "message '%s' does not name the archive", e.msg);
        ck_assert_msg(!strchr(e.msg, '\n'), "message '%s' is not one line", e.msg);
        ck_assert_msg(access(dir, F_OK) < 0 && errno == ENOENT, "%s: '%s' was left behind", archive, dir);
        /* nothing escaped next to the output either */
        _cleanup_free_ char *outside = xasprintf("%s/escaped", tmp_dir);
        ck_assert_msg(access(outside, F_OK) < 0, "%s: wrote '%s'", archive, outside);
        ck_assert_msg(access("/ob-unpack-escaped", F_OK) < 0, "%s: wrote an absolute path", archive);
}

/* ---- tests ------------------------------------------------------------ */

START_TEST(test_is_archive)
{
        ck_assert(archive_unpack_is_archive("https://nodejs.org/dist/v24.1.0/node-v24.1.0-linux-x64.tar.xz"));
        ck_assert(archive_unpack_is_archive("go1.25.0.linux-amd64.tar.gz"));
        ck_assert(archive_unpack_is_archive("x.tgz"));
        ck_assert(archive_unpack_is_archive("x.zip"));
        ck_assert(!archive_unpack_is_archive("pocket-id-linux-amd64"));
        ck_assert(!archive_unpack_is_archive("x.gz"));
}
END_TEST

static const Item release[] = {
        { .name = "node-v1-linux-x64/" },
        { .name = "node-v1-linux-x64/bin/" },
        { .name = "node-v1-linux-x64/bin/node", .data = "\177ELF program", .mode = 04755 },
        { .name = "node-v1-linux-x64/bin/npm", .target = "../lib/node_modules/npm/bin/npm-cli.js" },
        { .name = "node-v1-linux-x64/lib/node_modules/npm/bin/npm-cli.js", .data = "#!/usr/bin/env node\n" },
        { .name = "node-v1-linux-x64/lib/node_modules/npm/README.md", .data = "readme" },
        { .name = "node-v1-linux-x64/lib/again", .hardlink = "node-v1-linux-x64/lib/node_modules/npm/README.md" },
        { .name = "node-v1-linux-x64/include/node/v8.h", .data = "header" },
        { .name = "./node-v1-linux-x64/LICENSE", .data = "MIT" },
};

static void check_release(const char *archive, const char *name)
{
        _cleanup_free_ char *dir = out_dir(name);
        ObError e = { 0 };
        ArchiveUnpackOptions o = { .strip_components = 1 };
        ck_assert_msg(archive_unpack(archive, dir, &o, &e) == 0, "%s", e.msg);
        _cleanup_free_ char *node = read_text(dir, "bin/node");
        ck_assert_str_eq(node, "\177ELF program");
        struct stat st;
        _cleanup_free_ char *np = path_join(dir, "bin/node");
        ck_assert_int_eq(lstat(np, &st), 0);
        ck_assert_uint_eq(st.st_mode & 07777, 0755); /* no setuid from an archive */
        char target[256] = { 0 };
        _cleanup_free_ char *npm = path_join(dir, "bin/npm");
        ck_assert_int_gt(readlink(npm, target, sizeof(target) - 1), 0);
        ck_assert_str_eq(target, "../lib/node_modules/npm/bin/npm-cli.js");
        _cleanup_free_ char *via = read_text(dir, "bin/npm");
        ck_assert_str_eq(via, "#!/usr/bin/env node\n");
        _cleanup_free_ char *lic = read_text(dir, "LICENSE");
        ck_assert_str_eq(lic, "MIT");
        struct stat a, b;
        _cleanup_free_ char *pa = path_join(dir, "lib/again");
        _cleanup_free_ char *pb = path_join(dir, "lib/node_modules/npm/README.md");
        ck_assert_int_eq(stat(pa, &a), 0);
        ck_assert_int_eq(stat(pb, &b), 0);
        ck_assert_uint_eq(a.st_ino, b.st_ino);
        /* the top directory itself was stripped away */
        _cleanup_free_ char *top = path_join(dir, "node-v1-linux-x64");
        ck_assert_int_lt(access(top, F_OK), 0);
        test_rm_rf(dir);
}

START_TEST(test_formats)
{
        _cleanup_free_ char *gz = make_archive("r.tar.gz", TAR_GZ, release, ELEMENTSOF(release));
        _cleanup_free_ char *xz = make_archive("r.tar.xz", TAR_XZ, release, ELEMENTSOF(release));
        _cleanup_free_ char *zip = make_archive("r.zip", ZIP, release, ELEMENTSOF(release) - 3);
        check_release(gz, "gz");
        check_release(xz, "xz");
        /* zip: the same, without the hard link and the entries after it */
        _cleanup_free_ char *dir = out_dir("zip");
        ObError e = { 0 };
        ArchiveUnpackOptions o = { .strip_components = 1 };
        ck_assert_msg(archive_unpack(zip, dir, &o, &e) == 0, "%s", e.msg);
        _cleanup_free_ char *node = read_text(dir, "bin/node");
        ck_assert_str_eq(node, "\177ELF program");
        _cleanup_free_ char *via = read_text(dir, "bin/npm");
        ck_assert_str_eq(via, "#!/usr/bin/env node\n");
        test_rm_rf(dir);
}
END_TEST

START_TEST(test_include_exclude)
{
        _cleanup_free_ char *gz = make_archive("ie.tar.gz", TAR_GZ, release, ELEMENTSOF(release));
        _cleanup_free_ char *dir = out_dir("ie");
        ObError e = { 0 };
        char *include[] = { (char *) "bin", (char *) "lib", NULL };
        char *exclude[] = { (char *) "*.md", (char *) "lib/again", NULL };
        ArchiveUnpackOptions o = { .strip_components = 1, .include = include, .exclude = exclude };
        ck_assert_msg(archive_unpack(gz, dir, &o, &e) == 0, "%s", e.msg);
        const char *present[] = { "bin/node", "bin/npm", "lib/node_modules/npm/bin/npm-cli.js" };
        const char *absent[] = { "include", "LICENSE", "lib/node_modules/npm/README.md", "lib/again" };
        for (size_t i = 0; i < ELEMENTSOF(present); i++) {
                _cleanup_free_ char *p = path_join(dir, present[i]);
                ck_assert_msg(access(p, F_OK) == 0, "%s missing", present[i]);
        }
        for (size_t i = 0; i < ELEMENTSOF(absent); i++) {
                _cleanup_free_ char *p = path_join(dir, absent[i]);
                ck_assert_msg(access(p, F_OK) < 0, "%s unpacked", absent[i]);
        }
        test_rm_rf(dir);

        /* strip more components than a path has: that entry is skipped
         * (bin/npm would become a link out of the directory) */
        char *only_node[] = { (char *) "node", NULL };
        char *headers[] = { (char *) "node/*", NULL };
        ArchiveUnpackOptions deep = { .strip_components = 2, .include = only_node, .exclude = headers };
        ck_assert_msg(archive_unpack(gz, dir, &deep, &e) == 0, "%s", e.msg);
        _cleanup_free_ char *n = read_text(dir, "node");
        ck_assert_str_eq(n, "\177ELF program");
        _cleanup_free_ char *lic = path_join(dir, "LICENSE");
        ck_assert_int_lt(access(lic, F_OK), 0);
        test_rm_rf(dir);
}
END_TEST

START_TEST(test_not_an_archive)
{
        _cleanup_free_ char *text = xasprintf("%s/page.tar.gz", tmp_dir);
        test_put_file(text, "<html>404 Not Found</html>\n", 0644);
        assert_refused(text, NULL, EINVAL, "is not a .tar.gz, .tar.xz or .zip archive");
        _cleanup_free_ char *empty = xasprintf("%s/empty.tar.gz", tmp_dir);
        test_put_file(empty, "", 0644);
        assert_refused(empty, NULL, EINVAL, "is not a .tar.gz, .tar.xz or .zip archive");
        _cleanup_free_ char *none = xasprintf("%s/none.tar.gz", tmp_dir);
        ObError e = { 0 };
        _cleanup_free_ char *dir = out_dir("none");
        ck_assert_int_eq(archive_unpack(none, dir, NULL, &e), -EINVAL);
        ck_assert_int_lt(access(dir, F_OK), 0);
}
END_TEST

START_TEST(test_damaged)
{
        /* a release cut off in the middle of its data */
        Item big[] = { { .name = "r/a", .data = "first" }, { .name = "r/b", .zeros = 300000 } };
        _cleanup_free_ char *gz = make_archive("cut.tar.gz", TAR_GZ, big, ELEMENTSOF(big));
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        ObError e = { 0 };
        ck_assert_int_eq(read_file(gz, &text, &size, &e), 0);
        _cleanup_free_ char *cut = xasprintf("%s/cut2.tar.gz", tmp_dir);
        int fd = open(cut, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write_all(fd, text, size / 2), 0);
        close(fd);
        _cleanup_free_ char *dir = out_dir("refused");
        ck_assert_int_lt(archive_unpack(cut, dir, NULL, &e), 0);
        ck_assert_msg(strstr(e.msg, cut), "%s", e.msg);
        ck_assert_int_lt(access(dir, F_OK), 0);
}
END_TEST

START_TEST(test_escapes)
{
        static const struct {
                const char *file;
                Item items[3];
                size_t n;
                const char *want;
        } cases[] = {
                { "dotdot.tar.gz", { { .name = "r/../../escaped", .data = "x" } }, 1, "has a '..' component" },
                { "dotdot2.tar.gz", { { .name = "../escaped", .data = "x" } }, 1, "has a '..' component" },
                { "abs.tar.gz", { { .name = "/ob-unpack-escaped", .data = "x" } }, 1, "is an absolute path" },
                { "linkout.tar.gz", { { .name = "r/l", .target = "../../escaped" } }, 1, "points out of the archive" },
                { "linkabs.tar.gz", { { .name = "r/l", .target = "/etc/passwd" } }, 1, "points out of the archive" },
                { "linkdots.tar.gz",
                  { { .name = "r/d/", .data = NULL }, { .name = "r/l", .target = "d/../.." } },
                  2,
                  "points out of the archive" },
                { "through.tar.gz",
                  { { .name = "r/l", .target = "." }, { .name = "r/l/x", .data = "x" } },
                  2,
                  "passes through a symlink" },
                { "hardout.tar.gz", { { .name = "r/h", .hardlink = "../escaped" } }, 1, "has a '..' component" },
                { "hardabs.tar.gz", { { .name = "r/h", .hardlink = "/etc/passwd" } }, 1, "is an absolute path" },
                { "hardnone.tar.gz",
                  { { .name = "r/h", .hardlink = "r/not-there" } },
                  1,
                  "is not a file unpacked before it" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *a = make_archive(cases[i].file, TAR_GZ, cases[i].items, cases[i].n);
                /* with and without stripping the top directory */
                ArchiveUnpackOptions o = { .strip_components = 1 };
                assert_refused(a, &o, EINVAL, cases[i].want);
                assert_refused(a, NULL, EINVAL, cases[i].want);
        }
}
END_TEST

START_TEST(test_bomb)
{
        /* 3 MiB of zeros compress to a few kB */
        Item items[] = { { .name = "r/small", .data = "ok" }, { .name = "r/zeros", .zeros = 3 << 20 } };
        _cleanup_free_ char *gz = make_archive("bomb.tar.gz", TAR_GZ, items, ELEMENTSOF(items));
        ArchiveUnpackOptions o = { .max_bytes = 1 << 20 };
        assert_refused(gz, &o, EFBIG, "unpacks to more than 1.0 MB (the limit)");
        /* under a limit that allows it, it unpacks */
        _cleanup_free_ char *dir = out_dir("bomb");
        ArchiveUnpackOptions roomy = { .max_bytes = 4 << 20 };
        ObError e = { 0 };
        ck_assert_msg(archive_unpack(gz, dir, &roomy, &e) == 0, "%s", e.msg);
        test_rm_rf(dir);
}
END_TEST

START_TEST(test_existing_dir_kept)
{
        /* the target must be new: an existing one is neither used nor removed */
        _cleanup_free_ char *gz = make_archive("keep.tar.gz", TAR_GZ, release, ELEMENTSOF(release));
        _cleanup_free_ char *dir = out_dir("keep");
        ck_assert_int_eq(mkdir(dir, 0755), 0);
        ObError e = { 0 };
        ck_assert_int_eq(archive_unpack(gz, dir, NULL, &e), -EEXIST);
        ck_assert_int_eq(access(dir, F_OK), 0);
        test_rm_rf(dir);
}
END_TEST

static Suite *archive_unpack_suite(void)
{
        Suite *s = suite_create("archive-unpack");
        TCase *tc = tcase_create("unpack");
        tcase_add_test(tc, test_is_archive);
        tcase_add_test(tc, test_formats);
        tcase_add_test(tc, test_include_exclude);
        tcase_add_test(tc, test_not_an_archive);
        tcase_add_test(tc, test_damaged);
        tcase_add_test(tc, test_escapes);
        tcase_add_test(tc, test_bomb);
        tcase_add_test(tc, test_existing_dir_kept);
        tcase_set_timeout(tc, 60);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        test_tmpdir(tmp_dir, sizeof(tmp_dir), "archive-unpack");
        int status = test_run(archive_unpack_suite());
        test_rm_rf(tmp_dir);
        return status;
}
