/* SPDX-License-Identifier: MIT */
/* The data layer of a tool: what a host command (initdb) makes at build time
 * in a temporary directory, planned as a layer of its own. */
#include "journal.h"
#include "tool.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "fs.h"
#include "log.h"
#include "path.h"
#include "process.h"
#include "sandbox.h"
#include "tmpfile.h"
#include "util.h"

/* A fixed environment: the same command gives the same kind of result on
 * every machine (and the step cache can name it). */
const char *const tool_data_env[] = { "PATH=/usr/bin:/bin", "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "TZ=UTC", NULL };

void tool_data_cleanup(char *tmpdir)
{
        if (!tmpdir)
                return;
        tmpfile_forget(tmpdir);
        (void) rm_rf_at(AT_FDCWD, tmpdir);
        free(tmpdir);
}
DEFINE_CLEANUP_FUNC(char *, tool_data_cleanup);

/* A data command running in the background, and where it writes. */
struct ToolData {
        const Spec *tool;
        char *tmpdir; /* removed with the ToolData unless handed out */
        char *dir, *pwfile, *log;
        char *program; /* argv[0], for messages */
        Background *bg;
};

void tool_data_abandon(ToolData *d)
{
        if (!d)
                return;
        /* Stopped and reaped before its directory goes. */
        background_free(d->bg);
        tool_data_cleanup(d->tmpdir);
        free(d->dir);
        free(d->pwfile);
        free(d->log);
        free(d->program);
        free(d);
}

static int start_data_command(ToolData *d, ObError *err)
{
        const SpecData *sd = &d->tool->data;
        struct passwd *pw = NULL;
        if (sd->run_as) {
                pw = getpwnam(sd->run_as);
                if (!pw)
                        return ob_error_plain(err, ENOENT, "%s: data.run_as: no host user '%s'", d->tool->file,
                                              sd->run_as);
                if (chown(d->dir, pw->pw_uid, pw->pw_gid) < 0 ||
                    (d->pwfile && chown(d->pwfile, pw->pw_uid, pw->pw_gid) < 0))
                        return ob_error_set(err, errno, "cannot hand '%s' to '%s'", d->dir, sd->run_as);
        }
        size_t n = strv_length(sd->command);
        _cleanup_strv_ char **argv = xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *a = str_replace_all(sd->command[i], "{dir}", d->dir);
                argv[i] = str_replace_all(a, "{password_file}", d->pwfile ? d->pwfile : "");
        }
        d->program = xstrdup(argv[0]);

        /* tool_data_env, and HOME. */
        _cleanup_free_ char *home = xasprintf("HOME=%s", pw ? pw->pw_dir : "/");
        char *envp[] = { (char *) tool_data_env[0],
                         (char *) tool_data_env[1],
                         (char *) tool_data_env[2],
                         (char *) tool_data_env[3],
                         home,
                         NULL };
        RunOptions ro = { .workdir = d->dir,
                          .log = d->log,
                          .envp = envp,
                          .uid = pw ? (long) pw->pw_uid : -1,
                          .gid = pw ? (long) pw->pw_gid : -1 };
        return background_start(argv, &ro, &d->bg, err);
}

static int wait_data_command(ToolData *d, ObError *err)
{
        int status = 0;
        int r = background_wait(d->bg, &status, err);
        if (r < 0)
                return r;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                _cleanup_free_ char *tail = log_tail(d->log, 300);
                return ob_error_plain(err, EIO, "%s: data.command '%s' failed (%s %d): %s", d->tool->file, d->program,
                                      WIFEXITED(status) ? "exit status" : "signal",
                                      WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), tail);
        }
        return 0;
}

/* Adds "NAME=TEXT" entries of data.append to the files the command made. */
static int append_data(const Spec *tool, const char *dir, ObError *err)
{
        for (size_t i = 0; tool->data.append && tool->data.append[i]; i++) {
                const char *eq = strchr(tool->data.append[i], '=');
                _cleanup_free_ char *name = xstrndup(tool->data.append[i], (size_t) (eq - tool->data.append[i]));
                _cleanup_free_ char *file = path_join(dir, name);
                /* The directory belongs to the data command's user: follow no link of theirs. */
                _cleanup_close_ int fd = open(file, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
                struct stat st;
                if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || write_all(fd, eq + 1, strlen(eq + 1)) < 0)
                        return ob_error_set(err, errno, "%s: data.append: cannot append to '%s'", tool->file, name);
        }
        return 0;
}

