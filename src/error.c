/* SPDX-License-Identifier: MIT */
#include "error.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

__attribute__((format(printf, 4, 0)))
static int error_vset(ObError *err, int code, bool with_errno, const char *fmt, va_list ap)
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

int ob_error_wrap(ObError *err, const char *fmt, ...)
{
        char prefix[1024];
        char old[sizeof(err->msg)];
        va_list ap;

        if (!err)
                return -EINVAL;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof(prefix), fmt, ap);
        va_end(ap);
        memcpy(old, err->msg, sizeof(old));
        size_t n = strlen(prefix);
        if (n > sizeof(err->msg) - 3)
                n = sizeof(err->msg) - 3;
        memcpy(err->msg, prefix, n);
        memcpy(err->msg + n, ": ", 2);
        size_t rest = sizeof(err->msg) - n - 3;
        size_t ol = strnlen(old, rest);
        memcpy(err->msg + n + 2, old, ol);
        err->msg[n + 2 + ol] = '\0';
        return -(err->code ? err->code : EINVAL);
}

void ob_error_clear(ObError *err)
{
        if (!err)
                return;
        err->code = 0;
        err->msg[0] = '\0';
}
