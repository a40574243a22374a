/* SPDX-License-Identifier: MIT */
#include "testutil.h"

#include "fs.h"
#include "util.h"

#include <dirent.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>
#include <stdarg.h>
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

bool test_strict(void)
{
        const char *v = getenv("OB_TEST_STRICT");
        return v && *v && strcmp(v, "0") != 0;
}

/* The message of a skipped case starts with this; nothing else writes it. */
#define SKIP_TAG "\001skip\001 "

void test_skip_at(const char *file, int line, const char *fmt, ...)
{
        /* Not on the heap: in an unforked run the case ends with a longjmp,
         * and what it allocated would be reported as a leak. */
        char why[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        /* One line: check's log keeps it on the case's line. */
        for (char *p = why; *p; p++)
                if (*p == '\n')
                        *p = ' ';
        if (test_strict())
                _ck_assert_failed(file, line, "skip", "missing prerequisite (OB_TEST_STRICT=1 makes it a failure): %s",
                                  why);
        _ck_assert_failed(file, line, "skip", SKIP_TAG "%s", why);
}

/* One line of check's TAP log: "ok N - FILE:TCASE:TEST: MESSAGE" or
 * "not ok N - ...", the message possibly running over several lines. */
typedef struct CaseResult {
        char *name; /* TCASE:TEST */
        char *msg;  /* as check gave it, lines joined with \n */
        int failed;
} CaseResult;

static size_t read_tap_log(FILE *f, CaseResult **ret)
{
        CaseResult *r = NULL;
        size_t n = 0;
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        while ((len = getline(&line, &cap, f)) >= 0) {
                if (len > 0 && line[len - 1] == '\n')
                        line[--len] = '\0';
                int failed = -1, off = 0;
                unsigned num;
                if (sscanf(line, "ok %u - %n", &num, &off) == 1 && off > 0)
                        failed = 0;
                else if (sscanf(line, "not ok %u - %n", &num, &off) == 1 && off > 0)
                        failed = 1;
                if (failed < 0) {
                        if (n > 0 && !str_startswith(line, "1..")) {
                                char *m = xasprintf("%s\n%s", r[n - 1].msg, line);
                                free(r[n - 1].msg);
                                r[n - 1].msg = m;
                        }
                        continue;
                }
                /* FILE:TCASE:TEST: MESSAGE -- the file name has no ": ". */
                char *rest = line + off;
                char *colon = strchr(rest, ':');
                char *name = colon ? colon + 1 : rest;
                char *end = strstr(name, ": ");
                r = xrealloc(r, (n + 1) * sizeof(*r));
                r[n].name = end ? xstrndup(name, (size_t) (end - name)) : xstrdup(name);
                r[n].msg = xstrdup(end ? end + 2 : "");
                r[n].failed = failed;
                n++;
        }
        free(line);
        *ret = r;
        return n;
}

static void print_diag(FILE *out, const char *prefix, const char *msg)
{
        const char *p = msg;
        while (*p) {
                size_t l = strcspn(p, "\n");
                fprintf(out, "%s%.*s\n", prefix, (int) l, p);
                p += l;
                if (*p)
                        p++;
        }
}

int test_run(Suite *s)
{
        const char *tmp = getenv("TMPDIR");
        _cleanup_free_ char *log = xasprintf("%s/ob-test-tap-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        int fd = mkstemp(log);
        if (fd < 0) {
                perror("mkstemp");
                return EXIT_FAILURE;
        }
        close(fd);

        SRunner *sr = srunner_create(s);
#ifdef UNDER_ASAN
        if (!getenv("CK_FORK"))
                srunner_set_fork_status(sr, CK_NOFORK);
#endif
        srunner_set_tap(sr, log);
        srunner_run_all(sr, CK_SILENT);
        int n_run = srunner_ntests_run(sr);
        /* Where each case ended, in the order they ran (as in the log). */
        TestResult **tr = srunner_results(sr);
        char **where = xcalloc((size_t) n_run + 1, sizeof(char *));
        for (int i = 0; i < n_run; i++)
                where[i] = xasprintf("%s:%d", tr_lfile(tr[i]), tr_lno(tr[i]));
        free(tr);
        srunner_free(sr);

        FILE *f = fopen(log, "re");
        unlink(log);
        if (!f) {
                perror("reading check's TAP log");
                return EXIT_FAILURE;
        }
        CaseResult *r = NULL;
        size_t n = read_tap_log(f, &r);
        fclose(f);

        const char *prog = program_invocation_short_name;
        bool tap = getenv("OB_TEST_TAP") && strcmp(getenv("OB_TEST_TAP"), "1") == 0;
        unsigned passed = 0, failed = 0, skipped = 0;
        for (size_t i = 0; i < n; i++) {
                bool skip = r[i].failed && str_startswith(r[i].msg, SKIP_TAG);
                if (skip) {
                        skipped++;
                        const char *why = r[i].msg + strlen(SKIP_TAG);
                        if (tap)
                                printf("ok %zu - %s # SKIP %s\n", i + 1, r[i].name, why);
                        else
                                printf("%s: SKIP %s: %s\n", prog, r[i].name, why);
                } else if (r[i].failed) {
                        failed++;
                        const char *at = (int) i < n_run ? where[i] : "?";
                        if (tap) {
                                printf("not ok %zu - %s\n", i + 1, r[i].name);
                                printf("# %s:\n", at);
                                print_diag(stdout, "# ", r[i].msg);
                        } else {
                                printf("%s: FAIL %s (%s):\n", prog, r[i].name, at);
                                print_diag(stdout, "    ", r[i].msg);
                        }
                } else {
                        passed++;
                        if (tap)
                                printf("ok %zu - %s\n", i + 1, r[i].name);
                }
                free(r[i].name);
                free(r[i].msg);
        }
        free(r);
        strv_free(where);
        /* A case that ended the process (a crash in an unforked run) never
         * reaches the log; neither do cases after it. */
        if ((int) n != n_run) {
                failed++;
                if (tap)
                        printf("not ok %zu - %d test cases ran, %zu reported\n", n + 1, n_run, n);
                else
                        printf("%s: FAIL %d test cases ran, %zu reported\n", prog, n_run, n);
                n++;
        }
        if (tap)
                printf("1..%zu\n", n);
        else
                printf("%s: %u passed, %u failed, %u skipped\n", prog, passed, failed, skipped);
        fflush(stdout);
        if (failed)
                return EXIT_FAILURE;
        if (skipped && !tap)
                return TEST_EXIT_SKIP;
        return EXIT_SUCCESS;
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

void test_mk_dir(const char *base, const char *rel, mode_t mode)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", base, rel);
        ck_assert_msg(mkdir(p, 0700) == 0, "mkdir %s: %s", p, strerror(errno));
        ck_assert_int_eq(chmod(p, mode), 0);
}

void test_mk_file(const char *base, const char *rel, const char *content, mode_t mode)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", base, rel);
        _cleanup_close_ int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ck_assert_msg(fd >= 0, "create %s: %s", p, strerror(errno));
        ck_assert_int_eq(write_all(fd, content, strlen(content)), 0);
        ck_assert_int_eq(fchmod(fd, mode), 0);
}

void test_mk_link(const char *base, const char *rel, const char *target)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", base, rel);
        ck_assert_int_eq(symlink(target, p), 0);
}

