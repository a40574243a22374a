/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

/* A fresh directory under $TMPDIR (or /tmp) named after the test; aborts
 * when it cannot be made, since no test can run without it. */
void test_tmpdir(char *buf, size_t size, const char *name);

/* Removes a tree, ignoring what is already gone. */
void test_rm_rf(const char *path);

#include <check.h>

#include "error.h"
#include "spec.h"

/* Runs a suite and returns the exit status. Under AddressSanitizer a forked
 * child per test is slow (each runs the leak check on exit), so the tests
 * share one process there unless CK_FORK says otherwise; leaks are still
 * reported when it exits. */
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
