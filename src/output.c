/* SPDX-License-Identifier: MIT */
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "tmpfile.h"
#include "util.h"

#define TMP_SUFFIX ".tmp"

/* The descriptor a name of an open descriptor names ("-", /dev/stdout,
 * /dev/fd/N, /proc/self/fd/N), or -1. */
static int named_fd(const char *path)
{
        static const struct {
                const char *name;
                int fd;
        } fixed[] = { { "-", STDOUT_FILENO }, { "/dev/stdout", STDOUT_FILENO }, { "/dev/stderr", STDERR_FILENO } };
        for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
                if (strcmp(path, fixed[i].name) == 0)
                        return fixed[i].fd;
        const char *n = NULL;
        if (str_startswith(path, "/dev/fd/"))
                n = path + strlen("/dev/fd/");
        else if (str_startswith(path, "/proc/self/fd/"))
                n = path + strlen("/proc/self/fd/");
        if (!n || !*n || strspn(n, "0123456789") != strlen(n) || strlen(n) > 6)
                return -1;
        return atoi(n);
}

static const char *kind(mode_t m)
{
        return S_ISLNK(m)    ? "a symbolic link"
               : S_ISDIR(m)  ? "a directory"
               : S_ISSOCK(m) ? "a socket"
               : S_ISBLK(m)  ? "a block device"
                             : "not a regular file";
}

static int check_terminal(const Output *o, OutputFlags flags, ObError *err)
{
        if ((flags & OUTPUT_NO_TERMINAL) && isatty(o->fd))
                return ob_error_plain(err, EINVAL,
                                      "refusing to write a binary archive %s, a terminal (redirect standard output, "
                                      "or pipe it into 'docker load')",
                                      o->what);
        return 0;
}

/* A stream we were given: standard output or another open descriptor. */
static int open_given(Output *o, int fd, ObError *err)
{
        /* Checked before any file is opened: a closed descriptor would be
         * handed to the next open(). */
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 && fd == STDOUT_FILENO)
                return ob_error_set(err, errno, "cannot write %s", o->what);
        if (fl < 0)
                return ob_error_plain(err, EBADF, "cannot write %s: descriptor %d is not open", o->what, fd);
        if ((fl & O_ACCMODE) == O_RDONLY)
                return ob_error_plain(err, EBADF, "cannot write %s: descriptor %d is open only for reading", o->what,
                                      fd);
        o->fd = fd;
        o->owns_fd = false;
        return 0;
}

static int open_stream(Output *o, ObError *err)
{
        /* O_NOFOLLOW: what was checked is what is opened, not a symbolic
         * link put in its place since. */
        int fd = open(o->path, O_WRONLY | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return ob_error_set(err, errno, "cannot open '%s'", o->path);
        o->fd = fd;
        o->owns_fd = true;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return ob_error_set(err, errno, "cannot stat '%s'", o->path);
        if (!S_ISCHR(st.st_mode) && !S_ISFIFO(st.st_mode))
                return ob_error_plain(err, EINVAL, "refusing to write '%s': it changed while it was opened", o->path);
        return 0;
}

static int open_file(Output *o, ObError *err)
{
        _cleanup_free_ char *copy1 = xstrdup(o->path);
        _cleanup_free_ char *copy2 = xstrdup(o->path);
        const char *dir = dirname(copy1);
        const char *base = basename(copy2);
        char *tmp = xasprintf("%s/.%s.XXXXXX" TMP_SUFFIX, dir, base);
        int fd = tmpfile_create(tmp, (int) strlen(TMP_SUFFIX), O_CLOEXEC, &o->slot);
        if (fd < 0) {
                free(tmp);
                if (fd == -ENOENT)
                        return ob_error_plain(err, ENOENT, "cannot write '%s': directory '%s' does not exist", o->path,
                                              dir);
                return ob_error_set(err, -fd, "cannot write '%s'", o->path);
        }
        o->tmp = tmp;
        o->fd = fd;
        o->owns_fd = true;
        return 0;
}

int output_open(const char *path, mode_t mode, OutputFlags flags, Output **ret, ObError *err)
{
        _cleanup_(output_freep) Output *o = xcalloc(1, sizeof(Output));
        o->path = xstrdup(path);
        o->fd = -1;
        o->slot = -1;
        o->mode = mode;
        int r;

        int given = named_fd(path);
        o->what = given == STDOUT_FILENO ? xstrdup("to standard output") : xasprintf("'%s'", path);
        struct stat st;
        if (given >= 0)
                r = open_given(o, given, err);
        else if (lstat(path, &st) < 0) {
                if (errno != ENOENT)
                        return ob_error_set(err, errno, "cannot write '%s'", path);
                r = open_file(o, err);
        } else if (S_ISREG(st.st_mode))
                r = open_file(o, err);
        else if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode))
                r = open_stream(o, err);
        else
                return ob_error_plain(err, EINVAL, "cannot write '%s': it is %s%s", path, kind(st.st_mode),
                                      S_ISLNK(st.st_mode) ? " (name the file itself)" : "");
        if (r < 0)
                return r;
        if ((r = check_terminal(o, flags, err)) < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

int output_write(Output *o, const void *data, size_t size, ObError *err)
{
        int r = write_all(o->fd, data, size);
        if (r < 0)
                return ob_error_set(err, -r, "cannot write %s", o->what);
        return 0;
}

bool output_is_stdout(const Output *o)
{
        return o->fd == STDOUT_FILENO;
}

int output_commit(Output *o, ObError *err)
{
        if (!o->tmp) {
                int fd = o->owns_fd ? TAKE_FD(o->fd) : -1;
                if (fd >= 0 && close(fd) < 0)
                        return ob_error_set(err, errno, "cannot write %s", o->what);
                return 0;
        }

        mode_t mask = umask(0);
        umask(mask);
        int fd = TAKE_FD(o->fd);
        int r = 0;
        if (fchmod(fd, o->mode & ~mask) < 0 || fsync(fd) < 0)
                r = ob_error_set(err, errno, "cannot write '%s'", o->path);
        /* close() reports what fsync() may not, on network file systems. */
        if (close(fd) < 0 && r == 0)
                r = ob_error_set(err, errno, "cannot write '%s'", o->path);
        if (r < 0)
                return r;
        if (rename(o->tmp, o->path) < 0)
                return ob_error_set(err, errno, "cannot rename the output into '%s'", o->path);
        tmpfile_unregister(o->slot);
        o->slot = -1;
        free(TAKE_PTR(o->tmp));

        /* Make the rename itself durable. */
        _cleanup_free_ char *copy = xstrdup(o->path);
        _cleanup_close_ int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0)
                (void) fsync(dfd);
        return 0;
}

void output_free(Output *o)
{
        if (!o)
                return;
        if (o->owns_fd && o->fd >= 0)
                close(o->fd);
        if (o->tmp) {
                unlink(o->tmp);
                tmpfile_unregister(o->slot);
                free(o->tmp);
        }
        free(o->path);
        free(o->what);
        free(o);
}
