/* SPDX-License-Identifier: MIT */
#pragma once

/* The system-call filter of a test step: what a container runtime's default
 * profile refuses (keys, modules, BPF, kexec, ptrace, mounts, new
 * namespaces, clocks, swap, reboot) fails with EPERM; a process of another
 * architecture is killed. For the calling process and what it executes;
 * needs no_new_privs or CAP_SYS_ADMIN. Returns 0, -ENOTSUP on an
 * architecture without a filter, or -errno. */
int seccomp_install_container_filter(void);
