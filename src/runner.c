/* SPDX-License-Identifier: MIT */
#include "runner.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <limits.h>
#include <linux/capability.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "cleanup-libs.h"
#include "digest.h"
#include "fs.h"
#include "log.h"
#include "oci.h"
#include "path.h"
#include "sysroot.h"
#include "util.h"

#define STREAM_CHUNK (256u * 1024u)
#define OUTPUT_MAX (16u * 1024u * 1024u)
#define CHILD_STACK (1024u * 1024u)
#define IMAGE_FILE_MAX (4u * 1024u * 1024u)
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#define STEP_NAMESPACES (CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET)

/* ---- signals ------------------------------------------------------------ */

static volatile sig_atomic_t caught_signal;

static void on_signal(int sig)
{
        caught_signal = sig;
}

void runner_catch_signals(void)
{
        /* No SA_RESTART: a poll() waiting for a step's output must return
         * so that the step is killed and the tree removed. */
        struct sigaction sa = { .sa_handler = on_signal };
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
}

int runner_interrupted(void)
{
        return caught_signal;
}

static int interrupted_error(ObError *err)
{
        return ob_error_plain(err, EINTR, "interrupted by signal %d (%s)", (int) caught_signal,
                              strsignal(caught_signal));
}

/* ---- paths inside the unpacked tree ------------------------------------- */

/* A tar entry name as a clean relative path ("./usr//bin/" -> "usr/bin",
 * "" for the root itself), or NULL when it is absolute or climbs with "..". */
static char *entry_path_clean(const char *name)
{
        if (name[0] == '/')
                return NULL;
        _cleanup_free_ char *abs = xasprintf("/%s", name);
        _cleanup_free_ char *norm = path_normalize_abs(abs, NULL);
        return norm ? xstrdup(norm + 1) : NULL;
}

/* Opens the directory rel (relative to dirfd, "" for dirfd itself) without
 * following any symlink on the way: on the host, an absolute link inside
 * the image would point outside it. Returns a descriptor or -errno. */
static int open_dir_nofollow(int dirfd, const char *rel)
{
        int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        _cleanup_free_ char *copy = xstrdup(rel);
        char *save = NULL;
        for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                int next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                int e = errno;
                close(fd);
                if (next < 0)
                        return -e;
                fd = next;
        }
        return fd;
}

int runner_remove_tree(const char *dir, ObError *err)
{
        int r = 0;
        /* The mounts of a step live in its own mount namespace, which the
         * kernel tears down as the step's last process exits; give it a
         * moment rather than leave the tree behind. */
        for (int tries = 0; tries < 50; tries++) {
                r = rm_rf_at(AT_FDCWD, dir);
                if (r != -EXDEV)
                        break;
                struct timespec ts = { 0, 20 * 1000 * 1000 };
                nanosleep(&ts, NULL);
        }
        if (r < 0)
                return ob_error_set(err, -r, "cannot remove '%s'", dir);
        return 0;
}

/* ---- one layer: blob -> sha256 -> gunzip -> sha256 -> tar -> disk ------- */

typedef struct LayerStream {
        int fd;
        bool gzip;
        z_stream z;
        bool z_ready;
        bool started;          /* a gzip member was seen */
        bool in_member;        /* a gzip member started and has not ended */
        bool eof;              /* the blob is read to its end */
        unsigned char *in, *out;
        Sha256 blob_hash, tar_hash;
        uint64_t blob_size, tar_size;
        char msg[512];         /* why reading failed */
} LayerStream;

static ssize_t stream_read_blob(LayerStream *s, unsigned char *buf)
{
        ssize_t n;
        do
                n = read(s->fd, buf, STREAM_CHUNK);
        while (n < 0 && errno == EINTR && !caught_signal);
        if (n < 0) {
                snprintf(s->msg, sizeof(s->msg), "cannot read the blob: %s", strerror(errno));
                return -errno;
        }
        sha256_update(&s->blob_hash, buf, (size_t) n);
        s->blob_size += (uint64_t) n;
        if (n == 0)
                s->eof = true;
        return n;
}

/* The next piece of the tar stream: > 0 bytes at *ret, 0 at its end, or
 * -errno (s->msg says why). */
static ssize_t stream_next(LayerStream *s, const void **ret)
{
        if (!s->gzip) {
                if (s->eof)
                        return 0;
                ssize_t n = stream_read_blob(s, s->out);
                if (n > 0) {
                        sha256_update(&s->tar_hash, s->out, (size_t) n);
                        s->tar_size += (uint64_t) n;
                        *ret = s->out;
                }
                return n;
        }
        for (;;) {
                if (s->z.avail_in == 0 && !s->eof) {
                        ssize_t n = stream_read_blob(s, s->in);
                        if (n < 0)
                                return n;
                        s->z.next_in = s->in;
                        s->z.avail_in = (uInt) n;
                }
                if (s->z.avail_in == 0) {
                        if (s->in_member || !s->started) {
                                snprintf(s->msg, sizeof(s->msg), "the gzip stream is truncated");
                                return -EIO;
                        }
                        return 0;
                }
                if (!s->in_member) {
                        /* Another gzip member: RFC 1952 allows a series, and
                         * our own layers are written as one per chunk. */
                        if (s->started && inflateReset(&s->z) != Z_OK) {
                                snprintf(s->msg, sizeof(s->msg), "cannot reset the gzip decoder");
                                return -EIO;
                        }
                        s->started = true;
                        s->in_member = true;
                }
                s->z.next_out = s->out;
                s->z.avail_out = STREAM_CHUNK;
                int zr = inflate(&s->z, Z_NO_FLUSH);
                size_t produced = STREAM_CHUNK - s->z.avail_out;
                if (zr == Z_STREAM_END)
                        s->in_member = false;
                else if (zr != Z_OK && zr != Z_BUF_ERROR) {
                        snprintf(s->msg, sizeof(s->msg), "gzip: %s", s->z.msg ? s->z.msg : "invalid data");
                        return -EIO;
                }
                if (produced > 0) {
                        sha256_update(&s->tar_hash, s->out, produced);
                        s->tar_size += produced;
                        *ret = s->out;
                        return (ssize_t) produced;
                }
        }
}

static la_ssize_t archive_read_cb(struct archive *a, void *userdata, const void **buf)
{
        LayerStream *s = userdata;
        ssize_t n = stream_next(s, buf);
        if (n < 0) {
                archive_set_error(a, (int) -n, "%s", s->msg);
                return -1;
        }
        return n;
}

/* Hashes what is left of the blob, raw, so that a failure can say whether
 * the blob itself is corrupt. */
