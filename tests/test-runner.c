/* SPDX-License-Identifier: MIT */
/* Unpacking images for `oci-build test` (tree, owners, links, whiteouts,
 * corrupt blobs, entries that leave the root) and running commands in them
 * (where this machine allows namespaces). */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>

#include "testutil.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "digest.h"
#include "elf.h"
#include "fs.h"
#include "image.h"
#include "layer.h"
#include "layout.h"
#include "plan.h"
#include "runner.h"
#include "sysroot.h"
#include "util.h"

static char tmp_root[4096];

static void tmp_setup(void)
{
        const char *base = getenv("TMPDIR");
        snprintf(tmp_root, sizeof(tmp_root), "%s/ob-test-runner-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(tmp_root))
                abort();
}

static void tmp_teardown(void)
{
        ObError e;
        runner_remove_tree(tmp_root, &e);
}

/* A fresh directory under the test's temporary root. */
static char *test_dir(const char *name)
{
        char *p = xasprintf("%s/%s", tmp_root, name);
        ck_assert_int_eq(mkdir(p, 0755), 0);
        ck_assert_int_eq(chmod(p, 0755), 0);
        return p;
}

static void add(Plan *p, const Entry *e)
{
        ObError err = { 0 };
        ck_assert_msg(plan_add(p, e, &err) == 0, "%s", err.msg);
}

static void add_data(Plan *p, const char *path, const char *data, uint32_t mode, uint32_t uid, uint32_t gid)
{
        add(p, &(Entry){ .path = (char *) path, .type = ENTRY_FILE, .mode = mode, .uid = uid, .gid = gid,
                         .size = strlen(data), .data = (char *) data });
}

static void add_dir(Plan *p, const char *path, uint32_t mode, uint32_t uid, uint32_t gid)
{
        add(p, &(Entry){ .path = (char *) path, .type = ENTRY_DIR, .mode = mode, .uid = uid, .gid = gid });
}

static const char passwd[] = "root:x:0:0:root:/root:/sbin/nologin\n"
                             "nonroot:x:1000:1000:nonroot:/home/nonroot:/sbin/nologin\n";
static const char group[] = "root:x:0:\nnonroot:x:1000:\nextra:x:2000:someone,nonroot\n";

/* The users, /tmp and a home: what every test image has. */
static void add_base(Plan *p)
{
        add_data(p, "/etc/passwd", passwd, 0644, 0, 0);
        add_data(p, "/etc/group", group, 0644, 0, 0);
        add_dir(p, "/tmp", 01777, 0, 0);
        add_dir(p, "/home/nonroot", 0700, 1000, 1000);
}

static void write_plan_layer(Layout *l, Plan *p, OciLayerInfo *ret)
{
        ObError err = { 0 };
        LayerOptions lo = { .source_date_epoch = 1000, .level = 6, .threads = 1 };
        ck_assert_msg(plan_finish(p, 1000, &err) == 0, "%s", err.msg);
        *ret = (OciLayerInfo){ .created_by = "test" };
        ck_assert_msg(layer_write(l, p, &lo, ret, &err) == 0, "%s", err.msg);
}

/* A layer made by hand with libarchive's writer: what our own writer
 * would never produce (whiteouts, "../x"). Types: 'f' file, 'd' dir,
 * 'l' symlink, 'h' hard link. */
typedef struct TarEntry {
        const char *path;
        char type;
        const char *data;    /* content, or link target */
        mode_t mode;
} TarEntry;

static void write_raw_layer(Layout *l, const TarEntry *entries, size_t n, OciLayerInfo *ret)
{
        size_t cap = 1 << 20, used = 0;
        _cleanup_free_ char *tar = xmalloc(cap);
        struct archive *a = archive_write_new();
        ck_assert_int_eq(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
        ck_assert_int_eq(archive_write_open_memory(a, tar, cap, &used), ARCHIVE_OK);
        struct archive_entry *ae = archive_entry_new();
        for (size_t i = 0; i < n; i++) {
                archive_entry_clear(ae);
                archive_entry_copy_pathname(ae, entries[i].path);
                archive_entry_set_perm(ae, entries[i].mode);
                archive_entry_set_mtime(ae, 1000, 0);
                switch (entries[i].type) {
                case 'f':
                        archive_entry_set_filetype(ae, AE_IFREG);
                        archive_entry_set_size(ae, (la_int64_t) strlen(entries[i].data));
                        break;
                case 'd':
                        archive_entry_set_filetype(ae, AE_IFDIR);
                        break;
                case 'l':
                        archive_entry_set_filetype(ae, AE_IFLNK);
                        archive_entry_copy_symlink(ae, entries[i].data);
                        break;
                case 'h':
                        archive_entry_set_filetype(ae, AE_IFREG);
                        archive_entry_copy_hardlink(ae, entries[i].data);
                        break;
                }
                ck_assert_int_eq(archive_write_header(a, ae), ARCHIVE_OK);
                if (entries[i].type == 'f')
                        ck_assert_int_eq(archive_write_data(a, entries[i].data, strlen(entries[i].data)),
                                         (la_ssize_t) strlen(entries[i].data));
        }
        archive_entry_free(ae);
        ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
        archive_write_free(a);

        /* gzip by hand: windowBits 16 + 15 makes zlib write a gzip member. */
        z_stream z = { 0 };
        size_t gz_cap = deflateBound(&z, (uLong) used) + 64;
        _cleanup_free_ unsigned char *gz = xmalloc(gz_cap);
        ck_assert_int_eq(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
        gz_cap = deflateBound(&z, (uLong) used) + 64;
        gz = xrealloc(gz, gz_cap);
        z.next_in = (unsigned char *) tar;
        z.avail_in = (uInt) used;
        z.next_out = gz;
        z.avail_out = (uInt) gz_cap;
        ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
        size_t gz_n = gz_cap - z.avail_out;
        deflateEnd(&z);

        ObError err = { 0 };
        *ret = (OciLayerInfo){ .created_by = "test", .size = gz_n, .tar_size = used };
        sha256_string(tar, used, ret->diff_id);
        ck_assert_msg(layout_put_blob(l, gz, gz_n, ret->digest, &err) == 0, "%s", err.msg);
}

static void write_image(Layout *l, const char *name, const char *user, const OciLayerInfo *layers, size_t n)
{
        char *env[] = { (char *) "PATH=/usr/bin:/bin", (char *) "A=1", NULL };
        SpecImageConfig cfg = { .user = (char *) user, .env = env, .workdir = (char *) "/home/nonroot" };
        ImageBuild b = { .name = name, .version = "1.0", .description = "test image", .config = &cfg,
                         .layers = layers, .n_layers = n, .created = 0 };
        ImageResult res;
        ObError err = { 0 };
        ck_assert_msg(image_write(l, &b, &res, &err) == 0, "%s", err.msg);
}

static Layout *new_layout(const char *name)
{
        _cleanup_free_ char *dir = xasprintf("%s/%s", tmp_root, name);
        Layout *l = NULL;
        ObError err = { 0 };
        ck_assert_msg(layout_open(dir, LAYOUT_CREATE, &l, &err) == 0, "%s", err.msg);
        return l;
}

static void check_stat(const char *root, const char *path, mode_t type, mode_t perm, uid_t uid, gid_t gid)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", root, path);
        struct stat st;
        ck_assert_msg(lstat(p, &st) == 0, "%s: %s", path, strerror(errno));
        ck_assert_msg((st.st_mode & S_IFMT) == type, "%s: type %o", path, st.st_mode & S_IFMT);
        if (type != S_IFLNK)
                ck_assert_msg((st.st_mode & 07777) == perm, "%s: mode %o, want %o", path, st.st_mode & 07777, perm);
        /* Owners can only be set by root. */
        if (geteuid() == 0) {
                ck_assert_msg(st.st_uid == uid && st.st_gid == gid, "%s: owner %u:%u, want %u:%u", path, st.st_uid,
                              st.st_gid, uid, gid);
        }
}

static void check_content(const char *root, const char *path, const char *want)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", root, path);
        _cleanup_free_ char *data = NULL;
        ObError err = { 0 };
        ck_assert_msg(read_file(p, &data, NULL, &err) == 0, "%s", err.msg);
        ck_assert_str_eq(data, want);
}

static bool exists(const char *root, const char *path)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", root, path);
        struct stat st;
        return lstat(p, &st) == 0;
}

