/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "layer.h"
#include "layout.h"
#include "pkgdb.h"
#include "plan.h"
#include "platform.h"
#include "spec.h"
#include "sysroot.h"
#include "util.h"

/* The one place that turns configs into images.
 *
 * A Build is one run: it loads configs/base.yml and plans the base layer,
 * then plans every image asked for with build_add() — tools with their
 * libraries (and data layer), apps with the layers of the tools they name —
 * all before the layout is touched, so bad input leaves it alone (a data
 * command, started then, is waited for when its layer is written). Then
 * build_write() writes each layer once however many images share it (the
 * base layer, a tool layer that several apps use), the image configs and
 * manifests, and names the images in the layout's index. The caller commits
 * the index (layout_commit()) or rolls back. */

/* What build_write() tells as it goes, for a progress display. */
typedef enum BuildEvent {
        BUILD_IMAGE_START, /* name, n_layers, file_bytes (of the layers to write) */
        BUILD_LAYER_START, /* layer (1-based), entries, file_bytes */
        BUILD_LAYER_DONE,  /* layer, compressed (0 when the layer was written before in this run) */
        BUILD_IMAGE_DONE,  /* compressed (the whole image), seconds */
} BuildEvent;

typedef struct BuildProgress {
        BuildEvent event;
        const char *name; /* the image */
        size_t layer, n_layers;
        size_t entries;
        uint64_t file_bytes;
        /* BUILD_IMAGE_START: a layer whose files a data command still makes
         * is counted in n_layers but not in file_bytes. */
        bool more_bytes;
        uint64_t compressed;
        double seconds; /* since the image started */
} BuildProgress;

typedef void (*BuildProgressFn)(void *userdata, const BuildProgress *p);

typedef struct BuildOptions {
        const char *configs;       /* the configs directory */
        const char *sysroot;       /* where host files come from: "/" by default */
        const Platform *platform;  /* asked for with --platform (checked against the files), or NULL */
        int64_t source_date_epoch; /* 'created', and the latest mtime in layers */
        LayerOptions layer;        /* compression */
        struct LayerCache *steps;  /* the step cache (step-cache.h); NULL: run every data command and build step */
        const char *layout_dir;    /* where the layers will go, for the step cache */
        struct Md5Cache *md5;      /* md5 of source files for the package records (md5-cache.h), or NULL */
        BuildProgressFn progress;  /* may be NULL */
        void *progress_data;
} BuildOptions;

typedef struct Build Build;

/* Loads base.yml, opens the sysroot and plans the base layer. */
int build_new(const BuildOptions *o, Build **ret, ObError *err);
void build_free(Build *b);
DEFINE_CLEANUP_FUNC(Build *, build_free);

/* What build_add() does besides planning the image's layers. */
typedef enum BuildAddFlags {
        BUILD_PLAN_ONLY = 1 << 0, /* run nothing on the host (no data command, no build
                                        * step) and download nothing: for `show --files` */
} BuildAddFlags;

/* Plans the image of the config NAME of that tier: SPEC_TIER_BASE (NAME
 * is ignored: the base image itself), SPEC_TIER_TOOL or SPEC_TIER_APP. An
 * image asked for twice is planned once. ENOPKG when a tool (the one asked
 * for, or one an app names) is not installed in the sysroot: the Build
 * remembers its package, so that a caller can go on planning the others and
 * then name every package to install at once with build_missing_error(). */
int build_add(Build *b, SpecTier tier, const char *name, BuildAddFlags flags, ObError *err);

/* ENOPKG, when build_add() met tools that are not installed: one of them
 * gives its own message, several give one line that names them all and
 * ends with the apt-get command that installs every package. 0 otherwise. */
int build_missing_error(const Build *b, ObError *err);

/* The plans, for `show --files`. */
const Spec *build_base_spec(const Build *b);
const Plan *build_base_plan(const Build *b);
/* The sysroot's package database, or NULL when it has none (or after
 * build_write()). */
const Pkgdb *build_pkgdb(const Build *b);
/* The tool layer of a tool planned by build_add(), or NULL. */
const Plan *build_tool_plan(const Build *b, const char *name);
/* The app layer of an app planned by build_add(), or NULL. */
const Plan *build_app_plan(const Build *b, const char *name);

/* An image as written. */
typedef struct BuildResult {
        const char *name; /* borrowed from the Build */
        SpecTier tier;
        char manifest_digest[DIGEST_STRING_MAX];
        uint64_t total_size; /* manifest + config + layers, compressed */
        size_t n_layers;
        uint64_t own_layer_size;  /* compressed size of the image's own layer (a tool's or an app's) */
        size_t own_layer_entries; /* entries of that layer */
} BuildResult;

/* Writes every image planned, in the order asked for, into l (index in
 * memory). ret_results has one entry per image, valid while b lives. It
 * frees the dpkg database first (build_pkgdb() is NULL after it): plan
 * nothing more with b. */
int build_write(Build *b, Layout *l, const BuildResult **ret_results, size_t *ret_n, ObError *err);

/* Loads the config NAME (any tier, or only the tier expected when
 * expect_tier is >= 0) and checks that its 'name' matches its file name. */
int build_load_config(const char *configs, const char *name, int expect_tier, Spec **ret, ObError *err);

/* The version of the image a config makes: the config's, or for a tool
 * without one, its Debian package's in the sysroot, as a tag-safe string. */
int build_image_version(const Spec *spec, Sysroot *root, char **ret, ObError *err);

/* The platform of the run's images, as its files say (see PlatformChoice). */
const Platform *build_platform(const Build *b);
