/* SPDX-License-Identifier: MIT */
#pragma once

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "imageref.h"
#include "util.h"
#include "layout.h"
#include "platform.h"

/* `save`: images of a layout as one tar archive that is at the same time an
 * OCI image layout (oci-layout, index.json, blobs/sha256/) and a Docker
 * archive (manifest.json next to it, pointing into blobs/). That is the
 * form Docker 25+ and BuildKit's docker exporter write: the classic Docker
 * image store reads manifest.json, containerd reads index.json, podman and
 * skopeo read either part.
 *
 * index.json has one entry per tag (the same manifest once for each), with
 * io.containerd.image.name = "docker.io/library/distroless-base:0.1.0" and
 * org.opencontainers.image.ref.name = "distroless-base:0.1.0"; manifest.json
 * has one entry per image with every tag, fully qualified. */

typedef struct SaveImage {
        char *name;     /* the image's name in the layout */
        char *manifest; /* digest */
        char *config;   /* digest */
        char **layers;  /* digests, in manifest order */
        ImageRef *refs; /* its tags: --tag values, else the defaults */
        size_t n_refs;
        json_t *descriptor; /* its manifest descriptor, without annotations */
        /* An image index in the layout gives one SaveImage per platform,
         * each tagged VERSION-ARCH; the primary one (the native platform,
         * or the one asked for) also gets the plain tags, which index.json
         * of the archive points at the image index itself. */
        bool multi;
        Platform platform;
        bool primary;
        json_t *index_descriptor; /* the primary's: the image index, without annotations */
        size_t n_plain_refs;      /* refs[0..n_plain_refs) name the whole index */
} SaveImage;

typedef struct SaveBlob {
        char *digest;
        uint64_t size;
} SaveBlob;

/* What goes into the archive, resolved and checked before any byte is
 * written, so that bad input never leaves a partial file. */
typedef struct SavePlan {
        Layout *layout;    /* borrowed */
        SaveImage *images; /* sorted by name, each once */
        size_t n_images;
        SaveBlob *blobs; /* sorted by digest, each once */
        size_t n_blobs;
        uint64_t blob_bytes;
} SavePlan;

/* names: the images to save. tags: "NAME=REPO:TAG" values (NULL-terminated,
 * may be NULL); an image named in tags gets exactly those tags, any other
 * distroless-NAME:VERSION and distroless-NAME:latest. */
int save_plan(Layout *l, char *const *names, char *const *tags, SavePlan **ret, ObError *err);
/* The same, with the plain tags of a multi-platform image on platform
 * (NULL: the native one). */
int save_plan_for(Layout *l, char *const *names, char *const *tags, const Platform *platform, SavePlan **ret,
                  ObError *err);
void save_plan_free(SavePlan *p);
DEFINE_CLEANUP_FUNC(SavePlan *, save_plan_free);

/* Streams the archive to fd; blobs are copied in bounded memory and checked
 * against their digests on the way. mtime stamps every entry. A failed
 * write leaves just strerror() in err: the caller wraps it with the name
 * of what fd is. */
int save_plan_write(const SavePlan *p, int64_t mtime, int fd, uint64_t *ret_bytes, ObError *err);

/* save_plan() and save_plan_write() in one. */
int save_write(Layout *l, char *const *names, char *const *tags, int64_t mtime, int fd, ObError *err);
