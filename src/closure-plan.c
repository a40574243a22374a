/* SPDX-License-Identifier: MIT */
#include "closure-plan.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "journal.h"
#include "path.h"
#include "util.h"

static const Entry *find_below(const Plan *const *below, size_t n_below, const char *path)
{
        for (size_t i = 0; i < n_below; i++) {
                const Entry *e = below[i] ? plan_find(below[i], path) : NULL;
                if (e)
                        return e;
        }
        return NULL;
}

int closure_plan_add(Plan *p, const Plan *const *below, size_t n_below, Sysroot *root, const ElfClosure *c, size_t from,
                     const char *root_why, ObError *err)
{
        int r;
        for (size_t i = from; i < elf_closure_count(c); i++) {
                const ElfDep *d = elf_closure_get(c, i);
                const Entry *b = find_below(below, n_below, d->path);
                _cleanup_free_ char *why = d->needed_by ? xasprintf("needed by %s", d->needed_by)
                                                        : xstrdup(root_why ? root_why : "binary named in config");
                if (d->type == ELF_DEP_SYMLINK) {
                        /* Symlinks met on the way to a file are part of the
                         * image too (/lib -> usr/lib, libz.so.1 -> libz.so.1.2.13). */
                        if (b && b->type == ENTRY_SYMLINK && strcmp(b->target, d->target) == 0)
                                continue;
                        Entry e = { .path = d->path,
                                    .type = ENTRY_SYMLINK,
                                    .mode = 0777,
                                    .target = d->target,
                                    .why = why };
                        r = plan_add(p, &e, err);
                } else {
                        if (b)
                                continue;
                        PlanCopyOptions o = { .dst = d->path, .src = d->path, .why = why };
                        r = plan_add_host(p, root, &o, err);
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Reads the ELF headers of a file: 1 with ret for a supported ELF object, 0
 * for anything else, or a negative errno. */
static int probe_fd(int fd, const char *name, ElfInfo *ret, ObError *err)
{
        struct stat st;
        if (fstat(fd, &st) < 0)
                return ob_error_set(err, errno, "cannot stat '%s'", name);
        if (!S_ISREG(st.st_mode) || st.st_size < 64)
                return 0;
        size_t size = (size_t) st.st_size;
        void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED)
                return ob_error_set(err, errno, "cannot map '%s'", name);
        ObError why_not = { 0 };
        int r = elf_probe(map, size, name, ret, &why_not);
        munmap(map, size);
        if (r < 0 && err)
                *err = why_not;
        return r;
}

/* Whether the sysroot has an ELF object for machine at path, as ld.so would
 * accept it. */
static bool sysroot_has_object(Sysroot *root, const char *path, int machine)
{
        _cleanup_free_ char *real = NULL;
        ObError ignore;
        if (sysroot_resolve(root, path, NULL, NULL, &real, &ignore) < 0)
                return false;
        _cleanup_close_ int fd = sysroot_open_file(root, real, &ignore);
        ElfInfo info = { 0 };
        if (fd < 0 || probe_fd(fd, real, &info, &ignore) <= 0)
                return false;
        bool ok = info.machine == machine;
        elf_info_clear(&info);
        return ok;
}

/* $ORIGIN and ${ORIGIN} of a DT_RUNPATH/DT_RPATH entry. */
static char *expand_origin(const char *dir, const char *origin)
{
        _cleanup_free_ char *a = str_replace_all(dir, "${ORIGIN}", origin);
        return str_replace_all(a, "$ORIGIN", origin);
}

/* Where ld.so looks for the DT_NEEDED names of a program: its DT_RUNPATH
 * (or else DT_RPATH), then the default directories, the multiarch ones
 * first as Debian's ld.so.conf has them. Relative entries are left out: they
 * would be relative to the working directory. */
static char **search_dirs(const ElfInfo *info, const char *origin)
{
        char **dirs = NULL;
        const char *list = info->runpath ? info->runpath : info->rpath;
        _cleanup_free_ char *copy = list ? xstrdup(list) : NULL;
        char *save = NULL;
        for (char *t = copy ? strtok_r(copy, ":", &save) : NULL; t; t = strtok_r(NULL, ":", &save)) {
                _cleanup_free_ char *dir = expand_origin(t, origin);
                if (dir[0] == '/' && !strv_contains(dirs, dir))
                        strv_push(&dirs, dir);
        }
        const char *multiarch = elf_machine_multiarch(info->machine);
        if (multiarch) {
                _cleanup_free_ char *a = xasprintf("/lib/%s", multiarch);
                _cleanup_free_ char *b = xasprintf("/usr/lib/%s", multiarch);
                strv_push(&dirs, a);
                strv_push(&dirs, b);
        }
        static const char *const defaults[] = { "/lib64", "/usr/lib64", "/lib", "/usr/lib" };
        for (size_t i = 0; i < ELEMENTSOF(defaults); i++)
                strv_push(&dirs, defaults[i]);
        return dirs;
}

typedef struct Foreign {
        Plan *plan;
        const Plan *const *below;
        size_t n_below;
        ElfClosure *closure;
        Sysroot *root;
        const char *image_path;
        const char *interp;
        char *why;
} Foreign;

/* Adds path of the sysroot, with its closure. */
static int foreign_add(Foreign *f, const char *path, ObError *err)
{
        size_t from = elf_closure_count(f->closure);
        int r = elf_closure_add(f->closure, path, ELF_CLOSURE_MUST_BE_ELF, err);
        if (r < 0)
                return ob_error_wrap(err, "%s (needed by %s)", path, f->image_path);
        return closure_plan_add(f->plan, f->below, f->n_below, f->root, f->closure, from, f->why, err);
}

static int foreign_needed(Foreign *f, const ElfInfo *info, const char *name, ObError *err)
{
        _cleanup_free_ char *origin = xstrdup(f->image_path);
        *strrchr(origin, '/') = '\0';
        if (!*origin) {
                free(origin);
                origin = xstrdup("/");
        }

        _cleanup_strv_ char **dirs = NULL;
        if (strchr(name, '/')) {
                _cleanup_free_ char *expanded = expand_origin(name, origin);
                _cleanup_free_ char *path = expanded[0] == '/' ? xstrdup(expanded) : path_join("/", expanded);
                strv_push(&dirs, path);
        } else {
                dirs = search_dirs(info, origin);
                for (size_t i = 0; dirs[i]; i++) {
                        char *joined = path_join(dirs[i], name);
                        free(dirs[i]);
                        dirs[i] = joined;
                }
        }
        for (size_t i = 0; dirs[i]; i++) {
                /* Shipped beside it (another artifact), or in a layer below. */
                if (plan_find(f->plan, dirs[i]) || find_below(f->below, f->n_below, dirs[i]))
                        return 0;
                if (sysroot_has_object(f->root, dirs[i], info->machine))
                        return foreign_add(f, dirs[i], err);
        }
        _cleanup_free_ char *searched = strv_join(dirs, ", ");
        return ob_error_plain(err, ENOENT,
                              "'%s' (program interpreter %s) needs %s, which is not in the sysroot (looked for %s)",
                              f->image_path, f->interp ? f->interp : "none", name, searched);
}

int closure_plan_add_foreign(Plan *p, const Plan *const *below, size_t n_below, ElfClosure *c, Sysroot *root,
                             const char *image_path, const char *host_path, ObError *err)
{
        _cleanup_close_ int fd = open(host_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0)
                journal_note_error(host_path, /* follow= */ false, errno);
        else
                journal_note_fd(host_path, /* follow= */ false, fd);
        if (fd < 0)
                return ob_error_set(err, errno, "cannot open '%s'", host_path);
        ElfInfo info = { 0 };
        int r = probe_fd(fd, image_path, &info, err);
        if (r <= 0)
                return r;
        _cleanup_free_ char *why = xasprintf("needed by %s", image_path);
        Foreign f = { .plan = p,
                      .below = below,
                      .n_below = n_below,
                      .closure = c,
                      .root = root,
                      .image_path = image_path,
                      .interp = info.interp,
                      .why = why };
        if (info.interp && !find_below(below, n_below, info.interp)) {
                if (!sysroot_has_object(root, info.interp, info.machine))
                        r = ob_error_plain(err, ENOENT,
                                           "'%s' needs the program interpreter %s, which is not in the sysroot",
                                           image_path, info.interp);
                else
                        r = foreign_add(&f, info.interp, err);
        }
        for (size_t i = 0; r >= 0 && info.needed[i]; i++)
                r = foreign_needed(&f, &info, info.needed[i], err);
        elf_info_clear(&info);
        return r < 0 ? r : 0;
}
