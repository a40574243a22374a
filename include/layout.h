/* SPDX-License-Identifier: MIT */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "error.h"
#include "util.h"

/* An OCI image layout directory: oci-layout, index.json, blobs/sha256/.
 *
 * A Layout holds an exclusive lock on the directory from open to close, so
 * two builds (or a build and a clean) never interleave. Blobs are written
 * under a temporary name and renamed into place once complete; index.json
 * is replaced atomically. A failed command calls layout_rollback(), which
 * removes the blobs it added (and the directory, if it created it), so the
 * layout is left as it was. */

typedef struct Layout Layout;

typedef enum LayoutOpenFlags {
        LAYOUT_CREATE = 1 << 0, /* create the directory or initialise an empty one */
        LAYOUT_WRITE = 1 << 1,  /* change an existing layout (implied by LAYOUT_CREATE);
                                    * without it the lock is shared with other readers */
} LayoutOpenFlags;

int layout_open(const char *dir, LayoutOpenFlags flags, Layout **ret, ObError *err);
/* What a build checks before writing into an existing layout (a valid
 * oci-layout, an index with schemaVersion 2 and well-formed descriptors,
 * blobs/sha256, a writable directory), without locking or changing
 * anything; the index as read. */
int layout_check(const char *dir, json_t **ret_index, ObError *err);
/* Releases the lock and frees; does not roll back. */
void layout_close(Layout *l);
DEFINE_CLEANUP_FUNC(Layout *, layout_close);
/* Removes every blob this Layout created, and the directory itself when
 * this Layout created it. The index on disk is not touched. */
void layout_rollback(Layout *l);

const char *layout_path(const Layout *l);

/* Streaming blob writer. */
typedef struct BlobWriter BlobWriter;
int layout_blob_begin(Layout *l, BlobWriter **ret, ObError *err);
int blob_writer_write(BlobWriter *w, const void *data, size_t size, ObError *err);
/* Completes the blob: fsync, rename to blobs/sha256/<hex>. Consumes w,
 * whether it succeeds or not. */
int layout_blob_commit(Layout *l, BlobWriter *w, char ret_digest[static DIGEST_STRING_MAX], uint64_t *ret_size,
                       ObError *err);
/* Abandons the blob and removes its temporary file; accepts NULL. */
void blob_writer_abort(BlobWriter *w);
/* A writer variable is abandoned when it goes out of scope; hand it to
 * layout_blob_commit() with TAKE_PTR(). */
DEFINE_CLEANUP_FUNC(BlobWriter *, blob_writer_abort);
/* The same as blob_writer_abort(); l is not needed. */
void layout_blob_abort(Layout *l, BlobWriter *w);

int layout_put_blob(Layout *l, const void *data, size_t size, char ret_digest[static DIGEST_STRING_MAX], ObError *err);
/* Reads a blob and verifies its digest. */
int layout_read_blob(Layout *l, const char *digest, char **ret_data, size_t *ret_size, ObError *err);
bool layout_has_blob(Layout *l, const char *digest);
char *layout_blob_path(const Layout *l, const char *digest);

/* index.json, as loaded at open and changed in memory until commit. The
 * images are named by the org.opencontainers.image.ref.name annotation. */
json_t *layout_index(Layout *l); /* borrowed */
/* The manifest descriptor of the image named name, or NULL. Borrowed. */
json_t *layout_index_find(Layout *l, const char *name);
/* Replaces (or adds) the entry of that name; steals desc. */
int layout_index_set(Layout *l, const char *name, json_t *desc, ObError *err);
int layout_index_remove(Layout *l, const char *name, ObError *err);
/* Names in the index, sorted; free with strv_free. */
char **layout_index_names(Layout *l);
/* Writes index.json atomically. */
int layout_commit(Layout *l, ObError *err);

/* Deletes every blob no image in the index references, and leftover
 * temporary files. Returns the count and bytes removed. */
/* What layout_gc() reads first: fails, changing nothing, when an image of
 * the index (as it is in memory) references a blob that cannot be read. */
int layout_gc_check(Layout *l, ObError *err);
int layout_gc(Layout *l, size_t *ret_count, uint64_t *ret_bytes, ObError *err);
