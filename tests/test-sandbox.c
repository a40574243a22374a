/* SPDX-License-Identifier: MIT */
/* Running commands in an unpacked image, where this machine allows
 * namespaces: the image's user, environment, /dev, /proc, host name,
 * network, test files, and each way a step fails. */
#include <check.h>
#include <dirent.h>
#include <grp.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "elf.h"
#include "fs.h"
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
                        add(p, &(Entry){ .path = d->path, .type = ENTRY_SYMLINK, .mode = 0777, .target = d->target });
                        continue;
                }
                struct stat st;
                ck_assert_int_eq(stat(d->path, &st), 0);
                add(p, &(Entry){ .path = d->path,
                                 .type = ENTRY_FILE,
                                 .mode = st.st_mode & 0755,
                                 .size = (uint64_t) st.st_size,
                                 .source = d->path });
        }
        elf_closure_free(c);
        sysroot_free(sr);
}

/* A static program that tries what a container must not do and says how
 * each attempt ended ("keyctl=EPERM"), or opens /dev/stdout and /dev/stderr
 * as a daemon logging to them does. */
static const char probe_source[] =
        "#define _GNU_SOURCE\n"
        "#include <errno.h>\n#include <fcntl.h>\n#include <sched.h>\n#include <stdio.h>\n"
        "#include <string.h>\n#include <unistd.h>\n#include <signal.h>\n#include <sys/mount.h>\n"
        "#include <sys/syscall.h>\n#include <linux/keyctl.h>\n"
        "static void say(const char *what, long r) {\n"
        "        printf(\"%s=%s\\n\", what, r < 0 ? strerrorname_np(errno) : \"allowed\");\n"
        "}\n"
        "int main(int argc, char **argv) {\n"
        "        if (argc > 1 && strcmp(argv[1], \"stdio\") == 0) {\n"
        "                int o = open(\"/dev/stdout\", O_WRONLY), e = open(\"/dev/stderr\", O_WRONLY);\n"
        "                if (o < 0 || e < 0) { perror(\"open /dev/stdout or /dev/stderr\"); return 1; }\n"
        "                dprintf(o, \"reopened stdout as %u\\n\", getuid());\n"
        "                dprintf(e, \"reopened stderr as %u\\n\", getuid());\n"
        "                return 0;\n"
        "        }\n"
        "        say(\"keyctl\", syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0));\n"
        "        say(\"add_key\", syscall(SYS_add_key, \"user\", \"probe\", \"x\", 1, KEY_SPEC_SESSION_KEYRING));\n"
        "        say(\"ptrace\", syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0));\n"
        "        say(\"mount\", mount(\"none\", \"/tmp\", \"tmpfs\", 0, NULL));\n"
        "        say(\"unshare\", unshare(CLONE_NEWUSER));\n"
        "        say(\"bpf\", syscall(SYS_bpf, 0, NULL, 0));\n"
        "        long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);\n"
        "        if (pid == 0) _exit(0);\n"
        "        say(\"clone(CLONE_NEWUSER)\", pid);\n"
        "        return 0;\n"
        "}\n";

#define PROBE_DENIED                                                                         \
        "keyctl=EPERM\nadd_key=EPERM\nptrace=EPERM\nmount=EPERM\nunshare=EPERM\nbpf=EPERM\n" \
        "clone(CLONE_NEWUSER)=EPERM\n"

/* Compiles the probe into the image's /usr/bin/probe; false (and says why)
 * where there is no compiler or static C library. */
static bool add_probe(Plan *p)
{
        char *src = xasprintf("%s/probe.c", test_image_tmpdir());
        char *bin = xasprintf("%s/probe", test_image_tmpdir());
        ObError err = { 0 };
        ck_assert_msg(write_file_atomic(src, probe_source, strlen(probe_source), 0644, &err) == 0, "%s", err.msg);
        char *cmd = xasprintf("cc -static -o %s %s 2>&1", bin, src);
        bool built = system(cmd) == 0;
        if (built) {
                struct stat st;
                ck_assert_int_eq(stat(bin, &st), 0);
                add(p, &(Entry){ .path = (char *) "/usr/bin/probe",
                                 .type = ENTRY_FILE,
                                 .mode = 0755,
                                 .size = (uint64_t) st.st_size,
                                 .source = bin });
        } else
                fprintf(stderr, "# SKIP the seccomp and /dev/stdout checks: 'cc -static' failed\n");
        free(cmd);
        free(src);
        free(bin);
        return built;
}

