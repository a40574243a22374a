/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "layout.h"
#include "platform.h"
#include "passwd.h"

/* An image of the layout unpacked into a directory on the host, for
 * `oci-build test` to run commands in (see sandbox.h). */

/* What the image config says about running it, and what the image's
 * /etc/passwd and /etc/group make of its user. */
typedef struct UnpackedImage {
        char *name;
        char *version;        /* the manifest's org.opencontainers.image.version, or NULL */
        char *user;           /* User as written in the config ("" when unset: root) */
        ImageAccount account; /* whom that is, in the unpacked tree */
        char **env;           /* Env, "KEY=VALUE" */
        char *workdir;        /* WorkingDir, "/" when unset */
        size_t n_layers;
        uint64_t tar_size; /* bytes of uncompressed tar unpacked */
} UnpackedImage;

void unpacked_image_clear(UnpackedImage *img);

/* Unpacks the image name of the layout into dir (an existing, empty
 * directory), layer after layer, honouring whiteouts. Every blob is hashed
 * while it streams through and checked against its digest, size and diff_id
 * at the end; entries that would land outside dir are refused. Changes the
 * working directory of the process while it runs (not thread-safe). Stops
 * with -EINTR once sandbox_catch_signals() has caught a signal. */
int unpack_image(Layout *l, const char *name, const char *dir, UnpackedImage *ret, ObError *err);
/* The same for the manifest of platform in an image index (NULL: the
 * native platform's, else the first). */
int unpack_image_for(Layout *l, const char *name, const Platform *platform, const char *dir, UnpackedImage *ret,
                     ObError *err);