START_TEST(test_unpack_tree)
{
        Layout *l = new_layout("tree-oci");
        _cleanup_free_ char *root = test_dir("tree-root");
        Plan p;
        OciLayerInfo layers[2];
        RunnerImage img = { 0 };
        ObError err = { 0 };

        plan_init(&p);
        add_base(&p);
        add_dir(&p, "/data", 0755, 0, 0);
        add_data(&p, "/data/hello", "hello\n", 0640, 0, 1000);
        add(&p, &(Entry){ .path = (char *) "/data/hello-link", .type = ENTRY_HARDLINK, .mode = 0640, .gid = 1000,
                          .target = (char *) "data/hello" });
        add(&p, &(Entry){ .path = (char *) "/data/sym", .type = ENTRY_SYMLINK, .mode = 0777,
                          .target = (char *) "hello" });
        add(&p, &(Entry){ .path = (char *) "/data/abs", .type = ENTRY_SYMLINK, .mode = 0777,
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

        ck_assert_msg(runner_unpack(l, "tree", root, &img, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(img.n_layers, 2);
        ck_assert_uint_eq(img.tar_size, layers[0].tar_size + layers[1].tar_size);
        ck_assert_str_eq(img.user, "nonroot");
        ck_assert_uint_eq(img.uid, 1000);
        ck_assert_uint_eq(img.gid, 1000);
        ck_assert_uint_eq(img.n_groups, 1);
        ck_assert_uint_eq(img.groups[0], 2000);
        ck_assert_str_eq(img.home, "/home/nonroot");
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

        runner_image_clear(&img);
        layout_close(l);
}
END_TEST

START_TEST(test_unpack_corrupt_blob)
{
        Layout *l = new_layout("corrupt-oci");
        _cleanup_free_ char *root = test_dir("corrupt-root");
        Plan p;
        OciLayerInfo layer;
        RunnerImage img = { 0 };
        ObError err = { 0 };

        plan_init(&p);
        add_base(&p);
        /* Enough data that doesn't compress away, so that the flipped byte
         * lands well inside the compressed content. */
        _cleanup_free_ char *big = xmalloc(200001);
        uint32_t x = 12345;
        for (size_t i = 0; i < 200000; i++) {
                x = x * 1103515245u + 12345u;
                big[i] = (char) ('a' + (x >> 16) % 26);
        }
        big[200000] = '\0';
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

        ck_assert_int_lt(runner_unpack(l, "corrupt", root, &img, &err), 0);
        ck_assert_msg(strstr(err.msg, layer.digest) != NULL, "%s", err.msg);
        ck_assert_msg(strstr(err.msg, "corrupt") != NULL, "%s", err.msg);
        layout_close(l);
}
END_TEST

START_TEST(test_unpack_missing_image)
{
        Layout *l = new_layout("missing-oci");
        _cleanup_free_ char *root = test_dir("missing-root");
        RunnerImage img = { 0 };
        ObError err = { 0 };
        ck_assert_int_eq(runner_unpack(l, "nope", root, &img, &err), -ENOENT);
        ck_assert_msg(strstr(err.msg, "image 'nope' is not in") != NULL, "%s", err.msg);
        layout_close(l);
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
        RunnerImage img = { 0 };
        ObError err = { 0 };

        ck_assert_int_eq(mkdir(root, 0755), 0);
        write_raw_layer(l, entries, n, &layer);
        write_image(l, name, "", &layer, 1);
        ck_assert_int_lt(runner_unpack(l, name, root, &img, &err), 0);
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

/* ---- running steps -------------------------------------------------------- */

/* An image with a few host programs and their libraries, found the way the
 * tool tier finds them. */
static void add_host_programs(Plan *p, const char *const *programs)
{
        Sysroot *sr = NULL;
        ElfClosure *c = NULL;
        ObError err = { 0 };
        ck_assert_msg(sysroot_open("/", &sr, &err) == 0, "%s", err.msg);
        ck_assert_msg(elf_closure_new(sr, &c, &err) == 0, "%s", err.msg);
        for (size_t i = 0; programs[i]; i++)
                ck_assert_msg(elf_closure_add(c, programs[i], ELF_CLOSURE_MUST_BE_ELF, &err) == 0, "%s", err.msg);
        for (size_t i = 0; i < elf_closure_count(c); i++) {
                const ElfDep *d = elf_closure_get(c, i);
                if (d->type == ELF_DEP_SYMLINK) {
                        add(p, &(Entry){ .path = d->path, .type = ENTRY_SYMLINK, .mode = 0777,
                                         .target = d->target });
                        continue;
                }
                struct stat st;
                ck_assert_int_eq(stat(d->path, &st), 0);
                add(p, &(Entry){ .path = d->path, .type = ENTRY_FILE, .mode = st.st_mode & 0755,
                                 .size = (uint64_t) st.st_size, .source = d->path });
        }
        elf_closure_free(c);
        sysroot_free(sr);
}

typedef struct StepImage {
        Layout *l;
        char *root;
        RunnerImage img;
} StepImage;

static void step_image(StepImage *s)
{
        static const char *const programs[] = { "/usr/bin/id",   "/usr/bin/env",   "/usr/bin/ls", "/usr/bin/cat",
                                                "/usr/bin/sleep", "/usr/bin/false", "/usr/bin/pwd", NULL };
        ObError err = { 0 };
        if (geteuid() != 0)
                test_skip("not root: the steps run in new namespaces");
        if (runner_check_namespaces(&err) < 0)
                test_skip("%s", err.msg);
        Plan p;
        OciLayerInfo layer;
        *s = (StepImage){ .l = new_layout("steps-oci"), .root = test_dir("steps-root") };
        plan_init(&p);
        add_base(&p);
        add_host_programs(&p, programs);
        write_plan_layer(s->l, &p, &layer);
        plan_clear(&p);
        write_image(s->l, "steps", "nonroot", &layer, 1);
        ck_assert_msg(runner_unpack(s->l, "steps", s->root, &s->img, &err) == 0, "%s", err.msg);
}

static void step_image_free(StepImage *s)
{
        runner_image_clear(&s->img);
        layout_close(s->l);
        free(s->root);
}

static void run(StepImage *s, const char *const *argv, const char *const *env, const char *expect,
                unsigned timeout, RunnerResult *res)
{
        ObError err = { 0 };
        ck_assert_msg(runner_run_step(s->root, &s->img, (char *const *) argv, (char *const *) env, expect, timeout,
                                      res, &err) == 0,
                      "%s", err.msg);
}

static void expect_pass(StepImage *s, const char *const *argv, const char *const *env, const char *expect)
{
        RunnerResult res = { 0 };
        run(s, argv, env, expect, 30, &res);
        ck_assert_msg(res.passed, "%s: %s; output: %s", argv[0], res.why, res.output ? res.output : "");
        runner_result_clear(&res);
}

static void expect_failure(StepImage *s, const char *const *argv, const char *expect, unsigned timeout,
                           const char *why)
{
        RunnerResult res = { 0 };
        run(s, argv, NULL, expect, timeout, &res);
        ck_assert_msg(!res.passed, "%s passed", argv[0]);
        ck_assert_msg(strstr(res.why, why) != NULL, "'%s' not in '%s'", why, res.why);
        runner_result_clear(&res);
}

START_TEST(test_run_steps)
{
        StepImage s;
        step_image(&s);
        ObError err = { 0 };

        /* The image's user, resolved from its own /etc/passwd and /etc/group. */
        expect_pass(&s, (const char *const[]){ "/usr/bin/id", NULL }, NULL,
                    "uid=1000(nonroot) gid=1000(nonroot) groups=1000(nonroot),2000(extra)");
        expect_pass(&s, (const char *const[]){ "/usr/bin/pwd", NULL }, NULL, "/home/nonroot");
        /* The environment: the image's, the test's over it, HOME added; a
         * command without a '/' is found on the image's PATH. */
        const char *const env[] = { "A=2", "B=3", NULL };
        expect_pass(&s, (const char *const[]){ "env", NULL }, env, "PATH=/usr/bin:/bin\nA=2\nB=3\nHOME=/home/nonroot\n");
        /* /dev, /proc of its own pid namespace, its own host name, and
         * nothing but a loopback interface. */
        expect_pass(&s, (const char *const[]){ "/usr/bin/ls", "/dev", NULL }, NULL, "urandom");
        expect_pass(&s, (const char *const[]){ "/usr/bin/cat", "/proc/self/stat", NULL }, NULL, "1 (cat)");
        expect_pass(&s, (const char *const[]){ "/usr/bin/cat", "/proc/sys/kernel/hostname", NULL }, NULL, "steps");
        RunnerResult res = { 0 };
        run(&s, (const char *const[]){ "/usr/bin/cat", "/proc/net/dev", NULL }, NULL, "lo:", 30, &res);
        ck_assert_msg(res.passed, "%s", res.why);
        size_t colons = 0;
        for (size_t i = 0; i < res.output_size; i++)
                colons += res.output[i] == ':';
        ck_assert_msg(colons == 1, "more than the loopback interface: %s", res.output);
        runner_result_clear(&res);

        /* Files of the test, owned by the image's user; state persists. */
        char *const files[] = { (char *) "/tmp/dir/file.txt=made for the test\n", NULL };
        ck_assert_msg(runner_create_files(s.root, &s.img, files, &err) == 0, "%s", err.msg);
        check_stat(s.root, "tmp/dir", S_IFDIR, 0755, 1000, 1000);
        check_stat(s.root, "tmp/dir/file.txt", S_IFREG, 0644, 1000, 1000);
        expect_pass(&s, (const char *const[]){ "/usr/bin/cat", "/tmp/dir/file.txt", NULL }, NULL, "made for the test");
        char *const outside[] = { (char *) "/etc/passwd=x", NULL };
        ck_assert_int_eq(runner_create_files(s.root, &s.img, outside, &err), -EINVAL);

        /* Failures, each with its reason. */
        expect_failure(&s, (const char *const[]){ "/usr/bin/false", NULL }, NULL, 30, "exit status 1");
        expect_failure(&s, (const char *const[]){ "/usr/bin/id", NULL }, "uid=0", 30, "does not contain \"uid=0\"");
        expect_failure(&s, (const char *const[]){ "/nope", NULL }, NULL, 30, "cannot execute '/nope'");
        expect_failure(&s, (const char *const[]){ "nope", NULL }, NULL, 30, "'nope' is not in the image's PATH");
        expect_failure(&s, (const char *const[]){ "/usr/bin/sleep", "30", NULL }, NULL, 1, "timed out after 1 s");

        step_image_free(&s);
}
END_TEST

static Suite *runner_suite(void)
{
        Suite *s = suite_create("runner");
        TCase *tc = tcase_create("unpack");
        tcase_set_timeout(tc, 60);
        tcase_add_unchecked_fixture(tc, tmp_setup, tmp_teardown);
        tcase_add_test(tc, test_unpack_tree);
        tcase_add_test(tc, test_unpack_corrupt_blob);
        tcase_add_test(tc, test_unpack_missing_image);
        tcase_add_test(tc, test_unpack_dotdot);
        tcase_add_test(tc, test_run_steps);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return test_run(runner_suite());
}
