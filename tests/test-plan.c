/* SPDX-License-Identifier: MIT */
/* The entry plan: ordering, implied parents, conflicts, and copying trees
 * from a sysroot built in a temporary directory. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "plan.h"
#include "sysroot.h"
#include "testutil.h"
#include "util.h"

static char tmp_root[4096];

static void tmp_setup(void)
{
        test_tmpdir(tmp_root, sizeof(tmp_root), "plan");
}

static void tmp_teardown(void)
{
        test_rm_rf(tmp_root);
}

/* A fresh directory for one test. */
static char *test_dir(const char *name)
{
        char *p = xasprintf("%s/%s", tmp_root, name);
        ck_assert_int_eq(mkdir(p, 0755), 0);
        return p;
}

static void add_data(Plan *p, const char *path, const char *data, uint32_t mode)
{
        ObError e = { 0 };
        Entry en = { .path = (char *) path,
                     .type = ENTRY_FILE,
                     .mode = mode,
                     .size = strlen(data),
                     .data = (char *) data };
        ck_assert_msg(plan_add(p, &en, &e) == 0, "%s", e.msg);
}

static void add_dir(Plan *p, const char *path, uint32_t mode, uint32_t uid)
{
        ObError e = { 0 };
        Entry en = { .path = (char *) path, .type = ENTRY_DIR, .mode = mode, .uid = uid, .gid = uid };
        ck_assert_msg(plan_add(p, &en, &e) == 0, "%s", e.msg);
}

static void finish(Plan *p, int64_t mtime)
{
        ObError e = { 0 };
        ck_assert_msg(plan_finish(p, mtime, &e) == 0, "%s", e.msg);
}

/* ---- plan_add / plan_finish ---- */

START_TEST(test_sort_component_wise)
{
        Plan p;
        plan_init(&p);
        /* Added in an order unrelated to the result. */
        add_data(&p, "/ab", "1", 0644);
        add_data(&p, "/a.txt", "2", 0644);
        add_data(&p, "/a/z", "3", 0644);
        add_data(&p, "a-b", "4", 0644);
        add_data(&p, "/a/b/c", "5", 0644);
        add_dir(&p, "/a/b", 0755, 0);
        add_data(&p, "/a0", "6", 0644);
        add_dir(&p, "/a", 0755, 0);
        add_data(&p, "/a/\xc3\xa9", "7", 0644);
        finish(&p, 0);
        static const char *const want[] = { "a", "a/b", "a/b/c", "a/z", "a/\xc3\xa9", "a-b", "a.txt", "a0", "ab" };
        test_assert_paths(&p, want, ELEMENTSOF(want));
        /* The index still finds everything after the sort. */
        ck_assert_str_eq(test_must_find(&p, "/a/b/c")->data, "5");
        ck_assert_str_eq(test_must_find(&p, "a-b")->data, "4");
        ck_assert_ptr_null(plan_find(&p, "a/b/c/d"));
        ck_assert_ptr_null(plan_find(&p, "missing"));
        plan_clear(&p);
        ck_assert_uint_eq(p.n, 0);
        ck_assert_ptr_null(p.entries);
}
END_TEST

