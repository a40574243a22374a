/* SPDX-License-Identifier: MIT */
/* Layer tar streams, read back with libarchive's reader and with Python's
 * tarfile module (when python3 is installed), and layer blobs checked with
 * zlib and gzip(1). */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "fs.h"
#include "layer.h"
#include "layout.h"
#include "plan.h"
#include "sysroot.h"
#include "testutil.h"
#include "util.h"

#define SDE 1000000000
#define NEWER 2000000000
#define BIG_SIZE 300007

static char tmp_root[4096];

static void tmp_setup(void)
{
        test_tmpdir(tmp_root, sizeof(tmp_root), "layer");
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

/* sha256 with libcrypto directly, as "sha256:<hex>". */
static void evp_sha256(const void *data, size_t n, char out[72])
{
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        ck_assert_int_eq(EVP_Digest(data, n, md, &len, EVP_sha256(), NULL), 1);
        ck_assert_uint_eq(len, 32);
        strcpy(out, "sha256:");
        for (unsigned i = 0; i < 32; i++)
                snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

static void slurp(const char *path, char **ret, size_t *ret_n)
{
        ObError e = { 0 };
        ck_assert_msg(read_file(path, ret, ret_n, &e) == 0, "%s", e.msg);
}

static void set_mtime(const char *path, time_t t)
{
        struct timespec ts[2] = { { t, 0 }, { t, 0 } };
        ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static unsigned char *gen_data(size_t n, uint32_t seed)
{
        unsigned char *d = xmalloc(n);
        uint32_t x = seed;
        for (size_t i = 0; i < n; i++) {
                x = x * 1103515245u + 12345u;
                d[i] = (unsigned char) (x >> 16);
        }
        return d;
}

/* ---- the reference plan ---- */

typedef struct Expect {
        char path[400];
        char type; /* 'd', 'f', 'l' (symlink), 'h' (hard link) */
        uint32_t mode;
        uint32_t uid, gid;
        int64_t mtime;
        const char *link;    /* symlink or hard link target */
        const void *content; /* 'f' */
        size_t size;
} Expect;

typedef struct Fixture {
        char *dir;
        char *root; /* the sysroot */
        char *big_host;
        unsigned char *big;
        char *long1, *long2;
        Plan plan;
        Expect want[40];
        size_t n_want;
} Fixture;

static void add(Plan *p, const Entry *e)
{
        ObError err = { 0 };
        ck_assert_msg(plan_add(p, e, &err) == 0, "%s", err.msg);
}

static void want(Fixture *f, const char *path, char type, uint32_t mode, uint32_t uid, uint32_t gid, int64_t mtime,
                 const char *link, const void *content, size_t size)
{
        ck_assert_uint_lt(f->n_want, ELEMENTSOF(f->want));
        Expect *x = &f->want[f->n_want++];
        snprintf(x->path, sizeof(x->path), "%s", path);
        x->type = type;
        x->mode = mode;
        x->uid = uid;
        x->gid = gid;
        x->mtime = mtime;
        x->link = link;
        x->content = content;
        x->size = size;
}

static void fixture_init(Fixture *f, const char *name)
{
        memset(f, 0, sizeof(*f));
        f->dir = test_dir(name);
        f->root = xasprintf("%s/root", f->dir);
        char *usr = xasprintf("%s/usr", f->root);
        char *lib = xasprintf("%s/usr/lib", f->root);
        ck_assert_int_eq(mkdir(f->root, 0755), 0);
        ck_assert_int_eq(mkdir(usr, 0755), 0);
        ck_assert_int_eq(mkdir(lib, 0750), 0);
        ck_assert_int_eq(chmod(lib, 0750), 0);

        /* A host file bigger than one read buffer, newer than SDE. */
        f->big = gen_data(BIG_SIZE, 42);
        f->big_host = xasprintf("%s/usr/lib/big.bin", f->root);
        int fd = open(f->big_host, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0604);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write_all(fd, f->big, BIG_SIZE), 0);
        ck_assert_int_eq(fchmod(fd, 0604), 0);
        close(fd);
        set_mtime(f->big_host, NEWER);
        /* Two names of one file. */
        char *hla = xasprintf("%s/usr/lib/hl-a", f->root);
        char *hlb = xasprintf("%s/usr/lib/hl-b", f->root);
        fd = open(hla, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write_all(fd, "linked\n", 7), 0);
        ck_assert_int_eq(fchmod(fd, 0644), 0);
        close(fd);
        ck_assert_int_eq(link(hla, hlb), 0);
        set_mtime(hla, 100);
        set_mtime(lib, 500);

        Sysroot *sr = NULL;
        ObError e = { 0 };
        ck_assert_int_eq(sysroot_open(f->root, &sr, &e), 0);
        plan_init(&f->plan);
        PlanCopyOptions o = { .dst = "/usr/lib", .src = "/usr/lib", .uid = 1000, .gid = 1000 };
        ck_assert_msg(plan_add_host(&f->plan, sr, &o, &e) == 0, "%s", e.msg);
        sysroot_free(sr);

        Plan *p = &f->plan;
        add(p, &(Entry){ .path = (char *) "/etc", .type = ENTRY_DIR, .mode = 0755, .mtime = 50 });
        add(p, &(Entry){ .path = (char *) "/etc/group",
                         .type = ENTRY_FILE,
                         .mode = 0644,
                         .mtime = 100,
                         .size = 10,
                         .data = (char *) "root:x:0:\n" });
        add(p, &(Entry){ .path = (char *) "/etc/passwd",
                         .type = ENTRY_FILE,
                         .mode = 0644,
                         .mtime = 100,
                         .size = 36,
                         .data = (char *) "root:x:0:0:root:/root:/sbin/nologin\n" });
        add(p, &(Entry){ .path = (char *) "/etc/ssl", .type = ENTRY_DIR, .mode = 0700, .mtime = 100 });
        add(p, &(Entry){ .path = (char *) "/etc-new",
                         .type = ENTRY_FILE,
                         .mode = 0640,
                         .mtime = NEWER,
                         .size = 4,
                         .data = (char *) "new\n" });
        add(p, &(Entry){ .path = (char *) "/lib",
                         .type = ENTRY_SYMLINK,
                         .mode = 0777,
                         .mtime = 100,
                         .target = (char *) "usr/lib" });

        /* A name over 100 bytes (ustar's name field) and one over 255
         * (ustar's prefix + name). */
        char x110[111];
        memset(x110, 'x', 110);
        x110[110] = '\0';
        f->long1 = xasprintf("usr/share/%s", x110);
        char comp[4][61];
        for (int i = 0; i < 4; i++) {
                memset(comp[i], 'a' + i, 60);
                comp[i][60] = '\0';
        }
        f->long2 = xasprintf("usr/share/deep/%s/%s/%s/%s/file-with-a-long-name", comp[0], comp[1], comp[2], comp[3]);
        ck_assert_uint_gt(strlen(f->long1), 100);
        ck_assert_uint_gt(strlen(f->long2), 255);
        add(p, &(Entry){ .path = f->long1,
                         .type = ENTRY_FILE,
                         .mode = 0644,
                         .mtime = 100,
                         .size = 5,
                         .data = (char *) "long1" });
        add(p, &(Entry){ .path = f->long2,
                         .type = ENTRY_FILE,
                         .mode = 0644,
                         .mtime = 100,
                         .size = 5,
                         .data = (char *) "long2" });

        add(p, &(Entry){ .path = (char *) "/var/bigid",
                         .type = ENTRY_FILE,
                         .mode = 0644,
                         .mtime = 100,
                         .uid = 3000000,
                         .gid = 3000001,
                         .size = 1,
                         .data = (char *) "b" });
        add(p, &(Entry){ .path = (char *) "/var/empty",
                         .type = ENTRY_FILE,
                         .mode = 0644,
                         .mtime = 100,
                         .size = 0,
                         .data = (char *) "" });
        add(p, &(Entry){ .path = (char *) "/var/neg",
                         .type = ENTRY_FILE,
                         .mode = 0644,
                         .mtime = -5,
                         .size = 1,
                         .data = (char *) "n" });
        add(p, &(Entry){ .path = (char *) "/var/nobody",
                         .type = ENTRY_FILE,
                         .mode = 0444,
                         .mtime = 100,
                         .uid = 65534,
                         .gid = 65534,
                         .size = 1,
                         .data = (char *) "x" });
        ck_assert_msg(plan_finish(p, 300, &e) == 0, "%s", e.msg);

        /* What a reader must find, in this order. */
        char buf[400];
        want(f, "etc", 'd', 0755, 0, 0, 50, NULL, NULL, 0);
        want(f, "etc/group", 'f', 0644, 0, 0, 100, NULL, "root:x:0:\n", 10);
        want(f, "etc/passwd", 'f', 0644, 0, 0, 100, NULL, "root:x:0:0:root:/root:/sbin/nologin\n", 36);
        want(f, "etc/ssl", 'd', 0700, 0, 0, 100, NULL, NULL, 0);
        want(f, "etc-new", 'f', 0640, 0, 0, SDE, NULL, "new\n", 4); /* clamped */
        want(f, "lib", 'l', 0777, 0, 0, 100, "usr/lib", NULL, 0);
        want(f, "usr", 'd', 0755, 0, 0, 300, NULL, NULL, 0);
        want(f, "usr/lib", 'd', 0750, 1000, 1000, 500, NULL, NULL, 0);
        want(f, "usr/lib/big.bin", 'f', 0604, 1000, 1000, SDE, NULL, f->big, BIG_SIZE);
        want(f, "usr/lib/hl-a", 'f', 0644, 1000, 1000, 100, NULL, "linked\n", 7);
        want(f, "usr/lib/hl-b", 'h', 0644, 1000, 1000, 100, "usr/lib/hl-a", NULL, 0);
        want(f, "usr/share", 'd', 0755, 0, 0, 300, NULL, NULL, 0);
        want(f, "usr/share/deep", 'd', 0755, 0, 0, 300, NULL, NULL, 0);
        snprintf(buf, sizeof(buf), "usr/share/deep/%s", comp[0]);
        want(f, buf, 'd', 0755, 0, 0, 300, NULL, NULL, 0);
        snprintf(buf, sizeof(buf), "usr/share/deep/%s/%s", comp[0], comp[1]);
        want(f, buf, 'd', 0755, 0, 0, 300, NULL, NULL, 0);
        snprintf(buf, sizeof(buf), "usr/share/deep/%s/%s/%s", comp[0], comp[1], comp[2]);
        want(f, buf, 'd', 0755, 0, 0, 300, NULL, NULL, 0);
        snprintf(buf, sizeof(buf), "usr/share/deep/%s/%s/%s/%s", comp[0], comp[1], comp[2], comp[3]);
        want(f, buf, 'd', 0755, 0, 0, 300, NULL, NULL, 0);
        want(f, f->long2, 'f', 0644, 0, 0, 100, NULL, "long2", 5);
        want(f, f->long1, 'f', 0644, 0, 0, 100, NULL, "long1", 5);
        want(f, "var", 'd', 0755, 0, 0, 300, NULL, NULL, 0);
        want(f, "var/bigid", 'f', 0644, 3000000, 3000001, 100, NULL, "b", 1);
        want(f, "var/empty", 'f', 0644, 0, 0, 100, NULL, "", 0);
        want(f, "var/neg", 'f', 0644, 0, 0, 0, NULL, "n", 1); /* never before 1970 */
        want(f, "var/nobody", 'f', 0444, 65534, 65534, 100, NULL, "x", 1);

        free(hla);
        free(hlb);
        free(usr);
        free(lib);
}

static void fixture_free(Fixture *f)
{
        plan_clear(&f->plan);
        free(f->dir);
        free(f->root);
        free(f->big_host);
        free(f->big);
        free(f->long1);
        free(f->long2);
}

static LayerOptions options(unsigned threads)
{
        return (LayerOptions){ .source_date_epoch = SDE, .level = 6, .threads = threads, .chunk = 64 * 1024 };
}

static char *write_tar_file(Fixture *f, const char *name, char diff_id[72])
{
        char *path = xasprintf("%s/%s", f->dir, name);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ck_assert_int_ge(fd, 0);
        ObError e = { 0 };
        LayerOptions o = options(1);
        ck_assert_msg(layer_write_tar(fd, &f->plan, &o, diff_id, &e) == 0, "%s", e.msg);
        close(fd);
        return path;
}

/* ---- tar stream ---- */

START_TEST(test_tar_libarchive_reader)
{
        Fixture f;
        fixture_init(&f, "libarchive");
        char diff_id[72];
        char *tar = write_tar_file(&f, "layer.tar", diff_id);

        struct archive *a = archive_read_new();
        archive_read_support_format_tar(a);
        ck_assert_int_eq(archive_read_open_filename(a, tar, 10240), ARCHIVE_OK);
        struct archive_entry *ae;
        size_t i = 0;
        int r;
        char *buf = xmalloc(BIG_SIZE + 1);
        while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
                ck_assert_uint_lt(i, f.n_want);
                const Expect *x = &f.want[i];
                char name[512];
                snprintf(name, sizeof(name), "%s", archive_entry_pathname(ae));
                size_t len = strlen(name);
                if (len > 1 && name[len - 1] == '/' && x->type == 'd')
                        name[len - 1] = '\0';
                ck_assert_msg(strcmp(name, x->path) == 0, "entry %zu is '%s', expected '%s'", i, name, x->path);
                ck_assert_uint_eq(archive_entry_perm(ae), x->mode);
                ck_assert_int_eq(archive_entry_uid(ae), x->uid);
                ck_assert_int_eq(archive_entry_gid(ae), x->gid);
                const char *uname = archive_entry_uname(ae), *gname = archive_entry_gname(ae);
                ck_assert_msg(!uname || !*uname, "%s: uname '%s'", x->path, uname);
                ck_assert_msg(!gname || !*gname, "%s: gname '%s'", x->path, gname);
                ck_assert_msg(archive_entry_mtime(ae) == x->mtime, "%s: mtime %lld, expected %lld", x->path,
                              (long long) archive_entry_mtime(ae), (long long) x->mtime);
                ck_assert_int_eq(archive_entry_mtime_nsec(ae), 0);
                switch (x->type) {
                case 'd':
                        ck_assert_int_eq(archive_entry_filetype(ae), AE_IFDIR);
                        break;
                case 'l':
                        ck_assert_int_eq(archive_entry_filetype(ae), AE_IFLNK);
                        ck_assert_str_eq(archive_entry_symlink(ae), x->link);
                        break;
                case 'h':
                        ck_assert_ptr_nonnull(archive_entry_hardlink(ae));
                        ck_assert_str_eq(archive_entry_hardlink(ae), x->link);
                        ck_assert_int_eq(archive_entry_size(ae), 0);
                        break;
                case 'f': {
                        ck_assert_int_eq(archive_entry_filetype(ae), AE_IFREG);
                        ck_assert_ptr_null(archive_entry_hardlink(ae));
                        ck_assert_int_eq(archive_entry_size(ae), (la_int64_t) x->size);
                        size_t got = 0;
                        la_ssize_t n;
                        while ((n = archive_read_data(a, buf + got, BIG_SIZE + 1 - got)) > 0)
                                got += (size_t) n;
                        ck_assert_int_ge(n, 0);
                        ck_assert_uint_eq(got, x->size);
                        ck_assert_msg(memcmp(buf, x->content, x->size) == 0, "%s: content differs", x->path);
                        break;
                }
                }
                i++;
        }
        ck_assert_int_eq(r, ARCHIVE_EOF);
        ck_assert_uint_eq(i, f.n_want);
        archive_read_free(a);

        /* The diff_id is the sha256 of exactly these bytes. */
        char *data;
        size_t n;
        slurp(tar, &data, &n);
        ck_assert_uint_eq(n % 512, 0);
        char sum[72];
        evp_sha256(data, n, sum);
        ck_assert_str_eq(diff_id, sum);
        free(data);
        free(buf);
        free(tar);
        fixture_free(&f);
}
END_TEST

static bool have_python(void)
{
        return system("command -v python3 >/dev/null 2>&1") == 0;
}

static const char py_script[] =
        "import sys, tarfile, hashlib, json\n"
        "with tarfile.open(sys.argv[1], 'r:') as t:\n"
        "    for m in t:\n"
        "        d = t.extractfile(m).read() if m.isreg() else b''\n"
        "        print(json.dumps({'name': m.name, 'type': m.type.decode(), 'mode': m.mode, 'uid': m.uid,\n"
        "            'gid': m.gid, 'uname': m.uname, 'gname': m.gname, 'mtime': m.mtime,\n"
        "            'linkname': m.linkname, 'size': m.size, 'sha256': 'sha256:' + hashlib.sha256(d).hexdigest(),\n"
        "            'pax': sorted(m.pax_headers.keys())}))\n";

START_TEST(test_tar_python_reader)
{
        if (!have_python())
                test_skip("python3 (its tarfile module reads the layer) not found");
        Fixture f;
        fixture_init(&f, "python");
        char diff_id[72];
        char *tar = write_tar_file(&f, "layer.tar", diff_id);
        char *script = xasprintf("%s/read.py", f.dir);
        FILE *sf = fopen(script, "w");
        ck_assert_ptr_nonnull(sf);
        fputs(py_script, sf);
        fclose(sf);

        char *cmd = xasprintf("python3 '%s' '%s'", script, tar);
        FILE *p = popen(cmd, "r");
        ck_assert_ptr_nonnull(p);
        char line[8192];
        size_t i = 0;
        bool saw_long_pax = false;
        while (fgets(line, sizeof(line), p)) {
                json_error_t jerr;
                json_t *j = json_loads(line, 0, &jerr);
                ck_assert_msg(j != NULL, "python printed: %s", line);
                ck_assert_uint_lt(i, f.n_want);
                const Expect *x = &f.want[i];
                const char *type = json_string_value(json_object_get(j, "type"));
                static const char *const types[] = { ['d'] = "5", ['f'] = "0", ['l'] = "2", ['h'] = "1" };
                ck_assert_str_eq(json_string_value(json_object_get(j, "name")), x->path);
                ck_assert_msg(strcmp(type, types[(int) x->type]) == 0, "%s: type %s", x->path, type);
                ck_assert_int_eq(json_integer_value(json_object_get(j, "mode")), x->mode);
                ck_assert_int_eq(json_integer_value(json_object_get(j, "uid")), x->uid);
                ck_assert_int_eq(json_integer_value(json_object_get(j, "gid")), x->gid);
                ck_assert_str_eq(json_string_value(json_object_get(j, "uname")), "");
                ck_assert_str_eq(json_string_value(json_object_get(j, "gname")), "");
                ck_assert_int_eq(json_integer_value(json_object_get(j, "mtime")), x->mtime);
                ck_assert_str_eq(json_string_value(json_object_get(j, "linkname")), x->link ? x->link : "");
                if (x->type == 'f') {
                        char sum[72];
                        evp_sha256(x->content, x->size, sum);
                        ck_assert_int_eq(json_integer_value(json_object_get(j, "size")), x->size);
                        ck_assert_str_eq(json_string_value(json_object_get(j, "sha256")), sum);
                }
                /* Nothing that varies from build to build. */
                size_t k;
                json_t *key;
                json_array_foreach(json_object_get(j, "pax"), k, key) {
                        const char *s = json_string_value(key);
                        ck_assert_msg(strcmp(s, "atime") && strcmp(s, "ctime") && !str_startswith(s, "SCHILY.") &&
                                              !str_startswith(s, "LIBARCHIVE."),
                                      "%s: pax header %s", x->path, s);
                        if (strcmp(x->path, f.long2) == 0 && strcmp(s, "path") == 0)
                                saw_long_pax = true;
                }
                json_decref(j);
                i++;
        }
        int status = pclose(p);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "python3 failed: %d", status);
        ck_assert_uint_eq(i, f.n_want);
        ck_assert(saw_long_pax);
        free(cmd);
        free(script);
        free(tar);
        fixture_free(&f);
}
END_TEST

