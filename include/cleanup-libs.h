/* SPDX-License-Identifier: MIT */
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>

#include "util.h"

/* Scope-bound cleanup for the types of the libraries we use. */

/* jansson has json_decrefp(). */
#define _cleanup_json_ _cleanup_(json_decrefp)

static inline void archive_read_freep(struct archive **a)
{
        if (*a)
                archive_read_free(*a);
}
static inline void archive_write_freep(struct archive **a)
{
        if (*a)
                archive_write_free(*a);
}
#define _cleanup_archive_read_ _cleanup_(archive_read_freep)
#define _cleanup_archive_write_ _cleanup_(archive_write_freep)

static inline void archive_entry_freep(struct archive_entry **e)
{
        if (*e)
                archive_entry_free(*e);
}
#define _cleanup_archive_entry_ _cleanup_(archive_entry_freep)
