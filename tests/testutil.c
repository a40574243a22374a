/* SPDX-License-Identifier: MIT */
#include "testutil.h"

#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>
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

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

int test_run(Suite *s)
{
        SRunner *sr = srunner_create(s);
#ifdef UNDER_ASAN
        if (!getenv("CK_FORK"))
                srunner_set_fork_status(sr, CK_NOFORK);
#endif
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed != 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

void test_check_bad_config(SpecLoader load, const char *dir, const BadCase *c)
{
        _cleanup_free_ char *path = xasprintf("%s/%s", dir, c->file);
        _cleanup_free_ char *want = xasprintf("%s:%s", path, c->expected);
        ObError e = { 0 };
        Spec *s = NULL;

        ck_assert_msg(access(path, R_OK) == 0, "fixture %s is missing", path);
        int r = load(path, &s, &e);
        ck_assert_msg(r == -EINVAL, "%s: expected -EINVAL, got %d (%s)", c->file, r, e.msg);
        ck_assert_ptr_null(s);
        ck_assert_int_eq(e.code, EINVAL);
        ck_assert_msg(strcmp(e.msg, want) == 0, "%s:\n  got:      %s\n  expected: %s", c->file, e.msg, want);
}

void test_check_fixtures_listed(const char *dir, const BadCase *cases, size_t n)
{
        DIR *d = opendir(dir);
        ck_assert_ptr_nonnull(d);
        struct dirent *de;
        size_t n_bad = 0;
        while ((de = readdir(d))) {
                if (!str_startswith(de->d_name, "bad-"))
                        continue;
                n_bad++;
                bool found = false;
                for (size_t i = 0; i < n; i++)
                        found |= strcmp(cases[i].file, de->d_name) == 0;
                ck_assert_msg(found, "fixture %s has no expected message", de->d_name);
        }
        closedir(d);
        ck_assert_uint_eq(n_bad, n);
}
