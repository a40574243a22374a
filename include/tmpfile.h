/* SPDX-License-Identifier: MIT */
#pragma once

/* Temporary files and directories that must not outlive the process when a
 * signal stops it: blobs and archives being written, downloads, the data
 * directory of a tool. The storage is fixed, since a signal handler may not
 * allocate. */

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
