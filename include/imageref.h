/* SPDX-License-Identifier: MIT */
#pragma once

#include "error.h"

/* A Docker image reference, "[HOST[:PORT]/]PATH:TAG", checked against the
 * grammar of the distribution project's reference package and spelled the
 * two ways consumers want. */
typedef struct ImageRef {
        char *familiar; /* "distroless-base:0.1.0", as Docker prints it */
        char *full;     /* "docker.io/library/distroless-base:0.1.0" */
        char *tag;      /* "0.1.0" */
} ImageRef;

/* A tag is required and a digest is refused, since Docker can only load
 * tags. ret is filled only on success. */
int image_ref_parse(const char *ref, ImageRef *ret, ObError *err);
/* Frees the strings and zeroes r; accepts NULL, and suits _cleanup_(). */
void image_ref_clear(ImageRef *r);
