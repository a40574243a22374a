/* SPDX-License-Identifier: MIT */
#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs.h"
#include "util.h"

volatile pid_t ob_child_pid = 0;

int run_program(char *const *argv, const RunOptions *o, int *ret_status, ObError *err)
{
        pid_t parent = getpid();
        pid_t pid = fork();
        if (pid < 0)
                return ob_error_set(err, errno, "cannot fork");
        if (pid == 0) {
                if (o->log) {
                        int fd = open(o->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                        if (fd >= 0) {
                                dup2(fd, 1);
                                dup2(fd, 2);
                        }
                }
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
                /* Killed with us, even by SIGKILL, which leaves no chance to
                 * stop it: set after the change of user, which clears it. */
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
        ob_child_pid = pid;
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR) {
                        ob_child_pid = 0;
                        return ob_error_set(err, errno, "cannot wait for %s", argv[0]);
                }
        ob_child_pid = 0;
        *ret_status = status;
        return 0;
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
