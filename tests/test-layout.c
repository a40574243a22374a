/* SPDX-License-Identifier: MIT */
/* OCI image layout directories: creation, refusal, blobs, the index,
 * garbage collection and rollback. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs.h"
#include "layout.h"
#include "oci.h"
#include "testutil.h"
#include "tmpfile.h"
#include "util.h"

static char tmp_root[4096];

static void tmp_setup(void)
{
        test_tmpdir(tmp_root, sizeof(tmp_root), "layout");
}

static void tmp_teardown(void)
{
        test_rm_rf(tmp_root);
}

static char *tpath(const char *name)
{
        return xasprintf("%s/%s", tmp_root, name);
}

static bool exists(const char *base, const char *rel)
{
        char *p = rel ? xasprintf("%s/%s", base, rel) : xstrdup(base);
        bool r = access(p, F_OK) == 0;
        free(p);
        return r;
}

static size_t count_entries(const char *dir, const char *prefix)
{
        DIR *d = opendir(dir);
        ck_assert_msg(d != NULL, "cannot open %s", dir);
        struct dirent *de;
        size_t n = 0;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && str_startswith(de->d_name, prefix))
                        n++;
        closedir(d);
        return n;
}

static void write_text(const char *base, const char *rel, const char *text)
{
        char *p = xasprintf("%s/%s", base, rel);
        FILE *f = fopen(p, "w");
        ck_assert_msg(f != NULL, "cannot create %s", p);
        fputs(text, f);
        fclose(f);
        free(p);
}

static void evp_sha256(const void *data, size_t n, char out[72])
{
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        ck_assert_int_eq(EVP_Digest(data, n, md, &len, EVP_sha256(), NULL), 1);
        strcpy(out, "sha256:");
        for (unsigned i = 0; i < 32; i++)
                snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

static Layout *open_ok(const char *dir, int flags)
{
        ObError e = { 0 };
        Layout *l = NULL;
        ck_assert_msg(layout_open(dir, flags, &l, &e) == 0, "%s", e.msg);
        ck_assert_ptr_nonnull(l);
        return l;
}

static void put(Layout *l, const char *data, char digest[72])
{
        ObError e = { 0 };
        ck_assert_msg(layout_put_blob(l, data, strlen(data), digest, &e) == 0, "%s", e.msg);
}

static json_t *named_desc(const char *name, const char *digest, uint64_t size)
{
        json_t *d = oci_descriptor(OCI_MT_MANIFEST, digest, size);
        json_object_set_new(d, "annotations", json_pack("{s:s}", OCI_REF_NAME, name));
        return d;
}

/* ---- opening ---- */

START_TEST(test_create_missing_dir)
{
        char *dir = tpath("new");
        Layout *l = open_ok(dir, LAYOUT_CREATE);
        ck_assert_str_eq(layout_path(l), dir);
        layout_close(l);

        json_error_t jerr;
        char *p = xasprintf("%s/oci-layout", dir);
        json_t *j = json_load_file(p, 0, &jerr);
        ck_assert_msg(j != NULL, "oci-layout: %s", jerr.text);
        ck_assert_str_eq(json_string_value(json_object_get(j, "imageLayoutVersion")), "1.0.0");
        ck_assert_uint_eq(json_object_size(j), 1);
        json_decref(j);
        free(p);

        p = xasprintf("%s/index.json", dir);
        j = json_load_file(p, 0, &jerr);
        ck_assert_msg(j != NULL, "index.json: %s", jerr.text);
        ck_assert_int_eq(json_integer_value(json_object_get(j, "schemaVersion")), 2);
        ck_assert_str_eq(json_string_value(json_object_get(j, "mediaType")), OCI_MT_INDEX);
        ck_assert(json_is_array(json_object_get(j, "manifests")));
        ck_assert_uint_eq(json_array_size(json_object_get(j, "manifests")), 0);
        json_decref(j);
        free(p);

        struct stat st;
        p = xasprintf("%s/blobs/sha256", dir);
        ck_assert_int_eq(stat(p, &st), 0);
        ck_assert(S_ISDIR(st.st_mode));
        ck_assert_uint_eq(count_entries(p, ""), 0);
        free(p);
        ck_assert_uint_eq(count_entries(dir, ""), 3); /* oci-layout, index.json, blobs */

        /* Once created, it opens without LAYOUT_CREATE. */
        l = open_ok(dir, 0);
        ck_assert_ptr_nonnull(layout_index(l));
        char **names = layout_index_names(l);
        ck_assert_uint_eq(strv_length(names), 0);
        strv_free(names);
        layout_close(l);
        layout_close(NULL);
        free(dir);
}
END_TEST

