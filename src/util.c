/* SPDX-License-Identifier: MIT */
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

const char *strv_env_get(char *const *env, const char *key)
{
        size_t n = strlen(key);
        for (size_t i = 0; env && env[i]; i++)
                if (strncmp(env[i], key, n) == 0 && env[i][n] == '=')
                        return env[i] + n + 1;
        return NULL;
}

void strv_env_set(char ***env, const char *kv)
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

bool str_endswith(const char *s, const char *suffix)
{
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && strcmp(s + a - b, suffix) == 0;
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
