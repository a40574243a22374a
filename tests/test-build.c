/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "build.h"
#include "cleanup-libs.h"
#include "dpkg.h"
#include "fs.h"
#include "image.h"
#include "layout.h"
#include "path.h"
#include "sbom-attach.h"
#include "sysroot.h"
#include "testutil.h"
#include "util.h"

/* A configs directory with a base, two tools made of the host's
 * /usr/bin/true and /usr/bin/false (so their layers hold libc from the
 * host, read from ELF), and an app on top of one of them. */
static char dir[256];
static char *configs, *layout;

static void put(const char *rel, const char *text)
{
        _cleanup_free_ char *p = path_join(configs, rel);
        ObError e;
        ck_assert_int_eq(write_file_atomic(p, text, strlen(text), 0644, &e), 0);
}

static void setup(void)
{
        test_tmpdir(dir, sizeof(dir), "build");
        configs = path_join(dir, "configs");
        layout = path_join(dir, "oci");
        _cleanup_free_ char *tools = path_join(configs, "tools"), *apps = path_join(configs, "apps");
        ck_assert_int_eq(mkdir(configs, 0755), 0);
        ck_assert_int_eq(mkdir(tools, 0755), 0);
        ck_assert_int_eq(mkdir(apps, 0755), 0);
        put("base.yml", "name: base\n"
                        "description: test base\n"
                        "directories:\n  - { path: /tmp, mode: \"1777\" }\n"
                        "groups:\n  - { name: root, gid: 0 }\n"
                        "users:\n  - { name: root, uid: 0, gid: 0, home: /root }\n"
                        "config:\n  user: \"1000:1000\"\n  env:\n    PATH: /usr/bin\n");
        put("tools/t1.yml", "name: t1\nversion: \"1.0\"\ndescription: tool one\nbinaries: [/usr/bin/true]\n"
                            "config:\n  env:\n    T1_HOME: /opt/t1\n");
        put("tools/t2.yml", "name: t2\nversion: \"2.0\"\ndescription: tool two\nbinaries: [/usr/bin/false]\n");
        put("apps/a1.yml", "name: a1\nversion: \"0.1\"\ndescription: app one\ntools: [t1]\n"
                           "artifacts:\n  - path: /app/hello.txt\n    source: hello.txt\n"
                           "config:\n  env:\n    APP: \"yes\"\n");
        put("apps/hello.txt", "hello\n");
}

static void teardown(void)
{
        test_rm_rf(dir);
        free(configs);
        free(layout);
}

static BuildOptions options(void)
{
        return (BuildOptions){ .configs = configs,
                               .sysroot = "/",
                               .source_date_epoch = 0,
                               .layer = { .level = 1, .threads = 1 } };
}

static size_t count_blobs(void)
{
        _cleanup_free_ char *blobs = path_join(layout, "blobs/sha256");
        _cleanup_dir_ DIR *d = opendir(blobs);
        ck_assert_ptr_nonnull(d);
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        return n;
}

/* Builds the images named (tier by tier) and commits. */
static int build(const SpecTier *tiers, const char *const *names, size_t n, const BuildResult **ret_res, size_t *ret_n,
                 Build **ret_build, ObError *err)
{
        BuildOptions o = options();
        _cleanup_(build_freep) Build *b = NULL;
        _cleanup_(layout_closep) Layout *l = NULL;
        int r = build_new(&o, &b, err);
        for (size_t i = 0; r == 0 && i < n; i++)
                r = build_add(b, tiers[i], names[i], /* flags= */ 0, err);
        if (r < 0)
                return r;
        r = layout_open(layout, LAYOUT_CREATE, &l, err);
        if (r == 0)
                r = build_write(b, l, ret_res, ret_n, err);
        if (r == 0)
                r = layout_commit(l, err);
        if (r < 0)
                return r;
        *ret_build = TAKE_PTR(b);
        return 0;
}

