/* SPDX-License-Identifier: MIT */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "layout.h"
#include "plan.h"
#include "sysroot.h"

/* The platform an image is for, in OCI spelling: os "linux", architecture
 * "amd64" or "arm64" (variant "v8"). It is read from the files an image is
 * made of — the ELF machine of its binaries, the sysroot's dpkg
 * architecture — never from the machine that builds it. */
typedef struct Platform {
        char os[16];
        char arch[16];
        char variant[8]; /* "" when none */
} Platform;

/* The platforms images can be built for. */
extern const Platform platform_supported[];
extern const size_t platform_n_supported;

/* "linux/arm64", "linux/arm64/v8", "linux/amd64". Anything else (another
 * os, an architecture we cannot build, a malformed string) is EINVAL with
 * a message naming it. */
int platform_parse(const char *s, Platform *ret, ObError *err);
/* A comma-separated list of the above, or "all"; duplicates are dropped. */
int platform_parse_list(const char *s, Platform **ret, size_t *ret_n, ObError *err);

/* "linux/arm64/v8" (no variant: "linux/amd64"). */
char *platform_string(const Platform *p);
/* "linux-arm64": a directory or file name. */
char *platform_slug(const Platform *p);
bool platform_equal(const Platform *a, const Platform *b);

/* The platform of an ELF e_machine (62 → amd64, 183 → arm64 v8); false for
 * one we cannot build for. */
bool platform_from_elf_machine(int machine, Platform *ret);
/* The platform of a Debian architecture name ("amd64", "arm64"). */
bool platform_from_dpkg_arch(const char *arch, Platform *ret);

/* The platform this program was compiled for: only to choose which image
 * of an index to run or tag here, never to label an image. */
void platform_native(Platform *ret);

/* The dpkg architecture of a sysroot: the Architecture of its installed
 * libc6 (or base-files), else the first line of var/lib/dpkg/arch. 1 and
 * ret when known, 0 when the tree says nothing (no dpkg database). */
int platform_of_sysroot(Sysroot *root, Platform *ret, ObError *err);

/* What the ELF files of some layers say. */
typedef struct PlatformProbe {
        bool found;
        Platform platform;
        char *file; /* the first executable or shared object seen: its host path */
} PlatformProbe;
void platform_probe_clear(PlatformProbe *p);

/* Reads the ELF header of every regular file of plan (executables and
 * shared objects; relocatable objects and other files are passed over) and
 * adds its machine to probe. Two machines are an error naming a file of
 * each. */
int platform_probe_plan(PlatformProbe *probe, const Plan *plan, ObError *err);
/* The machine of an ELF header in memory: 1 and ret_machine for an
 * executable or shared object, 0 for anything else. */
int platform_elf_header_machine(const void *data, size_t size, int *ret_machine);

/* {"architecture": ..., "os": ..., "variant": ...} */
json_t *platform_json(const Platform *p);
/* Whether an index entry's "platform" names p (a missing variant matches). */
bool platform_json_matches(json_t *platform, const Platform *p);

/* Writes an OCI image index over one manifest descriptor per platform
 * (each with its "platform"; borrowed) and names it `name` in the layout's
 * index with the annotations of the first one. The manifests are listed in
 * the order given. */
int platform_index_write(Layout *l, const char *name, json_t *const *manifests, size_t n, ObError *err);

/* The manifest descriptor of the image `name` for platform p (NULL: the
 * native one, else the first of the index): the entry itself when it is a
 * manifest (whatever its platform, for p NULL; an error naming the
 * platform it has otherwise), or the matching entry of the image index it
 * names, with the index entry's annotations added. A new reference. */
int platform_resolve(Layout *l, const char *name, const Platform *p, json_t **ret_desc, ObError *err);
/* The platforms of the image `name` (one for a plain manifest). */
int platform_list(Layout *l, const char *name, Platform **ret, size_t *ret_n, ObError *err);

/* Where the sysroot of a platform is by default: $OCI_BUILD_SYSROOTS/SLUG,
 * else the cache directory's sysroots/SLUG. */
char *platform_sysroot_dir(const Platform *p);

/* How a build learns its platform: from the sysroot's dpkg architecture,
 * else from the ELF files of the images planned, else the platform asked
 * for, else the native one (a tree without dpkg database or ELF file, such
 * as a base image from a bare directory, says nothing). Whatever disagrees
 * with what is known already is an error naming both. */
typedef struct PlatformChoice {
        Platform platform;
        bool known;       /* from the files */
        char *from;       /* what said so: "sysroot 'DIR'" or the ELF file */
        bool asked;       /* platform was given with --platform */
        Platform request; /* when asked */
} PlatformChoice;

int platform_choice_init(PlatformChoice *c, Sysroot *root, const Platform *asked, ObError *err);
int platform_choice_add_plan(PlatformChoice *c, const Plan *plan, ObError *err);
const Platform *platform_choice_get(const PlatformChoice *c);
void platform_choice_clear(PlatformChoice *c);

/* The sysroot a build for p reads: sysroot (--sysroot, default "/") for the
 * native platform, and for another one when it is the only platform and
 * sysroot was given; else platform_sysroot_dir(p), which must exist (the
 * error says how to make it). */
int platform_sysroot_for(const Platform *p, const char *sysroot, bool sysroot_given, bool several, char **ret,
                         ObError *err);

/* 0 when programs of p run here: the native platform, or another one for
 * which the kernel has an enabled binfmt_misc handler (qemu-user-static);
 * otherwise ENOEXEC with a message saying what to install. */
int platform_can_run(const Platform *p, ObError *err);
