/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "layer-cache.h"
#include "layer.h"
#include "plan.h"
#include "spec.h"

/* The step cache: a layer made by running something on the host (a
 * tool's data command such as initdb, an app's build steps such as
 * `npm ci`) is not made again while everything that decides it is
 * unchanged. A key is the sha256 of the command and its environment, the
 * config, the package version, the identity of every input file (as the
 * layer cache takes it: type, mode, size, device, inode, mtime and ctime in
 * ns), the layers the command runs on, the layer settings and this
 * program's version; its value is the layer's descriptor, kept in the
 * layer cache's storage (a hit needs the blob in the layout, with the
 * right size, and is hashed when the blob is not the file last seen).
 * Whatever cannot be identified makes no key: the command runs. */

#define STEP_CACHE_VERSION 1

/* $OCI_BUILD_CACHE/steps (see layer_cache_open_default()). */
LayerCache *step_cache_open_default(void);

/* The key of a tool's data layer: the data section of the config, the
 * package's version, the fixed environment of the command, the identity
 * of its program on the host, and the key of the tool layer (the files
 * the command reads: postgres' binaries, libraries and share files).
 * ENOENT (or another errno) when something cannot be identified. */
int step_cache_data_key(const Spec *tool, const char *debian_version, const Plan *tool_plan, const LayerOptions *o,
                        LayerKey *ret, ObError *err);

/* The key of an app's build steps over the tree they leave: the app's and
 * the base's config files (their bytes), the layers below (base, tools),
 * each step's command, workdir and environment (the caller's, as the step
 * gets it), and the identity of every file under each step's workdir and
 * each local artifact. */
int step_cache_app_key(const Spec *app, const Spec *base, const Plan *const *below, size_t n_below,
                       const LayerOptions *o, LayerKey *ret, ObError *err);

/* The environment as a build step gets it: the effective uid and every
 * variable of the caller (but "_", the shell's last command), sorted. */
void step_cache_hash_environ(Sha256 *h);