static void stream_hash_rest(LayerStream *s)
{
        while (!s->eof)
                if (stream_read_blob(s, s->in) < 0)
                        break;
}

/* The paths a layer created, for whiteouts: they hide what lower layers
 * hold, never what their own layer holds. */
typedef struct Unpack {
        int rootfd;
        dev_t dev;
        const char *digest;
        char **made;
        size_t n_made, cap_made;
        bool sorted;
} Unpack;

static void made_add(Unpack *u, const char *path)
{
        if (u->n_made == u->cap_made) {
                u->cap_made = u->cap_made ? u->cap_made * 2 : 256;
                u->made = xrealloc(u->made, u->cap_made * sizeof(char *));
        }
        u->made[u->n_made++] = xstrdup(path);
        u->sorted = false;
}

static void made_clear(Unpack *u)
{
        for (size_t i = 0; i < u->n_made; i++)
                free(u->made[i]);
        free(u->made);
        u->made = NULL;
        u->n_made = u->cap_made = 0;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The first index whose path is >= key. */
static size_t made_lower_bound(Unpack *u, const char *key)
{
        if (!u->sorted && u->n_made > 1) {
                qsort_safe(u->made, u->n_made, sizeof(char *), cmp_str);
                u->sorted = true;
        }
        size_t lo = 0, hi = u->n_made;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strcmp(u->made[mid], key) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static bool made_has(Unpack *u, const char *path)
{
        size_t i = made_lower_bound(u, path);
        return i < u->n_made && strcmp(u->made[i], path) == 0;
}

/* Whether this layer created path or anything below it (a directory that
 * libarchive made as a parent counts as made by the layer). */
static bool made_has_or_below(Unpack *u, const char *path)
{
        if (made_has(u, path))
                return true;
        _cleanup_free_ char *prefix = xasprintf("%s/", path);
        size_t i = made_lower_bound(u, prefix);
        return i < u->n_made && str_startswith(u->made[i], prefix);
}

/* An opaque whiteout: everything in dir from lower layers goes. Takes fd. */
static int opaque_clear(Unpack *u, int fd, const char *dir)
{
        DIR *d = fdopendir(fd);
        if (!d) {
                int r = -errno;
                close(fd);
                return r;
        }
        int r = 0;
        struct dirent *de;
        while ((de = readdir(d)) && r == 0) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                _cleanup_free_ char *path = *dir ? xasprintf("%s/%s", dir, de->d_name) : xstrdup(de->d_name);
                if (!made_has_or_below(u, path)) {
                        r = rm_rf_at(dirfd(d), de->d_name);
                        continue;
                }
                struct stat st;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
                        int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        r = sub < 0 ? -errno : opaque_clear(u, sub, path);
                }
        }
        closedir(d);
        return r;
}

static int apply_whiteout(Unpack *u, const char *path, const char *base, ObError *err)
{
        _cleanup_free_ char *dir = xstrndup(path, (size_t) (base - path) - (base > path ? 1 : 0));
        int fd, r;

        if (strcmp(base, ".wh..wh..opq") == 0) {
                fd = open_dir_nofollow(u->rootfd, dir);
                if (fd == -ENOENT)
                        return 0;
                r = fd < 0 ? fd : opaque_clear(u, fd, dir);
        } else {
                const char *name = base + strlen(".wh.");
                if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                        return ob_error_plain(err, EINVAL, "layer %s: bad whiteout '%s'", u->digest, path);
                _cleanup_free_ char *target = *dir ? xasprintf("%s/%s", dir, name) : xstrdup(name);
                if (made_has(u, target))
                        return 0;
                fd = open_dir_nofollow(u->rootfd, dir);
                if (fd == -ENOENT)
                        return 0;
                r = fd < 0 ? fd : rm_rf_at(fd, name);
                if (fd >= 0)
                        close(fd);
        }
        if (r < 0)
                return ob_error_set(err, -r, "layer %s: cannot apply whiteout '%s'", u->digest, path);
        return 0;
}

/* An entry replacing something of another kind (a file where a lower layer
 * has a directory, or the reverse) replaces it whole, as the OCI layer
 * rules say; libarchive alone would fail on a non-empty directory. */
static int prepare_replace(Unpack *u, const char *path, mode_t type, ObError *err)
{
        const char *slash = strrchr(path, '/');
        _cleanup_free_ char *dir = slash ? xstrndup(path, (size_t) (slash - path)) : xstrdup("");
        const char *name = slash ? slash + 1 : path;
        _cleanup_close_ int fd = open_dir_nofollow(u->rootfd, dir);
        if (fd < 0)
                return 0;   /* missing parents are made by libarchive, symlinks refused by it */
        struct stat st;
        if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return 0;
        bool was_dir = S_ISDIR(st.st_mode), is_dir = type == AE_IFDIR;
        if (was_dir == is_dir)
                return 0;
        int r = rm_rf_at(fd, name);
        if (r < 0)
                return ob_error_set(err, -r, "layer %s: cannot replace '%s'", u->digest, path);
        return 0;
}

static int copy_data(struct archive *in, struct archive *out)
{
        const void *buf;
        size_t size;
        la_int64_t offset;
        for (;;) {
                int r = archive_read_data_block(in, &buf, &size, &offset);
                if (r == ARCHIVE_EOF)
                        return ARCHIVE_OK;
                if (r < ARCHIVE_WARN)
                        return r;
                la_ssize_t w = archive_write_data_block(out, buf, size, offset);
                if (w < ARCHIVE_WARN)
                        return (int) w;
        }
}

static int layer_fail(Unpack *u, LayerStream *s, const char *digest, ObError *err, int r)
{
        /* A corrupt blob explains any error better than what it led to. */
        char actual[DIGEST_STRING_MAX];
        stream_hash_rest(s);
        sha256_final(&s->blob_hash, actual);
        if (strcmp(actual, digest) != 0)
                return ob_error_plain(err, EIO, "layer %s is corrupt: its content hashes to %s", digest, actual);
        return r;
}