static json_t *manifest_of(const char *digest)
{
        _cleanup_(layout_closep) Layout *l = NULL;
        _cleanup_free_ char *data = NULL;
        ObError e;
        ck_assert_int_eq(layout_open(layout, 0, &l, &e), 0);
        ck_assert_int_eq(layout_read_blob(l, digest, &data, NULL, &e), 0);
        json_t *m = json_loads(data, 0, NULL);
        ck_assert_ptr_nonnull(m);
        return m;
}

static const char *layer_digest(json_t *m, size_t i)
{
        return json_string_value(json_object_get(json_array_get(json_object_get(m, "layers"), i), "digest"));
}

START_TEST(test_base_image)
{
        static const SpecTier tiers[] = { SPEC_TIER_BASE };
        static const char *const names[] = { NULL };
        _cleanup_(build_freep) Build *b = NULL;
        const BuildResult *res;
        size_t n;
        ObError e = { 0 };
        ck_assert_msg(build(tiers, names, 1, &res, &n, &b, &e) == 0, "%s", e.msg);
        ck_assert_uint_eq(n, 1);
        ck_assert_str_eq(res[0].name, "base");
        ck_assert_uint_eq(res[0].n_layers, 1);
        ck_assert_uint_eq(res[0].own_layer_entries, build_base_plan(b)->n);
        /* layer, config, manifest; the SBOM, its artifact manifest and the
         * empty config {} */
        ck_assert_uint_eq(count_blobs(), 6);
}
END_TEST

START_TEST(test_tools_share_the_base_layer)
{
        static const SpecTier tiers[] = { SPEC_TIER_TOOL, SPEC_TIER_TOOL, SPEC_TIER_TOOL };
        static const char *const names[] = { "t1", "t2", "t1" };
        _cleanup_(build_freep) Build *b = NULL;
        const BuildResult *res;
        size_t n;
        ObError e = { 0 };
        ck_assert_msg(build(tiers, names, 3, &res, &n, &b, &e) == 0, "%s", e.msg);
        /* t1 asked twice is built once */
        ck_assert_uint_eq(n, 2);
        ck_assert_str_eq(res[0].name, "t1");
        ck_assert_str_eq(res[1].name, "t2");
        ck_assert_uint_eq(res[0].n_layers, 2);
        _cleanup_json_ json_t *m1 = manifest_of(res[0].manifest_digest);
        _cleanup_json_ json_t *m2 = manifest_of(res[1].manifest_digest);
        ck_assert_str_eq(layer_digest(m1, 0), layer_digest(m2, 0));
        ck_assert_str_ne(layer_digest(m1, 1), layer_digest(m2, 1));
        /* one base layer, two tool layers, three configs, three manifests:
         * the base image is named too; three SBOMs, their three artifact
         * manifests, one empty config {} */
        ck_assert_uint_eq(count_blobs(), 16);
        _cleanup_(layout_closep) Layout *l = NULL;
        ck_assert_int_eq(layout_open(layout, 0, &l, &e), 0);
        ck_assert_ptr_nonnull(layout_index_find(l, "base"));
        /* each image written names its SBOM, the one base not asked for too */
        static const char *const written[] = { "base", "t1", "t2" };
        for (size_t i = 0; i < ELEMENTSOF(written); i++)
                ck_assert_ptr_nonnull(json_object_get(json_object_get(layout_index_find(l, written[i]), "annotations"),
                                                      SBOM_ANNOTATION));
        ck_assert_ptr_nonnull(build_tool_plan(b, "t1"));
        ck_assert_ptr_null(build_tool_plan(b, "t3"));
        /* the tool layer holds the binary and libc, read from ELF */
        ck_assert_ptr_nonnull(plan_find(build_tool_plan(b, "t1"), "/usr/bin/true"));
}
END_TEST

