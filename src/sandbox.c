/* SPDX-License-Identifier: MIT */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/keyctl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "path.h"
#include "seccomp.h"
#include "util.h"

#define OUTPUT_MAX (16u * 1024u * 1024u)
#define CHILD_STACK (1024u * 1024u)
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#define STEP_NAMESPACES (CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET)

/* ---- signals ------------------------------------------------------------ */

static volatile sig_atomic_t caught_signal;

static void on_signal(int sig)
{
        caught_signal = sig;
}

void sandbox_catch_signals(void)
{
        /* No SA_RESTART: a poll() waiting for a step's output must return
         * so that the step is killed and the tree removed. */
        struct sigaction sa = { .sa_handler = on_signal };
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
}

int sandbox_interrupted(void)
{
        return caught_signal;
}

int sandbox_check_interrupted(ObError *err)
{
        if (!caught_signal)
                return 0;
        return ob_error_plain(err, EINTR, "interrupted by signal %d (%s)", (int) caught_signal,
                              strsignal(caught_signal));
}

/* ---- the unpacked tree ---------------------------------------------------- */

int sandbox_remove_tree(const char *dir, ObError *err)
{
        int r = 0;
        /* The mounts of a step live in its own mount namespace, which the
         * kernel tears down as the step's last process exits; give it a
         * moment rather than leave the tree behind. */
        for (int tries = 0; tries < 50; tries++) {
                r = rm_rf_at(AT_FDCWD, dir);
                if (r != -EXDEV)
                        break;
                struct timespec ts = { 0, 20 * 1000 * 1000 };
                nanosleep(&ts, NULL);
        }
        if (r < 0)
                return ob_error_set(err, -r, "cannot remove '%s'", dir);
        return 0;
}

#define OWNER_FILE ".owner"

int sandbox_claim_dir(const char *dir, int *ret_fd, ObError *err)
{
        char pid[32];
        _cleanup_free_ char *path = xasprintf("%s/" OWNER_FILE, dir);
        _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0)
                return ob_error_set(err, errno, "cannot claim '%s'", dir);
        /* For a person looking: the lock is what counts. */
        snprintf(pid, sizeof(pid), "%ld\n", (long) getpid());
        (void) write_all(fd, pid, strlen(pid));
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int sandbox_dir_abandoned(const char *dir)
{
        _cleanup_free_ char *path = xasprintf("%s/" OWNER_FILE, dir);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fd < 0 && errno == ENOENT) {
                /* Not claimed: between mkdtemp() and the claim, or made by
                 * an older version; only an old one is taken. */
                if (lstat(dir, &st) < 0)
                        return -errno;
                return time(NULL) - st.st_mtime > 3600;
        }
        if (fd < 0)
                return -errno;
        if (flock(fd, LOCK_SH | LOCK_NB) < 0)
                return errno == EWOULDBLOCK ? 0 : -errno;
        return 1;
}

/* ---- namespaces ------------------------------------------------------------ */

/* Whether a step runs in a user namespace of its own: for an ordinary
 * user, the only way to make the other namespaces. */
static bool use_userns(void)
{
        return geteuid() != 0;
}

/* The sysctl that forbids an ordinary user a user namespace here, or NULL. */
static const char *userns_sysctl(void)
{
        static const struct {
                const char *path, *name, *blocks;
        } knobs[] = {
                { "/proc/sys/kernel/unprivileged_userns_clone", "kernel.unprivileged_userns_clone", "0" },
                { "/proc/sys/user/max_user_namespaces", "user.max_user_namespaces", "0" },
                { "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
                  "kernel.apparmor_restrict_unprivileged_userns", "1" },
        };
        static char found[128];
        for (size_t i = 0; i < ELEMENTSOF(knobs); i++) {
                char v[32] = "";
                FILE *f = fopen(knobs[i].path, "re");
                if (!f)
                        continue;
                bool got = fgets(v, sizeof(v), f) != NULL;
                fclose(f);
                if (got && strtol(v, NULL, 10) == strtol(knobs[i].blocks, NULL, 10)) {
                        snprintf(found, sizeof(found), "%s is %s", knobs[i].name, knobs[i].blocks);
                        return found;
                }
        }
        return NULL;
}

