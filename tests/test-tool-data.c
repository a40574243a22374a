/* SPDX-License-Identifier: MIT */
/* The data layer of a tool: a host command run at build time into a
 * temporary directory, its result planned, the directory removed on
 * failure, and the exact message for each way the command can fail. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "path.h"
#include "plan.h"
#include "process.h"
#include "spec.h"
#include "testutil.h"
#include "tool.h"
#include "util.h"

static char *tmp_dir; /* everything the tests write */

/* ---- helpers ---------------------------------------------------------- */

/* A config written for one test; returns its path. */
static char *write_config(const char *name, const char *text)
{
        char *p = xasprintf("%s/%s.yml", tmp_dir, name);
        ObError err = { 0 };
        ck_assert_msg(write_file_atomic(p, text, strlen(text), 0644, &err) == 0, "%s", err.msg);
        return p;
}

static Spec *load_tool(const char *path)
{
        ObError err = { 0 };
        Spec *s = NULL;
        ck_assert_msg(spec_load_tool(path, &s, &err) == 0, "%s", err.msg);
        ck_assert_ptr_nonnull(s);
        return s;
}

static const Entry *must_find(const Plan *p, const char *path, EntryType type)
{
        const Entry *e = plan_find(p, path);
        ck_assert_msg(e != NULL, "'%s' is not in the plan", path);
        ck_assert_msg(e->type == type, "'%s' has type %d, expected %d", path, (int) e->type, (int) type);
        return e;
}

static void assert_why(const Entry *e, const char *why)
{
        ck_assert_ptr_nonnull(e->why);
        ck_assert_msg(strcmp(e->why, why) == 0, "'%s': why is '%s', expected '%s'", e->path, e->why, why);
}

static void assert_sorted(const Plan *p)
{
        for (size_t i = 1; i < p->n; i++)
                ck_assert_msg(path_compare(p->entries[i - 1].path, p->entries[i].path) < 0, "'%s' before '%s'",
                              p->entries[i - 1].path, p->entries[i].path);
}

static size_t count_dir(const char *path)
{
        DIR *d = opendir(path);
        ck_assert_msg(d != NULL, "cannot open %s", path);
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        n++;
        closedir(d);
        return n;
}

/* ---- tool_data_plan ---------------------------------------------------- */

/* A private TMPDIR for one test, so what tool_data_plan leaves behind can
 * be counted; restored by restore_tmpdir(). */
static char *saved_tmpdir;

static char *private_tmpdir(const char *name)
{
        const char *old = getenv("TMPDIR");
        saved_tmpdir = old ? xstrdup(old) : NULL;
        char *d = xasprintf("%s/%s", tmp_dir, name);
        ck_assert_int_eq(mkdir(d, 0755), 0);
        ck_assert_int_eq(setenv("TMPDIR", d, 1), 0);
        return d;
}

static void restore_tmpdir(void)
{
        if (saved_tmpdir)
                setenv("TMPDIR", saved_tmpdir, 1);
        else
                unsetenv("TMPDIR");
        free(saved_tmpdir);
        saved_tmpdir = NULL;
}

static char *file_text(const char *path)
{
        char *text = NULL;
        ObError e = { 0 };
        ck_assert_msg(read_file(path, &text, NULL, &e) == 0, "%s", e.msg);
        return text;
}

