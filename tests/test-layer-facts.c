/* SPDX-License-Identifier: MIT */
/* The facts of a layer (its files, their sums, the text the SBOM reads):
 * those the writer makes as it streams files into the tar equal those read
 * back from the blob; the SBOM made from cached facts is byte for byte the
 * one made by reading the layers; a facts file that is damaged, truncated,
 * of another version or of another digest is not used, and rewritten. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup-libs.h"
#include "fs.h"
#include "layer-facts.h"
#include "layer.h"
#include "path.h"
#include "sbom.h"
#include "testimage.h"
#include "testutil.h"
#include "util.h"

static char *xmemdup_str(const char *data, size_t size)
{
        char *s = xmalloc(size + 1);
        memcpy(s, data, size);
        s[size] = '\0';
        return s;
}

static char *facts_text(const LayerFacts *f, const char *digest)
{
        size_t size = 0;
        return layer_facts_format(f, digest, &size);
}

/* A file of size bytes on disk, pseudo-random (for the writer's chunks). */
static char *big_file(const char *name, size_t size, uint64_t *ret_dev, uint64_t *ret_ino)
{
        char *path = path_join(test_image_tmpdir(), name);
        _cleanup_free_ char *data = xmalloc(size);
        uint32_t x = 12345;
        for (size_t i = 0; i < size; i++) {
                x = x * 1103515245u + 12345u;
                data[i] = (char) (x >> 16);
        }
        ObError err = { 0 };
        ck_assert_msg(write_file_atomic(path, data, size, 0644, &err) == 0, "%s", err.msg);
        struct stat st;
        ck_assert(stat(path, &st) == 0);
        *ret_dev = st.st_dev;
        *ret_ino = st.st_ino;
        return path;
}

static const char long_name[] = "usr/share/a-directory-name-long-enough-that-ustar-cannot-hold-it/"
                                "and-a-file-name-that-makes-it-longer-still-than-one-hundred-bytes.txt";

/* A plan with every kind of entry the writer makes, files from the host
 * (one larger than a read chunk) and generated ones, the records the SBOM
 * reads, a hard link and a name longer than ustar holds. */
static void plan_all(Plan *p, const char *big, uint64_t dev, uint64_t ino, size_t big_size)
{
        add_base(p);
        add_dir(p, "usr", 0755, 0, 0);
        add_dir(p, "usr/lib", 0755, 0, 0);
        add_data(p, "usr/lib/os-release", "NAME=\"Distroless\"\nID=debian\nVERSION_ID=\"12\"\n", 0644, 0, 0);
        add_dir(p, "usr/share", 0755, 0, 0);
        add_dir(p, "usr/share/a-directory-name-long-enough-that-ustar-cannot-hold-it", 0755, 0, 0);
        add_data(p, long_name, "long\n", 0644, 0, 0);
        add_dir(p, "usr/share/doc", 0755, 0, 0);
        add_dir(p, "usr/share/doc/libfoo1", 0755, 0, 0);
        add_data(p, "usr/share/doc/libfoo1/copyright",
                 "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
                 "Files: *\nCopyright: me\nLicense: GPL-2+\n",
                 0644, 0, 0);
        add(p, &(Entry){ .path = (char *) "usr/lib/libbig.so.1",
                         .type = ENTRY_FILE,
                         .mode = 0644,
                         .size = big_size,
                         .source = (char *) big,
                         .dev = dev,
                         .ino = ino,
                         .nlink = 1 });
        add(p, &(Entry){ .path = (char *) "usr/lib/libbig.so.1.hard",
                         .type = ENTRY_HARDLINK,
                         .mode = 0644,
                         .target = (char *) "usr/lib/libbig.so.1" });
        add(p, &(Entry){ .path = (char *) "usr/lib/libbig.so",
                         .type = ENTRY_SYMLINK,
                         .mode = 0777,
                         .target = (char *) "libbig.so.1" });
        add_dir(p, "var", 0755, 0, 0);
        add_dir(p, "var/lib", 0755, 0, 0);
        add_dir(p, "var/lib/dpkg", 0755, 0, 0);
        add_dir(p, "var/lib/dpkg/status.d", 0755, 0, 0);
        add_data(p, "var/lib/dpkg/status.d/libfoo1",
                 "Package: libfoo1\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0-1\n", 0644, 0, 0);
        add_data(p, "var/lib/dpkg/status.d/libfoo1.md5sums", "00000000000000000000000000000000  usr/lib/libbig.so.1\n",
                 0644, 0, 0);
        add_data(p, "var/lib/dpkg/status.d/empty", "", 0644, 0, 0);
}

