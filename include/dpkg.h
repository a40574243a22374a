/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "error.h"
#include "sysroot.h"
#include "util.h"

/* The dpkg database of a sysroot (var/lib/dpkg/status), read as a file:
 * nothing is executed, so it works for a sysroot of another machine too.
 * The file is deb822: paragraphs of "Name: value" fields separated by blank
 * lines, a value going on over lines that start with a space or a tab. */

typedef struct DpkgField {
        char *name;
        char *value; /* first line without the blanks around it, then "\n" and each continuation line */
} DpkgField;

typedef struct DpkgParagraph {
        DpkgField *fields;
        size_t n_fields;
} DpkgParagraph;

typedef struct DpkgStatus {
        DpkgParagraph *paragraphs;
        size_t n_paragraphs;
        char *text;     /* the file's text, from dpkg_status_load(); NULL from dpkg_status_parse() */
        struct stat st; /* of the file read, from dpkg_status_load() */
        unsigned n_ref;
} DpkgStatus;

/* Parses the text of a status file. Lines that are neither a field nor the
 * continuation of one are passed over, as a damaged database is still worth
 * reading for the packages it does describe. */
DpkgStatus *dpkg_status_parse(const char *text);
/* What dpkg_status_parse() passes over, as an error naming file and line:
 * a line that is neither a field, a continuation of one nor blank, a
 * continuation with no field before it, a paragraph without Package. For
 * records written from the database, which must not describe a damaged
 * entry as if it were whole. */
int dpkg_status_check(const char *text, const char *file, ObError *err);
/* Reads /var/lib/dpkg/status of root, once for all its readers (the
 * platform, the tools' versions, the package records) while the file is
 * unchanged: the same inode, size, mtime and ctime. The result is shared;
 * *ret is a reference of the caller's, to drop with dpkg_status_free(). */
int dpkg_status_load(Sysroot *root, DpkgStatus **ret, ObError *err);
/* Drops a reference; the last one frees. Accepts NULL. */
void dpkg_status_free(DpkgStatus *s);
DEFINE_CLEANUP_FUNC(DpkgStatus *, dpkg_status_free);

/* The value of a field (names compare without regard to case, as deb822
 * says), or NULL. */
const char *dpkg_paragraph_get(const DpkgParagraph *p, const char *name);
/* True when the Status field says the package is installed ("install ok
 * installed"), not merely known ("deinstall ok config-files", "purge ok
 * not-installed") or half done ("install reinstreq half-installed"). */
bool dpkg_paragraph_installed(const DpkgParagraph *p);
/* The first installed package of that name, or NULL. */
const DpkgParagraph *dpkg_status_find_installed(const DpkgStatus *s, const char *package);

/* The version of an installed Debian package in root's database; ENOPKG with
 * the command that installs it when it is not installed. */
int dpkg_package_version(Sysroot *root, const char *package, char **ret, ObError *err);

/* The paths an installed package put on disk, directories included, as dpkg
 * recorded them in var/lib/dpkg/info/PACKAGE.list (PACKAGE:ARCH.list for a
 * Multi-Arch: same package). */
int dpkg_paragraph_files(Sysroot *root, const DpkgParagraph *p, char ***ret, ObError *err);

/* The longest tag Docker and the OCI distribution spec accept. */
#define DPKG_TAG_MAX 128

/* A Debian version in the form a Docker tag can hold
 * ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}), starting with the upstream version:
 *   - the epoch ("1:" in "1:2.39.5-0+deb12u3") is dropped;
 *   - '~' becomes '-' ("1.0~rc1-1" -> "1.0-rc1-1");
 *   - '+' becomes '_' ("7.88.1-10+deb12u15" -> "7.88.1-10_deb12u15"), and so
 *     does any other character a tag cannot hold (a ':' after the epoch);
 *   - a leading '.' or '-' becomes '_', and the tag is cut at 128 characters.
 * The full version goes into the image's IMAGE_ANNOTATION_DEBIAN_VERSION.
 * NULL when nothing is left after the epoch. */
char *dpkg_version_tag(const char *version);