START_TEST(test_tar_empty_plan)
{
        char *dir = test_dir("empty");
        char *path = xasprintf("%s/empty.tar", dir);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ck_assert_int_ge(fd, 0);
        Plan p;
        plan_init(&p);
        ObError e = { 0 };
        char diff_id[72];
        LayerOptions o = options(1);
        ck_assert_msg(layer_write_tar(fd, &p, &o, diff_id, &e) == 0, "%s", e.msg);
        close(fd);
        char *data;
        size_t n;
        slurp(path, &data, &n);
        /* Only the end-of-archive marker: zero blocks. */
        ck_assert_uint_ge(n, 1024);
        ck_assert_uint_eq(n % 512, 0);
        for (size_t i = 0; i < n; i++)
                ck_assert_int_eq(data[i], 0);
        char sum[72];
        evp_sha256(data, n, sum);
        ck_assert_str_eq(diff_id, sum);
        free(data);
        free(path);
        free(dir);
}
END_TEST

START_TEST(test_tar_write_error)
{
        Fixture f;
        fixture_init(&f, "write-error");
        char *path = xasprintf("%s/ro", f.dir);
        int fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
        ck_assert_int_ge(fd, 0);
        ObError e = { 0 };
        char diff_id[72];
        LayerOptions o = options(1);
        int r = layer_write_tar(fd, &f.plan, &o, diff_id, &e);
        close(fd);
        ck_assert_int_lt(r, 0);
        ck_assert_msg(strstr(e.msg, "cannot write the tar stream") != NULL, "%s", e.msg);
        free(path);
        fixture_free(&f);
}
END_TEST

