/* SPDX-License-Identifier: MIT */
/* Unpacking images for `oci-build test`: tree, owners, links, whiteouts,
 * corrupt blobs, entries that leave the root. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layer.h"
#include "layout.h"
#include "oci.h"
#include "plan.h"
#include "testimage.h"
#include "testutil.h"
#include "unpack.h"
#include "util.h"

static void tmp_setup(void)
{
        test_image_setup("unpack");
}

static void tmp_teardown(void)
{
        test_image_teardown();
}

/* n letters that gzip and zstd cannot squeeze away, NUL-terminated. */
static char *random_letters(size_t n, uint32_t seed)
{
        char *v = xmalloc(n + 1);
        for (size_t i = 0; i < n; i++) {
                seed = seed * 1103515245u + 12345u;
                v[i] = (char) ('a' + (seed >> 16) % 26);
        }
        v[n] = '\0';
        return v;
}

START_TEST(test_unpack_tree)
{
        Layout *l = new_layout("tree-oci");
        _cleanup_free_ char *root = test_dir("tree-root");
        Plan p;
        OciLayerInfo layers[2];
        UnpackedImage img = { 0 };
        ObError err = { 0 };

        plan_init(&p);
        add_base(&p);
        add_dir(&p, "/data", 0755, 0, 0);
        add_data(&p, "/data/hello", "hello\n", 0640, 0, 1000);
        add(&p, &(Entry){ .path = (char *) "/data/hello-link",
                          .type = ENTRY_HARDLINK,
                          .mode = 0640,
                          .gid = 1000,
                          .target = (char *) "data/hello" });
        add(&p,
            &(Entry){ .path = (char *) "/data/sym", .type = ENTRY_SYMLINK, .mode = 0777, .target = (char *) "hello" });
        add(&p, &(Entry){ .path = (char *) "/data/abs",
                          .type = ENTRY_SYMLINK,
                          .mode = 0777,
                          .target = (char *) "/etc/passwd" });
        add_dir(&p, "/secret", 0700, 1000, 1000);
        add_data(&p, "/secret/old", "old\n", 0600, 1000, 1000);
        add_dir(&p, "/secret/sub", 0755, 1000, 1000);
        add_data(&p, "/secret/sub/older", "older\n", 0644, 1000, 1000);
        add_data(&p, "/data/gone", "gone\n", 0644, 0, 0);
        add_dir(&p, "/data/was-dir", 0755, 0, 0);
        add_data(&p, "/data/was-dir/x", "x\n", 0644, 0, 0);
        write_plan_layer(l, &p, &layers[0]);
        plan_clear(&p);

        /* A second layer: whiteouts and a file replacing a directory. */
        const TarEntry upper[] = {
                { "data/.wh.gone", 'f', "", 0644 },
                { "secret/", 'd', NULL, 0700 },
                { "secret/.wh..wh..opq", 'f', "", 0644 },
                { "secret/new", 'f', "new\n", 0644 },
                { "data/was-dir", 'f', "now a file\n", 0644 },
        };
        write_raw_layer(l, upper, ELEMENTSOF(upper), &layers[1]);
        write_image(l, "tree", "nonroot", layers, 2);

        ck_assert_msg(unpack_image(l, "tree", root, &img, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(img.n_layers, 2);
        ck_assert_uint_eq(img.tar_size, layers[0].tar_size + layers[1].tar_size);
        ck_assert_str_eq(img.user, "nonroot");
        ck_assert_uint_eq(img.account.uid, 1000);
        ck_assert_uint_eq(img.account.gid, 1000);
        ck_assert_uint_eq(img.account.n_groups, 1);
        ck_assert_uint_eq(img.account.groups[0], 2000);
        ck_assert_str_eq(img.account.home, "/home/nonroot");
        ck_assert_str_eq(img.workdir, "/home/nonroot");
        ck_assert_str_eq(img.version, "1.0");
        ck_assert(strv_contains(img.env, "A=1"));

        check_stat(root, "etc/passwd", S_IFREG, 0644, 0, 0);
        check_stat(root, "tmp", S_IFDIR, 01777, 0, 0);
        check_stat(root, "home/nonroot", S_IFDIR, 0700, 1000, 1000);
        check_stat(root, "data/hello", S_IFREG, 0640, 0, 1000);
        check_content(root, "data/hello", "hello\n");
        check_stat(root, "data/sym", S_IFLNK, 0, 0, 0);
        check_stat(root, "data/abs", S_IFLNK, 0, 0, 0);
        char target[64] = { 0 };
        _cleanup_free_ char *abs = xasprintf("%s/data/abs", root);
        ck_assert_int_gt(readlink(abs, target, sizeof(target) - 1), 0);
        ck_assert_str_eq(target, "/etc/passwd");
        struct stat a, b;
        _cleanup_free_ char *h1 = xasprintf("%s/data/hello", root);
        _cleanup_free_ char *h2 = xasprintf("%s/data/hello-link", root);
        ck_assert_int_eq(stat(h1, &a), 0);
        ck_assert_int_eq(stat(h2, &b), 0);
        ck_assert_msg(a.st_ino == b.st_ino && a.st_nlink == 2, "hard link is not a hard link");

        /* The whiteouts of the upper layer. */
        ck_assert(!exists(root, "data/gone"));
        check_stat(root, "secret", S_IFDIR, 0700, 0, 0);
        ck_assert(!exists(root, "secret/old"));
        ck_assert(!exists(root, "secret/sub"));
        check_content(root, "secret/new", "new\n");
        check_stat(root, "data/was-dir", S_IFREG, 0644, 0, 0);
        check_content(root, "data/was-dir", "now a file\n");

        unpacked_image_clear(&img);
        layout_close(l);
}
END_TEST

START_TEST(test_unpack_zstd)
{
        Layout *l = new_layout("zstd-oci");
        _cleanup_free_ char *root = test_dir("zstd-root");
        Plan p;
        OciLayerInfo layer = { .created_by = "test" };
        UnpackedImage img = { 0 };
        ObError err = { 0 };
        LayerOptions lo = { .source_date_epoch = 1000, .compression = LAYER_ZSTD, .level = 3, .threads = 1 };

        plan_init(&p);
        add_base(&p);
        /* More than one read of the blob and one output chunk: the decoder
         * is fed and drained several times. */
        _cleanup_free_ char *big = random_letters(3000000, 777);
        add_data(&p, "/big", big, 0644, 0, 0);
        add_data(&p, "/hello", "hello over zstd\n", 0644, 0, 0);
        ck_assert_msg(plan_finish(&p, 1000, &err) == 0, "%s", err.msg);
        ck_assert_msg(layer_write(l, &p, &lo, &layer, &err) == 0, "%s", err.msg);
        plan_clear(&p);
        ck_assert_str_eq(layer.media_type, OCI_MT_LAYER_ZSTD);
        write_image(l, "zstd", "1000:1000", &layer, 1);

        ck_assert_msg(unpack_image(l, "zstd", root, &img, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(img.tar_size, layer.tar_size);
        check_content(root, "hello", "hello over zstd\n");
        check_content(root, "big", big);
        unpacked_image_clear(&img);

        /* Cut short: the blob's digest no longer matches, and the decoder
         * says the stream ended early rather than unpacking a part. */
        _cleanup_free_ char *blob = layout_blob_path(l, layer.digest);
        ck_assert_int_eq(truncate(blob, (off_t) (layer.size / 2)), 0);
        _cleanup_free_ char *root2 = test_dir("zstd-root2");
        ck_assert_int_lt(unpack_image(l, "zstd", root2, &img, &err), 0);
        ck_assert_msg(strstr(err.msg, layer.digest) != NULL, "%s", err.msg);
        layout_close(l);
}
END_TEST

START_TEST(test_unpack_corrupt_blob)
{
        Layout *l = new_layout("corrupt-oci");
        _cleanup_free_ char *root = test_dir("corrupt-root");
        Plan p;
        OciLayerInfo layer;
        UnpackedImage img = { 0 };
        ObError err = { 0 };

        plan_init(&p);
        add_base(&p);
        /* Enough data that doesn't compress away, so that the flipped byte
         * lands well inside the compressed content. */
        _cleanup_free_ char *big = random_letters(200000, 12345);
        add_data(&p, "/big", big, 0644, 0, 0);
        write_plan_layer(l, &p, &layer);
        plan_clear(&p);
        write_image(l, "corrupt", "1000:1000", &layer, 1);

        _cleanup_free_ char *blob = layout_blob_path(l, layer.digest);
        int fd = open(blob, O_RDWR);
        ck_assert_int_ge(fd, 0);
        unsigned char c;
        off_t at = (off_t) (layer.size / 2);
        ck_assert_int_eq(pread(fd, &c, 1, at), 1);
        c ^= 0x5a;
        ck_assert_int_eq(pwrite(fd, &c, 1, at), 1);
        close(fd);

        ck_assert_int_lt(unpack_image(l, "corrupt", root, &img, &err), 0);
        ck_assert_msg(strstr(err.msg, layer.digest) != NULL, "%s", err.msg);
        ck_assert_msg(strstr(err.msg, "corrupt") != NULL, "%s", err.msg);
        layout_close(l);
}
END_TEST

START_TEST(test_unpack_missing_image)
{
        Layout *l = new_layout("missing-oci");
        _cleanup_free_ char *root = test_dir("missing-root");
        UnpackedImage img = { 0 };
        ObError err = { 0 };
        ck_assert_int_eq(unpack_image(l, "nope", root, &img, &err), -ENOENT);
        ck_assert_msg(strstr(err.msg, "image 'nope' is not in") != NULL, "%s", err.msg);
        layout_close(l);
}
END_TEST

/* A layout named by a relative path stays readable while unpacking runs
 * from inside the root. */
START_TEST(test_unpack_relative_layout)
{
        Layout *l = new_layout("relative-oci");
        _cleanup_free_ char *root = test_dir("relative-root");
        Plan p;
        OciLayerInfo layer;
        UnpackedImage img = { 0 };
        ObError err = { 0 };

        plan_init(&p);
        add_base(&p);
        write_plan_layer(l, &p, &layer);
        plan_clear(&p);
        write_image(l, "relative", "nonroot", &layer, 1);
        ck_assert_msg(layout_commit(l, &err) == 0, "%s", err.msg);
        layout_close(l);

        _cleanup_close_ int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(cwd, 0);
        ck_assert_int_eq(chdir(test_image_tmpdir()), 0);
        ck_assert_msg(layout_open("relative-oci", 0, &l, &err) == 0, "%s", err.msg);
        int r = unpack_image(l, "relative", "relative-root", &img, &err);
        layout_close(l);
        ck_assert_int_eq(fchdir(cwd), 0);
        ck_assert_msg(r == 0, "%s", err.msg);
        ck_assert_uint_eq(img.n_layers, 1);
        ck_assert_uint_eq(img.account.uid, 1000);
        check_content(root, "etc/group", "root:x:0:\nnonroot:x:1000:\nextra:x:2000:someone,nonroot\n");
        unpacked_image_clear(&img);
}
END_TEST

/* Entries that would land outside the root are refused, and nothing lands
 * there. */
static void check_refused(const char *name, const TarEntry *entries, size_t n, const char *want)
{
        Layout *l = new_layout(name);
        _cleanup_free_ char *dir = xasprintf("%s-dir", name);
        _cleanup_free_ char *parent = test_dir(dir);
        _cleanup_free_ char *root = xasprintf("%s/root", parent);
        OciLayerInfo layer;
        UnpackedImage img = { 0 };
        ObError err = { 0 };

        ck_assert_int_eq(mkdir(root, 0755), 0);
        write_raw_layer(l, entries, n, &layer);
        write_image(l, name, "", &layer, 1);
        ck_assert_int_lt(unpack_image(l, name, root, &img, &err), 0);
        ck_assert_msg(strstr(err.msg, want) != NULL, "'%s' not in: %s", want, err.msg);
        ck_assert_msg(strstr(err.msg, layer.digest) != NULL, "%s", err.msg);
        ck_assert(!exists(parent, "x"));
        ck_assert(!exists(parent, "escaped"));
        layout_close(l);
}

START_TEST(test_unpack_dotdot)
{
        const TarEntry dotdot[] = { { "ok", 'f', "fine\n", 0644 }, { "../x", 'f', "evil\n", 0644 } };
        check_refused("dotdot", dotdot, ELEMENTSOF(dotdot), "'../x' points outside the image root");

        const TarEntry inner[] = { { "a/b/../../../x", 'f', "evil\n", 0644 } };
        check_refused("inner", inner, ELEMENTSOF(inner), "points outside the image root");

        const TarEntry absolute[] = { { "/x", 'f', "evil\n", 0644 } };
        check_refused("absolute", absolute, ELEMENTSOF(absolute), "'/x' points outside the image root");

        const TarEntry hardlink[] = { { "link", 'h', "../x", 0644 } };
        check_refused("hardlink", hardlink, ELEMENTSOF(hardlink), "hard link 'link' to '../x'");

        /* A symlink may point anywhere (it resolves inside the root at run
         * time), but nothing may be written through it on the host. */
        const TarEntry through[] = { { "up", 'l', "..", 0777 }, { "up/escaped", 'f', "evil\n", 0644 } };
        check_refused("through", through, ELEMENTSOF(through), "up/escaped");
}
END_TEST

static Suite *unpack_suite(void)
{
        Suite *s = suite_create("unpack");
        TCase *tc = tcase_create("unpack");
        tcase_set_timeout(tc, 60);
        tcase_add_unchecked_fixture(tc, tmp_setup, tmp_teardown);
        tcase_add_test(tc, test_unpack_tree);
        tcase_add_test(tc, test_unpack_corrupt_blob);
        tcase_add_test(tc, test_unpack_zstd);
        tcase_add_test(tc, test_unpack_missing_image);
        tcase_add_test(tc, test_unpack_dotdot);
        tcase_add_test(tc, test_unpack_relative_layout);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return test_run(unpack_suite());
}
