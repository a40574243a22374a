/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

/* A fresh directory under $TMPDIR (or /tmp) named after the test; aborts
 * when it cannot be made, since no test can run without it. */
void test_tmpdir(char *buf, size_t size, const char *name);

/* Removes a tree, ignoring what is already gone. */
void test_rm_rf(const char *path);
