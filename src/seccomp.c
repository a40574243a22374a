/* SPDX-License-Identifier: MIT */
#include "seccomp.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "util.h"

#if defined(__x86_64__)
#define SECCOMP_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SECCOMP_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#define CLONE_NEW_ANY \
        (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP)

/* What docker's default profile refuses a container: calls that reach the
 * host's kernel state (keys, modules, BPF, clocks, swap, reboot), other
 * processes' memory, and new mounts or namespaces (ours are made by now). */
static const int denied_syscalls[] = {
        __NR_keyctl,
        __NR_add_key,
        __NR_request_key,
        __NR_bpf,
        __NR_kexec_load,
        __NR_kexec_file_load,
        __NR_init_module,
        __NR_finit_module,
        __NR_delete_module,
        __NR_ptrace,
        __NR_mount,
        __NR_umount2,
        __NR_pivot_root,
        __NR_move_mount,
        __NR_fsopen,
        __NR_fsmount,
        __NR_fsconfig,
        __NR_fspick,
        __NR_open_tree,
        __NR_mount_setattr,
        __NR_unshare,
        __NR_setns,
        __NR_perf_event_open,
        __NR_swapon,
        __NR_swapoff,
        __NR_reboot,
        __NR_acct,
        __NR_settimeofday,
        __NR_clock_settime,
        __NR_clock_adjtime,
        __NR_adjtimex,
        __NR_quotactl,
        __NR_lookup_dcookie,
        __NR_process_vm_readv,
        __NR_process_vm_writev,
        __NR_kcmp,
        __NR_userfaultfd,
        __NR_open_by_handle_at,
        __NR_name_to_handle_at,
        __NR_fanotify_init,
        __NR_syslog,
        __NR_vhangup,
        __NR_nfsservctl,
#ifdef __x86_64__
        __NR_iopl,
        __NR_ioperm,
        __NR_uselib,
        __NR__sysctl,
        __NR_create_module,
        __NR_get_kernel_syms,
        __NR_query_module,
#endif
};

/* Raw BPF: no library needed for a list this size. A foreign architecture
 * (a 32-bit program) would get other numbers past the list, so it is
 * killed; the x32 ABI of x86_64 likewise. */
int seccomp_install_container_filter(void)
{
#ifdef SECCOMP_AUDIT_ARCH
        struct sock_filter f[2 * ELEMENTSOF(denied_syscalls) + 16];
        size_t n = 0;
#define EMIT(...) (f[n++] = (struct sock_filter) __VA_ARGS__)
        EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
        EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SECCOMP_AUDIT_ARCH, 1, 0));
        EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
        EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)));
#ifdef __x86_64__
        EMIT(BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u /* __X32_SYSCALL_BIT */, 0, 1));
        EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
#endif
        for (size_t i = 0; i < ELEMENTSOF(denied_syscalls); i++) {
                EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned) denied_syscalls[i], 0, 1));
                EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM));
        }
        /* clone3 passes its flags in memory, out of the filter's reach:
         * ENOSYS makes the C library fall back to clone. */
        EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1));
        EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS));
        EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 3));
        EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])));
        EMIT(BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_NEW_ANY, 0, 1));
        EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM));
        EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
#undef EMIT
        struct sock_fprog prog = { .len = (unsigned short) n, .filter = f };
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
                return -errno;
        return 0;
#else
        return -ENOTSUP;
#endif
}
