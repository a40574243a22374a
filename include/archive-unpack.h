/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

/* Release archives (.tar.gz, .tar.xz, .zip) unpacked with libarchive into a
 * directory of our own. Nothing of an archive lands outside that directory:
 * an entry named with '..' or an absolute path, one that passes through a
 * symlink, a symlink that points out and a hard link to something outside are
 * refused, and so is an archive that unpacks to more than a size limit (an
 * archive bomb). On any error the directory is removed again, so nothing half
 * unpacked is left. */

#define ARCHIVE_UNPACK_DEFAULT_MAX (UINT64_C(4) << 30)
#define ARCHIVE_UNPACK_MAX_ENTRIES 1000000

typedef struct ArchiveUnpackOptions {
        unsigned strip_components; /* leading path components dropped; shorter paths are skipped */
        char *const *include; /* fnmatch globs against the stripped path (or a leading directory of it); NULL: all */
        char *const *exclude; /* the same; wins over include */
        uint64_t max_bytes;   /* of file data unpacked; 0: ARCHIVE_UNPACK_DEFAULT_MAX */
        const char *name;     /* the archive in messages (its URL); NULL: its path */
} ArchiveUnpackOptions;

/* Whether a file or URL name ends like an archive this module unpacks:
 * .tar, .tar.gz, .tgz, .tar.xz, .txz, .zip. */
bool archive_unpack_is_archive(const char *name);

/* Unpacks archive into dir, which must not exist yet (its parent must).
 * Files keep their executable bit, modes are masked to 0755; directories are
 * 0755. Errors name the archive and the entry; EINVAL for an archive that
 * is not one or an entry that is refused, EFBIG for one over the limit. */
int archive_unpack(const char *archive, const char *dir, const ArchiveUnpackOptions *o, ObError *err);
