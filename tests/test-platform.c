/* SPDX-License-Identifier: MIT */
/* platform: --platform strings, the architecture of ELF headers and of a
 * sysroot's dpkg database, and image indexes over per-platform manifests. */
#include <check.h>
#include <string.h>
#include <unistd.h>

#include "cleanup-libs.h"
#include "image.h"
#include "layout.h"
#include "path.h"
#include "platform.h"
#include "testutil.h"
#include "util.h"

static char tmp_root[512];

static void tmp_setup(void)
{
        test_tmpdir(tmp_root, sizeof(tmp_root), "platform");
}

static void tmp_teardown(void)
{
        test_rm_rf(tmp_root);
}

START_TEST(test_parse)
{
        Platform p;
        ObError e = { 0 };
        ck_assert_int_eq(platform_parse("linux/arm64", &p, &e), 0);
        ck_assert_str_eq(p.arch, "arm64");
        ck_assert_str_eq(p.variant, "v8");
        ck_assert_int_eq(platform_parse("linux/arm64/v8", &p, &e), 0);
        ck_assert_str_eq(p.arch, "arm64");
        ck_assert_int_eq(platform_parse("linux/amd64", &p, &e), 0);
        ck_assert_str_eq(p.arch, "amd64");
        ck_assert_str_eq(p.variant, "");
        _cleanup_free_ char *s = platform_string(&p);
        ck_assert_str_eq(s, "linux/amd64");

        static const struct {
                const char *in, *msg;
        } bad[] = {
                { "windows/amd64", "only linux" },  { "linux/s390x", "unsupported architecture 's390x'" },
                { "linux", "expected OS/ARCH" },    { "linux/", "expected OS/ARCH" },
                { "/arm64", "expected OS/ARCH" },   { "linux/arm64/v7", "no variant 'v7'" },
                { "linux/arm64/v8/x", "expected" }, { "", "expected" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                ck_assert_int_lt(platform_parse(bad[i].in, &p, &e), 0);
                ck_assert_msg(strstr(e.msg, bad[i].msg), "'%s': %s", bad[i].in, e.msg);
                ck_assert_ptr_null(strchr(e.msg, '\n'));
        }
}
END_TEST

START_TEST(test_parse_list)
{
        _cleanup_free_ Platform *v = NULL;
        size_t n = 0;
        ObError e = { 0 };
        ck_assert_int_eq(platform_parse_list("linux/amd64,linux/arm64,linux/amd64", &v, &n, &e), 0);
        ck_assert_uint_eq(n, 2);
        ck_assert_str_eq(v[0].arch, "amd64");
        ck_assert_str_eq(v[1].arch, "arm64");
        free(v);
        v = NULL;
        ck_assert_int_eq(platform_parse_list("all", &v, &n, &e), 0);
        ck_assert_uint_eq(n, 2);
        free(v);
        v = NULL;
        ck_assert_int_lt(platform_parse_list("linux/amd64,", &v, &n, &e), 0);
        ck_assert_int_lt(platform_parse_list("", &v, &n, &e), 0);
        ck_assert_int_lt(platform_parse_list("linux/amd64,linux/mips", &v, &n, &e), 0);
        ck_assert_ptr_nonnull(strstr(e.msg, "mips"));
}
END_TEST

/* An ELF64 header: e_type at 16, e_machine at 18, little-endian. */
static void elf_header(unsigned char h[64], unsigned type, unsigned machine)
{
        memset(h, 0, 64);
        memcpy(h, "\177ELF", 4);
        h[4] = 2;
        h[5] = 1;
        h[6] = 1;
        h[16] = (unsigned char) type;
        h[18] = (unsigned char) (machine & 0xff);
        h[19] = (unsigned char) (machine >> 8);
}

START_TEST(test_elf_machine)
{
        unsigned char h[64];
        int m = 0;
        Platform p;
        elf_header(h, 3, 183);
        ck_assert_int_eq(platform_elf_header_machine(h, sizeof(h), &m), 1);
        ck_assert_int_eq(m, 183);
        ck_assert(platform_from_elf_machine(m, &p));
        ck_assert_str_eq(p.arch, "arm64");
        ck_assert_str_eq(p.variant, "v8");
        elf_header(h, 2, 62);
        ck_assert_int_eq(platform_elf_header_machine(h, sizeof(h), &m), 1);
        ck_assert(platform_from_elf_machine(m, &p));
        ck_assert_str_eq(p.arch, "amd64");
        ck_assert_str_eq(p.variant, "");
        /* A relocatable object says nothing about what runs. */
        elf_header(h, 1, 183);
        ck_assert_int_eq(platform_elf_header_machine(h, sizeof(h), &m), 0);
        ck_assert_int_eq(platform_elf_header_machine("#!/bin/sh\nexit 0\n\n\n\n", 20, &m), 0);
        ck_assert(!platform_from_elf_machine(22 /* EM_S390 */, &p));
        ck_assert(platform_from_dpkg_arch("arm64", &p));
        ck_assert_str_eq(p.arch, "arm64");
        ck_assert(!platform_from_dpkg_arch("armhf", &p));
}
END_TEST

static void put_elf(const char *rel, unsigned machine)
{
        unsigned char h[64];
        elf_header(h, 3, machine);
        _cleanup_free_ char *path = path_join(tmp_root, rel);
        FILE *f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(h, 1, sizeof(h), f), sizeof(h));
        fclose(f);
}

