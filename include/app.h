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
/* What a step is called in its output and errors: "npm ci", "make", "sh";
 * a subcommand is part of the name, options and scripts are not. */
char *app_step_name(char *const *command);
/* Runs build step i: its declared inputs must be there before (an error
 * names the config line of the one missing), its outputs after. */
int app_run_step(const Spec *app, size_t i, ObError *err);

/* The app layer: artifacts (local ones with modes normalised as for a
 * checkout), files from the sysroot, directories and symlinks. Without
 * fetch, a download that is not in the cache is listed as an empty stand-in
 * whose reason says so (for `show --files`), never fetched. Downloads go
 * through download.h: the cache, the lock file beside the config. */
int app_plan(const Spec *app, Sysroot *root, const char *arch, int64_t mtime, bool fetch, Plan *ret, ObError *err);
/* app_plan() over the layers below it (base, tools): artifacts that are
 * dynamically linked ELF files bring their program interpreter and
 * libraries from the sysroot ("needed by /app/hello" in `show --files`),
 * except what one of those layers already holds. */
int app_plan_over(const Spec *app, Sysroot *root, const Plan *const *below, size_t n_below, const char *arch,
                  int64_t mtime, bool fetch, Plan *ret, ObError *err);

/* Checks that the healthcheck's program is in one of the layers. */
int app_check_health(const Spec *app, const Plan *const *layers, size_t n, ObError *err);
