/* SPDX-License-Identifier: MIT */
#include "journal.h"
#include "plan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "passwd.h"
#include "path.h"
#include "util.h"

void plan_init(Plan *p)
{
        memset(p, 0, sizeof(*p));
}

static void entry_clear(Entry *e)
{
        free(e->path);
        free(e->source);
        sysroot_free(e->root);
        free(e->source_path);
        free(e->data);
        free(e->target);
        free(e->why);
}

void plan_clear(Plan *p)
{
        for (size_t i = 0; i < p->n; i++)
                entry_clear(&p->entries[i]);
        free(p->entries);
        free(p->index);
        plan_init(p);
}

static size_t hash_path(const char *s)
{
        /* FNV-1a */
        size_t h = 1469598103934665603ull;
        for (; *s; s++) {
                h ^= (unsigned char) *s;
                h *= 1099511628211ull;
        }
        return h;
}

static void index_rebuild(Plan *p)
{
        free(p->index);
        p->index_cap = 64;
        while (p->index_cap < p->n * 2 + 16)
                p->index_cap *= 2;
        p->index = xcalloc(p->index_cap, sizeof(size_t));
        for (size_t i = 0; i < p->n; i++) {
                size_t h = hash_path(p->entries[i].path) & (p->index_cap - 1);
                while (p->index[h])
                        h = (h + 1) & (p->index_cap - 1);
                p->index[h] = i + 1;
        }
}

static Entry *find_mut(const Plan *p, const char *rel)
{
        if (!p->index)
                return NULL;
        size_t h = hash_path(rel) & (p->index_cap - 1);
        while (p->index[h]) {
                Entry *e = &p->entries[p->index[h] - 1];
                if (strcmp(e->path, rel) == 0)
                        return e;
                h = (h + 1) & (p->index_cap - 1);
        }
        return NULL;
}

const Entry *plan_find(const Plan *p, const char *path)
{
        while (*path == '/')
                path++;
        return find_mut(p, path);
}

static const char *type_name(EntryType t)
{
        switch (t) {
        case ENTRY_DIR:
                return "directory";
        case ENTRY_FILE:
                return "file";
        case ENTRY_SYMLINK:
                return "symlink";
        case ENTRY_HARDLINK:
                return "hard link";
        }
        return "?";
}

static bool same_content(const Entry *a, const Entry *b)
{
        switch (a->type) {
        case ENTRY_DIR:
                return true;
        case ENTRY_SYMLINK:
        case ENTRY_HARDLINK:
                return strcmp(a->target, b->target) == 0;
        case ENTRY_FILE:
                if (a->size != b->size)
                        return false;
                if (a->source && b->source)
                        return strcmp(a->source, b->source) == 0 ||
                               (a->dev == b->dev && a->ino == b->ino && a->nlink > 0);
                if (a->data && b->data)
                        return memcmp(a->data, b->data, a->size) == 0;
                return a->size == 0 && b->size == 0;
        }
        return false;
}

int plan_add(Plan *p, const Entry *e, ObError *err)
{
        _cleanup_free_ char *abs = NULL;
        if (e->path[0] == '/')
                abs = path_normalize_abs(e->path, err);
        else {
                _cleanup_free_ char *tmp = xasprintf("/%s", e->path);
                abs = path_normalize_abs(tmp, err);
        }
        if (!abs)
                return ob_error_wrap(err, "invalid image path");
        if (strcmp(abs, "/") == 0)
                return ob_error_plain(err, EINVAL, "the image root itself cannot be an entry");
        const char *rel = abs + 1;

        Entry *old = find_mut(p, rel);
        if (old) {
                if (old->type == e->type && old->mode == e->mode && old->uid == e->uid && old->gid == e->gid &&
                    same_content(old, e)) {
                        /* The same thing reached twice: the result must not
                         * depend on which way came first. */
                        if (e->mtime < old->mtime)
                                old->mtime = e->mtime;
                        return 0;
                }
                /* An explicit directory entry refines one that was only implied. */
                if (old->type == ENTRY_DIR && e->type == ENTRY_DIR) {
                        if (old->why && strcmp(old->why, "parent directory") == 0) {
                                old->mode = e->mode;
                                old->uid = e->uid;
                                old->gid = e->gid;
                                free(old->why);
                                old->why = e->why ? xstrdup(e->why) : NULL;
                                return 0;
                        }
                }
                return ob_error_plain(err, EEXIST, "two different sources for '/%s': %s (%s) and %s (%s)", rel,
                                      type_name(old->type),
                                      old->source ? old->source : (old->why ? old->why : "generated"),
                                      type_name(e->type), e->source ? e->source : (e->why ? e->why : "generated"));
        }

        if (p->n == p->cap) {
                p->cap = p->cap ? p->cap * 2 : 64;
                p->entries = xrealloc(p->entries, p->cap * sizeof(Entry));
        }
        Entry *n = &p->entries[p->n++];
        *n = *e;
        n->path = xstrdup(rel);
        n->source = e->source ? xstrdup(e->source) : NULL;
        n->root = sysroot_ref(e->root);
        n->source_path = e->source_path ? xstrdup(e->source_path) : NULL;
        n->target = e->target ? xstrdup(e->target) : NULL;
        n->why = e->why ? xstrdup(e->why) : NULL;
        if (e->data) {
                n->data = xmalloc(e->size + 1);
                memcpy(n->data, e->data, e->size);
                n->data[e->size] = '\0';
        }
        if (p->n * 2 + 1 > p->index_cap)
                index_rebuild(p);
        else {
                size_t h = hash_path(n->path) & (p->index_cap - 1);
                while (p->index[h])
                        h = (h + 1) & (p->index_cap - 1);
                p->index[h] = p->n;
        }
        return 0;
}