static void add_file(Plan *plan, Sysroot *root, const char *path)
{
        ObError e = { 0 };
        Entry en = { .path = (char *) path + 1,
                     .type = ENTRY_FILE,
                     .mode = 0755,
                     .size = 64,
                     .source = sysroot_host_path(root, path),
                     .root = root,
                     .source_path = (char *) path };
        ck_assert_msg(plan_add(plan, &en, &e) == 0, "%s", e.msg);
        free(en.source);
}

START_TEST(test_probe_and_choice)
{
        test_mk_dir(tmp_root, "bin", 0755);
        put_elf("bin/arm", 183);
        put_elf("bin/x86", 62);
        test_mk_file(tmp_root, "bin/script", "#!/bin/sh\necho a long enough script\n", 0755);
        ObError e = { 0 };
        _cleanup_(sysroot_freep) Sysroot *root = NULL;
        ck_assert_int_eq(sysroot_open(tmp_root, &root, &e), 0);

        /* No dpkg database: the ELF files decide. */
        _cleanup_plan_ Plan arm = { 0 };
        add_file(&arm, root, "/bin/arm");
        add_file(&arm, root, "/bin/script");
        PlatformChoice c;
        ck_assert_int_eq(platform_choice_init(&c, root, NULL, &e), 0);
        ck_assert(!c.known);
        ck_assert_msg(platform_choice_add_plan(&c, &arm, &e) == 0, "%s", e.msg);
        ck_assert_str_eq(platform_choice_get(&c)->arch, "arm64");

        /* Another image of the run with x86-64 files: both named. */
        _cleanup_plan_ Plan x86 = { 0 };
        add_file(&x86, root, "/bin/x86");
        ck_assert_int_lt(platform_choice_add_plan(&c, &x86, &e), 0);
        ck_assert_msg(strstr(e.msg, "bin/arm") && strstr(e.msg, "bin/x86"), "%s", e.msg);
        platform_choice_clear(&c);

        /* Both in one layer. */
        _cleanup_plan_ Plan mixed = { 0 };
        add_file(&mixed, root, "/bin/arm");
        add_file(&mixed, root, "/bin/x86");
        _cleanup_(platform_probe_clear) PlatformProbe probe = { 0 };
        ck_assert_int_lt(platform_probe_plan(&probe, &mixed, &e), 0);
        ck_assert_msg(strstr(e.msg, "mixed architectures") && strstr(e.msg, "bin/arm") && strstr(e.msg, "bin/x86"),
                      "%s", e.msg);

        /* Asked for amd64, given arm64 files. */
        Platform amd64;
        ck_assert_int_eq(platform_parse("linux/amd64", &amd64, &e), 0);
        ck_assert_int_eq(platform_choice_init(&c, root, &amd64, &e), 0);
        ck_assert_int_lt(platform_choice_add_plan(&c, &arm, &e), 0);
        ck_assert_msg(strstr(e.msg, "linux/amd64") && strstr(e.msg, "bin/arm"), "%s", e.msg);
        platform_choice_clear(&c);
        /* Nothing known: what was asked for. */
        ck_assert_int_eq(platform_choice_init(&c, root, &amd64, &e), 0);
        ck_assert_str_eq(platform_choice_get(&c)->arch, "amd64");
        platform_choice_clear(&c);
}
END_TEST