START_TEST(test_data_plan)
{
        _cleanup_free_ char *tmp = private_tmpdir("data-ok");
        _cleanup_free_ char *cfg = write_config(
                "data-ok", "name: d\nversion: \"1\"\ndescription: d\nbinaries: [/usr/bin/d]\n"
                           "data:\n"
                           "  path: /var/lib/d/data\n"
                           "  owner: \"1000:1001\"\n"
                           "  mode: \"0750\"\n"
                           "  password: s3cret\n"
                           "  command: [/bin/sh, -c, \"echo x > {dir}/f && mkdir {dir}/sub && echo y > {dir}/sub/g "
                           "&& cat {password_file} > {dir}/pw && pwd > {dir}/cwd\"]\n"
                           "  append:\n"
                           "    f: \"more\\n\"\n");
        Spec *s = load_tool(cfg);
        ck_assert_ptr_null(s->data.run_as);
        ObError e = { 0 };
        Plan p;
        char *dir = NULL;
        plan_init(&p);

        ck_assert_msg(tool_data_plan(s, 77, &p, &dir, &e) == 0, "%s", e.msg);
        ck_assert_ptr_nonnull(dir);
        ck_assert(str_startswith(dir, tmp));
        assert_sorted(&p);

        const Entry *top = must_find(&p, "var/lib/d/data", ENTRY_DIR);
        ck_assert_uint_eq(top->mode, 0750);
        ck_assert_uint_eq(top->uid, 1000);
        ck_assert_uint_eq(top->gid, 1001);
        assert_why(top, "made at build time by data.command");
        const Entry *f = must_find(&p, "var/lib/d/data/f", ENTRY_FILE);
        ck_assert_uint_eq(f->uid, 1000);
        ck_assert_uint_eq(f->gid, 1001);
        ck_assert_uint_eq(f->size, 7);
        _cleanup_free_ char *ftext = file_text(f->source);
        ck_assert_str_eq(ftext, "x\nmore\n");
        const Entry *sub = must_find(&p, "var/lib/d/data/sub", ENTRY_DIR);
        ck_assert_uint_eq(sub->uid, 1000);
        ck_assert_uint_eq(must_find(&p, "var/lib/d/data/sub/g", ENTRY_FILE)->gid, 1001);
        _cleanup_free_ char *pw = file_text(must_find(&p, "var/lib/d/data/pw", ENTRY_FILE)->source);
        ck_assert_str_eq(pw, "s3cret");
        /* the command ran inside the data directory */
        _cleanup_free_ char *cwd = file_text(must_find(&p, "var/lib/d/data/cwd", ENTRY_FILE)->source);
        _cleanup_free_ char *want_cwd = xasprintf("%s/data\n", dir);
        ck_assert_str_eq(cwd, want_cwd);
        /* parents belong to root; nothing but the data directory is planned */
        const Entry *parent = must_find(&p, "var/lib/d", ENTRY_DIR);
        assert_why(parent, "parent directory");
        ck_assert_uint_eq(parent->uid, 0);
        ck_assert_int_eq(parent->mtime, 77);
        ck_assert_uint_eq(p.n, 9); /* var, var/lib, var/lib/d, data, cwd, f, pw, sub, sub/g */

        /* the password file and the log are gone before the layer is written */
        _cleanup_free_ char *pwfile = xasprintf("%s/password", dir);
        _cleanup_free_ char *log = xasprintf("%s/log", dir);
        ck_assert_int_ne(access(pwfile, F_OK), 0);
        ck_assert_int_ne(access(log, F_OK), 0);

        ck_assert_uint_eq(count_dir(tmp), 1);
        tool_data_cleanup(dir);
        ck_assert_uint_eq(count_dir(tmp), 0);
        tool_data_cleanup(NULL);

        plan_clear(&p);
        spec_free(s);
        restore_tmpdir();
}
END_TEST

static void expect_data_failure(const char *name, const char *data_yaml, int code, const char *want_tail)
{
        _cleanup_free_ char *tmp = private_tmpdir(name);
        _cleanup_free_ char *text = xasprintf("name: d\nversion: \"1\"\ndescription: d\nbinaries: [/usr/bin/d]\n"
                                              "data:\n  path: /var/lib/d\n%s",
                                              data_yaml);
        _cleanup_free_ char *cfg = write_config(name, text);
        Spec *s = load_tool(cfg);
        ObError e = { 0 };
        Plan p;
        char *dir = NULL;
        plan_init(&p);
        int r = tool_data_plan(s, 0, &p, &dir, &e);
        ck_assert_msg(r == -code, "%s: %d (%s)", name, r, e.msg);
        ck_assert_ptr_null(dir);
        ck_assert_uint_eq(p.n, 0);
        _cleanup_free_ char *want = xasprintf("%s: %s", cfg, want_tail);
        ck_assert_msg(strcmp(e.msg, want) == 0, "%s:\n  got:      %s\n  expected: %s", name, e.msg, want);
        /* the temporary directory is removed on failure */
        ck_assert_uint_eq(count_dir(tmp), 0);
        spec_free(s);
        restore_tmpdir();
}