START_TEST(test_app_reuses_the_tool_layer)
{
        static const SpecTier tiers[] = { SPEC_TIER_TOOL, SPEC_TIER_APP };
        static const char *const names[] = { "t1", "a1" };
        _cleanup_(build_freep) Build *b = NULL;
        const BuildResult *res;
        size_t n;
        ObError e = { 0 };
        ck_assert_msg(build(tiers, names, 2, &res, &n, &b, &e) == 0, "%s", e.msg);
        ck_assert_uint_eq(n, 2);
        ck_assert_uint_eq(res[1].tier, SPEC_TIER_APP);
        ck_assert_uint_eq(res[1].n_layers, 3);
        _cleanup_json_ json_t *mt = manifest_of(res[0].manifest_digest);
        _cleanup_json_ json_t *ma = manifest_of(res[1].manifest_digest);
        ck_assert_str_eq(layer_digest(mt, 0), layer_digest(ma, 0));
        ck_assert_str_eq(layer_digest(mt, 1), layer_digest(ma, 1));
        /* base, t1 and app layers once; three configs, three manifests;
         * three SBOMs and their artifact manifests, one empty config */
        ck_assert_uint_eq(count_blobs(), 16);

        /* The app's config carries the base's, the tool's and its own environment. */
        _cleanup_(layout_closep) Layout *l = NULL;
        _cleanup_free_ char *data = NULL;
        ck_assert_int_eq(layout_open(layout, 0, &l, &e), 0);
        const char *cfg_digest = json_string_value(json_object_get(json_object_get(ma, "config"), "digest"));
        ck_assert_int_eq(layout_read_blob(l, cfg_digest, &data, NULL, &e), 0);
        _cleanup_json_ json_t *cfg = json_loads(data, 0, NULL);
        _cleanup_free_ char *env = json_dumps(json_object_get(json_object_get(cfg, "config"), "Env"), JSON_COMPACT);
        ck_assert_str_eq(env, "[\"PATH=/usr/bin\",\"T1_HOME=/opt/t1\",\"APP=yes\"]");
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(cfg, "config"), "User")), "1000:1000");
        ck_assert_ptr_nonnull(plan_find(build_app_plan(b, "a1"), "/app/hello.txt"));
}
END_TEST

START_TEST(test_bad_name_touches_nothing)
{
        BuildOptions o = options();
        _cleanup_(build_freep) Build *b = NULL;
        ObError e = { 0 };
        ck_assert_int_eq(build_new(&o, &b, &e), 0);
        ck_assert_int_eq(build_add(b, SPEC_TIER_TOOL, "t1", 0, &e), 0);
        ck_assert_int_eq(build_add(b, SPEC_TIER_TOOL, "nope", 0, &e), -ENOENT);
        ck_assert_msg(strstr(e.msg, "no config named 'nope'"), "%s", e.msg);
        ck_assert_int_eq(build_add(b, SPEC_TIER_TOOL, "a1", 0, &e), -EINVAL);
        ck_assert_msg(strstr(e.msg, "'a1' is not a tool config (it is the app config"), "%s", e.msg);
        ck_assert_int_eq(build_add(b, SPEC_TIER_APP, "t2", 0, &e), -EINVAL);
        ck_assert_msg(strstr(e.msg, "'t2' is not an app config (it is the tool config"), "%s", e.msg);
        /* planning never creates the layout */
        ck_assert_int_eq(access(layout, F_OK), -1);
}
END_TEST

START_TEST(test_app_with_unknown_tool)
{
        put("apps/a2.yml", "name: a2\nversion: \"0.1\"\ndescription: app two\ntools: [t9]\n"
                           "artifacts:\n  - path: /app/hello.txt\n    source: hello.txt\n");
        BuildOptions o = options();
        _cleanup_(build_freep) Build *b = NULL;
        ObError e = { 0 };
        ck_assert_int_eq(build_new(&o, &b, &e), 0);
        ck_assert_int_eq(build_add(b, SPEC_TIER_APP, "a2", 0, &e), -ENOENT);
        ck_assert_msg(strstr(e.msg, "tools: 't9' is not a tool config (tools: t1, t2)"), "%s", e.msg);
}
END_TEST

