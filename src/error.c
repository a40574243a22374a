/* SPDX-License-Identifier: MIT */
#include "error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

__attribute__((format(printf, 4, 0)))
static int error_vset(ObError *err, int code, int with_errno, const char *fmt, va_list ap)
{
        int ret = code > 0 ? code : (code < 0 ? -code : EINVAL);

        if (!err)
                return -ret;
        err->code = ret;
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        if (with_errno && code != 0) {
                size_t n = strlen(err->msg);
                snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(ret));
        }
        return -ret;
}

int ob_error_set(ObError *err, int code, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = error_vset(err, code, 1, fmt, ap);
        va_end(ap);
        return r;
}

int ob_error_plain(ObError *err, int code, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = error_vset(err, code, 0, fmt, ap);
        va_end(ap);
        return r;
}

/* Puts prefix and sep in front of the message in err, from its byte skip
 * on; what does not fit is cut from the end of the old message. */
static void error_prepend(ObError *err, const char *prefix, const char *sep, size_t skip)
{
        char old[sizeof(err->msg)];
        size_t sl = strlen(sep);

        memcpy(old, err->msg + skip, sizeof(old) - skip);
        size_t n = strlen(prefix);
        if (n > sizeof(err->msg) - sl - 1)
                n = sizeof(err->msg) - sl - 1;
        memcpy(err->msg, prefix, n);
        memcpy(err->msg + n, sep, sl);
        size_t rest = sizeof(err->msg) - n - sl - 1;
        size_t ol = strnlen(old, rest);
        memcpy(err->msg + n + sl, old, ol);
        err->msg[n + sl + ol] = '\0';
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

void ob_error_clear(ObError *err)
{
        if (!err)
                return;
        err->code = 0;
        err->msg[0] = '\0';
}
