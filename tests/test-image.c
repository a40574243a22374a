/* SPDX-License-Identifier: MIT */
/* image_config_merge(): the config of a tier on top of the one below it
 * (a tool's on the base's, an app's on its tools'); image_write(): the
 * annotations of the manifest and of its index descriptor. */
#include <check.h>
#include <string.h>

#include "cleanup-libs.h"
#include "image.h"
#include "layout.h"
#include "path.h"
#include "spec.h"
#include "testutil.h"
#include "util.h"

START_TEST(test_image_config)
{
        char *base_env[] = { (char *) "PATH=/usr/bin", (char *) "PATHX=keep", (char *) "LANG=C.UTF-8", NULL };
        char *base_labels[] = { (char *) "a=1", (char *) "b=2", NULL };
        char *base_ep[] = { (char *) "/bin/base", NULL };
        char *base_cmd[] = { (char *) "base-cmd", NULL };
        char *base_ports[] = { (char *) "80/tcp", NULL };
        SpecImageConfig base = { .user = (char *) "65532:65532",
                                 .env = base_env,
                                 .workdir = (char *) "/home",
                                 .entrypoint = base_ep,
                                 .cmd = base_cmd,
                                 .ports = base_ports,
                                 .labels = base_labels };
        char *tool_env[] = { (char *) "PATH=/opt/bin:/usr/bin", (char *) "NEW=1=2", NULL };
        char *tool_labels[] = { (char *) "b=3", NULL };
        char *tool_ep[] = { (char *) "/usr/bin/tool", (char *) "--serve", NULL };
        char *tool_cmd[] = { NULL }; /* given and empty */
        char *tool_vol[] = { (char *) "/data", NULL };
        SpecImageConfig tool = { .user = (char *) "1000:1000",
                                 .env = tool_env,
                                 .entrypoint = tool_ep,
                                 .cmd = tool_cmd,
                                 .volumes = tool_vol,
                                 .labels = tool_labels };
        SpecImageConfig r;

        image_config_merge(&base, &tool, &r);
        ck_assert_str_eq(r.user, "1000:1000");
        ck_assert_str_eq(r.workdir, "/home");
        ck_assert_uint_eq(strv_length(r.env), 4);
        ck_assert_str_eq(r.env[0], "PATH=/opt/bin:/usr/bin");
        ck_assert_str_eq(r.env[1], "PATHX=keep");
        ck_assert_str_eq(r.env[2], "LANG=C.UTF-8");
        ck_assert_str_eq(r.env[3], "NEW=1=2");
        ck_assert_uint_eq(strv_length(r.labels), 2);
        ck_assert_str_eq(r.labels[0], "a=1");
        ck_assert_str_eq(r.labels[1], "b=3");
        ck_assert_uint_eq(strv_length(r.entrypoint), 2);
        ck_assert_str_eq(r.entrypoint[0], "/usr/bin/tool");
        ck_assert_str_eq(r.entrypoint[1], "--serve");
        ck_assert_ptr_nonnull(r.cmd);
        ck_assert_uint_eq(strv_length(r.cmd), 0);
        ck_assert_uint_eq(strv_length(r.ports), 1);
        ck_assert_str_eq(r.ports[0], "80/tcp");
        ck_assert_uint_eq(strv_length(r.volumes), 1);
        ck_assert_str_eq(r.volumes[0], "/data");
        /* copies, not the inputs */
        ck_assert_ptr_ne(r.env, base.env);
        ck_assert_ptr_ne(r.entrypoint[0], tool_ep[0]);
        spec_image_config_clear(&r);

        /* nothing from the tool: the base's, user defaulting to root */
        SpecImageConfig none = { 0 };
        base.user = NULL;
        image_config_merge(&base, &none, &r);
        ck_assert_str_eq(r.user, "0:0");
        ck_assert_uint_eq(strv_length(r.env), 3);
        ck_assert_str_eq(r.env[0], "PATH=/usr/bin");
        ck_assert_str_eq(r.entrypoint[0], "/bin/base");
        ck_assert_str_eq(r.cmd[0], "base-cmd");
        ck_assert_ptr_null(r.volumes);
        spec_image_config_clear(&r);

        /* nothing at all */
        image_config_merge(&none, &none, &r);
        ck_assert_str_eq(r.user, "0:0");
        ck_assert_ptr_null(r.env);
        ck_assert_ptr_null(r.workdir);
        ck_assert_ptr_null(r.entrypoint);
        ck_assert_ptr_null(r.cmd);
        spec_image_config_clear(&r);
}
END_TEST

