/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

#include "elf.h"
#include "error.h"
#include "plan.h"
#include "sysroot.h"

/* A library closure as entries of a layer: the libraries of a tool's
 * binaries, and those of an app's ELF artifacts, taken from the sysroot. */

/* Adds the files and symlinks of c from index from on to p, each "needed by"
 * what needed it; a dep that nothing needed (a root of the closure) is
 * explained by root_why (NULL: "binary named in config"). What a layer below
 * already holds (below[0..n_below)) is left out, a symlink only when it
 * points to the same target there. */
int closure_plan_add(Plan *p, const Plan *const *below, size_t n_below, Sysroot *root, const ElfClosure *c, size_t from,
                     const char *root_why, ObError *err);

/* For a file that is not in the sysroot (an app's artifact, host_path, at
 * image_path in the image): when it is a dynamically linked ELF object, adds
 * its program interpreter and the libraries it needs, with theirs, from the
 * sysroot via c, as closure_plan_add() does. A needed library found in p
 * itself (another artifact, by DT_RUNPATH $ORIGIN or the default
 * directories) is taken from there. Anything that is not a supported ELF
 * object adds nothing. A library the sysroot lacks is an error naming
 * image_path, its interpreter and the library. */
int closure_plan_add_foreign(Plan *p, const Plan *const *below, size_t n_below, ElfClosure *c, Sysroot *root,
                             const char *image_path, const char *host_path, ObError *err);
