/* SPDX-License-Identifier: MIT */
#include "tool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "journal.h"
#include "closure-plan.h"
#include "dpkg.h"
#include "elf.h"
#include "log.h"
#include "platform.h"
#include "util.h"

int tool_resolve_version(const Spec *spec, Sysroot *root, char **ret, char **ret_debian_version, ObError *err)
{
        if (spec->version) {
                *ret = xstrdup(spec->version);
                if (ret_debian_version)
                        *ret_debian_version = NULL;
                return 0;
        }
        _cleanup_free_ char *debian = NULL;
        int r = dpkg_package_version(root, spec->package, &debian, err);
        if (r < 0)
                return ob_error_wrap(err, "%s: cannot read the version of '%s'", spec->file, spec->name);
        char *tag = dpkg_version_tag(debian);
        if (!tag)
                return ob_error_plain(err, EINVAL,
                                      "%s: the Debian package '%s' has the version '%s', which has no "
                                      "upstream part",
                                      spec->file, spec->package, debian);
        *ret = tag;
        if (ret_debian_version)
                *ret_debian_version = TAKE_PTR(debian);
        return 0;
}

/* The programs among a package's files, for a message: "/usr/bin/jq" or
 * "/usr/bin/git, /usr/bin/git-shell, ... (and 3 more)". NULL when it has none. */
static char *package_programs(char *const *files)
{
        enum { SHOWN = 8 };
        _cleanup_strv_ char **programs = NULL;
        size_t n = 0;
        for (size_t i = 0; files && files[i]; i++) {
                const char *slash = strrchr(files[i], '/');
                size_t dir = (size_t) (slash - files[i]);
                bool in_bin = (dir >= 4 && strncmp(slash - 4, "/bin", 4) == 0) ||
                              (dir >= 5 && strncmp(slash - 5, "/sbin", 5) == 0);
                if (in_bin && slash[1] && n++ < SHOWN)
                        strv_push(&programs, files[i]);
        }
        if (!programs)
                return NULL;
        _cleanup_free_ char *list = strv_join(programs, ", ");
        return n > SHOWN ? xasprintf("%s (and %zu more)", list, n - SHOWN) : TAKE_PTR(list);
}

/* Whether dpkg recorded path among a package's files, allowing for merged
 * /usr ("/bin/ls" is recorded, "/usr/bin/ls" is named, or the other way). */
static bool package_has(char *const *files, const char *path)
{
        if (strv_contains(files, path))
                return true;
        if (str_startswith(path, "/usr/"))
                return strv_contains(files, path + 4);
        _cleanup_free_ char *usr = xasprintf("/usr%s", path);
        return strv_contains(files, usr);
}

/* A binary the sysroot lacks: the fix depends on whether its package is
 * installed. If it is, installing it again changes nothing, and the path in
 * the config is what is wrong. ENOPKG when the package is not installed. */
static int missing_binary(const Spec *tool, Sysroot *root, const char *binary, ObError *err)
{
        _cleanup_(dpkg_status_freep) DpkgStatus *status = NULL;
        ObError ignore;
        const DpkgParagraph *p = NULL;
        if (dpkg_status_load(root, &status, &ignore) == 0)
                p = dpkg_status_find_installed(status, tool->package);
        if (!p)
                return ob_error_plain(err, ENOPKG,
                                      "%s: binary '%s' is not installed: install the Debian package '%s' "
                                      "(apt-get install %s)",
                                      tool->file, binary, tool->package, tool->package);

        _cleanup_strv_ char **files = NULL;
        if (dpkg_paragraph_files(root, p, &files, &ignore) < 0)
                return ob_error_plain(err, ENOENT,
                                      "%s: binary '%s' does not exist, though the Debian package '%s' is installed: "
                                      "check the path",
                                      tool->file, binary, tool->package);
        if (package_has(files, binary))
                return ob_error_plain(err, ENOENT,
                                      "%s: binary '%s' does not exist, though the installed Debian package '%s' "
                                      "put it there: reinstall it (apt-get install --reinstall %s)",
                                      tool->file, binary, tool->package, tool->package);
        _cleanup_free_ char *programs = package_programs(files);
        if (!programs)
                return ob_error_plain(err, ENOENT,
                                      "%s: binary '%s' does not exist, and the installed Debian package '%s' has no "
                                      "program in a bin directory",
                                      tool->file, binary, tool->package);
        return ob_error_plain(err, ENOENT,
                              "%s: binary '%s' does not exist, and the installed Debian package '%s' does not have "
                              "it; its programs are %s",
                              tool->file, binary, tool->package, programs);
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
        Entry e = { .path = (char *) path,
                    .type = ENTRY_SYMLINK,
                    .mode = 0777,
                    .target = (char *) target,
                    .why = (char *) why };
        return plan_add(p, &e, err);
}

