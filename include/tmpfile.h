/* SPDX-License-Identifier: MIT */
#pragma once

/* Temporary files and directories that must not outlive the process when a
 * signal stops it: blobs and archives being written, downloads, the data
 * directory of a tool. The storage is fixed, since a signal handler may not
 * allocate. */

#include <signal.h>

/* Blocks the signals whose handler cleans up (SIGINT, SIGTERM, SIGHUP),
 * for a step that must not be cut in two: making a file and registering
 * it, starting a program and recording it. Restore *ret_old with
 * sigprocmask(SIG_SETMASK). */
void tmpfile_block_signals(sigset_t *ret_old);

/* mkostemps() and tmpfile_register() with the signals that would remove
 * temporary files blocked in between, so that no signal leaves a file
 * behind that was made but not yet registered. Returns the descriptor or
 * -errno; *ret_slot is the slot (-1 when none was free). */
int tmpfile_create(char *template, int suffix_len, int flags, int *ret_slot);
/* mkdtemp() and tmpfile_register_tree() likewise. Returns 0 or -errno. */
int tmpfile_create_dir(char *template, int *ret_slot);

/* Registers a file; returns a slot for tmpfile_unregister(), or -1 when
 * every slot is taken (the file then stays behind if a signal comes). */
int tmpfile_register(const char *path);
/* The same for a directory tree, removed whole. */
int tmpfile_register_tree(const char *path);
/* Accepts -1. */
void tmpfile_unregister(int slot);
/* Unregisters a path by name. */
void tmpfile_forget(const char *path);
/* Removes every registered file and tree; async-signal-safe. */
void tmpfile_cleanup_all(void);
