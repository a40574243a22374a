/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/* "sha256:" + 64 hex digits + NUL */
#define DIGEST_STRING_MAX 72

typedef struct Sha256 {
        void *ctx; /* EVP_MD_CTX; NULL before init and after final */
} Sha256;

void sha256_init(Sha256 *h);
void sha256_update(Sha256 *h, const void *data, size_t size);
/* Writes "sha256:<hex>" and releases the context. */
void sha256_final(Sha256 *h, char out[static DIGEST_STRING_MAX]);
/* Releases the context; accepts a zeroed or finalised Sha256. */
void sha256_free(Sha256 *h);
/* For a Sha256 variable initialised to {}: released unless finalised. */
#define _cleanup_sha256_ _cleanup_(sha256_free)

void sha256_string(const void *data, size_t size, char out[static DIGEST_STRING_MAX]);

/* Whether the file at path (not followed if it is a symlink) hashes to
 * digest ("sha256:..."); false when it cannot be read. */
bool sha256_file_matches(const char *path, const char *digest);

/* True for "sha256:" followed by exactly 64 lowercase hex digits. */
bool digest_is_valid(const char *digest);
/* The hex part of a valid digest. */
const char *digest_hex(const char *digest);
