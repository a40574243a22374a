/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "plan.h"
#include "spec.h"

/* The app tier: an application's files as one layer on top of the base
 * layer and the layers of the tools it names. */

/* Runs the config's build steps on the host, in order. */
int app_run_build(const Spec *app, ObError *err);

/* Makes a download available: from the cache when its pin is known and
 * cached, else fetched (with the host's curl), hashed and checked against
 * the pin in the config or in the lock file beside it; with no pin at all,
 * the digest is recorded in the lock file. Only verified files enter the
 * cache (under their digest), so a half-written download is never used. */
int app_fetch(const Spec *app, const SpecArtifact *a, const char *arch, char **ret_path, ObError *err);

/* The cache directory ($OCI_BUILD_CACHE, else $XDG_CACHE_HOME/oci-build,
 * else ~/.cache/oci-build). */
char *app_cache_dir(void);
/* The lock file beside the config: configs/apps/NAME.lock. */
char *app_lock_path(const Spec *app);

/* The app layer: artifacts (local ones with modes normalised as for a
 * checkout), files from the sysroot, directories and symlinks. Without
 * fetch, a download that is not in the cache is listed as an empty stand-in
 * whose reason says so (for `show --files`), never fetched. */
int app_plan(const Spec *app, Sysroot *root, const char *arch, int64_t mtime, bool fetch, Plan *ret, ObError *err);

/* Checks that the healthcheck's program is in one of the layers. */
int app_check_health(const Spec *app, const Plan *const *layers, size_t n, ObError *err);

/* A compose file for the app and its services. tags[i] is the image of
 * services[i]; app_tag the app's own. */
typedef struct ComposeOptions {
        bool host_network;      /* network_mode: host, no port mappings */
        const char *app_tag;
        char *const *service_images;
} ComposeOptions;
char *app_compose(const Spec *app, const ComposeOptions *o);
