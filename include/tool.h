/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

#include "error.h"
#include "plan.h"
#include "spec.h"
#include "sysroot.h"

/* The tool tier: a host program, the shared libraries it needs (read from
 * its ELF files), and the files its config names, as one layer on top of the
 * base layer. */

/* The version of a Debian package from the sysroot's dpkg database, without
 * running anything. */
int tool_package_version(Sysroot *root, const char *package, char **ret, ObError *err);

/* Fills spec->version from its package when the config gives none. */
int tool_resolve_version(const Spec *spec, Sysroot *root, char **ret, ObError *err);

/* The tool layer: binaries with their library closure, files (with the
 * libraries of every ELF file among them and the targets of symlinks that
 * would dangle), directories and symlinks. base is the plan of the layer
 * below, so what it already holds is not repeated. */
int tool_plan(const Spec *tool, Sysroot *root, const Plan *base, int64_t mtime, Plan *ret, ObError *err);

/* The data layer of a tool with 'data:': runs the host command into a
 * temporary directory and plans it. ret_tmpdir is removed with
 * tool_data_cleanup() once the layer is written. */
int tool_data_plan(const Spec *tool, int64_t mtime, Plan *ret, char **ret_tmpdir, ObError *err);
void tool_data_cleanup(char *tmpdir);

/* The image config of a tool: the base config, with the tool's user,
 * workdir, entrypoint, cmd, ports and volumes, and its env and labels merged
 * in by name. */
void tool_image_config(const SpecImageConfig *base, const SpecImageConfig *tool, SpecImageConfig *ret);
