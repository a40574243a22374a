/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dpkg.h"
#include "error.h"
#include "plan.h"
#include "sysroot.h"
#include "util.h"

/* Which Debian package owns each file of an image, from the sysroot's dpkg
 * database (var/lib/dpkg/status, the info/PACKAGE.list files, diversions), and the records
 * that let scanners see it: /var/lib/dpkg/status.d/PACKAGE (its stanza),
 * status.d/PACKAGE.md5sums (its files in the layer) and
 * /usr/share/doc/PACKAGE/copyright, in the layer that holds the files, as
 * Google's distroless images have them. Only files read from the sysroot
 * the database describes are owned: a rootfs/ file or a generated one at a
 * path a package lists is not that package's file. */

typedef struct PkgdbPackage {
        char *name; /* "libc6" */
        char *arch; /* "amd64", "all" */
        const DpkgParagraph *para;
} PkgdbPackage;

/* A path of the lists, keyed by its canonical form (no leading '/', the
 * /usr form on a merged-/usr sysroot: "usr/lib/x86_64-linux-gnu/libc.so.6"),
 * kept as a flag for "usr/" and the rest, which points into the text of
 * a list (or of the diversions): no string is copied. */
typedef struct PkgdbSlot {
        const char *tail; /* after "usr/" when usr; NULL: an empty slot */
        uint32_t hash;    /* of the canonical form, to skip strcmp() on a mismatch */
        uint32_t owner;   /* index into packages; PKGDB_USR: the form starts with "usr/" */
} PkgdbSlot;

typedef struct Pkgdb {
        Sysroot *root; /* a reference: files from it are the ones the lists describe */
        DpkgStatus *status;
        PkgdbPackage *packages; /* installed ones, sorted by name and architecture */
        size_t n_packages;
        PkgdbSlot *slots; /* open addressing, linear probing, sized once from the lists' lines */
        size_t slots_cap;
        char **texts; /* the lists and the diversions, lines ended in place */
        size_t n_texts;
        char **merged;        /* top-level directories that are links into usr/ ("lib", "bin"...) */
        struct Md5Cache *md5; /* a reference (md5-cache.h), or NULL: every md5 is computed */
        unsigned threads;     /* that read the files of the records; 0 or 1: the caller's alone */
} Pkgdb;

/* Loads root's database, its lists read on up to threads threads (0 or 1:
 * the caller's alone), which db->threads keeps for the records. A sysroot
 * without var/lib/dpkg/status gives 0 and *ret = NULL: there are no
 * records to write. A malformed status file is an
 * error naming its file and line. */
int pkgdb_load(Sysroot *root, unsigned threads, Pkgdb **ret, ObError *err);
void pkgdb_free(Pkgdb *db);
/* The one line that says so, once images without records are written (not
 * before: a build that fails says only why). */
void pkgdb_note_no_database(const Sysroot *root);
DEFINE_CLEANUP_FUNC(Pkgdb *, pkgdb_free);

/* The package that owns an image path as a plan entry has it: through the
 * sysroot path it was read from, else the image path. NULL when none does,
 * or when the entry does not come from the database's sysroot. */
const PkgdbPackage *pkgdb_entry_owner(const Pkgdb *db, const Entry *e);
/* The owner of a path as dpkg would name it ("/lib/x/libc.so.6" and
 * "/usr/lib/x/libc.so.6" alike on a merged-/usr sysroot). */
const PkgdbPackage *pkgdb_path_owner(const Pkgdb *db, const char *path);

/* Adds the records of every package that owns a regular file of p (which
 * plan_finish() has seen), then finishes p again. Their mtime is mtime.
 * The md5 of a source file db->md5 knows is not computed again. */
int pkgdb_add_records(const Pkgdb *db, Plan *p, int64_t mtime, ObError *err);

/* The base layer's identity of the distribution: os-release's ID,
 * VERSION_ID and VERSION_CODENAME from the sysroot's os-release (the rest
 * of p's usr/lib/os-release is kept), and the sysroot's
 * /etc/debian_version. Nothing changes for a sysroot without os-release. */
int pkgdb_add_distro(Sysroot *root, Plan *p, int64_t mtime, ObError *err);

/* The stanza of a package as status.d holds it: its fields as dpkg's
 * database has them, with "Status: install ok installed", without the
 * fields that only describe dpkg's own state (Conffiles, Config-Version). */
char *pkgdb_stanza(const PkgdbPackage *pkg);
