/* SPDX-License-Identifier: MIT */
/* File ownership from a sysroot's dpkg database (merged-/usr aliases,
 * diversions, packages that are not installed), the records added to a
 * layer's plan, and the distribution's identity in os-release. The sysroot
 * is made by each test. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "journal.h"
#include "md5-cache.h"
#include "pkgdb.h"
#include "testutil.h"
#include "util.h"

static char root_dir[4096];

static void put(const char *rel, const char *text)
{
        _cleanup_free_ char *path = xasprintf("%s/%s", root_dir, rel);
        _cleanup_free_ char *dir = xstrdup(path);
        *strrchr(dir, '/') = '\0';
        ObError err;
        ck_assert(mkdir_p(dir, 0755, &err) == 0);
        test_put_file(path, text, 0644);
}

static const char *const status_text = "Package: libfoo1\n"
                                       "Status: install ok installed\n"
                                       "Architecture: amd64\n"
                                       "Multi-Arch: same\n"
                                       "Source: foo\n"
                                       "Version: 1:1.0-1+deb12u1\n"
                                       "Conffiles:\n"
                                       " /etc/foo.conf 0123\n"
                                       "Description: the foo library\n"
                                       " It does foo.\n"
                                       "\n"
                                       "Package: fooutil\n"
                                       "Status: install ok installed\n"
                                       "Architecture: amd64\n"
                                       "Version: 1.0-1\n"
                                       "\n"
                                       "Package: divpkg\n"
                                       "Status: install ok installed\n"
                                       "Architecture: all\n"
                                       "Version: 2\n"
                                       "\n"
                                       "Package: gone\n"
                                       "Status: deinstall ok config-files\n"
                                       "Architecture: all\n"
                                       "Version: 3\n";

static void setup(void)
{
        test_tmpdir(root_dir, sizeof(root_dir), "pkgdb");
        put("var/lib/dpkg/status", status_text);
        put("var/lib/dpkg/info/libfoo1:amd64.list",
            "/.\n/lib\n/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu/libfoo.so.1\n/usr/share/doc/libfoo1\n"
            "/usr/share/doc/libfoo1/copyright\n");
        put("var/lib/dpkg/info/fooutil.list", "/usr/bin/foo\n/usr/bin/bar\n");
        put("var/lib/dpkg/info/divpkg.list", "/usr/bin/bar\n");
        put("var/lib/dpkg/info/gone.list", "/usr/bin/gone\n");
        put("var/lib/dpkg/diversions", "/usr/bin/bar\n/usr/bin/bar.real\ndivpkg\n");
        put("usr/lib/x86_64-linux-gnu/libfoo.so.1", "foo\n");
        put("usr/share/doc/libfoo1/copyright", "Copyright foo\n");
        put("usr/bin/foo", "foo\n");
        put("usr/bin/gone", "gone\n");
        put("usr/lib/os-release", "PRETTY_NAME=\"Debian\"\nID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n");
        put("etc/debian_version", "12.9\n");
        test_mk_link(root_dir, "etc/os-release", "../usr/lib/os-release");
        test_mk_link(root_dir, "lib", "usr/lib");
}

static void teardown(void)
{
        test_rm_rf(root_dir);
}

static Pkgdb *load(Sysroot *root)
{
        ObError err = { 0 };
        Pkgdb *db = NULL;
        ck_assert_msg(pkgdb_load(root, 2, &db, &err) == 0, "%s", err.msg);
        ck_assert_ptr_nonnull(db);
        return db;
}

static const char *owner_of(const Pkgdb *db, const char *path)
{
        const PkgdbPackage *p = pkgdb_path_owner(db, path);
        return p ? p->name : "(none)";
}

START_TEST(test_owners)
{
        _cleanup_(sysroot_freep) Sysroot *root = test_open_root(root_dir);
        _cleanup_(pkgdb_freep) Pkgdb *db = load(root);
        /* The database says /lib/..., the file is reached as /usr/lib/... */
        ck_assert_str_eq(owner_of(db, "/usr/lib/x86_64-linux-gnu/libfoo.so.1"), "libfoo1");
        ck_assert_str_eq(owner_of(db, "lib/x86_64-linux-gnu/libfoo.so.1"), "libfoo1");
        /* fooutil's /usr/bin/bar lives at bar.real; divpkg's is /usr/bin/bar. */
        ck_assert_str_eq(owner_of(db, "/usr/bin/bar.real"), "fooutil");
        ck_assert_str_eq(owner_of(db, "/usr/bin/bar"), "divpkg");
        ck_assert_str_eq(owner_of(db, "/usr/bin/foo"), "fooutil");
        /* A package that is not installed owns nothing. */
        ck_assert_str_eq(owner_of(db, "/usr/bin/gone"), "(none)");
        ck_assert_str_eq(owner_of(db, "/usr/bin/nothing"), "(none)");
        ck_assert_uint_eq(db->n_packages, 3);
}
END_TEST

