/* SPDX-License-Identifier: MIT */
#include "app.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "journal.h"
#include "closure-plan.h"
#include "download.h"
#include "elf.h"
#include "log.h"
#include "path.h"
#include "process.h"
#include "sysroot.h"
#include "util.h"

/* As root, a build step runs as the owner of its directory, with that
 * user's HOME: `sudo oci-build app` must not leave root-owned files (or
 * run a registry's install scripts as root) in someone's checkout. */
static void build_user(const char *workdir, RunOptions *ro, char ***ret_env)
{
        struct stat st;
        ro->uid = ro->gid = -1;
        if (geteuid() != 0 || stat(workdir, &st) < 0 || st.st_uid == 0)
                return;
        struct passwd *pw = getpwuid(st.st_uid);
        ro->uid = (long) st.st_uid;
        ro->gid = (long) (pw ? pw->pw_gid : st.st_gid);
        char **env = NULL;
        for (char **e = environ; e && *e; e++)
                if (!str_startswith(*e, "HOME=") && !str_startswith(*e, "USER=") && !str_startswith(*e, "LOGNAME="))
                        strv_push(&env, *e);
        if (pw) {
                _cleanup_free_ char *home = xasprintf("HOME=%s", pw->pw_dir);
                _cleanup_free_ char *user = xasprintf("USER=%s", pw->pw_name);
                strv_push(&env, home);
                strv_push(&env, user);
        }
        *ret_env = env;
}

char *app_step_name(char *const *command)
{
        if (command[1] && command[1][0] != '-' && !strchr(command[1], ' ') && !strchr(command[1], '/'))
                return xasprintf("%s %s", command[0], command[1]);
        return xstrdup(command[0]);
}

/* The lines of a failed step's output that its error message shows. */
#define BUILD_ERROR_LINES 20
#define BUILD_ERROR_BYTES 3000 /* of an ObError's message, leaving room for the rest */

/* A declared input is there before its step runs: a misspelt name would
 * otherwise leave the step keyed on nothing it reads. */
static int check_inputs(const Spec *app, const SpecBuildStep *b, const char *name, ObError *err)
{
        for (size_t k = 0; b->inputs && b->inputs[k]; k++) {
                _cleanup_free_ char *path = path_join(b->workdir, b->inputs[k]);
                struct stat st;
                if (lstat(path, &st) < 0) {
                        int e = errno;
                        return ob_error_plain(
                                err, e, "%s:%zu: build step '%s': its input '%s' is not there (in %s)%s%s", app->file,
                                b->input_lines ? b->input_lines[k] : b->line, name, b->inputs[k], b->workdir,
                                e == ENOENT ? "" : ": ", e == ENOENT ? "" : strerror(e));
                }
        }
        return 0;
}

static int check_outputs(const Spec *app, const SpecBuildStep *b, const char *name, ObError *err)
{
        for (size_t k = 0; b->outputs && b->outputs[k]; k++) {
                _cleanup_free_ char *path = path_join(b->workdir, b->outputs[k]);
                struct stat st;
                if (lstat(path, &st) < 0) {
                        int e = errno;
                        return ob_error_plain(err, e,
                                              "%s:%zu: build step '%s' did not make its output '%s' (in %s)%s%s",
                                              app->file, b->line, name, b->outputs[k], b->workdir,
                                              e == ENOENT ? "" : ": ", e == ENOENT ? "" : strerror(e));
                }
        }
        return 0;
}

