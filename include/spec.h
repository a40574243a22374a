/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "util.h"

/* The typed, validated form of an image config (configs/base.yml,
 * configs/tools/NAME.yml, configs/apps/NAME.yml). */

typedef enum SpecTier {
        SPEC_TIER_BASE,
        SPEC_TIER_TOOL,
        SPEC_TIER_APP,
} SpecTier;

const char *spec_tier_name(SpecTier tier);

/* Something copied from the sysroot: a file, or a directory copied whole
 * (symlinks inside it stay symlinks). */
typedef struct SpecFile {
        char *path;     /* destination in the image */
        char *source;   /* path inside the sysroot (defaults to path), or on the host when local */
        bool local;     /* source was written relative to the config: a host path, absolute after loading */
        char **exclude; /* fnmatch globs against image paths */
        bool has_mode;
        uint32_t mode;
        uint32_t uid, gid;
        bool optional; /* a missing source is skipped, not an error */
        size_t line;   /* for messages */
} SpecFile;

typedef struct SpecDir {
        char *path;
        uint32_t mode;
        uint32_t uid, gid;
} SpecDir;

typedef struct SpecLink {
        char *path;
        char *target;
} SpecLink;

typedef struct SpecUser {
        char *name;
        uint32_t uid, gid;
        char *home;
        char *shell;
        char *gecos;
} SpecUser;

typedef struct SpecGroup {
        char *name;
        uint32_t gid;
        char **members;
} SpecGroup;

/* What goes into the OCI image config. */
typedef struct SpecImageConfig {
        char *user;
        char **env; /* "KEY=VALUE" */
        char *workdir;
        char **entrypoint;
        char **cmd;
        char **ports; /* "5432/tcp" */
        char **volumes;
        char **labels; /* "KEY=VALUE" */
} SpecImageConfig;

/* Commands run inside the built image to prove it works, in order, in
 * the same container filesystem. */
typedef struct SpecTestStep {
        char **command; /* argv */
        char *expect;   /* a substring the output must contain, or NULL */
} SpecTestStep;

typedef struct SpecTest {
        SpecTestStep *steps; /* NULL when the config has no test */
        size_t n_steps;
        char **env;   /* extra "KEY=VALUE" */
        char **files; /* "PATH=CONTENT": files created under /tmp first */
} SpecTest;

/* A layer made at build time by a host command (a database's data
 * directory): its own layer, since such output is rarely reproducible. */
typedef struct SpecData {
        char *path; /* where it lands in the image */
        uint32_t uid, gid;
        uint32_t mode;
        char **command; /* argv; "{dir}" and "{password_file}" are replaced */
        char *run_as;   /* host user the command runs as */
        char *password; /* written to {password_file} */
        char **append;  /* "FILE=TEXT": text appended to files of the result */
} SpecData;

/* An application file: local (relative to the config) or downloaded. */
typedef struct SpecArtifact {
        char *path;    /* destination in the image */
        char *source;  /* local file or directory, absolute after loading */
        char *url;     /* or a download; "{arch}" is replaced by the OCI arch */
        char **sha256; /* "ARCH=HEX" pins ("*" for any arch); NULL: unpinned */
        char **arch;   /* "OCI_ARCH=NAME": what {arch} becomes in the url (tools) */
        /* tools: an archive is unpacked at path (src/archive-unpack.c) */
        uint64_t strip_components;
        char **include, **exclude; /* globs against the paths inside the archive */
        uint64_t max_unpacked;     /* bytes; 0: the default limit */
        bool has_mode;
        uint32_t mode;
        uint32_t uid, gid;
        size_t line;
} SpecArtifact;

typedef struct SpecBuildStep {
        char **command; /* run on the host before packaging */
        char *workdir;  /* apps: absolute, from a path relative to the config; tools: relative
                         * to the unpacked sources, or NULL */
        char **env;     /* "NAME=VALUE" set in its environment, or NULL */
        /* apps: what the step reads and makes, relative to workdir (normalised,
         * never absolute nor with ".."), or NULL. With inputs, the step reruns
         * only when these, its command or what it runs on changed (step-cache.h). */
        char **inputs;
        size_t *input_lines; /* beside inputs: the config line of each, for messages */
        char **outputs;      /* only with inputs */
        size_t line;         /* of the step in the config */
        char *config_sha256; /* apps: hex sha256 of the step's entry as parsed (keys and values) */
} SpecBuildStep;

typedef struct SpecHealth {
        char **test; /* exec form: argv */
        char *interval, *timeout, *start_period;
        uint64_t retries;
        size_t line; /* of 'test', for messages */
} SpecHealth;

/* A service of the generated compose file besides the app itself. */
typedef struct SpecService {
        char *name;
        char *image;        /* a config name (its save tag) or an image reference */
        char **environment; /* "KEY=VALUE" */
        char **volumes;     /* "NAME:/path" */
        char **command;
        bool has_health;
        SpecHealth health;
} SpecService;

typedef struct Spec {
        SpecTier tier;
        char *file; /* the config file, as found */
        char *name;
        char *version;
        char *description;
        char *rootfs; /* host directory copied as is, or NULL */

        SpecFile *files;
        size_t n_files;
        SpecDir *dirs;
        size_t n_dirs;
        SpecLink *links;
        size_t n_links;
        SpecUser *users;
        size_t n_users;
        SpecGroup *groups;
        size_t n_groups;

        SpecImageConfig config;

        /* tools */
        char *package; /* the Debian package that provides it */
        char *category;
        char **binaries; /* image paths whose ELF closure is added */
        SpecTest test;
        bool has_data;
        SpecData data;

        /* apps */
        char **tools;         /* tool configs whose layers the app reuses */
        char **tool_versions; /* beside tools: the version asked for ("node@24"), or "" */
        SpecArtifact *artifacts;
        size_t n_artifacts;
        SpecBuildStep *build;
        size_t n_build;
        bool has_health;
        SpecHealth health;
        uint64_t default_port; /* 0: none */
        char *data_dir;
        SpecService *services;
        size_t n_services;
        char **compose_env; /* the app service's extra environment in compose files */
        char **compose_volumes;
} Spec;

/* Loads and validates a base config. default_version is used when the file
 * has no 'version'. */
int spec_load_base(const char *file, const char *default_version, Spec **ret, ObError *err);
void spec_free(Spec *s);
DEFINE_CLEANUP_FUNC(Spec *, spec_free);
void spec_image_config_clear(SpecImageConfig *c);

/* Loads and validates a tool config (configs/tools/NAME.yml). The version
 * may stay NULL: it is then read from the package database of the sysroot. */
int spec_load_tool(const char *file, Spec **ret, ObError *err);

/* Loads and validates an app config (configs/apps/NAME.yml). */
int spec_load_app(const char *file, Spec **ret, ObError *err);