/* Lists as dpkg leaves them on a real system: a path named by two
 * packages, by either merged-/usr form, a last line without its newline,
 * an empty list, lines that are no path. */
START_TEST(test_list_edges)
{
        put("var/lib/dpkg/status", "Package: aaa\nStatus: install ok installed\nArchitecture: amd64\n\n"
                                   "Package: bbb\nStatus: install ok installed\nArchitecture: amd64\n\n"
                                   "Package: ccc\nStatus: install ok installed\nArchitecture: all\n\n"
                                   "Package: empty\nStatus: install ok installed\nArchitecture: all\n\n"
                                   "Package: nolist\nStatus: install ok installed\nArchitecture: all\n");
        /* bbb first in the file, aaa first by name: aaa owns the shared paths. */
        put("var/lib/dpkg/info/bbb.list", "/usr/lib/x86_64-linux-gnu/libshared.so\n/lib/both\n/usr/bin/b\n");
        put("var/lib/dpkg/info/aaa.list", "/.\n/lib\n/lib/x86_64-linux-gnu/libshared.so\n\n/usr/lib/both\n"
                                          "relative/ignored\n/usr\n/usr/share/a");
        put("var/lib/dpkg/info/ccc.list", "/usr/bin/c\n/lib64/ld-linux-x86-64.so.2\n/usr/lib/os-release\n/bin/c2");
        put("var/lib/dpkg/info/empty.list", "");
        test_mk_link(root_dir, "bin", "/usr/bin");
        _cleanup_(sysroot_freep) Sysroot *root = test_open_root(root_dir);
        _cleanup_(pkgdb_freep) Pkgdb *db = load(root);
        ck_assert_uint_eq(db->n_packages, 5);
        ck_assert_str_eq(owner_of(db, "/usr/lib/x86_64-linux-gnu/libshared.so"), "aaa");
        ck_assert_str_eq(owner_of(db, "/lib/x86_64-linux-gnu/libshared.so"), "aaa");
        ck_assert_str_eq(owner_of(db, "/lib/both"), "aaa");
        ck_assert_str_eq(owner_of(db, "//usr/lib/both"), "aaa");
        ck_assert_str_eq(owner_of(db, "/usr/lib"), "aaa");
        ck_assert_str_eq(owner_of(db, "lib"), "aaa");
        ck_assert_str_eq(owner_of(db, "/usr"), "aaa");
        ck_assert_str_eq(owner_of(db, "/."), "aaa");
        ck_assert_str_eq(owner_of(db, "/usr/bin/b"), "bbb");
        /* The last line without its newline. */
        ck_assert_str_eq(owner_of(db, "/usr/share/a"), "aaa");
        ck_assert_str_eq(owner_of(db, "/usr/bin/c2"), "ccc");
        ck_assert_str_eq(owner_of(db, "/bin/c2"), "ccc");
        /* lib64 is no link here: its two forms are two paths. */
        ck_assert_str_eq(owner_of(db, "/lib64/ld-linux-x86-64.so.2"), "ccc");
        ck_assert_str_eq(owner_of(db, "/usr/lib64/ld-linux-x86-64.so.2"), "(none)");
        ck_assert_str_eq(owner_of(db, "relative/ignored"), "(none)");
        ck_assert_str_eq(owner_of(db, "/usr/share"), "(none)");
        ck_assert_str_eq(owner_of(db, "/usr/share/a/"), "(none)");
        ck_assert_str_eq(owner_of(db, ""), "(none)");
}
END_TEST

