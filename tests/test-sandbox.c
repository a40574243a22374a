/* SPDX-License-Identifier: MIT */
/* Running commands in an unpacked image, where this machine allows
 * namespaces: the image's user, environment, /dev, /proc, host name,
 * network, test files, and each way a step fails. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elf.h"
#include "layout.h"
#include "plan.h"
#include "sandbox.h"
#include "sysroot.h"
#include "testimage.h"
#include "testutil.h"
#include "unpack.h"
#include "util.h"

static void tmp_setup(void)
{
        test_image_setup("sandbox");
}

static void tmp_teardown(void)
{
        test_image_teardown();
}

/* An image with a few host programs and their libraries, found the way the
 * tool tier finds them. */
static void add_host_programs(Plan *p, const char *const *programs)
{
        Sysroot *sr = NULL;
        ElfClosure *c = NULL;
        ObError err = { 0 };
        ck_assert_msg(sysroot_open("/", &sr, &err) == 0, "%s", err.msg);
        ck_assert_msg(elf_closure_new(sr, &c, &err) == 0, "%s", err.msg);
        for (size_t i = 0; programs[i]; i++)
                ck_assert_msg(elf_closure_add(c, programs[i], ELF_CLOSURE_MUST_BE_ELF, &err) == 0, "%s", err.msg);
        for (size_t i = 0; i < elf_closure_count(c); i++) {
                const ElfDep *d = elf_closure_get(c, i);
                if (d->type == ELF_DEP_SYMLINK) {
                        add(p, &(Entry){ .path = d->path, .type = ENTRY_SYMLINK, .mode = 0777,
                                         .target = d->target });
                        continue;
                }
                struct stat st;
                ck_assert_int_eq(stat(d->path, &st), 0);
                add(p, &(Entry){ .path = d->path, .type = ENTRY_FILE, .mode = st.st_mode & 0755,
                                 .size = (uint64_t) st.st_size, .source = d->path });
        }
        elf_closure_free(c);
        sysroot_free(sr);
}

typedef struct StepImage {
        Layout *l;
        char *root;
        UnpackedImage img;
} StepImage;

static bool step_image(StepImage *s)
{
        static const char *const programs[] = { "/usr/bin/id",   "/usr/bin/env",   "/usr/bin/ls", "/usr/bin/cat",
                                                "/usr/bin/sleep", "/usr/bin/false", "/usr/bin/pwd", NULL };
        ObError err = { 0 };
        if (geteuid() != 0 || sandbox_check_namespaces(&err) < 0) {
                fprintf(stderr, "skipping the steps: %s\n", geteuid() ? "not root" : err.msg);
                return false;
        }
        Plan p;
        OciLayerInfo layer;
        *s = (StepImage){ .l = new_layout("steps-oci"), .root = test_dir("steps-root") };
        plan_init(&p);
        add_base(&p);
        add_host_programs(&p, programs);
        write_plan_layer(s->l, &p, &layer);
        plan_clear(&p);
        write_image(s->l, "steps", "nonroot", &layer, 1);
        ck_assert_msg(unpack_image(s->l, "steps", s->root, &s->img, &err) == 0, "%s", err.msg);
        return true;
}

static void step_image_free(StepImage *s)
{
        unpacked_image_clear(&s->img);
        layout_close(s->l);
        free(s->root);
}

static void run(StepImage *s, const char *const *argv, const char *const *env, const char *expect,
                unsigned timeout, StepResult *res)
{
        ObError err = { 0 };
        ck_assert_msg(sandbox_run_step(s->root, &s->img, (char *const *) argv, (char *const *) env, expect, timeout,
                                       res, &err) == 0,
                      "%s", err.msg);
}

static void expect_pass(StepImage *s, const char *const *argv, const char *const *env, const char *expect)
{
        StepResult res = { 0 };
        run(s, argv, env, expect, 30, &res);
        ck_assert_msg(res.passed, "%s: %s; output: %s", argv[0], res.why, res.output ? res.output : "");
        step_result_clear(&res);
}

