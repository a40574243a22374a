/* SPDX-License-Identifier: MIT */
#pragma once

/* What the program tells the user besides its results, on stderr. */

/* Global verbosity: -1 quiet, 0 normal, 1 verbose. */
extern int ob_verbosity;
void ob_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ob_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
