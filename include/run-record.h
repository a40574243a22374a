/* SPDX-License-Identifier: MIT */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "journal.h"
#include "layout.h"
#include "util.h"

/* The run record: what a build that changed nothing needs to know to skip
 * planning. A record is found by the key of the run (this program, the
 * command, every option that changes the output, the environment), and
 * holds the input journal of the run that wrote it, the index.json
 * descriptor of each image name that run left, every blob those reach
 * (with its size) and the result lines it printed. A later run with the
 * same key whose journal still holds (every input has the identity noted)
 * and whose layout still has those descriptors and blobs has nothing to do.
 *
 * Records live in $OCI_BUILD_CACHE/runs, one private file per key, written
 * under a temporary name and renamed; at most RUN_RECORDS_MAX are kept (the
 * oldest go). A record that does not parse is ignored, never trusted. */

#define RUN_RECORD_VERSION 1
#define RUN_RECORDS_MAX 64

typedef struct RunRecord {
        char key[65];
        Journal *journal;
        char **names;       /* image names, as index.json names them */
        char **descriptors; /* their descriptors, compact JSON with sorted keys */
        char **blobs;       /* digests of every blob they reach */
        uint64_t *blob_sizes;
        size_t n_blobs;
        char **out_before; /* each result line is before + layout + after */
        char **out_after;
} RunRecord;

RunRecord *run_record_new(const char *key);
void run_record_free(RunRecord *r);
DEFINE_CLEANUP_FUNC(RunRecord *, run_record_free);

/* $OCI_BUILD_CACHE/runs (see download_cache_dir()). */
char *run_record_dir(void);

/* A result line, printed with the layout between before and after. */
void run_record_add_output(RunRecord *r, const char *before, const char *after);
/* The descriptor name has in l's index, and every blob it reaches
 * (manifests, configs, layers, image indexes, attached SBOMs). */
int run_record_add_image(RunRecord *r, Layout *l, const char *name, ObError *err);

/* The record as text; NULL when it cannot be written (a name or a path
 * that a line cannot hold). */
char *run_record_format(const RunRecord *r);
/* Parses text; EINVAL for anything but a complete record of this version
 * and of key (NULL: any key). */
int run_record_parse(const char *text, const char *key, RunRecord **ret, ObError *err);

/* The record of key in dir, or NULL (none, unreadable, or damaged). */
RunRecord *run_record_load(const char *dir, const char *key);
/* Writes r into dir atomically, then drops the oldest records beyond
 * RUN_RECORDS_MAX. */
int run_record_store(const char *dir, const RunRecord *r, ObError *err);

/* True when the layout in layout_dir has, for every name, exactly the
 * recorded descriptor, and every recorded blob with its size (stat only);
 * else false, with what differs in *why (static or borrowed). */
bool run_record_layout_matches(const RunRecord *r, const char *layout_dir, const char **why);
