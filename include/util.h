/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#include "error.h"

/* Scope-bound cleanup, as in systemd: the variable is released when it goes
 * out of scope, and TAKE_PTR() hands ownership out. */
static inline void freep(void *p) { free(*(void **) p); }
static inline void closep(int *fd)
{
        if (*fd >= 0)
                close(*fd);
}
void strv_free(char **v);
static inline void strv_freep(char ***v) { strv_free(*v); }

#define _cleanup_(f)      __attribute__((cleanup(f)))
#define _cleanup_free_    _cleanup_(freep)
#define _cleanup_close_   _cleanup_(closep)
#define _cleanup_strv_    _cleanup_(strv_freep)

#define TAKE_PTR(p)                         \
        ({                                  \
                __typeof__(p) _tp_ = (p);   \
                (p) = NULL;                 \
                _tp_;                       \
        })
#define TAKE_FD(fd)                         \
        ({                                  \
                int _tf_ = (fd);            \
                (fd) = -1;                  \
                _tf_;                       \
        })

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

/* qsort() that accepts an empty (NULL) array, which qsort() itself may not. */
static inline void qsort_safe(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
        if (n > 1)
                qsort(base, n, size, cmp);
}

/* Allocation failure is not recoverable in a command-line builder. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* NULL-terminated string vectors. */
size_t strv_length(char *const *v);
void strv_push(char ***v, const char *s);   /* copies s */
bool strv_contains(char *const *v, const char *s);
char *strv_join(char *const *v, const char *sep);
/* For qsort() of a string vector. */
int strv_compare(const void *a, const void *b);

bool str_startswith(const char *s, const char *prefix);
/* s with every "what" replaced by "with". */
char *str_replace_all(const char *s, const char *what, const char *with);
bool str_endswith(const char *s, const char *suffix);

/* Joins a and b with exactly one '/'. */
char *path_join(const char *a, const char *b);
/* Normalises an absolute image path: collapses "//" and "/./", strips a
 * trailing "/". Returns NULL (and sets err) when the path is relative,
 * contains "..", or is empty. */
char *path_normalize_abs(const char *path, ObError *err);
/* Component-wise comparison: "a/b" sorts before "a-b" would in strcmp, so
 * that every directory's subtree stays contiguous. */
int path_compare(const char *a, const char *b);

/* Reads a whole (small) file. */
int read_file(const char *path, char **ret_data, size_t *ret_size, ObError *err);
/* Writes data to path via a temporary file in the same directory, fsync and
 * rename, so readers see either the old or the new file. */
int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode, ObError *err);
/* write(2) until done, retrying on EINTR. Returns 0 or -errno. */
int write_all(int fd, const void *data, size_t size);

/* Runs a host program and waits for it. stdout and stderr go to log (or
 * stay as they are when log is NULL); stdin is /dev/null. With envp the
 * program gets exactly that environment, else ours; uid/gid >= 0 switch
 * user first (groups dropped). */
typedef struct RunOptions {
        const char *workdir;
        const char *log;
        char *const *envp;
        long uid, gid;
} RunOptions;
int run_program(char *const *argv, const RunOptions *o, int *ret_status, ObError *err);
/* The program run_program() waits for, or 0: a signal handler stops it. */
extern volatile pid_t ob_child_pid;
/* The last bytes of a log, on one line, for an error message. */
char *log_tail(const char *log, size_t max);

/* Human-readable byte size: "461.2 kB". buf must hold 32 bytes. */
const char *format_size(uint64_t bytes, char buf[static 32]);

/* Global verbosity: -1 quiet, 0 normal, 1 verbose. */
extern int ob_verbosity;
void ob_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ob_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
