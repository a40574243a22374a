/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "spec.h"
#include "sysroot.h"

/* The plan of one layer: every entry of its tar, in the order written. */

typedef enum EntryType {
        ENTRY_DIR,
        ENTRY_FILE,
        ENTRY_SYMLINK,
        ENTRY_HARDLINK,
} EntryType;

typedef struct Entry {
        char *path;          /* relative to the image root, no leading '/': "etc/passwd" */
        EntryType type;
        uint32_t mode;       /* permission bits, 07777 */
        uint32_t uid, gid;
        int64_t mtime;       /* clamped to SOURCE_DATE_EPOCH when written */
        uint64_t size;       /* ENTRY_FILE */
        char *source;        /* ENTRY_FILE from the host: the host path; else NULL */
        char *data;          /* ENTRY_FILE generated: the bytes (size of them) */
        char *target;        /* ENTRY_SYMLINK: content; ENTRY_HARDLINK: the linked entry's path */
        char *why;           /* why it is in the image, for `show --files` */
        uint64_t dev, ino;   /* host identity, to keep hard links as hard links */
        uint32_t nlink;
} Entry;

typedef struct Plan {
        Entry *entries;
        size_t n, cap;
        size_t *index;       /* open-addressing hash of paths: entry number + 1, 0 = empty */
        size_t index_cap;
} Plan;

void plan_init(Plan *p);
/* Frees the entries and leaves p empty (as after plan_init()). */
void plan_clear(Plan *p);
/* For a Plan variable initialised to {}. */
#define _cleanup_plan_ _cleanup_(plan_clear)

/* Adds a copy of e (path in any form: "/etc/x" or "etc/x"; it is
 * normalised). Adding the same path twice is accepted when both describe the
 * same thing (same type, mode, owner and content); otherwise it is an error
 * naming the path and both reasons. */
int plan_add(Plan *p, const Entry *e, ObError *err);

/* Adds the parent directories that are missing (0755 root:root), sorts the
 * entries and checks that no entry sits below a non-directory. */
int plan_finish(Plan *p, int64_t mtime, ObError *err);

const Entry *plan_find(const Plan *p, const char *path);

/* Totals over regular files. */
uint64_t plan_content_size(const Plan *p);

/* Adds a host tree or file from the sysroot: src is resolved (symlinks on
 * the way followed; escaping the sysroot is an error), a directory is copied
 * whole with its inner symlinks kept as symlinks, excluded paths skipped. */
typedef struct PlanCopyOptions {
        const char *dst;               /* image path ("/usr/share/zoneinfo") */
        const char *src;               /* path inside the sysroot */
        char *const *exclude;          /* fnmatch globs against image paths */
        bool has_mode;
        uint32_t mode;
        uint32_t uid, gid;
        bool normalize_modes;          /* files 0644/0755, dirs 0755: for trees from a checkout */
        bool keep_links;               /* src == dst: symlinks on the way stay symlinks, and the
                                        * content lands at its real path */
        const char *why;
} PlanCopyOptions;

int plan_add_host(Plan *p, Sysroot *root, const PlanCopyOptions *o, ObError *err);

/* The whole layer of a base-tier spec. */
int plan_from_spec(Plan *p, const Spec *s, Sysroot *root, int64_t mtime, ObError *err);
