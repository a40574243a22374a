/* SPDX-License-Identifier: MIT */
/* The input journal (journal.h) and the run record (run-record.h): what is
 * noted, what a change of an input or of the layout does, and that a
 * damaged record is refused rather than trusted. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup-libs.h"
#include "fs.h"
#include "journal.h"
#include "layout.h"
#include "run-record.h"
#include "sysroot.h"
#include "testutil.h"
#include "util.h"

#define KEY "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static char tmp_root[4096];

static void tmp_setup(void)
{
        test_tmpdir(tmp_root, sizeof(tmp_root), "run-record");
}

static void tmp_teardown(void)
{
        journal_begin(NULL);
        test_rm_rf(tmp_root);
}

static char *tmp_path(const char *rel)
{
        return xasprintf("%s/%s", tmp_root, rel);
}

static const JournalEntry *find(const Journal *j, const char *path, bool follow)
{
        for (size_t i = 0; i < j->n; i++)
                if (j->v[i].follow == follow && strcmp(j->v[i].path, path) == 0)
                        return &j->v[i];
        return NULL;
}

/* Timestamps older than any racy window. */
static void age(const char *rel)
{
        _cleanup_free_ char *p = tmp_path(rel);
        struct timespec t[2] = { { .tv_sec = 1000000000 }, { .tv_sec = 1000000000 } };
        ck_assert_int_eq(utimensat(AT_FDCWD, p, t, AT_SYMLINK_NOFOLLOW), 0);
}

START_TEST(test_journal_notes_once)
{
        test_mk_file(tmp_root, "a", "one", 0644);
        _cleanup_free_ char *a = tmp_path("a"), *missing = tmp_path("nothing/here");
        _cleanup_(journal_freep) Journal *j = journal_new();
        /* Nothing is noted while no journal records. */
        journal_note_path(a, true);
        journal_begin(j);
        _cleanup_free_ char *text = NULL;
        ObError err;
        ck_assert_int_eq(read_file(a, &text, NULL, &err), 0);
        free(TAKE_PTR(text));
        ck_assert_int_eq(read_file(a, &text, NULL, &err), 0);
        ck_assert_int_lt(read_file(missing, &text, NULL, &err), 0);
        journal_note_path(a, false);
        journal_begin(NULL);
        journal_note_path(missing, false);
        ck_assert_uint_eq(j->n, 3);
        const JournalEntry *e = find(j, a, true);
        ck_assert_ptr_nonnull(e);
        ck_assert_int_eq(e->error, 0);
        ck_assert_int_eq(e->size, 3);
        e = find(j, missing, true);
        ck_assert_ptr_nonnull(e);
        ck_assert_int_eq(e->error, ENOENT);
        ck_assert_ptr_nonnull(find(j, a, false));
        const char *why = NULL;
        ck_assert(journal_fresh(j, NULL, &why));
}
END_TEST

START_TEST(test_journal_sees_changes)
{
        test_mk_file(tmp_root, "a", "one", 0644);
        test_mk_dir(tmp_root, "dir", 0755);
        age("a");
        age("dir");
        _cleanup_free_ char *a = tmp_path("a"), *dir = tmp_path("dir"), *late = tmp_path("dir/late");
        _cleanup_(journal_freep) Journal *j = journal_new();
        journal_begin(j);
        journal_note_path(a, true);
        journal_note_path(dir, false);
        journal_note_path(late, false);
        journal_begin(NULL);
        const char *why = NULL;
        ck_assert(journal_fresh(j, NULL, &why));

        /* A file appearing where a lookup failed. */
        test_mk_file(tmp_root, "dir/late", "x", 0644);
        ck_assert(!journal_fresh(j, NULL, &why));
        unlink(late);
        /* The directory changed (an entry came and went): its identity too. */
        ck_assert(!journal_fresh(j, NULL, &why));
        ck_assert_str_eq(why, dir);
}
END_TEST

START_TEST(test_journal_ctime_and_racy)
{
        test_mk_file(tmp_root, "a", "one", 0644);
        _cleanup_free_ char *a = tmp_path("a");
        _cleanup_(journal_freep) Journal *j = journal_new();
        journal_begin(j);
        journal_note_path(a, false);
        journal_begin(NULL);
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        const char *why = NULL;
        /* Just written: its timestamps cannot tell a change in the same tick. */
        ck_assert(!journal_fresh(j, &now, &why));
        ck_assert(journal_fresh(j, NULL, &why));
        /* A chmod to the same mode changes only the ctime. */
        nanosleep(&(struct timespec){ .tv_nsec = 20 * 1000 * 1000 }, NULL);
        ck_assert_int_eq(chmod(a, 0644), 0);
        ck_assert(!journal_fresh(j, NULL, &why));
}
END_TEST

