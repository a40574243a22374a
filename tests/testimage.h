/* SPDX-License-Identifier: MIT */
#pragma once

/* Small images for the unpack and sandbox tests: layers written by our own
 * writer from a plan or by hand with libarchive, images in fresh layouts
 * under one temporary directory, and checks of the unpacked tree. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "layout.h"
#include "oci.h"
#include "plan.h"

/* The temporary directory everything below lands in: made by setup (named
 * after the test), removed whole by teardown. For an unchecked fixture. */
void test_image_setup(const char *name);
void test_image_teardown(void);
/* That directory. */
const char *test_image_tmpdir(void);

/* A fresh directory (0755) under the temporary directory. */
char *test_dir(const char *name);
/* A new layout under the temporary directory. */
Layout *new_layout(const char *name);

void add(Plan *p, const Entry *e);
void add_data(Plan *p, const char *path, const char *data, uint32_t mode, uint32_t uid, uint32_t gid);
void add_dir(Plan *p, const char *path, uint32_t mode, uint32_t uid, uint32_t gid);

/* The users, /tmp and a home: what every test image has. /etc/passwd
 * holds root and nonroot (1000:1000, home /home/nonroot, 0700), and
 * /etc/group also lists nonroot in the group extra (2000). */
void add_base(Plan *p);

void write_plan_layer(Layout *l, Plan *p, OciLayerInfo *ret);

/* A layer made by hand with libarchive's writer: what our own writer
 * would never produce (whiteouts, "../x"). Types: 'f' file, 'd' dir,
 * 'l' symlink, 'h' hard link. */
typedef struct TarEntry {
        const char *path;
        char type;
        const char *data; /* content, or link target */
        mode_t mode;
} TarEntry;

void write_raw_layer(Layout *l, const TarEntry *entries, size_t n, OciLayerInfo *ret);

/* An image of version 1.0 with Env PATH=/usr/bin:/bin and A=1, WorkingDir
 * /home/nonroot and User user. */
void write_image(Layout *l, const char *name, const char *user, const OciLayerInfo *layers, size_t n);

/* path (relative to root) is of type, with perm (not for a symlink) and,
 * when the test runs as root, owned by uid:gid. */
void check_stat(const char *root, const char *path, mode_t type, mode_t perm, uid_t uid, gid_t gid);
void check_content(const char *root, const char *path, const char *want);
bool exists(const char *root, const char *path);
