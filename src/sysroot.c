/* SPDX-License-Identifier: MIT */
#include "sysroot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "journal.h"
#include "util.h"

#define SYSROOT_MAX_LINKS 40
/* openat2() with RESOLVE_IN_ROOT fails with EAGAIN when a rename raced
 * with its walk; it is safe to try again. */
#define OPENAT2_RETRIES 8

bool sysroot_force_walk = false;

/* The answer about path inside s, for the input journal (journal.h): the
 * host path, looked at without following it, as these functions do. */
static void note(const Sysroot *s, const char *path, int error, const struct stat *st)
{
        if (!journal_current())
                return;
        _cleanup_free_ char *host = sysroot_host_path(s, path);
        if (error)
                journal_note_error(host, /* follow= */ false, error);
        else
                journal_note_stat(host, /* follow= */ false, st);
}

static void note_fd(const Sysroot *s, const char *path, int fd)
{
        if (!journal_current())
                return;
        _cleanup_free_ char *host = sysroot_host_path(s, path);
        journal_note_fd(host, /* follow= */ false, fd);
}

int sysroot_open(const char *path, Sysroot **ret, ObError *err)
{
        _cleanup_close_ int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                journal_note_error(path, /* follow= */ true, errno);
                return ob_error_set(err, errno, "cannot open sysroot '%s'", path);
        }
        journal_note_fd(path, /* follow= */ true, fd);
        Sysroot *s = xcalloc(1, sizeof(*s));
        size_t n = strlen(path);
        while (n > 0 && path[n - 1] == '/')
                n--;
        s->path = xstrndup(path, n);
        s->fd = TAKE_FD(fd);
        s->n_ref = 1;
        *ret = s;
        return 0;
}

Sysroot *sysroot_ref(Sysroot *s)
{
        if (s)
                s->n_ref++;
        return s;
}

void sysroot_free(Sysroot *s)
{
        if (!s || --s->n_ref > 0)
                return;
        if (s->dpkg_status_unref)
                s->dpkg_status_unref(s->dpkg_status);
        if (s->fd >= 0)
                close(s->fd);
        free(s->path);
        free(s);
}

char *sysroot_host_path(const Sysroot *s, const char *path)
{
        while (*path == '/')
                path++;
        return xasprintf("%s/%s", s->path, path);
}

static const char *rel(const char *path)
{
        while (*path == '/')
                path++;
        return *path ? path : ".";
}

/* One component after another, each opened with O_NOFOLLOW relative to the
 * one before: what openat2() does in one call, for kernels before 5.6. */
static int walk_open(const Sysroot *s, const char *path, int flags)
{
        _cleanup_close_ int cur = -1;
        const char *p = rel(path);
        if (strcmp(p, ".") == 0) {
                int fd = openat(s->fd, ".", flags & ~O_NOFOLLOW);
                return fd < 0 ? -errno : fd;
        }
        for (;;) {
                const char *e = strchrnul(p, '/');
                _cleanup_free_ char *comp = xstrndup(p, (size_t) (e - p));
                if (strcmp(comp, "..") == 0)
                        return -EXDEV;
                const char *q = e;
                while (*q == '/')
                        q++;
                int dir = cur >= 0 ? cur : s->fd;
                if (!*q) {
                        int fd = openat(dir, comp, flags);
                        return fd < 0 ? -errno : fd;
                }
                int next = openat(dir, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0)
                        /* a symlink where a directory was: it was swapped */
                        return errno == ENOTDIR ? -ELOOP : -errno;
                closep(&cur);
                cur = next;
                p = q;
        }
}

int sysroot_openat(const Sysroot *s, const char *path, int flags, ObError *err)
{
        static bool no_openat2 = false;
        int fd = -ENOSYS;

        flags |= O_NOFOLLOW | O_CLOEXEC;
        if (!no_openat2 && !sysroot_force_walk) {
                /* The path is canonical: a symlink in it means the tree
                 * changed since it was resolved. */
                struct open_how how = { .flags = (uint64_t) flags,
                                        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS };
                for (unsigned i = 0; i < OPENAT2_RETRIES; i++) {
                        fd = (int) syscall(SYS_openat2, s->fd, rel(path), &how, sizeof(how));
                        if (fd < 0)
                                fd = -errno;
                        if (fd != -EAGAIN)
                                break;
                }
                if (fd == -ENOSYS)
                        no_openat2 = true;
        }
        if (fd == -ENOSYS)
                fd = walk_open(s, path, flags);
        if (fd < 0) {
                note(s, path, -fd, NULL);
                return ob_error_set(err, -fd, "cannot open '%s'", path);
        }
        note_fd(s, path, fd);
        return fd;
}

/* The parent directory of a canonical path, opened inside the root, and the
 * last component; for the root itself, the root and ".". */