/* Marks the directory as this process's, so that 'oci-build clean' takes it
 * if the process is killed before removing it. The lock stays open for the
 * life of the process: a build makes few such directories. */
static int claim_data_dir(const char *tmpdir, ObError *err)
{
        int fd;
        return sandbox_claim_dir(tmpdir, &fd, err);
}

static int data_start(const Spec *tool, ToolData **ret, ObError *err);
static int data_finish(ToolData *d, int64_t mtime, Plan *ret, char **ret_tmpdir, ObError *err);

/* What the command makes is its output, not an input of the run: its
 * inputs are the step cache's key (step-cache.h). So the journal rests
 * while it is started and while its output is planned. */
int tool_data_start(const Spec *tool, ToolData **ret, ObError *err)
{
        journal_note_command();
        Journal *journal = journal_current();
        journal_begin(NULL);
        int r = data_start(tool, ret, err);
        journal_begin(journal);
        return r;
}

int tool_data_finish(ToolData *d, int64_t mtime, Plan *ret, char **ret_tmpdir, ObError *err)
{
        _cleanup_(tool_data_abandonp) ToolData *owned = d;
        Journal *journal = journal_current();
        journal_begin(NULL);
        int r = data_finish(d, mtime, ret, ret_tmpdir, err);
        journal_begin(journal);
        return r;
}

int tool_data_plan(const Spec *tool, int64_t mtime, Plan *ret, char **ret_tmpdir, ObError *err)
{
        ToolData *d = NULL;
        int r = tool_data_start(tool, &d, err);
        if (r < 0)
                return r;
        return tool_data_finish(d, mtime, ret, ret_tmpdir, err);
}

static int data_start(const Spec *tool, ToolData **ret, ObError *err)
{
        const char *tmp = getenv("TMPDIR");
        _cleanup_free_ char *template = xasprintf("%s/oci-build-data-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        /* Interrupted, the data directory goes too. */
        int slot;
        int k = tmpfile_create_dir(template, &slot);
        if (k < 0)
                return ob_error_set(err, -k, "cannot create a temporary directory");
        /* Removed on failure, and with the ToolData unless
         * tool_data_finish() hands it out. */
        _cleanup_(tool_data_abandonp) ToolData *d = xcalloc(1, sizeof(*d));
        d->tool = tool;
        d->tmpdir = TAKE_PTR(template);
        chmod(d->tmpdir, 0755);
        int r = claim_data_dir(d->tmpdir, err);
        if (r < 0)
                return r;
        d->dir = path_join(d->tmpdir, "data");
        d->log = path_join(d->tmpdir, "log");

        if (mkdir(d->dir, 0700) < 0)
                return ob_error_set(err, errno, "cannot create '%s'", d->dir);
        if (tool->data.password) {
                d->pwfile = path_join(d->tmpdir, "password");
                r = write_file_atomic(d->pwfile, tool->data.password, strlen(tool->data.password), 0600, err);
                if (r < 0)
                        return r;
        }
        r = start_data_command(d, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(d);
        return 0;
}

static int data_finish(ToolData *d, int64_t mtime, Plan *ret, char **ret_tmpdir, ObError *err)
{
        const Spec *tool = d->tool;
        int r = wait_data_command(d, err);
        if (r < 0)
                return r;
        r = append_data(tool, d->dir, err);
        if (r < 0)
                return r;
        if (d->pwfile)
                unlink(d->pwfile);
        unlink(d->log);

        _cleanup_(sysroot_freep) Sysroot *host = NULL;
        r = sysroot_open("/", &host, err);
        if (r < 0)
                return r;
        _cleanup_(plan_clear) Plan p = { 0 };
        /* Private by nature (a database's 0700 files) and made by us for this image. */
        PlanCopyOptions o = { .dst = tool->data.path,
                              .src = d->dir,
                              .uid = tool->data.uid,
                              .gid = tool->data.gid,
                              .allow_private = true,
                              .why = "made at build time by data.command" };
        r = plan_add_host(&p, host, &o, err);
        if (r < 0)
                return r;
        /* Everything in it belongs to the image's user, not the host's. */
        for (size_t i = 0; i < p.n; i++) {
                p.entries[i].uid = tool->data.uid;
                p.entries[i].gid = tool->data.gid;
        }
        Entry *top = (Entry *) plan_find(&p, tool->data.path);
        if (top)
                top->mode = tool->data.mode;
        r = plan_finish(&p, mtime, err);
        if (r < 0)
                return r;

        *ret = p;
        plan_init(&p);
        *ret_tmpdir = TAKE_PTR(d->tmpdir);
        return 0;
}
