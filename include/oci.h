/* SPDX-License-Identifier: MIT */
#pragma once

#include <jansson.h>
#include <stdint.h>

#include "spec.h"

/* JSON documents of the OCI image spec. Every document is written with
 * sorted keys and no whitespace, so the same input gives the same bytes. */

#define OCI_MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_MT_INDEX "application/vnd.oci.image.index.v1+json"
#define OCI_MT_CONFIG "application/vnd.oci.image.config.v1+json"
#define OCI_MT_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define OCI_MT_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"

#define OCI_REF_NAME "org.opencontainers.image.ref.name"
#define CONTAINERD_IMAGE_NAME "io.containerd.image.name"

/* Text of a JSON document; never NULL. */
char *oci_json_dump(json_t *j);

json_t *oci_index_new(void);
json_t *oci_descriptor(const char *media_type, const char *digest, uint64_t size);

/* RFC 3339 UTC time of epoch seconds: "1970-01-01T00:00:00Z". */
char *oci_time(int64_t epoch);

typedef struct OciLayerInfo {
        char digest[72];
        char diff_id[72];
        uint64_t size;          /* compressed blob */
        uint64_t tar_size;      /* uncompressed tar */
        const char *media_type; /* static; NULL for OCI_MT_LAYER_GZIP */
        const char *created_by; /* history */
        const char *comment;
} OciLayerInfo;

/* The image config (application/vnd.oci.image.config.v1+json) of an image
 * for arch ("amd64", "arm64") and variant ("v8", or NULL or ""). */
json_t *oci_image_config(const SpecImageConfig *c, const char *arch, const char *variant, const OciLayerInfo *layers,
                         size_t n_layers, int64_t created);

/* The image manifest; annotations is stolen (may be NULL). */
json_t *oci_manifest(const char *config_digest, uint64_t config_size, const OciLayerInfo *layers, size_t n_layers,
                     json_t *annotations);