/* ---- layer blobs ---- */

static size_t count_entries(const char *dir, const char *prefix)
{
        DIR *d = opendir(dir);
        ck_assert_ptr_nonnull(d);
        struct dirent *de;
        size_t n = 0;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && str_startswith(de->d_name, prefix))
                        n++;
        closedir(d);
        return n;
}

/* Inflates a multi-member gzip file. */
static void gunzip(const char *in, size_t n, char **ret, size_t *ret_n)
{
        size_t cap = n * 4 + 1024, out = 0, pos = 0;
        char *buf = xmalloc(cap);
        while (pos < n) {
                z_stream zs;
                memset(&zs, 0, sizeof(zs));
                ck_assert_int_eq(inflateInit2(&zs, 31), Z_OK);
                zs.next_in = (unsigned char *) in + pos;
                zs.avail_in = (uInt) (n - pos);
                int r;
                do {
                        if (out == cap)
                                buf = xrealloc(buf, cap *= 2);
                        zs.next_out = (unsigned char *) buf + out;
                        zs.avail_out = (uInt) (cap - out);
                        r = inflate(&zs, Z_NO_FLUSH);
                        out = cap - zs.avail_out;
                        ck_assert_msg(r == Z_OK || r == Z_STREAM_END, "inflate: %d", r);
                } while (r != Z_STREAM_END);
                pos = n - zs.avail_in;
                inflateEnd(&zs);
        }
        *ret = buf;
        *ret_n = out;
}