START_TEST(test_data_plan_failures)
{
        /* the exit status and the tail of the output, on one line */
        expect_data_failure("data-exit", "  command: [/bin/sh, -c, \"echo first; echo boom >&2; exit 3\"]\n", EIO,
                            "data.command '/bin/sh' failed (exit status 3): first boom");
        expect_data_failure("data-signal", "  command: [/bin/sh, -c, \"kill -9 $$\"]\n", EIO,
                            "data.command '/bin/sh' failed (signal 9): ");
        expect_data_failure("data-noexec", "  command: [/nonexistent/initdb]\n", EIO,
                            "data.command '/nonexistent/initdb' failed (exit status 127): cannot run "
                            "/nonexistent/initdb: No such file or directory");
        expect_data_failure("data-user", "  command: [/bin/true]\n  run_as: no-such-user-here\n", ENOENT,
                            "data.run_as: no host user 'no-such-user-here'");
        expect_data_failure("data-append", "  command: [/bin/true]\n  append: {missing.conf: x}\n", ENOENT,
                            "data.append: cannot append to 'missing.conf': No such file or directory");
}
END_TEST

START_TEST(test_data_plan_long_output)
{
        /* Only the last 300 bytes of a long output are kept. */
        _cleanup_free_ char *tmp = private_tmpdir("data-long");
        _cleanup_free_ char *cfg = write_config(
                "data-long", "name: d\nversion: \"1\"\ndescription: d\nbinaries: [/usr/bin/d]\n"
                             "data:\n  path: /var/lib/d\n"
                             "  command: [/bin/sh, -c, \"i=0; while [ $i -lt 200 ]; do echo line$i; i=$((i+1)); "
                             "done; exit 1\"]\n");
        Spec *s = load_tool(cfg);
        ObError e = { 0 };
        Plan p;
        char *dir = NULL;
        plan_init(&p);
        ck_assert_int_eq(tool_data_plan(s, 0, &p, &dir, &e), -EIO);
        ck_assert_msg(str_endswith(e.msg, "line198 line199"), "%s", e.msg);
        ck_assert_ptr_null(strstr(e.msg, "line0 "));
        ck_assert_ptr_null(strchr(e.msg, '\n'));
        ck_assert_uint_eq(count_dir(tmp), 0);
        spec_free(s);
        restore_tmpdir();
}
END_TEST

/* ---- tool_data_start / tool_data_finish ---------------------------------- */

static Spec *data_tool(const char *name, const char *command_yaml)
{
        _cleanup_free_ char *text = xasprintf("name: d\nversion: \"1\"\ndescription: d\nbinaries: [/usr/bin/d]\n"
                                              "data:\n  path: /var/lib/d\n  command: %s\n",
                                              command_yaml);
        _cleanup_free_ char *cfg = write_config(name, text);
        return load_tool(cfg);
}

START_TEST(test_data_start_finish)
{
        /* The command waits for a file the test makes only after
         * tool_data_start() returned: a start that waited would hang. */
        _cleanup_free_ char *tmp = private_tmpdir("data-async");
        _cleanup_free_ char *go = xasprintf("%s/go", tmp_dir);
        _cleanup_free_ char *cmd =
                xasprintf("[/bin/sh, -c, \"while [ ! -e %s ]; do sleep 0.01; done; echo made > out\"]", go);
        Spec *s = data_tool("data-async", cmd);
        ObError e = { 0 };
        ToolData *d = NULL;
        ck_assert_msg(tool_data_start(s, &d, &e) == 0, "%s", e.msg);
        ck_assert_ptr_nonnull(d);
        ck_assert_uint_eq(count_dir(tmp), 1);
        ck_assert_msg(write_file_atomic(go, "", 0, 0644, &e) == 0, "%s", e.msg);

        Plan p;
        char *dir = NULL;
        plan_init(&p);
        ck_assert_msg(tool_data_finish(d, 5, &p, &dir, &e) == 0, "%s", e.msg);
        const Entry *out = must_find(&p, "var/lib/d/out", ENTRY_FILE);
        _cleanup_free_ char *text = file_text(out->source);
        ck_assert_str_eq(text, "made\n");
        ck_assert_uint_eq(count_dir(tmp), 1);
        tool_data_cleanup(dir);
        ck_assert_uint_eq(count_dir(tmp), 0);
        unlink(go);
        plan_clear(&p);
        spec_free(s);
        restore_tmpdir();
}
END_TEST

