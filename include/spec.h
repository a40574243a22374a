/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

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
        char *path;         /* destination in the image */
        char *source;       /* path inside the sysroot; defaults to path */
        char **exclude;     /* fnmatch globs against image paths */
        bool has_mode;
        uint32_t mode;
        uint32_t uid, gid;
        size_t line;        /* for messages */
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
        char **env;         /* "KEY=VALUE" */
        char *workdir;
        char **entrypoint;
        char **cmd;
        char **ports;       /* "5432/tcp" */
        char **volumes;
        char **labels;      /* "KEY=VALUE" */
} SpecImageConfig;

typedef struct Spec {
        SpecTier tier;
        char *file;          /* the config file, as found */
        char *name;
        char *version;
        char *description;
        char *rootfs;        /* host directory copied as is, or NULL */

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
} Spec;

/* Loads and validates a base config. default_version is used when the file
 * has no 'version'. */
int spec_load_base(const char *file, const char *default_version, Spec **ret, ObError *err);
void spec_free(Spec *s);

/* /etc/passwd and /etc/group contents generated from users and groups. */
char *spec_render_passwd(const Spec *s);
char *spec_render_group(const Spec *s);