/* The writer's facts are the read-back facts, record for record, byte for
 * byte, and the SBOM from them is the SBOM from reading the layers. */
START_TEST(test_writer_equals_read_back)
{
        test_image_setup("layer-facts-writer");
        _cleanup_(layout_closep) Layout *l = new_layout("layout");
        _cleanup_free_ char *dir = path_join(test_image_tmpdir(), "cache/layer-files");
        _cleanup_(layer_facts_cache_freep) LayerFactsCache *cache = layer_facts_cache_open(dir);
        uint64_t dev, ino;
        size_t big_size = 700 * 1024 + 17; /* more than two of the writer's read chunks */
        _cleanup_free_ char *big = big_file("libbig", big_size, &dev, &ino);
        _cleanup_plan_ Plan p = { 0 };
        plan_init(&p);
        plan_all(&p, big, dev, ino, big_size);
        ObError err = { 0 };
        ck_assert_msg(plan_finish(&p, 1000, &err) == 0, "%s", err.msg);
        LayerOptions lo = { .source_date_epoch = 1000, .level = 6, .threads = 1, .facts = cache };
        OciLayerInfo layers[2] = { { .created_by = "test" } };
        ck_assert_msg(layer_write(l, &p, &lo, &layers[0], &err) == 0, "%s", err.msg);

        _cleanup_(layer_facts_clear) LayerFacts written = { 0 }, read_back = { 0 };
        ck_assert(layer_facts_cache_load(cache, layers[0].digest, &written));
        _cleanup_free_ char *blob = layout_blob_path(l, layers[0].digest);
        ck_assert_msg(layer_facts_read_blob(blob, &read_back, &err) == 0, "%s", err.msg);
        _cleanup_free_ char *a = facts_text(&written, layers[0].digest);
        _cleanup_free_ char *b = facts_text(&read_back, layers[0].digest);
        ck_assert_str_eq(a, b);
        /* Every kind is there, the large file hashed whole. */
        bool file = false, link = false, sym = false, dirs = false, kept = false;
        for (size_t i = 0; i < written.n; i++) {
                const LayerFact *x = &written.v[i];
                file |= x->kind == FACT_FILE && strcmp(x->path, "usr/lib/libbig.so.1") == 0;
                link |= x->kind == FACT_LINK && strcmp(x->target, "usr/lib/libbig.so.1") == 0;
                sym |= x->kind == FACT_OTHER && strcmp(x->path, "usr/lib/libbig.so") == 0;
                dirs |= x->kind == FACT_DIR && strcmp(x->path, "var/lib/dpkg/status.d") == 0;
                kept |= x->kind == FACT_FILE && strcmp(x->path, "var/lib/dpkg/status.d/empty") == 0 && x->content &&
                        x->content_size == 0;
                ck_assert(x->kind != FACT_FILE || strcmp(x->path, "etc/passwd") != 0 || !x->content);
        }
        ck_assert(file && link && sym && dirs && kept);

        /* A second layer by hand: whiteouts, an opaque directory, a hard
         * link to a file of the layer below. */
        const TarEntry two[] = {
                { "app", 'd', NULL, 0755 },
                { "app/x", 'f', "x\n", 0644 },
                { "app/big", 'h', "usr/lib/libbig.so.1", 0644 },
                { "usr/lib/.wh.libbig.so.1.hard", 'f', "", 0644 },
                { "usr/share/doc/.wh..wh..opq", 'f', "", 0644 },
                { "var/lib/dpkg/status.d/.wh.empty", 'f', "", 0644 },
        };
        write_raw_layer(l, two, ELEMENTSOF(two), &layers[1]);
        write_image(l, "img", "1000", layers, 2);

        /* Without the cache; with it (the second layer read back and
         * stored); from it alone. */
        _cleanup_json_ json_t *d1 = NULL, *d2 = NULL, *d3 = NULL;
        ck_assert_msg(sbom_image(l, "img", NULL, 0, 86400, NULL, &d1, &err) == 0, "%s", err.msg);
        ck_assert_msg(sbom_image(l, "img", NULL, 0, 86400, cache, &d2, &err) == 0, "%s", err.msg);
        _cleanup_free_ char *path2 = layer_facts_cache_path(cache, layers[1].digest);
        ck_assert(access(path2, F_OK) == 0);
        /* With the blobs gone, only the facts can give the SBOM. */
        _cleanup_free_ char *blob2 = layout_blob_path(l, layers[1].digest);
        _cleanup_free_ char *saved1 = xasprintf("%s.saved", blob), *saved2 = xasprintf("%s.saved", blob2);
        ck_assert(rename(blob, saved1) == 0 && rename(blob2, saved2) == 0);
        ck_assert_msg(sbom_image(l, "img", NULL, 0, 86400, cache, &d3, &err) == 0, "%s", err.msg);
        ck_assert(rename(saved1, blob) == 0 && rename(saved2, blob2) == 0);
        _cleanup_free_ char *t1 = sbom_text(d1), *t2 = sbom_text(d2), *t3 = sbom_text(d3);
        ck_assert_str_eq(t1, t2);
        ck_assert_str_eq(t1, t3);
        /* It says what the layers say: the whited-out hard link is gone,
         * the link of the upper layer has the big file's sums. */
        ck_assert_ptr_null(strstr(t1, "\"/usr/lib/libbig.so.1.hard\""));
        ck_assert_ptr_null(strstr(t1, "/usr/share/doc/libfoo1/copyright"));
        ck_assert_ptr_nonnull(strstr(t1, "\"/app/big\""));
        test_image_teardown();
}
END_TEST