START_TEST(test_implied_parents)
{
        Plan p;
        plan_init(&p);
        ObError e = { 0 };
        Entry f = { .path = (char *) "/usr/share/doc/x",
                    .type = ENTRY_FILE,
                    .mode = 0600,
                    .uid = 5,
                    .gid = 6,
                    .size = 1,
                    .data = (char *) "x",
                    .mtime = 7 };
        ck_assert_int_eq(plan_add(&p, &f, &e), 0);
        /* An explicit directory given after its child was added. */
        add_dir(&p, "/opt", 0700, 1000);
        add_data(&p, "/opt/app/conf", "c", 0644);
        finish(&p, 1234);

        static const char *const want[] = { "opt",       "opt/app",       "opt/app/conf",   "usr",
                                            "usr/share", "usr/share/doc", "usr/share/doc/x" };
        test_assert_paths(&p, want, ELEMENTSOF(want));
        static const char *const implied[] = { "opt/app", "usr", "usr/share", "usr/share/doc" };
        for (size_t i = 0; i < ELEMENTSOF(implied); i++) {
                const Entry *d = test_must_find(&p, implied[i]);
                ck_assert_int_eq(d->type, ENTRY_DIR);
                ck_assert_uint_eq(d->mode, 0755);
                ck_assert_uint_eq(d->uid, 0);
                ck_assert_uint_eq(d->gid, 0);
                ck_assert_int_eq(d->mtime, 1234);
                ck_assert_str_eq(d->why, "parent directory");
        }
        const Entry *opt = test_must_find(&p, "/opt");
        ck_assert_uint_eq(opt->mode, 0700);
        ck_assert_uint_eq(opt->uid, 1000);
        const Entry *x = test_must_find(&p, "usr/share/doc/x");
        ck_assert_uint_eq(x->mode, 0600);
        ck_assert_uint_eq(x->uid, 5);
        ck_assert_uint_eq(x->gid, 6);
        ck_assert_int_eq(x->mtime, 7);

        /* An explicit directory replaces an implied one even after finish. */
        add_dir(&p, "/usr/share", 0750, 3);
        const Entry *us = test_must_find(&p, "usr/share");
        ck_assert_uint_eq(us->mode, 0750);
        ck_assert_uint_eq(us->uid, 3);
        ck_assert_uint_eq(p.n, ELEMENTSOF(want));
        plan_clear(&p);
}
END_TEST

START_TEST(test_same_path_twice)
{
        Plan p;
        plan_init(&p);
        ObError e = { 0 };
        add_data(&p, "/etc/x", "hello", 0644);
        add_data(&p, "etc//x", "hello", 0644);
        add_data(&p, "/./etc/x/", "hello", 0644);
        Entry l1 = { .path = (char *) "/bin", .type = ENTRY_SYMLINK, .mode = 0777, .target = (char *) "usr/bin" };
        ck_assert_int_eq(plan_add(&p, &l1, &e), 0);
        ck_assert_int_eq(plan_add(&p, &l1, &e), 0);
        add_dir(&p, "/etc", 0755, 0);
        add_dir(&p, "/etc", 0755, 0);
        ck_assert_uint_eq(p.n, 3);
        finish(&p, 0);
        ck_assert_uint_eq(p.n, 3);
        plan_clear(&p);
}
END_TEST

START_TEST(test_same_path_conflicts)
{
        static const Entry base = { .path = (char *) "/etc/x",
                                    .type = ENTRY_FILE,
                                    .mode = 0644,
                                    .size = 5,
                                    .data = (char *) "hello",
                                    .why = (char *) "first" };
        Entry variants[6];
        for (size_t i = 0; i < ELEMENTSOF(variants); i++) {
                variants[i] = base;
                variants[i].why = (char *) "second";
        }
        variants[0].data = (char *) "HELLO";                        /* content */
        variants[1].mode = 0600;                                    /* mode */
        variants[2].uid = 1;                                        /* owner */
        variants[3].data = (char *) "hello!", variants[3].size = 6; /* size */
        variants[4].type = ENTRY_DIR, variants[4].data = NULL, variants[4].size = 0;
        variants[5].type = ENTRY_SYMLINK, variants[5].data = NULL, variants[5].target = (char *) "y";

        for (size_t i = 0; i < ELEMENTSOF(variants); i++) {
                Plan p;
                ObError e = { 0 };
                plan_init(&p);
                ck_assert_int_eq(plan_add(&p, &base, &e), 0);
                int r = plan_add(&p, &variants[i], &e);
                ck_assert_msg(r == -EEXIST, "variant %zu: %d", i, r);
                ck_assert_msg(str_startswith(e.msg, "two different sources for '/etc/x': file (first) and "),
                              "variant %zu: %s", i, e.msg);
                ck_assert_msg(strstr(e.msg, "(second)") != NULL, "%s", e.msg);
                ck_assert_uint_eq(p.n, 1);
                ck_assert_str_eq(p.entries[0].data, "hello");
                plan_clear(&p);
        }

        /* An explicit directory does not override another explicit one. */
        Plan p;
        ObError e = { 0 };
        plan_init(&p);
        add_dir(&p, "/tmp", 01777, 0);
        Entry d2 = { .path = (char *) "/tmp", .type = ENTRY_DIR, .mode = 0755 };
        ck_assert_int_eq(plan_add(&p, &d2, &e), -EEXIST);
        ck_assert(str_startswith(e.msg, "two different sources for '/tmp': directory"));
        plan_clear(&p);
}
END_TEST

