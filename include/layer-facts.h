/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "util.h"

/* What the SBOM needs of one layer, which its digest decides: every entry
 * of its tar in order (path, kind, hard link target), the SHA1 and SHA256
 * of each regular file, and the text of the few files whose content the
 * SBOM reads (status.d records and md5sums, copyright files, os-release).
 *
 * Facts are made in two ways that give the same result: by the layer
 * writer as it streams each file into the tar (layer.c), and by reading a
 * layer blob back (layer_facts_read_blob()). They are kept in a cache of
 * files named by the layer's digest, $OCI_BUILD_CACHE/layer-files/<hex>,
 * so that the SBOM of an image is made without decompressing its layers.
 * The cache is never trusted blindly: a file that does not parse, is
 * truncated, fails its checksum, has another format version or names
 * another digest is ignored (and rewritten). */

/* Bumped when the facts kept of a layer change (what is hashed, which
 * files' content is kept, how paths are normalised). */
#define LAYER_FACTS_VERSION 1

typedef enum LayerFactKind {
        FACT_FILE = 'F',     /* a regular file: sha1, sha256 and maybe content */
        FACT_LINK = 'H',     /* a hard link to target */
        FACT_WHITEOUT = 'W', /* .wh.NAME: path (and what is below it) removed */
        FACT_OPAQUE = 'O',   /* .wh..wh..opq: what is below path removed */
        FACT_DIR = 'D',      /* a directory */
        FACT_OTHER = 'N',    /* a symlink, device or fifo */
} LayerFactKind;

typedef struct LayerFact {
        char kind;    /* LayerFactKind */
        char *path;   /* normalised: no leading "./" or "/", no trailing "/" */
        char *target; /* FACT_LINK: normalised the same way */
        char sha1[41], sha256[65];
        char *content; /* FACT_FILE whose content is kept: NUL-terminated */
        size_t content_size;
} LayerFact;

typedef struct LayerFacts {
        LayerFact *v;
        size_t n;
} LayerFacts;

void layer_facts_clear(LayerFacts *f);

/* Whether the content of a file at path (normalised) is kept. */
bool layer_facts_keeps(const char *path);

/* Adds the entry named name (as in the tar), a hard link when hardlink is
 * not NULL, a regular file when is_file, a directory when is_dir. Returns
 * the new fact when it is a regular file whose data must be fed to a
 * LayerFactsHasher, else NULL (nothing added for a name that normalises to
 * nothing). */
LayerFact *layer_facts_add(LayerFacts *f, const char *name, const char *hardlink, bool is_file, bool is_dir);

/* Hashes a regular file's data as it streams by, keeping its content when
 * layer_facts_keeps() says so. One hasher serves many files in turn. */
typedef struct LayerFactsHasher LayerFactsHasher;
LayerFactsHasher *layer_facts_hasher_new(void);
void layer_facts_hasher_free(LayerFactsHasher *h);
DEFINE_CLEANUP_FUNC(LayerFactsHasher *, layer_facts_hasher_free);
void layer_facts_hasher_start(LayerFactsHasher *h, LayerFact *fact);
void layer_facts_hasher_update(LayerFactsHasher *h, const void *data, size_t size);
/* Fills the fact's sums (and content). */
void layer_facts_hasher_finish(LayerFactsHasher *h);

/* The facts of a layer blob (gzip, zstd or plain tar), read back. */
int layer_facts_read_blob(const char *blob, LayerFacts *ret, ObError *err);

/* The file format: a version line naming the digest, the records, and an
 * end line with their count and the sha256 of everything before it. */
char *layer_facts_format(const LayerFacts *f, const char *digest, size_t *ret_size);
/* EBADMSG for anything but a whole, intact file of this version for
 * digest; what names the file in the message. */
int layer_facts_parse(const char *what, const char *data, size_t size, const char *digest, LayerFacts *ret,
                      ObError *err);

/* The cache: a directory of facts files (created 0700 when the first one
 * is stored). It never fails: a directory that cannot be written gives a
 * cache that stores nothing, which is said once. */
typedef struct LayerFactsCache LayerFactsCache;
LayerFactsCache *layer_facts_cache_open(const char *dir);
/* $OCI_BUILD_CACHE/layer-files (else under $XDG_CACHE_HOME or ~/.cache). */
LayerFactsCache *layer_facts_cache_open_default(void);
void layer_facts_cache_free(LayerFactsCache *c);
DEFINE_CLEANUP_FUNC(LayerFactsCache *, layer_facts_cache_free);
/* False once the cache was found unusable (or for NULL): then the writer
 * need not hash. */
bool layer_facts_cache_usable(const LayerFactsCache *c);
/* True and *ret filled when the cache holds valid facts of digest. A file
 * that is not valid is removed (to be rewritten). */
bool layer_facts_cache_load(LayerFactsCache *c, const char *digest, LayerFacts *ret);
/* Writes the facts of digest (temporary file and rename). */
void layer_facts_cache_store(LayerFactsCache *c, const char *digest, const LayerFacts *f);
/* The path of the facts file of digest (for tests). */
char *layer_facts_cache_path(const LayerFactsCache *c, const char *digest);
