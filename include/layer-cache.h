/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "digest.h"
#include "error.h"
#include "fs.h"
#include "layout.h"
#include "oci.h"
#include "plan.h"
#include "util.h"

/* A cache of written layers, so that a layer whose inputs have not changed
 * is not compressed again. An entry maps a key - the sha256 of everything
 * that decides the layer's bytes - to the layer's descriptor. It is a hint,
 * never trusted: a hit needs the blob in the layout, and a blob that is not
 * the file the entry last saw (same device, inode, size, mtime and ctime)
 * is hashed before it is used.
 *
 * The key covers every entry of the plan (path, type, mode, owner, link
 * target, clamped mtime, size), the identity of each source file (device,
 * inode, size, mtime and ctime in nanoseconds, as git's index keeps them: a
 * file rewritten in place changes its ctime), the bytes of generated files,
 * the compression settings, and the versions of the tar format and of the
 * compressor. Entries live in private files (0600 in a 0700 directory),
 * each written under a temporary name and renamed, so concurrent builds
 * never see half an entry. */

/* Bumped when the tar stream written for a plan changes. */
#define LAYER_TAR_FORMAT_VERSION 1

typedef struct LayerCache LayerCache;

/* The cache under dir (created 0700 when the first entry is stored). It
 * never fails: a directory that cannot be used gives a cache that finds
 * nothing and stores nothing, which it says once on stderr. */
LayerCache *layer_cache_open(const char *dir);
/* The same storage for other keys (step-cache.h); what names it in
 * messages ("step cache"). */
LayerCache *layer_cache_open_kind(const char *dir, const char *what);
/* $OCI_BUILD_CACHE/layers, else $XDG_CACHE_HOME/oci-build/layers, else
 * ~/.cache/oci-build/layers. */
LayerCache *layer_cache_open_default(void);
void layer_cache_free(LayerCache *c);
DEFINE_CLEANUP_FUNC(LayerCache *, layer_cache_free);
/* False once the cache was found unusable (or for NULL). */
bool layer_cache_usable(const LayerCache *c);

typedef struct LayerKey {
        char hex[65];
        /* A source changed within the last seconds: its timestamps may not
         * tell a later change in the same clock tick, so the layer is
         * written but not remembered. */
        bool racy;
} LayerKey;

/* The key of a plan compressed with settings (a string naming the
 * compressor and its level). Stats every source file. */
int layer_cache_key(const Plan *p, int64_t source_date_epoch, const char *settings, LayerKey *ret, ObError *err);

/* A layer whose sources changed only in their identity (a file touched,
 * or checked out again with the same bytes) has the same tar, hence the
 * same blob. The shape key of a plan is its key without the identities of
 * its source files (nothing is looked at); its entry is the last layer
 * written of that shape, whose diff_id the writer compares with the hash
 * of the plan's tar before it compresses anything. */
void layer_cache_shape_key(const Plan *p, int64_t source_date_epoch, const char *settings, LayerKey *ret);

/* Fills digest, diff_id, size and tar_size of ret and returns true when
 * the cache has the key and the layout holds its blob, intact. */
bool layer_cache_lookup(LayerCache *c, Layout *l, const LayerKey *k, const char *media_type, OciLayerInfo *ret);

/* The same, for the layout in layout_dir (not opened yet). */
bool layer_cache_lookup_at(LayerCache *c, const char *layout_dir, const LayerKey *k, const char *media_type,
                           OciLayerInfo *ret);
void layer_cache_store_at(LayerCache *c, const char *layout_dir, const LayerKey *k, const char *media_type,
                          const OciLayerInfo *info);

/* Key helpers shared with the step cache. A field hashed with its NUL,
 * so that it never runs into the next. */
void cache_hash_printf(Sha256 *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The identity of a file (type and mode, device, inode, size, mtime and
 * ctime in ns); sets *racy when it changed too recently for its
 * timestamps to tell a further change. */
void cache_hash_stat(Sha256 *h, const struct stat *st, const struct timespec *now, bool *racy);

/* Remembers a layer written into l. Failures are told once and otherwise
 * ignored: the cache is an optimisation. */
void layer_cache_store(LayerCache *c, Layout *l, const LayerKey *k, const char *media_type, const OciLayerInfo *info);

/* A key remembered without a layer (step-cache.h: a build step that ran
 * and what it left). A racy key is not remembered. */
void layer_cache_mark(LayerCache *c, const LayerKey *k);
bool layer_cache_marked(LayerCache *c, const LayerKey *k);
