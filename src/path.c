/* SPDX-License-Identifier: MIT */
#include "path.h"

#include <errno.h>
#include <string.h>

#include "util.h"

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
