/* SPDX-License-Identifier: MIT */
#pragma once

#include "error.h"
#include "platform.h"

/* A Debian tree of another architecture for builds to read, made with
 * mmdebstrap from the mirror apt already uses. Nothing of the foreign
 * architecture runs: the packages are only unpacked (--variant=extract),
 * and what their maintainer scripts would have made and the rest of the
 * program reads is written from the .deb files themselves: the dpkg
 * database (var/lib/dpkg/status, info/PACKAGE.list, arch) and the CA
 * bundle (from /etc/ca-certificates.conf, as update-ca-certificates
 * concatenates it). */

typedef struct DebrootOptions {
        const Platform *platform;
        const char *dir;       /* made, or replaced once the new tree is complete */
        char *const *packages; /* besides base-files, libc6, libc-bin, ca-certificates, tzdata */
        const char *suite;     /* "bookworm"; NULL: the host's own release */
        const char *log;       /* mmdebstrap's output; NULL: DIR.log */
} DebrootOptions;

/* The packages every sysroot holds: what the base image and the ELF
 * closure read. */
extern const char *const debroot_base_packages[];

int debroot_make(const DebrootOptions *o, ObError *err);

/* Writes the dpkg database of tree from the .deb files under debs (their
 * control fields with "Status: install ok installed", and each one's file
 * list), and var/lib/dpkg/arch. */
int debroot_record_packages(const char *tree, const char *debs, const char *dpkg_arch, ObError *err);

/* Writes etc/ssl/certs/ca-certificates.crt of tree from the certificates
 * etc/ca-certificates.conf names under usr/share/ca-certificates. */
int debroot_ca_bundle(const char *tree, ObError *err);
