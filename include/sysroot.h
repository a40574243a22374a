/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <sys/stat.h>

#include "error.h"
#include "util.h"

/* The tree that host files are read from (--sysroot, default "/"). Paths
 * given to these functions are absolute paths as seen inside the sysroot;
 * symlinks are followed the way the kernel would inside a chroot, so an
 * absolute link target stays inside the sysroot. */
typedef struct Sysroot {
        char *path;     /* as given, without a trailing '/' ("" for "/") */
        int fd;         /* O_PATH|O_DIRECTORY descriptor of the root */
        unsigned n_ref; /* the opener's, plus one per plan entry that reads from it */
        /* The parsed dpkg status file its readers share (dpkg.c), and how
         * to drop it: this module does not need the parser. */
        void *dpkg_status;
        void (*dpkg_status_unref)(void *status);
} Sysroot;

int sysroot_open(const char *path, Sysroot **ret, ObError *err);
/* Another reference: a plan's entries keep their sysroot open until the
 * layer is written, whoever opened it. */
Sysroot *sysroot_ref(Sysroot *s);
/* Drops a reference; the last one frees. Accepts NULL. */
void sysroot_free(Sysroot *s);
DEFINE_CLEANUP_FUNC(Sysroot *, sysroot_free);

/* Called for every symlink met while resolving: link_path is the link's own
 * canonical path inside the sysroot, target the link's content as stored. */
typedef int (*SysrootLinkFn)(void *userdata, const char *link_path, const char *target, ObError *err);

/* Resolves path to its canonical form (absolute, no symlinks, no "." or
 * ".."), reporting each symlink passed through to fn (which may be NULL).
 * Errors: ENOENT naming the missing path, ELOOP after 40 links, EXDEV with
 * "escapes the sysroot" when a ".." would climb above the root. */
int sysroot_resolve(Sysroot *s, const char *path, SysrootLinkFn fn, void *userdata, char **ret_path, ObError *err);

/* The host path of an image path: "<sysroot>/<path>". */
char *sysroot_host_path(const Sysroot *s, const char *path);

/* Opens a canonical path (no symlink in it, as sysroot_resolve() returns)
 * so that nothing outside the root can be reached, even when a directory on
 * the way is swapped for a symlink meanwhile: openat2() with RESOLVE_IN_ROOT,
 * or a walk of O_NOFOLLOW opens where the kernel lacks it. A symlink on the
 * way is an error (ELOOP). flags as for open(); O_NOFOLLOW and O_CLOEXEC are
 * added. Returns the descriptor or -errno. */
int sysroot_openat(const Sysroot *s, const char *path, int flags, ObError *err);
/* For tests: take the walk even where openat2() works. */
extern bool sysroot_force_walk;

/* lstat() of a canonical path: its parent is opened as above, so the answer
 * is about a file inside the root. */
int sysroot_lstat(const Sysroot *s, const char *path, struct stat *ret_st, ObError *err);
int sysroot_open_file(const Sysroot *s, const char *path, ObError *err); /* returns fd or -errno */

/* Reads a symlink's target (relative to the root fd). */
int sysroot_readlink(const Sysroot *s, const char *path, char **ret_target, ObError *err);
