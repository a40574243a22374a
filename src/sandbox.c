/* SPDX-License-Identifier: MIT */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
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

/* ---- namespaces ------------------------------------------------------------ */

static int namespaces_error(ObError *err, const char *call, int e)
{
        return ob_error_plain(err, e, "this machine does not allow new namespaces (%s: %s)", call, strerror(e));
}

int sandbox_check_namespaces(ObError *err)
{
        int status;
        pid_t pid = fork();
        if (pid < 0)
                return ob_error_set(err, errno, "cannot fork");
        if (pid == 0) {
                if (unshare(STEP_NAMESPACES) < 0)
                        _exit(errno > 0 && errno < 256 ? errno : EPERM);
                _exit(0);
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return ob_error_set(err, errno, "cannot wait for a process");
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        return namespaces_error(err, "unshare", WIFEXITED(status) ? WEXITSTATUS(status) : EPERM);
}

/* ---- test files ------------------------------------------------------------ */

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
                n += snprintf(buf + n, sizeof(buf) - (size_t) n, ": %s", strerror(e));
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
                close(pfd[0]);
                if (chroot(root) < 0 || chdir("/") < 0)
                        helper_fail(pfd[1], errno, "cannot enter '%s'", root);
                const ImageAccount *a = &img->account;
                if (setgroups(a->n_groups, a->groups) < 0 || setgid(a->gid) < 0 || setuid(a->uid) < 0)
                        helper_fail(pfd[1], errno, "cannot become user %u:%u", (unsigned) a->uid,
                                    (unsigned) a->gid);
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

static const char *env_get(char *const *env, const char *key)
{
        size_t n = strlen(key);
        for (size_t i = 0; env && env[i]; i++)
                if (strncmp(env[i], key, n) == 0 && env[i][n] == '=')
                        return env[i] + n + 1;
        return NULL;
}

/* Sets "KEY=VALUE", replacing the entry of the same key. */
static void env_set(char ***env, const char *kv)
{
        size_t n = strcspn(kv, "=");
        for (size_t i = 0; *env && (*env)[i]; i++)
                if (strncmp((*env)[i], kv, n) == 0 && (*env)[i][n] == '=') {
                        free((*env)[i]);
                        (*env)[i] = xstrdup(kv);
                        return;
                }
        strv_push(env, kv);
}

/* What the child needs, prepared before it starts: between clone() and
 * execve() it only makes system calls. */
typedef struct StepChild {
        const char *root;
        const char *hostname;
        char *const *argv;
        char *const *envp;
        const char *path;      /* PATH, for a command without a '/' */
        const char *workdir;
        uid_t uid;
        gid_t gid;
        const gid_t *groups;
        size_t n_groups;
        int out_fd;            /* becomes stdout and stderr */
        int report_fd;         /* close-on-exec: why setting up or execve() failed */
} StepChild;

/* Reports are one letter and a message: 'S' when this machine failed to
 * set up the container, 'X' when the image failed (no such program...). */
#define child_fail(c, kind, e, ...) helper_fail((c)->report_fd, (e), kind __VA_ARGS__)

/* The capabilities a container runtime leaves to root inside a container,
 * less CAP_MKNOD: there is no devices cgroup here to stop a node for the
 * host's disk; the rest would let a test reach beyond its namespaces. */
static bool cap_kept(int cap)
{
        switch (cap) {
        case CAP_CHOWN:
        case CAP_DAC_OVERRIDE:
        case CAP_FSETID:
        case CAP_FOWNER:
        case CAP_NET_RAW:
        case CAP_SETGID:
        case CAP_SETUID:
        case CAP_SETFCAP:
        case CAP_SETPCAP:
        case CAP_NET_BIND_SERVICE:
        case CAP_SYS_CHROOT:
        case CAP_KILL:
        case CAP_AUDIT_WRITE:
                return true;
        default:
                return false;
        }
}

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

static void child_dev(const StepChild *c)
{
        static const char *const devices[] = { "null", "zero", "full", "random", "urandom" };
        static const char *const links[][2] = {
                { "fd", "/proc/self/fd" },
                { "stdin", "/proc/self/fd/0" },
                { "stdout", "/proc/self/fd/1" },
                { "stderr", "/proc/self/fd/2" },
        };
        char dev[PATH_MAX], p[PATH_MAX + 32], host[64];

        snprintf(dev, sizeof(dev), "%s/dev", c->root);
        child_dir(c, dev);
        /* nodev: the bind mounts of the real devices below keep their own flags. */
        if (mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NODEV, "mode=755,size=65536k") < 0)
                child_fail(c, "S", errno, "cannot mount a tmpfs on /dev");
        for (size_t i = 0; i < ELEMENTSOF(devices); i++) {
                snprintf(p, sizeof(p), "%s/%s", dev, devices[i]);
                snprintf(host, sizeof(host), "/dev/%s", devices[i]);
                int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
                if (fd < 0)
                        child_fail(c, "S", errno, "cannot create /dev/%s", devices[i]);
                close(fd);
                if (mount(host, p, NULL, MS_BIND, NULL) < 0)
                        child_fail(c, "S", errno, "cannot bind-mount %s", host);
        }
        for (size_t i = 0; i < ELEMENTSOF(links); i++) {
                snprintf(p, sizeof(p), "%s/%s", dev, links[i][0]);
                if (symlink(links[i][1], p) < 0)
                        child_fail(c, "S", errno, "cannot create /dev/%s", links[i][0]);
        }
        snprintf(p, sizeof(p), "%s/shm", dev);
        if (mkdir(p, 01777) < 0)
                child_fail(c, "S", errno, "cannot create /dev/shm");
        if (mount("shm", p, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k") < 0)
                child_fail(c, "S", errno, "cannot mount a tmpfs on /dev/shm");
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
                        if (!cap_kept(cap))
                                (void) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
        if (chdir(c->workdir) < 0)
                child_fail(c, "X", errno, "cannot enter the working directory '%s'", c->workdir);
        if (setgroups(c->n_groups, c->groups) < 0 || setgid(c->gid) < 0 || setuid(c->uid) < 0)
                child_fail(c, "S", errno, "cannot become user %u:%u", (unsigned) c->uid, (unsigned) c->gid);
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                child_fail(c, "S", errno, "cannot set no_new_privs");
        /* Descriptors the caller inherited from its own parent stay out. */
        if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
                for (int fd = 3; fd < 4096; fd++)
                        if (fd != c->report_fd)
                                (void) fcntl(fd, F_SETFD, FD_CLOEXEC);
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
                env_set(&env, extra_env[i]);
        if (!env_get(env, "HOME")) {
                _cleanup_free_ char *home = xasprintf("HOME=%s", img->account.home ? img->account.home : "/");
                env_set(&env, home);
        }
        if (!env_get(env, "PATH"))
                env_set(&env, "PATH=" DEFAULT_PATH);
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
                .path = env_get(env, "PATH"),
                .workdir = img->workdir ? img->workdir : "/",
                .uid = img->account.uid,
                .gid = img->account.gid,
                .groups = img->account.groups,
                .n_groups = img->account.n_groups,
        };
        if (pipe2(out, O_CLOEXEC) < 0 || pipe2(report, O_CLOEXEC) < 0)
                return ob_error_set(err, errno, "cannot make a pipe");
        c.out_fd = out[1];
        c.report_fd = report[1];

        double start = now_seconds();
        stack = xmalloc(CHILD_STACK);
        /* clone() rather than fork() and unshare(): the child is pid 1 of
         * its pid namespace at once, so a single SIGKILL from here ends it
         * and everything it started. */
        pid_t pid = clone(child_main, stack + CHILD_STACK, STEP_NAMESPACES | SIGCHLD, &c);
        if (pid < 0) {
                int e = errno;
                if (e == EPERM || e == EINVAL || e == ENOSPC || e == EUSERS)
                        return namespaces_error(err, "clone", e);
                return ob_error_set(err, e, "cannot start '%s'", argv[0]);
        }
        close(TAKE_FD(out[1]));
        close(TAKE_FD(report[1]));

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