/* The SBOM from a damaged facts file is the SBOM from the layer: the file
 * is not used, and it is written again. */
START_TEST(test_damaged_facts)
{
        test_image_setup("layer-facts-damaged");
        _cleanup_(layout_closep) Layout *l = new_layout("layout");
        _cleanup_free_ char *dir = path_join(test_image_tmpdir(), "cache/layer-files");
        _cleanup_(layer_facts_cache_freep) LayerFactsCache *cache = layer_facts_cache_open(dir);
        const TarEntry one[] = {
                { "etc", 'd', NULL, 0755 },
                { "etc/a", 'f', "a\n", 0644 },
                { "usr/lib/os-release", 'f', "ID=debian\nVERSION_ID=\"12\"\n", 0644 },
                { "var/lib/dpkg/status.d/a", 'f', "Package: a\nArchitecture: all\nVersion: 1\n", 0644 },
        };
        const TarEntry other[] = { { "b", 'f', "b\n", 0644 } };
        OciLayerInfo layer, layer_b;
        write_raw_layer(l, one, ELEMENTSOF(one), &layer);
        write_raw_layer(l, other, ELEMENTSOF(other), &layer_b);
        write_image(l, "img", "1000", &layer, 1);
        ObError err = { 0 };
        _cleanup_json_ json_t *want = NULL;
        ck_assert_msg(sbom_image(l, "img", NULL, 0, 86400, NULL, &want, &err) == 0, "%s", err.msg);
        _cleanup_free_ char *want_text = sbom_text(want);

        _cleanup_free_ char *path = layer_facts_cache_path(cache, layer.digest);
        _cleanup_json_ json_t *first = NULL;
        ck_assert(sbom_image(l, "img", NULL, 0, 86400, cache, &first, &err) == 0);
        _cleanup_free_ char *good = NULL, *facts_b = NULL;
        size_t good_size = 0, b_size = 0;
        ck_assert(read_file(path, &good, &good_size, &err) == 0);
        {
                _cleanup_(layer_facts_clear) LayerFacts fb = { 0 };
                _cleanup_free_ char *blob_b = layout_blob_path(l, layer_b.digest);
                ck_assert(layer_facts_read_blob(blob_b, &fb, &err) == 0);
                facts_b = layer_facts_format(&fb, layer_b.digest, &b_size);
        }
        _cleanup_free_ char *flipped = xmemdup_str(good, good_size);
        /* A hash of a file changed: the checksum of the end line tells. */
        char *sha = strstr(flipped, "\nF ");
        ck_assert_ptr_nonnull(sha);
        sha[3] = sha[3] == '0' ? '1' : '0';
        _cleanup_free_ char *other_version =
                xasprintf("oci-build layer-files 999%s", good + strlen("oci-build layer-files 1"));
        const struct {
                const char *what;
                const char *data;
                size_t size;
        } bad[] = {
                { "truncated", good, good_size / 2 },
                { "without its end line", good, (size_t) (strstr(good, "end ") - good) },
                { "a byte changed", flipped, good_size },
                { "another version", other_version, strlen(other_version) },
                { "another digest's facts", facts_b, b_size },
                { "empty", "", 0 },
                { "not facts at all", "{\"files\": []}\n", 14 },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                ck_assert(write_file_atomic(path, bad[i].data, bad[i].size, 0600, &err) == 0);
                LayerFacts none = { 0 };
                _cleanup_free_ char *copy = xmemdup_str(bad[i].data, bad[i].size);
                ck_assert_msg(layer_facts_parse(path, copy, bad[i].size, layer.digest, &none, &err) == -EBADMSG,
                              "%s: parsed", bad[i].what);
                ck_assert_ptr_nonnull(strstr(err.msg, path));
                _cleanup_json_ json_t *doc = NULL;
                ck_assert_msg(sbom_image(l, "img", NULL, 0, 86400, cache, &doc, &err) == 0, "%s", err.msg);
                _cleanup_free_ char *text = sbom_text(doc);
                ck_assert_msg(strcmp(text, want_text) == 0, "%s: another SBOM", bad[i].what);
                _cleanup_free_ char *again = NULL;
                size_t again_size = 0;
                ck_assert(read_file(path, &again, &again_size, &err) == 0);
                ck_assert_msg(again_size == good_size && memcmp(again, good, good_size) == 0, "%s: not rewritten",
                              bad[i].what);
        }

        /* A cache that cannot be written: the layers are read, the SBOM is
         * the same. */
        _cleanup_free_ char *file = path_join(test_image_tmpdir(), "a-file");
        ck_assert(write_file_atomic(file, "x", 1, 0644, &err) == 0);
        _cleanup_free_ char *under = path_join(file, "layer-files");
        _cleanup_(layer_facts_cache_freep) LayerFactsCache *broken = layer_facts_cache_open(under);
        _cleanup_json_ json_t *doc = NULL;
        ck_assert_msg(sbom_image(l, "img", NULL, 0, 86400, broken, &doc, &err) == 0, "%s", err.msg);
        _cleanup_free_ char *text = sbom_text(doc);
        ck_assert_str_eq(text, want_text);
        test_image_teardown();
}
END_TEST