START_TEST(test_refuse_foreign_dir)
{
        char *dir = tpath("foreign");
        ck_assert_int_eq(mkdir(dir, 0755), 0);
        write_text(dir, "keep.txt", "precious");
        ObError e = { 0 };
        Layout *l = NULL;
        int r = layout_open(dir, LAYOUT_CREATE, &l, &e);
        ck_assert_int_eq(r, -EEXIST);
        ck_assert_ptr_null(l);
        ck_assert_msg(strstr(e.msg, "not an OCI image layout") != NULL, "%s", e.msg);
        ck_assert_ptr_nonnull(strstr(e.msg, dir));
        /* untouched */
        ck_assert_uint_eq(count_entries(dir, ""), 1);
        char *p = xasprintf("%s/keep.txt", dir), *text = NULL;
        ck_assert_int_eq(read_file(p, &text, NULL, &e), 0);
        ck_assert_str_eq(text, "precious");
        free(text);
        free(p);
        free(dir);
}
END_TEST

START_TEST(test_open_errors)
{
        ObError e = { 0 };
        Layout *l = NULL;
        char *missing = tpath("missing");
        char *want = xasprintf("cannot use output directory '%s': %s", missing, strerror(ENOENT));
        ck_assert_int_eq(layout_open(missing, 0, &l, &e), -ENOENT);
        ck_assert_str_eq(e.msg, want);
        ck_assert_ptr_null(l);
        ck_assert(!exists(missing, NULL));
        free(want);

        /* An empty directory is not a layout unless we may create one. */
        char *empty = tpath("empty");
        ck_assert_int_eq(mkdir(empty, 0755), 0);
        want = xasprintf("'%s' is not an OCI image layout (no oci-layout file)", empty);
        ck_assert_int_eq(layout_open(empty, 0, &l, &e), -ENOENT);
        ck_assert_str_eq(e.msg, want);
        ck_assert_uint_eq(count_entries(empty, ""), 0);
        free(want);

        /* A file where the directory should be. */
        char *file = tpath("afile");
        write_text(tmp_root, "afile", "x");
        ck_assert_int_eq(layout_open(file, LAYOUT_CREATE, &l, &e), -ENOTDIR);
        ck_assert_ptr_nonnull(strstr(e.msg, "is not a directory"));

        /* A bad oci-layout file, and a bad index. */
        char *bad = tpath("bad");
        Layout *ok = open_ok(bad, LAYOUT_CREATE);
        layout_close(ok);
        write_text(bad, "oci-layout", "{\"imageLayoutVersion\":\"2.0.0\"}");
        ck_assert_int_eq(layout_open(bad, 0, &l, &e), -EINVAL);
        ck_assert_ptr_nonnull(strstr(e.msg, "is not a valid oci-layout file"));
        write_text(bad, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
        write_text(bad, "index.json", "{\"manifests\": [");
        ck_assert_int_eq(layout_open(bad, 0, &l, &e), -EINVAL);
        ck_assert_ptr_nonnull(strstr(e.msg, "is not valid JSON"));
        write_text(bad, "index.json", "{\"schemaVersion\": 2}");
        ck_assert_int_eq(layout_open(bad, 0, &l, &e), -EINVAL);
        ck_assert_ptr_nonnull(strstr(e.msg, "is not an OCI image index"));
        ck_assert_ptr_null(l);

        /* A path longer than the message: its middle goes, the reason stays. */
        size_t long_len = sizeof(e.msg) + 1000;
        char *longp = xmalloc(long_len + 1);
        memset(longp, 'a', long_len);
        longp[0] = '/';
        longp[long_len] = '\0';
        ck_assert_int_eq(layout_open(longp, 0, &l, &e), -ENAMETOOLONG);
        ck_assert_msg(str_endswith(e.msg, strerror(ENAMETOOLONG)), "%s", e.msg);
        ck_assert(str_startswith(e.msg, "cannot use output directory '/aaa"));
        ck_assert_ptr_nonnull(strstr(e.msg, "…"));
        ck_assert_uint_lt(strlen(e.msg), sizeof(e.msg));

        free(longp);
        free(bad);
        free(file);
        free(empty);
        free(missing);
}
END_TEST

START_TEST(test_create_in_empty_dir_and_rollback)
{
        char *dir = tpath("empty-create");
        ck_assert_int_eq(mkdir(dir, 0755), 0);
        Layout *l = open_ok(dir, LAYOUT_CREATE);
        ck_assert(exists(dir, "oci-layout"));
        char d[72];
        put(l, "blob", d);
        layout_rollback(l);
        layout_close(l);
        /* The directory was there before: it stays, empty. */
        ck_assert(exists(dir, NULL));
        ck_assert_uint_eq(count_entries(dir, ""), 0);
        free(dir);
}
END_TEST

START_TEST(test_rollback_new_dir)
{
        char *dir = tpath("rollback-new");
        Layout *l = open_ok(dir, LAYOUT_CREATE);
        char d[72];
        put(l, "some blob", d);
        ObError e = { 0 };
        ck_assert_int_eq(layout_index_set(l, "x", named_desc("x", d, 9), &e), 0);
        layout_rollback(l);
        layout_close(l);
        ck_assert(!exists(dir, NULL));
        free(dir);
}
END_TEST

START_TEST(test_rollback_existing)
{
        char *dir = tpath("rollback-existing");
        ObError e = { 0 };
        char a[72], b[72], c[72];
        Layout *l = open_ok(dir, LAYOUT_CREATE);
        put(l, "blob A", a);
        ck_assert_int_eq(layout_commit(l, &e), 0);
        layout_close(l);

        l = open_ok(dir, LAYOUT_CREATE);
        put(l, "blob B", b);
        put(l, "blob A", c); /* already there: not ours to remove */
        ck_assert_str_eq(a, c);
        ck_assert(layout_has_blob(l, b));
        layout_rollback(l);
        layout_close(l);

        l = open_ok(dir, 0);
        ck_assert(layout_has_blob(l, a));
        ck_assert(!layout_has_blob(l, b));
        layout_close(l);
        ck_assert(exists(dir, "oci-layout"));
        ck_assert(exists(dir, "index.json"));
        char *blobs = xasprintf("%s/blobs/sha256", dir);
        ck_assert_uint_eq(count_entries(blobs, ""), 1);
        free(blobs);
        free(dir);
}
END_TEST

START_TEST(test_stale_tmp_removed)
{
        char *dir = tpath("stale");
        Layout *l = open_ok(dir, LAYOUT_CREATE);
        layout_close(l);
        write_text(dir, ".oci-build-AbC123.tmp", "partial blob");
        write_text(dir, "index.json.tmp-XyZ987", "partial index");
        write_text(dir, "notes.txt", "not ours");
        l = open_ok(dir, LAYOUT_CREATE);
        ck_assert(!exists(dir, ".oci-build-AbC123.tmp"));
        ck_assert(!exists(dir, "index.json.tmp-XyZ987"));
        ck_assert(exists(dir, "notes.txt"));
        ck_assert(exists(dir, "index.json"));
        layout_close(l);
        free(dir);
}
END_TEST

/* Whether another process could take the directory's lock right now. */
static bool lock_free(const char *dir)
{
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                _exit(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0 ? 0 : 1);
        }
        int status = 0;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFEXITED(status));
        return WEXITSTATUS(status) == 0;
}

