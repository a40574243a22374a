/* SPDX-License-Identifier: MIT */
#pragma once

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
} Sysroot;

int sysroot_open(const char *path, Sysroot **ret, ObError *err);
void sysroot_free(Sysroot *s);
DEFINE_CLEANUP_FUNC(Sysroot *, sysroot_free);

/* Called for every symlink met while resolving: link_path is the link's own
 * canonical path inside the sysroot, target the link's content as stored. */
typedef int (*SysrootLinkFn)(void *userdata, const char *link_path, const char *target, ObError *err);

/* Resolves path to its canonical form (absolute, no symlinks, no "." or
 * ".."), reporting each symlink passed through to fn (which may be NULL).
 * Errors: ENOENT naming the missing path, ELOOP after 40 links, EXDEV with
 * "escapes the sysroot" when a ".." would climb above the root. */
int sysroot_resolve(Sysroot *s, const char *path, SysrootLinkFn fn, void *userdata, char **ret_path,
                    ObError *err);

/* The host path of an image path: "<sysroot>/<path>". */
char *sysroot_host_path(const Sysroot *s, const char *path);

/* lstat() and open() of a canonical path, relative to the root fd. */
int sysroot_lstat(const Sysroot *s, const char *path, struct stat *ret_st, ObError *err);
int sysroot_open_file(const Sysroot *s, const char *path, ObError *err);   /* returns fd or -errno */

/* Reads a symlink's target (relative to the root fd). */
int sysroot_readlink(const Sysroot *s, const char *path, char **ret_target, ObError *err);
