/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "util.h"

/* The input journal of a build: every file-system input that planning
 * consults, with the identity it had (type and mode, device, inode, size,
 * mtime and ctime in ns, as the layer cache takes it) or the errno of a
 * lookup that failed (a library search-path miss is an input too: a file
 * appearing there changes the result). A directory that was listed is noted
 * by its own identity, which changes when an entry is added or removed.
 *
 * One journal records at a time (journal_begin()); the notes of the code
 * that reads inputs go to it and cost nothing when none records. A path is
 * noted once per way it was looked at (lstat or followed): the first
 * answer is kept, and a different answer at the end of the run means the
 * input changed while it was read. */

typedef struct JournalEntry {
        char *path;
        bool follow; /* stat() rather than lstat() */
        bool weak;   /* only the type, device and inode count: a directory
                      * walked through, not listed */
        int error;   /* the errno of a failed lookup; 0: the identity below */
        uint32_t mode;
        uint64_t dev, ino;
        int64_t size, mtime, ctime; /* ns */
} JournalEntry;

typedef struct Journal {
        JournalEntry *v;
        size_t n, cap;
        size_t *slots; /* open addressing: index + 1 into v, 0 for none */
        size_t n_slots;
        char *broken; /* why the run cannot be recorded, or NULL */
} Journal;

Journal *journal_new(void);
void journal_free(Journal *j);
DEFINE_CLEANUP_FUNC(Journal *, journal_free);

/* Makes j the journal the notes go to (NULL: none). */
void journal_begin(Journal *j);
Journal *journal_current(void);

/* A path looked at (follow: through its symlinks) that gave st. */
void journal_note_stat(const char *path, bool follow, const struct stat *st);
/* A lookup of path that failed with error (an errno, positive). */
void journal_note_error(const char *path, bool follow, int error);
/* The file open on fd under path: its identity (one fstat). */
void journal_note_fd(const char *path, bool follow, int fd);
/* Looks path up now (one stat or lstat) and notes the answer. */
void journal_note_path(const char *path, bool follow);
/* Every component of path, as realpath() walks it: each prefix lstat'ed
 * (weakly: what a directory on the way holds does not count), then path
 * itself followed. */
void journal_note_walk(const char *path);
/* The directory a glob() pattern lists; a pattern with wildcards before
 * its last component cannot be noted and breaks the journal. */
void journal_note_glob(const char *pattern);
/* Something was consulted that cannot be noted: the run is not recorded. */
void journal_set_broken(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A program run on the host while planning (a data command, a build
 * step): what it made is new, so the run is not recorded. Counted whether
 * or not a journal records. */
void journal_note_command(void);
/* A data command whose layer the step cache remembered: the next build
 * takes that layer without running it, so it no longer stops the run
 * from being recorded. */
void journal_forget_command(void);
unsigned journal_commands(void);

/* An entry as it would be noted for st (or error). */
void journal_entry_set(JournalEntry *e, int error, const struct stat *st);
/* Looks e's path up again: true when it gives the same answer. */
bool journal_entry_fresh(const JournalEntry *e, struct stat *ret_st);
/* Every entry looked up again: false, with the path in *why (borrowed),
 * when one changed; with since, also when one changed too close to since
 * for its timestamps to tell a later change (step-cache's racy rule). */
bool journal_fresh(const Journal *j, const struct timespec *since, const char **why);

/* One line per entry ("j ..."), for the run record; false when an entry
 * cannot be written so (a path with a newline). */
bool journal_write(const Journal *j, FILE *f);
/* Parses one line written by journal_write() into e (its path allocated). */
bool journal_parse_line(const char *line, JournalEntry *e);
/* Adds a parsed entry (the journal takes its path), unless its path is
 * noted already. */
void journal_add(Journal *j, JournalEntry *e);
/* Adds it as it is, without looking for it first (a record's journal,
 * which is only looked up again). */
void journal_append(Journal *j, JournalEntry *e);
