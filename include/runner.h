/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "layout.h"

/* Running a built image without a daemon: its layers unpacked into a
 * directory, then each command started in new mount, pid, ipc, uts and
 * network namespaces with that directory as its root, /dev and /proc
 * provided, as the image's user. Needs root (or at least the right to make
 * namespaces); runner_check_namespaces() says whether this machine allows it. */

#define RUNNER_STEP_TIMEOUT_DEFAULT 300    /* seconds per command */

/* What the image config says about running it, and what the image's
 * /etc/passwd and /etc/group make of its user. */
typedef struct RunnerImage {
        char *name;
        char *version;       /* the manifest's org.opencontainers.image.version, or NULL */
        char *user;          /* User as written in the config ("" when unset: root) */
        uid_t uid;
        gid_t gid;
        gid_t *groups;       /* supplementary groups from the image's /etc/group */
        size_t n_groups;
        char **env;          /* Env, "KEY=VALUE" */
        char *workdir;       /* WorkingDir, "/" when unset */
        char *home;          /* the user's home in the image's /etc/passwd, else "/" */
        size_t n_layers;
        uint64_t tar_size;   /* bytes of uncompressed tar unpacked */
} RunnerImage;

void runner_image_clear(RunnerImage *img);

/* Unpacks the image name of the layout into dir (an existing, empty
 * directory), layer after layer, honouring whiteouts. Every blob is hashed
 * while it streams through and checked against its digest, size and diff_id
 * at the end; entries that would land outside dir are refused. Changes the
 * working directory of the process while it runs (not thread-safe). */
int runner_unpack(Layout *l, const char *name, const char *dir, RunnerImage *ret, ObError *err);

/* Fails with "this machine does not allow new namespaces (unshare: ...)"
 * when the namespaces a step needs cannot be made here. */
int runner_check_namespaces(ObError *err);

/* Creates "PATH=CONTENT" files (PATH under /tmp/) in the unpacked root, with
 * missing parent directories, as the image's user. */
int runner_create_files(const char *root, const RunnerImage *img, char *const *files, ObError *err);

typedef struct RunnerResult {
        bool passed;
        char *why;           /* why it failed ("exit status 1"), NULL when it passed */
        char *output;        /* stdout and stderr, interleaved as written */
        size_t output_size;
        bool truncated;      /* output beyond the limit was dropped */
        double seconds;
} RunnerResult;

void runner_result_clear(RunnerResult *r);

/* Runs argv in the unpacked root (see above) with the image's Env, then
 * extra_env ("KEY=VALUE", overriding by key), then HOME and PATH when
 * neither sets them. The step passes when it exits 0 within timeout seconds
 * and its output contains expect (when not NULL). Returns 0 whenever the
 * step ran, passed or not; negative when it could not be started or the
 * process was interrupted by a signal (see runner_catch_signals()). */
int runner_run_step(const char *root, const RunnerImage *img, char *const *argv, char *const *extra_env,
                    const char *expect, unsigned timeout, RunnerResult *ret, ObError *err);

/* Removes a tree made by runner_unpack(), never crossing into another
 * mounted file system. */
int runner_remove_tree(const char *dir, ObError *err);

/* SIGINT, SIGTERM and SIGHUP only set a flag from now on, so that a long
 * unpack or step stops with -EINTR and the caller can clean up; the caller
 * then re-raises runner_interrupted() with the default action. */
void runner_catch_signals(void);
/* The signal caught, or 0. */
int runner_interrupted(void);
