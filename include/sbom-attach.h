/* SPDX-License-Identifier: MIT */
#pragma once

#include <jansson.h>
#include <stdint.h>

#include "error.h"
#include "layer-facts.h"
#include "layout.h"
#include "spec.h"

/* The SBOM of each image, stored in the layout beside it as an OCI 1.1
 * artifact: a manifest of artifactType application/spdx+json whose config
 * is the empty descriptor ({}), whose one layer is the SPDX document and
 * whose subject is the image manifest.
 *
 * index.json gets no entry of its own for it: Docker-style consumers and
 * validators take every entry of index.json for an image. The image's own
 * descriptor names it instead, with the annotation below (the digest of the
 * artifact manifest); layout_gc() follows that annotation, so the SBOM lives
 * as long as the image and goes with it. In an image index, the annotation
 * is on each platform's manifest descriptor. */
#define SBOM_ANNOTATION "org.oci-build.sbom"
#define SBOM_MEDIA_TYPE "application/spdx+json"
#define OCI_MT_EMPTY "application/vnd.oci.empty.v1+json"

/* The artifact manifest (pure: for the tests). title names the layer
 * ("curl.spdx.json"). */
json_t *sbom_artifact_manifest(const char *subject_digest, uint64_t subject_size, const char *empty_digest,
                               const char *sbom_digest, uint64_t sbom_size, const char *title, int64_t created);

/* Writes the SBOM of the image spec->name of the layout's index (a plain
 * manifest, as build_write() leaves it), with the app's downloads for arch,
 * and annotates its descriptor. The index is changed in memory:
 * layout_commit() writes it. facts: the layer facts cache, or NULL
 * (sbom_image()). */
int sbom_attach(Layout *l, const Spec *spec, const char *arch, int64_t created, LayerFactsCache *facts, ObError *err);

/* sbom_attach() for each of specs, the documents made on up to threads
 * threads (this one included): they are the same whatever the number, and
 * only this thread touches the layout. On a failure, the first image's
 * (in the order of specs) is the error; images before it may have their
 * SBOM stored by then, and the index is not committed. */
int sbom_attach_all(Layout *l, const Spec *const *specs, size_t n, const char *arch, int64_t created,
                    LayerFactsCache *facts, unsigned threads, ObError *err);

/* The attached SBOM of the image name (in an image index: the native
 * platform's, else the first's). -ENOENT, with no message, when the image
 * has none (or is not there). */
int sbom_attached(Layout *l, const char *name, char **ret_text, size_t *ret_size, ObError *err);
