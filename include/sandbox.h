/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "unpack.h"

/* Running commands in an unpacked image (see unpack.h) without a daemon,
 * the way a container runtime (runc) does: each command starts in new
 * mount, pid, ipc, uts and network (loopback only) namespaces with the
 * unpacked tree as its root, the /dev of a runtime (null, zero, full,
 * random, urandom, tty, the stdin/stdout/stderr/fd links, pts, shm, mqueue)
 * and /proc, as the image's user, with a session keyring of its own and a
 * seccomp filter that refuses what docker's default profile refuses
 * (keyctl, ptrace, mount, bpf, modules, unshare...: EPERM).
 *
 * An ordinary user runs the command in a user namespace too, where the one
 * id it may map without newuidmap, its own, is the image's user: every file
 * of the tree (unpacked by that user) belongs to the image's user inside,
 * and the image's supplementary groups are dropped, as in a rootless
 * runtime without subordinate ids. sandbox_check_namespaces() says whether
 * this machine allows it. */

#define SANDBOX_STEP_TIMEOUT_DEFAULT 300 /* seconds per command */

/* Fails with "this machine does not allow new namespaces (CALL: ERROR [ERRNO])"
 * when the namespaces a step needs cannot be made here; for an ordinary
 * user, the message names the sysctl that forbids it. */
int sandbox_check_namespaces(ObError *err);

/* Creates "PATH=CONTENT" files (PATH under /tmp/) in the unpacked root, with
 * missing parent directories, as the image's user. */
int sandbox_create_files(const char *root, const UnpackedImage *img, char *const *files, ObError *err);

typedef struct StepResult {
        bool passed;
        char *why;    /* why it failed ("exit status 1"), NULL when it passed */
        char *output; /* stdout and stderr, interleaved as written */
        size_t output_size;
        bool truncated; /* output beyond the limit was dropped */
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

/* Marks dir (a temporary directory of this process) as in use for as long
 * as *ret_fd, a lock, stays open (the process may die of SIGKILL): see
 * sandbox_dir_abandoned(). */
int sandbox_claim_dir(const char *dir, int *ret_fd, ObError *err);
/* 1 when dir was claimed by a process that is gone (or never claimed and
 * older than an hour), 0 when its owner lives, -errno when it cannot say. */
int sandbox_dir_abandoned(const char *dir);

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