START_TEST(test_journal_sysroot_walk)
{
        test_mk_dir(tmp_root, "root", 0755);
        test_mk_dir(tmp_root, "root/usr", 0755);
        test_mk_dir(tmp_root, "root/usr/lib", 0755);
        test_mk_file(tmp_root, "root/usr/lib/libx.so.1", "x", 0644);
        test_mk_link(tmp_root, "root/lib", "usr/lib");
        _cleanup_free_ char *root = tmp_path("root");
        _cleanup_(journal_freep) Journal *j = journal_new();
        journal_begin(j);
        _cleanup_(sysroot_freep) Sysroot *s = NULL;
        ObError err;
        ck_assert_int_eq(sysroot_open(root, &s, &err), 0);
        _cleanup_free_ char *real = NULL, *miss = NULL;
        ck_assert_int_eq(sysroot_resolve(s, "/lib/libx.so.1", NULL, NULL, &real, &err), 0);
        ck_assert_str_eq(real, "/usr/lib/libx.so.1");
        ck_assert_int_eq(sysroot_resolve(s, "/lib/liby.so.1", NULL, NULL, &miss, &err), -ENOENT);
        journal_begin(NULL);
        _cleanup_free_ char *link = tmp_path("root/lib"), *lib = tmp_path("root/usr/lib/libx.so.1"),
                            *absent = tmp_path("root/usr/lib/liby.so.1");
        ck_assert_ptr_nonnull(find(j, root, true));
        ck_assert_ptr_nonnull(find(j, link, false));
        ck_assert_ptr_nonnull(find(j, lib, false));
        const JournalEntry *e = find(j, absent, false);
        ck_assert_ptr_nonnull(e);
        ck_assert_int_eq(e->error, ENOENT);
        const char *why = NULL;
        ck_assert(journal_fresh(j, NULL, &why));
        /* The library appearing in the search path. */
        test_mk_file(tmp_root, "root/usr/lib/liby.so.1", "y", 0644);
        ck_assert(!journal_fresh(j, NULL, &why));
}
END_TEST

START_TEST(test_journal_line_round_trip)
{
        _cleanup_(journal_freep) Journal *j = journal_new();
        JournalEntry e = { .path = xstrdup("/a path/with spaces"),
                           .follow = true,
                           .mode = 0100644,
                           .dev = 2049,
                           .ino = 77,
                           .size = 12,
                           .mtime = 1700000000123456789LL,
                           .ctime = 1700000000987654321LL };
        journal_add(j, &e);
        JournalEntry w = { .path = xstrdup(" leading"), .weak = true, .mode = 040755, .ino = 5 };
        journal_add(j, &w);
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        ck_assert(journal_write(j, f));
        fclose(f);
        char *nl = strchr(buf, '\n');
        *nl = '\0';
        JournalEntry back;
        ck_assert(journal_parse_line(buf, &back));
        ck_assert_str_eq(back.path, "/a path/with spaces");
        ck_assert(back.follow);
        ck_assert_int_eq(back.mtime, 1700000000123456789LL);
        ck_assert_int_eq(back.ctime, 1700000000987654321LL);
        ck_assert_uint_eq(back.mode, 0100644);
        free(back.path);
        nl[strlen(nl + 1)] = '\0'; /* the second line's newline */
        ck_assert(journal_parse_line(nl + 1, &back));
        ck_assert_str_eq(back.path, " leading");
        ck_assert(back.weak);
        free(back.path);
        ck_assert(!journal_parse_line("j x 0 0 0 0 0 0 0 /p", &back));
        ck_assert(!journal_parse_line("j f 0 0 0 0 0 0 /p", &back));
        ck_assert(!journal_parse_line("j f 0 0 0 0 0 0 0 ", &back));
        ck_assert(!journal_parse_line("", &back));
}
END_TEST