static int entry_cmp(const void *a, const void *b)
{
        return path_compare(((const Entry *) a)->path, ((const Entry *) b)->path);
}

int plan_finish(Plan *p, int64_t mtime, ObError *err)
{
        int r;

        /* Implied parents first; the array may grow while we walk it, so index. */
        for (size_t i = 0; i < p->n; i++) {
                _cleanup_free_ char *path = xstrdup(p->entries[i].path);
                for (char *slash = strrchr(path, '/'); slash; slash = strrchr(path, '/')) {
                        *slash = '\0';
                        const Entry *parent = find_mut(p, path);
                        if (parent) {
                                if (parent->type != ENTRY_DIR)
                                        return ob_error_plain(
                                                err, ENOTDIR,
                                                "'/%s' is a %s in the image, but '/%s' needs it to be a directory",
                                                path, type_name(parent->type), p->entries[i].path);
                                break;
                        }
                        Entry d = { .path = path,
                                    .type = ENTRY_DIR,
                                    .mode = 0755,
                                    .mtime = mtime,
                                    .why = (char *) "parent directory" };
                        r = plan_add(p, &d, err);
                        if (r < 0)
                                return r;
                }
        }

        qsort_safe(p->entries, p->n, sizeof(Entry), entry_cmp);
        index_rebuild(p);

        /* Files that are hard links of each other on the host stay hard links:
         * the first in sort order carries the data. */
        for (size_t i = 0; i < p->n; i++) {
                Entry *e = &p->entries[i];
                if (e->type != ENTRY_FILE || !e->source || e->nlink < 2)
                        continue;
                for (size_t j = 0; j < i; j++) {
                        Entry *f = &p->entries[j];
                        if (f->type == ENTRY_FILE && f->source && f->dev == e->dev && f->ino == e->ino &&
                            f->mode == e->mode && f->uid == e->uid && f->gid == e->gid) {
                                e->type = ENTRY_HARDLINK;
                                e->target = xstrdup(f->path);
                                break;
                        }
                }
        }
        return 0;
}

uint64_t plan_content_size(const Plan *p)
{
        uint64_t n = 0;
        for (size_t i = 0; i < p->n; i++)
                if (p->entries[i].type == ENTRY_FILE)
                        n += p->entries[i].size;
        return n;
}

static bool excluded(char *const *exclude, const char *image_path)
{
        for (size_t i = 0; exclude && exclude[i]; i++) {
                const char *pat = exclude[i];
                if (fnmatch(pat, image_path, 0) == 0)
                        return true;
                /* A pattern without '/' matches the last component anywhere. */
                if (!strchr(pat, '/')) {
                        const char *base = strrchr(image_path, '/');
                        if (fnmatch(pat, base ? base + 1 : image_path, 0) == 0)
                                return true;
                }
        }
        return false;
}

static uint32_t entry_mode(const PlanCopyOptions *o, const struct stat *st)
{
        if (o->has_mode)
                return o->mode;
        if (o->normalize_modes)
                return (S_ISDIR(st->st_mode) || (st->st_mode & 0111)) ? 0755 : 0644;
        /* setuid and setgid bits never enter a distroless image */
        return st->st_mode & 01777;
}

