/* SPDX-License-Identifier: MIT */
#include "step-cache.h"

#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "journal.h"
#include "config.h"
#include "digest.h"
#include "download.h"
#include "fs.h"
#include "path.h"
#include "tool.h"
#include "util.h"

/* How deep a tree walk goes: deeper trees are not cached (a loop of bind
 * mounts, say), never walked forever. */
#define TREE_DEPTH_MAX 64

LayerCache *step_cache_open_default(void)
{
        _cleanup_free_ char *root = download_cache_dir();
        _cleanup_free_ char *dir = path_join(root, "steps");
        return layer_cache_open_kind(dir, "step cache");
}

typedef struct KeyState {
        Sha256 h;
        struct timespec now;
        bool racy;
} KeyState;

static void key_state_free(KeyState *k)
{
        sha256_free(&k->h);
}

static void key_begin(KeyState *k, const char *what, const LayerOptions *o)
{
        sha256_init(&k->h);
        clock_gettime(CLOCK_REALTIME, &k->now);
        k->racy = false;
        cache_hash_printf(
                &k->h, "oci-build %s step cache %d, tar format %d, %s, compression %d level %d chunk %zu, epoch %lld",
                OB_VERSION, STEP_CACHE_VERSION, LAYER_TAR_FORMAT_VERSION, what, (int) o->compression, o->level,
                o->chunk, (long long) o->source_date_epoch);
}

static void key_end(KeyState *k, LayerKey *ret)
{
        char digest[DIGEST_STRING_MAX];
        sha256_final(&k->h, digest);
        memcpy(ret->hex, digest_hex(digest), 65);
        ret->racy = k->racy;
}

static void key_strv(KeyState *k, const char *name, char *const *v)
{
        size_t n = strv_length((char **) v);
        cache_hash_printf(&k->h, "%s %zu", name, n);
        for (size_t i = 0; i < n; i++)
                cache_hash_printf(&k->h, "%s", v[i]);
}

/* A plan's files, as the layer cache sees them. */
static int key_plan(KeyState *k, const Plan *p, int64_t epoch, ObError *err)
{
        LayerKey lk;
        int r = layer_cache_key(p, epoch, "step input", &lk, err);
        if (r < 0)
                return r;
        cache_hash_printf(&k->h, "layer %s", lk.hex);
        k->racy |= lk.racy;
        return 0;
}

static int key_stat(KeyState *k, const char *path, bool follow, ObError *err)
{
        struct stat st;
        if ((follow ? stat(path, &st) : lstat(path, &st)) < 0) {
                journal_note_error(path, follow, errno);
                return ob_error_set(err, errno, "cannot stat '%s'", path);
        }
        journal_note_stat(path, follow, &st);
        cache_hash_printf(&k->h, "%s", path);
        cache_hash_stat(&k->h, &st, &k->now, &k->racy);
        return 0;
}

static int key_tree_at(KeyState *k, const char *path, int depth, ObError *err)
{
        struct stat st;
        if (lstat(path, &st) < 0) {
                journal_note_error(path, /* follow= */ false, errno);
                return ob_error_set(err, errno, "cannot stat '%s'", path);
        }
        journal_note_stat(path, /* follow= */ false, &st);
        cache_hash_printf(&k->h, "%s", path);
        cache_hash_stat(&k->h, &st, &k->now, &k->racy);
        if (S_ISLNK(st.st_mode)) {
                char target[4096];
                ssize_t n = readlink(path, target, sizeof(target) - 1);
                if (n < 0 || (size_t) n >= sizeof(target) - 1)
                        return ob_error_set(err, n < 0 ? errno : ENAMETOOLONG, "cannot read the link '%s'", path);
                target[n] = '\0';
                cache_hash_printf(&k->h, "-> %s", target);
                /* A step reads through the link: what it leads to counts
                 * too (a loop ends at TREE_DEPTH_MAX: no key, the step runs). */
                _cleanup_free_ char *real = realpath(path, NULL);
                if (!real) {
                        journal_note_error(path, /* follow= */ true, errno);
                        cache_hash_printf(&k->h, "dangling %d", errno);
                        return 0;
                }
                if (depth >= TREE_DEPTH_MAX)
                        return ob_error_plain(err, ELOOP, "'%s' leads deeper than %d directories", path,
                                              TREE_DEPTH_MAX);
                return key_tree_at(k, real, depth + 1, err);
        }
        if (!S_ISDIR(st.st_mode))
                return 0;
        if (depth >= TREE_DEPTH_MAX)
                return ob_error_plain(err, ELOOP, "'%s' is deeper than %d directories", path, TREE_DEPTH_MAX);
        struct dirent **names = NULL;
        int n = scandir(path, &names, NULL, alphasort);
        if (n < 0)
                return ob_error_set(err, errno, "cannot read the directory '%s'", path);
        int r = 0;
        for (int i = 0; i < n; i++) {
                const char *name = names[i]->d_name;
                if (r == 0 && strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
                        _cleanup_free_ char *child = path_join(path, name);
                        r = key_tree_at(k, child, depth + 1, err);
                }
                free(names[i]);
        }
        free(names);
        return r;
}

