/* SPDX-License-Identifier: MIT */
#include "error.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copies s into dst (cap bytes with the NUL), cutting its middle out when it
 * is too long: the start says what failed, the end says why (a path of 4096
 * bytes must not push strerror off the end). */
static void fit(char *dst, size_t cap, const char *s)
{
        static const char cut[] = "…";
        size_t n = strlen(s);
        if (n < cap) {
                memcpy(dst, s, n + 1);
                return;
        }
        size_t keep = cap - 1 - (sizeof(cut) - 1);
        size_t head = keep / 2, tail = keep - head;
        /* not in the middle of a UTF-8 sequence */
        while (head > 0 && ((unsigned char) s[head] & 0xC0) == 0x80)
                head--;
        memcpy(dst, s, head);
        memcpy(dst + head, cut, sizeof(cut) - 1);
        memcpy(dst + head + sizeof(cut) - 1, s + n - tail, tail);
        dst[head + sizeof(cut) - 1 + tail] = '\0';
}

__attribute__((format(printf, 4, 0))) static int error_vset(ObError *err, int code, bool with_errno, const char *fmt,
                                                            va_list ap)
{
        int ret = code > 0 ? code : (code < 0 ? -code : EINVAL);

        if (!err)
                return -ret;
        err->code = ret;
        err->usage = 0;
        char *msg = NULL, *full = NULL;
        if (vasprintf(&msg, fmt, ap) < 0) {
                snprintf(err->msg, sizeof(err->msg), "out of memory describing an error (%s)", strerror(ret));
                return -ret;
        }
        if (with_errno && code != 0 && asprintf(&full, "%s: %s", msg, strerror(ret)) >= 0)
                fit(err->msg, sizeof(err->msg), full);
        else
                fit(err->msg, sizeof(err->msg), msg);
        free(full);
        free(msg);
        return -ret;
}

int ob_error_set(ObError *err, int code, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = error_vset(err, code, /* with_errno= */ true, fmt, ap);
        va_end(ap);
        return r;
}

int ob_error_plain(ObError *err, int code, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = error_vset(err, code, /* with_errno= */ false, fmt, ap);
        va_end(ap);
        return r;
}

/* Puts prefix and sep in front of the message in err, from its byte skip
 * on; what does not fit is cut from the middle. */
static void error_prepend(ObError *err, const char *prefix, const char *sep, size_t skip)
{
        char joined[2 * sizeof(err->msg) + 16];
        snprintf(joined, sizeof(joined), "%s%s%s", prefix, sep, err->msg + skip);
        fit(err->msg, sizeof(err->msg), joined);
}

int ob_error_wrap(ObError *err, const char *fmt, ...)
{
        char prefix[1024];
        va_list ap;

        if (!err)
                return -EINVAL;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof(prefix), fmt, ap);
        va_end(ap);
        error_prepend(err, prefix, ": ", 0);
        return -(err->code ? err->code : EINVAL);
}

int ob_error_wrap_subject(ObError *err, const char *subject, const char *fmt, ...)
{
        char prefix[1024];
        va_list ap;

        if (!err)
                return -EINVAL;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof(prefix), fmt, ap);
        va_end(ap);

        size_t n = strlen(subject);
        const char *m = err->msg;
        if (m[0] == '\'' && strncmp(m + 1, subject, n) == 0 && m[n + 1] == '\'')
                /* What follows the name (": why" or " does not exist")
                 * reads on from the context, which names it. */
                error_prepend(err, prefix, "", n + 2);
        else
                error_prepend(err, prefix, ": ", 0);
        return -(err->code ? err->code : EINVAL);
}

int ob_error_usage(ObError *err, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = error_vset(err, EINVAL, /* with_errno= */ false, fmt, ap);
        va_end(ap);
        if (err)
                err->usage = 1;
        return r;
}

void ob_error_clear(ObError *err)
{
        if (!err)
                return;
        err->code = 0;
        err->msg[0] = '\0';
}

/* The length of the UTF-8 sequence at s that is a printable character, or 0
 * for a byte to escape. */
static size_t printable_utf8(const unsigned char *s)
{
        if (s[0] >= 0x20 && s[0] < 0x7f)
                return 1;
        size_t n = 0;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                n = 2;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                n = 3;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                n = 4;
        for (size_t i = 1; i < n; i++)
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
        /* U+0080 to U+009F: the C1 controls (0x9b is a CSI to some terminals) */
        if (n == 2 && s[0] == 0xc2 && s[1] < 0xa0)
                return 0;
        return n;
}

char *ob_escape(const char *s, char *buf, size_t size)
{
        const unsigned char *p = (const unsigned char *) s;
        size_t o = 0;

        if (size == 0)
                return buf;
        while (*p) {
                size_t n = printable_utf8(p);
                if (n == 0) {
                        if (o + 4 >= size)
                                break;
                        snprintf(buf + o, size - o, "\\x%02x", *p);
                        o += 4;
                        p++;
                        continue;
                }
                if (o + n >= size)
                        break;
                memcpy(buf + o, p, n);
                o += n;
                p += n;
        }
        buf[o] = '\0';
        return buf;
}
