/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "sysroot.h"
#include "util.h"

/* The dpkg database of a sysroot (var/lib/dpkg/status), read as a file:
 * nothing is executed, so it works for a sysroot of another machine too.
 * The file is deb822: paragraphs of "Name: value" fields separated by blank
 * lines, a value going on over lines that start with a space or a tab. */

typedef struct DpkgField {
        char *name;
        char *value;       /* first line without the blanks around it, then "\n" and each continuation line */
} DpkgField;

typedef struct DpkgParagraph {
        DpkgField *fields;
        size_t n_fields;
} DpkgParagraph;

typedef struct DpkgStatus {
        DpkgParagraph *paragraphs;
        size_t n_paragraphs;
} DpkgStatus;

/* Parses the text of a status file. Lines that are neither a field nor the
 * continuation of one are passed over, as a damaged database is still worth
 * reading for the packages it does describe. */
DpkgStatus *dpkg_status_parse(const char *text);
/* Reads /var/lib/dpkg/status of root. */
int dpkg_status_load(Sysroot *root, DpkgStatus **ret, ObError *err);
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

/* The version of an installed Debian package in root's database; ENOENT with
 * the command that installs it when it is not installed. */
int dpkg_package_version(Sysroot *root, const char *package, char **ret, ObError *err);
