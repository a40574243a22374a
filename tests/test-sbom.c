/* SPDX-License-Identifier: MIT */
/* The SPDX document of an image, read from its layers: files with their
 * hashes as the layers stack up (whiteouts, hard links), the packages that
 * status.d records and the files their md5sums name; purls and licences. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cleanup-libs.h"
#include "config.h"
#include "sbom-attach.h"
#include "sbom.h"
#include "testimage.h"
#include "testutil.h"
#include "util.h"

START_TEST(test_purl)
{
        _cleanup_free_ char *a = sbom_deb_purl("debian", "libgmp10", "2:6.2.1+dfsg1-1.1", "amd64", "debian-12");
        ck_assert_str_eq(a, "pkg:deb/debian/libgmp10@2%3A6.2.1%2Bdfsg1-1.1?arch=amd64&distro=debian-12");
        _cleanup_free_ char *b = sbom_deb_purl("debian", "libstdc++6", "12.2.0-14", "amd64", NULL);
        ck_assert_str_eq(b, "pkg:deb/debian/libstdc%2B%2B6@12.2.0-14?arch=amd64");
}
END_TEST

START_TEST(test_license)
{
        const char *head = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
                           "Upstream-Name: x\n\n";
        _cleanup_free_ char *t1 = xasprintf("%sFiles: *\nCopyright: me\nLicense: GPL-2+\n\n"
                                            "Files: lib/*\nCopyright: you\nLicense: Expat\n\n"
                                            "License: GPL-2+\n On Debian systems...\n",
                                            head);
        _cleanup_free_ char *l1 = sbom_copyright_license(t1);
        ck_assert_str_eq(l1, "GPL-2.0-or-later AND MIT");
        _cleanup_free_ char *t2 = xasprintf("%sFiles: *\nCopyright: me\nLicense: GPL-2+ or Artistic\n", head);
        _cleanup_free_ char *l2 = sbom_copyright_license(t2);
        ck_assert_str_eq(l2, "(GPL-2.0-or-later OR Artistic-1.0-Perl)");
        /* A licence without an SPDX identifier: no guess. */
        _cleanup_free_ char *t3 = xasprintf("%sFiles: *\nCopyright: me\nLicense: public-domain\n", head);
        ck_assert_ptr_null(sbom_copyright_license(t3));
        /* Not machine-readable. */
        ck_assert_ptr_null(sbom_copyright_license("This package was debianized by someone.\n\nGPL-2\n"));
}
END_TEST

static const char *const foo_sha256 = "b5bb9d8014a0f9b1d61e21e796d78dccdf1352f23cd32812f4850b878ae4944c";
static const char *const foo_sha1 = "f1d2d2f924e986ac86fdf7b36c94bcdf32beec15";

static json_t *file_named(json_t *doc, const char *name)
{
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(doc, "files"), i, f) {
                if (strcmp(json_string_value(json_object_get(f, "fileName")), name) == 0)
                        return f;
        }
        return NULL;
}

static const char *sum(json_t *file, const char *alg)
{
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(file, "checksums"), i, c) {
                if (strcmp(json_string_value(json_object_get(c, "algorithm")), alg) == 0)
                        return json_string_value(json_object_get(c, "checksumValue"));
        }
        return NULL;
}

static bool related(json_t *doc, const char *a, const char *type, const char *b)
{
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(doc, "relationships"), i, r) {
                if (strcmp(json_string_value(json_object_get(r, "spdxElementId")), a) == 0 &&
                    strcmp(json_string_value(json_object_get(r, "relationshipType")), type) == 0 &&
                    strcmp(json_string_value(json_object_get(r, "relatedSpdxElement")), b) == 0)
                        return true;
        }
        return false;
}

