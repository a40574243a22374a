/* SPDX-License-Identifier: MIT */
/* The SPDX document of an image, read from its layers: files with their
 * hashes as the layers stack up (whiteouts, hard links), the packages that
 * status.d records and the files their md5sums name; purls and licences. */
#include <check.h>
#include <string.h>

#include "cleanup-libs.h"
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
        ck_assert_msg(sbom_image(l, "img", 86400, &doc, &err) == 0, "%s", err.msg);
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
        ck_assert(sbom_image(l, "img", 86400, &again, &err) == 0);
        _cleanup_free_ char *a = json_dumps(doc, JSON_SORT_KEYS);
        _cleanup_free_ char *b = json_dumps(again, JSON_SORT_KEYS);
        ck_assert_str_eq(a, b);

        ck_assert_int_lt(sbom_image(l, "nothing", 0, &again, &err), 0);
        ck_assert_ptr_nonnull(strstr(err.msg, "no image 'nothing'"));
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
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return test_run(sbom_suite());
}