static bool is_under(const char *path, const char *dir)
{
        size_t n = strlen(dir);
        return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/* Why a file may not be copied unless a config names it exactly, or NULL.
 * named is the canonical path the copy started from. */
static const char *private_reason(const PlanCopyOptions *o, const char *named, const char *src, const struct stat *st)
{
        /* Keys, password hashes and home directories: a tree that merely
         * holds them, or links to them, must not carry them along. */
        static const char *const files[] = { "/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-" };
        static const char *const dirs[] = { "/etc/ssl/private", "/root", "/home" };

        if (o->allow_private || !S_ISREG(st->st_mode))
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                if (strcmp(src, files[i]) == 0)
                        return "a password file";
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
                if (is_under(src, dirs[i]) && !is_under(named, dirs[i]))
                        return "a key or credential location";
        if (!o->normalize_modes && !(st->st_mode & S_IROTH))
                return "not world-readable";
        return NULL;
}

/* A file of the plan, opened the way the layer writer will open it: it must
 * be readable now, so a build never fails half-way through a layer, and be
 * the file that was looked at. */
static int check_file(Sysroot *root, const char *src, const char *host, const struct stat *st, ObError *err)
{
        ObError local;
        _cleanup_close_ int fd = sysroot_openat(root, src, O_RDONLY | O_NOCTTY | O_NONBLOCK, &local);
        if (fd < 0) {
                if (fd == -ELOOP || fd == -ENOTDIR || fd == -EXDEV)
                        return ob_error_plain(err, EIO, "'%s' changed while the image was being built", host);
                return ob_error_set(err, -fd, "cannot read '%s'", host);
        }
        struct stat now;
        if (fstat(fd, &now) < 0)
                return ob_error_set(err, errno, "cannot stat '%s'", host);
        if (!S_ISREG(now.st_mode) || now.st_dev != st->st_dev || now.st_ino != st->st_ino)
                return ob_error_plain(err, EIO, "'%s' changed while the image was being built", host);
        return 0;
}

/* exact: src is the path a config named (not reached through a directory
 * or a link); named: where this copy started. */
static int add_one(Plan *p, Sysroot *root, const PlanCopyOptions *o, const char *named, bool exact, const char *src,
                   const char *dst, const struct stat *st, ObError *err)
{
        Entry e = { .path = (char *) dst,
                    .uid = o->uid,
                    .gid = o->gid,
                    .mtime = st->st_mtim.tv_sec,
                    .why = (char *) o->why,
                    .dev = st->st_dev,
                    .ino = st->st_ino,
                    .nlink = (uint32_t) st->st_nlink };
        _cleanup_free_ char *host = NULL, *target = NULL;
        int r;

        const char *reason = exact ? NULL : private_reason(o, named, src, st);
        if (reason) {
                const char *origin = o->origin ? o->origin : (o->why ? o->why : "copied");
                const char *via = o->via_link               ? "the link target"
                                  : strcmp(src, named) == 0 ? "symlinks on the way to"
                                                            : "the directory";
                return ob_error_plain(err, EACCES,
                                      "'%s' is private (%s): reached through %s '%s' (%s), not named exactly; "
                                      "a config must name that exact path to ship it",
                                      src, reason, via, named, origin);
        }

        if (S_ISDIR(st->st_mode)) {
                e.type = ENTRY_DIR;
                /* 'mode' in a files entry is for the files; directories keep theirs */
                e.mode = o->normalize_modes ? 0755 : (st->st_mode & 01777);
        } else if (S_ISREG(st->st_mode)) {
                e.type = ENTRY_FILE;
                e.mode = entry_mode(o, st);
                e.size = (uint64_t) st->st_size;
                host = sysroot_host_path(root, src);
                r = check_file(root, src, host, st, err);
                if (r < 0)
                        return r;
                e.source = host;
                e.root = root;
                e.source_path = (char *) src;
        } else if (S_ISLNK(st->st_mode)) {
                r = sysroot_readlink(root, src, &target, err);
                if (r < 0)
                        return r;
                e.type = ENTRY_SYMLINK;
                e.mode = 0777;
                e.target = target;
                e.nlink = 0;
        } else {
                host = sysroot_host_path(root, src);
                return ob_error_plain(err, EINVAL, "'%s' is not a regular file, directory or symlink", host);
        }
        return plan_add(p, &e, err);
}

static bool same_file(const struct stat *a, const struct stat *b)
{
        return a->st_dev == b->st_dev && a->st_ino == b->st_ino && (a->st_mode & S_IFMT) == (b->st_mode & S_IFMT);
}

/* Copies the directory src, which was seen as dir_st: it is read through a
 * descriptor opened inside the root and checked to be that directory, and
 * what is in it is looked at relative to that descriptor, so swapping a
 * directory on the way for a symlink cannot bring in anything else. */
static int copy_tree(Plan *p, Sysroot *root, const PlanCopyOptions *o, const char *named, const char *src,
                     const char *dst, const struct stat *dir_st, ObError *err)
{
        _cleanup_free_ char *host = sysroot_host_path(root, src);
        _cleanup_strv_ char **names = NULL;
        ObError local;
        struct stat st;
        int r;

        _cleanup_close_ int dfd = sysroot_openat(root, src, O_RDONLY | O_DIRECTORY, &local);
        if (dfd < 0) {
                if (dfd == -ELOOP || dfd == -ENOTDIR || dfd == -EXDEV)
                        return ob_error_plain(err, EIO, "'%s' changed while the image was being built", host);
                return ob_error_set(err, -dfd, "cannot open directory '%s'", host);
        }
        if (fstat(dfd, &st) < 0)
                return ob_error_set(err, errno, "cannot stat '%s'", host);
        if (!same_file(&st, dir_st))
                return ob_error_plain(err, EIO, "'%s' changed while the image was being built", host);

        int lfd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
        if (lfd < 0)
                return ob_error_set(err, errno, "cannot open directory '%s'", host);
        _cleanup_dir_ DIR *dir = fdopendir(lfd);
        if (!dir) {
                close(lfd);
                return ob_error_set(err, errno, "cannot open directory '%s'", host);
        }
        for (;;) {
                errno = 0;
                struct dirent *de = readdir(dir);
                if (!de) {
                        if (errno != 0)
                                return ob_error_set(err, errno, "cannot read directory '%s'", host);
                        break;
                }
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                strv_push(&names, de->d_name);
        }
        /* readdir() order differs between file systems; nothing may depend on it. */
        qsort_safe(names, strv_length(names), sizeof(char *), strv_compare);

        for (size_t i = 0; names && names[i]; i++) {
                _cleanup_free_ char *s = path_join(src, names[i]);
                _cleanup_free_ char *d = path_join(dst, names[i]);
                if (excluded(o->exclude, d))
                        continue;
                if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        _cleanup_free_ char *h = sysroot_host_path(root, s);
                        journal_note_error(h, /* follow= */ false, errno);
                        return ob_error_set(err, errno, "cannot stat '%s'", h);
                }
                if (journal_current()) {
                        _cleanup_free_ char *h = sysroot_host_path(root, s);
                        journal_note_stat(h, /* follow= */ false, &st);
                }
                r = add_one(p, root, o, named, /* exact= */ false, s, d, &st, err);
                if (r < 0)
                        return r;
                if (S_ISDIR(st.st_mode)) {
                        r = copy_tree(p, root, o, named, s, d, &st, err);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

typedef struct KeepLinks {
        Plan *plan;
        const char *why;
} KeepLinks;

static int keep_link(void *userdata, const char *link_path, const char *target, ObError *err)
{
        KeepLinks *k = userdata;
        Entry e = { .path = (char *) link_path,
                    .type = ENTRY_SYMLINK,
                    .mode = 0777,
                    .target = (char *) target,
                    .why = (char *) k->why };
        return plan_add(k->plan, &e, err);
}

int plan_add_host(Plan *p, Sysroot *root, const PlanCopyOptions *o, ObError *err)
{
        _cleanup_free_ char *real = NULL;
        KeepLinks keep = { .plan = p, .why = o->why };
        struct stat st;
        int r = sysroot_resolve(root, o->src, o->keep_links ? keep_link : NULL, &keep, &real, err);
        if (r < 0)
                return r;
        r = sysroot_lstat(root, real, &st, err);
        if (r < 0)
                return r;
        /* Named exactly: the path as written, with no symlink on the way. */
        _cleanup_free_ char *written = path_normalize_abs(o->src, /* err= */ NULL);
        bool exact = !o->via_link && written && strcmp(written, real) == 0;
        const char *dst = o->keep_links ? real : o->dst;
        if (strcmp(dst, "/") != 0) {
                r = add_one(p, root, o, real, exact, real, dst, &st, err);
                if (r < 0)
                        return r;
        }
        if (S_ISDIR(st.st_mode))
                return copy_tree(p, root, o, real, real, dst, &st, err);
        return 0;
}

static int add_data(Plan *p, const char *path, const char *data, uint32_t mode, int64_t mtime, const char *why,
                    ObError *err)
{
        Entry e = { .path = (char *) path,
                    .type = ENTRY_FILE,
                    .mode = mode,
                    .mtime = mtime,
                    .size = strlen(data),
                    .data = (char *) data,
                    .why = (char *) why };
        return plan_add(p, &e, err);
}

int plan_add_local(Plan *p, const char *path, const PlanCopyOptions *o, ObError *err)
{
        journal_note_walk(path);
        _cleanup_free_ char *real = realpath(path, NULL);
        if (!real)
                return ob_error_set(err, errno, "'%s'", path);
        char *slash = strrchr(real, '/');
        _cleanup_free_ char *dir = slash == real ? xstrdup("/") : xstrndup(real, (size_t) (slash - real));
        _cleanup_(sysroot_freep) Sysroot *host = NULL;
        int r = sysroot_open(dir, &host, err);
        if (r < 0)
                return r;
        PlanCopyOptions local = *o;
        local.src = slash[1] ? slash : "/";
        return plan_add_host(p, host, &local, err);
}

int plan_add_spec_files(Plan *p, Sysroot *root, const Spec *s, ObError *err)
{
        for (size_t i = 0; i < s->n_files; i++) {
                const SpecFile *f = &s->files[i];
                _cleanup_free_ char *why = xasprintf("named in config (%s:%zu)", s->file, f->line);
                PlanCopyOptions o = { .dst = f->path,
                                      .src = f->source,
                                      .exclude = f->exclude,
                                      .has_mode = f->has_mode,
                                      .mode = f->mode,
                                      .uid = f->uid,
                                      .gid = f->gid,
                                      .why = why };
                int r = f->local ? plan_add_local(p, f->source, &o, err) : plan_add_host(p, root, &o, err);
                if (r < 0)
                        return ob_error_wrap(err, "%s:%zu: files entry '%s'", s->file, f->line, f->path);
        }
        return 0;
}

int plan_add_spec_dirs(Plan *p, const Spec *s, int64_t mtime, ObError *err)
{
        for (size_t i = 0; i < s->n_dirs; i++) {
                const SpecDir *d = &s->dirs[i];
                Entry e = { .path = d->path,
                            .type = ENTRY_DIR,
                            .mode = d->mode,
                            .uid = d->uid,
                            .gid = d->gid,
                            .mtime = mtime,
                            .why = (char *) "directory named in config" };
                int r = plan_add(p, &e, err);
                if (r < 0)
                        return ob_error_wrap(err, "%s", s->file);
        }
        return 0;
}

int plan_add_spec_links(Plan *p, const Spec *s, int64_t mtime, ObError *err)
{
        for (size_t i = 0; i < s->n_links; i++) {
                const SpecLink *l = &s->links[i];
                Entry e = { .path = l->path,
                            .type = ENTRY_SYMLINK,
                            .mode = 0777,
                            .mtime = mtime,
                            .target = l->target,
                            .why = (char *) "symlink named in config" };
                int r = plan_add(p, &e, err);
                if (r < 0)
                        return ob_error_wrap(err, "%s", s->file);
        }
        return 0;
}

int plan_from_spec(Plan *p, const Spec *s, Sysroot *root, int64_t mtime, ObError *err)
{
        int r;

        if (s->rootfs) {
                _cleanup_(sysroot_freep) Sysroot *tree = NULL;
                r = sysroot_open(s->rootfs, &tree, err);
                if (r < 0)
                        return r;
                /* A checkout's modes follow the umask of whoever cloned it;
                 * normalise them so every clone builds the same bytes. */
                PlanCopyOptions o = { .dst = "/",
                                      .src = "/",
                                      .normalize_modes = true,
                                      .why = "static file from rootfs/" };
                r = plan_add_host(p, tree, &o, err);
                if (r < 0)
                        return ob_error_wrap(err, "%s: rootfs", s->file);
        }

        if ((r = plan_add_spec_files(p, root, s, err)) < 0 || (r = plan_add_spec_dirs(p, s, mtime, err)) < 0 ||
            (r = plan_add_spec_links(p, s, mtime, err)) < 0)
                return r;

        if (s->n_users > 0) {
                _cleanup_free_ char *passwd = passwd_render(s->users, s->n_users);
                r = add_data(p, "/etc/passwd", passwd, 0644, mtime, "generated from 'users'", err);
                if (r < 0)
                        return ob_error_wrap(err, "%s", s->file);
        }
        if (s->n_groups > 0) {
                _cleanup_free_ char *group = group_render(s->groups, s->n_groups);
                r = add_data(p, "/etc/group", group, 0644, mtime, "generated from 'groups'", err);
                if (r < 0)
                        return ob_error_wrap(err, "%s", s->file);
        }
        return plan_finish(p, mtime, err);
}