START_TEST(test_image)
{
        test_image_setup("sbom");
        _cleanup_(layout_closep) Layout *l = new_layout("layout");
        OciLayerInfo layers[2];
        const TarEntry one[] = {
                { "etc", 'd', NULL, 0755 },
                { "etc/gone", 'f', "x\n", 0644 },
                { "usr", 'd', NULL, 0755 },
                { "usr/lib", 'd', NULL, 0755 },
                { "usr/lib/libfoo.so.1", 'f', "foo\n", 0644 },
                { "usr/lib/libfoo-hard", 'h', "usr/lib/libfoo.so.1", 0644 },
                { "usr/lib/os-release", 'f', "NAME=\"Distroless\"\nID=debian\nVERSION_ID=\"12\"\n", 0644 },
                { "usr/share/doc/libfoo1/copyright", 'f',
                  "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
                  "Files: *\nCopyright: me\nLicense: GPL-2+\n",
                  0644 },
                { "var/lib/dpkg/status.d/libfoo1", 'f',
                  "Package: libfoo1\nStatus: install ok installed\nArchitecture: amd64\nSource: foo\n"
                  "Version: 1:1.0-1\n",
                  0644 },
                { "var/lib/dpkg/status.d/libfoo1.md5sums", 'f',
                  "d3b07384d113edec49eaa6238ad5ff00  usr/lib/libfoo.so.1\n", 0644 },
        };
        const TarEntry two[] = {
                { "app", 'd', NULL, 0755 },
                { "app/x", 'f', "x\n", 0644 },
                { "etc/.wh.gone", 'f', "", 0644 },
        };
        write_raw_layer(l, one, ELEMENTSOF(one), &layers[0]);
        write_raw_layer(l, two, ELEMENTSOF(two), &layers[1]);
        write_image(l, "img", "1000", layers, 2);

        _cleanup_json_ json_t *doc = NULL;
        ObError err = { 0 };
        ck_assert_msg(sbom_image(l, "img", NULL, 0, 86400, NULL, &doc, &err) == 0, "%s", err.msg);
        ck_assert_str_eq(json_string_value(json_object_get(doc, "spdxVersion")), "SPDX-2.3");
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(doc, "creationInfo"), "created")),
                         "1970-01-02T00:00:00Z");
        const char *mdigest = json_string_value(json_object_get(layout_index_find(l, "img"), "digest"));
        ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(doc, "documentNamespace")), mdigest + 7));

        /* Regular files as the layers stack up: etc/gone is whited out. */
        ck_assert_uint_eq(json_array_size(json_object_get(doc, "files")), 7);
        ck_assert_ptr_null(file_named(doc, "/etc/gone"));
        json_t *lib = file_named(doc, "/usr/lib/libfoo.so.1");
        json_t *hard = file_named(doc, "/usr/lib/libfoo-hard");
        json_t *app = file_named(doc, "/app/x");
        ck_assert_ptr_nonnull(lib);
        ck_assert_ptr_nonnull(hard);
        ck_assert_ptr_nonnull(app);
        ck_assert_str_eq(sum(lib, "SHA256"), foo_sha256);
        ck_assert_str_eq(sum(lib, "SHA1"), foo_sha1);
        ck_assert_str_eq(sum(hard, "SHA256"), foo_sha256);

        /* The image, its two layers and the package. */
        json_t *packages = json_object_get(doc, "packages");
        ck_assert_uint_eq(json_array_size(packages), 4);
        json_t *deb = json_array_get(packages, 3);
        ck_assert_str_eq(json_string_value(json_object_get(deb, "name")), "libfoo1");
        ck_assert_str_eq(json_string_value(json_object_get(deb, "licenseDeclared")), "GPL-2.0-or-later");
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(deb, "externalRefs"), 0),
                                                           "referenceLocator")),
                         "pkg:deb/debian/libfoo1@1%3A1.0-1?arch=amd64&distro=debian-12");
        const char *deb_id = json_string_value(json_object_get(deb, "SPDXID"));
        const char *lib_id = json_string_value(json_object_get(lib, "SPDXID"));
        const char *app_id = json_string_value(json_object_get(app, "SPDXID"));
        ck_assert(related(doc, deb_id, "CONTAINS", lib_id));
        ck_assert(!related(doc, deb_id, "CONTAINS", app_id));
        ck_assert(related(doc, "SPDXRef-Layer-2", "CONTAINS", app_id));
        ck_assert(related(doc, "SPDXRef-Layer-1", "CONTAINS", lib_id));
        ck_assert(related(doc, "SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Image"));

        /* Read again: the same bytes. */
        _cleanup_json_ json_t *again = NULL;
        ck_assert(sbom_image(l, "img", NULL, 0, 86400, NULL, &again, &err) == 0);
        _cleanup_free_ char *a = json_dumps(doc, JSON_SORT_KEYS);
        _cleanup_free_ char *b = json_dumps(again, JSON_SORT_KEYS);
        ck_assert_str_eq(a, b);

        ck_assert_int_lt(sbom_image(l, "nothing", NULL, 0, 0, NULL, &again, &err), 0);
        ck_assert_ptr_nonnull(strstr(err.msg, "no image 'nothing'"));
        test_image_teardown();
}
END_TEST

