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
/* The program run_program() waits for, or 0: a signal handler stops it. */
extern volatile pid_t ob_child_pid;
/* The last bytes of a log, on one line, for an error message. */
char *log_tail(const char *log, size_t max);
