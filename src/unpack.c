/* SPDX-License-Identifier: MIT */
#include "unpack.h"

#include "platform.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "cleanup-libs.h"
#include "digest.h"
#include "fs.h"
#include "log.h"
#include "oci.h"
#include "path.h"
#include "sandbox.h"
#include "util.h"

#define STREAM_CHUNK (256u * 1024u)

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

/* ---- one layer: blob -> sha256 -> gunzip -> sha256 -> tar -> disk ------- */

typedef enum LayerCodec {
        CODEC_NONE,
        CODEC_GZIP,
        CODEC_ZSTD,
} LayerCodec;

typedef struct LayerStream {
        int fd;
        LayerCodec codec;
        z_stream z;
        bool z_ready;
        ZSTD_DCtx *zstd;
        ZSTD_inBuffer zin;
        size_t zstd_pending; /* 0 once the last zstd frame is complete */
        bool started;        /* a gzip member (or zstd frame) was seen */
        bool in_member;      /* a gzip member started and has not ended */
        bool eof;            /* the blob is read to its end */
        unsigned char *in, *out;
        Sha256 blob_hash, tar_hash;
        uint64_t blob_size, tar_size;
        char msg[512]; /* why reading failed */
} LayerStream;

static ssize_t stream_read_blob(LayerStream *s, unsigned char *buf)
{
        ssize_t n;
        do
                n = read(s->fd, buf, STREAM_CHUNK);
        while (n < 0 && errno == EINTR && !sandbox_interrupted());
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
static ssize_t stream_next_zstd(LayerStream *s, const void **ret)
{
        for (;;) {
                if (s->zin.pos == s->zin.size && !s->eof) {
                        ssize_t n = stream_read_blob(s, s->in);
                        if (n < 0)
                                return n;
                        s->zin = (ZSTD_inBuffer){ s->in, (size_t) n, 0 };
                }
                if (s->zin.pos == s->zin.size) {
                        if (s->zstd_pending || !s->started) {
                                snprintf(s->msg, sizeof(s->msg), "the zstd stream is truncated");
                                return -EIO;
                        }
                        return 0;
                }
                /* Frames follow one another: the decoder starts the next
                 * one by itself once a frame is complete. */
                s->started = true;
                ZSTD_outBuffer zout = { s->out, STREAM_CHUNK, 0 };
                size_t zr = ZSTD_decompressStream(s->zstd, &zout, &s->zin);
                if (ZSTD_isError(zr)) {
                        snprintf(s->msg, sizeof(s->msg), "zstd: %s", ZSTD_getErrorName(zr));
                        return -EIO;
                }
                s->zstd_pending = zr;
                if (zout.pos > 0) {
                        sha256_update(&s->tar_hash, s->out, zout.pos);
                        s->tar_size += zout.pos;
                        *ret = s->out;
                        return (ssize_t) zout.pos;
                }
        }
}

static ssize_t stream_next(LayerStream *s, const void **ret)
{
        if (s->codec == CODEC_ZSTD)
                return stream_next_zstd(s, ret);
        if (s->codec == CODEC_NONE) {
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
        int cwdfd; /* the caller's working directory: a relative layout path is relative to it */
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
                return 0; /* missing parents are made by libarchive, symlinks refused by it */
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

static int layer_fail(LayerStream *s, const char *digest, ObError *err, int r)
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
                r = sandbox_check_interrupted(err);
                if (r < 0)
                        return r;
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
                /* The root keeps the mode the caller gave it, whatever a
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

/* Accepts a stream that stream_open() failed to open, or did not open. */
static void stream_close(LayerStream *s)
{
        if (s->z_ready)
                inflateEnd(&s->z);
        s->z_ready = false;
        ZSTD_freeDCtx(s->zstd);
        s->zstd = NULL;
        sha256_free(&s->blob_hash);
        sha256_free(&s->tar_hash);
        free(s->in);
        free(s->out);
        s->in = s->out = NULL;
        if (s->fd >= 0)
                close(s->fd);
        s->fd = -1;
}

static int stream_open(LayerStream *s, int dirfd, const char *blob_path, const LayerRef *ref, ObError *err)
{
        const char *mt = ref->media_type ? ref->media_type : "";
        if (str_endswith(mt, "tar+gzip") || str_endswith(mt, ".tar.gzip"))
                s->codec = CODEC_GZIP;
        else if (str_endswith(mt, "tar+zstd"))
                s->codec = CODEC_ZSTD;
        else if (!str_endswith(mt, ".tar"))
                return ob_error_plain(err, ENOTSUP,
                                      "layer %s has media type '%s'; only gzip, zstd and uncompressed tar layers "
                                      "can be unpacked",
                                      ref->digest, mt);

        s->fd = openat(dirfd, blob_path, O_RDONLY | O_CLOEXEC);
        if (s->fd < 0)
                return ob_error_set(err, errno, "cannot open layer blob '%s'", blob_path);
        s->in = xmalloc(STREAM_CHUNK);
        s->out = xmalloc(STREAM_CHUNK);
        sha256_init(&s->blob_hash);
        sha256_init(&s->tar_hash);
        if (s->codec == CODEC_ZSTD) {
                s->zstd = ZSTD_createDCtx();
                if (!s->zstd)
                        return ob_error_plain(err, ENOMEM, "cannot start a zstd decoder");
        }
        if (s->codec == CODEC_GZIP) {
                /* 16 + MAX_WBITS: gzip headers only. */
                if (inflateInit2(&s->z, 16 + MAX_WBITS) != Z_OK)
                        return ob_error_plain(err, ENOMEM, "cannot start a gzip decoder");
                s->z_ready = true;
        }
        (void) posix_fadvise(s->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        return 0;
}

/* The tar stream of a layer, through libarchive, onto the disk. */
static int unpack_tar(Unpack *u, LayerStream *s, ObError *err)
{
        _cleanup_archive_read_ struct archive *a = archive_read_new();
        _cleanup_archive_write_ struct archive *w = archive_write_disk_new();
        archive_read_support_format_tar(a);
        /* Owners are numeric (no user lookup is installed), and nothing may
         * land outside the root, not even through a symlink that an earlier
         * entry made. */
        archive_write_disk_set_options(w, ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_TIME |
                                                  ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                                  ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
        if (archive_read_open(a, s, NULL, archive_read_cb, NULL) < ARCHIVE_OK)
                return ob_error_plain(err, EIO, "layer %s: %s", u->digest,
                                      s->msg[0] ? s->msg : archive_error_string(a));
        int r = unpack_entries(u, s, a, w, err);
        made_clear(u);
        if (r == 0 && archive_write_close(w) < ARCHIVE_WARN)
                r = ob_error_plain(err, EIO, "layer %s: cannot finish unpacking: %s", u->digest,
                                   archive_error_string(w));
        return r;
}

/* libarchive stops at the end-of-archive blocks: the rest of the stream
 * still counts for both digests. */
static int stream_drain(LayerStream *s, const char *digest, ObError *err)
{
        for (;;) {
                const void *buf;
                ssize_t n = stream_next(s, &buf);
                if (n == 0)
                        return 0;
                if (n < 0)
                        return ob_error_plain(err, EIO, "layer %s: %s", digest, s->msg);
        }
}

/* The blob read to its end against the manifest and the config. */
static int stream_verify(LayerStream *s, const LayerRef *ref, ObError *err)
{
        char blob_digest[DIGEST_STRING_MAX], tar_digest[DIGEST_STRING_MAX];
        sha256_final(&s->blob_hash, blob_digest);
        sha256_final(&s->tar_hash, tar_digest);
        if (strcmp(blob_digest, ref->digest) != 0)
                return ob_error_plain(err, EIO, "layer %s is corrupt: its content hashes to %s", ref->digest,
                                      blob_digest);
        if (s->blob_size != ref->size)
                return ob_error_plain(err, EIO, "layer %s is %llu bytes, its manifest says %llu", ref->digest,
                                      (unsigned long long) s->blob_size, (unsigned long long) ref->size);
        if (ref->diff_id && strcmp(tar_digest, ref->diff_id) != 0)
                return ob_error_plain(err, EIO, "layer %s: its tar stream hashes to %s, the image config says %s",
                                      ref->digest, tar_digest, ref->diff_id);
        return 0;
}

static int unpack_layer(Unpack *u, const char *blob_path, const LayerRef *ref, uint64_t *ret_tar_size, ObError *err)
{
        _cleanup_(stream_close) LayerStream s = { .fd = -1 };
        int r = stream_open(&s, u->cwdfd, blob_path, ref, err);
        if (r < 0)
                return r;
        r = unpack_tar(u, &s, err);
        if (r == 0)
                r = stream_drain(&s, ref->digest, err);
        if (r == -EINTR)
                return r;
        if (r < 0)
                return layer_fail(&s, ref->digest, err, r);
        r = stream_verify(&s, ref, err);
        if (r < 0)
                return r;
        *ret_tar_size = s.tar_size;
        return 0;
}

/* ---- the image ------------------------------------------------------------ */

void unpacked_image_clear(UnpackedImage *img)
{
        if (!img)
                return;
        free(img->name);
        free(img->version);
        free(img->user);
        image_account_clear(&img->account);
        strv_free(img->env);
        free(img->workdir);
        *img = (UnpackedImage){ 0 };
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
                return ob_error_plain(err, EINVAL, "the %s %s is not a JSON object%s%s", what, digest, j ? "" : ": ",
                                      j ? "" : jerr.text);
        }
        *ret = j;
        return 0;
}

/* What the config says about running the image. */
static void image_from_config(UnpackedImage *img, const char *name, json_t *manifest, json_t *config)
{
        json_t *c = json_object_get(config, "config");
        img->name = xstrdup(name);
        const char *v = json_string_value(
                json_object_get(json_object_get(manifest, "annotations"), "org.opencontainers.image.version"));
        img->version = v ? xstrdup(v) : NULL;
        v = json_string_value(json_object_get(c, "User"));
        img->user = xstrdup(v ? v : "");
        v = json_string_value(json_object_get(c, "WorkingDir"));
        img->workdir = xstrdup(v && *v ? v : "/");
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(c, "Env"), i, e) {
                if (json_string_value(e) && strchr(json_string_value(e), '='))
                        strv_push(&img->env, json_string_value(e));
        }
}

/* The layers, in order, from within the root: libarchive's checks against
 * "..", absolute paths and symlinks work relative to the working
 * directory. */
static int unpack_layers_here(Layout *l, const char *name, json_t *layers, json_t *diff_ids, Unpack *u,
                              UnpackedImage *img, ObError *err)
{
        for (size_t i = 0; i < json_array_size(layers); i++) {
                json_t *ld = json_array_get(layers, i);
                LayerRef ref = {
                        .digest = json_string_value(json_object_get(ld, "digest")),
                        .media_type = json_string_value(json_object_get(ld, "mediaType")),
                        .size = (uint64_t) json_integer_value(json_object_get(ld, "size")),
                        .diff_id = json_string_value(json_array_get(diff_ids, i)),
                };
                if (!digest_is_valid(ref.digest))
                        return ob_error_plain(err, EINVAL, "image '%s': layer %zu has no valid digest", name, i + 1);
                u->digest = ref.digest;
                _cleanup_free_ char *path = layout_blob_path(l, ref.digest);
                ob_debug("unpacking layer %s of %s", ref.digest, name);
                uint64_t tar_size = 0;
                int r = unpack_layer(u, path, &ref, &tar_size, err);
                if (r < 0)
                        return r;
                img->tar_size += tar_size;
                img->n_layers++;
        }
        return 0;
}

static int unpack_layers(Layout *l, const char *name, json_t *layers, json_t *diff_ids, const char *dir,
                         UnpackedImage *img, ObError *err)
{
        struct stat st;
        _cleanup_close_ int rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0 || fstat(rootfd, &st) < 0)
                return ob_error_set(err, errno, "cannot open '%s'", dir);
        _cleanup_close_ int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (cwd < 0)
                return ob_error_set(err, errno, "cannot open the working directory");
        if (fchdir(rootfd) < 0)
                return ob_error_set(err, errno, "cannot enter '%s'", dir);
        Unpack u = { .rootfd = rootfd, .cwdfd = cwd, .dev = st.st_dev };
        int r = unpack_layers_here(l, name, layers, diff_ids, &u, img, err);
        if (fchdir(cwd) < 0 && r == 0)
                r = ob_error_set(err, errno, "cannot return to the working directory");
        return r;
}

int unpack_image(Layout *l, const char *name, const char *dir, UnpackedImage *ret, ObError *err)
{
        return unpack_image_for(l, name, /* platform= */ NULL, dir, ret, err);
}

int unpack_image_for(Layout *l, const char *name, const Platform *platform, const char *dir, UnpackedImage *ret,
                     ObError *err)
{
        json_auto_t *manifest = NULL;
        json_auto_t *config = NULL;
        _cleanup_(unpacked_image_clear) UnpackedImage img = { 0 };
        int r;

        if (!layout_index_find(l, name))
                return ob_error_plain(err, ENOENT, "image '%s' is not in %s", name, layout_path(l));
        /* An image index: the manifest of the platform asked for. */
        json_auto_t *desc = NULL;
        r = platform_resolve(l, name, platform, &desc, err);
        if (r < 0)
                return r;
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

        image_from_config(&img, name, manifest, config);
        r = unpack_layers(l, name, layers, diff_ids, dir, &img, err);
        if (r < 0)
                return r;
        r = passwd_lookup(dir, name, img.user, &img.account, err);
        if (r < 0)
                return r;
        *ret = img;
        img = (UnpackedImage){ 0 };
        return 0;
}
