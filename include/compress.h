/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

#include "error.h"
#include "util.h"

/* gzip output for layers. The input is cut into fixed-size chunks and each
 * chunk becomes one gzip member (RFC 1952 allows a file to be a series of
 * members; every gzip reader in the OCI world reads them in sequence). Fixed
 * chunks keep memory bounded, let -j compress chunks on several cores, and
 * keep the output a function of the input alone. Members carry no name and
 * a zero timestamp. */

typedef int (*CompressSink)(void *userdata, const void *data, size_t size, ObError *err);

typedef struct Compressor Compressor;

#define COMPRESS_LEVEL_DEFAULT 10
#define COMPRESS_LEVEL_MAX 12
#define COMPRESS_CHUNK_DEFAULT (1u << 20)

/* How many chunks a gzip compressor holds (each its input and output):
 * one for one thread, else one per thread and the one being filled. */
unsigned compress_gzip_slots(unsigned threads);

int compressor_new(int level, size_t chunk_size, unsigned threads, CompressSink sink, void *userdata, Compressor **ret,
                   ObError *err);
/* zstd output for layers: one stream that libzstd compresses on threads
 * (at least one worker whatever threads is, so that the output is the same
 * for any -j), in jobs of COMPRESS_ZSTD_JOB bytes, without checksum or
 * content size. threads counts the caller's own, which makes the tar: it
 * gets threads - 1 workers (at least one), as each one holds a job's
 * input, output and context (about 4 MiB at level 3). */
#define COMPRESS_ZSTD_LEVEL_MIN 1
#define COMPRESS_ZSTD_LEVEL_MAX 19
#define COMPRESS_ZSTD_LEVEL_DEFAULT 3
#define COMPRESS_ZSTD_JOB (2u << 20)
/* The libzstd workers of a stream made on threads threads. */
unsigned compress_zstd_workers(unsigned threads);
int compressor_new_zstd(int level, unsigned threads, CompressSink sink, void *userdata, Compressor **ret, ObError *err);

int compressor_write(Compressor *c, const void *data, size_t size, ObError *err);
/* Flushes the last chunk; the output is complete after this. */
int compressor_finish(Compressor *c, ObError *err);
void compressor_free(Compressor *c);
DEFINE_CLEANUP_FUNC(Compressor *, compressor_free);
