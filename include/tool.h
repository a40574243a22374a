/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "plan.h"
#include "spec.h"
#include "sysroot.h"

/* The tool tier: a host program, the shared libraries it needs (read from
 * its ELF files), and the files its config names, as one layer on top of the
 * base layer. */

/* The version of a tool's image: the config's 'version' as written, else that
 * of its package in the sysroot's dpkg database in the form a tag can hold
 * (dpkg_version_tag()); ENOPKG when the package is not installed.
 * ret_debian_version (may be NULL) gets the package's full Debian version,
 * or NULL when the config gives the version. */
int tool_resolve_version(const Spec *spec, Sysroot *root, char **ret, char **ret_debian_version, ObError *err);

/* The tool layer: binaries with their library closure, files (with the
 * libraries of every ELF file among them and the targets of symlinks that
 * would dangle), directories and symlinks. base is the plan of the layer
 * below, so what it already holds is not repeated. A binary that the
 * sysroot lacks is ENOPKG when the config's package is not installed, and
 * otherwise an error that says the package does not have that path (with the
 * programs it does have). */
int tool_plan(const Spec *tool, Sysroot *root, const Plan *base, int64_t mtime, Plan *ret, ObError *err);

/* How tool_plan_with() treats a release tool (one with 'artifacts'). */
typedef struct ToolPlanOptions {
        const char *arch; /* the OCI architecture whose release is taken; NULL: the sysroot's */
        bool no_fetch;    /* only what the download cache has, and run no build step (`show --files`) */
} ToolPlanOptions;

/* tool_plan() for an architecture: a release tool's artifacts are fetched
 * (verified against their pins or the lock file), unpacked into a directory
 * that lives as long as the process, compiled by the build steps where it
 * has some, and planned from there; its binaries name files of the release
 * (or of the build's output), and their libraries come from the sysroot. */
int tool_plan_with(const Spec *tool, Sysroot *root, const Plan *base, int64_t mtime, const ToolPlanOptions *o,
                   Plan *ret, ObError *err);

/* The release part of tool_plan_with() (src/tool-release.c): adds the
 * artifacts and the closure of the binaries to p. */
int tool_release_plan(const Spec *tool, Sysroot *root, const Plan *base, const char *arch, bool fetch, Plan *p,
                      ObError *err);

/* Whether a tool's version is the one an app asks for ("node@24"): equal
 * dotted components from the start, so "24" matches "24.22.3" but not
 * "240.1", and "24.2" does not match "24.22.3". */
bool tool_version_matches(const char *version, const char *wanted);

/* The data layer of a tool with 'data:' (src/tool-data.c): runs the host
 * command into a temporary directory and plans it. ret_tmpdir is removed with
 * tool_data_cleanup() once the layer is written. */
int tool_data_plan(const Spec *tool, int64_t mtime, Plan *ret, char **ret_tmpdir, ObError *err);
void tool_data_cleanup(char *tmpdir);
/* tool_data_plan() in two halves, so that the command runs while the
 * caller does other work: tool_data_start() makes the directory and starts
 * the command in the background; tool_data_finish() waits for it, appends
 * and plans the directory as tool_data_plan() does, and frees d whatever
 * it returns (the command's failure is reported there). A started command
 * that will not be finished is stopped, reaped and its directory removed
 * by tool_data_abandon(). tool must outlive d. */
typedef struct ToolData ToolData;
int tool_data_start(const Spec *tool, ToolData **ret, ObError *err);
int tool_data_finish(ToolData *d, int64_t mtime, Plan *ret, char **ret_tmpdir, ObError *err);
void tool_data_abandon(ToolData *d);
DEFINE_CLEANUP_FUNC(ToolData *, tool_data_abandon);
/* The data command's environment, besides HOME (the run_as user's). */
extern const char *const tool_data_env[];