static void mk_dpkg_dir(void)
{
        test_mk_dir(tmp_root, "var", 0755);
        test_mk_dir(tmp_root, "var/lib", 0755);
        test_mk_dir(tmp_root, "var/lib/dpkg", 0755);
}

START_TEST(test_sysroot_arch)
{
        mk_dpkg_dir();
        test_mk_file(tmp_root, "var/lib/dpkg/status",
                     "Package: tzdata\nStatus: install ok installed\nArchitecture: all\n\n"
                     "Package: libc6\nStatus: install ok installed\nArchitecture: arm64\nVersion: 2.36\n\n",
                     0644);
        ObError e = { 0 };
        _cleanup_(sysroot_freep) Sysroot *root = NULL;
        ck_assert_int_eq(sysroot_open(tmp_root, &root, &e), 0);
        Platform p;
        ck_assert_int_eq(platform_of_sysroot(root, &p, &e), 1);
        ck_assert_str_eq(p.arch, "arm64");

        /* Its x86-64 binary is a mismatch; asking for amd64 is one too. */
        test_mk_dir(tmp_root, "bin", 0755);
        put_elf("bin/x86", 62);
        _cleanup_plan_ Plan x86 = { 0 };
        add_file(&x86, root, "/bin/x86");
        PlatformChoice c;
        ck_assert_int_eq(platform_choice_init(&c, root, NULL, &e), 0);
        ck_assert(c.known);
        ck_assert_int_lt(platform_choice_add_plan(&c, &x86, &e), 0);
        ck_assert_msg(strstr(e.msg, "bin/x86") && strstr(e.msg, "sysroot"), "%s", e.msg);
        platform_choice_clear(&c);
        Platform amd64;
        ck_assert_int_eq(platform_parse("linux/amd64", &amd64, &e), 0);
        ck_assert_int_lt(platform_choice_init(&c, root, &amd64, &e), 0);
        ck_assert_msg(strstr(e.msg, "linux/amd64") && strstr(e.msg, "arm64"), "%s", e.msg);
        platform_choice_clear(&c);

        /* Only var/lib/dpkg/arch. */
        _cleanup_free_ char *status = path_join(tmp_root, "var/lib/dpkg/status");
        ck_assert_int_eq(unlink(status), 0);
        test_mk_file(tmp_root, "var/lib/dpkg/arch", "amd64\ni386\n", 0644);
        _cleanup_(sysroot_freep) Sysroot *r2 = NULL;
        ck_assert_int_eq(sysroot_open(tmp_root, &r2, &e), 0);
        ck_assert_int_eq(platform_of_sysroot(r2, &p, &e), 1);
        ck_assert_str_eq(p.arch, "amd64");
}
END_TEST

static void write_one(Layout *l, const char *name, const Platform *p, const char *layer_text)
{
        ObError e = { 0 };
        OciLayerInfo layer = { .size = strlen(layer_text), .created_by = "test" };
        ck_assert_msg(layout_put_blob(l, layer_text, layer.size, layer.digest, &e) == 0, "%s", e.msg);
        memcpy(layer.diff_id, layer.digest, sizeof(layer.digest));
        SpecImageConfig cfg = { .user = (char *) "0:0" };
        ImageBuild b = { .name = name,
                         .version = "1.0",
                         .description = "d",
                         .config = &cfg,
                         .layers = &layer,
                         .n_layers = 1,
                         .platform = p };
        ImageResult res;
        ck_assert_msg(image_write(l, &b, &res, &e) == 0, "%s", e.msg);
}

