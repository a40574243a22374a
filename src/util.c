/* SPDX-License-Identifier: MIT */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>

int ob_verbosity = 0;
volatile pid_t ob_child_pid = 0;

static void oom(void)
{
        fputs("oci-build: out of memory\n", stderr);
        abort();
}

void *xmalloc(size_t n)
{
        void *p = malloc(n ? n : 1);
        if (!p)
                oom();
        return p;
}

void *xcalloc(size_t n, size_t m)
{
        void *p = calloc(n ? n : 1, m ? m : 1);
        if (!p)
                oom();
        return p;
}

void *xrealloc(void *p, size_t n)
{
        void *q = realloc(p, n ? n : 1);
        if (!q)
                oom();
        return q;
}

char *xstrdup(const char *s)
{
        char *p = strdup(s);
        if (!p)
                oom();
        return p;
}

char *xstrndup(const char *s, size_t n)
{
        char *p = strndup(s, n);
        if (!p)
                oom();
        return p;
}

char *xasprintf(const char *fmt, ...)
{
        va_list ap;
        char *p;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&p, fmt, ap);
        va_end(ap);
        if (r < 0)
                oom();
        return p;
}

void strv_free(char **v)
{
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}

size_t strv_length(char *const *v)
{
        size_t n = 0;
        while (v && v[n])
                n++;
        return n;
}

void strv_push(char ***v, const char *s)
{
        size_t n = strv_length(*v);
        *v = xrealloc(*v, (n + 2) * sizeof(char *));
        (*v)[n] = xstrdup(s);
        (*v)[n + 1] = NULL;
}

bool strv_contains(char *const *v, const char *s)
{
        for (size_t i = 0; v && v[i]; i++)
                if (strcmp(v[i], s) == 0)
                        return true;
        return false;
}

int strv_compare(const void *a, const void *b)
{
        return strcmp(*(char *const *) a, *(char *const *) b);
}

char *strv_join(char *const *v, const char *sep)
{
        size_t n = 1;
        for (size_t i = 0; v && v[i]; i++)
                n += strlen(v[i]) + strlen(sep);
        char *out = xmalloc(n), *o = out;
        for (size_t i = 0; v && v[i]; i++) {
                if (i) {
                        strcpy(o, sep);
                        o += strlen(sep);
                }
                strcpy(o, v[i]);
                o += strlen(v[i]);
        }
        *o = '\0';
        return out;
}

bool str_startswith(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

char *str_replace_all(const char *s, const char *what, const char *with)
{
        size_t n = 0, lw = strlen(what), lr = strlen(with);
        for (const char *p = s; (p = strstr(p, what)); p += lw)
                n++;
        char *out = xmalloc(strlen(s) + n * lr + 1 - n * lw), *o = out;
        for (const char *p = s, *hit; (hit = strstr(p, what)); p = hit + lw) {
                memcpy(o, p, (size_t) (hit - p));
                o += hit - p;
                memcpy(o, with, lr);
                o += lr;
                s = hit + lw;
        }
        strcpy(o, s);
        return out;
}

int run_program(char *const *argv, const RunOptions *o, int *ret_status, ObError *err)
{
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

bool str_endswith(const char *s, const char *suffix)
{
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && strcmp(s + a - b, suffix) == 0;
}

char *path_join(const char *a, const char *b)
{
        size_t la = strlen(a);
        while (la > 1 && a[la - 1] == '/')
                la--;
        while (*b == '/')
                b++;
        if (la == 1 && a[0] == '/')
                return xasprintf("/%s", b);
        if (!*b)
                return xstrndup(a, la);
        return xasprintf("%.*s/%s", (int) la, a, b);
}

char *path_normalize_abs(const char *path, ObError *err)
{
        if (!path || path[0] != '/') {
                ob_error_plain(err, EINVAL, "'%s' is not an absolute path", path ? path : "");
                return NULL;
        }
        char *out = xmalloc(strlen(path) + 2);
        size_t n = 0;
        const char *p = path;
        while (*p) {
                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                const char *e = strchrnul(p, '/');
                size_t len = (size_t) (e - p);
                if (len == 1 && p[0] == '.') {
                        p = e;
                        continue;
                }
                if (len == 2 && p[0] == '.' && p[1] == '.') {
                        free(out);
                        ob_error_plain(err, EINVAL, "'%s' contains '..'", path);
                        return NULL;
                }
                out[n++] = '/';
                memcpy(out + n, p, len);
                n += len;
                p = e;
        }
        if (n == 0)
                out[n++] = '/';
        out[n] = '\0';
        return out;
}

int path_compare(const char *a, const char *b)
{
        for (;; a++, b++) {
                unsigned char ca = (unsigned char) *a, cb = (unsigned char) *b;
                if (ca == cb) {
                        if (!ca)
                                return 0;
                        continue;
                }
                /* '/' sorts before every other byte, the end of string before '/'. */
                if (!ca)
                        return -1;
                if (!cb)
                        return 1;
                if (ca == '/')
                        return -1;
                if (cb == '/')
                        return 1;
                return ca < cb ? -1 : 1;
        }
}

int write_all(int fd, const void *data, size_t size)
{
        const char *p = data;
        while (size > 0) {
                ssize_t w = write(fd, p, size);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += w;
                size -= (size_t) w;
        }
        return 0;
}

int read_file(const char *path, char **ret_data, size_t *ret_size, ObError *err)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return ob_error_set(err, errno, "cannot open '%s'", path);
        size_t cap = 4096, n = 0;
        _cleanup_free_ char *buf = xmalloc(cap);
        for (;;) {
                if (n + 1 >= cap)
                        buf = xrealloc(buf, cap *= 2);
                ssize_t r = read(fd, buf + n, cap - n - 1);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return ob_error_set(err, errno, "cannot read '%s'", path);
                }
                if (r == 0)
                        break;
                n += (size_t) r;
        }
        buf[n] = '\0';
        *ret_data = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = n;
        return 0;
}

int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode, ObError *err)
{
        _cleanup_free_ char *tmp = xasprintf("%s.tmp-XXXXXX", path);
        _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
        int r;

        if (fd < 0)
                return ob_error_set(err, errno, "cannot create a temporary file beside '%s'", path);
        r = write_all(fd, data, size);
        if (r == 0 && fchmod(fd, mode) < 0)
                r = -errno;
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                unlink(tmp);
                return ob_error_set(err, -r, "cannot write '%s'", path);
        }
        return 0;
}

const char *format_size(uint64_t bytes, char buf[static 32])
{
        if (bytes < 1000)
                snprintf(buf, 32, "%llu B", (unsigned long long) bytes);
        else if (bytes < 1000 * 1000)
                snprintf(buf, 32, "%.1f kB", (double) bytes / 1e3);
        else if (bytes < 1000ull * 1000 * 1000)
                snprintf(buf, 32, "%.1f MB", (double) bytes / 1e6);
        else
                snprintf(buf, 32, "%.2f GB", (double) bytes / 1e9);
        return buf;
}

void ob_info(const char *fmt, ...)
{
        va_list ap;
        if (ob_verbosity < 0)
                return;
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

void ob_debug(const char *fmt, ...)
{
        va_list ap;
        if (ob_verbosity < 1)
                return;
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}