/* A diversion by the package itself does not move its own file; one
 * without a holder line is ignored; a list path may be a diversion's
 * target in the /lib form. */
START_TEST(test_diversions)
{
        put("var/lib/dpkg/diversions", "/usr/bin/bar\n/usr/bin/bar.real\ndivpkg\n"
                                       "/usr/bin/foo\n/lib/foo.moved\n:\n"
                                       "/usr/bin/half\n/usr/bin/half.real");
        put("var/lib/dpkg/info/divpkg.list", "/usr/bin/bar\n/usr/bin/half\n");
        put("var/lib/dpkg/info/fooutil.list", "/usr/bin/foo\n/usr/bin/bar\n/usr/bin/half\n");
        _cleanup_(sysroot_freep) Sysroot *root = test_open_root(root_dir);
        _cleanup_(pkgdb_freep) Pkgdb *db = load(root);
        ck_assert_str_eq(owner_of(db, "/usr/bin/bar"), "divpkg");
        ck_assert_str_eq(owner_of(db, "/usr/bin/bar.real"), "fooutil");
        /* A local diversion (":") moves the file of every package. */
        ck_assert_str_eq(owner_of(db, "/usr/bin/foo"), "(none)");
        ck_assert_str_eq(owner_of(db, "/usr/lib/foo.moved"), "fooutil");
        ck_assert_str_eq(owner_of(db, "/lib/foo.moved"), "fooutil");
        /* divpkg sorts before fooutil. */
        ck_assert_str_eq(owner_of(db, "/usr/bin/half"), "divpkg");
        ck_assert_str_eq(owner_of(db, "/usr/bin/half.real"), "(none)");
}
END_TEST

START_TEST(test_stanza)
{
        _cleanup_(sysroot_freep) Sysroot *root = test_open_root(root_dir);
        _cleanup_(pkgdb_freep) Pkgdb *db = load(root);
        const PkgdbPackage *p = pkgdb_path_owner(db, "/usr/lib/x86_64-linux-gnu/libfoo.so.1");
        _cleanup_free_ char *stanza = pkgdb_stanza(p);
        ck_assert_str_eq(stanza, "Package: libfoo1\n"
                                 "Status: install ok installed\n"
                                 "Architecture: amd64\n"
                                 "Multi-Arch: same\n"
                                 "Source: foo\n"
                                 "Version: 1:1.0-1+deb12u1\n"
                                 "Description: the foo library\n"
                                 " It does foo.\n");
}
END_TEST

static void plan_with_files(Sysroot *root, Plan *p)
{
        ObError err = { 0 };
        PlanCopyOptions lib = { .dst = "/usr/lib/x86_64-linux-gnu/libfoo.so.1",
                                .src = "/usr/lib/x86_64-linux-gnu/libfoo.so.1",
                                .why = "test" };
        ck_assert_msg(plan_add_host(p, root, &lib, &err) == 0, "%s", err.msg);
        /* Generated bytes at a path fooutil lists: not fooutil's file. */
        Entry gen = { .path = (char *) "usr/bin/foo",
                      .type = ENTRY_FILE,
                      .mode = 0755,
                      .size = 3,
                      .data = (char *) "hi\n" };
        ck_assert_msg(plan_add(p, &gen, &err) == 0, "%s", err.msg);
        ck_assert_msg(plan_finish(p, 0, &err) == 0, "%s", err.msg);
}

