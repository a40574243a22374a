/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

/* Where a command writes what -o names. A regular file (or a new name) is
 * written to a temporary file beside it and renamed over it only when
 * complete, so a failed write never leaves half a file; standard output
 * ("-", /dev/stdout, /proc/self/fd/N), a character device or a FIFO is
 * written as a stream, never replaced (/dev/null stays a device); anything
 * else (a symbolic link, a directory, a socket, a block device) is refused. */

typedef enum OutputFlags {
        /* Refuse a terminal: the output is binary. */
        OUTPUT_NO_TERMINAL = 1 << 0,
} OutputFlags;

typedef struct Output {
        char *path;   /* as given */
        char *what;   /* for messages: "'PATH'", or "to standard output" */
        int fd;       /* where to write */
        bool owns_fd; /* false for a descriptor we were given (standard output) */
        char *tmp;    /* the temporary file a regular file is written to; NULL for a stream */
        int slot;     /* its tmpfile registration */
        mode_t mode;
} Output;

/* Opens path ("-" for standard output) for writing; a new file gets mode
 * (less the umask). */
int output_open(const char *path, mode_t mode, OutputFlags flags, Output **ret, ObError *err);
/* Writes all of data. */
int output_write(Output *o, const void *data, size_t size, ObError *err);
/* Makes the output final: a file is synced and renamed into place, a
 * stream closed (standard output is left open). */
int output_commit(Output *o, ObError *err);
/* Whether the output is this process's standard output, where messages
 * must not go. */
bool output_is_stdout(const Output *o);
/* Removes an uncommitted temporary file; accepts NULL. */
void output_free(Output *o);
static inline void output_freep(Output **o)
{
        output_free(*o);
}
