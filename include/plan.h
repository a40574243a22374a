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
        char *path; /* relative to the image root, no leading '/': "etc/passwd" */
        EntryType type;
        uint32_t mode; /* permission bits, 07777 */
        uint32_t uid, gid;
        int64_t mtime;     /* clamped to SOURCE_DATE_EPOCH when written */
        uint64_t size;     /* ENTRY_FILE */
        char *source;      /* ENTRY_FILE from the host: the host path (shown to users); else NULL */
        Sysroot *root;     /* ENTRY_FILE from a sysroot: a reference to it, which the layer writer reads
                              * source_path through; NULL for a source opened by its host path */
        char *source_path; /* with root: the canonical path inside it */
        char *data;        /* ENTRY_FILE generated: the bytes (size of them) */
        char *target;      /* ENTRY_SYMLINK: content; ENTRY_HARDLINK: the linked entry's path */
        char *why;         /* why it is in the image, for `show --files` */
        uint64_t dev, ino; /* host identity, to keep hard links as hard links and to tell the file
                              * the layer writer opens is the one planned */
        uint32_t nlink;
} Entry;

typedef struct Plan {
        Entry *entries;
        size_t n, cap;
        size_t *index; /* open-addressing hash of paths: entry number + 1, 0 = empty */
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
 * whole with its inner symlinks kept as symlinks, excluded paths skipped.
 * Directories are read through descriptors opened inside the sysroot, and
 * each is checked to be the one that was looked at.
 *
 * A private file - not world-readable (unless normalize_modes: a checkout's
 * modes follow its cloner's umask and say nothing), under /etc/ssl/private,
 * /root or /home (unless src itself is there), or /etc/shadow and
 * /etc/gshadow - is copied only when src names it
 * exactly; reached through a directory, a symlink on the way or a link
 * target, it is an error naming it and origin. */
typedef struct PlanCopyOptions {
        const char *dst;      /* image path ("/usr/share/zoneinfo") */
        const char *src;      /* path inside the sysroot */
        char *const *exclude; /* fnmatch globs against image paths */
        bool has_mode;
        uint32_t mode;
        uint32_t uid, gid;
        bool normalize_modes; /* files 0644/0755, dirs 0755: for trees from a checkout */
        bool keep_links;      /* src == dst: symlinks on the way stay symlinks, and the
                                        * content lands at its real path */
        bool via_link;        /* src is the target of a symlink, not a path a config named */
        bool allow_private;   /* copy private files too: a tree this program made itself */
        const char *why;
        const char *origin; /* the config line behind this copy, for errors; why when NULL */
} PlanCopyOptions;

int plan_add_host(Plan *p, Sysroot *root, const PlanCopyOptions *o, ObError *err);

/* Like plan_add_host() for a file or tree of the host named by path (o->src
 * is not used): an app's local artifact, a 'files' source written relative
 * to its config. It is read through a Sysroot opened on its directory, so the
 * tree below it is held as any sysroot's; a symlink given as path itself is
 * followed. */
int plan_add_local(Plan *p, const char *path, const PlanCopyOptions *o, ObError *err);

/* The 'files', 'directories' and 'symlinks' of a spec, which every tier
 * names the same way. */
int plan_add_spec_files(Plan *p, Sysroot *root, const Spec *s, ObError *err);
int plan_add_spec_dirs(Plan *p, const Spec *s, int64_t mtime, ObError *err);
int plan_add_spec_links(Plan *p, const Spec *s, int64_t mtime, ObError *err);

/* The whole layer of a base-tier spec. */
int plan_from_spec(Plan *p, const Spec *s, Sysroot *root, int64_t mtime, ObError *err);
