/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

int ob_verbosity = 0;

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