int app_run_step(const Spec *app, size_t i, ObError *err)
{
        const SpecBuildStep *b = &app->build[i];
        _cleanup_free_ char *name = app_step_name(b->command);
        _cleanup_free_ char *prefix = xasprintf("%s: %s: ", app->name, name);
        int r = check_inputs(app, b, name, err);
        if (r < 0)
                return r;
        /* What the step makes is new: this run is not recorded. */
        journal_note_command();
        ob_info("%s: build: %s (in %s)", app->name, name, b->workdir);
        int status = 0;
        _cleanup_strv_ char **env = NULL;
        _cleanup_free_ char *tail = NULL;
        RunOptions ro = { .workdir = b->workdir };
        build_user(b->workdir, &ro, &env);
        if (b->env && !env)
                for (char **e = environ; e && *e; e++)
                        strv_push(&env, *e);
        /* the step's own 'env' over what it inherits */
        for (size_t k = 0; b->env && b->env[k]; k++)
                strv_env_set(&env, b->env[k]);
        ro.envp = env;
        StepOutput out = { .prefix = prefix, .tail_lines = BUILD_ERROR_LINES };
        r = run_step(b->command, &ro, &out, &status, &tail, err);
        if (r < 0)
                return ob_error_wrap(err, "%s: build step '%s'", app->file, name);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                /* Whole lines from the end, as many as the message holds. */
                const char *shown = tail;
                size_t len = strlen(tail);
                if (len > BUILD_ERROR_BYTES) {
                        const char *nl = strchr(tail + len - BUILD_ERROR_BYTES, '\n');
                        shown = nl ? nl + 1 : tail + len - BUILD_ERROR_BYTES;
                }
                int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                return ob_error_plain(err, EIO, "%s: build step '%s' failed (exit %d)%s%s", app->file, name, code,
                                      *shown ? ", its last lines:\n" : " without output", shown);
        }
        return check_outputs(app, b, name, err);
}

