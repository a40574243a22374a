/* SPDX-License-Identifier: MIT */
/* Release archives unpacked by hand from libarchive's reader, not with
 * archive_read_extract(): every entry is created with *at() calls below a
 * descriptor of the target directory, one component at a time and never
 * through a symlink, so what an entry's name says is where it lands. */
#include "archive-unpack.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup-libs.h"
#include "fs.h"
#include "util.h"

bool archive_unpack_is_archive(const char *name)
{
        static const char *const suffixes[] = { ".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".zip" };
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++)
                if (str_endswith(name, suffixes[i]))
                        return true;
        return false;
}

/* The components of an entry's name: "./a//b/" -> {a, b}. NULL with *why set
 * when the name is absolute or has a '..' component. */
static char **split_name(const char *name, const char **why)
{
        if (name[0] == '/') {
                *why = "is an absolute path";
                return NULL;
        }
        char **parts = NULL;
        _cleanup_free_ char *copy = xstrdup(name);
        char *save = NULL;
        for (char *t = strtok_r(copy, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
                if (strcmp(t, ".") == 0)
                        continue;
                if (strcmp(t, "..") == 0) {
                        strv_free(parts);
                        *why = "has a '..' component";
                        return NULL;
                }
                strv_push(&parts, t);
        }
        if (!parts)
                parts = xcalloc(1, sizeof(char *));
        return parts;
}

/* The name left after dropping n leading components, or NULL when nothing
 * is left. */
static char *strip(char *const *parts, unsigned n)
{
        if (strv_length(parts) <= n)
                return NULL;
        return strv_join(parts + n, "/");
}

/* Whether a glob of list matches path or one of its leading directories. */
static bool matches(char *const *list, const char *path)
{
        _cleanup_free_ char *p = xstrdup(path);
        for (;;) {
                for (size_t i = 0; list && list[i]; i++)
                        if (fnmatch(list[i], p, 0) == 0)
                                return true;
                char *slash = strrchr(p, '/');
                if (!slash)
                        return false;
                *slash = '\0';
        }
}

/* A symlink target that stays inside: relative, with any '..' only at its
 * start, and no more of them than the link's depth below the top (the
 * directories above it are real ones: nothing is created through a link). */
static bool target_inside(const char *path, const char *target)
{
        if (target[0] == '/' || !target[0])
                return false;
        size_t depth = 0;
        for (const char *s = path; *s; s++)
                depth += *s == '/';
        size_t ups = 0;
        bool down = false;
        _cleanup_free_ char *copy = xstrdup(target);
        char *save = NULL;
        for (char *t = strtok_r(copy, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
                if (strcmp(t, ".") == 0)
                        continue;
                if (strcmp(t, "..") == 0) {
                        if (down)
                                return false;
                        ups++;
                } else
                        down = true;
        }
        return ups <= depth;
}

typedef struct Unpack {
        const char *archive;
        int top; /* the target directory */
        const ArchiveUnpackOptions *o;
        uint64_t bytes, max;
        ObError *err;
} Unpack;

/* The directory that holds path (relative to the top), made where missing;
 * *ret_leaf points into path at the last component. */
static int open_parent(Unpack *u, const char *entry, char *path, bool create, char **ret_leaf)
{
        _cleanup_close_ int fd = dup(u->top);
        if (fd < 0)
                return ob_error_set(u->err, errno, "dup");
        char *comp = path;
        for (char *slash; (slash = strchr(comp, '/')); comp = slash + 1) {
                *slash = '\0';
                if (create && mkdirat(fd, comp, 0755) < 0 && errno != EEXIST) {
                        int e = errno;
                        *slash = '/';
                        return ob_error_set(u->err, e, "'%s': entry '%s': cannot create '%s'", u->archive, entry, path);
                }
                int next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                int e = errno;
                *slash = '/';
                if (next < 0) {
                        if (e == ELOOP || e == ENOTDIR)
                                return ob_error_plain(u->err, EINVAL,
                                                      "'%s': entry '%s' passes through a symlink or a file: refused",
                                                      u->archive, entry);
                        return ob_error_set(u->err, e, "'%s': entry '%s'", u->archive, entry);
                }
                close(fd);
                fd = next;
        }
        *ret_leaf = comp;
        return TAKE_FD(fd);
}

/* Room for a new entry: a file or link of an earlier entry of the same name
 * goes (the last one wins, as with tar); a directory stays. */
static void make_room(int dirfd, const char *leaf)
{
        struct stat st;
        if (fstatat(dirfd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode))
                (void) unlinkat(dirfd, leaf, 0);
}

static int write_file(Unpack *u, struct archive *a, const char *entry, int dirfd, const char *leaf, mode_t mode)
{
        make_room(dirfd, leaf);
        _cleanup_close_ int fd = openat(dirfd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return ob_error_set(u->err, errno, "'%s': entry '%s'", u->archive, entry);
        char buf[65536];
        for (;;) {
                la_ssize_t n = archive_read_data(a, buf, sizeof(buf));
                if (n == 0)
                        break;
                if (n < 0)
                        return ob_error_plain(u->err, EINVAL, "'%s': entry '%s': %s", u->archive, entry,
                                              archive_error_string(a));
                u->bytes += (uint64_t) n;
                if (u->bytes > u->max) {
                        char size[32];
                        return ob_error_plain(u->err, EFBIG,
                                              "'%s' unpacks to more than %s (the limit): refused as an archive bomb",
                                              u->archive, format_size(u->max, size));
                }
                int r = write_all(fd, buf, (size_t) n);
                if (r < 0)
                        return ob_error_set(u->err, -r, "'%s': entry '%s': cannot write", u->archive, entry);
        }
        if (fchmod(fd, (mode & 0111) ? 0755 : 0644) < 0 || close(TAKE_FD(fd)) < 0)
                return ob_error_set(u->err, errno, "'%s': entry '%s': cannot write", u->archive, entry);
        return 0;
}

static int add_entry(Unpack *u, struct archive *a, struct archive_entry *e)
{
        const char *name = archive_entry_pathname(e);
        if (!name)
                return ob_error_plain(u->err, EINVAL, "'%s': an entry has no name that can be read", u->archive);
        const char *why = NULL;
        _cleanup_strv_ char **parts = split_name(name, &why);
        if (!parts)
                return ob_error_plain(u->err, EINVAL, "'%s': entry '%s' %s: refused", u->archive, name, why);
        _cleanup_free_ char *path = strip(parts, u->o->strip_components);
        if (!path)
                return 0;
        if ((u->o->include && !matches(u->o->include, path)) || matches(u->o->exclude, path))
                return 0;

        const char *hardlink = archive_entry_hardlink(e);
        mode_t type = archive_entry_filetype(e);
        char *leaf = NULL;
        bool is_dir = !hardlink && type == AE_IFDIR;
        if (!hardlink && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
                return 0; /* devices and fifos have no place in a release */
        _cleanup_free_ char *with_slash = is_dir ? xasprintf("%s/", path) : xstrdup(path);
        _cleanup_close_ int dirfd = open_parent(u, name, with_slash, /* create= */ true, &leaf);
        if (dirfd < 0)
                return dirfd;
        if (is_dir)
                return 0;

        if (hardlink) {
                _cleanup_strv_ char **tparts = split_name(hardlink, &why);
                if (!tparts)
                        return ob_error_plain(u->err, EINVAL, "'%s': hard link '%s' to '%s', which %s: refused",
                                              u->archive, name, hardlink, why);
                _cleanup_free_ char *tpath = strip(tparts, u->o->strip_components);
                char *tleaf = NULL;
                _cleanup_close_ int tdir = tpath ? open_parent(u, name, tpath, /* create= */ false, &tleaf) : -1;
                struct stat st;
                if (!tpath || tdir < 0 || fstatat(tdir, tleaf, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                        return ob_error_plain(u->err, EINVAL,
                                              "'%s': hard link '%s' to '%s', which is not a file unpacked before it: "
                                              "refused",
                                              u->archive, name, hardlink);
                make_room(dirfd, leaf);
                if (linkat(tdir, tleaf, dirfd, leaf, 0) < 0)
                        return ob_error_set(u->err, errno, "'%s': hard link '%s'", u->archive, name);
                return 0;
        }
        if (type == AE_IFLNK) {
                const char *target = archive_entry_symlink(e);
                if (!target || !target_inside(path, target))
                        return ob_error_plain(u->err, EINVAL,
                                              "'%s': symlink '%s' -> '%s' points out of the archive: refused",
                                              u->archive, name, target ? target : "");
                make_room(dirfd, leaf);
                if (symlinkat(target, dirfd, leaf) < 0)
                        return ob_error_set(u->err, errno, "'%s': symlink '%s'", u->archive, name);
                return 0;
        }
        return write_file(u, a, name, dirfd, leaf, archive_entry_perm(e));
}

static int unpack_into(const char *path, int top, const ArchiveUnpackOptions *o, ObError *err)
{
        const char *archive = o->name ? o->name : path;
        _cleanup_archive_read_ struct archive *a = archive_read_new();
        archive_read_support_filter_gzip(a);
        archive_read_support_filter_xz(a);
        archive_read_support_format_tar(a);
        archive_read_support_format_gnutar(a);
        archive_read_support_format_zip(a);
        if (archive_read_open_filename(a, path, 65536) < ARCHIVE_OK)
                return ob_error_plain(err, EINVAL, "'%s' is not a .tar.gz, .tar.xz or .zip archive: %s", archive,
                                      archive_error_string(a));
        Unpack u = { .archive = archive,
                     .top = top,
                     .o = o,
                     .max = o->max_bytes ? o->max_bytes : ARCHIVE_UNPACK_DEFAULT_MAX,
                     .err = err };
        size_t n = 0;
        for (;; n++) {
                struct archive_entry *e = NULL;
                int r = archive_read_next_header(a, &e);
                if (r == ARCHIVE_EOF)
                        break;
                if (r < ARCHIVE_WARN)
                        return ob_error_plain(err, EINVAL,
                                              n == 0 ? "'%s' is not a .tar.gz, .tar.xz or .zip archive: %s"
                                                     : "'%s' is damaged: %s",
                                              archive, archive_error_string(a));
                if (n >= ARCHIVE_UNPACK_MAX_ENTRIES)
                        return ob_error_plain(err, EFBIG, "'%s' has more than %d entries: refused as an archive bomb",
                                              archive, ARCHIVE_UNPACK_MAX_ENTRIES);
                if ((r = add_entry(&u, a, e)) < 0)
                        return r;
        }
        if (n == 0)
                return ob_error_plain(err, EINVAL, "'%s' is not a .tar.gz, .tar.xz or .zip archive: it has no entries",
                                      archive);
        return 0;
}

int archive_unpack(const char *archive, const char *dir, const ArchiveUnpackOptions *o, ObError *err)
{
        static const ArchiveUnpackOptions none = { 0 };
        if (!o)
                o = &none;
        if (mkdir(dir, 0755) < 0)
                return ob_error_set(err, errno, "cannot create '%s'", dir);
        int r;
        {
                _cleanup_close_ int top = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                r = top < 0 ? ob_error_set(err, errno, "cannot open '%s'", dir) : unpack_into(archive, top, o, err);
        }
        if (r < 0)
                (void) rm_rf_at(AT_FDCWD, dir);
        return r;
}
