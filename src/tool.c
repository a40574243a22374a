/* SPDX-License-Identifier: MIT */
#include "tool.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "elf.h"
#include "fs.h"
#include "layout.h"
#include "log.h"
#include "path.h"
#include "process.h"
#include "tmpfile.h"
#include "util.h"

int tool_package_version(Sysroot *root, const char *package, char **ret, ObError *err)
{
        _cleanup_free_ char *status = sysroot_host_path(root, "/var/lib/dpkg/status");
        _cleanup_free_ char *text = NULL;
        int r = read_file(status, &text, NULL, err);
        if (r < 0)
                return r;

        /* Paragraphs of "Key: value" lines, separated by blank lines. */
        for (char *para = text; para && *para;) {
                char *end = strstr(para, "\n\n");
                if (end)
                        *end = '\0';
                const char *pkg = NULL, *ver = NULL;
                bool installed = false;
                for (char *line = para; line && *line;) {
                        char *nl = strchr(line, '\n');
                        if (nl)
                                *nl = '\0';
                        if (str_startswith(line, "Package: "))
                                pkg = line + 9;
                        else if (str_startswith(line, "Version: "))
                                ver = line + 9;
                        else if (str_startswith(line, "Status: "))
                                installed = str_endswith(line, " installed") && !str_endswith(line, "not-installed");
                        line = nl ? nl + 1 : NULL;
                }
                if (pkg && ver && installed && strcmp(pkg, package) == 0) {
                        *ret = xstrdup(ver);
                        return 0;
                }
                para = end ? end + 2 : NULL;
        }
        return ob_error_plain(err, ENOENT, "the Debian package '%s' is not installed (apt-get install %s)", package,
                              package);
}

int tool_resolve_version(const Spec *spec, Sysroot *root, char **ret, ObError *err)
{
        if (spec->version) {
                *ret = xstrdup(spec->version);
                return 0;
        }
        int r = tool_package_version(root, spec->package, ret, err);
        if (r < 0)
                return ob_error_wrap(err, "%s: cannot read the version of '%s'", spec->file, spec->name);
        /* Tags allow [A-Za-z0-9_.-]: Debian's epoch ':' and '+' become '-'/'.'. */
        for (char *p = *ret; *p; p++)
                if (*p == ':' || *p == '~')
                        *p = '-';
                else if (*p == '+')
                        *p = '.';
        return 0;
}

