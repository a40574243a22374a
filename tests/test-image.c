/* SPDX-License-Identifier: MIT */
/* image_config_merge(): the config of a tier on top of the one below it
 * (a tool's on the base's, an app's on its tools'). */
#include <check.h>

#include "image.h"
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
        SpecImageConfig base = { .user = (char *) "65532:65532", .env = base_env, .workdir = (char *) "/home",
                                 .entrypoint = base_ep, .cmd = base_cmd, .ports = base_ports, .labels = base_labels };
        char *tool_env[] = { (char *) "PATH=/opt/bin:/usr/bin", (char *) "NEW=1=2", NULL };
        char *tool_labels[] = { (char *) "b=3", NULL };
        char *tool_ep[] = { (char *) "/usr/bin/tool", (char *) "--serve", NULL };
        char *tool_cmd[] = { NULL };       /* given and empty */
        char *tool_vol[] = { (char *) "/data", NULL };
        SpecImageConfig tool = { .user = (char *) "1000:1000", .env = tool_env, .entrypoint = tool_ep,
                                 .cmd = tool_cmd, .volumes = tool_vol, .labels = tool_labels };
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
        SpecImageConfig base = { .user = (char *) "1:1", .workdir = (char *) "/base", .env = base_env,
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

static Suite *image_suite(void)
{
        Suite *s = suite_create("image");
        TCase *tc = tcase_create("config");
        tcase_add_test(tc, test_image_config);
        tcase_add_test(tc, test_image_config_cmd_rules);
        tcase_add_test(tc, test_image_config_env_by_key);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return test_run(image_suite());
}