START_TEST(test_records)
{
        _cleanup_(sysroot_freep) Sysroot *root = test_open_root(root_dir);
        _cleanup_(pkgdb_freep) Pkgdb *db = load(root);
        _cleanup_plan_ Plan p = { 0 };
        ObError err = { 0 };
        plan_with_files(root, &p);
        ck_assert_msg(pkgdb_add_records(db, &p, 0, &err) == 0, "%s", err.msg);

        const Entry *st = test_must_find(&p, "var/lib/dpkg/status.d/libfoo1");
        ck_assert_ptr_nonnull(strstr(st->data, "Status: install ok installed\n"));
        ck_assert_ptr_null(strstr(st->data, "Conffiles"));
        /* md5 of "foo\n" and of "Copyright foo\n", paths without '/' */
        const Entry *sums = test_must_find(&p, "var/lib/dpkg/status.d/libfoo1.md5sums");
        ck_assert_str_eq(sums->data, "d3b07384d113edec49eaa6238ad5ff00  usr/lib/x86_64-linux-gnu/libfoo.so.1\n"
                                     "57e8ba76f9687869169381682025c45c  usr/share/doc/libfoo1/copyright\n");
        test_must_find(&p, "usr/share/doc/libfoo1/copyright");
        ck_assert_ptr_null(plan_find(&p, "var/lib/dpkg/status.d/fooutil"));
        ck_assert_ptr_null(plan_find(&p, "var/lib/dpkg/status"));
        test_must_find(&p, "var/lib/dpkg/status.d");
        ck_assert_uint_eq(test_must_find(&p, "var/lib/dpkg/status.d")->type, ENTRY_DIR);

        /* The same inputs, the same records. */
        _cleanup_plan_ Plan q = { 0 };
        plan_with_files(root, &q);
        ck_assert_msg(pkgdb_add_records(db, &q, 0, &err) == 0, "%s", err.msg);
        ck_assert_uint_eq(p.n, q.n);
        for (size_t i = 0; i < p.n; i++) {
                ck_assert_str_eq(p.entries[i].path, q.entries[i].path);
                if (p.entries[i].data)
                        ck_assert_str_eq(p.entries[i].data, q.entries[i].data);
        }
}
END_TEST

/* With an md5 cache, a source file's md5 is what the cache holds for its
 * identity (a wrong one here shows that it is used), and one computed is
 * remembered. */
START_TEST(test_records_md5_cache)
{
        _cleanup_(sysroot_freep) Sysroot *root = test_open_root(root_dir);
        _cleanup_(pkgdb_freep) Pkgdb *db = load(root);
        _cleanup_free_ char *dir = xasprintf("%s/md5", root_dir);
        /* The files were just written: a run starting later does not
         * find them racy. */
        struct timespec start;
        clock_gettime(CLOCK_REALTIME, &start);
        start.tv_sec += 10;
        _cleanup_(md5_cache_freep) Md5Cache *c = md5_cache_open(dir, &start);
        _cleanup_free_ char *lib = xasprintf("%s/usr/lib/x86_64-linux-gnu/libfoo.so.1", root_dir);
        _cleanup_free_ char *copyright = xasprintf("%s/usr/share/doc/libfoo1/copyright", root_dir);
        struct stat st;
        ck_assert_int_eq(stat(lib, &st), 0);
        md5_cache_store(c, &st, "0123456789abcdef0123456789abcdef");
        db->md5 = c;

        _cleanup_plan_ Plan p = { 0 };
        ObError err = { 0 };
        plan_with_files(root, &p);
        ck_assert_msg(pkgdb_add_records(db, &p, 0, &err) == 0, "%s", err.msg);
        const Entry *sums = test_must_find(&p, "var/lib/dpkg/status.d/libfoo1.md5sums");
        ck_assert_str_eq(sums->data, "0123456789abcdef0123456789abcdef  usr/lib/x86_64-linux-gnu/libfoo.so.1\n"
                                     "57e8ba76f9687869169381682025c45c  usr/share/doc/libfoo1/copyright\n");
        char md5[33];
        ck_assert_int_eq(stat(copyright, &st), 0);
        ck_assert(md5_cache_lookup(c, &st, md5));
        ck_assert_str_eq(md5, "57e8ba76f9687869169381682025c45c");

        /* A run that starts now finds them racy: nothing is remembered. */
        clock_gettime(CLOCK_REALTIME, &start);
        _cleanup_(md5_cache_freep) Md5Cache *now = md5_cache_open(dir, &start);
        db->md5 = now;
        _cleanup_plan_ Plan q = { 0 };
        plan_with_files(root, &q);
        ck_assert_msg(pkgdb_add_records(db, &q, 0, &err) == 0, "%s", err.msg);
        ck_assert(!md5_cache_lookup(now, &st, md5));
        db->md5 = NULL;
}
END_TEST

/* A sysroot in dir with one package, "many", of n files
 * usr/share/many/fNNN, each up to max bytes, and with big f010 of 8 MB: a
 * big file among small ones. f001 and f002 are one file (a hard link). */
