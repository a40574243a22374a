/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* A fresh directory under $TMPDIR (or /tmp) named after the test; aborts
 * when it cannot be made, since no test can run without it. */
void test_tmpdir(char *buf, size_t size, const char *name);

/* Build a tree under base; rel is relative to it; failures fail the test. */
void test_mk_dir(const char *base, const char *rel, mode_t mode);
void test_mk_file(const char *base, const char *rel, const char *content, mode_t mode);
void test_mk_link(const char *base, const char *rel, const char *target);

/* Removes a tree, ignoring what is already gone. */
void test_rm_rf(const char *path);

#include <check.h>
#include <stdbool.h>

#include "error.h"
#include "plan.h"
#include "spec.h"
#include "sysroot.h"

/* The exit status of a test program that could not run (automake, meson). */
#define TEST_EXIT_SKIP 77

/* OB_TEST_STRICT=1: a missing prerequisite is a failure, not a skip. */
bool test_strict(void);

/* Ends the running test case as skipped because a prerequisite is missing
 * ("no C compiler for the ELF fixtures"). It is reported as a skip, never
 * as a pass; under OB_TEST_STRICT=1 it is a failure naming what was
 * missing. Works in forked and unforked cases alike (it ends the case the
 * way a failed assertion does, with a message test_run() recognises). */
#define test_skip(...) test_skip_at(__FILE__, __LINE__, __VA_ARGS__)
_Noreturn void test_skip_at(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Runs a suite, prints one result per test case and a closing count
 * ("test-NAME: N passed, N failed, N skipped"), and returns the exit status:
 * failure when any case failed, TEST_EXIT_SKIP when any was skipped, else
 * success. With OB_TEST_TAP=1 (set by meson) the output is TAP instead, one
 * line per case with "# SKIP reason" for a skip, and a skip exits 0 (TAP
 * carries it).
 *
 * Under AddressSanitizer a forked child per test is slow (each runs the leak
 * check on exit), so the tests share one process there unless CK_FORK says
 * otherwise; leaks are still reported when it exits. */
int test_run(Suite *s);

/* A config that must be refused, and the message after "FILE:". */
typedef struct BadCase {
        const char *file;
        const char *expected;
} BadCase;

typedef int (*SpecLoader)(const char *file, Spec **ret, ObError *err);

/* Loads dir/c->file and checks it fails with exactly "PATH:expected". */
void test_check_bad_config(SpecLoader load, const char *dir, const BadCase *c);
/* Every bad-*.yml in dir has an entry in cases, and no entry is missing. */
void test_check_fixtures_listed(const char *dir, const BadCase *cases, size_t n);

/* A whole file written (mode applied), read back, and an app config loaded;
 * failures fail the test. */
void test_put_file(const char *path, const char *text, mode_t mode);
char *test_file_text(const char *path);
Spec *test_load_app(const char *path);

/* A sysroot opened, an entry that must be in a plan, a plan's exact paths;
 * failures fail the test. */
Sysroot *test_open_root(const char *path);
const Entry *test_must_find(const Plan *p, const char *path);
void test_assert_paths(const Plan *p, const char *const *want, size_t n);