typedef struct StepImage {
        Layout *l;
        char *root;
        UnpackedImage img;
        bool probe;         /* /usr/bin/probe is in the image */
        char *root_as_root; /* the same layer, as an image whose User is root */
        UnpackedImage img_as_root;
} StepImage;

static void step_image(StepImage *s)
{
        static const char *const programs[] = { "/usr/bin/id",    "/usr/bin/env",   "/usr/bin/ls",  "/usr/bin/cat",
                                                "/usr/bin/sleep", "/usr/bin/false", "/usr/bin/pwd", NULL };
        ObError err = { 0 };
        if (geteuid() != 0)
                test_skip("not root: the steps run in new namespaces");
        if (sandbox_check_namespaces(&err) < 0)
                test_skip("%s", err.msg);
        Plan p;
        OciLayerInfo layer;
        /* The tests share one temporary directory (and may each run in a
         * process of their own): names of their own. */
        static unsigned count;
        unsigned made = (unsigned) getpid() * 100 + ++count;
        char name[64];
        snprintf(name, sizeof(name), "steps-oci-%u", made);
        *s = (StepImage){ .l = new_layout(name) };
        snprintf(name, sizeof(name), "steps-root-%u", made);
        s->root = test_dir(name);
        plan_init(&p);
        add_base(&p);
        add_host_programs(&p, programs);
        s->probe = add_probe(&p);
        write_plan_layer(s->l, &p, &layer);
        plan_clear(&p);
        write_image(s->l, "steps", "nonroot", &layer, 1);
        write_image(s->l, "steps-root", "", &layer, 1);
        ck_assert_msg(unpack_image(s->l, "steps", s->root, &s->img, &err) == 0, "%s", err.msg);
        snprintf(name, sizeof(name), "steps-root-root-%u", made);
        s->root_as_root = test_dir(name);
        ck_assert_msg(unpack_image(s->l, "steps-root", s->root_as_root, &s->img_as_root, &err) == 0, "%s", err.msg);
}

static void step_image_free(StepImage *s)
{
        unpacked_image_clear(&s->img);
        unpacked_image_clear(&s->img_as_root);
        layout_close(s->l);
        free(s->root);
        free(s->root_as_root);
}

static void run(StepImage *s, const char *const *argv, const char *const *env, const char *expect, unsigned timeout,
                StepResult *res)
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

static void expect_failure(StepImage *s, const char *const *argv, const char *expect, unsigned timeout, const char *why)
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
        step_image(&s);
        ObError err = { 0 };

        /* The image's user, resolved from its own /etc/passwd and /etc/group. */
        expect_pass(&s, (const char *const[]){ "/usr/bin/id", NULL }, NULL,
                    "uid=1000(nonroot) gid=1000(nonroot) groups=1000(nonroot),2000(extra)");
        expect_pass(&s, (const char *const[]){ "/usr/bin/pwd", NULL }, NULL, "/home/nonroot");
        /* The environment: the image's, the test's over it, HOME added; a
         * command without a '/' is found on the image's PATH. */
        const char *const env[] = { "A=2", "B=3", NULL };
        expect_pass(&s, (const char *const[]){ "env", NULL }, env,
                    "PATH=/usr/bin:/bin\nA=2\nB=3\nHOME=/home/nonroot\n");
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

/* Runs the probe and a listing of /dev in s's image (as_root: in the image
 * whose User is root) and returns what they printed. */
static char *probe_output(StepImage *s, bool as_root, const char *arg)
{
        StepResult res = { 0 };
        ObError err = { 0 };
        const char *const argv[] = { "/usr/bin/probe", arg, NULL };
        ck_assert_msg(sandbox_run_step(as_root ? s->root_as_root : s->root, as_root ? &s->img_as_root : &s->img,
                                       (char *const *) argv, NULL, NULL, 30, &res, &err) == 0,
                      "%s", err.msg);
        ck_assert_msg(res.passed, "probe %s: %s: %s", arg ? arg : "", res.why, res.output ? res.output : "");
        char *out = xstrdup(res.output ? res.output : "");
        step_result_clear(&res);
        return out;
}