int app_run_build(const Spec *app, ObError *err)
{
        for (size_t i = 0; i < app->n_build; i++) {
                int r = app_run_step(app, i, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The download of an artifact; messages name the config line of the artifact. */
static int fetch_artifact(const Spec *app, const SpecArtifact *a, const char *arch, DownloadFlags flags,
                          char **ret_path, ObError *err)
{
        _cleanup_free_ char *lock = download_lock_path(app->file);
        DownloadRequest req = {
                .url = a->url,
                .version = app->version,
                .arch = arch,
                .sha256 = a->sha256,
                .lock = lock,
                .owner = app->name,
                .file = app->file,
                .line = a->line,
                .key = "artifacts",
        };
        return download_fetch(&req, flags, ret_path, err);
}

/* A local artifact, read through a Sysroot opened on its own directory:
 * the tree below it is then held by what plan.h and layer.h do for any
 * sysroot, not named by absolute path strings from "/". A symlink given as
 * the artifact itself is followed, as before. */
static int add_local_artifact(Plan *p, const Spec *app, const SpecArtifact *a, const char *why, ObError *err)
{
        PlanCopyOptions o = { .dst = a->path,
                              .has_mode = a->has_mode,
                              .mode = a->mode,
                              .uid = a->uid,
                              .gid = a->gid,
                              .normalize_modes = !a->has_mode,
                              .why = why };
        int r = plan_add_local(p, a->source, &o, err);
        if (r < 0)
                return ob_error_wrap(err, "%s:%zu: artifacts", app->file, a->line);
        return 0;
}

/* An artifact: a local file or tree, or a download. */
static int add_artifact(Plan *p, const Spec *app, const SpecArtifact *a, const char *arch, int64_t mtime, bool fetch,
                        ObError *err)
{
        _cleanup_free_ char *why = xasprintf("artifact (%s:%zu)", app->file, a->line);
        int r;

        if (a->source) {
                journal_note_path(a->source, /* follow= */ true);
                if (access(a->source, F_OK) < 0)
                        return ob_error_set(err, errno, "%s:%zu: artifacts: '%s'", app->file, a->line, a->source);
                return add_local_artifact(p, app, a, why, err);
        }

        /* A download's copy is private to this run: it cannot be journaled. */
        journal_set_broken("%s downloads %s", app->file, a->url);
        _cleanup_free_ char *cached = NULL;
        r = fetch_artifact(app, a, arch, fetch ? 0 : DOWNLOAD_CACHED_ONLY, &cached, err);
        if (r == -ENOENT && !fetch) {
                /* Listed, not fetched: an empty stand-in says so. */
                _cleanup_free_ char *note = xasprintf("%s; %s", why, err->msg);
                Entry e = { .path = a->path,
                            .type = ENTRY_FILE,
                            .mode = a->has_mode ? a->mode : 0644,
                            .uid = a->uid,
                            .gid = a->gid,
                            .mtime = mtime,
                            .data = (char *) "",
                            .why = note };
                return plan_add(p, &e, err);
        }
        if (r < 0)
                return r;
        struct stat st;
        if (stat(cached, &st) < 0)
                return ob_error_set(err, errno, "cannot stat '%s'", cached);
        Entry e = { .path = a->path,
                    .type = ENTRY_FILE,
                    .mode = a->has_mode ? a->mode : 0644,
                    .uid = a->uid,
                    .gid = a->gid,
                    .mtime = mtime,
                    .size = (uint64_t) st.st_size,
                    .source = cached,
                    .why = why };
        return plan_add(p, &e, err);
}

/* The libraries of the artifacts that are dynamically linked ELF files
 * (a Go server built with cgo, a node addon), from the sysroot, as a tool's
 * binaries get theirs; what a layer below holds is left out. */
static int add_artifact_libraries(Plan *p, const Spec *app, Sysroot *root, const Plan *const *below, size_t n_below,
                                  ObError *err)
{
        _cleanup_(elf_closure_freep) ElfClosure *c = NULL;
        int r = elf_closure_new(root, &c, err);
        if (r < 0)
                return r;
        /* Only the artifacts' own files: the closure appends to p. */
        size_t n = p->n;
        for (size_t i = 0; i < n; i++) {
                const Entry *e = &p->entries[i];
                if (e->type != ENTRY_FILE || !e->source || e->size < 64)
                        continue;
                _cleanup_free_ char *image_path = xasprintf("/%s", e->path);
                _cleanup_free_ char *host_path = xstrdup(e->source);
                r = closure_plan_add_foreign(p, below, n_below, c, root, image_path, host_path, err);
                if (r < 0)
                        return ob_error_wrap(err, "%s: artifacts", app->file);
        }
        return 0;
}

static int add_entries(Plan *p, const Spec *app, Sysroot *root, const Plan *const *below, size_t n_below,
                       const char *arch, int64_t mtime, bool fetch, ObError *err)
{
        int r;

        for (size_t i = 0; i < app->n_artifacts; i++)
                if ((r = add_artifact(p, app, &app->artifacts[i], arch, mtime, fetch, err)) < 0)
                        return r;
        if ((r = add_artifact_libraries(p, app, root, below, n_below, err)) < 0)
                return r;

        if ((r = plan_add_spec_files(p, root, app, err)) < 0 || (r = plan_add_spec_dirs(p, app, mtime, err)) < 0 ||
            (r = plan_add_spec_links(p, app, mtime, err)) < 0)
                return r;
        if (app->data_dir && !plan_find(p, app->data_dir)) {
                /* The data directory belongs to the user the app runs as. */
                uint32_t uid = 1000, gid = 1000;
                if (app->config.user)
                        sscanf(app->config.user, "%u:%u", &uid, &gid);
                Entry e = { .path = app->data_dir,
                            .type = ENTRY_DIR,
                            .mode = 0750,
                            .uid = uid,
                            .gid = gid,
                            .mtime = mtime,
                            .why = (char *) "defaults.data_dir" };
                if ((r = plan_add(p, &e, err)) < 0)
                        return r;
        }
        return plan_finish(p, mtime, err);
}

int app_plan(const Spec *app, Sysroot *root, const char *arch, int64_t mtime, bool fetch, Plan *ret, ObError *err)
{
        return app_plan_over(app, root, /* below= */ NULL, /* n_below= */ 0, arch, mtime, fetch, ret, err);
}

int app_plan_over(const Spec *app, Sysroot *root, const Plan *const *below, size_t n_below, const char *arch,
                  int64_t mtime, bool fetch, Plan *ret, ObError *err)
{
        Plan p;
        plan_init(&p);
        int r = add_entries(&p, app, root, below, n_below, arch, mtime, fetch, err);
        if (r < 0) {
                if (!strstr(err->msg, app->file))
                        ob_error_wrap(err, "%s", app->file);
                plan_clear(&p);
                return r;
        }
        *ret = p;
        return 0;
}

int app_check_health(const Spec *app, const Plan *const *layers, size_t n, ObError *err)
{
        const SpecHealth *checks[1 + 64];
        size_t n_checks = 0;
        if (app->has_health)
                checks[n_checks++] = &app->health;
        for (size_t c = 0; c < n_checks; c++) {
                const char *prog = checks[c]->test[0];
                bool found = false;
                for (size_t i = 0; i < n && !found; i++)
                        found = plan_find(layers[i], prog) != NULL;
                if (!found)
                        return ob_error_plain(err, ENOENT,
                                              "%s:%zu: healthcheck runs '%s', which is not in the image (there is no "
                                              "shell either: name a program of the image or of one of its tools)",
                                              app->file, checks[c]->line, prog);
        }
        return 0;
}
