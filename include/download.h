/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

#include "error.h"

/* Downloads named by a config: fetched with the host's curl into a cache
 * shared by every config, hashed, and checked against a pin in the config
 * or in the lock file beside it; with no pin at all, the digest is recorded
 * in the lock file. Only verified files enter the cache (under their
 * digest), so a half-written download is never used. */

/* One download and what its messages need to name. */
typedef struct DownloadRequest {
        const char *url;      /* may hold {arch} and {version} */
        const char *version;  /* replaces {version} */
        const char *arch;     /* picks the pin, and replaces {arch} unless url_arch is set */
        const char *url_arch; /* what {arch} becomes where a release names it otherwise (x64), or NULL */
        char *const *sha256;  /* pins in the config, "ARCH=HEX" or "*=HEX"; NULL when it has none */
        const char *lock;     /* the lock file, for pins the config does not have */
        const char *owner;    /* what the download is for: progress lines start with it */
        const char *file;     /* where the config names the download: "FILE:LINE: KEY: ..." */
        size_t line;
        const char *key;
} DownloadRequest;

typedef enum DownloadFlags {
        /* Only a verified copy in the cache: -ENOENT otherwise, and nothing
         * is downloaded or recorded. */
        DOWNLOAD_CACHED_ONLY = 1 << 0,
} DownloadFlags;

/* The path of the verified file in the cache. */
int download_fetch(const DownloadRequest *req, DownloadFlags flags, char **ret_path, ObError *err);

/* The cache directory ($OCI_BUILD_CACHE, else $XDG_CACHE_HOME/oci-build,
 * else ~/.cache/oci-build). */
char *download_cache_dir(void);
/* The lock file beside a config: configs/apps/NAME.yml has configs/apps/NAME.lock. */
char *download_lock_path(const char *config);
