/* SPDX-License-Identifier: MIT */
/* The md5 cache: an entry is found only for the same file identity, is
 * kept across runs, is not made for a file changed within a clock tick of
 * the run's start, and a damaged file is ignored. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "md5-cache.h"
#include "testutil.h"
#include "util.h"

static char dir[4096];
static char sums[4200];

#define START 2000000000LL
static const struct timespec start = { .tv_sec = START, .tv_nsec = 500 };
static const char md5_a[] = "d3b07384d113edec49eaa6238ad5ff00";
static const char md5_b[] = "57e8ba76f9687869169381682025c45c";

static void setup(void)
{
        test_tmpdir(dir, sizeof(dir), "md5-cache");
        snprintf(sums, sizeof(sums), "%s/md5/sums", dir);
}

static void teardown(void)
{
        test_rm_rf(dir);
}

static Md5Cache *open_at(const struct timespec *t)
{
        _cleanup_free_ char *d = xasprintf("%s/md5", dir);
        return md5_cache_open(d, t);
}

/* A regular file last changed an hour before the run. */
static struct stat file_stat(ino_t ino)
{
        struct stat st = { 0 };
        st.st_mode = S_IFREG | 0644;
        st.st_dev = 42;
        st.st_ino = ino;
        st.st_size = 4;
        st.st_mtim = (struct timespec){ .tv_sec = START - 3600, .tv_nsec = 123 };
        st.st_ctim = (struct timespec){ .tv_sec = START - 3600, .tv_nsec = 456 };
        return st;
}

static bool has(Md5Cache *c, const struct stat *st, const char *want)
{
        char got[33];
        if (!md5_cache_lookup(c, st, got))
                return false;
        ck_assert_str_eq(got, want);
        return true;
}

START_TEST(test_hit_and_kept)
{
        struct stat a = file_stat(1), b = file_stat(2);
        {
                _cleanup_(md5_cache_freep) Md5Cache *c = open_at(&start);
                ck_assert(!has(c, &a, md5_a));
                md5_cache_store(c, &a, md5_a);
                md5_cache_store(c, &b, md5_b);
                ck_assert(has(c, &a, md5_a));
                md5_cache_save(c);
        }
        struct stat st;
        ck_assert_int_eq(stat(sums, &st), 0);
        ck_assert_uint_eq(st.st_mode & 0777, 0600);
        _cleanup_(md5_cache_freep) Md5Cache *c = open_at(&start);
        ck_assert(has(c, &a, md5_a));
        ck_assert(has(c, &b, md5_b));
        /* Nothing learnt: nothing written. */
        ck_assert_int_eq(unlink(sums), 0);
        md5_cache_save(c);
        ck_assert_int_eq(access(sums, F_OK), -1);
        ck_assert(!has(NULL, &a, md5_a));
}
END_TEST

/* A cache of the run only: it finds what it was told in the run, keeps
 * racy files out like the others, and writes no file. */
START_TEST(test_memory)
{
        struct stat a = file_stat(1), racy = file_stat(2);
        racy.st_mtim = start;
        _cleanup_(md5_cache_freep) Md5Cache *c = md5_cache_open_memory(&start);
        ck_assert(!has(c, &a, md5_a));
        md5_cache_store(c, &a, md5_a);
        md5_cache_store(c, &racy, md5_b);
        ck_assert(has(c, &a, md5_a));
        ck_assert(!has(c, &racy, md5_b));
        md5_cache_save(c);
        struct stat st;
        ck_assert_int_eq(stat(sums, &st), -1);
        _cleanup_(md5_cache_freep) Md5Cache *disk = open_at(&start);
        ck_assert(!has(disk, &a, md5_a));
}
END_TEST

START_TEST(test_identity)
{
        _cleanup_(md5_cache_freep) Md5Cache *c = open_at(&start);
        struct stat a = file_stat(1);
        md5_cache_store(c, &a, md5_a);
        struct stat x = a;
        x.st_size = 5;
        ck_assert(!has(c, &x, md5_a));
        x = a;
        x.st_mtim.tv_nsec++;
        ck_assert(!has(c, &x, md5_a));
        x = a;
        x.st_ctim.tv_sec++;
        ck_assert(!has(c, &x, md5_a));
        x = a;
        x.st_ino = 3;
        ck_assert(!has(c, &x, md5_a));
        x = a;
        x.st_dev = 43;
        ck_assert(!has(c, &x, md5_a));
        ck_assert(has(c, &a, md5_a));
        /* The file changed (a new md5 for the same inode): the new one. */
        x = a;
        x.st_size = 5;
        md5_cache_store(c, &x, md5_b);
        ck_assert(has(c, &x, md5_b));
        ck_assert(!has(c, &a, md5_a));
}
END_TEST

START_TEST(test_racy)
{
        _cleanup_(md5_cache_freep) Md5Cache *c = open_at(&start);
        struct stat m = file_stat(1), ct = file_stat(2), coarse = file_stat(3), old = file_stat(4);
        m.st_mtim = (struct timespec){ .tv_sec = START, .tv_nsec = 0 };
        ct.st_ctim = (struct timespec){ .tv_sec = START - 1, .tv_nsec = 999000000 };
        /* Whole-second timestamps: the window is seconds wide. */
        coarse.st_mtim = coarse.st_ctim = (struct timespec){ .tv_sec = START - 1, .tv_nsec = 0 };
        old.st_mtim = old.st_ctim = (struct timespec){ .tv_sec = START - 10, .tv_nsec = 0 };
        md5_cache_store(c, &m, md5_a);
        md5_cache_store(c, &ct, md5_a);
        md5_cache_store(c, &coarse, md5_a);
        md5_cache_store(c, &old, md5_a);
        ck_assert(!has(c, &m, md5_a));
        ck_assert(!has(c, &ct, md5_a));
        ck_assert(!has(c, &coarse, md5_a));
        ck_assert(has(c, &old, md5_a));
        /* Not a regular file, not an md5. */
        struct stat d = file_stat(5);
        d.st_mode = S_IFDIR | 0755;
        md5_cache_store(c, &d, md5_a);
        ck_assert(!has(c, &d, md5_a));
        struct stat bad = file_stat(6);
        md5_cache_store(c, &bad, "not an md5 at all, but 32 chars!");
        ck_assert(!has(c, &bad, md5_a));
}
END_TEST