/* "a/b/../c" -> "a/c"; NULL when ".." climbs above the root. */
static char *normalize_lexical(const char *path)
{
        _cleanup_strv_ char **parts = NULL;
        _cleanup_free_ char *copy = xstrdup(path);
        char *save = NULL;
        for (char *t = strtok_r(copy, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
                if (strcmp(t, ".") == 0)
                        continue;
                if (strcmp(t, "..") == 0) {
                        size_t n = strv_length(parts);
                        if (n == 0)
                                return NULL;
                        free(parts[n - 1]);
                        parts[n - 1] = NULL;
                        continue;
                }
                strv_push(&parts, t);
        }
        char *out = xstrdup("");
        for (size_t i = 0; parts && parts[i]; i++) {
                char *n = xasprintf("%s/%s", out, parts[i]);
                free(out);
                out = n;
        }
        if (!*out) {
                free(out);
                out = xstrdup("/");
        }
        return out;
}

/* Expands "${resolve:/usr/bin/go}/../.." against the sysroot. */
static int expand_path(Sysroot *root, const char *raw, char **ret, ObError *err)
{
        if (!str_startswith(raw, "${resolve:")) {
                *ret = xstrdup(raw);
                return 0;
        }
        const char *close = strchr(raw, '}');
        _cleanup_free_ char *inner = xstrndup(raw + 10, (size_t) (close - raw - 10));
        _cleanup_free_ char *real = NULL;
        int r = sysroot_resolve(root, inner, NULL, NULL, &real, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *joined = xasprintf("%s%s", real, close + 1);
        *ret = normalize_lexical(joined);
        if (!*ret)
                return ob_error_plain(err, EINVAL, "'%s' climbs above the root", raw);
        return 0;
}

static char *sysroot_relative(Sysroot *root, const char *host)
{
        size_t n = strlen(root->path);
        if (n > 0 && strncmp(host, root->path, n) == 0 && host[n] == '/')
                return xstrdup(host + n);
        return xstrdup(host);
}

typedef struct LinkAdder {
        Plan *plan;
        const Plan *base;
        const char *why;
        ObError *err;
} LinkAdder;

/* Symlinks met on the way to a file are part of the image too (/lib ->
 * usr/lib, libz.so.1 -> libz.so.1.2.13). */
static int add_symlink_entry(Plan *p, const Plan *base, const char *path, const char *target, const char *why,
                             ObError *err)
{
        const Entry *b = base ? plan_find(base, path) : NULL;
        if (b && b->type == ENTRY_SYMLINK && strcmp(b->target, target) == 0)
                return 0;
        Entry e = { .path = (char *) path, .type = ENTRY_SYMLINK, .mode = 0777, .target = (char *) target,
                    .why = (char *) why };
        return plan_add(p, &e, err);
}

static int link_adder(void *userdata, const char *link_path, const char *target, ObError *err)
{
        LinkAdder *a = userdata;
        return add_symlink_entry(a->plan, a->base, link_path, target, a->why, err);
}

static int add_closure(Plan *p, const Plan *base, Sysroot *root, ElfClosure *c, size_t from, ObError *err)
{
        int r;
        for (size_t i = from; i < elf_closure_count(c); i++) {
                const ElfDep *d = elf_closure_get(c, i);
                _cleanup_free_ char *why = d->needed_by ? xasprintf("needed by %s", d->needed_by)
                                                        : xstrdup("binary named in config");
                if (d->type == ELF_DEP_SYMLINK) {
                        r = add_symlink_entry(p, base, d->path, d->target, why, err);
                } else {
                        if (base && plan_find(base, d->path))
                                continue;
                        PlanCopyOptions o = { .dst = d->path, .src = d->path, .why = why };
                        r = plan_add_host(p, root, &o, err);
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

static bool is_elf_file(const char *host)
{
        unsigned char magic[4];
        _cleanup_close_ int fd = open(host, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        return fd >= 0 && read(fd, magic, 4) == 4 && memcmp(magic, "\177ELF", 4) == 0;
}

/* The directories that hold something in a plan, as a set (a Plan used
 * for its path index), so "is anything below X" costs one lookup. */
static void add_parents(Plan *dirs, const Plan *p, size_t from)
{
        ObError ignore;
        for (size_t i = from; i < p->n; i++) {
                _cleanup_free_ char *path = xstrdup(p->entries[i].path);
                for (char *slash = strrchr(path, '/'); slash; slash = strrchr(path, '/')) {
                        *slash = '\0';
                        if (plan_find(dirs, path))
                                break;
                        Entry d = { .path = path, .type = ENTRY_DIR, .mode = 0755 };
                        plan_add(dirs, &d, &ignore);
                }
        }
}

/* Adds the targets of symlinks that would otherwise dangle, until nothing
 * changes: Debian's GOROOT is mostly links into /usr/share/go-VERSION. */
static int add_link_targets(Plan *p, const Plan *base, Sysroot *root, char *const *exclude, ObError *err)
{
        Plan dirs, base_dirs;
        size_t indexed = 0;
        bool changed = true;
        int r = 0;

        plan_init(&dirs);
        plan_init(&base_dirs);
        if (base)
                add_parents(&base_dirs, base, 0);
        while (changed && r == 0) {
                changed = false;
                for (size_t i = 0; i < p->n; i++) {
                        const Entry *e = &p->entries[i];
                        if (e->type != ENTRY_SYMLINK)
                                continue;
                        _cleanup_free_ char *link = xasprintf("/%s", e->path);
                        _cleanup_free_ char *dir = xstrdup(link);
                        *strrchr(dir, '/') = '\0';
                        _cleanup_free_ char *joined = e->target[0] == '/' ? xstrdup(e->target)
                                                                          : xasprintf("%s/%s", dir, e->target);
                        _cleanup_free_ char *target = normalize_lexical(joined);
                        if (!target || plan_find(p, target) || (base && plan_find(base, target)))
                                continue;
                        /* A directory that only holds what was added below it
                         * (/lib64 -> usr/lib64) does not dangle either. */
                        add_parents(&dirs, p, indexed);
                        indexed = p->n;
                        if (plan_find(&dirs, target) || plan_find(&base_dirs, target))
                                continue;
                        struct stat st;
                        ObError ignore;
                        _cleanup_free_ char *real = NULL;
                        LinkAdder a = { .plan = p, .base = base, .why = "symlink on the way to a link target" };
                        if (sysroot_resolve(root, target, link_adder, &a, &real, &ignore) < 0 ||
                            sysroot_lstat(root, real, &st, &ignore) < 0)
                                continue;       /* dangling on the host too: keep it as it is */
                        _cleanup_free_ char *why = xasprintf("target of symlink %s", link);
                        PlanCopyOptions o = { .dst = real, .src = real, .exclude = exclude, .why = why };
                        size_t before = p->n;
                        r = plan_add_host(p, root, &o, err);
                        if (r < 0)
                                break;
                        changed |= p->n != before;
                }
        }
        plan_clear(&dirs);
        plan_clear(&base_dirs);
        return r;
}

int tool_plan(const Spec *tool, Sysroot *root, const Plan *base, int64_t mtime, Plan *ret, ObError *err)
{
        _cleanup_strv_ char **all_excludes = NULL;
        ElfClosure *c = NULL;
        Plan p;
        int r;

        plan_init(&p);
        r = elf_closure_new(root, &c, err);
        if (r < 0)
                return r;

        for (size_t i = 0; tool->binaries[i]; i++) {
                size_t from = elf_closure_count(c);
                /* A missing binary means the tool is not installed; a missing
                 * library is another package's business. */
                _cleanup_free_ char *real = NULL;
                ObError ignore;
                if (tool->package && sysroot_resolve(root, tool->binaries[i], NULL, NULL, &real, &ignore) == -ENOENT) {
                        r = ob_error_plain(err, ENOENT,
                                           "%s: binary '%s' is not installed: install the Debian package '%s' "
                                           "(apt-get install %s)",
                                           tool->file, tool->binaries[i], tool->package, tool->package);
                        goto out;
                }
                r = elf_closure_add(c, tool->binaries[i], 1, err);
                if (r < 0) {
                        ob_error_wrap(err, "%s: binary '%s'", tool->file, tool->binaries[i]);
                        goto out;
                }
                r = add_closure(&p, base, root, c, from, err);
                if (r < 0)
                        goto out;
        }

        for (size_t i = 0; i < tool->n_files; i++) {
                const SpecFile *f = &tool->files[i];
                _cleanup_free_ char *dst = NULL, *src = NULL;
                _cleanup_free_ char *why = xasprintf("named in config (%s:%zu)", tool->file, f->line);
                r = expand_path(root, f->path, &dst, err);
                if (r == 0)
                        r = expand_path(root, f->source, &src, err);
                if (r == 0) {
                        /* Named at its own path, a symlink stays a symlink and
                         * what it points to comes along. */
                        PlanCopyOptions o = { .dst = dst, .src = src, .exclude = f->exclude, .has_mode = f->has_mode,
                                              .mode = f->mode, .uid = f->uid, .gid = f->gid, .why = why,
                                              .keep_links = strcmp(dst, src) == 0 };
                        r = plan_add_host(&p, root, &o, err);
                }
                if (r == -ENOENT && f->optional) {
                        ob_debug("%s:%zu: skipping optional '%s': %s", tool->file, f->line, f->path, err->msg);
                        r = 0;
                        continue;
                }
                if (r < 0) {
                        ob_error_wrap(err, "%s:%zu: files entry '%s'", tool->file, f->line, f->path);
                        goto out;
                }
                for (size_t k = 0; f->exclude && f->exclude[k]; k++)
                        strv_push(&all_excludes, f->exclude[k]);
        }

        r = add_link_targets(&p, base, root, all_excludes, err);
        if (r < 0)
                goto out;

        /* Every ELF object among the files brings its libraries: helpers
         * (git-remote-https) and plugins (postgres' .so files). */
        for (size_t i = 0; i < p.n; i++) {
                const Entry *e = &p.entries[i];
                if (e->type != ENTRY_FILE || !e->source || e->size < 64 || !is_elf_file(e->source))
                        continue;
                _cleanup_free_ char *path = sysroot_relative(root, e->source);
                size_t from = elf_closure_count(c);
                r = elf_closure_add(c, path, 0, err);
                if (r < 0) {
                        ob_error_wrap(err, "%s", tool->file);
                        goto out;
                }
                r = add_closure(&p, base, root, c, from, err);
                if (r < 0)
                        goto out;
        }

        for (size_t i = 0; i < tool->n_dirs; i++) {
                const SpecDir *d = &tool->dirs[i];
                Entry e = { .path = d->path, .type = ENTRY_DIR, .mode = d->mode, .uid = d->uid, .gid = d->gid,
                            .mtime = mtime, .why = (char *) "directory named in config" };
                if ((r = plan_add(&p, &e, err)) < 0) {
                        ob_error_wrap(err, "%s", tool->file);
                        goto out;
                }
        }
        for (size_t i = 0; i < tool->n_links; i++) {
                if ((r = add_symlink_entry(&p, NULL, tool->links[i].path, tool->links[i].target,
                                           "symlink named in config", err)) < 0) {
                        ob_error_wrap(err, "%s", tool->file);
                        goto out;
                }
        }

        /* Parent directories that the base layer already has are not
         * repeated with other metadata: take the base's. */
        r = plan_finish(&p, mtime, err);
        if (r < 0) {
                ob_error_wrap(err, "%s", tool->file);
                goto out;
        }
        for (size_t i = 0; base && i < p.n; i++) {
                Entry *e = &p.entries[i];
                const Entry *b = plan_find(base, e->path);
                if (b && e->type == ENTRY_DIR && b->type == ENTRY_DIR && e->why &&
                    strcmp(e->why, "parent directory") == 0) {
                        e->mode = b->mode;
                        e->uid = b->uid;
                        e->gid = b->gid;
                        e->mtime = b->mtime;
                }
        }
        *ret = p;
        plan_init(&p);
out:
        elf_closure_free(c);
        plan_clear(&p);
        return r;
}

void tool_data_cleanup(char *tmpdir)
{
        if (!tmpdir)
                return;
        tmpfile_forget(tmpdir);
        (void) rm_rf_at(AT_FDCWD, tmpdir);
        free(tmpdir);
}

static int run_data_command(const Spec *tool, const char *dir, const char *pwfile, const char *log, ObError *err)
{
        const SpecData *d = &tool->data;
        struct passwd *pw = NULL;
        if (d->run_as) {
                pw = getpwnam(d->run_as);
                if (!pw)
                        return ob_error_plain(err, ENOENT, "%s: data.run_as: no host user '%s'", tool->file, d->run_as);
                if (chown(dir, pw->pw_uid, pw->pw_gid) < 0 || (pwfile && chown(pwfile, pw->pw_uid, pw->pw_gid) < 0))
                        return ob_error_set(err, errno, "cannot hand '%s' to '%s'", dir, d->run_as);
        }
        size_t n = strv_length(d->command);
        char **argv = xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
                char *a = str_replace_all(d->command[i], "{dir}", dir);
                argv[i] = str_replace_all(a, "{password_file}", pwfile ? pwfile : "");
                free(a);
        }

        /* A fixed environment: the same command gives the same kind of
         * result on every machine. */
        _cleanup_free_ char *home = xasprintf("HOME=%s", pw ? pw->pw_dir : "/");
        char *envp[] = { (char *) "PATH=/usr/bin:/bin", (char *) "LANG=C.UTF-8", (char *) "LC_ALL=C.UTF-8",
                         (char *) "TZ=UTC", home, NULL };
        RunOptions ro = { .workdir = dir, .log = log, .envp = envp, .uid = pw ? (long) pw->pw_uid : -1,
                          .gid = pw ? (long) pw->pw_gid : -1 };
        int status = 0;
        int r = run_program(argv, &ro, &status, err);
        if (r == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
                _cleanup_free_ char *tail = log_tail(log, 300);
                r = ob_error_plain(err, EIO, "%s: data.command '%s' failed (%s %d): %s", tool->file, argv[0],
                                   WIFEXITED(status) ? "exit status" : "signal",
                                   WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), tail);
        }
        strv_free(argv);
        return r;
}

int tool_data_plan(const Spec *tool, int64_t mtime, Plan *ret, char **ret_tmpdir, ObError *err)
{
        const char *tmp = getenv("TMPDIR");
        _cleanup_free_ char *tmpdir = xasprintf("%s/oci-build-data-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(tmpdir))
                return ob_error_set(err, errno, "cannot create a temporary directory");
        /* Interrupted, the data directory goes too (it is unregistered by
         * tool_data_cleanup() when the build ends). */
        tmpfile_register_tree(tmpdir);
        chmod(tmpdir, 0755);
        _cleanup_free_ char *dir = path_join(tmpdir, "data");
        _cleanup_free_ char *pwfile = NULL;
        _cleanup_free_ char *log = path_join(tmpdir, "log");
        int r;

        if (mkdir(dir, 0700) < 0) {
                r = ob_error_set(err, errno, "cannot create '%s'", dir);
                goto fail;
        }
        if (tool->data.password) {
                pwfile = path_join(tmpdir, "password");
                r = write_file_atomic(pwfile, tool->data.password, strlen(tool->data.password), 0600, err);
                if (r < 0)
                        goto fail;
        }
        r = run_data_command(tool, dir, pwfile, log, err);
        if (r < 0)
                goto fail;
        for (size_t i = 0; tool->data.append && tool->data.append[i]; i++) {
                const char *eq = strchr(tool->data.append[i], '=');
                _cleanup_free_ char *name = xstrndup(tool->data.append[i], (size_t) (eq - tool->data.append[i]));
                _cleanup_free_ char *file = path_join(dir, name);
                /* The directory belongs to the data command's user: follow no link of theirs. */
                _cleanup_close_ int fd = open(file, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
                struct stat st;
                if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || write_all(fd, eq + 1, strlen(eq + 1)) < 0) {
                        r = ob_error_set(err, errno, "%s: data.append: cannot append to '%s'", tool->file, name);
                        goto fail;
                }
        }
        if (pwfile)
                unlink(pwfile);
        unlink(log);

        Sysroot *host = NULL;
        r = sysroot_open("/", &host, err);
        if (r < 0)
                goto fail;
        Plan p;
        plan_init(&p);
        PlanCopyOptions o = { .dst = tool->data.path, .src = dir, .uid = tool->data.uid, .gid = tool->data.gid,
                              .why = "made at build time by data.command" };
        r = plan_add_host(&p, host, &o, err);
        sysroot_free(host);
        if (r == 0) {
                /* Everything in it belongs to the image's user, not the host's. */
                for (size_t i = 0; i < p.n; i++) {
                        p.entries[i].uid = tool->data.uid;
                        p.entries[i].gid = tool->data.gid;
                }
                Entry *top = (Entry *) plan_find(&p, tool->data.path);
                if (top)
                        top->mode = tool->data.mode;
                r = plan_finish(&p, mtime, err);
        }
        if (r < 0) {
                plan_clear(&p);
                goto fail;
        }
        *ret = p;
        *ret_tmpdir = TAKE_PTR(tmpdir);
        return 0;
fail:
        tool_data_cleanup(TAKE_PTR(tmpdir));
        return r;
}

static void merge_kv(char ***dst, char *const *src)
{
        for (size_t i = 0; src && src[i]; i++) {
                const char *eq = strchr(src[i], '=');
                size_t klen = eq ? (size_t) (eq - src[i]) : strlen(src[i]);
                bool replaced = false;
                for (size_t k = 0; *dst && (*dst)[k]; k++)
                        if (strncmp((*dst)[k], src[i], klen) == 0 && (*dst)[k][klen] == '=') {
                                free((*dst)[k]);
                                (*dst)[k] = xstrdup(src[i]);
                                replaced = true;
                        }
                if (!replaced)
                        strv_push(dst, src[i]);
        }
}

static char **strv_copy(char *const *v)
{
        char **out = NULL;
        if (!v)
                return NULL;
        out = xcalloc(1, sizeof(char *));
        for (size_t i = 0; v[i]; i++)
                strv_push(&out, v[i]);
        return out;
}

void tool_image_config(const SpecImageConfig *base, const SpecImageConfig *tool, SpecImageConfig *ret)
{
        memset(ret, 0, sizeof(*ret));
        ret->user = xstrdup(tool->user ? tool->user : base->user ? base->user : "0:0");
        ret->workdir = tool->workdir ? xstrdup(tool->workdir) : base->workdir ? xstrdup(base->workdir) : NULL;
        merge_kv(&ret->env, base->env);
        merge_kv(&ret->env, tool->env);
        merge_kv(&ret->labels, base->labels);
        merge_kv(&ret->labels, tool->labels);
        ret->entrypoint = strv_copy(tool->entrypoint ? tool->entrypoint : base->entrypoint);
        /* As in a Dockerfile, a new entrypoint drops the inherited cmd. */
        ret->cmd = strv_copy(tool->cmd ? tool->cmd : tool->entrypoint ? NULL : base->cmd);
        ret->ports = strv_copy(tool->ports ? tool->ports : base->ports);
        ret->volumes = strv_copy(tool->volumes ? tool->volumes : base->volumes);
}