static void expect_failure(StepImage *s, const char *const *argv, const char *expect, unsigned timeout,
                           const char *why)
{
        StepResult res = { 0 };
        run(s, argv, NULL, expect, timeout, &res);
        ck_assert_msg(!res.passed, "%s passed", argv[0]);
        ck_assert_msg(strstr(res.why, why) != NULL, "'%s' not in '%s'", why, res.why);
        step_result_clear(&res);
}

START_TEST(test_run_steps)
{
        StepImage s;
        if (!step_image(&s))
                return;
        ObError err = { 0 };

        /* The image's user, resolved from its own /etc/passwd and /etc/group. */
        expect_pass(&s, (const char *const[]){ "/usr/bin/id", NULL }, NULL,
                    "uid=1000(nonroot) gid=1000(nonroot) groups=1000(nonroot),2000(extra)");
        expect_pass(&s, (const char *const[]){ "/usr/bin/pwd", NULL }, NULL, "/home/nonroot");
        /* The environment: the image's, the test's over it, HOME added; a
         * command without a '/' is found on the image's PATH. */
        const char *const env[] = { "A=2", "B=3", NULL };
        expect_pass(&s, (const char *const[]){ "env", NULL }, env, "PATH=/usr/bin:/bin\nA=2\nB=3\nHOME=/home/nonroot\n");
        /* /dev, /proc of its own pid namespace, its own host name, and
         * nothing but a loopback interface. */
        expect_pass(&s, (const char *const[]){ "/usr/bin/ls", "/dev", NULL }, NULL, "urandom");
        expect_pass(&s, (const char *const[]){ "/usr/bin/cat", "/proc/self/stat", NULL }, NULL, "1 (cat)");
        expect_pass(&s, (const char *const[]){ "/usr/bin/cat", "/proc/sys/kernel/hostname", NULL }, NULL, "steps");
        StepResult res = { 0 };
        run(&s, (const char *const[]){ "/usr/bin/cat", "/proc/net/dev", NULL }, NULL, "lo:", 30, &res);
        ck_assert_msg(res.passed, "%s", res.why);
        size_t colons = 0;
        for (size_t i = 0; i < res.output_size; i++)
                colons += res.output[i] == ':';
        ck_assert_msg(colons == 1, "more than the loopback interface: %s", res.output);
        step_result_clear(&res);

        /* Files of the test, owned by the image's user; state persists. */
        char *const files[] = { (char *) "/tmp/dir/file.txt=made for the test\n", NULL };
        ck_assert_msg(sandbox_create_files(s.root, &s.img, files, &err) == 0, "%s", err.msg);
        check_stat(s.root, "tmp/dir", S_IFDIR, 0755, 1000, 1000);
        check_stat(s.root, "tmp/dir/file.txt", S_IFREG, 0644, 1000, 1000);
        expect_pass(&s, (const char *const[]){ "/usr/bin/cat", "/tmp/dir/file.txt", NULL }, NULL, "made for the test");
        char *const outside[] = { (char *) "/etc/passwd=x", NULL };
        ck_assert_int_eq(sandbox_create_files(s.root, &s.img, outside, &err), -EINVAL);

        /* Failures, each with its reason. */
        expect_failure(&s, (const char *const[]){ "/usr/bin/false", NULL }, NULL, 30, "exit status 1");
        expect_failure(&s, (const char *const[]){ "/usr/bin/id", NULL }, "uid=0", 30, "does not contain \"uid=0\"");
        expect_failure(&s, (const char *const[]){ "/nope", NULL }, NULL, 30, "cannot execute '/nope'");
        expect_failure(&s, (const char *const[]){ "nope", NULL }, NULL, 30, "'nope' is not in the image's PATH");
        expect_failure(&s, (const char *const[]){ "/usr/bin/sleep", "30", NULL }, NULL, 1, "timed out after 1 s");

        step_image_free(&s);
}
END_TEST

static Suite *sandbox_suite(void)
{
        Suite *s = suite_create("sandbox");
        TCase *tc = tcase_create("steps");
        tcase_set_timeout(tc, 60);
        tcase_add_unchecked_fixture(tc, tmp_setup, tmp_teardown);
        tcase_add_test(tc, test_run_steps);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return test_run(sandbox_suite());
}
