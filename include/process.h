/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "error.h"

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
 * That reaping waits for every child of ours: call it with no other child
 * running. */
typedef struct StepOutput {
        const char *prefix;
        size_t tail_lines;
} StepOutput;
int run_step(char *const *argv, const RunOptions *o, const StepOutput *out, int *ret_status, char **ret_tail,
             ObError *err);
/* The program run_program() waits for, or 0: a signal handler stops it. */
extern volatile pid_t ob_child_pid;
/* The last bytes of a log, on one line, for an error message. */
char *log_tail(const char *log, size_t max);