START_TEST(test_artifact_manifest)
{
        const char *subject = "sha256:5922f4c99ebf59190935717e1c100d0a49b119d5019ed74263aeb4dd28f93fc5";
        const char *empty = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
        const char *doc = "sha256:4d731fc508e5edc8d3bf9d8ae0aedba4021cbdf113ddf8bbd459dcd64d68cc30";
        _cleanup_json_ json_t *m = sbom_artifact_manifest(subject, 685, empty, doc, 1234, "base.spdx.json", 86400);
        _cleanup_free_ char *text = json_dumps(m, JSON_SORT_KEYS | JSON_COMPACT);
        /* Every field of an OCI 1.1 artifact manifest, as the image spec's
         * "guidelines for artifact usage" give them. */
        ck_assert_str_eq(
                text, "{\"annotations\":{\"org.opencontainers.image.created\":\"1970-01-02T00:00:00Z\"},"
                      "\"artifactType\":\"application/spdx+json\","
                      "\"config\":{\"digest\":\"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61"
                      "caaff8a\",\"mediaType\":\"application/vnd.oci.empty.v1+json\",\"size\":2},"
                      "\"layers\":[{\"annotations\":{\"org.opencontainers.image.title\":\"base.spdx.json\"},"
                      "\"digest\":\"sha256:4d731fc508e5edc8d3bf9d8ae0aedba4021cbdf113ddf8bbd459dcd64d68cc30\","
                      "\"mediaType\":\"application/spdx+json\",\"size\":1234}],"
                      "\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"schemaVersion\":2,"
                      "\"subject\":{\"digest\":\"sha256:5922f4c99ebf59190935717e1c100d0a49b119d5019ed74263aeb4dd28f93"
                      "fc5\",\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"size\":685}}");
}
END_TEST

static bool blob_exists(Layout *l, const char *digest)
{
        _cleanup_free_ char *p = layout_blob_path(l, digest);
        return access(p, F_OK) == 0;
}

/* build_write()'s part: the SBOM as a blob, the artifact manifest naming the
 * image as its subject, the annotation on the image's descriptor (and no
 * index entry of its own); gc keeps it with the image and drops it after. */
