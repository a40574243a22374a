/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

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
 * program's version, kept in the layer cache's storage. A data layer's
 * value is the layer's descriptor (a hit needs the blob in the layout, with
 * the right size, and is hashed when the blob is not the file last seen);
 * a build step's is a mark, each step on its own: the app layer is planned
 * from its artifacts as usual, and found (or not) in the layer cache.
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

/* The key of the layers below an app (base, tools), which each of its
 * steps' keys takes in. */
int step_cache_below_key(const Plan *const *below, size_t n_below, const LayerOptions *o, LayerKey *ret, ObError *err);

/* The key of an app's build step (app->build[index]), whose value is a mark
 * (layer_cache_mark()): the step runs again when its key is not marked.
 * It covers the step's entry of the config as parsed (not the rest of the
 * file: an edited description reruns nothing), its command, workdir and
 * environment (the caller's, as the step gets it), the identity of its
 * program, the layers below (below: step_cache_below_key()), and the
 * identity of every file under its inputs and its outputs (one that is
 * gone keyed as such); a step without inputs, of every file under its
 * workdir. An input that is not there makes no key (app_run_step() says
 * which). With inputs_since (when the step started), a declared input or
 * the program changed after that, or within a clock tick before it, makes
 * the key racy (not to be remembered); what it makes is judged against
 * now. A symlink counts by its text and by what it leads to. */
int step_cache_step_key(const Spec *app, size_t index, const LayerKey *below, const LayerOptions *o,
                        const struct timespec *inputs_since, LayerKey *ret, ObError *err);

/* The environment as a build step gets it: the effective uid and every
 * variable of the caller (but "_", the shell's last command), sorted. */
void step_cache_hash_environ(Sha256 *h);
