/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "error.h"
#include "util.h"

/* Running host programs (initdb, npm, curl). */

/* Runs a host program and waits for it. stdout and stderr go to log (or
 * stay as they are when log is NULL); stdin is /dev/null. With envp the
 * program gets exactly that environment, else ours; uid/gid >= 0 switch
 * user first (groups dropped). */
typedef struct RunOptions {
        const char *workdir;
        const char *log;
        char *const *envp;
        long uid, gid;
} RunOptions;
int run_program(char *const *argv, const RunOptions *o, int *ret_status, ObError *err);
/* Runs a step of a build (npm ci) and waits for it: stdout and stderr
 * are read line by line, each echoed to stderr after out->prefix unless
 * quiet (or prefix is NULL), and the last out->tail_lines kept for
 * ret_tail (joined by newlines). The step gets its own process group, and
 * we are a child subreaper while it runs: when it exits, whatever it
 * started (in the background, setsid, double-forked) is killed and reaped
 * before this returns, so nothing of it runs on while its output is read.
 * That reaping waits for every child of ours: the programs in the
 * background are waited for first (background_wait_all()). */
typedef struct StepOutput {
        const char *prefix;
        size_t tail_lines;
} StepOutput;
int run_step(char *const *argv, const RunOptions *o, const StepOutput *out, int *ret_status, char **ret_tail,
             ObError *err);
/* A program started in the background, as run_program() runs it: the
 * caller goes on and waits for it later. A signal handler stops it with
 * background_stop_all(). */
typedef struct Background Background;
int background_start(char *const *argv, const RunOptions *o, Background **ret, ObError *err);
pid_t background_pid(const Background *bg);
/* Waits for it (or takes the status kept when it was reaped before). */
int background_wait(Background *bg, int *ret_status, ObError *err);
/* Waits for every program still running in the background, keeping each
 * status for background_wait(): run_step() does, since it reaps every
 * child of ours. */
int background_wait_all(ObError *err);
/* Stops (SIGTERM, then SIGKILL after a while) and reaps it unless it was
 * waited for; frees it. Accepts NULL. */
void background_free(Background *bg);
DEFINE_CLEANUP_FUNC(Background *, background_free);
/* Stops every program in the background and reaps it; async-signal-safe. */
void background_stop_all(void);
/* The program run_program() waits for, or 0: a signal handler stops it. */
extern volatile pid_t ob_child_pid;
/* The last bytes of a log, on one line, for an error message. */
char *log_tail(const char *log, size_t max);