START_TEST(test_bad_paths)
{
        Plan p;
        plan_init(&p);
        ObError e = { 0 };
        Entry en = { .path = (char *) "/", .type = ENTRY_DIR, .mode = 0755 };
        ck_assert_int_eq(plan_add(&p, &en, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "the image root itself cannot be an entry");
        en.path = (char *) "//./";
        ck_assert_int_eq(plan_add(&p, &en, &e), -EINVAL);
        en.path = (char *) "a/../b";
        ck_assert_int_eq(plan_add(&p, &en, &e), -EINVAL);
        ck_assert_str_eq(e.msg, "invalid image path: '/a/../b' contains '..'");
        ck_assert_uint_eq(p.n, 0);
        plan_clear(&p);
}
END_TEST

START_TEST(test_entry_below_file)
{
        Plan p;
        ObError e = { 0 };
        plan_init(&p);
        add_data(&p, "/etc", "not a dir", 0644);
        add_data(&p, "/etc/passwd", "root", 0644);
        ck_assert_int_eq(plan_finish(&p, 0, &e), -ENOTDIR);
        ck_assert_str_eq(e.msg, "'/etc' is a file in the image, but '/etc/passwd' needs it to be a directory");
        plan_clear(&p);

        plan_init(&p);
        Entry l = { .path = (char *) "/lib", .type = ENTRY_SYMLINK, .mode = 0777, .target = (char *) "usr/lib" };
        ck_assert_int_eq(plan_add(&p, &l, &e), 0);
        add_data(&p, "/lib/x/y.so", "so", 0755);
        ck_assert_int_eq(plan_finish(&p, 0, &e), -ENOTDIR);
        ck_assert_str_eq(e.msg, "'/lib' is a symlink in the image, but '/lib/x/y.so' needs it to be a directory");
        plan_clear(&p);
}
END_TEST

START_TEST(test_plan_copies_input)
{
        Plan p;
        ObError e = { 0 };
        plan_init(&p);
        char path[] = "/etc/data";
        char data[] = "a\0b";
        char why[] = "because";
        Entry en = { .path = path, .type = ENTRY_FILE, .mode = 0644, .size = 3, .data = data, .why = why };
        ck_assert_int_eq(plan_add(&p, &en, &e), 0);
        memset(path, 'X', sizeof(path) - 1);
        memset(data, 'Y', sizeof(data) - 1);
        memset(why, 'Z', sizeof(why) - 1);
        const Entry *got = test_must_find(&p, "etc/data");
        ck_assert_str_eq(got->path, "etc/data");
        ck_assert_mem_eq(got->data, "a\0b", 3);
        ck_assert_str_eq(got->why, "because");
        ck_assert_uint_eq(plan_content_size(&p), 3);
        plan_clear(&p);
}
END_TEST

START_TEST(test_many_entries)
{
        Plan p;
        plan_init(&p);
        for (int i = 2999; i >= 0; i--) {
                char path[32], data[16];
                snprintf(path, sizeof(path), "/d/f%04d", i);
                snprintf(data, sizeof(data), "%d", i);
                add_data(&p, path, data, 0644);
        }
        finish(&p, 0);
        ck_assert_uint_eq(p.n, 3001);
        ck_assert_str_eq(p.entries[0].path, "d");
        for (int i = 0; i < 3000; i++) {
                char path[32], data[16];
                snprintf(path, sizeof(path), "d/f%04d", i);
                snprintf(data, sizeof(data), "%d", i);
                ck_assert_str_eq(p.entries[i + 1].path, path);
                ck_assert_str_eq(test_must_find(&p, path)->data, data);
        }
        plan_clear(&p);
}
END_TEST

/* ---- plan_add_host ---- */

START_TEST(test_add_host_tree)
{
        char *dir = test_dir("tree");
        char *root = xasprintf("%s/root", dir);
        ck_assert_int_eq(mkdir(root, 0755), 0);
        test_mk_dir(root, "data", 0750);
        test_mk_file(root, "data/a.txt", "alpha", 0644);
        test_mk_dir(root, "data/bin", 0755);
        test_mk_file(root, "data/bin/tool", "#!x", 04755);
        test_mk_file(root, "data/g", "g", 02755);
        test_mk_dir(root, "data/spool", 03777);
        test_mk_dir(root, "data/sub", 0755);
        test_mk_file(root, "data/sub/keep.txt", "k", 0604);
        test_mk_file(root, "data/sub/deep.log", "log", 0644);
        test_mk_link(root, "data/sub/link", "../a.txt");
        test_mk_link(root, "data/abs-link", "/data/a.txt");
        test_mk_file(root, "data/skip.log", "log", 0644);
        test_mk_dir(root, "data/cache", 0755);
        test_mk_file(root, "data/cache/x", "x", 0644);
        char *a_host = xasprintf("%s/data/a.txt", root);
        struct timespec ts[2] = { { 1000000, 0 }, { 1000000, 0 } };
        ck_assert_int_eq(utimensat(AT_FDCWD, a_host, ts, AT_SYMLINK_NOFOLLOW), 0);

        Sysroot *sr = test_open_root(root);
        char *const exclude[] = { (char *) "*.log", (char *) "/img/cache", NULL };
        PlanCopyOptions o = { .dst = "/img",
                              .src = "/data",
                              .exclude = exclude,
                              .uid = 7,
                              .gid = 8,
                              .why = "test tree" };
        Plan p;
        ObError e = { 0 };
        plan_init(&p);
        ck_assert_msg(plan_add_host(&p, sr, &o, &e) == 0, "%s", e.msg);
        finish(&p, 500);

        static const char *const want[] = { "img",   "img/a.txt", "img/abs-link", "img/bin",          "img/bin/tool",
                                            "img/g", "img/spool", "img/sub",      "img/sub/keep.txt", "img/sub/link" };
        test_assert_paths(&p, want, ELEMENTSOF(want));

        const Entry *en = test_must_find(&p, "img");
        ck_assert_int_eq(en->type, ENTRY_DIR);
        ck_assert_uint_eq(en->mode, 0750);
        ck_assert_uint_eq(en->uid, 7);
        ck_assert_uint_eq(en->gid, 8);

        en = test_must_find(&p, "img/a.txt");
        ck_assert_int_eq(en->type, ENTRY_FILE);
        ck_assert_uint_eq(en->mode, 0644);
        ck_assert_uint_eq(en->size, 5);
        ck_assert_str_eq(en->source, a_host);
        ck_assert_ptr_null(en->data);
        ck_assert_int_eq(en->mtime, 1000000);
        ck_assert_str_eq(en->why, "test tree");
        ck_assert_uint_eq(en->uid, 7);

        en = test_must_find(&p, "img/abs-link");
        ck_assert_int_eq(en->type, ENTRY_SYMLINK);
        ck_assert_str_eq(en->target, "/data/a.txt");
        ck_assert_uint_eq(en->mode, 0777);
        en = test_must_find(&p, "img/sub/link");
        ck_assert_int_eq(en->type, ENTRY_SYMLINK);
        ck_assert_str_eq(en->target, "../a.txt");

        /* setuid and setgid never enter the image; the sticky bit may. */
        ck_assert_uint_eq(test_must_find(&p, "img/bin/tool")->mode, 0755);
        ck_assert_uint_eq(test_must_find(&p, "img/g")->mode, 0755);
        ck_assert_uint_eq(test_must_find(&p, "img/spool")->mode, 01777);
        ck_assert_uint_eq(test_must_find(&p, "img/sub/keep.txt")->mode, 0604);
        ck_assert_uint_eq(plan_content_size(&p), 5 + 3 + 1 + 1);

        plan_clear(&p);
        sysroot_free(sr);
        free(a_host);
        free(root);
        free(dir);
}
END_TEST

START_TEST(test_add_host_single_file_and_links)
{
        char *dir = test_dir("single");
        test_mk_dir(dir, "etc", 0755);
        test_mk_file(dir, "etc/real.conf", "conf", 0644);
        test_mk_link(dir, "etc/alias.conf", "real.conf");
        test_mk_link(dir, "abs", "/etc"); /* absolute: stays inside the sysroot */
        Sysroot *sr = test_open_root(dir);
        Plan p;
        ObError e = { 0 };
        plan_init(&p);

        /* A symlink on the way to the source is followed; mode overrides. */
        PlanCopyOptions o = { .dst = "/conf", .src = "/abs/alias.conf", .has_mode = true, .mode = 0444 };
        ck_assert_msg(plan_add_host(&p, sr, &o, &e) == 0, "%s", e.msg);
        char *host = xasprintf("%s/etc/real.conf", dir);
        const Entry *en = test_must_find(&p, "conf");
        ck_assert_int_eq(en->type, ENTRY_FILE);
        ck_assert_str_eq(en->source, host);
        ck_assert_uint_eq(en->mode, 0444);
        ck_assert_uint_eq(en->size, 4);

        /* The same host file again at the same place is not a conflict. */
        ck_assert_msg(plan_add_host(&p, sr, &o, &e) == 0, "%s", e.msg);
        ck_assert_uint_eq(p.n, 1);
        /* but with another mode it is. */
        o.mode = 0400;
        ck_assert_int_eq(plan_add_host(&p, sr, &o, &e), -EEXIST);
        ck_assert_ptr_nonnull(strstr(e.msg, "'/conf'"));

        plan_clear(&p);
        sysroot_free(sr);
        free(host);
        free(dir);
}
END_TEST

START_TEST(test_add_host_escape)
{
        char *dir = test_dir("escape");
        char *root = xasprintf("%s/root", dir);
        ck_assert_int_eq(mkdir(root, 0755), 0);
        test_mk_dir(dir, "outside", 0755);
        test_mk_file(dir, "outside/secret", "s", 0644);
        test_mk_dir(root, "a", 0755);
        test_mk_link(root, "a/up", "../../outside");
        test_mk_link(root, "esc", "../outside");
        Sysroot *sr = test_open_root(root);
        Plan p;
        ObError e = { 0 };
        plan_init(&p);

        static const char *const srcs[] = { "/esc", "/esc/secret", "/a/up/secret", "/../outside/secret" };
        for (size_t i = 0; i < ELEMENTSOF(srcs); i++) {
                PlanCopyOptions o = { .dst = "/x", .src = srcs[i] };
                int r = plan_add_host(&p, sr, &o, &e);
                ck_assert_msg(r == -EXDEV, "%s: %d %s", srcs[i], r, e.msg);
                ck_assert_msg(strstr(e.msg, "escapes the sysroot") != NULL, "%s", e.msg);
                ck_assert_msg(strstr(e.msg, srcs[i]) != NULL, "the message does not name %s: %s", srcs[i], e.msg);
        }
        ck_assert_uint_eq(p.n, 0);
        plan_clear(&p);
        sysroot_free(sr);
        free(root);
        free(dir);
}
END_TEST

START_TEST(test_add_host_missing)
{
        char *dir = test_dir("missing");
        test_mk_dir(dir, "data", 0755);
        test_mk_link(dir, "dangling", "/data/nothing");
        Sysroot *sr = test_open_root(dir);
        Plan p;
        ObError e = { 0 };
        plan_init(&p);

        PlanCopyOptions o = { .dst = "/x", .src = "/nope" };
        ck_assert_int_eq(plan_add_host(&p, sr, &o, &e), -ENOENT);
        ck_assert_str_eq(e.msg, "'/nope' does not exist in the sysroot");
        o.src = "/data/nope/x";
        ck_assert_int_eq(plan_add_host(&p, sr, &o, &e), -ENOENT);
        ck_assert_str_eq(e.msg, "'/data/nope' does not exist in the sysroot (resolving '/data/nope/x')");
        o.src = "/dangling";
        ck_assert_int_eq(plan_add_host(&p, sr, &o, &e), -ENOENT);
        ck_assert_str_eq(e.msg, "'/data/nothing' does not exist in the sysroot (resolving '/dangling')");
        ck_assert_uint_eq(p.n, 0);
        plan_clear(&p);
        sysroot_free(sr);
        free(dir);
}
END_TEST

START_TEST(test_add_host_fifo)
{
        char *dir = test_dir("fifo");
        test_mk_dir(dir, "t", 0755);
        test_mk_file(dir, "t/ok", "ok", 0644);
        char *fifo = xasprintf("%s/t/pipe", dir);
        ck_assert_int_eq(mkfifo(fifo, 0644), 0);
        Sysroot *sr = test_open_root(dir);
        Plan p;
        ObError e = { 0 };
        plan_init(&p);
        PlanCopyOptions o = { .dst = "/t", .src = "/t" };
        ck_assert_int_eq(plan_add_host(&p, sr, &o, &e), -EINVAL);
        char *want = xasprintf("'%s' is not a regular file, directory or symlink", fifo);
        ck_assert_str_eq(e.msg, want);

        /* Excluding it makes the tree acceptable. */
        plan_clear(&p);
        char *const exclude[] = { (char *) "pipe", NULL };
        o.exclude = exclude;
        ck_assert_msg(plan_add_host(&p, sr, &o, &e) == 0, "%s", e.msg);
        ck_assert_uint_eq(p.n, 2);
        plan_clear(&p);
        sysroot_free(sr);
        free(want);
        free(fifo);
        free(dir);
}
END_TEST

START_TEST(test_add_host_hardlinks)
{
        char *dir = test_dir("hardlinks");
        test_mk_dir(dir, "hl", 0755);
        test_mk_file(dir, "hl/one", "same", 0644);
        test_mk_file(dir, "hl/single", "solo", 0644);
        char *one = xasprintf("%s/hl/one", dir);
        char *two = xasprintf("%s/hl/two", dir);
        char *three = xasprintf("%s/hl/a-three", dir);
        ck_assert_int_eq(link(one, two), 0);
        ck_assert_int_eq(link(one, three), 0);
        Sysroot *sr = test_open_root(dir);
        Plan p;
        ObError e = { 0 };
        plan_init(&p);
        PlanCopyOptions o = { .dst = "/hl", .src = "/hl" };
        ck_assert_msg(plan_add_host(&p, sr, &o, &e) == 0, "%s", e.msg);

        /* Before finish every name is a file of its own. */
        ck_assert_int_eq(test_must_find(&p, "hl/two")->type, ENTRY_FILE);
        finish(&p, 0);

        static const char *const want[] = { "hl", "hl/a-three", "hl/one", "hl/single", "hl/two" };
        test_assert_paths(&p, want, ELEMENTSOF(want));
        /* The first in sort order carries the data. */
        const Entry *en = test_must_find(&p, "hl/a-three");
        ck_assert_int_eq(en->type, ENTRY_FILE);
        ck_assert_uint_eq(en->size, 4);
        en = test_must_find(&p, "hl/one");
        ck_assert_int_eq(en->type, ENTRY_HARDLINK);
        ck_assert_str_eq(en->target, "hl/a-three");
        en = test_must_find(&p, "hl/two");
        ck_assert_int_eq(en->type, ENTRY_HARDLINK);
        ck_assert_str_eq(en->target, "hl/a-three");
        ck_assert_int_eq(test_must_find(&p, "hl/single")->type, ENTRY_FILE);
        ck_assert_uint_eq(plan_content_size(&p), 8);
        plan_clear(&p);

        /* Two names of one inode are the same content at one path. */
        plan_init(&p);
        PlanCopyOptions o1 = { .dst = "/x", .src = "/hl/one" };
        PlanCopyOptions o2 = { .dst = "/x", .src = "/hl/two" };
        ck_assert_msg(plan_add_host(&p, sr, &o1, &e) == 0, "%s", e.msg);
        ck_assert_msg(plan_add_host(&p, sr, &o2, &e) == 0, "%s", e.msg);
        ck_assert_uint_eq(p.n, 1);
        PlanCopyOptions o3 = { .dst = "/x", .src = "/hl/single" };
        ck_assert_int_eq(plan_add_host(&p, sr, &o3, &e), -EEXIST);
        plan_clear(&p);

        sysroot_free(sr);
        free(one);
        free(two);
        free(three);
        free(dir);
}
END_TEST

START_TEST(test_add_host_normalize_modes)
{
        char *dir = test_dir("normalize");
        test_mk_dir(dir, "nm", 0700);
        test_mk_file(dir, "nm/f", "f", 0600);
        test_mk_file(dir, "nm/x", "x", 0700);
        test_mk_file(dir, "nm/s", "s", 04750);
        test_mk_file(dir, "nm/o", "o", 0664);
        test_mk_dir(dir, "nm/d", 0700);
        test_mk_dir(dir, "nm/k", 01777);
        Sysroot *sr = test_open_root(dir);
        Plan p;
        ObError e = { 0 };
        plan_init(&p);
        PlanCopyOptions o = { .dst = "/", .src = "/nm", .normalize_modes = true };
        ck_assert_msg(plan_add_host(&p, sr, &o, &e) == 0, "%s", e.msg);
        finish(&p, 0);
        static const char *const want[] = { "d", "f", "k", "o", "s", "x" };
        test_assert_paths(&p, want, ELEMENTSOF(want));
        ck_assert_uint_eq(test_must_find(&p, "f")->mode, 0644);
        ck_assert_uint_eq(test_must_find(&p, "o")->mode, 0644);
        ck_assert_uint_eq(test_must_find(&p, "x")->mode, 0755);
        ck_assert_uint_eq(test_must_find(&p, "s")->mode, 0755);
        ck_assert_uint_eq(test_must_find(&p, "d")->mode, 0755);
        ck_assert_uint_eq(test_must_find(&p, "k")->mode, 0755);
        plan_clear(&p);

        /* A fixed mode applies to files; directories keep their own. (Not
         * normalised, files that are not world-readable need allowing.) */
        plan_init(&p);
        PlanCopyOptions o2 = { .dst = "/m", .src = "/nm", .has_mode = true, .mode = 0444, .allow_private = true };
        ck_assert_msg(plan_add_host(&p, sr, &o2, &e) == 0, "%s", e.msg);
        ck_assert_uint_eq(test_must_find(&p, "m")->mode, 0700);
        ck_assert_uint_eq(test_must_find(&p, "m/d")->mode, 0700);
        ck_assert_uint_eq(test_must_find(&p, "m/x")->mode, 0444);
        ck_assert_uint_eq(test_must_find(&p, "m/s")->mode, 0444);
        plan_clear(&p);
        sysroot_free(sr);
        free(dir);
}
END_TEST

/* ---- plan_from_spec ---- */

START_TEST(test_add_host_private)
{
        char *dir = test_dir("private");
        test_mk_dir(dir, "usr", 0755);
        test_mk_dir(dir, "usr/lib", 0755);
        test_mk_dir(dir, "usr/lib/ssl", 0755);
        test_mk_file(dir, "usr/lib/ssl/openssl.cnf", "cnf", 0644);
        test_mk_link(dir, "usr/lib/ssl/private", "/etc/ssl/private");
        test_mk_dir(dir, "etc", 0755);
        test_mk_dir(dir, "etc/ssl", 0755);
        test_mk_dir(dir, "etc/ssl/private", 0755);
        test_mk_file(dir, "etc/ssl/private/snakeoil.key", "KEY", 0600);
        test_mk_dir(dir, "share", 0755);
        test_mk_file(dir, "share/open", "o", 0644);
        test_mk_file(dir, "share/secret", "s", 0640);
        test_mk_dir(dir, "root", 0755);
        test_mk_file(dir, "root/id_rsa", "readable but a key", 0644);
        Sysroot *sr = test_open_root(dir);
        ObError e = { 0 };
        Plan p;
        plan_init(&p);

        /* Through a directory. */
        PlanCopyOptions o = { .dst = "/share", .src = "/share", .why = "named in config (t.yml:3)" };
        ck_assert_int_eq(plan_add_host(&p, sr, &o, &e), -EACCES);
        ck_assert_msg(strstr(e.msg, "'/share/secret'") && strstr(e.msg, "t.yml:3"), "%s", e.msg);
        /* Through a symlink on the way, and as a directory under a link. */
        PlanCopyOptions ol = { .dst = "/usr/lib/ssl/private", .src = "/usr/lib/ssl/private", .keep_links = true };
        ck_assert_int_eq(plan_add_host(&p, sr, &ol, &e), -EACCES);
        ck_assert_msg(strstr(e.msg, "'/etc/ssl/private/snakeoil.key'"), "%s", e.msg);
        PlanCopyOptions ok = { .dst = "/k", .src = "/usr/lib/ssl/private/snakeoil.key" };
        ck_assert_int_eq(plan_add_host(&p, sr, &ok, &e), -EACCES);
        /* As the target of a symlink: the config line that led there is named. */
        PlanCopyOptions ot = { .dst = "/etc/ssl/private",
                               .src = "/etc/ssl/private",
                               .via_link = true,
                               .why = "target of symlink /usr/lib/ssl/private",
                               .origin = "from t.yml:7" };
        ck_assert_int_eq(plan_add_host(&p, sr, &ot, &e), -EACCES);
        ck_assert_msg(strstr(e.msg, "'/etc/ssl/private/snakeoil.key'") && strstr(e.msg, "from t.yml:7"), "%s", e.msg);
        /* Under a credential location, even world-readable. */
        PlanCopyOptions oall = { .dst = "/", .src = "/" };
        ck_assert_int_eq(plan_add_host(&p, sr, &oall, &e), -EACCES);
        plan_clear(&p);

        /* Named exactly, it is copied. */
        plan_init(&p);
        PlanCopyOptions ox = { .dst = "/etc/ssl/private/snakeoil.key", .src = "/etc/ssl/private/snakeoil.key" };
        ck_assert_msg(plan_add_host(&p, sr, &ox, &e) == 0, "%s", e.msg);
        ck_assert_uint_eq(test_must_find(&p, "etc/ssl/private/snakeoil.key")->mode, 0600);
        PlanCopyOptions oroot = { .dst = "/root", .src = "/root" };
        ck_assert_msg(plan_add_host(&p, sr, &oroot, &e) == 0, "%s", e.msg);
        /* and so is a tree this program made itself. */
        PlanCopyOptions oa = { .dst = "/share", .src = "/share", .allow_private = true };
        ck_assert_msg(plan_add_host(&p, sr, &oa, &e) == 0, "%s", e.msg);
        ck_assert_ptr_nonnull(plan_find(&p, "share/secret"));
        plan_clear(&p);
        sysroot_free(sr);
        free(dir);
}
END_TEST

static Suite *plan_suite(void)
{
        Suite *s = suite_create("plan");
        TCase *tc = tcase_create("entries");
        tcase_add_test(tc, test_sort_component_wise);
        tcase_add_test(tc, test_implied_parents);
        tcase_add_test(tc, test_same_path_twice);
        tcase_add_test(tc, test_same_path_conflicts);
        tcase_add_test(tc, test_bad_paths);
        tcase_add_test(tc, test_entry_below_file);
        tcase_add_test(tc, test_plan_copies_input);
        tcase_add_test(tc, test_many_entries);
        suite_add_tcase(s, tc);

        tc = tcase_create("host");
        tcase_set_timeout(tc, 30);
        tcase_add_unchecked_fixture(tc, tmp_setup, tmp_teardown);
        tcase_add_test(tc, test_add_host_tree);
        tcase_add_test(tc, test_add_host_single_file_and_links);
        tcase_add_test(tc, test_add_host_escape);
        tcase_add_test(tc, test_add_host_missing);
        tcase_add_test(tc, test_add_host_fifo);
        tcase_add_test(tc, test_add_host_hardlinks);
        tcase_add_test(tc, test_add_host_normalize_modes);
        tcase_add_test(tc, test_add_host_private);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return test_run(plan_suite());
}