START_TEST(test_data_finish_failure)
{
        /* The command's failure is told when it is waited for, with the
         * same message, and its directory goes. */
        _cleanup_free_ char *tmp = private_tmpdir("data-async-fail");
        Spec *s = data_tool("data-async-fail", "[/bin/sh, -c, \"echo first; echo boom >&2; exit 3\"]");
        ObError e = { 0 };
        ToolData *d = NULL;
        ck_assert_msg(tool_data_start(s, &d, &e) == 0, "%s", e.msg);
        Plan p;
        char *dir = NULL;
        plan_init(&p);
        ck_assert_int_eq(tool_data_finish(d, 0, &p, &dir, &e), -EIO);
        _cleanup_free_ char *want = xasprintf("%s: data.command '/bin/sh' failed (exit status 3): first boom", s->file);
        ck_assert_str_eq(e.msg, want);
        ck_assert_ptr_null(dir);
        ck_assert_uint_eq(p.n, 0);
        ck_assert_uint_eq(count_dir(tmp), 0);
        spec_free(s);
        restore_tmpdir();
}
END_TEST

/* Reads the pid the command wrote to FILE, waiting for it. */
static pid_t wait_pid_file(const char *file)
{
        for (int i = 0; i < 1000; i++) {
                _cleanup_free_ char *text = NULL;
                ObError e = { 0 };
                if (read_file(file, &text, NULL, &e) == 0 && strchr(text, '\n'))
                        return (pid_t) atol(text);
                usleep(10 * 1000);
        }
        ck_abort_msg("%s was not written", file);
        return -1;
}

START_TEST(test_data_abandon)
{
        /* A started command that will not be finished is stopped and
         * reaped (no zombie: kill() finds no such process), and its
         * directory removed. */
        _cleanup_free_ char *tmp = private_tmpdir("data-abandon");
        _cleanup_free_ char *pidfile = xasprintf("%s/pid", tmp_dir);
        _cleanup_free_ char *cmd = xasprintf("[/bin/sh, -c, \"echo $$ > %s.tmp && mv %s.tmp %s && exec sleep 60\"]",
                                             pidfile, pidfile, pidfile);
        Spec *s = data_tool("data-abandon", cmd);
        ObError e = { 0 };
        ToolData *d = NULL;
        ck_assert_msg(tool_data_start(s, &d, &e) == 0, "%s", e.msg);
        pid_t pid = wait_pid_file(pidfile);
        ck_assert_int_gt(pid, 0);
        ck_assert_int_eq(kill(pid, 0), 0);
        ck_assert_uint_eq(count_dir(tmp), 1);
        time_t t0 = time(NULL);
        tool_data_abandon(d);
        ck_assert_int_lt(time(NULL) - t0, 4); /* stopped by SIGTERM, not a timeout */
        ck_assert_int_eq(kill(pid, 0), -1);
        ck_assert_int_eq(errno, ESRCH);
        ck_assert_uint_eq(count_dir(tmp), 0);
        tool_data_abandon(NULL);
        unlink(pidfile);
        spec_free(s);
        restore_tmpdir();
}
END_TEST

START_TEST(test_data_survives_step)
{
        /* A build step reaps every child of ours: a data command running
         * meanwhile ends first and keeps its result, not SIGKILL. */
        _cleanup_free_ char *tmp = private_tmpdir("data-step");
        Spec *s = data_tool("data-step", "[/bin/sh, -c, \"sleep 0.3; echo made > out\"]");
        ObError e = { 0 };
        ToolData *d = NULL;
        ck_assert_msg(tool_data_start(s, &d, &e) == 0, "%s", e.msg);
        char *argv[] = { (char *) "/bin/true", NULL };
        int status = -1;
        ck_assert_msg(run_step(argv, &(RunOptions){ .uid = -1, .gid = -1 }, NULL, &status, NULL, &e) == 0, "%s", e.msg);
        ck_assert_int_eq(status, 0);
        Plan p;
        char *dir = NULL;
        plan_init(&p);
        ck_assert_msg(tool_data_finish(d, 0, &p, &dir, &e) == 0, "%s", e.msg);
        must_find(&p, "var/lib/d/out", ENTRY_FILE);
        tool_data_cleanup(dir);
        ck_assert_uint_eq(count_dir(tmp), 0);
        plan_clear(&p);
        spec_free(s);
        restore_tmpdir();
}
END_TEST