/* A layout with one image: a manifest, its config and one layer. */
static void make_layout(const char *dir, RunRecord *r)
{
        ObError err;
        _cleanup_(layout_closep) Layout *l = NULL;
        ck_assert_int_eq(layout_open(dir, LAYOUT_CREATE, &l, &err), 0);
        char config[DIGEST_STRING_MAX], layer[DIGEST_STRING_MAX], manifest[DIGEST_STRING_MAX];
        ck_assert_int_eq(layout_put_blob(l, "{}", 2, config, &err), 0);
        ck_assert_int_eq(layout_put_blob(l, "layer bytes", 11, layer, &err), 0);
        _cleanup_free_ char *m = xasprintf(
                "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":2},"
                "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"%s\","
                "\"size\":11}]}",
                config, layer);
        ck_assert_int_eq(layout_put_blob(l, m, strlen(m), manifest, &err), 0);
        json_t *desc = json_pack("{s:s, s:s, s:I, s:{s:s}}", "mediaType", "application/vnd.oci.image.manifest.v1+json",
                                 "digest", manifest, "size", (json_int_t) strlen(m), "annotations",
                                 "org.opencontainers.image.ref.name", "img");
        ck_assert_int_eq(layout_index_set(l, "img", desc, &err), 0);
        ck_assert_int_eq(layout_commit(l, &err), 0);
        if (r)
                ck_assert_msg(run_record_add_image(r, l, "img", &err) == 0, "%s", err.msg);
}

