/* SPDX-License-Identifier: MIT */
#include "app.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "download.h"
#include "log.h"
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

int app_run_build(const Spec *app, ObError *err)
{
        for (size_t i = 0; i < app->n_build; i++) {
                const SpecBuildStep *b = &app->build[i];
                char tmpl[] = "/tmp/oci-build-log-XXXXXX";
                int fd = mkstemp(tmpl);
                if (fd >= 0)
                        close(fd);
                ob_info("%s: build: %s (in %s)", app->name, b->command[0], b->workdir);
                int status = 0;
                _cleanup_strv_ char **env = NULL;
                RunOptions ro = { .workdir = b->workdir, .log = fd >= 0 ? tmpl : NULL };
                build_user(b->workdir, &ro, &env);
                ro.envp = env;
                if (fd >= 0 && ro.uid >= 0 && chown(tmpl, (uid_t) ro.uid, (gid_t) ro.gid) < 0)
                        ob_debug("cannot hand the build log to uid %ld", ro.uid);
                int r = run_program(b->command, &ro, &status, err);
                if (r == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
                        _cleanup_free_ char *tail = log_tail(tmpl, 240);
                        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                        r = ob_error_plain(err, EIO, "%s: build step '%s' failed (exit %d): %s", app->file,
                                           b->command[0], code, tail);
                }
                unlink(tmpl);
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

/* An artifact: a local file or tree, or a download. */
static int add_artifact(Plan *p, const Spec *app, const SpecArtifact *a, Sysroot *host, const char *arch,
                        int64_t mtime, bool fetch, ObError *err)
{
        _cleanup_free_ char *why = xasprintf("artifact (%s:%zu)", app->file, a->line);
        int r;

        if (a->source) {
                if (access(a->source, F_OK) < 0)
                        return ob_error_set(err, errno, "%s:%zu: artifacts: '%s'", app->file, a->line, a->source);
                PlanCopyOptions o = { .dst = a->path, .src = a->source, .has_mode = a->has_mode,
                                      .mode = a->mode, .uid = a->uid, .gid = a->gid,
                                      .normalize_modes = !a->has_mode, .why = why };
                r = plan_add_host(p, host, &o, err);
                if (r < 0)
                        ob_error_wrap(err, "%s:%zu: artifacts", app->file, a->line);
                return r;
        }

        _cleanup_free_ char *cached = NULL;
        r = fetch_artifact(app, a, arch, fetch ? 0 : DOWNLOAD_CACHED_ONLY, &cached, err);
        if (r == -ENOENT && !fetch) {
                /* Listed, not fetched: an empty stand-in says so. */
                _cleanup_free_ char *note = xasprintf("%s; %s", why, err->msg);
                Entry e = { .path = a->path, .type = ENTRY_FILE, .mode = a->has_mode ? a->mode : 0644,
                            .uid = a->uid, .gid = a->gid, .mtime = mtime, .data = (char *) "",
                            .why = note };
                return plan_add(p, &e, err);
        }
        if (r < 0)
                return r;
        struct stat st;
        if (stat(cached, &st) < 0)
                return ob_error_set(err, errno, "cannot stat '%s'", cached);
        Entry e = { .path = a->path, .type = ENTRY_FILE, .mode = a->has_mode ? a->mode : 0644,
                    .uid = a->uid, .gid = a->gid, .mtime = mtime, .size = (uint64_t) st.st_size,
                    .source = cached, .why = why };
        return plan_add(p, &e, err);
}

static int add_entries(Plan *p, const Spec *app, Sysroot *root, const char *arch, int64_t mtime, bool fetch,
                       ObError *err)
{
        int r;

        _cleanup_(sysroot_freep) Sysroot *host = NULL;
        if ((r = sysroot_open("/", &host, err)) < 0)
                return r;
        for (size_t i = 0; i < app->n_artifacts; i++)
                if ((r = add_artifact(p, app, &app->artifacts[i], host, arch, mtime, fetch, err)) < 0)
                        return r;

        for (size_t i = 0; i < app->n_files; i++) {
                const SpecFile *f = &app->files[i];
                _cleanup_free_ char *why = xasprintf("named in config (%s:%zu)", app->file, f->line);
                PlanCopyOptions o = { .dst = f->path, .src = f->source, .exclude = f->exclude, .has_mode = f->has_mode,
                                      .mode = f->mode, .uid = f->uid, .gid = f->gid, .why = why };
                if ((r = plan_add_host(p, root, &o, err)) < 0) {
                        ob_error_wrap(err, "%s:%zu: files entry '%s'", app->file, f->line, f->path);
                        return r;
                }
        }
        for (size_t i = 0; i < app->n_dirs; i++) {
                const SpecDir *d = &app->dirs[i];
                Entry e = { .path = d->path, .type = ENTRY_DIR, .mode = d->mode, .uid = d->uid, .gid = d->gid,
                            .mtime = mtime, .why = (char *) "directory named in config" };
                if ((r = plan_add(p, &e, err)) < 0)
                        return r;
        }
        for (size_t i = 0; i < app->n_links; i++) {
                Entry e = { .path = app->links[i].path, .type = ENTRY_SYMLINK, .mode = 0777, .mtime = mtime,
                            .target = app->links[i].target, .why = (char *) "symlink named in config" };
                if ((r = plan_add(p, &e, err)) < 0)
                        return r;
        }
        if (app->data_dir && !plan_find(p, app->data_dir)) {
                /* The data directory belongs to the user the app runs as. */
                uint32_t uid = 1000, gid = 1000;
                if (app->config.user)
                        sscanf(app->config.user, "%u:%u", &uid, &gid);
                Entry e = { .path = app->data_dir, .type = ENTRY_DIR, .mode = 0750, .uid = uid, .gid = gid,
                            .mtime = mtime, .why = (char *) "defaults.data_dir" };
                if ((r = plan_add(p, &e, err)) < 0)
                        return r;
        }
        return plan_finish(p, mtime, err);
}

int app_plan(const Spec *app, Sysroot *root, const char *arch, int64_t mtime, bool fetch, Plan *ret, ObError *err)
{
        Plan p;
        plan_init(&p);
        int r = add_entries(&p, app, root, arch, mtime, fetch, err);
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
