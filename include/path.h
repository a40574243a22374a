/* SPDX-License-Identifier: MIT */
#pragma once

#include "error.h"

/* Paths as strings: image paths ("/usr/lib/x") and host paths alike. */

/* Joins a and b with exactly one '/'. */
char *path_join(const char *a, const char *b);
/* Normalises an absolute image path: collapses "//" and "/./", strips a
 * trailing "/". Returns NULL (and sets err) when the path is relative,
 * contains "..", or is empty. */
char *path_normalize_abs(const char *path, ObError *err);
/* Component-wise comparison: "a/b" sorts before "a-b" would in strcmp, so
 * that every directory's subtree stays contiguous. */
int path_compare(const char *a, const char *b);