START_TEST(test_record_round_trip_and_layout)
{
        _cleanup_free_ char *layout = tmp_path("oci"), *runs = tmp_path("runs"), *a = tmp_path("a");
        test_mk_file(tmp_root, "a", "input", 0644);
        _cleanup_(run_record_freep) RunRecord *r = run_record_new(KEY);
        journal_begin(r->journal);
        journal_note_path(a, true);
        journal_begin(NULL);
        make_layout(layout, r);
        ck_assert_uint_eq(r->n_blobs, 3);
        run_record_add_output(r, "img sha256:x ", " (1 layer)");
        ObError err;
        ck_assert_int_eq(run_record_store(runs, r, &err), 0);

        _cleanup_(run_record_freep) RunRecord *back = run_record_load(runs, KEY);
        ck_assert_ptr_nonnull(back);
        ck_assert_uint_eq(back->journal->n, 1);
        ck_assert_str_eq(back->names[0], "img");
        ck_assert_str_eq(back->descriptors[0], r->descriptors[0]);
        ck_assert_uint_eq(back->n_blobs, 3);
        ck_assert_str_eq(back->out_before[0], "img sha256:x ");
        ck_assert_str_eq(back->out_after[0], " (1 layer)");
        const char *why = NULL;
        ck_assert(journal_fresh(back->journal, NULL, &why));
        ck_assert(run_record_layout_matches(back, layout, &why));
        /* Another key's record is not this one. */
        ck_assert_ptr_null(run_record_load(runs, "1123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));

        /* A blob gone. */
        _cleanup_free_ char *blob = xasprintf("%s/blobs/sha256/%s", layout, back->blobs[2] + 7);
        _cleanup_free_ char *data = NULL;
        size_t size = 0;
        ck_assert_int_eq(read_file(blob, &data, &size, &err), 0);
        ck_assert_int_eq(unlink(blob), 0);
        ck_assert(!run_record_layout_matches(back, layout, &why));
        /* Back, but another size. */
        ck_assert_int_eq(write_file_atomic(blob, data, size - 1, 0644, &err), 0);
        ck_assert(!run_record_layout_matches(back, layout, &why));
        ck_assert_int_eq(write_file_atomic(blob, data, size, 0644, &err), 0);
        ck_assert(run_record_layout_matches(back, layout, &why));
        /* The index names another descriptor. */
        _cleanup_free_ char *index = xasprintf("%s/index.json", layout);
        ck_assert_int_eq(write_file_atomic(index, "{\"schemaVersion\":2,\"manifests\":[]}", 34, 0644, &err), 0);
        ck_assert(!run_record_layout_matches(back, layout, &why));
        ck_assert_str_eq(why, "img");
}
END_TEST

START_TEST(test_record_garbage_refused)
{
        _cleanup_free_ char *layout = tmp_path("oci");
        _cleanup_(run_record_freep) RunRecord *r = run_record_new(KEY);
        make_layout(layout, r);
        run_record_add_output(r, "img sha256:x ", " (1 layer)");
        JournalEntry e = { .path = xstrdup("/etc/hostname"), .mode = 0100644, .ino = 3 };
        journal_add(r->journal, &e);
        _cleanup_free_ char *text = run_record_format(r);
        ck_assert_ptr_nonnull(text);
        RunRecord *back = NULL;
        ObError err;
        ck_assert_int_eq(run_record_parse(text, KEY, &back, &err), 0);
        run_record_free(back);

        /* Every truncation is refused (the count at the end says so). */
        size_t n = strlen(text);
        for (size_t cut = 0; cut < n - 1; cut++) {
                _cleanup_free_ char *t = xstrndup(text, cut);
                back = NULL;
                ck_assert_msg(run_record_parse(t, KEY, &back, &err) < 0, "truncated at %zu: accepted", cut);
                ck_assert_ptr_null(back);
        }
        /* A flipped byte anywhere is refused or still parses; never a crash. */
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *t = xstrdup(text);
                t[i] = t[i] == 'x' ? '\t' : 'x';
                back = NULL;
                if (run_record_parse(t, KEY, &back, &err) == 0)
                        run_record_free(back);
        }
        /* Another version, another key, lines added or dropped. */
        _cleanup_free_ char *v2 = xstrdup(text);
        v2[strlen("oci-build run record ")] = '9';
        ck_assert_int_lt(run_record_parse(v2, KEY, &back, &err), 0);
        ck_assert_int_lt(
                run_record_parse(text, "f123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", &back, &err),
                0);
        _cleanup_free_ char *more = xasprintf("%sb 2 sha256:%s\n", text, KEY);
        ck_assert_int_lt(run_record_parse(more, KEY, &back, &err), 0);
        /* A journal line twice. */
        char *line = strstr(text, "\nj ");
        ck_assert_ptr_nonnull(line);
        char *line_end = strchr(line + 1, '\n');
        _cleanup_free_ char *jline = xstrndup(line, (size_t) (line_end - line));
        _cleanup_free_ char *dup = xasprintf("%.*s%s%s", (int) (line_end - text), text, jline, line_end);
        ck_assert_int_lt(run_record_parse(dup, KEY, &back, &err), 0);
        ck_assert_int_lt(run_record_parse("", KEY, &back, &err), 0);
        ck_assert_int_lt(run_record_parse("oci-build run record 1\nkey " KEY "\nend 2\n", KEY, &back, &err), 0);
        ck_assert_int_lt(run_record_parse("oci-build run record 1\nkey " KEY "\nq nonsense\nend 3\n", KEY, &back, &err),
                         0);
}
END_TEST

START_TEST(test_record_store_caps)
{
        _cleanup_free_ char *runs = tmp_path("runs");
        ObError err;
        for (int i = 0; i < RUN_RECORDS_MAX + 5; i++) {
                char key[65];
                snprintf(key, sizeof(key), "%064x", i);
                _cleanup_(run_record_freep) RunRecord *r = run_record_new(key);
                strv_push(&r->names, "img");
                strv_push(&r->descriptors, "{}");
                ck_assert_int_eq(run_record_store(runs, r, &err), 0);
        }
        size_t n = 0;
        _cleanup_dir_ DIR *d = opendir(runs);
        for (struct dirent *de; (de = readdir(d));)
                n += de->d_name[0] != '.';
        ck_assert_uint_eq(n, RUN_RECORDS_MAX);
        /* The newest stays. */
        char last[65];
        snprintf(last, sizeof(last), "%064x", RUN_RECORDS_MAX + 4);
        RunRecord *r = run_record_load(runs, last);
        ck_assert_ptr_nonnull(r);
        run_record_free(r);
}
END_TEST

static Suite *run_record_suite(void)
{
        Suite *s = suite_create("run-record");
        TCase *tc = tcase_create("journal");
        tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
        tcase_add_test(tc, test_journal_notes_once);
        tcase_add_test(tc, test_journal_sees_changes);
        tcase_add_test(tc, test_journal_ctime_and_racy);
        tcase_add_test(tc, test_journal_sysroot_walk);
        tcase_add_test(tc, test_journal_line_round_trip);
        suite_add_tcase(s, tc);
        tc = tcase_create("record");
        tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
        tcase_add_test(tc, test_record_round_trip_and_layout);
        tcase_add_test(tc, test_record_garbage_refused);
        tcase_add_test(tc, test_record_store_caps);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return test_run(run_record_suite());
}