static void save_two(void)
{
        _cleanup_(md5_cache_freep) Md5Cache *c = open_at(&start);
        struct stat a = file_stat(1), b = file_stat(2);
        md5_cache_store(c, &a, md5_a);
        md5_cache_store(c, &b, md5_b);
        md5_cache_save(c);
}

static void put_sums(const char *text, size_t n)
{
        _cleanup_free_ char *d = xasprintf("%s/md5", dir);
        ObError err;
        ck_assert(mkdir_p(d, 0700, &err) == 0);
        ck_assert_msg(write_file_atomic(sums, text, n, 0600, &err) == 0, "%s", err.msg);
}

/* Garbage, a cut file, a line that is not an entry, a wrong count: never
 * trusted, and replaced by the next save. */
START_TEST(test_damaged)
{
        save_two();
        _cleanup_free_ char *good = NULL;
        size_t n = 0;
        ObError err;
        ck_assert(read_file(sums, &good, &n, &err) == 0);
        ck_assert_ptr_nonnull(strstr(good, "end 2\n"));
        struct stat a = file_stat(1);

        static const char *const garbage[] = {
                "garbage\n",
                "",
                "oci-build md5 cache 1\n",
                "oci-build md5 cache 1\nend 1\n",
                "oci-build md5 cache 1\n42 1 4 x 1 1 d3b07384d113edec49eaa6238ad5ff00\nend 1\n",
                "oci-build md5 cache 1\n42 1 4 1 1 23148 d3b07384d113edec49eaa6238ad5ff0\nend 1\n",
                "oci-build md5 cache 1\n42 1 4 1 1 23148 d3b07384d113edec49eaa6238ad5ff00 x\nend 1\n",
                "oci-build md5 cache 1\n42 1 -4 1 1 23148 d3b07384d113edec49eaa6238ad5ff00\nend 1\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(garbage); i++) {
                put_sums(garbage[i], strlen(garbage[i]));
                _cleanup_(md5_cache_freep) Md5Cache *c = open_at(&start);
                ck_assert(!has(c, &a, md5_a));
        }
        /* Cut anywhere: before the end line, or in it. */
        for (size_t cut = 1; cut < 12; cut++) {
                put_sums(good, n - cut);
                _cleanup_(md5_cache_freep) Md5Cache *c = open_at(&start);
                ck_assert_msg(!has(c, &a, md5_a), "cut %zu", cut);
        }
        /* A line more after the end. */
        _cleanup_free_ char *more = xasprintf("%s%s", good, strchr(good, '\n') + 1);
        put_sums(more, strlen(more));
        {
                _cleanup_(md5_cache_freep) Md5Cache *c = open_at(&start);
                ck_assert(!has(c, &a, md5_a));
                /* It heals: what this run learns replaces the file. */
                md5_cache_store(c, &a, md5_a);
                md5_cache_save(c);
        }
        _cleanup_(md5_cache_freep) Md5Cache *c = open_at(&start);
        ck_assert(has(c, &a, md5_a));
}
END_TEST

/* Entries not used for MD5_CACHE_DAYS go; used ones stay. */
START_TEST(test_expiry)
{
        save_two();
        struct stat a = file_stat(1), b = file_stat(2);
        struct timespec later = start;
        later.tv_sec += 40 * 86400;
        {
                _cleanup_(md5_cache_freep) Md5Cache *c = open_at(&later);
                ck_assert(has(c, &a, md5_a)); /* refreshed: written again */
                md5_cache_save(c);
        }
        later.tv_sec += 40 * 86400;
        _cleanup_(md5_cache_freep) Md5Cache *c = open_at(&later);
        ck_assert(has(c, &a, md5_a));
        ck_assert(!has(c, &b, md5_b));
}
END_TEST

START_TEST(test_unwritable)
{
        /* The cache directory is a file. */
        _cleanup_free_ char *d = xasprintf("%s/md5", dir);
        test_mk_file(dir, "md5", "not a directory\n", 0644);
        _cleanup_(md5_cache_freep) Md5Cache *c = md5_cache_open(d, &start);
        struct stat a = file_stat(1);
        md5_cache_store(c, &a, md5_a);
        md5_cache_save(c);
        md5_cache_store(c, &a, md5_b);
        md5_cache_save(c); /* told once, not again */
        ck_assert(has(c, &a, md5_b));
        struct stat st;
        ck_assert_int_eq(stat(d, &st), 0);
        ck_assert(S_ISREG(st.st_mode));
}
END_TEST

static Suite *md5_cache_suite(void)
{
        Suite *s = suite_create("md5-cache");
        TCase *tc = tcase_create("md5-cache");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_hit_and_kept);
        tcase_add_test(tc, test_memory);
        tcase_add_test(tc, test_identity);
        tcase_add_test(tc, test_racy);
        tcase_add_test(tc, test_damaged);
        tcase_add_test(tc, test_expiry);
        tcase_add_test(tc, test_unwritable);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return test_run(md5_cache_suite());
}