void test_put_file(const char *path, const char *text, mode_t mode)
{
        ObError err = { 0 };
        ck_assert_msg(write_file_atomic(path, text, strlen(text), mode, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(chmod(path, mode), 0);
}

char *test_file_text(const char *path)
{
        char *text = NULL;
        ObError e = { 0 };
        ck_assert_msg(read_file(path, &text, NULL, &e) == 0, "%s", e.msg);
        return text;
}

Spec *test_load_app(const char *path)
{
        ObError err = { 0 };
        Spec *s = NULL;
        ck_assert_msg(spec_load_app(path, &s, &err) == 0, "%s", err.msg);
        ck_assert_ptr_nonnull(s);
        return s;
}

Sysroot *test_open_root(const char *path)
{
        ObError e = { 0 };
        Sysroot *s = NULL;
        ck_assert_msg(sysroot_open(path, &s, &e) == 0, "%s", e.msg);
        return s;
}

const Entry *test_must_find(const Plan *p, const char *path)
{
        const Entry *e = plan_find(p, path);
        ck_assert_msg(e != NULL, "'%s' is not in the plan", path);
        return e;
}

void test_assert_paths(const Plan *p, const char *const *want, size_t n)
{
        for (size_t i = 0; i < p->n && i < n; i++)
                ck_assert_msg(strcmp(p->entries[i].path, want[i]) == 0, "entry %zu is '%s', expected '%s'", i,
                              p->entries[i].path, want[i]);
        ck_assert_msg(p->n == n, "%zu entries, expected %zu", p->n, n);
}