static void make_many(char *dir, size_t size, int n, size_t max, bool big)
{
        test_tmpdir(dir, size, "pkgdb-many");
        _cleanup_free_ char *list = NULL;
        size_t list_size = 0;
        {
                _cleanup_fclose_ FILE *f = open_memstream(&list, &list_size);
                fputs("/usr\n/usr/share\n/usr/share/many\n", f);
                for (int i = 0; i < n; i++)
                        fprintf(f, "/usr/share/many/f%03d\n", i);
        }
        for (const char *d = "usr\0usr/share\0usr/share/many\0var\0var/lib\0var/lib/dpkg\0var/lib/dpkg/info\0"; *d;
             d += strlen(d) + 1)
                test_mk_dir(dir, d, 0755);
        test_mk_file(dir, "var/lib/dpkg/status",
                     "Package: many\nStatus: install ok installed\nArchitecture: all\nVersion: 1\n", 0644);
        test_mk_file(dir, "var/lib/dpkg/info/many.list", list, 0644);
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *rel = xasprintf("usr/share/many/f%03d", i);
                if (i == 2) {
                        _cleanup_free_ char *from = xasprintf("%s/usr/share/many/f001", dir);
                        _cleanup_free_ char *to = xasprintf("%s/%s", dir, rel);
                        ck_assert_int_eq(link(from, to), 0);
                        continue;
                }
                size_t bytes_size = big && i == 10 ? (size_t) 8 << 20 : (size_t) i * 2003 % max;
                _cleanup_free_ char *bytes = xmalloc(bytes_size + 1);
                for (size_t k = 0; k < bytes_size; k++)
                        bytes[k] = (char) ('a' + (k * 7 + (size_t) i) % 26);
                bytes[bytes_size] = '\0';
                test_mk_file(dir, rel, bytes, 0644);
        }
}

/* The records of p: 0 and the md5sums record of "many" in *ret, else the
 * error. */
static int many_records_of(const Pkgdb *db, Plan *p, char **ret, ObError *err)
{
        int r = pkgdb_add_records(db, p, 0, err);
        if (r < 0)
                return r;
        *ret = xstrdup(test_must_find(p, "var/lib/dpkg/status.d/many.md5sums")->data);
        return 0;
}

/* many_records_of() the files of make_many() on threads threads. */
static int many_records(const char *dir, unsigned threads, char **ret, ObError *err)
{
        _cleanup_(sysroot_freep) Sysroot *root = test_open_root(dir);
        _cleanup_(pkgdb_freep) Pkgdb *db = NULL;
        ck_assert_msg(pkgdb_load(root, threads, &db, err) == 0, "%s", err->msg);
        _cleanup_plan_ Plan p = { 0 };
        PlanCopyOptions o = { .dst = "/usr/share/many", .src = "/usr/share/many", .why = "test" };
        ck_assert_msg(plan_add_host(&p, root, &o, err) == 0, "%s", err->msg);
        ck_assert_msg(plan_finish(&p, 0, err) == 0, "%s", err->msg);
        return many_records_of(db, &p, ret, err);
}

/* Many more files than are open at once, a big one among them, on one
 * thread and on several: the same records, and each md5 the one md5sum(1)
 * gives. */
START_TEST(test_records_threads)
{
        char dir[4096];
        /* several reads of 64 kB each */
        make_many(dir, sizeof(dir), 300, 200000, /* big= */ true);
        _cleanup_free_ char *one = NULL, *two = NULL, *several = NULL;
        char **sums[] = { &one, &two, &several };
        static const unsigned threads[] = { 1, 2, 4 };
        for (size_t t = 0; t < ELEMENTSOF(threads); t++) {
                ObError err = { 0 };
                ck_assert_msg(many_records(dir, threads[t], sums[t], &err) == 0, "%s", err.msg);
        }
        ck_assert_str_eq(one, two);
        ck_assert_str_eq(one, several);

        _cleanup_free_ char *cmd = xasprintf("cd '%s' && md5sum usr/share/many/f*", dir);
        FILE *f = popen(cmd, "r");
        ck_assert_ptr_nonnull(f);
        char line[4096];
        size_t n = 0;
        while (fgets(line, sizeof(line), f)) {
                ck_assert_msg(strstr(one, line) != NULL, "md5sum says %s", line);
                n++;
        }
        ck_assert_int_eq(pclose(f), 0);
        ck_assert_uint_eq(n, 300);
        test_rm_rf(dir);
}
END_TEST