START_TEST(test_lock)
{
        char *dir = tpath("locked");
        Layout *l = open_ok(dir, LAYOUT_CREATE);
        ck_assert(!lock_free(dir));
        layout_close(l);
        ck_assert(lock_free(dir));
        free(dir);
}
END_TEST

/* ---- blobs ---- */

START_TEST(test_blob_roundtrip)
{
        char *dir = tpath("blobs");
        Layout *l = open_ok(dir, LAYOUT_CREATE);
        ObError e = { 0 };
        static const char data[] = "hello, blob\n";
        char digest[72], want[72];
        put(l, data, digest);
        evp_sha256(data, strlen(data), want);
        ck_assert_str_eq(digest, want);

        char *path = layout_blob_path(l, digest);
        char *expect_path = xasprintf("%s/blobs/sha256/%s", dir, want + 7);
        ck_assert_str_eq(path, expect_path);
        struct stat st;
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_int_eq(st.st_mode & 0777, 0644);
        ck_assert(layout_has_blob(l, digest));
        ck_assert(!layout_has_blob(l, "sha256:0000000000000000000000000000000000000000000000000000000000000000"));
        ck_assert(!layout_has_blob(l, "not-a-digest"));

        char *got = NULL;
        size_t n = 0;
        ck_assert_msg(layout_read_blob(l, digest, &got, &n, &e) == 0, "%s", e.msg);
        ck_assert_uint_eq(n, strlen(data));
        ck_assert_mem_eq(got, data, n);
        free(got);

        /* Putting it again gives the same digest and one file. */
        char again[72];
        put(l, data, again);
        ck_assert_str_eq(again, digest);
        char *blobs = xasprintf("%s/blobs/sha256", dir);
        ck_assert_uint_eq(count_entries(blobs, ""), 1);

        /* Corruption is noticed. */
        write_text(dir, expect_path + strlen(dir) + 1, "hello, blub\n");
        got = NULL;
        ck_assert_int_eq(layout_read_blob(l, digest, &got, &n, &e), -EIO);
        ck_assert_ptr_null(got);
        ck_assert_msg(strstr(e.msg, "corrupt") != NULL, "%s", e.msg);
        ck_assert_ptr_nonnull(strstr(e.msg, path));

        ck_assert_int_eq(layout_read_blob(l, "sha256:ABC", &got, &n, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "'sha256:ABC' is not a sha256 digest");
        ck_assert_int_eq(layout_read_blob(l, "sha256:1111111111111111111111111111111111111111111111111111111111111111",
                                          &got, &n, &e),
                         -ENOENT);
        layout_close(l);
        free(blobs);
        free(expect_path);
        free(path);
        free(dir);
}
END_TEST

START_TEST(test_blob_writer)
{
        char *dir = tpath("writer");
        Layout *l = open_ok(dir, LAYOUT_CREATE);
        ObError e = { 0 };
        BlobWriter *w = NULL;

        /* Written in pieces: the digest of the whole. */
        ck_assert_int_eq(layout_blob_begin(l, &w, &e), 0);
        ck_assert_uint_eq(count_entries(dir, ".oci-build-"), 1);
        size_t total = 0;
        char *all = xstrdup("");
        for (int i = 0; i < 100; i++) {
                char piece[32];
                int len = snprintf(piece, sizeof(piece), "piece %d;", i);
                ck_assert_int_eq(blob_writer_write(w, piece, (size_t) len, &e), 0);
                char *next = xasprintf("%s%s", all, piece);
                free(all);
                all = next;
                total += (size_t) len;
        }
        char digest[72], want[72];
        uint64_t size = 0;
        ck_assert_msg(layout_blob_commit(l, w, digest, &size, &e) == 0, "%s", e.msg);
        evp_sha256(all, total, want);
        ck_assert_str_eq(digest, want);
        ck_assert_uint_eq(size, total);
        ck_assert_uint_eq(count_entries(dir, ".oci-build-"), 0);

        /* Abandoned: no trace. */
        ck_assert_int_eq(layout_blob_begin(l, &w, &e), 0);
        ck_assert_int_eq(blob_writer_write(w, "junk", 4, &e), 0);
        layout_blob_abort(l, w);
        layout_blob_abort(l, NULL);
        ck_assert_uint_eq(count_entries(dir, ".oci-build-"), 0);
        char *blobs = xasprintf("%s/blobs/sha256", dir);
        ck_assert_uint_eq(count_entries(blobs, ""), 1);
        layout_close(l);
        free(blobs);
        free(all);
        free(dir);
}
END_TEST

/* ---- index ---- */

static const char *desc_name(json_t *d)
{
        return json_string_value(json_object_get(json_object_get(d, "annotations"), OCI_REF_NAME));
}

START_TEST(test_index)
{
        char *dir = tpath("index");
        Layout *l = open_ok(dir, LAYOUT_CREATE);
        ObError e = { 0 };
        char d1[72], d2[72], d3[72], d4[72];
        put(l, "one", d1);
        put(l, "two", d2);
        put(l, "three", d3);
        put(l, "four", d4);

        ck_assert_int_eq(layout_index_set(l, "zeta", named_desc("zeta", d1, 3), &e), 0);
        ck_assert_int_eq(layout_index_set(l, "alpha", named_desc("alpha", d2, 3), &e), 0);
        ck_assert_int_eq(layout_index_set(l, "mid", named_desc("mid", d3, 5), &e), 0);
        /* The same name again replaces. */
        ck_assert_int_eq(layout_index_set(l, "zeta", named_desc("zeta", d4, 4), &e), 0);

        json_t *m = json_object_get(layout_index(l), "manifests");
        ck_assert_uint_eq(json_array_size(m), 3);
        ck_assert_str_eq(desc_name(json_array_get(m, 0)), "alpha");
        ck_assert_str_eq(desc_name(json_array_get(m, 1)), "mid");
        ck_assert_str_eq(desc_name(json_array_get(m, 2)), "zeta");
        json_t *z = layout_index_find(l, "zeta");
        ck_assert_ptr_nonnull(z);
        ck_assert_str_eq(json_string_value(json_object_get(z, "digest")), d4);
        ck_assert_ptr_null(layout_index_find(l, "nothing"));

        char **names = layout_index_names(l);
        ck_assert_uint_eq(strv_length(names), 3);
        ck_assert_str_eq(names[0], "alpha");
        ck_assert_str_eq(names[1], "mid");
        ck_assert_str_eq(names[2], "zeta");
        strv_free(names);

        ck_assert_int_eq(layout_index_remove(l, "mid", &e), 0);
        ck_assert_int_eq(layout_index_remove(l, "never-there", &e), 0);
        ck_assert_ptr_null(layout_index_find(l, "mid"));
        ck_assert_uint_eq(json_array_size(m), 2);

        /* Not on disk until commit. */
        char *idx = xasprintf("%s/index.json", dir);
        json_error_t jerr;
        json_t *disk = json_load_file(idx, 0, &jerr);
        ck_assert_uint_eq(json_array_size(json_object_get(disk, "manifests")), 0);
        json_decref(disk);

        ck_assert_int_eq(layout_commit(l, &e), 0);
        layout_close(l);

        char *text = NULL;
        ck_assert_int_eq(read_file(idx, &text, NULL, &e), 0);
        ck_assert_ptr_null(strchr(text, '\n'));
        ck_assert_ptr_null(strstr(text, ": "));
        disk = json_loads(text, 0, &jerr);
        ck_assert_msg(disk != NULL, "index.json: %s", jerr.text);
        m = json_object_get(disk, "manifests");
        ck_assert_uint_eq(json_array_size(m), 2);
        ck_assert_str_eq(desc_name(json_array_get(m, 0)), "alpha");
        ck_assert_str_eq(desc_name(json_array_get(m, 1)), "zeta");
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(m, 1), "digest")), d4);
        ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(m, 1), "size")), 4);
        ck_assert_int_eq(json_integer_value(json_object_get(disk, "schemaVersion")), 2);
        json_decref(disk);
        free(text);

        /* Reopened, the index is what was committed. */
        l = open_ok(dir, 0);
        names = layout_index_names(l);
        ck_assert_uint_eq(strv_length(names), 2);
        ck_assert_str_eq(names[0], "alpha");
        ck_assert_str_eq(names[1], "zeta");
        strv_free(names);
        layout_close(l);
        free(idx);
        free(dir);
}
END_TEST

