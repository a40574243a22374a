/* SPDX-License-Identifier: MIT */
#include "layer-cache.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cleanup-libs.h"
#include "config.h"
#include "download.h"
#include "fs.h"
#include "log.h"
#include "path.h"

#define ENTRY_VERSION 1

struct LayerCache {
        char *dir;
        char *what; /* "layer cache", "step cache": for messages */
        bool usable;
        bool prepared; /* the directory was made or checked */
        bool told_damaged;
};

static void disable(LayerCache *c, const char *why)
{
        if (!c->usable)
                return;
        c->usable = false;
        ob_info("oci-build: the %s '%s' cannot be used (%s): building without it", c->what, c->dir, why);
}

LayerCache *layer_cache_open_kind(const char *dir, const char *what)
{
        LayerCache *c = xcalloc(1, sizeof(*c));
        c->dir = xstrdup(dir);
        c->what = xstrdup(what);
        c->usable = true;
        return c;
}

LayerCache *layer_cache_open(const char *dir)
{
        return layer_cache_open_kind(dir, "layer cache");
}

/* The directory is made when the first entry is stored, not before: a
 * build that fails (or writes nothing) leaves no trace and says nothing
 * about the cache. */
static bool prepare(LayerCache *c)
{
        if (c->prepared)
                return c->usable;
        c->prepared = true;
        ObError err;
        const char *why = cache_dir_unusable(c->dir, &err);
        if (why)
                disable(c, why);
        return c->usable;
}

LayerCache *layer_cache_open_default(void)
{
        _cleanup_free_ char *root = download_cache_dir();
        _cleanup_free_ char *dir = path_join(root, "layers");
        return layer_cache_open(dir);
}

void layer_cache_free(LayerCache *c)
{
        if (!c)
                return;
        free(c->dir);
        free(c->what);
        free(c);
}

bool layer_cache_usable(const LayerCache *c)
{
        return c && c->usable;
}

static int64_t ns(const struct timespec *t)
{
        return (int64_t) t->tv_sec * 1000000000LL + t->tv_nsec;
}

void cache_hash_printf(Sha256 *h, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *s = NULL;
        int n = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (n < 0)
                abort();
        /* With its NUL: a field never runs into the next. */
        sha256_update(h, s, (size_t) n + 1);
}

static int source_stat(const Entry *e, struct stat *st, ObError *err)
{
        if (e->root)
                return sysroot_lstat(e->root, e->source_path, st, err);
        if (lstat(e->source, st) < 0)
                return ob_error_set(err, errno, "cannot stat '%s'", e->source);
        return 0;
}

void cache_hash_stat(Sha256 *h, const struct stat *st, const struct timespec *now, bool *racy)
{
        cache_hash_printf(h, "file %o %llu %llu %lld %lld %lld", (unsigned) st->st_mode,
                          (unsigned long long) st->st_dev, (unsigned long long) st->st_ino, (long long) st->st_size,
                          (long long) ns(&st->st_mtim), (long long) ns(&st->st_ctim));
        if (cache_stat_racy(st, now))
                *racy = true;
}

/* With identities, the key of layer_cache_key(); without, the shape
 * key of layer_cache_shape_key(), which stats nothing. */