START_TEST(test_container_rules)
{
        StepImage s;
        step_image(&s);
        /* What runc gives: devices, links, its own pts, shm and mqueue. */
        StepResult res = { 0 };
        run(&s, (const char *const[]){ "/usr/bin/ls", "-1", "/dev", NULL }, NULL, NULL, 30, &res);
        ck_assert_msg(res.passed, "%s", res.why);
        static const char *const dev[] = { "core", "fd",     "full",  "mqueue", "null", "ptmx",    "pts", "random",
                                           "shm",  "stderr", "stdin", "stdout", "tty",  "urandom", "zero" };
        for (size_t i = 0; i < ELEMENTSOF(dev); i++) {
                char *line = xasprintf("\n%s\n", dev[i]);
                char *out = xasprintf("\n%s", res.output);
                ck_assert_msg(strstr(out, line), "no /dev/%s in: %s", dev[i], res.output);
                free(out);
                free(line);
        }
        step_result_clear(&res);
        if (!s.probe) {
                step_image_free(&s);
                test_skip("'cc -static' failed: the seccomp and /dev/stdout checks need the probe");
        }
        /* A daemon that logs to /dev/stdout as the image's user (nginx). */
        char *out = probe_output(&s, /* as_root= */ false, "stdio");
        ck_assert_str_eq(out, "reopened stdout as 1000\nreopened stderr as 1000\n");
        free(out);
        /* The seccomp filter, for the image's user and for root, who would
         * otherwise read root's keyring and trace. */
        out = probe_output(&s, /* as_root= */ false, NULL);
        ck_assert_str_eq(out, PROBE_DENIED);
        free(out);
        out = probe_output(&s, /* as_root= */ true, NULL);
        ck_assert_str_eq(out, PROBE_DENIED);
        free(out);
        step_image_free(&s);
}
END_TEST

/* The pids of processes whose command line is argv. */
static size_t count_processes(const char *const *argv)
{
        size_t n = 0, want = 0;
        char expect[256];
        for (size_t i = 0; argv[i]; i++) {
                size_t k = strlen(argv[i]) + 1;
                memcpy(expect + want, argv[i], k);
                want += k;
        }
        DIR *d = opendir("/proc");
        ck_assert_ptr_nonnull(d);
        for (struct dirent *de; (de = readdir(d));) {
                char path[300], buf[256];
                if (de->d_name[0] < '1' || de->d_name[0] > '9')
                        continue;
                snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
                FILE *f = fopen(path, "re");
                if (!f)
                        continue;
                size_t got = fread(buf, 1, sizeof(buf), f);
                fclose(f);
                n += got == want && memcmp(buf, expect, want) == 0;
        }
        closedir(d);
        return n;
}

static bool wait_processes(const char *const *argv, size_t want, double seconds)
{
        for (int i = 0; i < (int) (seconds * 20); i++) {
                if (count_processes(argv) == want)
                        return true;
                nanosleep(&(struct timespec){ 0, 50 * 1000 * 1000 }, NULL);
        }
        return false;
}

/* SIGKILL of the process running a step cannot be caught: the step must
 * die with it, not run on in its namespaces. */
START_TEST(test_step_dies_with_caller)
{
        StepImage s;
        step_image(&s);
        /* An argument of its own: no other sleep matches. */
        char seconds[32];
        snprintf(seconds, sizeof(seconds), "%ld", 100000L + (long) getpid());
        const char *const argv[] = { "/usr/bin/sleep", seconds, NULL };
        ck_assert_uint_eq(count_processes(argv), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                StepResult res = { 0 };
                ObError err = { 0 };
                sandbox_run_step(s.root, &s.img, (char *const *) argv, NULL, NULL, 60, &res, &err);
                _exit(0);
        }
        ck_assert_msg(wait_processes(argv, 1, 10), "the step did not start");
        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
        ck_assert_msg(wait_processes(argv, 0, 5), "the step outlived its caller");
        step_image_free(&s);
}
END_TEST