/* Any byte in a name and in a kept file survives the file format. */
START_TEST(test_format_round_trip)
{
        const char *digest = "sha256:5922f4c99ebf59190935717e1c100d0a49b119d5019ed74263aeb4dd28f93fc5";
        _cleanup_(layer_facts_clear) LayerFacts f = { 0 }, back = { 0 };
        layer_facts_add(&f, "./a dir/", NULL, false, true);
        LayerFact *x = layer_facts_add(&f, "a dir/new\nline F 1 2", NULL, true, false);
        ck_assert_ptr_nonnull(x);
        memset(x->sha1, 'a', 40);
        memset(x->sha256, 'b', 64);
        x = layer_facts_add(&f, "/var/lib/dpkg/status.d/x", NULL, true, false);
        ck_assert_ptr_nonnull(x);
        memset(x->sha1, 'c', 40);
        memset(x->sha256, 'd', 64);
        x->content = xmalloc(6);
        memcpy(x->content, "a\0b\nc", 6);
        x->content_size = 5;
        ck_assert_ptr_null(layer_facts_add(&f, "l", "/a dir/new\nline F 1 2", true, false));
        ck_assert_ptr_null(layer_facts_add(&f, "a dir/.wh.gone", NULL, true, false));
        ck_assert_ptr_null(layer_facts_add(&f, ".wh..wh..opq", NULL, true, false));
        ck_assert_ptr_null(layer_facts_add(&f, "./", NULL, false, true));
        ck_assert_uint_eq(f.n, 6);
        ck_assert_str_eq(f.v[0].path, "a dir");
        ck_assert_str_eq(f.v[3].target, "a dir/new\nline F 1 2");
        ck_assert_int_eq(f.v[4].kind, FACT_WHITEOUT);
        ck_assert_str_eq(f.v[4].path, "a dir/gone");
        ck_assert_int_eq(f.v[5].kind, FACT_OPAQUE);
        ck_assert_str_eq(f.v[5].path, "");
        size_t size = 0;
        _cleanup_free_ char *text = layer_facts_format(&f, digest, &size);
        ObError err = { 0 };
        ck_assert_msg(layer_facts_parse("facts", text, size, digest, &back, &err) == 0, "%s", err.msg);
        size_t size2 = 0;
        _cleanup_free_ char *text2 = layer_facts_format(&back, digest, &size2);
        ck_assert_uint_eq(size, size2);
        ck_assert(memcmp(text, text2, size) == 0);
        ck_assert_uint_eq(back.v[2].content_size, 5);
        ck_assert(memcmp(back.v[2].content, "a\0b\nc", 6) == 0);
        ck_assert_ptr_null(back.v[1].content);
}
END_TEST

static Suite *layer_facts_suite(void)
{
        Suite *s = suite_create("layer-facts");
        TCase *tc = tcase_create("layer-facts");
        tcase_add_test(tc, test_writer_equals_read_back);
        tcase_add_test(tc, test_damaged_facts);
        tcase_add_test(tc, test_format_round_trip);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return test_run(layer_facts_suite());
}