START_TEST(test_image_config_cmd_rules)
{
        char *base_ep[] = { (char *) "/bin/base", NULL };
        char *base_cmd[] = { (char *) "--base", NULL };
        SpecImageConfig base = { .entrypoint = base_ep, .cmd = base_cmd };
        SpecImageConfig r;

        /* a cmd alone keeps the entrypoint below */
        char *over_cmd[] = { (char *) "--over", NULL };
        SpecImageConfig cmd_only = { .cmd = over_cmd };
        image_config_merge(&base, &cmd_only, &r);
        ck_assert_uint_eq(strv_length(r.entrypoint), 1);
        ck_assert_str_eq(r.entrypoint[0], "/bin/base");
        ck_assert_uint_eq(strv_length(r.cmd), 1);
        ck_assert_str_eq(r.cmd[0], "--over");
        spec_image_config_clear(&r);

        /* a new entrypoint without a cmd drops the inherited cmd */
        char *over_ep[] = { (char *) "/usr/bin/app", NULL };
        SpecImageConfig ep_only = { .entrypoint = over_ep };
        image_config_merge(&base, &ep_only, &r);
        ck_assert_str_eq(r.entrypoint[0], "/usr/bin/app");
        ck_assert_ptr_null(r.cmd);
        spec_image_config_clear(&r);
}
END_TEST

START_TEST(test_image_config_env_by_key)
{
        /* Only the key before the first '=' decides; a key repeated above
         * replaces the value below it in place, and the last value wins. */
        char *base_env[] = { (char *) "A=1", (char *) "AB=2", (char *) "B=x=y", NULL };
        char *over_env[] = { (char *) "B=3", (char *) "C=4", (char *) "B=5", NULL };
        char *base_labels[] = { (char *) "org.example.a=1", NULL };
        char *over_labels[] = { (char *) "org.example.a=2", (char *) "org.example.b=3", NULL };
        SpecImageConfig base = { .user = (char *) "1:1",
                                 .workdir = (char *) "/base",
                                 .env = base_env,
                                 .labels = base_labels };
        SpecImageConfig over = { .workdir = (char *) "/over", .env = over_env, .labels = over_labels };
        SpecImageConfig r;

        image_config_merge(&base, &over, &r);
        ck_assert_str_eq(r.user, "1:1");
        ck_assert_str_eq(r.workdir, "/over");
        ck_assert_uint_eq(strv_length(r.env), 4);
        ck_assert_str_eq(r.env[0], "A=1");
        ck_assert_str_eq(r.env[1], "AB=2");
        ck_assert_str_eq(r.env[2], "B=5");
        ck_assert_str_eq(r.env[3], "C=4");
        ck_assert_uint_eq(strv_length(r.labels), 2);
        ck_assert_str_eq(r.labels[0], "org.example.a=2");
        ck_assert_str_eq(r.labels[1], "org.example.b=3");
        spec_image_config_clear(&r);
}
END_TEST

static json_t *annotations_of(Layout *l, const char *name, json_t **ret_desc_annotations)
{
        json_t *desc = layout_index_find(l, name);
        ck_assert_ptr_nonnull(desc);
        *ret_desc_annotations = json_object_get(desc, "annotations");
        _cleanup_free_ char *data = NULL;
        ObError e = { 0 };
        ck_assert_msg(layout_read_blob(l, json_string_value(json_object_get(desc, "digest")), &data, NULL, &e) == 0,
                      "%s", e.msg);
        json_t *m = json_loads(data, 0, NULL);
        ck_assert_ptr_nonnull(m);
        return m;
}

