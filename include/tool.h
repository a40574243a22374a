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

/* Fills spec->version from its package (in the sysroot's dpkg database) when
 * the config gives none. */
int tool_resolve_version(const Spec *spec, Sysroot *root, char **ret, ObError *err);

/* The tool layer: binaries with their library closure, files (with the
 * libraries of every ELF file among them and the targets of symlinks that
 * would dangle), directories and symlinks. base is the plan of the layer
 * below, so what it already holds is not repeated. */
int tool_plan(const Spec *tool, Sysroot *root, const Plan *base, int64_t mtime, Plan *ret, ObError *err);

/* The data layer of a tool with 'data:' (src/tool-data.c): runs the host
 * command into a temporary directory and plans it. ret_tmpdir is removed with
 * tool_data_cleanup() once the layer is written. */
int tool_data_plan(const Spec *tool, int64_t mtime, Plan *ret, char **ret_tmpdir, ObError *err);
void tool_data_cleanup(char *tmpdir);

