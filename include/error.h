/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdarg.h>
#include <stddef.h>

/* An error travels up the call chain in one of these; callers add context on
 * the way up with ob_error_wrap() and only main() prints it. */
typedef struct ObError {
        int code;       /* a positive errno value, or EINVAL for "bad input" */
        int usage;      /* the command line itself is wrong: main() exits with 2, not 1 */
        char msg[8192]; /* room for a config's problems, one a line (yamlspec.h) */
} ObError;

/* Fills err (which may be NULL) and returns -code (or -EINVAL when code is 0).
 * When code is a real errno value (not 0), ": strerror(code)" is appended. */
int ob_error_set(ObError *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Like ob_error_set() but never appends strerror: for messages that already
 * say everything (config errors with file:line:col). */
int ob_error_plain(ObError *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prepends "context: " to the message already in err; returns -err->code. */
int ob_error_wrap(ObError *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Like ob_error_wrap(), for a context that names subject (a path, as in
 * "binary '/usr/bin/ldd'"): when the message starts by naming the same
 * subject in quotes ("'/usr/bin/ldd': not an ELF file"), that name is dropped
 * so the subject is said once ("binary '/usr/bin/ldd': not an ELF file"). */
int ob_error_wrap_subject(ObError *err, const char *subject, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* A wrong command line (missing operands, options that exclude each
 * other): like ob_error_plain(), and main() exits with 2. */
int ob_error_usage(ObError *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void ob_error_clear(ObError *err);

/* s copied to buf (size bytes, cut to fit) with what a terminal would act on
 * written as \xNN: control characters, DEL, the C1 controls and bytes that
 * are not UTF-8. For messages that quote config text or paths: they stay one
 * line and cannot drive the terminal they are printed on. Returns buf. */
char *ob_escape(const char *s, char *buf, size_t size);