static int unpack_entries(Unpack *u, LayerStream *s, struct archive *a, struct archive *w, ObError *err)
{
        struct archive_entry *ae;
        int r;

        for (;;) {
                if (caught_signal)
                        return interrupted_error(err);
                r = archive_read_next_header(a, &ae);
                if (r == ARCHIVE_EOF)
                        return 0;
                if (r < ARCHIVE_WARN)
                        return ob_error_plain(err, EIO, "layer %s: cannot read the tar stream: %s", u->digest,
                                              archive_error_string(a));
                const char *name = archive_entry_pathname(ae);
                if (!name)
                        return ob_error_plain(err, EINVAL, "layer %s: an entry has no name", u->digest);
                _cleanup_free_ char *path = entry_path_clean(name);
                if (!path)
                        return ob_error_plain(err, EPERM,
                                              "layer %s: entry '%s' points outside the image root; refusing to unpack",
                                              u->digest, name);
                const char *hl = archive_entry_hardlink(ae);
                if (hl) {
                        _cleanup_free_ char *target = entry_path_clean(hl);
                        if (!target || !*target)
                                return ob_error_plain(err, EPERM,
                                                      "layer %s: hard link '%s' to '%s' points outside the image root; "
                                                      "refusing to unpack",
                                                      u->digest, name, hl);
                        archive_entry_copy_hardlink(ae, target);
                }
                /* The root keeps the mode the runner gave it, whatever a
                 * "./" entry says: the image's user must be able to enter it. */
                if (!*path)
                        continue;
                const char *base = strrchr(path, '/');
                base = base ? base + 1 : path;
                if (str_startswith(base, ".wh.")) {
                        r = apply_whiteout(u, path, base, err);
                        if (r < 0)
                                return r;
                        continue;
                }
                r = prepare_replace(u, path, hl ? AE_IFREG : archive_entry_filetype(ae), err);
                if (r < 0)
                        return r;
                archive_entry_copy_pathname(ae, path);
                r = archive_write_header(w, ae);
                if (r < ARCHIVE_WARN)
                        return ob_error_plain(err, EIO, "layer %s: cannot unpack '%s': %s", u->digest, path,
                                              archive_error_string(w));
                if (r == ARCHIVE_WARN)
                        ob_debug("layer %s: %s: %s", u->digest, path, archive_error_string(w));
                if (archive_entry_size(ae) > 0) {
                        r = copy_data(a, w);
                        if (r < ARCHIVE_WARN) {
                                if (s->msg[0])
                                        return ob_error_plain(err, EIO, "layer %s: %s", u->digest, s->msg);
                                return ob_error_plain(err, EIO, "layer %s: cannot unpack '%s': %s", u->digest, path,
                                                      archive_error_string(archive_errno(a) ? a : w));
                        }
                }
                r = archive_write_finish_entry(w);
                if (r < ARCHIVE_WARN)
                        return ob_error_plain(err, EIO, "layer %s: cannot unpack '%s': %s", u->digest, path,
                                              archive_error_string(w));
                made_add(u, path);
        }
}

typedef struct LayerRef {
        const char *digest;
        const char *media_type;
        uint64_t size;
        const char *diff_id;
} LayerRef;

static int unpack_layer(Unpack *u, const char *blob_path, const LayerRef *ref, uint64_t *ret_tar_size, ObError *err)
{
        const char *mt = ref->media_type ? ref->media_type : "";
        LayerStream s = { .fd = -1 };
        int r;

        if (str_endswith(mt, "tar+gzip") || str_endswith(mt, ".tar.gzip"))
                s.gzip = true;
        else if (!str_endswith(mt, ".tar"))
                return ob_error_plain(err, ENOTSUP,
                                      "layer %s has media type '%s'; only gzip and uncompressed tar layers can be "
                                      "unpacked",
                                      ref->digest, mt);

        s.fd = open(blob_path, O_RDONLY | O_CLOEXEC);
        if (s.fd < 0)
                return ob_error_set(err, errno, "cannot open layer blob '%s'", blob_path);
        s.in = xmalloc(STREAM_CHUNK);
        s.out = xmalloc(STREAM_CHUNK);
        sha256_init(&s.blob_hash);
        sha256_init(&s.tar_hash);
        if (s.gzip) {
                /* 16 + MAX_WBITS: gzip headers only. */
                if (inflateInit2(&s.z, 16 + MAX_WBITS) != Z_OK) {
                        r = ob_error_plain(err, ENOMEM, "cannot start a gzip decoder");
                        goto out;
                }
                s.z_ready = true;
        }
        (void) posix_fadvise(s.fd, 0, 0, POSIX_FADV_SEQUENTIAL);

        {
                _cleanup_archive_read_ struct archive *a = archive_read_new();
                _cleanup_archive_write_ struct archive *w = archive_write_disk_new();
                archive_read_support_format_tar(a);
                /* Owners are numeric (no user lookup is installed), and
                 * nothing may land outside the root, not even through a
                 * symlink that an earlier entry made. */
                archive_write_disk_set_options(w, ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_TIME |
                                                          ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                                          ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                                          ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
                if (archive_read_open(a, &s, NULL, archive_read_cb, NULL) < ARCHIVE_OK) {
                        r = ob_error_plain(err, EIO, "layer %s: %s", ref->digest,
                                           s.msg[0] ? s.msg : archive_error_string(a));
                        r = layer_fail(u, &s, ref->digest, err, r);
                        goto out;
                }
                r = unpack_entries(u, &s, a, w, err);
                if (r == 0 && archive_write_close(w) < ARCHIVE_WARN)
                        r = ob_error_plain(err, EIO, "layer %s: cannot finish unpacking: %s", ref->digest,
                                           archive_error_string(w));
                if (r < 0) {
                        if (r != -EINTR)
                                r = layer_fail(u, &s, ref->digest, err, r);
                        goto out;
                }
        }

        /* libarchive stops at the end-of-archive blocks: the rest of the
         * stream still counts for both digests. */
        for (;;) {
                const void *buf;
                ssize_t n = stream_next(&s, &buf);
                if (n == 0)
                        break;
                if (n < 0) {
                        r = ob_error_plain(err, EIO, "layer %s: %s", ref->digest, s.msg);
                        r = layer_fail(u, &s, ref->digest, err, r);
                        goto out;
                }
        }

        char blob_digest[DIGEST_STRING_MAX], tar_digest[DIGEST_STRING_MAX];
        sha256_final(&s.blob_hash, blob_digest);
        sha256_final(&s.tar_hash, tar_digest);
        if (strcmp(blob_digest, ref->digest) != 0)
                r = ob_error_plain(err, EIO, "layer %s is corrupt: its content hashes to %s", ref->digest,
                                   blob_digest);
        else if (s.blob_size != ref->size)
                r = ob_error_plain(err, EIO, "layer %s is %llu bytes, its manifest says %llu", ref->digest,
                                   (unsigned long long) s.blob_size, (unsigned long long) ref->size);
        else if (ref->diff_id && strcmp(tar_digest, ref->diff_id) != 0)
                r = ob_error_plain(err, EIO, "layer %s: its tar stream hashes to %s, the image config says %s",
                                   ref->digest, tar_digest, ref->diff_id);
        else {
                *ret_tar_size = s.tar_size;
                r = 0;
        }
out:
        if (s.z_ready)
                inflateEnd(&s.z);
        sha256_free(&s.blob_hash);
        sha256_free(&s.tar_hash);
        free(s.in);
        free(s.out);
        close(s.fd);
        made_clear(u);
        return r;
}

/* ---- the image's users ---------------------------------------------------- */

/* A file of the unpacked image, read with its symlinks resolved inside the
 * image. A missing file gives NULL and no error: images need no passwd. */
static int read_image_file(Sysroot *root, const char *path, char **ret, ObError *err)
{
        _cleanup_free_ char *canon = NULL;
        ObError ignored;
        *ret = NULL;
        if (sysroot_resolve(root, path, NULL, NULL, &canon, &ignored) < 0)
                return 0;
        int fd = sysroot_open_file(root, canon, &ignored);
        if (fd < 0)
                return 0;
        size_t cap = 4096, n = 0;
        char *buf = xmalloc(cap);
        for (;;) {
                if (n + 1 >= cap)
                        buf = xrealloc(buf, cap *= 2);
                ssize_t k = read(fd, buf + n, cap - n - 1);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        int e = errno;
                        close(fd);
                        free(buf);
                        return ob_error_set(err, e, "cannot read the image's %s", path);
                }
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n > IMAGE_FILE_MAX) {
                        close(fd);
                        free(buf);
                        return ob_error_plain(err, EFBIG, "the image's %s is larger than %u bytes", path,
                                              IMAGE_FILE_MAX);
                }
        }
        close(fd);
        buf[n] = '\0';
        *ret = buf;
        return 0;
}