static Layout *open_layout(const char *dir)
{
        ObError e = { 0 };
        Layout *l = NULL;
        ck_assert_msg(layout_open(dir, LAYOUT_CREATE, &l, &e) == 0, "%s", e.msg);
        return l;
}

START_TEST(test_layer_blob)
{
        Fixture f;
        fixture_init(&f, "blob");
        char tar_diff_id[72];
        char *tar_path = write_tar_file(&f, "layer.tar", tar_diff_id);
        char *tar;
        size_t tar_n;
        slurp(tar_path, &tar, &tar_n);

        char *ldir = xasprintf("%s/layout1", f.dir);
        Layout *l = open_layout(ldir);
        OciLayerInfo info;
        memset(&info, 0, sizeof(info));
        ObError e = { 0 };
        LayerOptions o = options(3);
        ck_assert_msg(layer_write(l, &f.plan, &o, &info, &e) == 0, "%s", e.msg);
        ck_assert(digest_is_valid(info.digest));
        ck_assert_str_eq(info.diff_id, tar_diff_id);
        ck_assert_uint_eq(info.tar_size, tar_n);

        /* The blob is where its digest says, and hashes to it. */
        char *blob_path = xasprintf("%s/blobs/sha256/%s", ldir, info.digest + 7);
        char *blob;
        size_t blob_n;
        slurp(blob_path, &blob, &blob_n);
        ck_assert_uint_eq(info.size, blob_n);
        char sum[72];
        evp_sha256(blob, blob_n, sum);
        ck_assert_str_eq(sum, info.digest);
        ck_assert_uint_lt(blob_n, tar_n);

        /* Uncompressed, it is the tar stream, whose sha256 is the diff_id. */
        char *plain;
        size_t plain_n;
        gunzip(blob, blob_n, &plain, &plain_n);
        ck_assert_uint_eq(plain_n, tar_n);
        ck_assert(memcmp(plain, tar, tar_n) == 0);
        evp_sha256(plain, plain_n, sum);
        ck_assert_str_eq(sum, info.diff_id);
        free(plain);

        /* gzip(1) agrees. */
        if (system("command -v gzip >/dev/null 2>&1") == 0) {
                char *cmd = xasprintf("gzip -dc < '%s'", blob_path);
                FILE *p = popen(cmd, "r");
                ck_assert_ptr_nonnull(p);
                char *got = xmalloc(tar_n + 1);
                size_t got_n = fread(got, 1, tar_n + 1, p);
                ck_assert_int_eq(pclose(p), 0);
                ck_assert_uint_eq(got_n, tar_n);
                ck_assert(memcmp(got, tar, tar_n) == 0);
                free(got);
                free(cmd);
        }

        /* The same plan again: the same blob, nothing new on disk. */
        OciLayerInfo again;
        ck_assert_msg(layer_write(l, &f.plan, &o, &again, &e) == 0, "%s", e.msg);
        ck_assert_str_eq(again.digest, info.digest);
        char *blobs = xasprintf("%s/blobs/sha256", ldir);
        ck_assert_uint_eq(count_entries(blobs, ""), 1);
        ck_assert_uint_eq(count_entries(ldir, ".oci-build-"), 0);
        ck_assert_int_eq(layout_commit(l, &e), 0);
        layout_close(l);

        /* Another layout, one thread: byte-identical blob. */
        char *ldir2 = xasprintf("%s/layout2", f.dir);
        l = open_layout(ldir2);
        LayerOptions o1 = options(1);
        OciLayerInfo info2;
        ck_assert_msg(layer_write(l, &f.plan, &o1, &info2, &e) == 0, "%s", e.msg);
        ck_assert_str_eq(info2.digest, info.digest);
        ck_assert_str_eq(info2.diff_id, info.diff_id);
        char *blob2_path = xasprintf("%s/blobs/sha256/%s", ldir2, info.digest + 7);
        char *blob2;
        size_t blob2_n;
        slurp(blob2_path, &blob2, &blob2_n);
        ck_assert_uint_eq(blob2_n, blob_n);
        ck_assert(memcmp(blob, blob2, blob_n) == 0);
        layout_rollback(l);
        layout_close(l);
        ck_assert_int_ne(access(ldir2, F_OK), 0);

        free(blob2);
        free(blob2_path);
        free(ldir2);
        free(blobs);
        free(blob);
        free(blob_path);
        free(ldir);
        free(tar);
        free(tar_path);
        fixture_free(&f);
}
END_TEST

