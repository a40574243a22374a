/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "unpack.h"

/* Running commands in an unpacked image (see unpack.h) without a daemon:
 * each command starts in new mount, pid, ipc, uts and network namespaces
 * with the unpacked tree as its root, /dev and /proc provided, as the
 * image's user. Needs root (or at least the right to make namespaces);
 * sandbox_check_namespaces() says whether this machine allows it. */

#define SANDBOX_STEP_TIMEOUT_DEFAULT 300    /* seconds per command */

/* Fails with "this machine does not allow new namespaces (unshare: ...)"
 * when the namespaces a step needs cannot be made here. */
int sandbox_check_namespaces(ObError *err);

/* Creates "PATH=CONTENT" files (PATH under /tmp/) in the unpacked root, with
 * missing parent directories, as the image's user. */
int sandbox_create_files(const char *root, const UnpackedImage *img, char *const *files, ObError *err);

typedef struct StepResult {
        bool passed;
        char *why;           /* why it failed ("exit status 1"), NULL when it passed */
        char *output;        /* stdout and stderr, interleaved as written */
        size_t output_size;
        bool truncated;      /* output beyond the limit was dropped */
        double seconds;
} StepResult;

void step_result_clear(StepResult *r);

/* Runs argv in the unpacked root (see above) with the image's Env, then
 * extra_env ("KEY=VALUE", overriding by key), then HOME and PATH when
 * neither sets them. The step passes when it exits 0 within timeout seconds
 * and its output contains expect (when not NULL). Returns 0 whenever the
 * step ran, passed or not; negative when it could not be started or the
 * process was interrupted by a signal (see sandbox_catch_signals()). */
int sandbox_run_step(const char *root, const UnpackedImage *img, char *const *argv, char *const *extra_env,
                     const char *expect, unsigned timeout, StepResult *ret, ObError *err);

/* Removes a tree made by unpack_image(), never crossing into another
 * mounted file system; waits a moment for the mounts of a step that just
 * ended to go. */
int sandbox_remove_tree(const char *dir, ObError *err);

/* SIGINT, SIGTERM and SIGHUP only set a flag from now on, so that a long
 * unpack or step stops with -EINTR and the caller can clean up; the caller
 * then re-raises sandbox_interrupted() with the default action. */
void sandbox_catch_signals(void);
/* The signal caught, or 0. */
int sandbox_interrupted(void);
/* -EINTR with "interrupted by signal N (NAME)" once a signal was caught,
 * else 0. */
int sandbox_check_interrupted(ObError *err);