static bool parse_id(const char *s, size_t len, uint32_t *ret)
{
        if (len == 0 || len > 10)
                return false;
        uint64_t v = 0;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                v = v * 10 + (uint64_t) (s[i] - '0');
        }
        if (v >= UINT32_MAX)
                return false;
        *ret = (uint32_t) v;
        return true;
}

/* Field i (from 0) of a colon-separated line, as a new string. */
static char *field(const char *line, size_t len, unsigned i)
{
        const char *p = line, *end = line + len;
        for (; i > 0; i--) {
                const char *c = memchr(p, ':', (size_t) (end - p));
                if (!c)
                        return NULL;
                p = c + 1;
        }
        const char *c = memchr(p, ':', (size_t) (end - p));
        return xstrndup(p, (size_t) ((c ? c : end) - p));
}

typedef struct DbEntry {
        char *name;
        uint32_t id;          /* uid or gid */
        uint32_t gid;         /* passwd: primary group */
        char *home;           /* passwd */
        char *members;        /* group: "a,b,c" */
} DbEntry;

static void db_entry_clear(DbEntry *e)
{
        free(e->name);
        free(e->home);
        free(e->members);
        *e = (DbEntry){ 0 };
}

/* Finds a line of passwd (is_passwd) or group by name, or by id when name
 * is NULL. */
static bool db_find(const char *db, bool is_passwd, const char *name, uint32_t id, DbEntry *ret)
{
        for (const char *line = db; line && *line;) {
                const char *nl = strchrnul(line, '\n');
                size_t len = (size_t) (nl - line);
                DbEntry e = { 0 };
                _cleanup_free_ char *id_s = field(line, len, 2);
                e.name = field(line, len, 0);
                if (e.name && id_s && parse_id(id_s, strlen(id_s), &e.id) &&
                    (name ? strcmp(e.name, name) == 0 : e.id == id)) {
                        if (is_passwd) {
                                _cleanup_free_ char *gid_s = field(line, len, 3);
                                if (!gid_s || !parse_id(gid_s, strlen(gid_s), &e.gid))
                                        e.gid = 0;
                                e.home = field(line, len, 5);
                        } else
                                e.members = field(line, len, 3);
                        *ret = e;
                        return true;
                }
                db_entry_clear(&e);
                line = *nl ? nl + 1 : nl;
        }
        return false;
}

static bool list_has(const char *list, const char *name)
{
        size_t n = strlen(name);
        for (const char *p = list; p && *p;) {
                const char *c = strchrnul(p, ',');
                if ((size_t) (c - p) == n && strncmp(p, name, n) == 0)
                        return true;
                p = *c ? c + 1 : c;
        }
        return false;
}

/* "USER[:GROUP]", names or numbers, as a container runtime reads it. */
static int resolve_user(const char *root_dir, RunnerImage *img, ObError *err)
{
        Sysroot *root = NULL;
        _cleanup_free_ char *passwd = NULL, *group = NULL;
        _cleanup_free_ char *u = NULL, *g = NULL;
        DbEntry pw = { 0 }, gr = { 0 };
        bool have_pw = false;
        int r = sysroot_open(root_dir, &root, err);
        if (r < 0)
                return r;
        if ((r = read_image_file(root, "/etc/passwd", &passwd, err)) < 0 ||
            (r = read_image_file(root, "/etc/group", &group, err)) < 0)
                goto out;

        const char *colon = strchr(img->user, ':');
        u = colon ? xstrndup(img->user, (size_t) (colon - img->user)) : xstrdup(img->user);
        g = colon ? xstrdup(colon + 1) : NULL;
        uint32_t id;
        if (!*u) {
                img->uid = 0;
                have_pw = db_find(passwd, true, NULL, 0, &pw);
        } else if (parse_id(u, strlen(u), &id)) {
                img->uid = id;
                have_pw = db_find(passwd, true, NULL, id, &pw);
        } else {
                have_pw = db_find(passwd, true, u, 0, &pw);
                if (!have_pw) {
                        r = ob_error_plain(err, ENOENT, "the user '%s' of image '%s' is not in its /etc/passwd", u,
                                           img->name);
                        goto out;
                }
                img->uid = pw.id;
        }
        if (g && *g) {
                if (parse_id(g, strlen(g), &id))
                        img->gid = id;
                else if (db_find(group, false, g, 0, &gr))
                        img->gid = gr.id;
                else {
                        r = ob_error_plain(err, ENOENT, "the group '%s' of image '%s' is not in its /etc/group", g,
                                           img->name);
                        goto out;
                }
        } else
                img->gid = have_pw ? pw.gid : 0;
        img->home = xstrdup(have_pw && pw.home && pw.home[0] == '/' ? pw.home : "/");

        /* Supplementary groups: those that list the user as a member. */
        if (have_pw && group) {
                for (const char *line = group; *line;) {
                        const char *nl = strchrnul(line, '\n');
                        size_t len = (size_t) (nl - line);
                        _cleanup_free_ char *members = field(line, len, 3);
                        _cleanup_free_ char *gid_s = field(line, len, 2);
                        uint32_t gid;
                        if (members && gid_s && parse_id(gid_s, strlen(gid_s), &gid) && gid != img->gid &&
                            list_has(members, pw.name)) {
                                img->groups = xrealloc(img->groups, (img->n_groups + 1) * sizeof(gid_t));
                                img->groups[img->n_groups++] = gid;
                        }
                        line = *nl ? nl + 1 : nl;
                }
        }
        r = 0;
out:
        db_entry_clear(&pw);
        db_entry_clear(&gr);
        sysroot_free(root);
        return r;
}