/* More programs than the background has slots: the oldest is waited for
 * to make room, and every one still gets its own exit status. */
START_TEST(test_background_more_than_slots)
{
        enum { N = 40 };
        Background *bg[N] = { 0 };
        for (int i = 0; i < N; i++) {
                _cleanup_free_ char *script = xasprintf("exit %d", i);
                char *argv[] = { (char *) "/bin/sh", (char *) "-c", script, NULL };
                ObError e = { 0 };
                ck_assert_msg(background_start(argv, &(RunOptions){ .uid = -1, .gid = -1 }, &bg[i], &e) == 0, "%s",
                              e.msg);
        }
        for (int i = N - 1; i >= 0; i--) {
                int status = -1;
                ObError e = { 0 };
                ck_assert_msg(background_wait(bg[i], &status, &e) == 0, "%s", e.msg);
                ck_assert(WIFEXITED(status));
                ck_assert_int_eq(WEXITSTATUS(status), i);
                background_free(bg[i]);
        }
}
END_TEST

START_TEST(test_data_several)
{
        /* Several commands at once, finished in another order than
         * started: each gets its own status. */
        _cleanup_free_ char *tmp = private_tmpdir("data-several");
        Spec *ok = data_tool("data-several-ok", "[/bin/sh, -c, \"sleep 0.2; echo a > out\"]");
        Spec *bad = data_tool("data-several-bad", "[/bin/sh, -c, \"exit 4\"]");
        ObError e = { 0 };
        ToolData *d1 = NULL, *d2 = NULL;
        ck_assert_msg(tool_data_start(ok, &d1, &e) == 0, "%s", e.msg);
        ck_assert_msg(tool_data_start(bad, &d2, &e) == 0, "%s", e.msg);
        ck_assert_uint_eq(count_dir(tmp), 2);
        Plan p;
        char *dir = NULL;
        plan_init(&p);
        ck_assert_int_eq(tool_data_finish(d2, 0, &p, &dir, &e), -EIO);
        ck_assert_msg(strstr(e.msg, "(exit status 4)") != NULL, "%s", e.msg);
        ck_assert_msg(tool_data_finish(d1, 0, &p, &dir, &e) == 0, "%s", e.msg);
        must_find(&p, "var/lib/d/out", ENTRY_FILE);
        tool_data_cleanup(dir);
        ck_assert_uint_eq(count_dir(tmp), 0);
        plan_clear(&p);
        spec_free(ok);
        spec_free(bad);
        restore_tmpdir();
}
END_TEST

static Suite *tool_data_suite(void)
{
        Suite *s = suite_create("tool-data");
        TCase *tc = tcase_create("data");
        tcase_add_test(tc, test_data_plan);
        tcase_add_test(tc, test_data_plan_failures);
        tcase_add_test(tc, test_data_plan_long_output);
        tcase_add_test(tc, test_data_start_finish);
        tcase_add_test(tc, test_data_finish_failure);
        tcase_add_test(tc, test_data_abandon);
        tcase_add_test(tc, test_data_survives_step);
        tcase_add_test(tc, test_data_several);
        tcase_add_test(tc, test_background_more_than_slots);
        tcase_set_timeout(tc, 30);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        const char *tmp = getenv("TMPDIR");
        tmp_dir = xasprintf("%s/test-tool-data-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(tmp_dir)) {
                perror("mkdtemp");
                return EXIT_FAILURE;
        }

        int status = test_run(tool_data_suite());

        test_rm_rf(tmp_dir);
        free(tmp_dir);
        return status;
}