static int namespaces_error(ObError *err, const char *call, int e)
{
        if (!use_userns())
                return ob_error_plain(err, e, "this machine does not allow new namespaces (%s: %s [%s])", call,
                                      strerror(e), strerrorname_np(e) ?: "?");
        const char *knob = userns_sysctl();
        return ob_error_plain(err, e, "this machine does not allow an ordinary user new namespaces (%s: %s [%s]; %s%s)",
                              call, strerror(e), strerrorname_np(e) ?: "?", knob ? "the sysctl " : "",
                              knob ? knob
                                   : "the sysctls kernel.unprivileged_userns_clone and "
                                     "user.max_user_namespaces control it");
}

/* Maps inside_uid:inside_gid of the calling process's new user namespace to
 * outside_uid:outside_gid, the only ids an ordinary user may map without
 * newuidmap; supplementary groups are then refused, as the kernel requires.
 * Returns 0 or -errno; *ret_file names the file that failed. */
static int userns_map_self(uid_t inside_uid, gid_t inside_gid, uid_t outside_uid, gid_t outside_gid,
                           const char **ret_file)
{
        char uid_map[64], gid_map[64];
        snprintf(uid_map, sizeof(uid_map), "%u %u 1\n", (unsigned) inside_uid, (unsigned) outside_uid);
        snprintf(gid_map, sizeof(gid_map), "%u %u 1\n", (unsigned) inside_gid, (unsigned) outside_gid);
        const char *const files[][2] = {
                { "/proc/self/setgroups", "deny\n" },
                { "/proc/self/uid_map", uid_map },
                { "/proc/self/gid_map", gid_map },
        };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                int fd = open(files[i][0], O_WRONLY | O_CLOEXEC);
                int r = fd < 0 ? -errno : write_all(fd, files[i][1], strlen(files[i][1]));
                if (fd >= 0)
                        close(fd);
                if (r < 0) {
                        *ret_file = files[i][0];
                        return r;
                }
        }
        return 0;
}

/* Reports a failure of a forked helper through its pipe, then exits. */
static _Noreturn __attribute__((format(printf, 3, 4))) void helper_fail(int fd, int e, const char *fmt, ...)
{
        char buf[1024];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (n < 0)
                n = 0;
        if ((size_t) n >= sizeof(buf))
                n = sizeof(buf) - 1;
        if (e)
                n += snprintf(buf + n, sizeof(buf) - (size_t) n, ": %s [%s]", strerror(e), strerrorname_np(e) ?: "?");
        if ((size_t) n >= sizeof(buf))
                n = sizeof(buf) - 1;
        (void) !write(fd, buf, (size_t) n);
        _exit(127);
}

