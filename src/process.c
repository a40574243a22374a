/* SPDX-License-Identifier: MIT */
#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "log.h"
#include "tmpfile.h"
#include "util.h"

volatile pid_t ob_child_pid = 0;

/* The child's side: stdin from /dev/null, the user switched, the working
 * directory entered, then the program. Never returns. parent is the PID of
 * oci-build, taken before the fork. */
static _Noreturn void exec_child(char *const *argv, const RunOptions *o, pid_t parent)
{
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0)
                dup2(null, 0);
        if (o->gid >= 0 && (setgroups(0, NULL) < 0 || setgid((gid_t) o->gid) < 0)) {
                perror("cannot change group");
                _exit(126);
        }
        if (o->uid >= 0 && setuid((uid_t) o->uid) < 0) {
                perror("cannot change user");
                _exit(126);
        }
        /* Killed with oci-build, even by SIGKILL, which leaves it no chance
         * to stop us: set after the change of user, which clears it. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                _exit(126);
        if (o->workdir && chdir(o->workdir) < 0) {
                fprintf(stderr, "cannot enter %s: %s\n", o->workdir, strerror(errno));
                _exit(126);
        }
        if (o->envp)
                execvpe(argv[0], argv, o->envp);
        else
                execvp(argv[0], argv);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
}

static int wait_child(pid_t pid, const char *name, int *ret_status, ObError *err)
{
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR) {
                        ob_child_pid = 0;
                        return ob_error_set(err, errno, "cannot wait for %s", name);
                }
        ob_child_pid = 0;
        *ret_status = status;
        return 0;
}

/* Forks the program with its output in o->log; returns its PID or -errno.
 * With child_mask, the child takes that signal mask first (the parent may
 * have blocked signals around the fork). */
static pid_t fork_program(char *const *argv, const RunOptions *o, const sigset_t *child_mask)
{
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                if (child_mask)
                        sigprocmask(SIG_SETMASK, child_mask, NULL);
                if (o->log) {
                        int fd = open(o->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                        if (fd >= 0) {
                                dup2(fd, 1);
                                dup2(fd, 2);
                        }
                }
                exec_child(argv, o, parent);
        }
        return pid;
}

int run_program(char *const *argv, const RunOptions *o, int *ret_status, ObError *err)
{
        pid_t pid = fork_program(argv, o, NULL);
        if (pid < 0)
                return ob_error_set(err, (int) -pid, "cannot fork");
        ob_child_pid = pid;
        return wait_child(pid, argv[0], ret_status, err);
}

/* ---- programs in the background --------------------------------------- */
static uint64_t now_usec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

/* A signal handler reads these: fixed storage, one slot per program. */
#define MAX_BACKGROUND 16
static volatile pid_t background_pids[MAX_BACKGROUND];

struct Background {
        pid_t pid;
        int slot;
        bool done; /* reaped: status is its wait status */
        int status;
        char *name;
        Background *next; /* in the list of those not reaped yet */
};

static Background *running;

static void unlist(Background *bg)
{
        for (Background **p = &running; *p; p = &(*p)->next)
                if (*p == bg) {
                        *p = bg->next;
                        break;
                }
        bg->next = NULL;
        background_pids[bg->slot] = 0;
}

int background_start(char *const *argv, const RunOptions *o, Background **ret, ObError *err)
{
        int slot = -1;
        for (;;) {
                for (int i = 0; i < MAX_BACKGROUND && slot < 0; i++)
                        if (background_pids[i] == 0)
                                slot = i;
                if (slot >= 0)
                        break;
                /* Every slot taken: the oldest program ends first (its
                 * status is kept for its owner), then this one starts. */
                Background *oldest = running;
                while (oldest->next)
                        oldest = oldest->next;
                int status;
                int r = background_wait(oldest, &status, err);
                if (r < 0)
                        return r;
        }
        /* A signal between the fork and the slot would miss the program. */
        sigset_t old;
        tmpfile_block_signals(&old);
        pid_t pid = fork_program(argv, o, &old);
        if (pid > 0)
                background_pids[slot] = pid;
        sigprocmask(SIG_SETMASK, &old, NULL);
        if (pid < 0)
                return ob_error_set(err, (int) -pid, "cannot fork");
        Background *bg = xcalloc(1, sizeof(*bg));
        *bg = (Background){ .pid = pid, .slot = slot, .name = xstrdup(argv[0]), .next = running };
        running = bg;
        *ret = bg;
        return 0;
}

pid_t background_pid(const Background *bg)
{
        return bg->pid;
}

int background_wait(Background *bg, int *ret_status, ObError *err)
{
        while (!bg->done) {
                int status;
                if (waitpid(bg->pid, &status, 0) == bg->pid) {
                        bg->status = status;
                        bg->done = true;
                        unlist(bg);
                } else if (errno != EINTR) {
                        return ob_error_set(err, errno, "cannot wait for %s", bg->name);
                }
        }
        *ret_status = bg->status;
        return 0;
}