static int open_parent(const Sysroot *s, const char *path, char **ret_name, ObError *err)
{
        const char *p = rel(path);
        const char *slash = strrchr(p, '/');
        if (strcmp(p, ".") == 0 || !slash) {
                int fd = fcntl(s->fd, F_DUPFD_CLOEXEC, 3);
                if (fd < 0)
                        return ob_error_set(err, errno, "cannot open '%s'", path);
                *ret_name = xstrdup(p);
                return fd;
        }
        _cleanup_free_ char *parent = xstrndup(p, (size_t) (slash - p));
        int fd = sysroot_openat(s, parent, O_PATH | O_DIRECTORY, err);
        if (fd < 0)
                return fd;
        *ret_name = xstrdup(slash + 1);
        return fd;
}

int sysroot_lstat(const Sysroot *s, const char *path, struct stat *ret_st, ObError *err)
{
        _cleanup_free_ char *name = NULL;
        ObError local;
        _cleanup_close_ int dfd = open_parent(s, path, &name, &local);
        if (dfd < 0) {
                note(s, path, -dfd, NULL);
                return ob_error_set(err, -dfd, "%s", path);
        }
        if (fstatat(dfd, name, ret_st, AT_SYMLINK_NOFOLLOW) < 0) {
                note(s, path, errno, NULL);
                return ob_error_set(err, errno, "%s", path);
        }
        note(s, path, 0, ret_st);
        return 0;
}

int sysroot_open_file(const Sysroot *s, const char *path, ObError *err)
{
        return sysroot_openat(s, path, O_RDONLY | O_NOCTTY, err);
}

int sysroot_readlink(const Sysroot *s, const char *path, char **ret_target, ObError *err)
{
        char buf[PATH_MAX];
        _cleanup_free_ char *name = NULL;
        _cleanup_close_ int dfd = open_parent(s, path, &name, err);
        if (dfd < 0) {
                note(s, path, -dfd, NULL);
                return dfd;
        }
        ssize_t n = readlinkat(dfd, name, buf, sizeof(buf) - 1);
        if (n < 0) {
                note(s, path, errno, NULL);
                return ob_error_set(err, errno, "cannot read symlink '%s'", path);
        }
        if (journal_current()) {
                /* The link's own identity: replacing it makes a new inode. */
                struct stat st;
                if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        note(s, path, errno, NULL);
                else
                        note(s, path, 0, &st);
        }
        buf[n] = '\0';
        *ret_target = xstrdup(buf);
        return 0;
}

int sysroot_resolve(Sysroot *s, const char *path, SysrootLinkFn fn, void *userdata, char **ret_path, ObError *err)
{
        /* resolved: canonical prefix so far ("" is the root); rest: what is
         * still to walk. Symlink targets are spliced in front of rest. */
        _cleanup_free_ char *resolved = xstrdup("");
        _cleanup_free_ char *rest = xstrdup(path);
        unsigned links = 0;
        int r;

        for (;;) {
                char *p = rest;
                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                char *e = strchrnul(p, '/');
                _cleanup_free_ char *comp = xstrndup(p, (size_t) (e - p));
                char *next = xstrdup(e);
                free(rest);
                rest = next;

                if (strcmp(comp, ".") == 0)
                        continue;
                if (strcmp(comp, "..") == 0) {
                        char *slash = strrchr(resolved, '/');
                        if (!slash)
                                return ob_error_plain(err, EXDEV, "'%s' escapes the sysroot (a '..' climbs above it)",
                                                      path);
                        *slash = '\0';
                        continue;
                }

                _cleanup_free_ char *candidate = xasprintf("%s/%s", resolved, comp);
                struct stat st;
                ObError ignored;
                r = sysroot_lstat(s, candidate, &st, &ignored);
                if (r < 0) {
                        errno = -r;
                        if (errno == ENOENT)
                                return ob_error_plain(err, ENOENT, "'%s' does not exist in the sysroot%s%s%s",
                                                      candidate, strcmp(candidate, path) ? " (resolving '" : "",
                                                      strcmp(candidate, path) ? path : "",
                                                      strcmp(candidate, path) ? "')" : "");
                        return ob_error_set(err, errno, "cannot stat '%s'", candidate);
                }
                if (S_ISLNK(st.st_mode)) {
                        if (++links > SYSROOT_MAX_LINKS)
                                return ob_error_plain(err, ELOOP, "too many levels of symlinks resolving '%s'", path);
                        _cleanup_free_ char *target = NULL;
                        r = sysroot_readlink(s, candidate, &target, err);
                        if (r < 0)
                                return r;
                        if (fn) {
                                r = fn(userdata, candidate, target, err);
                                if (r < 0)
                                        return r;
                        }
                        if (target[0] == '/')
                                resolved[0] = '\0';
                        char *spliced = xasprintf("%s%s", target, rest);
                        free(rest);
                        rest = spliced;
                        continue;
                }
                if (!S_ISDIR(st.st_mode)) {
                        const char *q = rest;
                        while (*q == '/')
                                q++;
                        if (*q)
                                return ob_error_plain(err, ENOTDIR, "'%s' is not a directory (resolving '%s')",
                                                      candidate, path);
                }
                free(resolved);
                resolved = TAKE_PTR(candidate);
        }

        *ret_path = resolved[0] ? TAKE_PTR(resolved) : xstrdup("/");
        return 0;
}
