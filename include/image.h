/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include "error.h"
#include "layout.h"
#include "oci.h"
#include "platform.h"
#include "spec.h"

/* The Debian package a tool image is made of, and its full version
 * ("1:2.39.5-0+deb12u3"), on the manifest and its index descriptor: the
 * image's org.opencontainers.image.version (and so its tag) has the form a
 * tag can hold ("2.39.5-0_deb12u3", see dpkg_version_tag()). */
#define IMAGE_ANNOTATION_DEBIAN_PACKAGE "org.debian.package"
#define IMAGE_ANNOTATION_DEBIAN_VERSION "org.debian.version"

/* Everything an image is made of once its layers are written. */
typedef struct ImageBuild {
        const char *name;
        const char *version;        /* tag-safe: `save` tags the image with it */
        const char *debian_package; /* NULL unless the version is the package's */
        const char *debian_version;
        const char *description;
        const SpecImageConfig *config;
        const OciLayerInfo *layers;
        size_t n_layers;
        int64_t created;          /* SOURCE_DATE_EPOCH */
        const Platform *platform; /* what its files are for */
} ImageBuild;

typedef struct ImageResult {
        char manifest_digest[72];
        uint64_t manifest_size;
        char config_digest[72];
        uint64_t total_size; /* manifest + config + layers, compressed */
} ImageResult;

/* Writes the config and manifest blobs and names the image in the index
 * (in memory: layout_commit() writes it). */
int image_write(Layout *l, const ImageBuild *b, ImageResult *ret, ObError *err);

/* The image config of a tier on top of another (a tool's on the base's, an
 * app's on its tools'): user (root, "0:0", when neither names one), workdir,
 * entrypoint, cmd, ports and volumes from over where it gives them, else from
 * base; env and labels merged by key, over's value winning. As in a
 * Dockerfile, an entrypoint in over drops base's cmd. ret is filled with
 * copies (spec_image_config_clear()). */
void image_config_merge(const SpecImageConfig *base, const SpecImageConfig *over, SpecImageConfig *ret);

/* The tag that `save` and compose files use: "distroless-NAME:VERSION". */
char *image_default_tag(const char *name, const char *version);