static int link_adder(void *userdata, const char *link_path, const char *target, ObError *err)
{
        LinkAdder *a = userdata;
        return add_symlink_entry(a->plan, a->base, link_path, target, a->why, err);
}

static bool is_elf_file(const char *host)
{
        unsigned char magic[4];
        _cleanup_close_ int fd = open(host, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                journal_note_error(host, /* follow= */ false, errno);
        else
                journal_note_fd(host, /* follow= */ false, fd);
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
        _cleanup_(plan_clear) Plan dirs = { 0 };
        _cleanup_(plan_clear) Plan base_dirs = { 0 };
        size_t indexed = 0;
        bool changed = true;
        int r;

        if (base)
                add_parents(&base_dirs, base, 0);
        while (changed) {
                changed = false;
                for (size_t i = 0; i < p->n; i++) {
                        const Entry *e = &p->entries[i];
                        if (e->type != ENTRY_SYMLINK)
                                continue;
                        _cleanup_free_ char *link = xasprintf("/%s", e->path);
                        _cleanup_free_ char *dir = xstrdup(link);
                        *strrchr(dir, '/') = '\0';
                        _cleanup_free_ char *joined =
                                e->target[0] == '/' ? xstrdup(e->target) : xasprintf("%s/%s", dir, e->target);
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
                                continue; /* dangling on the host too: keep it as it is */
                        _cleanup_free_ char *why = xasprintf("target of symlink %s", link);
                        _cleanup_free_ char *origin = xasprintf("target of symlink %s, %s", link, e->why ? e->why : "");
                        PlanCopyOptions o = { .dst = real,
                                              .src = real,
                                              .exclude = exclude,
                                              .why = why,
                                              .via_link = true,
                                              .origin = origin };
                        size_t before = p->n;
                        r = plan_add_host(p, root, &o, err);
                        if (r < 0)
                                return r;
                        changed |= p->n != before;
                }
        }
        return 0;
}

int tool_plan(const Spec *tool, Sysroot *root, const Plan *base, int64_t mtime, Plan *ret, ObError *err)
{
        return tool_plan_with(tool, root, base, mtime, /* o= */ NULL, ret, err);
}

int tool_plan_with(const Spec *tool, Sysroot *root, const Plan *base, int64_t mtime, const ToolPlanOptions *opts,
                   Plan *ret, ObError *err)
{
        _cleanup_strv_ char **all_excludes = NULL;
        _cleanup_(elf_closure_freep) ElfClosure *c = NULL;
        _cleanup_(plan_clear) Plan p = { 0 };
        int r;

        r = elf_closure_new(root, &c, err);
        if (r < 0)
                return r;

        if (tool->n_artifacts || tool->n_build) {
                /* The release of the sysroot's architecture, unless told. */
                Platform pf;
                ObError ignore;
                if (platform_of_sysroot(root, &pf, &ignore) <= 0)
                        platform_native(&pf);
                r = tool_release_plan(tool, root, base, opts && opts->arch ? opts->arch : pf.arch,
                                      !(opts && opts->no_fetch), &p, err);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; !tool->n_artifacts && !tool->n_build && tool->binaries[i]; i++) {
                size_t from = elf_closure_count(c);
                /* A missing binary is the package's business (not installed,
                 * or not the path it installs); a missing library is another
                 * package's. */
                _cleanup_free_ char *real = NULL;
                ObError ignore;
                if (tool->package && sysroot_resolve(root, tool->binaries[i], NULL, NULL, &real, &ignore) == -ENOENT)
                        return missing_binary(tool, root, tool->binaries[i], err);
                r = elf_closure_add(c, tool->binaries[i], ELF_CLOSURE_MUST_BE_ELF, err);
                if (r < 0)
                        return ob_error_wrap_subject(err, tool->binaries[i], "%s: binary '%s'", tool->file,
                                                     tool->binaries[i]);
                r = closure_plan_add(&p, &base, /* n_below= */ base ? 1 : 0, root, c, from, /* root_why= */ NULL, err);
                if (r < 0)
                        return r;
        }

        for (size_t i = 0; i < tool->n_files; i++) {
                const SpecFile *f = &tool->files[i];
                _cleanup_free_ char *dst = NULL, *src = NULL;
                _cleanup_free_ char *why = xasprintf("named in config (%s:%zu)", tool->file, f->line);
                r = expand_path(root, f->path, &dst, err);
                if (r == 0 && !f->local)
                        r = expand_path(root, f->source, &src, err);
                if (r == 0) {
                        /* Named at its own path, a symlink stays a symlink and
                         * what it points to comes along. */
                        PlanCopyOptions o = { .dst = dst,
                                              .src = src,
                                              .exclude = f->exclude,
                                              .has_mode = f->has_mode,
                                              .mode = f->mode,
                                              .uid = f->uid,
                                              .gid = f->gid,
                                              .why = why,
                                              .keep_links = !f->local && strcmp(dst, src) == 0 };
                        /* a source beside the config comes from the host */
                        r = f->local ? plan_add_local(&p, f->source, &o, err) : plan_add_host(&p, root, &o, err);
                }
                if (r == -ENOENT && f->optional) {
                        ob_debug("%s:%zu: skipping optional '%s': %s", tool->file, f->line, f->path, err->msg);
                        continue;
                }
                if (r < 0)
                        return ob_error_wrap_subject(err, f->path, "%s:%zu: files entry '%s'", tool->file, f->line,
                                                     f->path);
                for (size_t k = 0; f->exclude && f->exclude[k]; k++)
                        strv_push(&all_excludes, f->exclude[k]);
        }

        r = add_link_targets(&p, base, root, all_excludes, err);
        if (r < 0)
                return r;

        /* Every ELF object among the files brings its libraries: helpers
         * (git-remote-https) and plugins (postgres' .so files). A file
         * beside the config is not of the sysroot: it brings none. */
        for (size_t i = 0; i < p.n; i++) {
                const Entry *e = &p.entries[i];
                /* nor are a release's (src/tool-release.c): only its binaries'
                 * closure is taken */
                if (e->type != ENTRY_FILE || !e->source || e->root != root || e->size < 64 || !is_elf_file(e->source))
                        continue;
                _cleanup_free_ char *path = sysroot_relative(root, e->source);
                size_t from = elf_closure_count(c);
                r = elf_closure_add(c, path, /* flags= */ 0, err);
                if (r < 0)
                        return ob_error_wrap(err, "%s", tool->file);
                r = closure_plan_add(&p, &base, /* n_below= */ base ? 1 : 0, root, c, from, /* root_why= */ NULL, err);
                if (r < 0)
                        return r;
        }

        r = plan_add_spec_dirs(&p, tool, mtime, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < tool->n_links; i++) {
                r = add_symlink_entry(&p, /* base= */ NULL, tool->links[i].path, tool->links[i].target,
                                      "symlink named in config", err);
                if (r < 0)
                        return ob_error_wrap(err, "%s", tool->file);
        }

        /* Parent directories that the base layer already has are not
         * repeated with other metadata: take the base's. */
        r = plan_finish(&p, mtime, err);
        if (r < 0)
                return ob_error_wrap(err, "%s", tool->file);
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
        return 0;
}
