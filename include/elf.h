/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

#include "error.h"
#include "util.h"
#include "sysroot.h"

/* Shared-library closure of ELF files, found by reading the files themselves
 * (PT_INTERP, DT_NEEDED, DT_RUNPATH/DT_RPATH with $ORIGIN, ld.so.conf inside
 * the sysroot, default and multiarch directories). Nothing is executed. */

typedef enum ElfDepType {
        ELF_DEP_FILE,    /* a regular file (an ELF object or a root given by the caller) */
        ELF_DEP_SYMLINK, /* a symlink met on the way (libz.so.1, /lib -> usr/lib) */
} ElfDepType;

typedef struct ElfDep {
        char *path; /* canonical path inside the sysroot, absolute ("/usr/lib/x86_64-linux-gnu/libz.so.1.2.13") */
        ElfDepType type;
        char *target;    /* ELF_DEP_SYMLINK: the link's content as stored; else NULL */
        char *needed_by; /* the path that made it necessary ("/usr/bin/curl"); NULL for a root */
} ElfDep;

typedef struct ElfClosure ElfClosure;

int elf_closure_new(Sysroot *sysroot, ElfClosure **ret, ObError *err);
void elf_closure_free(ElfClosure *c);
DEFINE_CLEANUP_FUNC(ElfClosure *, elf_closure_free);

typedef enum ElfClosureFlags {
        /* A file that is not a supported ELF object is an error (a binary
         * named in a config), not a plain file of the closure (a data file
         * that happens to be looked at). */
        ELF_CLOSURE_MUST_BE_ELF = 1 << 0,
} ElfClosureFlags;

/* Adds path (absolute, inside the sysroot; may be a symlink) and everything
 * it needs, recursively. Errors about path itself start with it quoted
 * ("'/usr/bin/ldd': not an ELF file"). */
int elf_closure_add(ElfClosure *c, const char *path, ElfClosureFlags flags, ObError *err);

/* The result: every file and symlink, each once, in the order found. */
size_t elf_closure_count(const ElfClosure *c);
const ElfDep *elf_closure_get(const ElfClosure *c, size_t i);

/* e_machine values, spelled out here because this header shadows the
 * system's <elf.h> for everything built with the project's include path. */
enum {
        ELF_MACHINE_X86_64 = 62,   /* EM_X86_64 */
        ELF_MACHINE_AARCH64 = 183, /* EM_AARCH64 */
};

/* Low level, for tests and the fuzz target: parses an ELF image in memory. */
typedef struct ElfInfo {
        int machine;   /* EM_X86_64 or EM_AARCH64 */
        char *interp;  /* PT_INTERP or NULL */
        char **needed; /* NULL-terminated DT_NEEDED list */
        char *runpath; /* DT_RUNPATH or NULL */
        char *rpath;   /* DT_RPATH or NULL */
        char *soname;  /* DT_SONAME or NULL (ld.so matches DT_NEEDED against it) */
} ElfInfo;

/* Fails with EINVAL and a message naming name for anything but a
 * little-endian ELF64 executable or shared object for x86-64 or aarch64, and
 * for any offset, size or string that does not fit in the image. ret is only
 * filled on success. */
int elf_parse(const void *data, size_t size, const char *name, ElfInfo *ret, ObError *err);
/* Like elf_parse() for a file that may be anything: 1 and ret for a supported
 * ELF object, 0 with the reason in err for anything else (not ELF, another
 * class, byte order or machine, not loadable), and -EINVAL for a file that
 * claims to be a supported ELF object but is damaged. */
int elf_probe(const void *data, size_t size, const char *name, ElfInfo *ret, ObError *err);
void elf_info_clear(ElfInfo *info);

/* The Debian multiarch triplet ("x86_64-linux-gnu"), NULL for other machines. */
const char *elf_machine_multiarch(int machine);
