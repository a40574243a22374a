/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include "error.h"
#include "layout.h"
#include "oci.h"
#include "plan.h"

typedef struct LayerOptions {
        int64_t source_date_epoch;   /* mtimes are clamped to this */
        int level;                   /* gzip effort, 0-12 */
        unsigned threads;            /* compression threads */
        size_t chunk;                /* bytes of tar per gzip member; 0 for the default */
} LayerOptions;

/* Writes the plan as one layer blob in a single streaming pass:
 * entries -> tar (libarchive) -> sha256 (diff_id) -> gzip -> sha256 (digest)
 * -> blob under a temporary name -> renamed into blobs/sha256/. Fills
 * digest, diff_id, size and tar_size of ret. */
int layer_write(Layout *l, const Plan *p, const LayerOptions *o, OciLayerInfo *ret, ObError *err);

/* The same tar stream, uncompressed, to a file descriptor (for tests and
 * for comparing with other tar writers). */
int layer_write_tar(int fd, const Plan *p, const LayerOptions *o, char ret_diff_id[static 72], ObError *err);