/* Unclaimed, claimed by a live owner, and left by a dead one. */
START_TEST(test_claim_dir)
{
        ObError err = { 0 };
        char *dir = test_dir("claimed");
        int fd = -1;
        ck_assert_int_eq(sandbox_dir_abandoned(dir), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                /* Claims, then dies without cleaning up. */
                _exit(sandbox_claim_dir(dir, &fd, &err) == 0 ? 0 : 1);
        }
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_int_eq(status, 0);
        ck_assert_int_eq(sandbox_dir_abandoned(dir), 1);
        char *other = test_dir("claimed-live");
        ck_assert_msg(sandbox_claim_dir(other, &fd, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(sandbox_dir_abandoned(other), 0);
        close(fd);
        ck_assert_int_eq(sandbox_dir_abandoned(other), 1);
        free(other);
        free(dir);
}
END_TEST

/* An ordinary user (nobody) unpacks and runs the steps in a user namespace
 * of its own, as the image's user. Reported through a pipe: the checks run
 * here, in the parent. */
START_TEST(test_ordinary_user)
{
        StepImage s;
        step_image(&s);
        ck_assert_int_eq(chmod(test_image_tmpdir(), 0755), 0);
        char *root = test_dir("nobody-root");
        char *root_as_root = test_dir("nobody-root-root");
        ck_assert_int_eq(chown(root, 65534, 65534), 0);
        ck_assert_int_eq(chown(root_as_root, 65534, 65534), 0);
        int pfd[2];
        ck_assert_int_eq(pipe(pfd), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                close(pfd[0]);
                ObError err = { 0 };
                UnpackedImage img = { 0 }, img_as_root = { 0 };
                StepResult a = { 0 }, b = { 0 }, c = { 0 };
                /* As after an exec: a process that changed its ids is not
                 * dumpable, and its /proc/self/uid_map would stay root's. */
                if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0 ||
                    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
                        _exit(2);
                char *const id[] = { (char *) "/usr/bin/id", NULL };
                char *const probe[] = { (char *) "/usr/bin/probe", NULL };
                char *const stdio[] = { (char *) "/usr/bin/probe", (char *) "stdio", NULL };
                char *const files[] = { (char *) "/tmp/f=x", NULL };
                if (sandbox_check_namespaces(&err) < 0 || unpack_image(s.l, "steps", root, &img, &err) < 0 ||
                    unpack_image(s.l, "steps-root", root_as_root, &img_as_root, &err) < 0 ||
                    sandbox_create_files(root, &img, files, &err) < 0 ||
                    sandbox_run_step(root, &img, id, NULL, NULL, 30, &a, &err) < 0 ||
                    (s.probe && sandbox_run_step(root, &img, stdio, NULL, NULL, 30, &b, &err) < 0) ||
                    (s.probe && sandbox_run_step(root_as_root, &img_as_root, probe, NULL, NULL, 30, &c, &err) < 0)) {
                        dprintf(pfd[1], "error: %s", err.msg);
                        _exit(1);
                }
                dprintf(pfd[1], "%s%s%s", a.output ? a.output : "", b.output ? b.output : "", c.output ? c.output : "");
                _exit(0);
        }
        close(pfd[1]);
        char buf[4096];
        size_t n = 0;
        for (ssize_t k; (k = read(pfd[0], buf + n, sizeof(buf) - 1 - n)) > 0;)
                n += (size_t) k;
        buf[n] = '\0';
        close(pfd[0]);
        int status;
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "as nobody: %s", buf);
        /* The image's user, without its supplementary group: an ordinary
         * user cannot map one. */
        const char *want = s.probe ? "uid=1000(nonroot) gid=1000(nonroot) groups=1000(nonroot)\n"
                                     "reopened stdout as 1000\nreopened stderr as 1000\n" PROBE_DENIED
                                   : "uid=1000(nonroot) gid=1000(nonroot) groups=1000(nonroot)\n";
        ck_assert_str_eq(buf, want);
        /* The test's files belong to that user, who is nobody outside. */
        check_stat(root, "tmp/f", S_IFREG, 0644, 65534, 65534);
        free(root);
        free(root_as_root);
        bool probe = s.probe;
        step_image_free(&s);
        if (!probe)
                test_skip("'cc -static' failed: the probe's checks as an ordinary user did not run");
}
END_TEST

static Suite *sandbox_suite(void)
{
        Suite *s = suite_create("sandbox");
        TCase *tc = tcase_create("steps");
        tcase_set_timeout(tc, 60);
        tcase_add_unchecked_fixture(tc, tmp_setup, tmp_teardown);
        tcase_add_test(tc, test_run_steps);
        tcase_add_test(tc, test_container_rules);
        tcase_add_test(tc, test_step_dies_with_caller);
        tcase_add_test(tc, test_claim_dir);
        tcase_add_test(tc, test_ordinary_user);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return test_run(sandbox_suite());
}
