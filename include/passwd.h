/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "error.h"
#include "spec.h"

/* /etc/passwd and /etc/group: written into an image from the users and
 * groups of its config, and read back from an unpacked image to learn whom
 * its processes run as. */

/* The content of /etc/passwd for users, one line each, in their order. */
char *passwd_render(const SpecUser *users, size_t n_users);
/* The content of /etc/group for groups, members separated by commas. */
char *group_render(const SpecGroup *groups, size_t n_groups);

/* Whom a process of an image runs as. */
typedef struct ImageAccount {
        uid_t uid;
        gid_t gid;
        gid_t *groups; /* supplementary: the groups of /etc/group that list the user */
        size_t n_groups;
        char *home; /* the user's home in /etc/passwd, "/" when it has none */
} ImageAccount;

void image_account_clear(ImageAccount *a);

/* Resolves user, the User of an image config ("USER[:GROUP]", names or
 * numbers, "" for root, as a container runtime reads it), with the
 * /etc/passwd and /etc/group of the unpacked image at root (symlinks
 * resolved inside it; a missing file counts as empty). A numeric user needs
 * no passwd entry; a name does, and a group name needs a group entry
 * (ENOENT). image_name is for the messages. */
int passwd_lookup(const char *root, const char *image_name, const char *user, ImageAccount *ret, ObError *err);
