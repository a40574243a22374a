/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>

#include "util.h"

/* The md5 of source files (for status.d's .md5sums records) by the
 * identity of the file - device, inode, size, mtime and ctime in
 * nanoseconds, as the layer cache keys sources - so that a rebuild does
 * not read every packaged file again. One file, DIR/sums, read once when
 * the cache is opened and written back (under a temporary name, renamed)
 * by md5_cache_save() when it learnt something: concurrent builds each
 * write a whole file, the last one wins. A file that does not parse (or
 * ends early) is ignored, never trusted. Entries not used for
 * MD5_CACHE_DAYS days go, and at most MD5_CACHE_MAX are kept. */

#define MD5_CACHE_DAYS 60
#define MD5_CACHE_MAX 100000

typedef struct Md5Cache Md5Cache;

/* The cache in dir; start is when the run began (NULL: now): a file
 * changed within a clock tick of it is not remembered, as its timestamps
 * may not tell a further change. Never fails. */
Md5Cache *md5_cache_open(const char *dir, const struct timespec *start);
/* A cache of this run only, which no file backs: a build without caches
 * still reads a file that several layers hold once. */
Md5Cache *md5_cache_open_memory(const struct timespec *start);
/* $OCI_BUILD_CACHE/md5, else $XDG_CACHE_HOME/oci-build/md5, else
 * ~/.cache/oci-build/md5. */
Md5Cache *md5_cache_open_default(void);
void md5_cache_free(Md5Cache *c);
DEFINE_CLEANUP_FUNC(Md5Cache *, md5_cache_free);

/* The md5 (32 hex digits) of the file st describes, when known; false
 * for NULL. */
bool md5_cache_lookup(Md5Cache *c, const struct stat *st, char ret[static 33]);
/* Remembers md5 for st's file, unless it is racy (or c is NULL). */
void md5_cache_store(Md5Cache *c, const struct stat *st, const char md5[static 33]);
/* Writes the cache back if it learnt anything. A directory that cannot be
 * written is told once on stderr, and nothing more is written. */
void md5_cache_save(Md5Cache *c);