/* Reads what a helper reported before it exited or exec'd; "" for nothing. */
static void read_report(int fd, char *ret_msg, size_t msg_size)
{
        size_t n = 0;
        for (;;) {
                ssize_t k = read(fd, ret_msg + n, msg_size - 1 - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                n += (size_t) k;
                if (n == msg_size - 1)
                        break;
        }
        ret_msg[n] = '\0';
}

int sandbox_check_namespaces(ObError *err)
{
        char msg[1024];
        int pfd[2], status;
        if (pipe2(pfd, O_CLOEXEC) < 0)
                return ob_error_set(err, errno, "cannot make a pipe");
        pid_t pid = fork();
        if (pid < 0) {
                int e = errno;
                close(pfd[0]);
                close(pfd[1]);
                return ob_error_set(err, e, "cannot fork");
        }
        if (pid == 0) {
                /* One call at a time, so that the message names the one refused. */
                uid_t uid = geteuid();
                gid_t gid = getegid();
                const char *file = NULL;
                close(pfd[0]);
                if (use_userns() && unshare(CLONE_NEWUSER) < 0)
                        helper_fail(pfd[1], 0, "unshare(CLONE_NEWUSER)\t%d", errno);
                int r = use_userns() ? userns_map_self(uid, gid, uid, gid, &file) : 0;
                if (r < 0)
                        helper_fail(pfd[1], 0, "write %s\t%d", file, -r);
                if (unshare(STEP_NAMESPACES) < 0)
                        helper_fail(pfd[1], 0,
                                    "unshare(CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWIPC|CLONE_NEWUTS|"
                                    "CLONE_NEWNET)\t%d",
                                    errno);
                _exit(0);
        }
        close(pfd[1]);
        read_report(pfd[0], msg, sizeof(msg));
        close(pfd[0]);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return ob_error_set(err, errno, "cannot wait for a process");
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        char *tab = strchr(msg, '\t');
        if (!tab)
                return namespaces_error(err, "unshare", EPERM);
        *tab = '\0';
        return namespaces_error(err, msg, atoi(tab + 1));
}

/* ---- test files ------------------------------------------------------------ */

int sandbox_create_files(const char *root, const UnpackedImage *img, char *const *files, ObError *err)
{
        _cleanup_strv_ char **paths = NULL;
        char msg[1024];
        int pfd[2], status, r;

        if (!files || !files[0])
                return 0;
        for (size_t i = 0; files[i]; i++) {
                const char *eq = strchr(files[i], '=');
                _cleanup_free_ char *raw = eq ? xstrndup(files[i], (size_t) (eq - files[i])) : xstrdup(files[i]);
                ObError tmp;
                _cleanup_free_ char *p = path_normalize_abs(raw, &tmp);
                if (!eq || !p || !str_startswith(p, "/tmp/"))
                        return ob_error_plain(err, EINVAL, "test file '%s' must be a path under /tmp/", raw);
                strv_push(&paths, p);
        }

        if (pipe2(pfd, O_CLOEXEC) < 0)
                return ob_error_set(err, errno, "cannot make a pipe");
        pid_t pid = fork();
        if (pid < 0) {
                r = ob_error_set(err, errno, "cannot fork");
                close(pfd[0]);
                close(pfd[1]);
                return r;
        }
        if (pid == 0) {
                /* Inside the image, as its user: symlinks resolve as they
                 * will for the steps, and the files belong to that user. */
                const ImageAccount *a = &img->account;
                uid_t uid = geteuid();
                gid_t gid = getegid();
                const char *file = NULL;
                close(pfd[0]);
                /* An ordinary user is the image's user in a namespace of
                 * its own, as in the steps (see sandbox_run_step()). */
                if (use_userns() && unshare(CLONE_NEWUSER) < 0)
                        helper_fail(pfd[1], errno, "unshare(CLONE_NEWUSER)");
                int m = use_userns() ? userns_map_self(a->uid, a->gid, uid, gid, &file) : 0;
                if (m < 0)
                        helper_fail(pfd[1], -m, "cannot write %s", file);
                if (chroot(root) < 0 || chdir("/") < 0)
                        helper_fail(pfd[1], errno, "cannot enter '%s'", root);
                if ((!use_userns() && setgroups(a->n_groups, a->groups) < 0) || setgid(a->gid) < 0 ||
                    setuid(a->uid) < 0)
                        helper_fail(pfd[1], errno, "cannot become user %u:%u", (unsigned) a->uid, (unsigned) a->gid);
                umask(022);
                for (size_t i = 0; paths[i]; i++) {
                        for (char *s = strchr(paths[i] + 1, '/'); s; s = strchr(s + 1, '/')) {
                                *s = '\0';
                                if (mkdir(paths[i], 0755) < 0 && errno != EEXIST)
                                        helper_fail(pfd[1], errno, "cannot create directory '%s' in the image",
                                                    paths[i]);
                                *s = '/';
                        }
                        const char *content = strchr(files[i], '=') + 1;
                        int fd = open(paths[i], O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
                        if (fd < 0)
                                helper_fail(pfd[1], errno, "cannot create '%s' in the image", paths[i]);
                        int k = write_all(fd, content, strlen(content));
                        if (k < 0 || close(fd) < 0)
                                helper_fail(pfd[1], k < 0 ? -k : errno, "cannot write '%s' in the image", paths[i]);
                }
                _exit(0);
        }
        close(pfd[1]);
        read_report(pfd[0], msg, sizeof(msg));
        close(pfd[0]);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return ob_error_set(err, errno, "cannot wait for a process");
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return ob_error_plain(err, EIO, "%s", msg[0] ? msg : "cannot create the test's files");
        return 0;
}

/* ---- one step ---------------------------------------------------------------- */

void step_result_clear(StepResult *r)
{
        if (!r)
                return;
        free(r->why);
        free(r->output);
        *r = (StepResult){ 0 };
}

/* What the child needs, prepared before it starts: between clone() and
 * execve() it only makes system calls. */
typedef struct StepChild {
        const char *root;
        const char *hostname;
        char *const *argv;
        char *const *envp;
        const char *path; /* PATH, for a command without a '/' */
        const char *workdir;
        uid_t uid;
        gid_t gid;
        const gid_t *groups;
        size_t n_groups;
        bool userns; /* in a user namespace of its own, uid and gid mapped to outside_* */
        uid_t outside_uid;
        gid_t outside_gid;
        int out_fd;            /* becomes stdout and stderr */
        int report_fd;         /* close-on-exec: why setting up or execve() failed */
        int lifeline_fd;       /* read end of a pipe whose write end only the caller holds */
        int lifeline_write_fd; /* closed in the child */
} StepChild;

/* Reports are one letter and a message: 'S' when this machine failed to
 * set up the container, 'X' when the image failed (no such program...). */
#define child_fail(c, kind, e, ...) helper_fail((c)->report_fd, (e), kind __VA_ARGS__)

/* The capabilities a container runtime leaves to root inside a container,
 * less CAP_MKNOD: there is no devices cgroup here to stop a node for the
 * host's disk; the rest would let a test reach beyond its namespaces. */
#define CAP_BIT(cap) (UINT64_C(1) << (cap))
static const uint64_t caps_kept =
        CAP_BIT(CAP_CHOWN) | CAP_BIT(CAP_DAC_OVERRIDE) | CAP_BIT(CAP_FSETID) | CAP_BIT(CAP_FOWNER) |
        CAP_BIT(CAP_NET_RAW) | CAP_BIT(CAP_SETGID) | CAP_BIT(CAP_SETUID) | CAP_BIT(CAP_SETFCAP) | CAP_BIT(CAP_SETPCAP) |
        CAP_BIT(CAP_NET_BIND_SERVICE) | CAP_BIT(CAP_SYS_CHROOT) | CAP_BIT(CAP_KILL) | CAP_BIT(CAP_AUDIT_WRITE);

static void child_dir(const StepChild *c, const char *path)
{
        struct stat st;
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                child_fail(c, "S", errno, "cannot create '%s'", path);
        if (lstat(path, &st) < 0)
                child_fail(c, "S", errno, "cannot stat '%s'", path);
        /* A symlink here would put the mount somewhere else. */
        if (!S_ISDIR(st.st_mode))
                child_fail(c, "X", 0, "the image's /%s is not a directory", path + strlen(c->root) + 1);
}

/* A mount child_fail()s on; flags and data as for mount(2). */
static void child_mount(const StepChild *c, const char *src, const char *dst, const char *type, unsigned long flags,
                        const char *data)
{
        if (mount(src, dst, type, flags, data) < 0)
                child_fail(c, "S", errno, "cannot mount %s on %s", type ? type : src, dst + strlen(c->root));
}

/* The /dev a container runtime (runc) gives: the harmless devices bound
 * from the host, the usual links, its own pty instance, shm and mqueue. */
static void child_dev(const StepChild *c)
{
        static const char *const devices[] = { "null", "zero", "full", "random", "urandom", "tty" };
        static const char *const links[][2] = {
                { "fd", "/proc/self/fd" },       { "stdin", "/proc/self/fd/0" }, { "stdout", "/proc/self/fd/1" },
                { "stderr", "/proc/self/fd/2" }, { "ptmx", "pts/ptmx" },         { "core", "/proc/kcore" },
        };
        static const struct {
                const char *name, *type, *data;
                unsigned long flags;
        } fs[] = {
                { "pts", "devpts", "newinstance,ptmxmode=0666,mode=0620", MS_NOSUID | MS_NOEXEC },
                { "shm", "tmpfs", "mode=1777,size=65536k", MS_NOSUID | MS_NODEV | MS_NOEXEC },
                { "mqueue", "mqueue", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC },
        };
        char dev[PATH_MAX], p[PATH_MAX + 32], host[64];

        snprintf(dev, sizeof(dev), "%s/dev", c->root);
        child_dir(c, dev);
        /* nodev: the bind mounts of the real devices below keep their own flags. */
        child_mount(c, "tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NODEV, "mode=755,size=65536k");
        for (size_t i = 0; i < ELEMENTSOF(devices); i++) {
                snprintf(p, sizeof(p), "%s/%s", dev, devices[i]);
                snprintf(host, sizeof(host), "/dev/%s", devices[i]);
                int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
                if (fd < 0)
                        child_fail(c, "S", errno, "cannot create /dev/%s", devices[i]);
                close(fd);
                child_mount(c, host, p, NULL, MS_BIND, NULL);
        }
        for (size_t i = 0; i < ELEMENTSOF(links); i++) {
                snprintf(p, sizeof(p), "%s/%s", dev, links[i][0]);
                if (symlink(links[i][1], p) < 0)
                        child_fail(c, "S", errno, "cannot create /dev/%s", links[i][0]);
        }
        for (size_t i = 0; i < ELEMENTSOF(fs); i++) {
                snprintf(p, sizeof(p), "%s/%s", dev, fs[i].name);
                if (mkdir(p, 0755) < 0)
                        child_fail(c, "S", errno, "cannot create /dev/%s", fs[i].name);
                child_mount(c, fs[i].type, p, fs[i].type, fs[i].flags, fs[i].data);
        }
}

/* The step's system calls, filtered as a container runtime does. */
static void child_seccomp(const StepChild *c)
{
        int r = seccomp_install_container_filter();
        if (r == -ENOTSUP)
                child_fail(c, "S", 0, "no seccomp filter for this architecture");
        if (r < 0)
                child_fail(c, "S", -r, "cannot install the seccomp filter");
}

/* A network namespace starts with its loopback down; "no network" still
 * means 127.0.0.1 works, as with docker's --network=none. */
static void child_loopback(const StepChild *c)
{
        struct ifreq ifr = { 0 };
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                child_fail(c, "S", errno, "cannot make a socket");
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
                child_fail(c, "S", errno, "cannot read the flags of the loopback interface");
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
                child_fail(c, "S", errno, "cannot bring the loopback interface up");
        close(fd);
}

static void child_exec(const StepChild *c)
{
        char p[PATH_MAX];
        const char *cmd = c->argv[0];
        if (strchr(cmd, '/')) {
                execve(cmd, c->argv, c->envp);
                child_fail(c, "X", errno, "cannot execute '%s'", cmd);
        }
        int saved = ENOENT;
        for (const char *d = c->path; d;) {
                const char *colon = strchr(d, ':');
                size_t len = colon ? (size_t) (colon - d) : strlen(d);
                snprintf(p, sizeof(p), "%.*s/%s", (int) len, len ? d : ".", cmd);
                execve(p, c->argv, c->envp);
                if (errno == EACCES)
                        saved = EACCES;
                else if (errno != ENOENT && errno != ENOTDIR)
                        child_fail(c, "X", errno, "cannot execute '%s'", p);
                d = colon ? colon + 1 : NULL;
        }
        child_fail(c, "X", saved == ENOENT ? 0 : saved, "'%s' is not in the image's PATH (%s)", cmd, c->path);
}

static int child_main(void *arg)
{
        const StepChild *c = arg;
        char p[PATH_MAX];

        close(c->lifeline_write_fd);
        if (c->userns) {
                const char *file = NULL;
                int r = userns_map_self(c->uid, c->gid, c->outside_uid, c->outside_gid, &file);
                if (r < 0)
                        child_fail(c, "S", -r, "cannot write %s", file);
        }
        setsid();
        int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 || dup2(c->out_fd, STDOUT_FILENO) < 0 ||
            dup2(c->out_fd, STDERR_FILENO) < 0)
                child_fail(c, "S", errno, "cannot set up standard input and output");

        /* Nothing mounted from here on may reach the host's mount table. */
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                child_fail(c, "S", errno, "cannot make the mounts private");
        if (mount(c->root, c->root, NULL, MS_BIND | MS_REC, NULL) < 0)
                child_fail(c, "S", errno, "cannot bind-mount '%s'", c->root);
        /* A temporary directory on a noexec /tmp would forbid running the
         * image's programs; device nodes shipped in an image stay unusable
         * (the real ones are bound below). Best effort: where the kernel
         * refuses, the step reports what fails. */
        (void) mount(NULL, c->root, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV, NULL);
        child_dev(c);
        /* This process is pid 1 of the new pid namespace: the proc mounted
         * now shows that namespace. */
        snprintf(p, sizeof(p), "%s/proc", c->root);
        child_dir(c, p);
        if (mount("proc", p, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                child_fail(c, "S", errno, "cannot mount proc");
        /* As runtimes do: the parts of /proc that reach the host's kernel
         * are read-only. */
        static const char *const ro[] = { "sys", "sysrq-trigger", "irq", "bus" };
        for (size_t i = 0; i < ELEMENTSOF(ro); i++) {
                char q[PATH_MAX + 32];
                snprintf(q, sizeof(q), "%s/%s", p, ro[i]);
                if (access(q, F_OK) < 0)
                        continue;
                if (mount(q, q, NULL, MS_BIND | MS_REC, NULL) < 0 ||
                    mount(NULL, q, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                        child_fail(c, "S", errno, "cannot make /proc/%s read-only", ro[i]);
        }
        if (sethostname(c->hostname, strlen(c->hostname)) < 0)
                child_fail(c, "S", errno, "cannot set the host name");
        child_loopback(c);

        if (chdir(c->root) < 0)
                child_fail(c, "S", errno, "cannot enter '%s'", c->root);
        /* pivot_root leaves no way back to the host's tree, which chroot
         * would for root; it fails on an initramfs root, where chroot is
         * what remains. */
        if (syscall(SYS_pivot_root, ".", ".") == 0) {
                if (umount2(".", MNT_DETACH) < 0)
                        child_fail(c, "S", errno, "cannot detach the host's root");
        } else if (chroot(".") < 0)
                child_fail(c, "S", errno, "cannot change the root to '%s'", c->root);
        if (chdir("/") < 0)
                child_fail(c, "S", errno, "cannot enter the new root");

        if (c->uid == 0)
                for (int cap = 0; cap < 64; cap++)
                        if (!(caps_kept & CAP_BIT(cap)))
                                (void) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
        if (chdir(c->workdir) < 0)
                child_fail(c, "X", errno, "cannot enter the working directory '%s'", c->workdir);
        /* In a user namespace, setgroups is refused (see userns_map_self()). */
        if ((!c->userns && setgroups(c->n_groups, c->groups) < 0) || setgid(c->gid) < 0 || setuid(c->uid) < 0)
                child_fail(c, "S", errno, "cannot become user %u:%u", (unsigned) c->uid, (unsigned) c->gid);
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                child_fail(c, "S", errno, "cannot set no_new_privs");
        /* A keyring of its own: the session keyring inherited is the
         * caller's, root's keys included. */
        if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL, 0, 0, 0) < 0 && errno != ENOSYS)
                child_fail(c, "S", errno, "cannot make a session keyring");
        /* The step dies with the caller, even of SIGKILL: as pid 1 of its
         * namespace it takes every process of the step with it. Set after
         * setuid(), which clears it; the lifeline closes if the caller died
         * before. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
                child_fail(c, "S", errno, "cannot set the parent-death signal");
        struct pollfd lifeline = { .fd = c->lifeline_fd, .events = POLLIN };
        if (poll(&lifeline, 1, 0) != 0)
                _exit(127);
        /* Descriptors the caller inherited from its own parent stay out. */
        if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
                for (int fd = 3; fd < 4096; fd++)
                        if (fd != c->report_fd)
                                (void) fcntl(fd, F_SETFD, FD_CLOEXEC);
        child_seccomp(c);
        child_exec(c);
        return 127;
}

static double now_seconds(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void output_append(StepResult *res, const char *buf, size_t n)
{
        if (res->output_size + n > OUTPUT_MAX) {
                res->truncated = true;
                n = OUTPUT_MAX - res->output_size;
        }
        if (n == 0)
                return;
        res->output = xrealloc(res->output, res->output_size + n + 1);
        memcpy(res->output + res->output_size, buf, n);
        res->output_size += n;
        res->output[res->output_size] = '\0';
}

static void kill_and_reap(pid_t pid, int *status)
{
        /* SIGKILL of a pid namespace's init takes the whole namespace down. */
        kill(pid, SIGKILL);
        while (waitpid(pid, status, 0) < 0 && errno == EINTR)
                ;
}

static void close_pipe(int (*p)[2])
{
        for (int i = 0; i < 2; i++)
                if ((*p)[i] >= 0)
                        close((*p)[i]);
}

/* The image's Env, then extra_env over it, then HOME and PATH when neither
 * sets them. */
static char **step_env(const UnpackedImage *img, char *const *extra_env)
{
        char **env = NULL;
        for (size_t i = 0; img->env && img->env[i]; i++)
                strv_push(&env, img->env[i]);
        for (size_t i = 0; extra_env && extra_env[i]; i++)
                strv_env_set(&env, extra_env[i]);
        if (!strv_env_get(env, "HOME")) {
                _cleanup_free_ char *home = xasprintf("HOME=%s", img->account.home ? img->account.home : "/");
                strv_env_set(&env, home);
        }
        if (!strv_env_get(env, "PATH"))
                strv_env_set(&env, "PATH=" DEFAULT_PATH);
        return env;
}

/* Collects the output of the step started as pid until it exits or its
 * time runs out (then it is killed, and *ret_timed_out set). Returns 0 with
 * its wait status, or negative when waiting failed or a signal was caught
 * (the step is killed then too). */
static int wait_step(pid_t pid, int out_fd, double deadline, const char *cmd, StepResult *res, int *ret_status,
                     bool *ret_timed_out, ObError *err)
{
        char buf[65536];
        bool eof = false;

        for (;;) {
                if (sandbox_interrupted()) {
                        kill_and_reap(pid, ret_status);
                        return sandbox_check_interrupted(err);
                }
                double left = deadline - now_seconds();
                if (left <= 0) {
                        kill_and_reap(pid, ret_status);
                        *ret_timed_out = true;
                        return 0;
                }
                if (eof) {
                        /* Output closed, process maybe still running. */
                        if (waitpid(pid, ret_status, WNOHANG) == pid)
                                return 0;
                        struct timespec ts = { 0, 10 * 1000 * 1000 };
                        nanosleep(&ts, NULL);
                        continue;
                }
                struct pollfd pfd = { .fd = out_fd, .events = POLLIN };
                int ms = left > 1.0 ? 1000 : (int) (left * 1000) + 1;
                int k = poll(&pfd, 1, ms);
                if (k < 0 && errno != EINTR) {
                        int r = ob_error_set(err, errno, "cannot wait for '%s'", cmd);
                        kill_and_reap(pid, ret_status);
                        return r;
                }
                if (k <= 0)
                        continue;
                ssize_t n = read(out_fd, buf, sizeof(buf));
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n <= 0)
                        eof = true;
                else
                        output_append(res, buf, (size_t) n);
        }
}

/* Why a step that ran failed, or NULL when it passed. report is what the
 * child said before execve() ("" for nothing). */
static char *step_failure(const StepResult *res, const char *report, int status, bool timed_out, unsigned timeout,
                          const char *expect)
{
        if (timed_out)
                return xasprintf("timed out after %u s", timeout);
        if (report[0] == 'X')
                return xstrdup(report + 1);
        if (WIFSIGNALED(status))
                return xasprintf("killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
        if (WEXITSTATUS(status) != 0)
                return xasprintf("exit status %d", WEXITSTATUS(status));
        if (expect && !memmem(res->output ? res->output : "", res->output_size, expect, strlen(expect)))
                return xasprintf("the output does not contain \"%s\"", expect);
        return NULL;
}

int sandbox_run_step(const char *root, const UnpackedImage *img, char *const *argv, char *const *extra_env,
                     const char *expect, unsigned timeout, StepResult *ret, ObError *err)
{
        _cleanup_strv_ char **env = NULL;
        _cleanup_free_ char *stack = NULL;
        _cleanup_(step_result_clear) StepResult res = { 0 };
        _cleanup_(close_pipe) int out[2] = { -1, -1 };
        _cleanup_(close_pipe) int report[2] = { -1, -1 };
        _cleanup_(close_pipe) int lifeline[2] = { -1, -1 };
        char msg[1024];
        int status = 0, r;
        bool timed_out = false;

        if (!argv || !argv[0] || !argv[0][0])
                return ob_error_plain(err, EINVAL, "a test step has no command");
        env = step_env(img, extra_env);

        StepChild c = {
                .root = root,
                .hostname = img->name ? img->name : "oci-build",
                .argv = argv,
                .envp = env,
                .path = strv_env_get(env, "PATH"),
                .workdir = img->workdir ? img->workdir : "/",
                .uid = img->account.uid,
                .gid = img->account.gid,
                .groups = img->account.groups,
                .n_groups = img->account.n_groups,
                .userns = use_userns(),
                .outside_uid = geteuid(),
                .outside_gid = getegid(),
        };
        if (pipe2(out, O_CLOEXEC) < 0 || pipe2(report, O_CLOEXEC) < 0 || pipe2(lifeline, O_CLOEXEC) < 0)
                return ob_error_set(err, errno, "cannot make a pipe");
        /* As runc does: the image's user may reopen its output through
         * /dev/stdout. (In a user namespace the pipe is already theirs.) */
        if (!c.userns && fchown(out[1], c.uid, c.gid) < 0)
                return ob_error_set(err, errno, "cannot hand the output pipe to %u:%u", (unsigned) c.uid,
                                    (unsigned) c.gid);
        c.out_fd = out[1];
        c.report_fd = report[1];
        c.lifeline_fd = lifeline[0];
        c.lifeline_write_fd = lifeline[1];

        double start = now_seconds();
        stack = xmalloc(CHILD_STACK);
        /* clone() rather than fork() and unshare(): the child is pid 1 of
         * its pid namespace at once, so a single SIGKILL from here ends it
         * and everything it started. */
        pid_t pid =
                clone(child_main, stack + CHILD_STACK, STEP_NAMESPACES | (c.userns ? CLONE_NEWUSER : 0) | SIGCHLD, &c);
        if (pid < 0) {
                int e = errno;
                if (e == EPERM || e == EINVAL || e == ENOSPC || e == EUSERS)
                        return namespaces_error(err, "clone", e);
                return ob_error_set(err, e, "cannot start '%s'", argv[0]);
        }
        close(TAKE_FD(out[1]));
        close(TAKE_FD(report[1]));
        close(TAKE_FD(lifeline[0]));

        r = wait_step(pid, out[0], start + timeout, argv[0], &res, &status, &timed_out, err);
        if (r < 0)
                return r;
        res.seconds = now_seconds() - start;

        read_report(report[0], msg, sizeof(msg));
        if (msg[0] == 'S')
                return ob_error_plain(err, EIO, "cannot set up the container for '%s': %s", argv[0], msg + 1);
        res.why = step_failure(&res, msg, status, timed_out, timeout, expect);
        res.passed = !res.why;
        *ret = res;
        res = (StepResult){ 0 };
        return 0;
}