/* Files that cannot be read once planned: the error names the first in
 * the records' order, whatever the number of threads and however far the
 * others got. */
START_TEST(test_records_unreadable)
{
        static const unsigned threads[] = { 1, 2, 4 };
        /* A file become a directory cannot be read, a file gone cannot be
         * opened: f120 fails first either way. */
        static const struct {
                const char *dir, *gone, *want;
        } cases[] = {
                { "usr/share/many/f120", "usr/share/many/f200", "cannot read '/usr/share/many/f120'" },
                { "usr/share/many/f200", "usr/share/many/f120", "'/usr/share/many/f120'" },
        };
        for (size_t c = 0; c < ELEMENTSOF(cases); c++)
                for (size_t t = 0; t < ELEMENTSOF(threads); t++) {
                        char dir[4096];
                        make_many(dir, sizeof(dir), 300, 5000, /* big= */ false);
                        _cleanup_(sysroot_freep) Sysroot *root = test_open_root(dir);
                        _cleanup_(pkgdb_freep) Pkgdb *db = NULL;
                        ObError err = { 0 };
                        ck_assert_msg(pkgdb_load(root, threads[t], &db, &err) == 0, "%s", err.msg);
                        _cleanup_plan_ Plan p = { 0 };
                        PlanCopyOptions o = { .dst = "/usr/share/many", .src = "/usr/share/many", .why = "test" };
                        ck_assert_msg(plan_add_host(&p, root, &o, &err) == 0, "%s", err.msg);
                        ck_assert_msg(plan_finish(&p, 0, &err) == 0, "%s", err.msg);
                        _cleanup_free_ char *as_dir = xasprintf("%s/%s", dir, cases[c].dir);
                        _cleanup_free_ char *gone = xasprintf("%s/%s", dir, cases[c].gone);
                        ck_assert_int_eq(unlink(as_dir), 0);
                        ck_assert_int_eq(mkdir(as_dir, 0755), 0);
                        ck_assert_int_eq(unlink(gone), 0);
                        _cleanup_free_ char *sums = NULL;
                        ck_assert_int_lt(many_records_of(db, &p, &sums, &err), 0);
                        ck_assert_msg(strstr(err.msg, cases[c].want) != NULL, "-j%u: %s", threads[t], err.msg);
                        ck_assert_msg(strstr(err.msg, "f200") == NULL, "-j%u: %s", threads[t], err.msg);
                        test_rm_rf(dir);
                }
}
END_TEST

START_TEST(test_no_database)
{
        _cleanup_(sysroot_freep) Sysroot *root = NULL;
        ObError err = { 0 };
        char empty[4096];
        test_tmpdir(empty, sizeof(empty), "pkgdb-empty");
        root = test_open_root(empty);
        Pkgdb *db = (Pkgdb *) 1;
        ck_assert_int_eq(pkgdb_load(root, 2, &db, &err), 0);
        ck_assert_ptr_null(db);
        _cleanup_plan_ Plan p = { 0 };
        ck_assert_int_eq(pkgdb_add_records(NULL, &p, 0, &err), 0);
        ck_assert_uint_eq(p.n, 0);
        test_rm_rf(empty);
}
END_TEST

/* The input journal's lines of pkgdb_load() on threads threads, checking
 * the owners it finds. A new sysroot each time: it notes some paths once. */
static char *load_journal(unsigned threads)
{
        _cleanup_(sysroot_freep) Sysroot *root = test_open_root(root_dir);
        Journal *j = journal_new();
        journal_begin(j);
        ObError err = { 0 };
        Pkgdb *db = NULL;
        ck_assert_msg(pkgdb_load(root, threads, &db, &err) == 0, "%s", err.msg);
        journal_begin(NULL);
        ck_assert_str_eq(owner_of(db, "/lib/x86_64-linux-gnu/libfoo.so.1"), "libfoo1");
        ck_assert_str_eq(owner_of(db, "/usr/bin/foo"), "fooutil");
        pkgdb_free(db);
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);
        ck_assert(journal_write(j, f));
        fclose(f);
        journal_free(j);
        return text;
}