/* ---- garbage collection ---- */

START_TEST(test_gc)
{
        char *dir = tpath("gc");
        Layout *l = open_ok(dir, LAYOUT_CREATE);
        ObError e = { 0 };
        char cfg[72], layer[72], orphan[72], manifest[72], stale_manifest[72];
        static const char cfg_text[] = "{\"architecture\":\"amd64\"}";
        static const char layer_text[] = "pretend this is a gzip layer";
        static const char orphan_text[] = "nobody points at me";
        put(l, cfg_text, cfg);
        put(l, layer_text, layer);
        put(l, orphan_text, orphan);

        json_t *mj = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:[{s:s, s:s, s:I}]}", "schemaVersion", 2, "mediaType",
                               OCI_MT_MANIFEST, "config", "mediaType", OCI_MT_CONFIG, "digest", cfg, "size",
                               (json_int_t) strlen(cfg_text), "layers", "mediaType", OCI_MT_LAYER_GZIP, "digest", layer,
                               "size", (json_int_t) strlen(layer_text));
        char *mtext = json_dumps(mj, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(mj);
        put(l, mtext, manifest);
        /* A manifest no longer named in the index, pointing at the same layer. */
        char *stale_text = xasprintf("{\"layers\":[{\"digest\":\"%s\"}],\"x\":1}", layer);
        put(l, stale_text, stale_manifest);
        ck_assert_int_eq(layout_index_set(l, "img", named_desc("img", manifest, strlen(mtext)), &e), 0);
        ck_assert_int_eq(layout_commit(l, &e), 0);
        write_text(dir, ".oci-build-left0ver.tmp", "x");

        size_t count = 0;
        uint64_t bytes = 0;
        ck_assert_msg(layout_gc(l, &count, &bytes, &e) == 0, "%s", e.msg);
        ck_assert_uint_eq(count, 2);
        ck_assert_uint_eq(bytes, strlen(orphan_text) + strlen(stale_text));
        ck_assert(layout_has_blob(l, cfg));
        ck_assert(layout_has_blob(l, layer));
        ck_assert(layout_has_blob(l, manifest));
        ck_assert(!layout_has_blob(l, orphan));
        ck_assert(!layout_has_blob(l, stale_manifest));
        ck_assert(!exists(dir, ".oci-build-left0ver.tmp"));

        /* Nothing more to do the second time. */
        ck_assert_int_eq(layout_gc(l, &count, &bytes, &e), 0);
        ck_assert_uint_eq(count, 0);
        ck_assert_uint_eq(bytes, 0);

        /* With a referenced manifest missing, gc deletes nothing. */
        char *extra = NULL;
        char extra_d[72];
        put(l, "unreferenced", extra_d);
        char *mpath = layout_blob_path(l, manifest);
        ck_assert_int_eq(unlink(mpath), 0);
        ck_assert_int_lt(layout_gc(l, &count, &bytes, &e), 0);
        ck_assert_ptr_nonnull(strstr(e.msg, "not deleting anything"));
        ck_assert(layout_has_blob(l, extra_d));
        ck_assert(layout_has_blob(l, cfg));

        /* Removing the image from the index frees everything. */
        ck_assert_int_eq(layout_index_remove(l, "img", &e), 0);
        ck_assert_int_eq(layout_gc(l, &count, &bytes, &e), 0);
        ck_assert_uint_eq(count, 3);
        char *blobs = xasprintf("%s/blobs/sha256", dir);
        ck_assert_uint_eq(count_entries(blobs, ""), 0);
        layout_close(l);

        free(blobs);
        free(mpath);
        free(extra);
        free(stale_text);
        free(mtext);
        free(dir);
}
END_TEST

