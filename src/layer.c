/* SPDX-License-Identifier: MIT */
#include "layer.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <libdeflate.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zstd.h>

#include "cleanup-libs.h"
#include "compress.h"
#include "digest.h"
#include "fs.h"
#include "layer-cache.h"
#include "layer-facts.h"
#include "log.h"
#include "util.h"

#define READ_CHUNK (256u * 1024u)

/* Where the tar bytes go after libarchive: hashed, then either compressed
 * into a blob or written raw to a descriptor. */
typedef struct TarSink {
        Sha256 tar_hash;
        uint64_t tar_size;
        Compressor *gz; /* NULL: raw mode */
        BlobWriter *blob;
        int raw_fd;
        ObError *err;
        int failed;        /* negative errno once a write failed */
        LayerFacts *facts; /* NULL: no facts are made */
        LayerFactsHasher *hasher;
} TarSink;

/* Releases what a TarSink holds, abandoning a blob not yet committed. The
 * compressor goes first: it writes into the blob. */
static void tar_sink_done(TarSink *s)
{
        layer_facts_hasher_free(s->hasher);
        s->hasher = NULL;
        sha256_free(&s->tar_hash);
        compressor_free(s->gz);
        s->gz = NULL;
        blob_writer_abort(s->blob);
        s->blob = NULL;
}

static ssize_t tar_sink_write(struct archive *a, void *userdata, const void *buf, size_t n)
{
        TarSink *s = userdata;
        int r;

        sha256_update(&s->tar_hash, buf, n);
        s->tar_size += n;
        if (s->gz)
                r = compressor_write(s->gz, buf, n, s->err);
        else if (s->raw_fd < 0)
                r = 0; /* only hashed */
        else {
                r = write_all(s->raw_fd, buf, n);
                if (r < 0)
                        ob_error_set(s->err, -r, "cannot write the tar stream");
        }
        if (r < 0) {
                s->failed = r;
                archive_set_error(a, -r, "%s", s->err->msg);
                return -1;
        }
        return (ssize_t) n;
}

static int gz_to_blob(void *userdata, const void *data, size_t size, ObError *err)
{
        return blob_writer_write(userdata, data, size, err);
}

static int archive_fail(struct archive *a, TarSink *s, ObError *err, const char *what, const char *path)
{
        if (s->failed)
                return ob_error_wrap(err, "%s '%s'", what, path);
        return ob_error_plain(err, EIO, "%s '%s': %s", what, path, archive_error_string(a));
}

static int changed(const Entry *e, ObError *err)
{
        return ob_error_plain(err, EIO, "'%s' changed while the image was being built", e->source);
}

/* Opens the file an entry was planned from and checks it is that file. A
 * file of a sysroot is opened inside it (sysroot_openat()), so a directory
 * swapped for a symlink since planning cannot bring in a file from outside. */
static int open_source(const Entry *e, ObError *err)
{
        ObError local;
        _cleanup_close_ int fd = -1;
        if (e->root) {
                fd = sysroot_openat(e->root, e->source_path, O_RDONLY | O_NOCTTY | O_NONBLOCK, &local);
                if (fd == -ELOOP || fd == -ENOTDIR || fd == -EXDEV)
                        return changed(e, err);
        } else if ((fd = open(e->source, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK)) < 0)
                fd = -errno;
        if (fd < 0)
                return ob_error_set(err, -fd, "cannot open '%s'", e->source);
        struct stat st;
        if (fstat(fd, &st) < 0)
                return ob_error_set(err, errno, "cannot stat '%s'", e->source);
        if (!S_ISREG(st.st_mode) || (uint64_t) st.st_size != e->size)
                return changed(e, err);
        if (e->root && (st.st_dev != e->dev || st.st_ino != e->ino))
                return changed(e, err);
        return TAKE_FD(fd);
}

