/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

#include "error.h"
#include "spec.h"
#include "util.h"

/* Config discovery: configs/base.yml, configs/tools/NAME.yml and
 * configs/apps/NAME.yml, found by listing the directory. */

typedef struct ConfigRef {
        SpecTier tier;
        char *name; /* file name without .yml */
        char *file; /* path of the config file */
} ConfigRef;

/* The configs directory used when -C is not given: the source tree's when
 * this binary runs from a build of the source tree, else the installed one. */
char *configs_default_dir(void);

/* All configs, base first, then tools and apps by name. */
int configs_list(const char *dir, ConfigRef **ret, size_t *ret_n, ObError *err);
void configs_free(ConfigRef *v, size_t n);

/* The config of that name, in any tier. */
int configs_find(const char *dir, const char *name, ConfigRef *ret, ObError *err);
/* Frees the strings of c; accepts one already cleared. */
void config_ref_clear(ConfigRef *c);
/* For a ConfigRef variable initialised to {}. */
#define _cleanup_config_ref_ _cleanup_(config_ref_clear)