/* ---- damaged layouts, damaged blobs, leftovers ---- */

static char *read_all(const char *path)
{
        char *data = NULL;
        ObError e = { 0 };
        ck_assert_msg(read_file(path, &data, NULL, &e) == 0, "%s", e.msg);
        return data;
}

START_TEST(test_damaged_layout_refused)
{
        ObError e = { 0 };
        Layout *l = NULL;
        char *dir = tpath("damaged");
        char d[72];
        l = open_ok(dir, LAYOUT_CREATE);
        put(l, "x", d);
        ck_assert_int_eq(layout_index_set(l, "img", named_desc("img", d, 1), &e), 0);
        ck_assert_int_eq(layout_commit(l, &e), 0);
        layout_close(l);
        l = NULL;
        char *index = xasprintf("%s/index.json", dir);
        char *blobs = xasprintf("%s/blobs", dir);
        char *good_index = read_all(index);

        /* blobs/ gone: not written into (nor made again). */
        char *cmd = xasprintf("rm -rf '%s'", blobs);
        ck_assert_int_eq(system(cmd), 0);
        ck_assert_int_eq(layout_open(dir, LAYOUT_WRITE, &l, &e), -ENOENT);
        ck_assert_msg(strstr(e.msg, "'blobs/sha256'") && strstr(e.msg, dir), "%s", e.msg);
        ck_assert_int_eq(layout_open(dir, LAYOUT_CREATE, &l, &e), -ENOENT);
        ck_assert(!exists(dir, "blobs"));
        ck_assert_int_eq(mkdir(blobs, 0755), 0);
        char *sha = xasprintf("%s/sha256", blobs);
        ck_assert_int_eq(mkdir(sha, 0755), 0);

        /* A malformed descriptor: readers may look, nothing may change. */
        static const char *const bad[] = {
                "{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"sha256:00\",\"size\":1,\"mediaType\":\"x\"}]}",
                "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"size\":1}]}",
                "{\"schemaVersion\":2,\"manifests\":[\"nope\"]}",
                "{\"schemaVersion\":1,\"manifests\":[]}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                write_text(dir, "index.json", bad[i]);
                ck_assert_int_eq(layout_open(dir, LAYOUT_WRITE, &l, &e), -EINVAL);
                ck_assert_msg(strstr(e.msg, "index.json"), "%s", e.msg);
                ck_assert_ptr_null(l);
                char *now = read_all(index);
                ck_assert_str_eq(now, bad[i]);
                free(now);
        }
        Layout *r = open_ok(dir, 0);
        layout_close(r);

        /* gc refuses while any descriptor is malformed. */
        write_text(dir, "index.json", good_index);
        l = open_ok(dir, LAYOUT_WRITE);
        put(l, "orphan", d);
        json_array_append_new(json_object_get(layout_index(l), "manifests"), json_pack("{s:s}", "digest", "x"));
        ck_assert_int_lt(layout_gc(l, NULL, NULL, &e), 0);
        ck_assert_msg(strstr(e.msg, "not deleting anything") && strstr(e.msg, "manifests[1]"), "%s", e.msg);
        ck_assert(layout_has_blob(l, d));
        layout_close(l);

        free(sha);
        free(cmd);
        free(good_index);
        free(blobs);
        free(index);
        free(dir);
}
END_TEST