START_TEST(test_plan_only_runs_nothing)
{
        /* A build step that would fail: planning only must not run it. */
        put("apps/a3.yml", "name: a3\nversion: \"0.1\"\ndescription: app three\n"
                           "build:\n  - command: [/bin/false]\n"
                           "artifacts:\n  - path: /app/hello.txt\n    source: hello.txt\n");
        BuildOptions o = options();
        _cleanup_(build_freep) Build *b = NULL;
        ObError e = { 0 };
        ck_assert_int_eq(build_new(&o, &b, &e), 0);
        ck_assert_msg(build_add(b, SPEC_TIER_APP, "a3", BUILD_PLAN_ONLY, &e) == 0, "%s", e.msg);
        ck_assert_ptr_nonnull(build_app_plan(b, "a3"));
        ck_assert_int_lt(build_add(b, SPEC_TIER_APP, "a3-missing", 0, &e), 0);
        _cleanup_(build_freep) Build *b2 = NULL;
        ck_assert_int_eq(build_new(&o, &b2, &e), 0);
        ck_assert_int_eq(build_add(b2, SPEC_TIER_APP, "a3", 0, &e), -EIO);
        ck_assert_msg(strstr(e.msg, "build step '/bin/false' failed"), "%s", e.msg);
}
END_TEST

START_TEST(test_image_version)
{
        _cleanup_(spec_freep) Spec *t = NULL;
        _cleanup_free_ char *v = NULL;
        ObError e = { 0 };
        ck_assert_int_eq(build_load_config(configs, "t2", SPEC_TIER_TOOL, &t, &e), 0);
        ck_assert_int_eq(build_image_version(t, NULL, &v, &e), 0);
        ck_assert_str_eq(v, "2.0");
}
END_TEST

/* A sysroot of its own with a dpkg database in which 'present' is installed
 * and the packages of m1, m2 and m3 are not; m3 shares m1's package. */
static char *missing_sysroot(void)
{
        char *sys = path_join(dir, "sys");
        _cleanup_free_ char *dpkg = path_join(sys, "var/lib/dpkg");
        ObError e;
        ck_assert_int_eq(mkdir_p(dpkg, 0755, &e), 0);
        _cleanup_free_ char *status = path_join(dpkg, "status");
        static const char text[] = "Package: present\nStatus: install ok installed\nVersion: 1.0\n\n"
                                   "Package: pkg-b\nStatus: deinstall ok config-files\nVersion: 2.0\n";
        ck_assert_int_eq(write_file_atomic(status, text, strlen(text), 0644, &e), 0);
        put("tools/m1.yml", "name: m1\npackage: pkg-a\ndescription: d\nbinaries: [/usr/bin/a]\n");
        put("tools/m2.yml", "name: m2\npackage: pkg-b\ndescription: d\nbinaries: [/usr/bin/b]\n");
        put("tools/m3.yml", "name: m3\nversion: \"3\"\npackage: pkg-a\ndescription: d\nbinaries: [/usr/bin/a3]\n");
        /* installed, but the binary is not where the config says */
        put("tools/p1.yml", "name: p1\npackage: present\ndescription: d\nbinaries: [/usr/bin/presnt]\n");
        return sys;
}

/* Tools that are not installed are each ENOPKG and remembered, so that one
 * message names every package; other failures are not counted. */