/* fact: where the sums of the bytes written go, or NULL. */
static int write_file_data(struct archive *a, TarSink *s, const Entry *e, LayerFact *fact, char *buf, ObError *err)
{
        if (fact)
                layer_facts_hasher_start(s->hasher, fact);
        if (e->data) {
                la_ssize_t w = archive_write_data(a, e->data, e->size);
                if (w < 0 || (uint64_t) w != e->size)
                        return archive_fail(a, s, err, "cannot write data of", e->path);
                if (fact) {
                        layer_facts_hasher_update(s->hasher, e->data, e->size);
                        layer_facts_hasher_finish(s->hasher);
                }
                return 0;
        }

        _cleanup_close_ int fd = open_source(e, err);
        if (fd < 0)
                return fd;
        (void) posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);

        uint64_t left = e->size;
        while (left > 0) {
                ssize_t n = read(fd, buf, left < READ_CHUNK ? left : READ_CHUNK);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return ob_error_set(err, errno, "cannot read '%s'", e->source);
                }
                if (n == 0)
                        return ob_error_plain(err, EIO, "'%s' shrank while the image was being built", e->source);
                la_ssize_t w = archive_write_data(a, buf, (size_t) n);
                if (w != n)
                        return archive_fail(a, s, err, "cannot write data of", e->path);
                /* The bytes just written, on this thread, while they are
                 * in the cache: the facts describe the tar. */
                if (fact)
                        layer_facts_hasher_update(s->hasher, buf, (size_t) n);
                left -= (uint64_t) n;
        }
        if (fact)
                layer_facts_hasher_finish(s->hasher);
        return 0;
}