START_TEST(test_layer_source_changed)
{
        Fixture f;
        fixture_init(&f, "changed");
        char *ldir = xasprintf("%s/layout", f.dir);
        char *blobs = xasprintf("%s/blobs/sha256", ldir);
        Layout *l = open_layout(ldir);
        ObError e = { 0 };
        LayerOptions o = options(2);
        OciLayerInfo info;

        /* The file grows between planning and writing. */
        int fd = open(f.big_host, O_WRONLY | O_APPEND | O_CLOEXEC);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write_all(fd, "more", 4), 0);
        close(fd);
        int r = layer_write(l, &f.plan, &o, &info, &e);
        ck_assert_int_eq(r, -EIO);
        char *want = xasprintf("'%s' changed while the image was being built", f.big_host);
        ck_assert_msg(strstr(e.msg, want) != NULL, "%s", e.msg);
        ck_assert_uint_eq(count_entries(ldir, ".oci-build-"), 0);
        ck_assert_uint_eq(count_entries(blobs, ""), 0);

        /* Another file of the same size under its name: not the one planned. */
        char *moved = xasprintf("%s.planned", f.big_host);
        ck_assert_int_eq(rename(f.big_host, moved), 0);
        char *same = xasprintf("cp -p '%s' '%s'", moved, f.big_host);
        ck_assert_int_eq(system(same), 0);
        ck_assert_int_eq(truncate(f.big_host, BIG_SIZE), 0);
        r = layer_write(l, &f.plan, &o, &info, &e);
        ck_assert_int_eq(r, -EIO);
        ck_assert_msg(strstr(e.msg, want) != NULL, "%s", e.msg);

        /* Its directory swapped for a symlink to a directory outside the
         * sysroot holding a file of that name and size: never read. */
        char *lib = xasprintf("%s/usr/lib", f.root);
        char *lib_moved = xasprintf("%s/usr/lib.planned", f.root);
        char *outside = xasprintf("%s/outside", f.dir);
        ck_assert_int_eq(mkdir(outside, 0755), 0);
        char *outside_big = xasprintf("%s/big.bin", outside);
        fd = open(outside_big, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write_all(fd, f.big, BIG_SIZE), 0);
        close(fd);
        ck_assert_int_eq(rename(lib, lib_moved), 0);
        ck_assert_int_eq(symlink(outside, lib), 0);
        r = layer_write(l, &f.plan, &o, &info, &e);
        ck_assert_int_eq(r, -EIO);
        ck_assert_msg(strstr(e.msg, want) != NULL, "%s", e.msg);
        ck_assert_uint_eq(count_entries(blobs, ""), 0);
        /* The same through the walk that stands in for openat2(). */
        sysroot_force_walk = true;
        r = layer_write(l, &f.plan, &o, &info, &e);
        sysroot_force_walk = false;
        ck_assert_int_eq(r, -EIO);
        ck_assert_msg(strstr(e.msg, want) != NULL, "%s", e.msg);
        ck_assert_uint_eq(count_entries(blobs, ""), 0);
        ck_assert_int_eq(unlink(lib), 0);
        ck_assert_int_eq(rename(lib_moved, lib), 0);

        /* It disappears. */
        ck_assert_int_eq(unlink(f.big_host), 0);
        r = layer_write(l, &f.plan, &o, &info, &e);
        ck_assert_int_eq(r, -ENOENT);
        ck_assert_msg(strstr(e.msg, f.big_host) != NULL, "%s", e.msg);
        ck_assert_uint_eq(count_entries(ldir, ".oci-build-"), 0);
        ck_assert_uint_eq(count_entries(blobs, ""), 0);

        /* A bad level fails before anything is written. */
        LayerOptions bad = options(1);
        bad.level = 99;
        ck_assert_int_eq(layer_write(l, &f.plan, &bad, &info, &e), -EINVAL);
        ck_assert_uint_eq(count_entries(ldir, ".oci-build-"), 0);

        layout_rollback(l);
        layout_close(l);
        ck_assert_int_ne(access(ldir, F_OK), 0);
        free(outside_big);
        free(outside);
        free(lib_moved);
        free(lib);
        free(same);
        free(moved);
        free(want);
        free(blobs);
        free(ldir);
        fixture_free(&f);
}
END_TEST