static int plan_key(const Plan *p, int64_t source_date_epoch, const char *settings, bool identities, LayerKey *ret,
                    ObError *err)
{
        _cleanup_sha256_ Sha256 h = { 0 };
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        bool racy = false;

        sha256_init(&h);
        cache_hash_printf(&h, "oci-build %s layer cache%s, tar format %d, %s, epoch %lld", OB_VERSION,
                          identities ? "" : " shape", LAYER_TAR_FORMAT_VERSION, settings,
                          (long long) source_date_epoch);
        for (size_t i = 0; i < p->n; i++) {
                const Entry *e = &p->entries[i];
                /* As the layer writer clamps it. */
                int64_t mtime = e->mtime < source_date_epoch ? e->mtime : source_date_epoch;
                if (mtime < 0)
                        mtime = 0;
                cache_hash_printf(&h, "%s", e->path);
                cache_hash_printf(&h, "%d %o %u %u %lld %llu", (int) e->type, e->mode, e->uid, e->gid,
                                  (long long) mtime, (unsigned long long) e->size);
                cache_hash_printf(&h, "%s", e->target ? e->target : "");
                if (e->type != ENTRY_FILE)
                        continue;
                if (e->data) {
                        char d[DIGEST_STRING_MAX];
                        sha256_string(e->data, e->size, d);
                        cache_hash_printf(&h, "data %s", d);
                        continue;
                }
                if (!identities)
                        continue;
                struct stat st;
                int r = source_stat(e, &st, err);
                if (r < 0)
                        return r;
                cache_hash_printf(&h, "file %llu %llu %lld %lld %lld", (unsigned long long) st.st_dev,
                                  (unsigned long long) st.st_ino, (long long) st.st_size, (long long) ns(&st.st_mtim),
                                  (long long) ns(&st.st_ctim));
                if (cache_stat_racy(&st, &now))
                        racy = true;
        }
        char digest[DIGEST_STRING_MAX];
        sha256_final(&h, digest);
        memcpy(ret->hex, digest_hex(digest), 65);
        ret->racy = racy;
        return 0;
}

int layer_cache_key(const Plan *p, int64_t source_date_epoch, const char *settings, LayerKey *ret, ObError *err)
{
        return plan_key(p, source_date_epoch, settings, /* identities= */ true, ret, err);
}

void layer_cache_shape_key(const Plan *p, int64_t source_date_epoch, const char *settings, LayerKey *ret)
{
        ObError ignore;
        if (plan_key(p, source_date_epoch, settings, /* identities= */ false, ret, &ignore) < 0)
                abort(); /* nothing is looked at: it cannot fail */
}

static char *entry_path(const LayerCache *c, const LayerKey *k)
{
        return path_join(c->dir, k->hex);
}

static void tell_damaged(LayerCache *c, const char *path)
{
        if (c->told_damaged)
                return;
        c->told_damaged = true;
        ob_info("oci-build: ignoring the damaged %s entry '%s': its layer is written again", c->what, path);
}

static bool get_int(json_t *o, const char *key, long long *ret)
{
        json_t *v = json_object_get(o, key);
        if (!json_is_integer(v) || json_integer_value(v) < 0)
                return false;
        *ret = json_integer_value(v);
        return true;
}

static bool same_identity(json_t *blob, const struct stat *st)
{
        long long dev, ino, mtime, ctime;
        return json_is_object(blob) && get_int(blob, "dev", &dev) && get_int(blob, "ino", &ino) &&
               get_int(blob, "mtime", &mtime) && get_int(blob, "ctime", &ctime) &&
               (unsigned long long) dev == (unsigned long long) st->st_dev &&
               (unsigned long long) ino == (unsigned long long) st->st_ino && mtime == ns(&st->st_mtim) &&
               ctime == ns(&st->st_ctim);
}

static char *blob_path(const char *layout_dir, const char *digest)
{
        return xasprintf("%s/blobs/sha256/%s", layout_dir, digest_hex(digest));
}

bool layer_cache_lookup(LayerCache *c, Layout *l, const LayerKey *k, const char *media_type, OciLayerInfo *ret)
{
        return layer_cache_lookup_at(c, layout_path(l), k, media_type, ret);
}

void layer_cache_store(LayerCache *c, Layout *l, const LayerKey *k, const char *media_type, const OciLayerInfo *info)
{
        layer_cache_store_at(c, layout_path(l), k, media_type, info);
}

