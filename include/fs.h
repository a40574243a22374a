/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "error.h"

/* Files and directories of the host. */

/* Reads a whole (small) file. */
int read_file(const char *path, char **ret_data, size_t *ret_size, ObError *err);
/* The same for a file that is no input of the images (a cache's own
 * entry, which only saves work): the run's journal does not note it. */
int read_file_unnoted(const char *path, char **ret_data, size_t *ret_size, ObError *err);
/* Writes data to path via a temporary file in the same directory, fsync and
 * rename, so readers see either the old or the new file. */
int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode, ObError *err);
/* write(2) until done, retrying on EINTR. Returns 0 or -errno. */
int write_all(int fd, const void *data, size_t size);
/* mkdir -p. */
int mkdir_p(const char *path, mode_t mode, ObError *err);

/* Makes a cache's private directory (0700) if needed: NULL when it is a
 * directory this process can write, else why not (a string that lives
 * as long as scratch or is static). */
const char *cache_dir_unusable(const char *dir, ObError *scratch);

/* Removes name (relative to dirfd; AT_FDCWD for a path) and, for a
 * directory, everything below it, following no symlink and never crossing
 * into another mounted file system (-EXDEV). It uses only async-signal-safe
 * system calls and no heap, so a signal handler may call it. A missing name
 * is not an error. Returns 0 or -errno (the first failure). */
int rm_rf_at(int dirfd, const char *name);
/* The same for a path, with a message. */
int rm_tree(const char *path, ObError *err);

/* Timestamps of most file systems move in clock ticks of a few
 * milliseconds (some in whole seconds): a file changed again within the
 * tick of the change we saw keeps its timestamps. */
#define RACY_NS (2LL * 1000000000LL)
/* Where ctimes have nanoseconds they move with the kernel's coarse clock,
 * a few milliseconds at most. */
#define RACY_FINE_NS (50LL * 1000000LL)
/* True when st changed too recently before now for its timestamps to tell
 * a further change within the same clock tick. */
bool cache_stat_racy(const struct stat *st, const struct timespec *now);