START_TEST(test_attach)
{
        test_image_setup("sbom-attach");
        _cleanup_(layout_closep) Layout *l = new_layout("layout");
        OciLayerInfo layer;
        const TarEntry files[] = {
                { "app", 'd', NULL, 0755 },
                { "app/tool", 'f', "foo\n", 0755 },
                { "app/note", 'f', "x\n", 0644 },
        };
        write_raw_layer(l, files, ELEMENTSOF(files), &layer);
        write_image(l, "img", "1000", &layer, 1);
        SpecArtifact arts[] = {
                { .path = (char *) "/app/tool", .url = (char *) "http://127.0.0.1/t/v{version}/tool-{arch}" },
                { .path = (char *) "/app/note", .source = (char *) "note" },
        };
        Spec spec = { .tier = SPEC_TIER_APP,
                      .name = (char *) "img",
                      .version = (char *) "1.2",
                      .artifacts = arts,
                      .n_artifacts = 2 };
        ObError err = { 0 };
        ck_assert_msg(sbom_attach(l, &spec, "arm64", 86400, NULL, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(json_array_size(json_object_get(layout_index(l), "manifests")), 1);
        json_t *desc = layout_index_find(l, "img");
        const char *adigest = json_string_value(json_object_get(json_object_get(desc, "annotations"), SBOM_ANNOTATION));
        ck_assert_ptr_nonnull(adigest);
        _cleanup_free_ char *mtext = NULL;
        ck_assert(layout_read_blob(l, adigest, &mtext, NULL, &err) == 0);
        _cleanup_json_ json_t *m = json_loads(mtext, 0, NULL);
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(m, "subject"), "digest")),
                         json_string_value(json_object_get(desc, "digest")));
        const char *sdigest =
                json_string_value(json_object_get(json_array_get(json_object_get(m, "layers"), 0), "digest"));
        _cleanup_free_ char *sdigest_copy = xstrdup(sdigest);
        const char *edigest = json_string_value(json_object_get(json_object_get(m, "config"), "digest"));
        _cleanup_free_ char *edigest_copy = xstrdup(edigest);

        /* What `sbom` reads is the attached document, and it is the text of
         * what sbom_image() makes with the same downloads. */
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        ck_assert_msg(sbom_attached(l, "img", &text, &size, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(size, strlen(text));
        SbomDownload dl = { .path = "/app/tool",
                            .name = "tool",
                            .version = "1.2",
                            .url = "http://127.0.0.1/t/v1.2/tool-arm64" };
        _cleanup_json_ json_t *doc = NULL;
        ck_assert(sbom_image(l, "img", &dl, 1, 86400, NULL, &doc, &err) == 0);
        _cleanup_free_ char *again = sbom_text(doc);
        ck_assert_str_eq(text, again);
        ck_assert(sbom_text_made_here(text, size));

        /* The download: a generic package with the file's sha256, containing it. */
        json_t *pkg = NULL, *p;
        size_t i;
        json_array_foreach(json_object_get(doc, "packages"), i, p) {
                if (strcmp(json_string_value(json_object_get(p, "SPDXID")), "SPDXRef-Package-download-1") == 0)
                        pkg = p;
        }
        ck_assert_ptr_nonnull(pkg);
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(pkg, "externalRefs"), 0),
                                                           "referenceLocator")),
                         "pkg:generic/tool@1.2?download_url=http%3A%2F%2F127.0.0.1%2Ft%2Fv1.2%2Ftool-arm64");
        ck_assert_str_eq(json_string_value(json_object_get(pkg, "downloadLocation")),
                         "http://127.0.0.1/t/v1.2/tool-arm64");
        ck_assert_str_eq(sum(pkg, "SHA256"), foo_sha256);
        json_t *tool = file_named(doc, "/app/tool");
        json_t *note = file_named(doc, "/app/note");
        ck_assert(related(doc, "SPDXRef-Package-download-1", "CONTAINS",
                          json_string_value(json_object_get(tool, "SPDXID"))));
        ck_assert(!related(doc, "SPDXRef-Package-download-1", "CONTAINS",
                           json_string_value(json_object_get(note, "SPDXID"))));
        ck_assert(related(doc, "SPDXRef-Image", "CONTAINS", "SPDXRef-Package-download-1"));

        /* gc keeps the artifact while the image is there... */
        size_t count = 0;
        ck_assert_msg(layout_gc(l, &count, NULL, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(count, 0);
        ck_assert(blob_exists(l, adigest) && blob_exists(l, sdigest_copy) && blob_exists(l, edigest_copy));
        /* ...and drops it with the image. */
        _cleanup_free_ char *adigest_copy = xstrdup(adigest);
        ck_assert(layout_index_remove(l, "img", &err) == 0);
        ck_assert(layout_gc(l, &count, NULL, &err) == 0);
        ck_assert(!blob_exists(l, adigest_copy) && !blob_exists(l, sdigest_copy) && !blob_exists(l, edigest_copy));
        ck_assert_int_eq(sbom_attached(l, "img", &text, &size, &err), -ENOENT);
        test_image_teardown();
}
END_TEST

/* A document larger than the writer's buffer, in tokens of every size:
 * the blob holds the very bytes of sbom_text(), and its size is theirs. */
START_TEST(test_put_blob)
{
        test_image_setup("sbom-blob");
        ObError err = { 0 };
        _cleanup_(layout_closep) Layout *l = new_layout("layout");
        _cleanup_json_ json_t *doc = json_object();
        json_t *files = json_array();
        json_object_set_new(doc, "files", files);
        for (int i = 0; i < 4000; i++) {
                _cleanup_free_ char *name = xasprintf("/usr/lib/file-%05d", i);
                json_array_append_new(files, json_pack("{s:s, s:i}", "fileName", name, "size", i));
        }
        /* One string longer than the buffer. */
        _cleanup_free_ char *big = xmalloc(200001);
        memset(big, 'x', 200000);
        big[200000] = '\0';
        json_object_set_new(doc, "comment", json_string(big));
        _cleanup_free_ char *want = sbom_text(doc);
        ck_assert_uint_gt(strlen(want), 2 * 64 * 1024);

        char digest[DIGEST_STRING_MAX];
        uint64_t size = 0;
        ck_assert_msg(sbom_put_blob(l, doc, digest, &size, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(size, strlen(want));
        _cleanup_free_ char *got = NULL;
        size_t got_size = 0;
        ck_assert_msg(layout_read_blob(l, digest, &got, &got_size, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(got_size, strlen(want));
        ck_assert(memcmp(got, want, got_size) == 0);
        test_image_teardown();
}
END_TEST

static bool made_here(json_t *doc, size_t flags)
{
        _cleanup_free_ char *text = flags ? json_dumps(doc, flags) : sbom_text(doc);
        return sbom_text_made_here(text, strlen(text));
}

START_TEST(test_made_here)
{
        const char *tool = "Tool: oci-build-" OB_VERSION;
        _cleanup_json_ json_t *ours =
                json_pack("{s:s, s:{s:s, s:[s]}, s:[{s:s}]}", "SPDXID", "SPDXRef-DOCUMENT", "creationInfo", "created",
                          "1970-01-01T00:00:00Z", "creators", tool, "files", "fileName", "/a");
        ck_assert(made_here(ours, 0));
        /* Another creator (another version), or ours among others. */
        _cleanup_json_ json_t *other = json_deep_copy(ours);
        json_t *creators = json_object_get(json_object_get(other, "creationInfo"), "creators");
        json_array_set_new(creators, 0, json_string("Tool: oci-build-0.0.0-other"));
        ck_assert(!made_here(other, 0));
        json_array_append_new(creators, json_string(tool));
        ck_assert(made_here(other, 0));
        /* Not the layout sbom_text() writes: made again. */
        ck_assert(!made_here(ours, JSON_SORT_KEYS | JSON_COMPACT));
        ck_assert(!made_here(ours, JSON_SORT_KEYS | JSON_INDENT(2)));
        /* A string that holds the key's text is escaped: not a key. */
        _cleanup_json_ json_t *fake =
                json_pack("{s:s, s:[{s:s}]}", "SPDXID", "SPDXRef-DOCUMENT", "files", "fileName",
                          "x\n \"creationInfo\": {\"creators\": [\"Tool: oci-build-" OB_VERSION "\"]}");
        ck_assert(!made_here(fake, 0));
        /* Cut inside creationInfo, or nothing at all. */
        _cleanup_free_ char *text = sbom_text(ours);
        const char *cut = strstr(text, "Tool: ");
        ck_assert_ptr_nonnull(cut);
        ck_assert(!sbom_text_made_here(text, (size_t) (cut - text) + 8));
        ck_assert(!sbom_text_made_here("", 0));
        ck_assert(!sbom_text_made_here("[]", 2));
}
END_TEST

/* Images for the tests of several documents: they share a layer with a
 * Debian package, and each has one of its own. bad names one whose status
 * record lacks its Version, which makes its document fail. */
static void write_images(Layout *l, const char *const *names, size_t n, const char *bad)
{
        OciLayerInfo shared;
        const TarEntry base[] = {
                { "usr", 'd', NULL, 0755 },
                { "usr/lib", 'd', NULL, 0755 },
                { "usr/lib/libfoo.so.1", 'f', "foo\n", 0644 },
                /* A name that is not UTF-8: the document stays JSON. */
                { "usr/lib/not-utf8-\xff", 'f', "bytes\n", 0644 },
                { "usr/lib/os-release", 'f', "ID=debian\nVERSION_ID=\"12\"\n", 0644 },
                { "var/lib/dpkg/status.d/libfoo1", 'f', "Package: libfoo1\nArchitecture: amd64\nVersion: 1.0-1\n",
                  0644 },
                { "var/lib/dpkg/status.d/libfoo1.md5sums", 'f',
                  "d3b07384d113edec49eaa6238ad5ff00  usr/lib/libfoo.so.1\n", 0644 },
        };
        write_raw_layer(l, base, ELEMENTSOF(base), &shared);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *path = xasprintf("app/%s", names[i]);
                _cleanup_free_ char *record = xasprintf("var/lib/dpkg/status.d/%s", names[i]);
                _cleanup_free_ char *fields =
                        bad && strcmp(bad, names[i]) == 0
                                ? xasprintf("Package: %s\nArchitecture: all\n", names[i])
                                : xasprintf("Package: %s\nArchitecture: all\nVersion: %zu\n", names[i], i + 1);
                const TarEntry own[] = {
                        { "app", 'd', NULL, 0755 },
                        { path, 'f', names[i], 0755 },
                        { record, 'f', fields, 0644 },
                };
                OciLayerInfo layers[2] = { shared };
                write_raw_layer(l, own, ELEMENTSOF(own), &layers[1]);
                write_image(l, names[i], "1000", layers, 2);
        }
}

/* The text written straight from the image's records is the text of its
 * tree, as a string and as a blob. */
START_TEST(test_text)
{
        test_image_setup("sbom-text");
        _cleanup_(layout_closep) Layout *l = new_layout("layout");
        const char *names[] = { "one" };
        write_images(l, names, 1, NULL);
        const char *mdigest = json_string_value(json_object_get(layout_index_find(l, "one"), "digest"));
        SbomDownload dl = { .path = "/app/one", .name = "one", .version = "1", .url = "http://127.0.0.1/one" };
        ObError err = { 0 };
        _cleanup_json_ json_t *doc = NULL;
        ck_assert_msg(sbom_image_of(l, "one", mdigest, &dl, 1, 86400, NULL, &doc, &err) == 0, "%s", err.msg);
        _cleanup_free_ char *want = sbom_text(doc);
        /* Every part of a document is there: packages, a download, files
         * a package owns, relationships of each kind. */
        ck_assert_ptr_nonnull(strstr(want, "SPDXRef-Package-download-1"));
        ck_assert_ptr_nonnull(strstr(want, "\"relatedSpdxElement\": \"SPDXRef-File-1\""));
        ck_assert_ptr_nonnull(strstr(want, "\"spdxElementId\": \"SPDXRef-Package-deb-1\""));
        ck_assert_ptr_nonnull(strstr(want, "\"fileName\": \"/usr/lib/not-utf8-\xef\xbf\xbd\""));
        json_error_t jerr;
        _cleanup_json_ json_t *parsed = json_loads(want, 0, &jerr);
        ck_assert_msg(parsed, "%s", jerr.text);
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        ck_assert_msg(sbom_image_text(l, "one", mdigest, &dl, 1, 86400, NULL, NULL, NULL, &text, &size, &err) == 0,
                      "%s", err.msg);
        ck_assert_str_eq(text, want);
        ck_assert_uint_eq(size, strlen(want));

        char sdigest[DIGEST_STRING_MAX];
        uint64_t ssize = 0;
        ck_assert_msg(sbom_image_put_blob(l, "one", mdigest, &dl, 1, 86400, NULL, sdigest, &ssize, &err) == 0, "%s",
                      err.msg);
        _cleanup_free_ char *blob = NULL;
        ck_assert(layout_read_blob(l, sdigest, &blob, NULL, &err) == 0);
        ck_assert_str_eq(blob, want);
        ck_assert_uint_eq(ssize, strlen(want));
        test_image_teardown();
}
END_TEST

/* The SBOMs of a build's images are the same bytes, attached the same way,
 * whatever the number of threads that make them. */
START_TEST(test_attach_threads)
{
        test_image_setup("sbom-threads");
        const char *names[] = { "a", "b", "c", "d", "e" };
        Spec specs[ELEMENTSOF(names)];
        const Spec *list[ELEMENTSOF(names)];
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                specs[i] = (Spec){ .tier = SPEC_TIER_TOOL, .name = (char *) names[i] };
                list[i] = &specs[i];
        }
        _cleanup_free_ char *first = NULL;
        const unsigned threads[] = { 1, 2, 3, 8 };
        for (size_t t = 0; t < ELEMENTSOF(threads); t++) {
                _cleanup_free_ char *dir = xasprintf("layout-%u", threads[t]);
                _cleanup_(layout_closep) Layout *l = new_layout(dir);
                write_images(l, names, ELEMENTSOF(names), NULL);
                ObError err = { 0 };
                ck_assert_msg(sbom_attach_all(l, list, ELEMENTSOF(list), "amd64", 86400, NULL, threads[t], &err) == 0,
                              "%s", err.msg);
                for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                        _cleanup_free_ char *text = NULL;
                        size_t size = 0;
                        ck_assert_msg(sbom_attached(l, names[i], &text, &size, &err) == 0, "%s", err.msg);
                        _cleanup_json_ json_t *doc = NULL;
                        ck_assert(sbom_image(l, names[i], NULL, 0, 86400, NULL, &doc, &err) == 0);
                        _cleanup_free_ char *want = sbom_text(doc);
                        ck_assert_str_eq(text, want);
                }
                _cleanup_free_ char *index = json_dumps(layout_index(l), JSON_SORT_KEYS);
                if (!first)
                        first = TAKE_PTR(index);
                else
                        ck_assert_str_eq(index, first);
        }
        test_image_teardown();
}
END_TEST

/* A document that cannot be made fails the step, whatever thread made it:
 * the error names the first image that failed, and the layout on disk is
 * the valid one of before. */
START_TEST(test_attach_error)
{
        test_image_setup("sbom-error");
        const char *names[] = { "a", "b", "c", "d" };
        Spec specs[ELEMENTSOF(names)];
        const Spec *list[ELEMENTSOF(names)];
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                specs[i] = (Spec){ .tier = SPEC_TIER_TOOL, .name = (char *) names[i] };
                list[i] = &specs[i];
        }
        const unsigned threads[] = { 1, 2, 4 };
        for (size_t t = 0; t < ELEMENTSOF(threads); t++) {
                _cleanup_free_ char *dir = xasprintf("layout-%u", threads[t]);
                _cleanup_(layout_closep) Layout *l = new_layout(dir);
                write_images(l, names, ELEMENTSOF(names), "b");
                ObError err = { 0 };
                ck_assert_msg(layout_commit(l, &err) == 0, "%s", err.msg);
                ck_assert_int_lt(sbom_attach_all(l, list, ELEMENTSOF(list), "amd64", 0, NULL, threads[t], &err), 0);
                ck_assert_msg(strstr(err.msg, "the SBOM of 'b'") && strstr(err.msg, "lacks Package, Version"), "%s",
                              err.msg);
                ck_assert_ptr_null(
                        json_object_get(json_object_get(layout_index_find(l, "b"), "annotations"), SBOM_ANNOTATION));
                _cleanup_free_ char *path = xasprintf("%s/%s", test_image_tmpdir(), dir);
                _cleanup_json_ json_t *index = NULL;
                ck_assert_msg(layout_check(path, &index, &err) == 0, "%s", err.msg);
                ck_assert_uint_eq(json_array_size(json_object_get(index, "manifests")), ELEMENTSOF(names));
        }
        test_image_teardown();
}
END_TEST

/* A blob that cannot be written (here: over the file size limit, as on a
 * full disk) is told by its own error, which names the file, on one thread
 * (streamed straight into the blob) and on several. */
START_TEST(test_attach_write_error)
{
        test_image_setup("sbom-write-error");
        const char *names[] = { "a", "b" };
        Spec specs[ELEMENTSOF(names)];
        const Spec *list[ELEMENTSOF(names)];
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                specs[i] = (Spec){ .tier = SPEC_TIER_TOOL, .name = (char *) names[i] };
                list[i] = &specs[i];
        }
        const unsigned threads[] = { 1, 2 };
        struct rlimit was;
        ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &was), 0);
        signal(SIGXFSZ, SIG_IGN);
        for (size_t t = 0; t < ELEMENTSOF(threads); t++) {
                _cleanup_free_ char *dir = xasprintf("layout-%u", threads[t]);
                _cleanup_(layout_closep) Layout *l = new_layout(dir);
                write_images(l, names, ELEMENTSOF(names), NULL);
                ObError err = { 0 };
                ck_assert_msg(layout_commit(l, &err) == 0, "%s", err.msg);
                struct rlimit small = { .rlim_cur = 512, .rlim_max = was.rlim_max };
                ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
                int r = sbom_attach_all(l, list, ELEMENTSOF(list), "amd64", 0, NULL, threads[t], &err);
                ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &was), 0);
                ck_assert_int_eq(r, -EFBIG);
                ck_assert_msg(strstr(err.msg, "cannot write '") && strstr(err.msg, strerror(EFBIG)), "%s", err.msg);
        }
        signal(SIGXFSZ, SIG_DFL);
        test_image_teardown();
}
END_TEST

static Suite *sbom_suite(void)
{
        Suite *s = suite_create("sbom");
        TCase *tc = tcase_create("sbom");
        tcase_add_test(tc, test_purl);
        tcase_add_test(tc, test_license);
        tcase_add_test(tc, test_image);
        tcase_add_test(tc, test_artifact_manifest);
        tcase_add_test(tc, test_made_here);
        tcase_add_test(tc, test_attach);
        tcase_add_test(tc, test_put_blob);
        tcase_add_test(tc, test_text);
        tcase_add_test(tc, test_attach_threads);
        tcase_add_test(tc, test_attach_error);
        tcase_add_test(tc, test_attach_write_error);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return test_run(sbom_suite());
}