static const char *ann(json_t *annotations, const char *key)
{
        return json_string_value(json_object_get(annotations, key));
}

/* A tool image whose version is its package's: the tag-safe form is the
 * image version (what `save` tags it with), the full Debian version and the
 * package sit beside it, in the manifest and in index.json. An image with a
 * version of its own has no Debian annotation. */
START_TEST(test_image_debian_annotations)
{
        char dir[256];
        test_tmpdir(dir, sizeof(dir), "image");
        _cleanup_free_ char *oci = path_join(dir, "oci");
        _cleanup_(layout_closep) Layout *l = NULL;
        ObError e = { 0 };
        ck_assert_msg(layout_open(oci, LAYOUT_CREATE, &l, &e) == 0, "%s", e.msg);

        static const char layer_blob[] = "not really a layer";
        OciLayerInfo layer = { .size = sizeof(layer_blob) - 1, .created_by = "test" };
        ck_assert_msg(layout_put_blob(l, layer_blob, layer.size, layer.digest, &e) == 0, "%s", e.msg);
        memcpy(layer.diff_id, layer.digest, sizeof(layer.digest));
        SpecImageConfig cfg = { .user = (char *) "0:0" };
        ImageResult res;

        ImageBuild git = { .name = "git",
                           .version = "2.39.5-0_deb12u3",
                           .debian_package = "git",
                           .debian_version = "1:2.39.5-0+deb12u3",
                           .description = "git",
                           .config = &cfg,
                           .layers = &layer,
                           .n_layers = 1,
                           .platform = &(Platform){ "linux", "amd64", "" } };
        ck_assert_msg(image_write(l, &git, &res, &e) == 0, "%s", e.msg);
        ImageBuild own = { .name = "own",
                           .version = "1.0",
                           .description = "own",
                           .config = &cfg,
                           .layers = &layer,
                           .n_layers = 1,
                           .platform = &(Platform){ "linux", "amd64", "" } };
        ck_assert_msg(image_write(l, &own, &res, &e) == 0, "%s", e.msg);

        json_t *desc_ann = NULL;
        _cleanup_json_ json_t *m = annotations_of(l, "git", &desc_ann);
        json_t *m_ann = json_object_get(m, "annotations");
        ck_assert_str_eq(ann(m_ann, "org.opencontainers.image.version"), "2.39.5-0_deb12u3");
        ck_assert_str_eq(ann(m_ann, IMAGE_ANNOTATION_DEBIAN_VERSION), "1:2.39.5-0+deb12u3");
        ck_assert_str_eq(ann(m_ann, IMAGE_ANNOTATION_DEBIAN_PACKAGE), "git");
        ck_assert_str_eq(ann(desc_ann, IMAGE_ANNOTATION_DEBIAN_VERSION), "1:2.39.5-0+deb12u3");
        ck_assert_str_eq(ann(desc_ann, IMAGE_ANNOTATION_DEBIAN_PACKAGE), "git");
        ck_assert_str_eq(ann(desc_ann, "io.containerd.image.name"),
                         "docker.io/library/distroless-git:2.39.5-0_deb12u3");

        _cleanup_json_ json_t *m_own = annotations_of(l, "own", &desc_ann);
        ck_assert_str_eq(ann(json_object_get(m_own, "annotations"), "org.opencontainers.image.version"), "1.0");
        ck_assert_ptr_null(json_object_get(json_object_get(m_own, "annotations"), IMAGE_ANNOTATION_DEBIAN_VERSION));
        ck_assert_ptr_null(json_object_get(desc_ann, IMAGE_ANNOTATION_DEBIAN_VERSION));
        test_rm_rf(dir);
}
END_TEST

static Suite *image_suite(void)
{
        Suite *s = suite_create("image");
        TCase *tc = tcase_create("config");
        tcase_add_test(tc, test_image_config);
        tcase_add_test(tc, test_image_config_cmd_rules);
        tcase_add_test(tc, test_image_config_env_by_key);
        suite_add_tcase(s, tc);

        tc = tcase_create("write");
        tcase_add_test(tc, test_image_debian_annotations);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return test_run(image_suite());
}
