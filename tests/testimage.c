/* SPDX-License-Identifier: MIT */
#include "testimage.h"

#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "digest.h"
#include "fs.h"
#include "image.h"
#include "layer.h"
#include "testutil.h"
#include "util.h"

static char tmp_root[4096];

void test_image_setup(const char *name)
{
        test_tmpdir(tmp_root, sizeof(tmp_root), name);
}

void test_image_teardown(void)
{
        ObError e;
        rm_tree(tmp_root, &e);
}

const char *test_image_tmpdir(void)
{
        return tmp_root;
}

char *test_dir(const char *name)
{
        char *p = xasprintf("%s/%s", tmp_root, name);
        ck_assert_int_eq(mkdir(p, 0755), 0);
        ck_assert_int_eq(chmod(p, 0755), 0);
        return p;
}

void add(Plan *p, const Entry *e)
{
        ObError err = { 0 };
        ck_assert_msg(plan_add(p, e, &err) == 0, "%s", err.msg);
}

void add_data(Plan *p, const char *path, const char *data, uint32_t mode, uint32_t uid, uint32_t gid)
{
        add(p, &(Entry){ .path = (char *) path,
                         .type = ENTRY_FILE,
                         .mode = mode,
                         .uid = uid,
                         .gid = gid,
                         .size = strlen(data),
                         .data = (char *) data });
}

void add_dir(Plan *p, const char *path, uint32_t mode, uint32_t uid, uint32_t gid)
{
        add(p, &(Entry){ .path = (char *) path, .type = ENTRY_DIR, .mode = mode, .uid = uid, .gid = gid });
}

static const char passwd[] = "root:x:0:0:root:/root:/sbin/nologin\n"
                             "nonroot:x:1000:1000:nonroot:/home/nonroot:/sbin/nologin\n";
static const char group[] = "root:x:0:\nnonroot:x:1000:\nextra:x:2000:someone,nonroot\n";

void add_base(Plan *p)
{
        add_data(p, "/etc/passwd", passwd, 0644, 0, 0);
        add_data(p, "/etc/group", group, 0644, 0, 0);
        add_dir(p, "/tmp", 01777, 0, 0);
        add_dir(p, "/home/nonroot", 0700, 1000, 1000);
}

void write_plan_layer(Layout *l, Plan *p, OciLayerInfo *ret)
{
        ObError err = { 0 };
        LayerOptions lo = { .source_date_epoch = 1000, .level = 6, .threads = 1 };
        ck_assert_msg(plan_finish(p, 1000, &err) == 0, "%s", err.msg);
        *ret = (OciLayerInfo){ .created_by = "test" };
        ck_assert_msg(layer_write(l, p, &lo, ret, &err) == 0, "%s", err.msg);
}

void write_raw_layer(Layout *l, const TarEntry *entries, size_t n, OciLayerInfo *ret)
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
                /* A warning is a name that is not UTF-8, stored as its bytes. */
                ck_assert_int_ge(archive_write_header(a, ae), ARCHIVE_WARN);
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

void write_image(Layout *l, const char *name, const char *user, const OciLayerInfo *layers, size_t n)
{
        char *env[] = { (char *) "PATH=/usr/bin:/bin", (char *) "A=1", NULL };
        SpecImageConfig cfg = { .user = (char *) user, .env = env, .workdir = (char *) "/home/nonroot" };
        ImageBuild b = { .name = name,
                         .version = "1.0",
                         .description = "test image",
                         .config = &cfg,
                         .layers = layers,
                         .n_layers = n,
                         .created = 0,
                         .platform = &(Platform){ "linux", "amd64", "" } };
        ImageResult res;
        ObError err = { 0 };
        ck_assert_msg(image_write(l, &b, &res, &err) == 0, "%s", err.msg);
}

Layout *new_layout(const char *name)
{
        _cleanup_free_ char *dir = xasprintf("%s/%s", tmp_root, name);
        Layout *l = NULL;
        ObError err = { 0 };
        ck_assert_msg(layout_open(dir, LAYOUT_CREATE, &l, &err) == 0, "%s", err.msg);
        return l;
}

void check_stat(const char *root, const char *path, mode_t type, mode_t perm, uid_t uid, gid_t gid)
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

void check_content(const char *root, const char *path, const char *want)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", root, path);
        _cleanup_free_ char *data = NULL;
        ObError err = { 0 };
        ck_assert_msg(read_file(p, &data, NULL, &err) == 0, "%s", err.msg);
        ck_assert_str_eq(data, want);
}

bool exists(const char *root, const char *path)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", root, path);
        struct stat st;
        return lstat(p, &st) == 0;
}
