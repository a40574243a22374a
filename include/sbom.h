/* SPDX-License-Identifier: MIT */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "json-text.h"
#include "layer-facts.h"
#include "layout.h"

/* The SPDX 2.3 document of an image of the layout, read from the image
 * itself: every regular file of its layers (as the layers stack up) with its
 * SHA1 and SHA256, every layer, every Debian package that the image's
 * /var/lib/dpkg/status.d/ records, each file related to the layer that
 * carries it and to the package whose md5sums list it. Files no package
 * owns are listed all the same, so the count of files equals the count of
 * regular files of the image.
 *
 * Deterministic: 'created' is SOURCE_DATE_EPOCH, the document namespace is
 * made of the manifest digest, and everything is sorted. */

/* The purl of a Debian package ("pkg:deb/debian/curl@7.88.1-10%2Bdeb12u15?arch=amd64&distro=debian-12");
 * distro is "debian-12", or NULL to leave it out. */
char *sbom_deb_purl(const char *vendor, const char *name, const char *version, const char *arch, const char *distro);

/* The licence of a machine-readable Debian copyright file as an SPDX
 * expression ("GPL-2.0-or-later AND MIT"), or NULL when the file is not
 * machine-readable or names a licence without an SPDX identifier. */
char *sbom_copyright_license(const char *text);

/* A file of the image that was downloaded (an app artifact pinned by
 * sha256): the SBOM lists it as a package
 * "pkg:generic/NAME@VERSION?download_url=URL" with the file's SHA256 (the
 * pin it was verified against), which CONTAINS the file. */
typedef struct SbomDownload {
        const char *path; /* in the image: "/app/pocket-id" */
        const char *name; /* the file name of path */
        const char *version;
        const char *url; /* as fetched: {arch} and {version} replaced */
} SbomDownload;

char *sbom_generic_purl(const char *name, const char *version, const char *url);

/* With facts (layer-facts.h), each layer's files are taken from that
 * cache when it holds them, and a layer read back is remembered there:
 * the document is the same either way. NULL: every layer is read back. */
int sbom_image(Layout *l, const char *name, const SbomDownload *downloads, size_t n_downloads, int64_t created,
               LayerFactsCache *facts, json_t **ret, ObError *err);

/* The same for the image whose manifest is mdigest, without a look at the
 * layout's index: it reads blobs and the facts cache only, so that the
 * documents of different images can be made on different threads. */
int sbom_image_of(Layout *l, const char *name, const char *mdigest, const SbomDownload *downloads, size_t n_downloads,
                  int64_t created, LayerFactsCache *facts, json_t **ret, ObError *err);

/* The text of sbom_image_of()'s document, as sbom_text() writes it, made
 * without the tree: handed to sink in pieces, or with sink NULL returned
 * whole in *ret_text (NUL-terminated, *ret_size bytes). */
int sbom_image_text(Layout *l, const char *name, const char *mdigest, const SbomDownload *downloads, size_t n_downloads,
                    int64_t created, LayerFactsCache *facts, JsonTextSink sink, void *userdata, char **ret_text,
                    size_t *ret_size, ObError *err);
/* That text stored as a blob of l, written as it is made. */
int sbom_image_put_blob(Layout *l, const char *name, const char *mdigest, const SbomDownload *downloads,
                        size_t n_downloads, int64_t created, LayerFactsCache *facts,
                        char ret_digest[static DIGEST_STRING_MAX], uint64_t *ret_size, ObError *err);

/* The bytes of a document as `oci-build sbom` writes them and as the
 * layout stores them: sorted keys, an indent of one, a final newline. */
char *sbom_text(json_t *doc);
/* Stores sbom_text()'s bytes as a blob of l, written as they are made:
 * the text of a large image's document is megabytes, never held whole. */
int sbom_put_blob(Layout *l, json_t *doc, char ret_digest[static DIGEST_STRING_MAX], uint64_t *ret_size, ObError *err);

/* Whether the document text (as sbom_text() wrote it) names this program's
 * version among its creators. Only the document's creationInfo is parsed,
 * not its files and packages: a text of another layout says false. */
bool sbom_text_made_here(const char *text, size_t size);