/* Every file under path (a symlink given as path itself is followed, as
 * artifacts are). */
static int key_tree(KeyState *k, const char *path, ObError *err)
{
        journal_note_walk(path);
        _cleanup_free_ char *real = realpath(path, NULL);
        if (!real)
                return ob_error_set(err, errno, "cannot resolve '%s'", path);
        cache_hash_printf(&k->h, "tree %s", path);
        return key_tree_at(k, real, 0, err);
}

/* The program a command runs, as execvp would find it in PATH once in
 * workdir (NULL: the current directory): a relative name or PATH entry
 * is taken from there. */
static int key_program(KeyState *k, const char *prog, const char *path_env, const char *workdir, ObError *err)
{
        if (strchr(prog, '/')) {
                _cleanup_free_ char *abs = prog[0] != '/' && workdir ? path_join(workdir, prog) : xstrdup(prog);
                return key_stat(k, abs, /* follow= */ true, err);
        }
        _cleanup_free_ char *dirs = xstrdup(path_env);
        char *save = NULL;
        for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
                _cleanup_free_ char *dir = d[0] != '/' && workdir ? path_join(workdir, d) : xstrdup(*d ? d : ".");
                _cleanup_free_ char *cand = path_join(dir, prog);
                journal_note_path(cand, /* follow= */ true);
                if (access(cand, X_OK) == 0)
                        return key_stat(k, cand, /* follow= */ true, err);
        }
        return ob_error_plain(err, ENOENT, "'%s' is not in PATH", prog);
}

int step_cache_data_key(const Spec *tool, const char *debian_version, const Plan *tool_plan, const LayerOptions *o,
                        LayerKey *ret, ObError *err)
{
        const SpecData *d = &tool->data;
        _cleanup_(key_state_free) KeyState k = { 0 };
        key_begin(&k, "data", o);
        cache_hash_printf(&k.h, "tool %s package %s version %s", tool->name, tool->package ? tool->package : "",
                          debian_version ? debian_version : "");
        cache_hash_printf(&k.h, "data %s %u %u %o", d->path, d->uid, d->gid, d->mode);
        key_strv(&k, "command", d->command);
        key_strv(&k, "append", d->append);
        cache_hash_printf(&k.h, "password %s", d->password ? d->password : "(none)");
        if (d->run_as) {
                /* The host's user database (files, as nsswitch.conf says). */
                journal_note_path("/etc/nsswitch.conf", /* follow= */ true);
                journal_note_path("/etc/passwd", /* follow= */ true);
                journal_note_path("/etc/group", /* follow= */ true);
                struct passwd *pw = getpwnam(d->run_as);
                if (!pw)
                        return ob_error_plain(err, ENOENT, "no host user '%s'", d->run_as);
                cache_hash_printf(&k.h, "run as %s %u %u %s", d->run_as, (unsigned) pw->pw_uid, (unsigned) pw->pw_gid,
                                  pw->pw_dir);
        }
        key_strv(&k, "env", (char *const *) tool_data_env);
        int r = key_program(&k, d->command[0], "/usr/bin:/bin", /* workdir= */ NULL, err);
        if (r == 0)
                r = key_plan(&k, tool_plan, o->source_date_epoch, err);
        if (r < 0)
                return r;
        key_end(&k, ret);
        return 0;
}