/* ---- the image ------------------------------------------------------------ */

void runner_image_clear(RunnerImage *img)
{
        if (!img)
                return;
        free(img->name);
        free(img->version);
        free(img->user);
        free(img->groups);
        strv_free(img->env);
        free(img->workdir);
        free(img->home);
        *img = (RunnerImage){ 0 };
}

static int read_json_blob(Layout *l, const char *digest, const char *what, json_t **ret, ObError *err)
{
        _cleanup_free_ char *data = NULL;
        size_t size;
        json_error_t jerr;
        if (!digest)
                return ob_error_plain(err, EINVAL, "the %s has no digest", what);
        int r = layout_read_blob(l, digest, &data, &size, err);
        if (r < 0)
                return ob_error_wrap(err, "cannot read the %s", what);
        json_t *j = json_loadb(data, size, 0, &jerr);
        if (!json_is_object(j)) {
                json_decref(j);
                return ob_error_plain(err, EINVAL, "the %s %s is not a JSON object%s%s", what, digest,
                                      j ? "" : ": ", j ? "" : jerr.text);
        }
        *ret = j;
        return 0;
}

int runner_unpack(Layout *l, const char *name, const char *dir, RunnerImage *ret, ObError *err)
{
        json_auto_t *manifest = NULL;
        json_auto_t *config = NULL;
        _cleanup_close_ int cwd = -1, rootfd = -1;
        RunnerImage img = { 0 };
        Unpack u = { .rootfd = -1 };
        struct stat st;
        int r;

        json_t *desc = layout_index_find(l, name);
        if (!desc)
                return ob_error_plain(err, ENOENT, "image '%s' is not in %s", name, layout_path(l));
        const char *mt = json_string_value(json_object_get(desc, "mediaType"));
        if (mt && strcmp(mt, OCI_MT_MANIFEST) != 0)
                return ob_error_plain(err, ENOTSUP, "image '%s' of %s is a '%s', not an image manifest", name,
                                      layout_path(l), mt);
        r = read_json_blob(l, json_string_value(json_object_get(desc, "digest")), "image manifest", &manifest, err);
        if (r < 0)
                return r;
        r = read_json_blob(l, json_string_value(json_object_get(json_object_get(manifest, "config"), "digest")),
                           "image config", &config, err);
        if (r < 0)
                return r;
        json_t *layers = json_object_get(manifest, "layers");
        json_t *diff_ids = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
        if (!json_is_array(layers) || !json_is_array(diff_ids) || json_array_size(layers) != json_array_size(diff_ids))
                return ob_error_plain(err, EINVAL,
                                      "image '%s': the manifest's layers and the config's diff_ids do not match", name);

        json_t *c = json_object_get(config, "config");
        img.name = xstrdup(name);
        const char *v = json_string_value(json_object_get(json_object_get(manifest, "annotations"),
                                                          "org.opencontainers.image.version"));
        img.version = v ? xstrdup(v) : NULL;
        v = json_string_value(json_object_get(c, "User"));
        img.user = xstrdup(v ? v : "");
        v = json_string_value(json_object_get(c, "WorkingDir"));
        img.workdir = xstrdup(v && *v ? v : "/");
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(c, "Env"), i, e)
        {
                if (json_string_value(e) && strchr(json_string_value(e), '='))
                        strv_push(&img.env, json_string_value(e));
        }

        rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0 || fstat(rootfd, &st) < 0) {
                r = ob_error_set(err, errno, "cannot open '%s'", dir);
                goto fail;
        }
        u.rootfd = rootfd;
        u.dev = st.st_dev;
        /* libarchive's checks against "..", absolute paths and symlinks
         * work relative to the working directory. */
        cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (cwd < 0) {
                r = ob_error_set(err, errno, "cannot open the working directory");
                goto fail;
        }
        if (fchdir(rootfd) < 0) {
                r = ob_error_set(err, errno, "cannot enter '%s'", dir);
                goto fail;
        }
        for (i = 0; i < json_array_size(layers); i++) {
                json_t *ld = json_array_get(layers, i);
                LayerRef ref = {
                        .digest = json_string_value(json_object_get(ld, "digest")),
                        .media_type = json_string_value(json_object_get(ld, "mediaType")),
                        .size = (uint64_t) json_integer_value(json_object_get(ld, "size")),
                        .diff_id = json_string_value(json_array_get(diff_ids, i)),
                };
                if (!digest_is_valid(ref.digest)) {
                        r = ob_error_plain(err, EINVAL, "image '%s': layer %zu has no valid digest", name, i + 1);
                        break;
                }
                u.digest = ref.digest;
                _cleanup_free_ char *path = layout_blob_path(l, ref.digest);
                ob_debug("unpacking layer %s of %s", ref.digest, name);
                uint64_t tar_size = 0;
                r = unpack_layer(&u, path, &ref, &tar_size, err);
                if (r < 0)
                        break;
                img.tar_size += tar_size;
                img.n_layers++;
        }
        if (fchdir(cwd) < 0 && r == 0)
                r = ob_error_set(err, errno, "cannot return to the working directory");
        if (r < 0)
                goto fail;

        r = resolve_user(dir, &img, err);
        if (r < 0)
                goto fail;
        *ret = img;
        return 0;
fail:
        runner_image_clear(&img);
        return r;
}

/* ---- namespaces ------------------------------------------------------------ */

static int namespaces_error(ObError *err, const char *call, int e)
{
        return ob_error_plain(err, e, "this machine does not allow new namespaces (%s: %s)", call, strerror(e));
}