START_TEST(test_fifo_refused)
{
        ObError e = { 0 };
        Layout *l = NULL;
        char *dir = tpath("fifo");
        layout_close(open_ok(dir, LAYOUT_CREATE));
        static const char *const names[] = { "oci-layout", "index.json" };
        /* A hang fails the test instead of blocking it. */
        alarm(10);
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                char *p = xasprintf("%s/%s", dir, names[i]);
                char *saved = read_all(p);
                ck_assert_int_eq(unlink(p), 0);
                ck_assert_int_eq(mkfifo(p, 0644), 0);
                ck_assert_int_eq(layout_open(dir, 0, &l, &e), -EINVAL);
                ck_assert_msg(strstr(e.msg, p) && strstr(e.msg, "is not a regular file"), "%s", e.msg);
                ck_assert_int_eq(layout_open(dir, LAYOUT_WRITE, &l, &e), -EINVAL);
                ck_assert_int_eq(unlink(p), 0);
                write_text(dir, names[i], saved);
                free(saved);
                free(p);
        }
        alarm(0);
        layout_close(open_ok(dir, LAYOUT_WRITE));
        free(dir);
}
END_TEST

START_TEST(test_bad_blob_replaced)
{
        char *dir = tpath("badblob");
        Layout *l = open_ok(dir, LAYOUT_CREATE);
        char d[72], again[72];
        static const char text[] = "the real content of a blob";
        put(l, text, d);
        char *path = layout_blob_path(l, d);

        /* A flipped byte: the next write of the same bytes repairs it. */
        FILE *f = fopen(path, "r+");
        ck_assert_ptr_nonnull(f);
        fputc('T', f);
        fclose(f);
        put(l, text, again);
        ck_assert_str_eq(again, d);
        char *now = read_all(path);
        ck_assert_str_eq(now, text);
        free(now);

        /* A symlink planted under the name, to a file of the same size:
         * replaced by the real file, its target left alone. */
        char *planted = tpath("planted");
        write_text(tmp_root, "planted", "THE REAL CONTENT OF A BLOB");
        ck_assert_int_eq(unlink(path), 0);
        ck_assert_int_eq(symlink(planted, path), 0);
        put(l, text, again);
        struct stat st;
        ck_assert_int_eq(lstat(path, &st), 0);
        ck_assert(S_ISREG(st.st_mode));
        now = read_all(path);
        ck_assert_str_eq(now, text);
        free(now);
        now = read_all(planted);
        ck_assert_str_eq(now, "THE REAL CONTENT OF A BLOB");
        free(now);

        /* A short one (a truncated write) too. */
        ck_assert_int_eq(truncate(path, 3), 0);
        put(l, text, again);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_int_eq(st.st_size, (off_t) strlen(text));

        layout_close(l);
        free(planted);
        free(path);
        free(dir);
}
END_TEST