START_TEST(test_missing_packages_named_at_once)
{
        _cleanup_free_ char *sys = missing_sysroot();
        BuildOptions o = options();
        o.sysroot = sys;
        _cleanup_(build_freep) Build *b = NULL;
        ObError e = { 0 };
        ck_assert_msg(build_new(&o, &b, &e) == 0, "%s", e.msg);
        ck_assert_int_eq(build_missing_error(b, &e), 0);

        ck_assert_int_eq(build_add(b, SPEC_TIER_TOOL, "m1", 0, &e), -ENOPKG);
        _cleanup_free_ char *one = xasprintf("%s/tools/m1.yml: cannot read the version of 'm1': the Debian package "
                                             "'pkg-a' is not installed (apt-get install pkg-a)",
                                             configs);
        ck_assert_str_eq(e.msg, one);
        /* one tool: its own message */
        ob_error_clear(&e);
        ck_assert_int_eq(build_missing_error(b, &e), -ENOPKG);
        ck_assert_str_eq(e.msg, one);

        /* installed, wrong path: its own failure, not counted */
        ck_assert_int_eq(build_add(b, SPEC_TIER_TOOL, "p1", 0, &e), -ENOENT);
        ck_assert_msg(strstr(e.msg, "binary '/usr/bin/presnt' does not exist, though the Debian package 'present' is "
                                    "installed"),
                      "%s", e.msg);

        /* m2's package was removed; m3 has a version of its own, and its
         * binary is missing with pkg-a not installed */
        ck_assert_int_eq(build_add(b, SPEC_TIER_TOOL, "m2", 0, &e), -ENOPKG);
        ck_assert_int_eq(build_add(b, SPEC_TIER_TOOL, "m3", 0, &e), -ENOPKG);
        ck_assert_msg(strstr(e.msg, "binary '/usr/bin/a3' is not installed: install the Debian package 'pkg-a'"), "%s",
                      e.msg);
        ck_assert_int_eq(build_add(b, SPEC_TIER_TOOL, "m1", 0, &e), -ENOPKG); /* asked twice */
        ck_assert_int_eq(build_missing_error(b, &e), -ENOPKG);
        ck_assert_str_eq(e.msg, "3 tools are not installed in the sysroot: m1 (pkg-a), m2 (pkg-b), m3 (pkg-a): "
                                "apt-get install pkg-a pkg-b");
}
END_TEST

/* A tool whose version is its package's: the image version is the tag-safe
 * form, and the full Debian version is on the manifest and in index.json.
 * Built from the host's /usr/bin/true and the coreutils package that ships
 * it, so it needs a Debian host. */
START_TEST(test_debian_version_annotated)
{
        ObError e = { 0 };
        _cleanup_(sysroot_freep) Sysroot *host = NULL;
        _cleanup_free_ char *debian = NULL;
        ck_assert_int_eq(sysroot_open("/", &host, &e), 0);
        if (dpkg_package_version(host, "coreutils", &debian, &e) < 0)
                test_skip("coreutils is not in this host's dpkg database: %s", e.msg);
        _cleanup_free_ char *tag = dpkg_version_tag(debian);
        put("tools/deb.yml", "name: deb\npackage: coreutils\ndescription: d\nbinaries: [/usr/bin/true]\n");
        static const SpecTier tiers[] = { SPEC_TIER_TOOL };
        static const char *const names[] = { "deb" };
        _cleanup_(build_freep) Build *b = NULL;
        const BuildResult *res;
        size_t n;
        ck_assert_msg(build(tiers, names, 1, &res, &n, &b, &e) == 0, "%s", e.msg);
        _cleanup_json_ json_t *m = manifest_of(res[0].manifest_digest);
        json_t *ann = json_object_get(m, "annotations");
        ck_assert_str_eq(json_string_value(json_object_get(ann, "org.opencontainers.image.version")), tag);
        ck_assert_str_eq(json_string_value(json_object_get(ann, IMAGE_ANNOTATION_DEBIAN_VERSION)), debian);
        ck_assert_str_eq(json_string_value(json_object_get(ann, IMAGE_ANNOTATION_DEBIAN_PACKAGE)), "coreutils");
        _cleanup_(layout_closep) Layout *l = NULL;
        ck_assert_int_eq(layout_open(layout, 0, &l, &e), 0);
        json_t *desc_ann = json_object_get(layout_index_find(l, "deb"), "annotations");
        ck_assert_str_eq(json_string_value(json_object_get(desc_ann, IMAGE_ANNOTATION_DEBIAN_VERSION)), debian);
}
END_TEST

static Suite *build_suite(void)
{
        Suite *s = suite_create("build");
        TCase *tc = tcase_create("build");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, test_base_image);
        tcase_add_test(tc, test_tools_share_the_base_layer);
        tcase_add_test(tc, test_app_reuses_the_tool_layer);
        tcase_add_test(tc, test_bad_name_touches_nothing);
        tcase_add_test(tc, test_app_with_unknown_tool);
        tcase_add_test(tc, test_plan_only_runs_nothing);
        tcase_add_test(tc, test_image_version);
        tcase_add_test(tc, test_missing_packages_named_at_once);
        tcase_add_test(tc, test_debian_version_annotated);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return test_run(build_suite());
}