/* The environment a build step gets: the caller's (less what app.c
 * replaces for another user), and the step's own. Hashed whole: a
 * variable we cannot judge may change what the step does. */
void step_cache_hash_environ(Sha256 *h)
{
        cache_hash_printf(h, "euid %u", (unsigned) geteuid());
        size_t n = 0;
        for (char **e = environ; e && *e; e++)
                n++;
        _cleanup_free_ const char **env = xcalloc(n + 1, sizeof(char *));
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
                /* The shell's "last command", its nesting level and the
                 * directory before the last cd change with how oci-build
                 * was started (directly, under time or make, after a cd):
                 * no step is expected to read them. */
                if (!str_startswith(environ[i], "_=") && !str_startswith(environ[i], "SHLVL=") &&
                    !str_startswith(environ[i], "OLDPWD="))
                        env[m++] = environ[i];
        qsort(env, m, sizeof(char *), strv_compare);
        cache_hash_printf(h, "environ %zu", m);
        for (size_t i = 0; i < m; i++)
                cache_hash_printf(h, "%s", env[i]);
}

static void key_step_env(KeyState *k, const SpecBuildStep *b)
{
        step_cache_hash_environ(&k->h);
        key_strv(k, "step env", b->env);
}

int step_cache_below_key(const Plan *const *below, size_t n_below, const LayerOptions *o, LayerKey *ret, ObError *err)
{
        _cleanup_(key_state_free) KeyState k = { 0 };
        key_begin(&k, "layers below", o);
        for (size_t i = 0; i < n_below; i++) {
                int r = key_plan(&k, below[i], o->source_date_epoch, err);
                if (r < 0)
                        return r;
        }
        key_end(&k, ret);
        return 0;
}

/* What a step makes, as it left it: one that is gone is keyed as such, so
 * that deleting it makes the step run again. */
static int key_output(KeyState *k, const char *path, ObError *err)
{
        struct stat st;
        if (lstat(path, &st) < 0) {
                if (errno != ENOENT)
                        return ob_error_set(err, errno, "cannot stat '%s'", path);
                journal_note_error(path, /* follow= */ false, errno);
                cache_hash_printf(&k->h, "absent %s", path);
                return 0;
        }
        return key_tree(k, path, err);
}

int step_cache_step_key(const Spec *app, size_t index, const LayerKey *below, const LayerOptions *o,
                        const struct timespec *inputs_since, LayerKey *ret, ObError *err)
{
        const SpecBuildStep *b = &app->build[index];
        _cleanup_(key_state_free) KeyState k = { 0 };
        key_begin(&k, b->inputs ? "app step over its inputs" : "app step over its workdir", o);
        cache_hash_printf(&k.h, "below %s", below->hex);
        k.racy |= below->racy;
        cache_hash_printf(&k.h, "config %s", b->config_sha256 ? b->config_sha256 : "(none)");
        key_strv(&k, "step", b->command);
        cache_hash_printf(&k.h, "workdir %s", b->workdir);
        key_step_env(&k, b);
        /* What the step reads must be older than its start (minus a clock
         * tick) to be remembered: a change while it ran may not be in what
         * it made. What it makes is judged against now. */
        struct timespec now = k.now;
        if (inputs_since && b->inputs)
                k.now = *inputs_since;
        const char *path_env = getenv("PATH");
        int r = key_program(&k, b->command[0], path_env ? path_env : "/usr/bin:/bin", b->workdir, err);
        if (r < 0)
                return r;
        if (!b->inputs)
                r = key_tree(&k, b->workdir, err);
        key_strv(&k, "inputs", b->inputs);
        for (size_t i = 0; r == 0 && b->inputs && b->inputs[i]; i++) {
                _cleanup_free_ char *path = path_join(b->workdir, b->inputs[i]);
                r = key_tree(&k, path, err);
        }
        k.now = now;
        key_strv(&k, "outputs", b->outputs);
        for (size_t i = 0; r == 0 && b->outputs && b->outputs[i]; i++) {
                _cleanup_free_ char *path = path_join(b->workdir, b->outputs[i]);
                r = key_output(&k, path, err);
        }
        if (r < 0)
                return r;
        key_end(&k, ret);
        return 0;
}
