/* SPDX-License-Identifier: MIT */
#include "fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "journal.h"
#include "util.h"

int write_all(int fd, const void *data, size_t size)
{
        const char *p = data;
        while (size > 0) {
                ssize_t w = write(fd, p, size);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += w;
                size -= (size_t) w;
        }
        return 0;
}

/* More than any file read whole needs (a dpkg status file, a manifest):
 * a link to /dev/zero or a huge file must not exhaust memory. */
#define READ_FILE_MAX (256u << 20)

int read_file(const char *path, char **ret_data, size_t *ret_size, ObError *err)
{
        /* Non-blocking, so that a FIFO planted under the name cannot hang us
         * before fstat() says what it is. */
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd < 0) {
                journal_note_error(path, /* follow= */ true, errno);
                return ob_error_set(err, errno, "cannot open '%s'", path);
        }
        struct stat st;
        if (fstat(fd, &st) < 0) {
                journal_set_broken("cannot stat '%s'", path);
                return ob_error_set(err, errno, "cannot stat '%s'", path);
        }
        journal_note_stat(path, /* follow= */ true, &st);
        if (!S_ISREG(st.st_mode))
                return ob_error_plain(err, EINVAL, "'%s' is not a regular file", path);
        if ((uint64_t) st.st_size > READ_FILE_MAX)
                return ob_error_plain(err, EFBIG, "'%s' is larger than %u MiB", path, READ_FILE_MAX >> 20);
        /* One allocation of the file's size (a dpkg list may be large),
         * grown only if the file grows meanwhile: the byte past the end
         * is room for the read that sees the end of the file, the one after
         * it for the terminating NUL. */
        size_t cap = (size_t) st.st_size + 2, n = 0;
        _cleanup_free_ char *buf = xmalloc(cap);
        for (;;) {
                if (n >= READ_FILE_MAX)
                        return ob_error_plain(err, EFBIG, "'%s' is larger than %u MiB", path, READ_FILE_MAX >> 20);
                if (n + 1 >= cap)
                        buf = xrealloc(buf, cap *= 2);
                ssize_t r = read(fd, buf + n, cap - n - 1);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return ob_error_set(err, errno, "cannot read '%s'", path);
                }
                if (r == 0)
                        break;
                n += (size_t) r;
        }
        buf[n] = '\0';
        *ret_data = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = n;
        return 0;
}

int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode, ObError *err)
{
        _cleanup_free_ char *tmp = xasprintf("%s.tmp-XXXXXX", path);
        _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
        int r;

        if (fd < 0)
                return ob_error_set(err, errno, "cannot create a temporary file beside '%s'", path);
        r = write_all(fd, data, size);
        if (r == 0 && fchmod(fd, mode) < 0)
                r = -errno;
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                unlink(tmp);
                return ob_error_set(err, -r, "cannot write '%s'", path);
        }
        return 0;
}

int mkdir_p(const char *path, mode_t mode, ObError *err)
{
        _cleanup_free_ char *p = xstrdup(path);
        for (char *s = p + 1; *s; s++)
                if (*s == '/') {
                        *s = '\0';
                        if (mkdir(p, mode) < 0 && errno != EEXIST)
                                return ob_error_set(err, errno, "cannot create '%s'", p);
                        *s = '/';
                }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return ob_error_set(err, errno, "cannot create '%s'", p);
        return 0;
}

/* Deep enough for any tree we make; a deeper one is left for the caller to
 * report rather than risk the stack of a signal handler. */
#define RM_MAX_DEPTH 128

static int rm_at(int dirfd, const char *name, dev_t dev, unsigned depth);

/* Removes what is inside the directory fd. Entries are removed while the
 * directory is read, which may make getdents skip some on some file
 * systems: read it again from the start until a pass removes nothing. */
static int rm_children(int fd, dev_t dev, unsigned depth)
{
        char buf[2048] __attribute__((aligned(8)));
        int r;
        bool removed;

        do {
                removed = false;
                r = 0;
                if (lseek(fd, 0, SEEK_SET) < 0)
                        return -errno;
                for (;;) {
                        long n = syscall(SYS_getdents64, fd, buf, sizeof(buf));
                        if (n < 0)
                                return -errno;
                        if (n == 0)
                                break;
                        for (long off = 0; off < n;) {
                                struct dirent64 *de = (struct dirent64 *) (void *) (buf + off);
                                off += de->d_reclen;
                                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                                        continue;
                                int k = rm_at(fd, de->d_name, dev, depth + 1);
                                if (k == 0)
                                        removed = true;
                                else if (r == 0)
                                        r = k;
                        }
                }
        } while (removed);
        return r;
}

static int rm_at(int dirfd, const char *name, dev_t dev, unsigned depth)
{
        struct stat st;
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode))
                return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
        /* A mount point: whatever is mounted there is not ours to delete. */
        if (st.st_dev != dev)
                return -EXDEV;
        if (depth > RM_MAX_DEPTH)
                return -ENAMETOOLONG;
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == EACCES && fchmodat(dirfd, name, 0700, 0) == 0)
                fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        /* A directory we may list but not change (0555) cannot be emptied. */
        if ((st.st_mode & 0700) != 0700)
                (void) fchmod(fd, 0700);
        int r = rm_children(fd, dev, depth);
        close(fd);
        if (r < 0)
                return r;
        return unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT ? -errno : 0;
}

int rm_rf_at(int dirfd, const char *name)
{
        struct stat st;
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        return rm_at(dirfd, name, st.st_dev, 0);
}

int rm_tree(const char *path, ObError *err)
{
        int r = rm_rf_at(AT_FDCWD, path);
        if (r < 0)
                return ob_error_set(err, -r, "cannot remove '%s'", path);
        return 0;
}

const char *cache_dir_unusable(const char *dir, ObError *scratch)
{
        struct stat st;
        if (mkdir_p(dir, 0700, scratch) < 0)
                return scratch->msg;
        if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
                return "not a directory";
        if (access(dir, W_OK | X_OK) < 0)
                return strerror(errno);
        return NULL;
}

static int64_t ts_ns(const struct timespec *t)
{
        return (int64_t) t->tv_sec * 1000000000LL + t->tv_nsec;
}

bool cache_stat_racy(const struct stat *st, const struct timespec *now)
{
        /* A ctime (which no one can set) without nanoseconds: the file
         * system keeps whole seconds (or two), so the window is as wide. */
        int64_t window = st->st_ctim.tv_nsec == 0 ? RACY_NS : RACY_FINE_NS;
        return ts_ns(&st->st_ctim) > ts_ns(now) - window || ts_ns(&st->st_mtim) > ts_ns(now) - window;
}

int read_file_unnoted(const char *path, char **ret_data, size_t *ret_size, ObError *err)
{
        Journal *journal = journal_current();
        journal_begin(NULL);
        int r = read_file(path, ret_data, ret_size, err);
        journal_begin(journal);
        return r;
}
