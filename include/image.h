/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include "error.h"
#include "layout.h"
#include "oci.h"
#include "spec.h"

/* Everything an image is made of once its layers are written. */
typedef struct ImageBuild {
        const char *name;
        const char *version;
        const char *description;
        const SpecImageConfig *config;
        const OciLayerInfo *layers;
        size_t n_layers;
        int64_t created;          /* SOURCE_DATE_EPOCH */
} ImageBuild;

typedef struct ImageResult {
        char manifest_digest[72];
        uint64_t manifest_size;
        char config_digest[72];
        uint64_t total_size;      /* manifest + config + layers, compressed */
} ImageResult;

/* Writes the config and manifest blobs and names the image in the index
 * (in memory: layout_commit() writes it). */
int image_write(Layout *l, const ImageBuild *b, ImageResult *ret, ObError *err);

/* The tag that `save` and compose files use: "distroless-NAME:VERSION". */
char *image_default_tag(const char *name, const char *version);
