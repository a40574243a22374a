/* SPDX-License-Identifier: MIT */
#include "testutil.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

void test_tmpdir(char *buf, size_t size, const char *name)
{
        const char *base = getenv("TMPDIR");
        snprintf(buf, size, "%s/ob-test-%s-XXXXXX", base && *base ? base : "/tmp", name);
        if (!mkdtemp(buf))
                abort();
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
        (void) st;
        (void) type;
        (void) ftw;
        remove(path);
        return 0;
}

void test_rm_rf(const char *path)
{
        nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