static int write_entries(struct archive *a, TarSink *s, const Plan *p, const LayerOptions *o, ObError *err)
{
        _cleanup_free_ char *buf = xmalloc(READ_CHUNK);
        _cleanup_archive_entry_ struct archive_entry *ae = archive_entry_new();
        int r;

        for (size_t i = 0; i < p->n; i++) {
                const Entry *e = &p->entries[i];
                archive_entry_clear(ae);
                archive_entry_copy_pathname(ae, e->path);
                archive_entry_set_uid(ae, e->uid);
                archive_entry_set_gid(ae, e->gid);
                /* We care about reproducibility: numeric owners only, no
                 * atime/ctime, and no mtime newer than SOURCE_DATE_EPOCH. */
                int64_t mtime = e->mtime < o->source_date_epoch ? e->mtime : o->source_date_epoch;
                if (mtime < 0)
                        mtime = 0;
                archive_entry_set_mtime(ae, (time_t) mtime, 0);
                switch (e->type) {
                case ENTRY_DIR:
                        archive_entry_set_filetype(ae, AE_IFDIR);
                        archive_entry_set_perm(ae, e->mode);
                        break;
                case ENTRY_FILE:
                        archive_entry_set_filetype(ae, AE_IFREG);
                        archive_entry_set_perm(ae, e->mode);
                        archive_entry_set_size(ae, (la_int64_t) e->size);
                        break;
                case ENTRY_SYMLINK:
                        archive_entry_set_filetype(ae, AE_IFLNK);
                        archive_entry_set_perm(ae, 0777);
                        archive_entry_copy_symlink(ae, e->target);
                        break;
                case ENTRY_HARDLINK:
                        archive_entry_set_filetype(ae, AE_IFREG);
                        archive_entry_set_perm(ae, e->mode);
                        archive_entry_copy_hardlink(ae, e->target);
                        archive_entry_set_size(ae, 0);
                        break;
                }
                if (archive_write_header(a, ae) < ARCHIVE_OK)
                        return archive_fail(a, s, err, "cannot write tar header for", e->path);
                /* What the header says, as a reader of the tar sees it. */
                LayerFact *fact =
                        s->facts ? layer_facts_add(s->facts, archive_entry_pathname(ae), archive_entry_hardlink(ae),
                                                   archive_entry_filetype(ae) == AE_IFREG,
                                                   archive_entry_filetype(ae) == AE_IFDIR)
                                 : NULL;
                if (e->type == ENTRY_FILE) {
                        r = write_file_data(a, s, e, fact, buf, err);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int write_tar(TarSink *s, const Plan *p, const LayerOptions *o, ObError *err)
{
        _cleanup_archive_write_ struct archive *a = archive_write_new();
        int r;

        if (!a)
                return ob_error_plain(err, ENOMEM, "cannot create a tar writer");
        /* ustar headers, with pax extended headers only where ustar cannot
         * hold a value (long names, large sizes). */
        if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
            archive_write_set_bytes_per_block(a, 10240) != ARCHIVE_OK ||
            archive_write_open2(a, s, /* opener= */ NULL, tar_sink_write, /* closer= */ NULL, /* freer= */ NULL) !=
                    ARCHIVE_OK)
                return ob_error_plain(err, EIO, "cannot set up the tar writer: %s", archive_error_string(a));
        r = write_entries(a, s, p, o, err);
        if (r < 0)
                return r;
        if (archive_write_close(a) != ARCHIVE_OK)
                return s->failed
                               ? ob_error_wrap(err, "cannot finish the tar stream")
                               : ob_error_plain(err, EIO, "cannot finish the tar stream: %s", archive_error_string(a));
        return 0;
}

int layer_level(const Plan *p, const LayerOptions *o)
{
        if (o->level != LAYER_LEVEL_AUTO)
                return o->level;
        if (o->compression == LAYER_ZSTD)
                return COMPRESS_ZSTD_LEVEL_DEFAULT;
        return plan_content_size(p) <= LAYER_AUTO_SMALL ? LAYER_AUTO_SMALL_LEVEL : LAYER_AUTO_LARGE_LEVEL;
}

static int layer_write_cold(Layout *l, const Plan *p, const LayerOptions *o, OciLayerInfo *ret, ObError *err)
{
        _cleanup_(layer_facts_clear) LayerFacts facts = { 0 };
        _cleanup_(tar_sink_done) TarSink s = { .err = err, .raw_fd = -1 };
        char diff_id[DIGEST_STRING_MAX], digest[DIGEST_STRING_MAX];
        uint64_t size;
        int r;

        if (layer_facts_cache_usable(o->facts)) {
                s.facts = &facts;
                s.hasher = layer_facts_hasher_new();
        }
        r = layout_blob_begin(l, &s.blob, err);
        if (r < 0)
                return r;
        if (o->compression == LAYER_ZSTD)
                r = compressor_new_zstd(layer_level(p, o), o->threads, gz_to_blob, s.blob, &s.gz, err);
        else
                r = compressor_new(layer_level(p, o), o->chunk, o->threads, gz_to_blob, s.blob, &s.gz, err);
        if (r < 0)
                return r;
        sha256_init(&s.tar_hash);
        r = write_tar(&s, p, o, err);
        if (r < 0)
                return r;
        r = compressor_finish(s.gz, err);
        if (r < 0)
                return r;
        compressor_free(TAKE_PTR(s.gz));
        /* The tar writer's and the hashers' small blocks leave free pages
         * all over the heap; given back, they do not add up from one layer
         * to the next. */
        malloc_trim(0);
        sha256_final(&s.tar_hash, diff_id);
        r = layout_blob_commit(l, TAKE_PTR(s.blob), digest, &size, err);
        if (r < 0)
                return r;
        layer_facts_cache_store(o->facts, digest, &facts);

        memcpy(ret->digest, digest, sizeof(digest));
        memcpy(ret->diff_id, diff_id, sizeof(diff_id));
        ret->size = size;
        ret->tar_size = s.tar_size;
        ret->media_type = layer_media_type(o);
        return 0;
}

/* What decides the compressed bytes besides the tar stream. */
static char *layer_settings(const Plan *p, const LayerOptions *o)
{
        if (o->compression == LAYER_ZSTD)
                return xasprintf("zstd level %d, job %u, libzstd %s", layer_level(p, o), COMPRESS_ZSTD_JOB,
                                 ZSTD_versionString());
        return xasprintf("gzip level %d, chunk %zu, libdeflate %s", layer_level(p, o),
                         o->chunk ? o->chunk : (size_t) COMPRESS_CHUNK_DEFAULT, LIBDEFLATE_VERSION_STRING);
}

int layer_write(Layout *l, const Plan *p, const LayerOptions *o, OciLayerInfo *ret, ObError *err)
{
        _cleanup_free_ char *settings = layer_settings(p, o);
        LayerKey key, after;
        ObError ignore;
        /* A source that cannot be looked at now fails the write below,
         * with its own message. */
        if (!layer_cache_usable(o->cache) || layer_cache_key(p, o->source_date_epoch, settings, &key, &ignore) < 0) {
                int r = layer_write_cold(l, p, o, ret, err);
                if (r == 0)
                        ob_debug("layer %s (%zu entries): written", ret->digest, p->n);
                return r;
        }
        if (layer_cache_lookup(o->cache, l, &key, layer_media_type(o), ret)) {
                ret->media_type = layer_media_type(o);
                ob_debug("layer %s (%zu entries): from the cache", ret->digest, p->n);
                return 0;
        }
        LayerKey shape;
        layer_cache_shape_key(p, o->source_date_epoch, settings, &shape);
        OciLayerInfo last = { 0 };
        bool found = false;
        if (layer_cache_lookup(o->cache, l, &shape, layer_media_type(o), &last)) {
                /* The last layer of the same paths, modes and sizes is in
                 * the layout: when the sources were only touched, the tar
                 * is that layer's. Hashing it compresses nothing. */
                char diff_id[DIGEST_STRING_MAX];
                _cleanup_(tar_sink_done) TarSink s = { .err = &ignore, .raw_fd = -1 };
                sha256_init(&s.tar_hash);
                if (write_tar(&s, p, o, &ignore) == 0) {
                        sha256_final(&s.tar_hash, diff_id);
                        found = strcmp(diff_id, last.diff_id) == 0;
                }
        }
        if (found) {
                *ret = last;
                ret->media_type = layer_media_type(o);
                ob_debug("layer %s (%zu entries): from the cache, by its tar", ret->digest, p->n);
        } else {
                int r = layer_write_cold(l, p, o, ret, err);
                if (r < 0)
                        return r;
                ob_debug("layer %s (%zu entries): written", ret->digest, p->n);
                /* Even when a source changed as it was read: a later build
                 * compares its tar's hash, not its sources. */
                layer_cache_store(o->cache, l, &shape, layer_media_type(o), ret);
        }
        /* Remembered only when no source changed while it was read: the
         * key must describe the bytes that went in. */
        if (layer_cache_key(p, o->source_date_epoch, settings, &after, &ignore) < 0 || strcmp(key.hex, after.hex) != 0)
                return 0;
        /* A layer found by its tar is found so again, without compressing:
         * remembering it by its sources is not worth a wait. */
        if (after.racy && found)
                return 0;
        if (after.racy) {
                /* Files written a moment ago (by an app's build step): once,
                 * wait out the clock tick that could hide a further change. */
                nanosleep(&(struct timespec){ .tv_nsec = 60 * 1000 * 1000 }, NULL);
                if (layer_cache_key(p, o->source_date_epoch, settings, &after, &ignore) < 0 ||
                    strcmp(key.hex, after.hex) != 0)
                        return 0;
        }
        layer_cache_store(o->cache, l, &after, layer_media_type(o), ret);
        return 0;
}

int layer_write_tar(int fd, const Plan *p, const LayerOptions *o, char ret_diff_id[static DIGEST_STRING_MAX],
                    ObError *err)
{
        _cleanup_(tar_sink_done) TarSink s = { .err = err, .raw_fd = fd };
        int r;

        sha256_init(&s.tar_hash);
        r = write_tar(&s, p, o, err);
        if (r < 0)
                return r;
        sha256_final(&s.tar_hash, ret_diff_id);
        return 0;
}

const char *layer_media_type(const LayerOptions *o)
{
        return o->compression == LAYER_ZSTD ? OCI_MT_LAYER_ZSTD : OCI_MT_LAYER_GZIP;
}

#define COMPRESSION_CHOICES "gzip, gzip:0-12, zstd or zstd:1-19"

int layer_level_check(LayerCompression compression, int level, ObError *err)
{
        int lo = compression == LAYER_ZSTD ? COMPRESS_ZSTD_LEVEL_MIN : 0;
        int hi = compression == LAYER_ZSTD ? COMPRESS_ZSTD_LEVEL_MAX : COMPRESS_LEVEL_MAX;
        if (level == LAYER_LEVEL_AUTO || (level >= lo && level <= hi))
                return 0;
        return ob_error_usage(err, "%s level %d is out of range (%d-%d)", compression == LAYER_ZSTD ? "zstd" : "gzip",
                              level, lo, hi);
}

int layer_compression_parse(const char *s, LayerCompression *ret_compression, int *ret_level, ObError *err)
{
        const char *colon = strchr(s, ':');
        size_t n = colon ? (size_t) (colon - s) : strlen(s);
        LayerCompression c;
        if (n == 4 && strncmp(s, "gzip", 4) == 0)
                c = LAYER_GZIP;
        else if (n == 4 && strncmp(s, "zstd", 4) == 0)
                c = LAYER_ZSTD;
        else
                return ob_error_usage(err, "--compression: unknown compression '%s' (choices: " COMPRESSION_CHOICES ")",
                                      s);
        int level = LAYER_LEVEL_AUTO;
        if (colon) {
                char *end;
                errno = 0;
                long v = strtol(colon + 1, &end, 10);
                if (errno || end == colon + 1 || *end || v < 0 || v > 99 || layer_level_check(c, (int) v, err) < 0)
                        return ob_error_usage(err,
                                              "--compression: bad level in '%s' (choices: " COMPRESSION_CHOICES ")", s);
                level = (int) v;
        }
        *ret_compression = c;
        *ret_level = level;
        return 0;
}
