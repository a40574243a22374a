/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include "error.h"
#include "layout.h"
#include "oci.h"
#include "plan.h"

/* The default effort: the near-optimal parser (level 10) where it is cheap,
 * on layers with up to LAYER_AUTO_SMALL bytes of file content, and the
 * fast one (level 6) above. The choice depends only on the input, so
 * output stays reproducible. */
#define LAYER_LEVEL_AUTO (-1)
#define LAYER_AUTO_SMALL (8u << 20)
#define LAYER_AUTO_SMALL_LEVEL 10
#define LAYER_AUTO_LARGE_LEVEL 6

typedef enum LayerCompression {
        LAYER_GZIP, /* application/vnd.oci.image.layer.v1.tar+gzip: every runtime reads it */
        LAYER_ZSTD, /* application/vnd.oci.image.layer.v1.tar+zstd: smaller and faster; not Docker 20.10 */
} LayerCompression;

typedef struct LayerOptions {
        int64_t source_date_epoch; /* mtimes are clamped to this */
        LayerCompression compression;
        int level;                /* gzip effort 0-12 or zstd level 1-19, or LAYER_LEVEL_AUTO */
        unsigned threads;         /* compression threads */
        size_t chunk;             /* bytes of tar per gzip member; 0 for the default */
        struct LayerCache *cache; /* layers written before; NULL: always write */
        /* Where the writer leaves the facts of each layer it writes (the
         * files and their sums, layer-facts.h), for the SBOM; NULL: none. */
        struct LayerFactsCache *facts;
} LayerOptions;

/* Writes the plan as one layer blob in a single streaming pass:
 * entries -> tar (libarchive) -> sha256 (diff_id) -> gzip -> sha256 (digest)
 * -> blob under a temporary name -> renamed into blobs/sha256/. Fills
 * digest, diff_id, size and tar_size of ret. With o->cache, a layer whose
 * inputs are unchanged and whose blob is in the layout is not written again
 * (layer-cache.h); nor is one of a plan of the same shape as one written
 * before whose sources were only touched: its tar, hashed without being
 * compressed, names a blob the layout holds. With o->facts, each file written is hashed (SHA1,
 * SHA256) from the bytes that go into the tar, and the layer's facts are
 * stored under its digest. */
int layer_write(Layout *l, const Plan *p, const LayerOptions *o, OciLayerInfo *ret, ObError *err);

/* The level used for this plan. */
int layer_level(const Plan *p, const LayerOptions *o);
/* The OCI media type of layers written with o. */
const char *layer_media_type(const LayerOptions *o);

/* Parses "gzip", "zstd", "gzip:LEVEL" or "zstd:LEVEL" (the value of
 * --compression); level is LAYER_LEVEL_AUTO when none is given. EINVAL
 * with a message listing the choices otherwise. */
int layer_compression_parse(const char *s, LayerCompression *ret_compression, int *ret_level, ObError *err);
/* Checks a level (from --level) against the compression's range. */
int layer_level_check(LayerCompression compression, int level, ObError *err);

/* The same tar stream, uncompressed, to a file descriptor (for tests and
 * for comparing with other tar writers). */
int layer_write_tar(int fd, const Plan *p, const LayerOptions *o, char ret_diff_id[static DIGEST_STRING_MAX],
                    ObError *err);