START_TEST(test_compression_parse)
{
        LayerCompression c;
        int level;
        ObError e = { 0 };
        ck_assert_int_eq(layer_compression_parse("gzip", &c, &level, &e), 0);
        ck_assert_int_eq(c, LAYER_GZIP);
        ck_assert_int_eq(level, LAYER_LEVEL_AUTO);
        ck_assert_int_eq(layer_compression_parse("zstd:19", &c, &level, &e), 0);
        ck_assert_int_eq(c, LAYER_ZSTD);
        ck_assert_int_eq(level, 19);
        ck_assert_int_eq(layer_compression_parse("gzip:0", &c, &level, &e), 0);
        ck_assert_int_eq(level, 0);
        static const char *const bad[] = { "xz",      "",        "gzip:",   "gzip:13", "zstd:0",
                                           "zstd:20", "zstd:3x", "zstd:-1", "GZIP",    "gzip:6:1" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                ck_assert_msg(layer_compression_parse(bad[i], &c, &level, &e) == -EINVAL, "%s", bad[i]);
                ck_assert(e.usage);
                ck_assert_msg(strstr(e.msg, "(choices: gzip, gzip:0-12, zstd or zstd:1-19)"), "%s", e.msg);
        }
        ck_assert_int_eq(layer_level_check(LAYER_ZSTD, 19, &e), 0);
        ck_assert_int_eq(layer_level_check(LAYER_GZIP, 13, &e), -EINVAL);
        LayerOptions o = { .compression = LAYER_ZSTD };
        ck_assert_str_eq(layer_media_type(&o), "application/vnd.oci.image.layer.v1.tar+zstd");
        o.compression = LAYER_GZIP;
        ck_assert_str_eq(layer_media_type(&o), "application/vnd.oci.image.layer.v1.tar+gzip");
}
END_TEST

static Suite *layer_suite(void)
{
        Suite *s = suite_create("layer");
        TCase *tc = tcase_create("tar");
        tcase_set_timeout(tc, 30);
        tcase_add_unchecked_fixture(tc, tmp_setup, tmp_teardown);
        tcase_add_test(tc, test_tar_libarchive_reader);
        tcase_add_test(tc, test_tar_python_reader);
        tcase_add_test(tc, test_tar_empty_plan);
        tcase_add_test(tc, test_tar_write_error);
        tcase_add_test(tc, test_layer_blob);
        tcase_add_test(tc, test_layer_source_changed);
        tcase_add_test(tc, test_compression_parse);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return test_run(layer_suite());
}