/* The lists are read on threads and noted in the input journal afterwards,
 * as reading them here notes them: on one thread and on four the same
 * owners and the same journal, where the missing plain list of a
 * Multi-Arch: same package comes before its qualified one. A list that is
 * no regular file is the error, named, on any number of threads. */
START_TEST(test_lists_threads)
{
        _cleanup_free_ char *one = load_journal(1);
        _cleanup_free_ char *four = load_journal(4);
        ck_assert_str_eq(one, four);
        _cleanup_free_ char *plain =
                xasprintf("j f %d 0 0 0 0 0 0 %s/var/lib/dpkg/info/libfoo1.list\n", ENOENT, root_dir);
        _cleanup_free_ char *qualified = xasprintf("%s/var/lib/dpkg/info/libfoo1:amd64.list\n", root_dir);
        const char *at_plain = strstr(one, plain), *at_qualified = strstr(one, qualified);
        ck_assert_msg(at_plain && at_qualified && at_plain < at_qualified, "%s", one);

        _cleanup_free_ char *list = xasprintf("%s/var/lib/dpkg/info/fooutil.list", root_dir);
        ck_assert_int_eq(unlink(list), 0);
        ck_assert_int_eq(mkdir(list, 0755), 0);
        _cleanup_(sysroot_freep) Sysroot *root = test_open_root(root_dir);
        static const unsigned threads[] = { 1, 4 };
        for (size_t t = 0; t < ELEMENTSOF(threads); t++) {
                Pkgdb *db = NULL;
                ObError err = { 0 };
                ck_assert_int_eq(pkgdb_load(root, threads[t], &db, &err), -EINVAL);
                ck_assert_ptr_null(db);
                ck_assert_msg(strstr(err.msg, "fooutil.list' is not a regular file"), "%s", err.msg);
        }
}
END_TEST

START_TEST(test_malformed)
{
        put("var/lib/dpkg/status", "Package: a\nno colon here\n");
        _cleanup_(sysroot_freep) Sysroot *root = test_open_root(root_dir);
        Pkgdb *db = NULL;
        ObError err = { 0 };
        ck_assert_int_eq(pkgdb_load(root, 2, &db, &err), -EBADMSG);
        ck_assert_msg(strstr(err.msg, "var/lib/dpkg/status:2: expected 'Name: value'"), "%s", err.msg);
}
END_TEST

START_TEST(test_distro)
{
        _cleanup_(sysroot_freep) Sysroot *root = test_open_root(root_dir);
        _cleanup_plan_ Plan p = { 0 };
        ObError err = { 0 };
        Entry os = { .path = (char *) "usr/lib/os-release",
                     .type = ENTRY_FILE,
                     .mode = 0644,
                     .size = strlen("NAME=\"Distroless\"\nID=distroless\nVERSION_ID=\"0.1\"\n"),
                     .data = (char *) "NAME=\"Distroless\"\nID=distroless\nVERSION_ID=\"0.1\"\n" };
        ck_assert(plan_add(&p, &os, &err) == 0);
        ck_assert_msg(pkgdb_add_distro(root, &p, 0, &err) == 0, "%s", err.msg);
        const Entry *e = test_must_find(&p, "usr/lib/os-release");
        ck_assert_str_eq(e->data, "NAME=\"Distroless\"\nID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n");
        ck_assert_uint_eq(e->size, strlen(e->data));
        e = test_must_find(&p, "etc/debian_version");
        ck_assert_ptr_nonnull(e->root);
}
END_TEST

static Suite *pkgdb_suite(void)
{
        Suite *s = suite_create("pkgdb");
        TCase *tc = tcase_create("pkgdb");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_owners);
        tcase_add_test(tc, test_list_edges);
        tcase_add_test(tc, test_diversions);
        tcase_add_test(tc, test_stanza);
        tcase_add_test(tc, test_records);
        tcase_add_test(tc, test_records_md5_cache);
        tcase_add_test(tc, test_records_threads);
        tcase_add_test(tc, test_records_unreadable);
        tcase_add_test(tc, test_no_database);
        tcase_add_test(tc, test_lists_threads);
        tcase_add_test(tc, test_malformed);
        tcase_add_test(tc, test_distro);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return test_run(pkgdb_suite());
}
