/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <dirent.h>
#include <stdio.h>
#include <sys/types.h>
#include <unistd.h>

#include "error.h"

/* Scope-bound cleanup, as in systemd: the variable is released when it goes
 * out of scope, and TAKE_PTR() hands ownership out. */
static inline void freep(void *p)
{
        free(*(void **) p);
}
static inline void closep(int *fd)
{
        if (*fd >= 0)
                close(*fd);
}
void strv_free(char **v);
static inline void strv_freep(char ***v)
{
        strv_free(*v);
}

/* Declares FUNCp(TYPE *p), which calls FUNC(*p) (FUNC accepts NULL): the
 * cleanup function of a variable holding a TYPE. */
#define DEFINE_CLEANUP_FUNC(type, func)     \
        static inline void func##p(type *p) \
        {                                   \
                func(*p);                   \
        }

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_strv_ _cleanup_(strv_freep)

static inline void closedirp(DIR **d)
{
        if (*d)
                closedir(*d);
}
static inline void fclosep(FILE **f)
{
        if (*f)
                fclose(*f);
}
#define _cleanup_dir_ _cleanup_(closedirp)
#define _cleanup_fclose_ _cleanup_(fclosep)

#define TAKE_PTR(p)                       \
        ({                                \
                __typeof__(p) _tp_ = (p); \
                (p) = NULL;               \
                _tp_;                     \
        })
#define TAKE_FD(fd)              \
        ({                       \
                int _tf_ = (fd); \
                (fd) = -1;       \
                _tf_;            \
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
void strv_push(char ***v, const char *s); /* copies s */
bool strv_contains(char *const *v, const char *s);
/* Environment lists of "KEY=VALUE": the value of key, or NULL; and kv set,
 * replacing the entry of the same key. */
const char *strv_env_get(char *const *env, const char *key);
void strv_env_set(char ***env, const char *kv);
char *strv_join(char *const *v, const char *sep);
/* For qsort() of a string vector. */
int strv_compare(const void *a, const void *b);

bool str_startswith(const char *s, const char *prefix);
bool str_endswith(const char *s, const char *suffix);
/* s with every "what" replaced by "with". */
char *str_replace_all(const char *s, const char *what, const char *with);

/* Human-readable byte size: "461.2 kB". buf must hold 32 bytes. */
const char *format_size(uint64_t bytes, char buf[static 32]);