bool layer_cache_lookup_at(LayerCache *c, const char *layout_dir, const LayerKey *k, const char *media_type,
                           OciLayerInfo *ret)
{
        if (!layer_cache_usable(c))
                return false;
        int r;
        _cleanup_free_ char *path = entry_path(c, k);
        _cleanup_free_ char *text = NULL;
        ObError ignore;
        r = read_file_unnoted(path, &text, NULL, &ignore);
        if (r < 0)
                return false;
        json_t *j = json_loads(text, 0, NULL);
        _cleanup_(json_decrefp) json_t *doc = j;
        long long version, size, tar_size;
        json_t *digest = json_object_get(doc, "digest"), *diff_id = json_object_get(doc, "diff_id");
        json_t *mt = json_object_get(doc, "mediaType");
        if (!json_is_object(doc) || !get_int(doc, "version", &version) || version != ENTRY_VERSION ||
            !get_int(doc, "size", &size) || !get_int(doc, "tar_size", &tar_size) || !json_is_string(digest) ||
            !digest_is_valid(json_string_value(digest)) || !json_is_string(diff_id) ||
            !digest_is_valid(json_string_value(diff_id)) || !json_is_string(mt)) {
                tell_damaged(c, path);
                return false;
        }
        if (strcmp(json_string_value(mt), media_type) != 0)
                return false;

        const char *d = json_string_value(digest);
        _cleanup_free_ char *blob = blob_path(layout_dir, d);
        struct stat st;
        if (lstat(blob, &st) < 0 || !S_ISREG(st.st_mode) ||
            (unsigned long long) st.st_size != (unsigned long long) size)
                return false;
        OciLayerInfo info = { .size = (uint64_t) size, .tar_size = (uint64_t) tar_size };
        snprintf(info.digest, sizeof(info.digest), "%s", d);
        snprintf(info.diff_id, sizeof(info.diff_id), "%s", json_string_value(diff_id));
        if (!same_identity(json_object_get(doc, "blob"), &st)) {
                /* Another file than the one this entry saw (another layout, a
                 * blob written again, or changed in place): only its bytes
                 * can tell. */
                if (!sha256_file_matches(blob, d)) {
                        ob_debug("the %s entry %s names %s, which is not intact: writing the layer again", c->what,
                                 k->hex, blob);
                        return false;
                }
                layer_cache_store_at(c, layout_dir, k, media_type, &info);
        }
        ret->size = info.size;
        ret->tar_size = info.tar_size;
        memcpy(ret->digest, info.digest, sizeof(info.digest));
        memcpy(ret->diff_id, info.diff_id, sizeof(info.diff_id));
        return true;
}

void layer_cache_store_at(LayerCache *c, const char *layout_dir, const LayerKey *k, const char *media_type,
                          const OciLayerInfo *info)
{
        if (!layer_cache_usable(c) || k->racy || !prepare(c))
                return;
        _cleanup_free_ char *blob = blob_path(layout_dir, info->digest);
        struct stat st;
        if (lstat(blob, &st) < 0)
                return;
        _cleanup_(json_decrefp) json_t *doc = json_pack(
                "{s:i, s:s, s:s, s:s, s:I, s:I, s:{s:I, s:I, s:I, s:I}}", "version", ENTRY_VERSION, "mediaType",
                media_type, "digest", info->digest, "diff_id", info->diff_id, "size", (json_int_t) info->size,
                "tar_size", (json_int_t) info->tar_size, "blob", "dev", (json_int_t) st.st_dev, "ino",
                (json_int_t) st.st_ino, "mtime", (json_int_t) ns(&st.st_mtim), "ctime", (json_int_t) ns(&st.st_ctim));
        _cleanup_free_ char *text = json_dumps(doc, JSON_SORT_KEYS | JSON_COMPACT);
        _cleanup_free_ char *path = entry_path(c, k);
        ObError err;
        if (!text || write_file_atomic(path, text, strlen(text), 0600, &err) < 0)
                disable(c, text ? err.msg : "out of memory");
}

#define MARK_TEXT "{\"mark\":true,\"version\":1}"

void layer_cache_mark(LayerCache *c, const LayerKey *k)
{
        if (!layer_cache_usable(c) || k->racy || !prepare(c))
                return;
        _cleanup_free_ char *path = entry_path(c, k);
        ObError err;
        if (write_file_atomic(path, MARK_TEXT, strlen(MARK_TEXT), 0600, &err) < 0)
                disable(c, err.msg);
}

bool layer_cache_marked(LayerCache *c, const LayerKey *k)
{
        if (!layer_cache_usable(c))
                return false;
        _cleanup_free_ char *path = entry_path(c, k);
        _cleanup_free_ char *text = NULL;
        ObError ignore;
        if (read_file_unnoted(path, &text, NULL, &ignore) < 0)
                return false;
        if (strcmp(text, MARK_TEXT) != 0) {
                tell_damaged(c, path);
                return false;
        }
        return true;
}