int background_wait_all(ObError *err)
{
        while (running) {
                int status;
                int r = background_wait(running, &status, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* How long a program stopped with SIGTERM gets to clean up before SIGKILL. */
#define STOP_TIMEOUT_USEC (5 * 1000 * 1000)

void background_free(Background *bg)
{
        if (!bg)
                return;
        if (!bg->done) {
                /* As on a signal: SIGTERM lets it stop what it started. */
                kill(bg->pid, SIGTERM);
                uint64_t deadline = now_usec() + STOP_TIMEOUT_USEC;
                bool killed = false;
                for (;;) {
                        pid_t w = waitpid(bg->pid, NULL, WNOHANG);
                        if (w == bg->pid || (w < 0 && errno != EINTR))
                                break;
                        if (!killed && now_usec() > deadline) {
                                kill(bg->pid, SIGKILL);
                                killed = true;
                        }
                        usleep(10 * 1000);
                }
                unlist(bg);
        }
        free(bg->name);
        free(bg);
}

void background_stop_all(void)
{
        for (int i = 0; i < MAX_BACKGROUND; i++) {
                pid_t pid = background_pids[i];
                if (pid > 0)
                        kill(pid, SIGTERM);
        }
        for (int i = 0; i < MAX_BACKGROUND; i++) {
                pid_t pid = background_pids[i];
                if (pid > 0)
                        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                                ;
        }
}

char *log_tail(const char *log, size_t max)
{
        _cleanup_free_ char *out = NULL;
        size_t size = 0;
        ObError ignore;
        if (!log || read_file(log, &out, &size, &ignore) < 0)
                return xstrdup("");
        while (size > 0 && (out[size - 1] == '\n' || out[size - 1] == ' '))
                out[--size] = '\0';
        char *t = xstrdup(size > max ? out + size - max : out);
        for (char *q = t; *q; q++)
                if (*q == '\n')
                        *q = ' ';
        return t;
}

/* ---- steps: output streamed, nothing left behind ---------------------- */

/* How long the processes a step left behind get to die once killed. */
#define LEFTOVER_TIMEOUT_USEC (5 * 1000 * 1000)
#define STEP_LINE_MAX 4096

typedef struct LineSink {
        const char *prefix;
        char buf[STEP_LINE_MAX];
        size_t len;
        char **tail; /* a ring of the last n_tail lines */
        size_t n_tail, next, seen;
} LineSink;

static void sink_line(LineSink *s)
{
        size_t n = s->len;
        if (n > 0 && s->buf[n - 1] == '\r')
                n--;
        if (s->prefix && ob_verbosity >= 0)
                fprintf(stderr, "%s%.*s\n", s->prefix, (int) n, s->buf);
        if (s->n_tail > 0) {
                free(s->tail[s->next]);
                s->tail[s->next] = xstrndup(s->buf, n);
                s->next = (s->next + 1) % s->n_tail;
        }
        s->seen++;
        s->len = 0;
}

static void sink_feed(LineSink *s, const char *data, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                if (data[i] == '\n' || s->len == sizeof(s->buf)) {
                        sink_line(s);
                        if (data[i] == '\n')
                                continue;
                }
                s->buf[s->len++] = data[i];
        }
}

/* The last lines, oldest first, joined by newlines. */
static char *sink_tail(LineSink *s)
{
        if (s->len > 0)
                sink_line(s);
        size_t n = s->seen < s->n_tail ? s->seen : s->n_tail;
        _cleanup_strv_ char **lines = NULL;
        for (size_t i = 0; i < n; i++)
                strv_push(&lines, s->tail[(s->next + s->n_tail - n + i) % s->n_tail]);
        return lines ? strv_join(lines, "\n") : xstrdup("");
}

static void sink_done(LineSink *s)
{
        for (size_t i = 0; i < s->n_tail; i++)
                free(s->tail[i]);
        free(s->tail);
}

/* Sends SIGKILL to every child of ours; returns how many there were. As a
 * subreaper, that is whatever a step left behind: orphans come to us, not
 * to init. */
static size_t kill_children(void)
{
        _cleanup_dir_ DIR *d = opendir("/proc");
        pid_t self = getpid();
        size_t n = 0;
        if (!d)
                return 0;
        for (struct dirent *de; (de = readdir(d));) {
                char *end;
                long pid = strtol(de->d_name, &end, 10);
                if (*end || pid <= 0)
                        continue;
                char path[64], stat[512];
                snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
                _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
                ssize_t len = fd >= 0 ? read(fd, stat, sizeof(stat) - 1) : -1;
                if (len <= 0)
                        continue;
                stat[len] = '\0';
                /* "pid (comm) state ppid ...": comm may hold anything, even ')'. */
                const char *close = strrchr(stat, ')');
                char state;
                long ppid;
                if (!close || sscanf(close + 1, " %c %ld", &state, &ppid) != 2 || ppid != self)
                        continue;
                kill((pid_t) pid, SIGKILL);
                n++;
        }
        return n;
}

/* Kills the step's process group and everything that came to us from it,
 * and reaps them all, for at most LEFTOVER_TIMEOUT_USEC. */
static int reap_leftovers(pid_t group, const char *name, ObError *err)
{
        uint64_t deadline = now_usec() + LEFTOVER_TIMEOUT_USEC;
        kill(-group, SIGKILL);
        for (;;) {
                kill_children();
                pid_t r;
                while ((r = waitpid(-1, NULL, WNOHANG)) > 0)
                        ;
                if (r < 0 && errno == ECHILD)
                        return 0;
                if (now_usec() > deadline)
                        return ob_error_plain(err, EBUSY,
                                              "processes started by %s are still running after "
                                              "being killed",
                                              name);
                usleep(10 * 1000);
        }
}

static int set_subreaper(int on)
{
        return prctl(PR_SET_CHILD_SUBREAPER, (unsigned long) on, 0, 0, 0);
}

int run_step(char *const *argv, const RunOptions *o, const StepOutput *out, int *ret_status, char **ret_tail,
             ObError *err)
{
        int was_subreaper = 0;
        int r;

        /* What follows kills and reaps every child of ours: the programs
         * running in the background end first, their status kept. */
        r = background_wait_all(err);
        if (r < 0)
                return r;
        if (prctl(PR_GET_CHILD_SUBREAPER, &was_subreaper, 0, 0, 0) < 0 || set_subreaper(1) < 0)
                return ob_error_set(err, errno, "cannot become the subreaper of %s", argv[0]);
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) < 0) {
                r = ob_error_set(err, errno, "cannot make a pipe");
                set_subreaper(was_subreaper);
                return r;
        }
        _cleanup_close_ int rfd = fds[0], wfd = fds[1];

        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0) {
                r = ob_error_set(err, errno, "cannot fork");
                set_subreaper(was_subreaper);
                return r;
        }
        if (pid == 0) {
                /* Its own group, so that one kill() reaches what it started in it. */
                setpgid(0, 0);
                dup2(wfd, 1);
                dup2(wfd, 2);
                exec_child(argv, o, parent);
        }
        setpgid(pid, pid); /* also here: the group must exist before we may kill it */
        ob_child_pid = pid;
        close(TAKE_FD(wfd));
        (void) fcntl(rfd, F_SETFL, O_NONBLOCK);

        LineSink sink = { .prefix = out ? out->prefix : NULL, .n_tail = out ? out->tail_lines : 0 };
        sink.tail = xcalloc(sink.n_tail + 1, sizeof(char *));
        _cleanup_close_ int pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        int status = 0;
        bool exited = false, eof = false;
        /* Until the step exits: what it started may hold the pipe open long after. */
        while (!exited) {
                struct pollfd pfd[2] = { { .fd = eof ? -1 : rfd, .events = POLLIN },
                                         { .fd = pidfd, .events = POLLIN } };
                /* Without a pidfd (before Linux 5.3), look at the child now and then. */
                int timeout = pidfd >= 0 ? -1 : 100;
                if (poll(pfd, 2, timeout) < 0 && errno != EINTR)
                        eof = true; /* cannot watch the pipe: wait for the step alone */
                if (pfd[0].revents) {
                        char buf[8192];
                        ssize_t n = read(rfd, buf, sizeof(buf));
                        if (n > 0)
                                sink_feed(&sink, buf, (size_t) n);
                        else if (n == 0 || (errno != EINTR && errno != EAGAIN))
                                eof = true;
                }
                pid_t w = waitpid(pid, &status, eof ? 0 : WNOHANG);
                exited = w == pid || (w < 0 && errno != EINTR);
        }
        ob_child_pid = 0;
        r = reap_leftovers(pid, argv[0], err);
        /* Everything that could write is gone: the rest of the pipe, then
         * EOF (a second at most, should a writer have escaped us). */
        while (!eof) {
                struct pollfd pfd = { .fd = rfd, .events = POLLIN };
                char buf[8192];
                if (poll(&pfd, 1, 1000) <= 0)
                        break;
                ssize_t n = read(rfd, buf, sizeof(buf));
                if (n > 0)
                        sink_feed(&sink, buf, (size_t) n);
                else if (n == 0 || (errno != EINTR && errno != EAGAIN))
                        eof = true;
        }
        set_subreaper(was_subreaper);
        _cleanup_free_ char *tail = sink_tail(&sink);
        sink_done(&sink);
        if (r < 0)
                return r;
        *ret_status = status;
        if (ret_tail)
                *ret_tail = TAKE_PTR(tail);
        return 0;
}