START_TEST(test_index)
{
        _cleanup_free_ char *dir = path_join(tmp_root, "layout");
        ObError e = { 0 };
        _cleanup_(layout_closep) Layout *l = NULL;
        ck_assert_int_eq(layout_open(dir, LAYOUT_CREATE, &l, &e), 0);
        Platform amd64, arm64;
        ck_assert_int_eq(platform_parse("linux/amd64", &amd64, &e), 0);
        ck_assert_int_eq(platform_parse("linux/arm64", &arm64, &e), 0);

        write_one(l, "x", &amd64, "amd64 layer");
        _cleanup_json_ json_t *m_amd = json_deep_copy(layout_index_find(l, "x"));
        write_one(l, "x", &arm64, "arm64 layer");
        _cleanup_json_ json_t *m_arm = json_deep_copy(layout_index_find(l, "x"));
        json_t *both[] = { m_amd, m_arm };
        ck_assert_msg(platform_index_write(l, "x", both, 2, &e) == 0, "%s", e.msg);

        json_t *top = layout_index_find(l, "x");
        ck_assert_str_eq(json_string_value(json_object_get(top, "mediaType")), OCI_MT_INDEX);
        ck_assert_uint_eq(json_array_size(json_object_get(layout_index(l), "manifests")), 1);
        _cleanup_free_ char *data = NULL;
        size_t size = 0;
        ck_assert_int_eq(layout_read_blob(l, json_string_value(json_object_get(top, "digest")), &data, &size, &e), 0);
        _cleanup_json_ json_t *idx = json_loadb(data, size, 0, NULL);
        ck_assert_str_eq(json_string_value(json_object_get(idx, "mediaType")), OCI_MT_INDEX);
        json_t *ms = json_object_get(idx, "manifests");
        ck_assert_uint_eq(json_array_size(ms), 2);
        ck_assert_str_eq(
                json_string_value(json_object_get(json_object_get(json_array_get(ms, 1), "platform"), "architecture")),
                "arm64");

        /* Readers follow the index to the platform asked for. */
        _cleanup_json_ json_t *got = NULL;
        ck_assert_int_eq(platform_resolve(l, "x", &arm64, &got, &e), 0);
        ck_assert_str_eq(json_string_value(json_object_get(got, "digest")),
                         json_string_value(json_object_get(m_arm, "digest")));
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(got, "annotations"), OCI_REF_NAME)), "x");
        _cleanup_free_ Platform *v = NULL;
        size_t n = 0;
        ck_assert_int_eq(platform_list(l, "x", &v, &n, &e), 0);
        ck_assert_uint_eq(n, 2);

        /* A single-platform image names the platform it lacks. */
        write_one(l, "y", &amd64, "y layer");
        _cleanup_json_ json_t *none = NULL;
        ck_assert_int_lt(platform_resolve(l, "y", &arm64, &none, &e), 0);
        ck_assert_msg(strstr(e.msg, "linux/amd64") && strstr(e.msg, "linux/arm64"), "%s", e.msg);

        /* gc keeps what the index references. */
        ck_assert_int_eq(layout_commit(l, &e), 0);
        size_t count = 99;
        ck_assert_int_eq(layout_gc(l, &count, NULL, &e), 0);
        ck_assert_uint_eq(count, 0);
}
END_TEST

static Suite *platform_suite(void)
{
        Suite *s = suite_create("platform");
        TCase *tc = tcase_create("parse");
        tcase_add_test(tc, test_parse);
        tcase_add_test(tc, test_parse_list);
        tcase_add_test(tc, test_elf_machine);
        suite_add_tcase(s, tc);
        tc = tcase_create("files");
        tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
        tcase_add_test(tc, test_probe_and_choice);
        tcase_add_test(tc, test_sysroot_arch);
        tcase_add_test(tc, test_index);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return test_run(platform_suite());
}