START_TEST(test_new_blobs_removed_on_signal)
{
        ObError e = { 0 };
        char *dir = tpath("signal");
        layout_close(open_ok(dir, LAYOUT_CREATE));
        Layout *l = open_ok(dir, LAYOUT_WRITE);
        char kept[72], orphan[72];
        put(l, "referenced", kept);
        ck_assert_int_eq(layout_index_set(l, "img", named_desc("img", kept, 10), &e), 0);
        ck_assert_int_eq(layout_commit(l, &e), 0);
        put(l, "not referenced yet", orphan);
        ck_assert(layout_has_blob(l, orphan));
        /* What the SIGTERM handler does. */
        tmpfile_cleanup_all();
        ck_assert(!layout_has_blob(l, orphan));
        ck_assert(layout_has_blob(l, kept));
        layout_close(l);
        char *blobs = xasprintf("%s/blobs/sha256", dir);
        ck_assert_uint_eq(count_entries(blobs, ""), 1);
        ck_assert_uint_eq(count_entries(dir, ".oci-build-"), 0);
        free(blobs);
        free(dir);
}
END_TEST

static Suite *layout_suite(void)
{
        Suite *s = suite_create("layout");
        TCase *tc = tcase_create("layout");
        tcase_set_timeout(tc, 30);
        tcase_add_unchecked_fixture(tc, tmp_setup, tmp_teardown);
        tcase_add_test(tc, test_create_missing_dir);
        tcase_add_test(tc, test_refuse_foreign_dir);
        tcase_add_test(tc, test_open_errors);
        tcase_add_test(tc, test_create_in_empty_dir_and_rollback);
        tcase_add_test(tc, test_rollback_new_dir);
        tcase_add_test(tc, test_rollback_existing);
        tcase_add_test(tc, test_stale_tmp_removed);
        tcase_add_test(tc, test_lock);
        tcase_add_test(tc, test_blob_roundtrip);
        tcase_add_test(tc, test_blob_writer);
        tcase_add_test(tc, test_index);
        tcase_add_test(tc, test_gc);
        tcase_add_test(tc, test_damaged_layout_refused);
        tcase_add_test(tc, test_fifo_refused);
        tcase_add_test(tc, test_bad_blob_replaced);
        tcase_add_test(tc, test_new_blobs_removed_on_signal);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return test_run(layout_suite());
}