int runner_check_namespaces(ObError *err)
{
        int status;
        pid_t pid = fork();
        if (pid < 0)
                return ob_error_set(err, errno, "cannot fork");
        if (pid == 0) {
                if (unshare(STEP_NAMESPACES) < 0)
                        _exit(errno > 0 && errno < 256 ? errno : EPERM);
                _exit(0);
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return ob_error_set(err, errno, "cannot wait for a process");
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        return namespaces_error(err, "unshare", WIFEXITED(status) ? WEXITSTATUS(status) : EPERM);
}

/* ---- test files ------------------------------------------------------------ */

/* Reports a failure of a forked helper through its pipe, then exits. */
static _Noreturn __attribute__((format(printf, 3, 4))) void helper_fail(int fd, int e, const char *fmt, ...)
{
        char buf[1024];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (n < 0)
                n = 0;
        if ((size_t) n >= sizeof(buf))
                n = sizeof(buf) - 1;
        if (e)
                n += snprintf(buf + n, sizeof(buf) - (size_t) n, ": %s", strerror(e));
        if ((size_t) n >= sizeof(buf))
                n = sizeof(buf) - 1;
        (void) !write(fd, buf, (size_t) n);
        _exit(127);
}

/* Reads what a helper reported before it exited or exec'd; "" for nothing. */
static void read_report(int fd, char *ret_msg, size_t msg_size)
{
        size_t n = 0;
        for (;;) {
                ssize_t k = read(fd, ret_msg + n, msg_size - 1 - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                n += (size_t) k;
                if (n == msg_size - 1)
                        break;
        }
        ret_msg[n] = '\0';
}

int runner_create_files(const char *root, const RunnerImage *img, char *const *files, ObError *err)
{
        _cleanup_strv_ char **paths = NULL;
        char msg[1024];
        int pfd[2], status, r;

        if (!files || !files[0])
                return 0;
        for (size_t i = 0; files[i]; i++) {
                const char *eq = strchr(files[i], '=');
                _cleanup_free_ char *raw = eq ? xstrndup(files[i], (size_t) (eq - files[i])) : xstrdup(files[i]);
                ObError tmp;
                _cleanup_free_ char *p = path_normalize_abs(raw, &tmp);
                if (!eq || !p || !str_startswith(p, "/tmp/"))
                        return ob_error_plain(err, EINVAL, "test file '%s' must be a path under /tmp/", raw);
                strv_push(&paths, p);
        }

        if (pipe2(pfd, O_CLOEXEC) < 0)
                return ob_error_set(err, errno, "cannot make a pipe");
        pid_t pid = fork();
        if (pid < 0) {
                r = ob_error_set(err, errno, "cannot fork");
                close(pfd[0]);
                close(pfd[1]);
                return r;
        }
        if (pid == 0) {
                /* Inside the image, as its user: symlinks resolve as they
                 * will for the steps, and the files belong to that user. */
                close(pfd[0]);
                if (chroot(root) < 0 || chdir("/") < 0)
                        helper_fail(pfd[1], errno, "cannot enter '%s'", root);
                if (setgroups(img->n_groups, img->groups) < 0 || setgid(img->gid) < 0 || setuid(img->uid) < 0)
                        helper_fail(pfd[1], errno, "cannot become user %u:%u", (unsigned) img->uid,
                                    (unsigned) img->gid);
                umask(022);
                for (size_t i = 0; paths[i]; i++) {
                        for (char *s = strchr(paths[i] + 1, '/'); s; s = strchr(s + 1, '/')) {
                                *s = '\0';
                                if (mkdir(paths[i], 0755) < 0 && errno != EEXIST)
                                        helper_fail(pfd[1], errno, "cannot create directory '%s' in the image",
                                                    paths[i]);
                                *s = '/';
                        }
                        const char *content = strchr(files[i], '=') + 1;
                        int fd = open(paths[i], O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
                        if (fd < 0)
                                helper_fail(pfd[1], errno, "cannot create '%s' in the image", paths[i]);
                        int k = write_all(fd, content, strlen(content));
                        if (k < 0 || close(fd) < 0)
                                helper_fail(pfd[1], k < 0 ? -k : errno, "cannot write '%s' in the image", paths[i]);
                }
                _exit(0);
        }
        close(pfd[1]);
        read_report(pfd[0], msg, sizeof(msg));
        close(pfd[0]);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return ob_error_set(err, errno, "cannot wait for a process");
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return ob_error_plain(err, EIO, "%s", msg[0] ? msg : "cannot create the test's files");
        return 0;
}

/* ---- one step ---------------------------------------------------------------- */

void runner_result_clear(RunnerResult *r)
{
        if (!r)
                return;
        free(r->why);
        free(r->output);
        *r = (RunnerResult){ 0 };
}

static const char *env_get(char *const *env, const char *key)
{
        size_t n = strlen(key);
        for (size_t i = 0; env && env[i]; i++)
                if (strncmp(env[i], key, n) == 0 && env[i][n] == '=')
                        return env[i] + n + 1;
        return NULL;
}

/* Sets "KEY=VALUE", replacing the entry of the same key. */
static void env_set(char ***env, const char *kv)
{
        size_t n = strcspn(kv, "=");
        for (size_t i = 0; *env && (*env)[i]; i++)
                if (strncmp((*env)[i], kv, n) == 0 && (*env)[i][n] == '=') {
                        free((*env)[i]);
                        (*env)[i] = xstrdup(kv);
                        return;
                }
        strv_push(env, kv);
}

/* What the child needs, prepared before it starts: between clone() and
 * execve() it only makes system calls. */
typedef struct StepChild {
        const char *root;
        const char *hostname;
        char *const *argv;
        char *const *envp;
        const char *path;      /* PATH, for a command without a '/' */
        const char *workdir;
        uid_t uid;
        gid_t gid;
        const gid_t *groups;
        size_t n_groups;
        int out_fd;            /* becomes stdout and stderr */
        int report_fd;         /* close-on-exec: why setting up or execve() failed */
} StepChild;

/* Reports are one letter and a message: 'S' when this machine failed to
 * set up the container, 'X' when the image failed (no such program...). */
#define child_fail(c, kind, e, ...) helper_fail((c)->report_fd, (e), kind __VA_ARGS__)

/* The capabilities a container runtime leaves to root inside a container,
 * less CAP_MKNOD: there is no devices cgroup here to stop a node for the
 * host's disk; the rest would let a test reach beyond its namespaces. */
static bool cap_kept(int cap)
{
        switch (cap) {
        case CAP_CHOWN:
        case CAP_DAC_OVERRIDE:
        case CAP_FSETID:
        case CAP_FOWNER:
        case CAP_NET_RAW:
        case CAP_SETGID:
        case CAP_SETUID:
        case CAP_SETFCAP:
        case CAP_SETPCAP:
        case CAP_NET_BIND_SERVICE:
        case CAP_SYS_CHROOT:
        case CAP_KILL:
        case CAP_AUDIT_WRITE:
                return true;
        default:
                return false;
        }
}

static void child_dir(const StepChild *c, const char *path)
{
        struct stat st;
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                child_fail(c, "S", errno, "cannot create '%s'", path);
        if (lstat(path, &st) < 0)
                child_fail(c, "S", errno, "cannot stat '%s'", path);
        /* A symlink here would put the mount somewhere else. */
        if (!S_ISDIR(st.st_mode))
                child_fail(c, "X", 0, "the image's /%s is not a directory", path + strlen(c->root) + 1);
}

static void child_dev(const StepChild *c)
{
        static const char *const devices[] = { "null", "zero", "full", "random", "urandom" };
        static const char *const links[][2] = {
                { "fd", "/proc/self/fd" },
                { "stdin", "/proc/self/fd/0" },
                { "stdout", "/proc/self/fd/1" },
                { "stderr", "/proc/self/fd/2" },
        };
        char dev[PATH_MAX], p[PATH_MAX + 32], host[64];

        snprintf(dev, sizeof(dev), "%s/dev", c->root);
        child_dir(c, dev);
        /* nodev: the bind mounts of the real devices below keep their own flags. */
        if (mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NODEV, "mode=755,size=65536k") < 0)
                child_fail(c, "S", errno, "cannot mount a tmpfs on /dev");
        for (size_t i = 0; i < ELEMENTSOF(devices); i++) {
                snprintf(p, sizeof(p), "%s/%s", dev, devices[i]);
                snprintf(host, sizeof(host), "/dev/%s", devices[i]);
                int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
                if (fd < 0)
                        child_fail(c, "S", errno, "cannot create /dev/%s", devices[i]);
                close(fd);
                if (mount(host, p, NULL, MS_BIND, NULL) < 0)
                        child_fail(c, "S", errno, "cannot bind-mount %s", host);
        }
        for (size_t i = 0; i < ELEMENTSOF(links); i++) {
                snprintf(p, sizeof(p), "%s/%s", dev, links[i][0]);
                if (symlink(links[i][1], p) < 0)
                        child_fail(c, "S", errno, "cannot create /dev/%s", links[i][0]);
        }
        snprintf(p, sizeof(p), "%s/shm", dev);
        if (mkdir(p, 01777) < 0)
                child_fail(c, "S", errno, "cannot create /dev/shm");
        if (mount("shm", p, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k") < 0)
                child_fail(c, "S", errno, "cannot mount a tmpfs on /dev/shm");
}

/* A network namespace starts with its loopback down; "no network" still
 * means 127.0.0.1 works, as with docker's --network=none. */
static void child_loopback(const StepChild *c)
{
        struct ifreq ifr = { 0 };
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                child_fail(c, "S", errno, "cannot make a socket");
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
                child_fail(c, "S", errno, "cannot read the flags of the loopback interface");
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
                child_fail(c, "S", errno, "cannot bring the loopback interface up");
        close(fd);
}

static void child_exec(const StepChild *c)
{
        char p[PATH_MAX];
        const char *cmd = c->argv[0];
        if (strchr(cmd, '/')) {
                execve(cmd, c->argv, c->envp);
                child_fail(c, "X", errno, "cannot execute '%s'", cmd);
        }
        int saved = ENOENT;
        for (const char *d = c->path; d;) {
                const char *colon = strchr(d, ':');
                size_t len = colon ? (size_t) (colon - d) : strlen(d);
                snprintf(p, sizeof(p), "%.*s/%s", (int) len, len ? d : ".", cmd);
                execve(p, c->argv, c->envp);
                if (errno == EACCES)
                        saved = EACCES;
                else if (errno != ENOENT && errno != ENOTDIR)
                        child_fail(c, "X", errno, "cannot execute '%s'", p);
                d = colon ? colon + 1 : NULL;
        }
        child_fail(c, "X", saved == ENOENT ? 0 : saved, "'%s' is not in the image's PATH (%s)", cmd, c->path);
}

static int child_main(void *arg)
{
        const StepChild *c = arg;
        char p[PATH_MAX];

        setsid();
        int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 || dup2(c->out_fd, STDOUT_FILENO) < 0 ||
            dup2(c->out_fd, STDERR_FILENO) < 0)
                child_fail(c, "S", errno, "cannot set up standard input and output");

        /* Nothing mounted from here on may reach the host's mount table. */
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                child_fail(c, "S", errno, "cannot make the mounts private");
        if (mount(c->root, c->root, NULL, MS_BIND | MS_REC, NULL) < 0)
                child_fail(c, "S", errno, "cannot bind-mount '%s'", c->root);
        /* A temporary directory on a noexec /tmp would forbid running the
         * image's programs; device nodes shipped in an image stay unusable
         * (the real ones are bound below). Best effort: where the kernel
         * refuses, the step reports what fails. */
        (void) mount(NULL, c->root, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV, NULL);
        child_dev(c);
        /* This process is pid 1 of the new pid namespace: the proc mounted
         * now shows that namespace. */
        snprintf(p, sizeof(p), "%s/proc", c->root);
        child_dir(c, p);
        if (mount("proc", p, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                child_fail(c, "S", errno, "cannot mount proc");
        /* As runtimes do: the parts of /proc that reach the host's kernel
         * are read-only. */
        static const char *const ro[] = { "sys", "sysrq-trigger", "irq", "bus" };
        for (size_t i = 0; i < ELEMENTSOF(ro); i++) {
                char q[PATH_MAX + 32];
                snprintf(q, sizeof(q), "%s/%s", p, ro[i]);
                if (access(q, F_OK) < 0)
                        continue;
                if (mount(q, q, NULL, MS_BIND | MS_REC, NULL) < 0 ||
                    mount(NULL, q, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                        child_fail(c, "S", errno, "cannot make /proc/%s read-only", ro[i]);
        }
        if (sethostname(c->hostname, strlen(c->hostname)) < 0)
                child_fail(c, "S", errno, "cannot set the host name");
        child_loopback(c);

        if (chdir(c->root) < 0)
                child_fail(c, "S", errno, "cannot enter '%s'", c->root);
        /* pivot_root leaves no way back to the host's tree, which chroot
         * would for root; it fails on an initramfs root, where chroot is
         * what remains. */
        if (syscall(SYS_pivot_root, ".", ".") == 0) {
                if (umount2(".", MNT_DETACH) < 0)
                        child_fail(c, "S", errno, "cannot detach the host's root");
        } else if (chroot(".") < 0)
                child_fail(c, "S", errno, "cannot change the root to '%s'", c->root);
        if (chdir("/") < 0)
                child_fail(c, "S", errno, "cannot enter the new root");

        if (c->uid == 0)
                for (int cap = 0; cap < 64; cap++)
                        if (!cap_kept(cap))
                                (void) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
        if (chdir(c->workdir) < 0)
                child_fail(c, "X", errno, "cannot enter the working directory '%s'", c->workdir);
        if (setgroups(c->n_groups, c->groups) < 0 || setgid(c->gid) < 0 || setuid(c->uid) < 0)
                child_fail(c, "S", errno, "cannot become user %u:%u", (unsigned) c->uid, (unsigned) c->gid);
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                child_fail(c, "S", errno, "cannot set no_new_privs");
        /* Descriptors the caller inherited from its own parent stay out. */
        if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
                for (int fd = 3; fd < 4096; fd++)
                        if (fd != c->report_fd)
                                (void) fcntl(fd, F_SETFD, FD_CLOEXEC);
        child_exec(c);
        return 127;
}

static double now_seconds(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void output_append(RunnerResult *res, const char *buf, size_t n)
{
        if (res->output_size + n > OUTPUT_MAX) {
                res->truncated = true;
                n = OUTPUT_MAX - res->output_size;
        }
        if (n == 0)
                return;
        res->output = xrealloc(res->output, res->output_size + n + 1);
        memcpy(res->output + res->output_size, buf, n);
        res->output_size += n;
        res->output[res->output_size] = '\0';
}

static void kill_and_reap(pid_t pid, int *status)
{
        /* SIGKILL of a pid namespace's init takes the whole namespace down. */
        kill(pid, SIGKILL);
        while (waitpid(pid, status, 0) < 0 && errno == EINTR)
                ;
}

int runner_run_step(const char *root, const RunnerImage *img, char *const *argv, char *const *extra_env,
                    const char *expect, unsigned timeout, RunnerResult *ret, ObError *err)
{
        _cleanup_strv_ char **env = NULL;
        _cleanup_free_ char *home = NULL, *stack = NULL;
        RunnerResult res = { 0 };
        int out[2] = { -1, -1 }, report[2] = { -1, -1 };
        char msg[1024], buf[65536];
        int status = 0, r;
        bool timed_out = false;

        if (!argv || !argv[0] || !argv[0][0])
                return ob_error_plain(err, EINVAL, "a test step has no command");
        for (size_t i = 0; img->env && img->env[i]; i++)
                strv_push(&env, img->env[i]);
        for (size_t i = 0; extra_env && extra_env[i]; i++)
                env_set(&env, extra_env[i]);
        if (!env_get(env, "HOME")) {
                home = xasprintf("HOME=%s", img->home ? img->home : "/");
                env_set(&env, home);
        }
        if (!env_get(env, "PATH"))
                env_set(&env, "PATH=" DEFAULT_PATH);
        if (!env)
                strv_push(&env, "PATH=" DEFAULT_PATH);

        StepChild c = {
                .root = root,
                .hostname = img->name ? img->name : "oci-build",
                .argv = argv,
                .envp = env,
                .path = env_get(env, "PATH"),
                .workdir = img->workdir ? img->workdir : "/",
                .uid = img->uid,
                .gid = img->gid,
                .groups = img->groups,
                .n_groups = img->n_groups,
        };
        if (pipe2(out, O_CLOEXEC) < 0 || pipe2(report, O_CLOEXEC) < 0) {
                r = ob_error_set(err, errno, "cannot make a pipe");
                goto out_fds;
        }
        c.out_fd = out[1];
        c.report_fd = report[1];

        double start = now_seconds();
        stack = xmalloc(CHILD_STACK);
        /* clone() rather than fork() and unshare(): the child is pid 1 of
         * its pid namespace at once, so a single SIGKILL from here ends it
         * and everything it started. */
        pid_t pid = clone(child_main, stack + CHILD_STACK, STEP_NAMESPACES | SIGCHLD, &c);
        if (pid < 0) {
                int e = errno;
                if (e == EPERM || e == EINVAL || e == ENOSPC || e == EUSERS)
                        r = namespaces_error(err, "clone", e);
                else
                        r = ob_error_set(err, e, "cannot start '%s'", argv[0]);
                goto out_fds;
        }
        close(out[1]);
        close(report[1]);
        out[1] = report[1] = -1;

        double deadline = start + timeout;
        bool eof = false, exited = false;
        while (!exited) {
                if (caught_signal) {
                        kill_and_reap(pid, &status);
                        r = interrupted_error(err);
                        goto out_fds;
                }
                double left = deadline - now_seconds();
                if (left <= 0) {
                        kill_and_reap(pid, &status);
                        timed_out = true;
                        break;
                }
                if (eof) {
                        /* Output closed, process maybe still running. */
                        pid_t w = waitpid(pid, &status, WNOHANG);
                        if (w == pid) {
                                exited = true;
                                break;
                        }
                        struct timespec ts = { 0, 10 * 1000 * 1000 };
                        nanosleep(&ts, NULL);
                        continue;
                }
                struct pollfd pfd = { .fd = out[0], .events = POLLIN };
                int ms = left > 1.0 ? 1000 : (int) (left * 1000) + 1;
                int k = poll(&pfd, 1, ms);
                if (k < 0 && errno != EINTR) {
                        r = ob_error_set(err, errno, "cannot wait for '%s'", argv[0]);
                        kill_and_reap(pid, &status);
                        goto out_fds;
                }
                if (k <= 0)
                        continue;
                ssize_t n = read(out[0], buf, sizeof(buf));
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n <= 0)
                        eof = true;
                else
                        output_append(&res, buf, (size_t) n);
        }
        res.seconds = now_seconds() - start;

        read_report(report[0], msg, sizeof(msg));
        if (msg[0] == 'S') {
                r = ob_error_plain(err, EIO, "cannot set up the container for '%s': %s", argv[0], msg + 1);
                goto out_fds;
        }
        if (timed_out)
                res.why = xasprintf("timed out after %u s", timeout);
        else if (msg[0] == 'X')
                res.why = xstrdup(msg + 1);
        else if (WIFSIGNALED(status))
                res.why = xasprintf("killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
        else if (WEXITSTATUS(status) != 0)
                res.why = xasprintf("exit status %d", WEXITSTATUS(status));
        else if (expect && !memmem(res.output ? res.output : "", res.output_size, expect, strlen(expect)))
                res.why = xasprintf("the output does not contain \"%s\"", expect);
        res.passed = !res.why;
        *ret = res;
        res = (RunnerResult){ 0 };
        r = 0;
out_fds:
        runner_result_clear(&res);
        for (int i = 0; i < 2; i++) {
                if (out[i] >= 0)
                        close(out[i]);
                if (report[i] >= 0)
                        close(report[i]);
        }
        return r;
}
