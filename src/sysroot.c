/* SPDX-License-Identifier: MIT */
#include "sysroot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

#define SYSROOT_MAX_LINKS 40

int sysroot_open(const char *path, Sysroot **ret, ObError *err)
{
        _cleanup_close_ int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return ob_error_set(err, errno, "cannot open sysroot '%s'", path);
        Sysroot *s = xcalloc(1, sizeof(*s));
        size_t n = strlen(path);
        while (n > 0 && path[n - 1] == '/')
                n--;
        s->path = xstrndup(path, n);
        s->fd = TAKE_FD(fd);
        *ret = s;
        return 0;
}

void sysroot_free(Sysroot *s)
{
        if (!s)
                return;
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

int sysroot_lstat(const Sysroot *s, const char *path, struct stat *ret_st, ObError *err)
{
        if (fstatat(s->fd, rel(path), ret_st, AT_SYMLINK_NOFOLLOW) < 0)
                return ob_error_set(err, errno, "%s", path);
        return 0;
}

int sysroot_open_file(const Sysroot *s, const char *path, ObError *err)
{
        int fd = openat(s->fd, rel(path), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return ob_error_set(err, errno, "cannot open '%s'", path);
        return fd;
}

int sysroot_readlink(const Sysroot *s, const char *path, char **ret_target, ObError *err)
{
        char buf[PATH_MAX];
        ssize_t n = readlinkat(s->fd, rel(path), buf, sizeof(buf) - 1);
        if (n < 0)
                return ob_error_set(err, errno, "cannot read symlink '%s'", path);
        buf[n] = '\0';
        *ret_target = xstrdup(buf);
        return 0;
}

int sysroot_resolve(Sysroot *s, const char *path, SysrootLinkFn fn, void *userdata, char **ret_path,
                    ObError *err)
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
                if (fstatat(s->fd, rel(candidate), &st, AT_SYMLINK_NOFOLLOW) < 0) {
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
