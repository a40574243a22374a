/* SPDX-License-Identifier: MIT */
#include "compress.h"

#include <errno.h>
#include <libdeflate.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <zstd.h>

#include "util.h"

/* With several threads, the caller keeps producing input while workers
 * compress earlier chunks; members are handed to the sink strictly in input
 * order, so the output is the same whatever the thread count or timing. */

typedef enum SlotState {
        SLOT_FREE,
        SLOT_QUEUED,
        SLOT_RUNNING,
        SLOT_DONE,
} SlotState;

typedef struct Slot {
        unsigned char *in;
        size_t in_len;
        unsigned char *out;
        size_t out_cap;
        size_t out_len;
        unsigned long long seq;
        SlotState state;
} Slot;

struct Compressor {
        ZSTD_CCtx *zstd; /* a zstd stream: libzstd's own threads, none of the below */
        unsigned char *zout;
        size_t zout_cap;
        int level;
        size_t chunk;
        CompressSink sink;
        void *userdata;

        Slot *slots;
        unsigned n_slots;
        unsigned long long fill_seq; /* the chunk being filled */
        unsigned long long emit_seq; /* the next chunk to hand to the sink */

        struct libdeflate_compressor *z; /* the caller's own, for one thread */
        unsigned n_threads;              /* size of workers and worker_z; 0 for one thread */
        unsigned n_workers;              /* workers running */
        pthread_t *workers;
        struct libdeflate_compressor **worker_z;
        pthread_mutex_t lock;
        pthread_cond_t work; /* a slot was queued, or stopping */
        pthread_cond_t done; /* a slot was compressed */
        bool stopping;
        bool threads_ok;
};

typedef struct WorkerArg {
        Compressor *c;
        unsigned index;
} WorkerArg;

static void compress_slot(struct libdeflate_compressor *z, Slot *s)
{
        s->out_len = libdeflate_gzip_compress(z, s->in, s->in_len, s->out, s->out_cap);
}

static void *worker_main(void *arg)
{
        WorkerArg *wa = arg;
        Compressor *c = wa->c;
        struct libdeflate_compressor *z = c->worker_z[wa->index];
        free(wa);

        pthread_mutex_lock(&c->lock);
        for (;;) {
                Slot *next = NULL;
                for (unsigned i = 0; i < c->n_slots; i++) {
                        Slot *s = &c->slots[i];
                        if (s->state == SLOT_QUEUED && (!next || s->seq < next->seq))
                                next = s;
                }
                if (!next) {
                        if (c->stopping)
                                break;
                        pthread_cond_wait(&c->work, &c->lock);
                        continue;
                }
                next->state = SLOT_RUNNING;
                pthread_mutex_unlock(&c->lock);
                compress_slot(z, next);
                pthread_mutex_lock(&c->lock);
                next->state = SLOT_DONE;
                pthread_cond_broadcast(&c->done);
        }
        pthread_mutex_unlock(&c->lock);
        return NULL;
}

static void stop_workers(Compressor *c)
{
        if (!c->threads_ok)
                return;
        pthread_mutex_lock(&c->lock);
        c->stopping = true;
        /* Work not yet started is dropped: only an abandoned stream has any. */
        for (unsigned i = 0; i < c->n_slots; i++)
                if (c->slots[i].state == SLOT_QUEUED)
                        c->slots[i].state = SLOT_FREE;
        pthread_cond_broadcast(&c->work);
        pthread_mutex_unlock(&c->lock);
        for (unsigned i = 0; i < c->n_workers; i++)
                pthread_join(c->workers[i], NULL);
        c->threads_ok = false;
        c->n_workers = 0;
}

unsigned compress_gzip_slots(unsigned threads)
{
        return threads <= 1 ? 1 : threads + 1;
}

int compressor_new(int level, size_t chunk_size, unsigned threads, CompressSink sink, void *userdata, Compressor **ret,
                   ObError *err)
{
        if (level < 0 || level > COMPRESS_LEVEL_MAX)
                return ob_error_plain(err, EINVAL, "compression level %d is out of range (0-%d)", level,
                                      COMPRESS_LEVEL_MAX);
        if (threads < 1)
                threads = 1;
        if (threads > 64)
                threads = 64;

        _cleanup_(compressor_freep) Compressor *c = xcalloc(1, sizeof(*c));
        c->level = level;
        c->chunk = chunk_size ? chunk_size : COMPRESS_CHUNK_DEFAULT;
        c->sink = sink;
        c->userdata = userdata;
        /* One thread: compress in place, with c->z. More: workers, each with
         * its own compressor (the first one also sizes the buffers), and
         * one slot more than workers so the caller fills one while the
         * others are compressed. The near-optimal compressors of the higher
         * levels weigh megabytes each: none is left idle. */
        struct libdeflate_compressor *first = libdeflate_alloc_compressor(level);
        if (!first)
                return ob_error_plain(err, ENOMEM, "cannot allocate a gzip compressor");
        size_t bound = libdeflate_gzip_compress_bound(first, c->chunk);
        if (threads == 1)
                c->z = first;
        else {
                c->n_threads = threads;
                c->worker_z = xcalloc(threads, sizeof(*c->worker_z));
                c->worker_z[0] = first;
        }
        c->n_slots = compress_gzip_slots(threads);
        c->slots = xcalloc(c->n_slots, sizeof(Slot));
        for (unsigned i = 0; i < c->n_slots; i++) {
                c->slots[i].in = xmalloc(c->chunk);
                c->slots[i].out_cap = bound;
                c->slots[i].out = xmalloc(bound);
        }

        if (threads > 1) {
                pthread_mutex_init(&c->lock, /* attr= */ NULL);
                pthread_cond_init(&c->work, /* attr= */ NULL);
                pthread_cond_init(&c->done, /* attr= */ NULL);
                c->workers = xcalloc(threads, sizeof(pthread_t));
                c->threads_ok = true;
                for (unsigned i = 0; i < threads; i++) {
                        if (i > 0)
                                c->worker_z[i] = libdeflate_alloc_compressor(level);
                        _cleanup_free_ WorkerArg *wa = xmalloc(sizeof(*wa));
                        *wa = (WorkerArg){ .c = c, .index = i };
                        if (!c->worker_z[i] || pthread_create(&c->workers[i], /* attr= */ NULL, worker_main, wa) != 0)
                                return ob_error_plain(err, EAGAIN, "cannot start compression threads");
                        TAKE_PTR(wa); /* the worker frees it */
                        c->n_workers++;
                }
        }
        *ret = TAKE_PTR(c);
        return 0;
}

unsigned compress_zstd_workers(unsigned threads)
{
        return threads > 2 ? threads - 1 : 1;
}

int compressor_new_zstd(int level, unsigned threads, CompressSink sink, void *userdata, Compressor **ret, ObError *err)
{
        if (level < COMPRESS_ZSTD_LEVEL_MIN || level > COMPRESS_ZSTD_LEVEL_MAX)
                return ob_error_plain(err, EINVAL, "zstd level %d is out of range (%d-%d)", level,
                                      COMPRESS_ZSTD_LEVEL_MIN, COMPRESS_ZSTD_LEVEL_MAX);
        threads = compress_zstd_workers(threads);
        _cleanup_(compressor_freep) Compressor *c = xcalloc(1, sizeof(*c));
        c->sink = sink;
        c->userdata = userdata;
        c->level = level;
        c->zstd = ZSTD_createCCtx();
        if (!c->zstd)
                return ob_error_plain(err, ENOMEM, "cannot allocate a zstd compressor");
        /* At least one worker, even for -j1: libzstd's output is the same for
         * any number of workers from one up, and differs without them. No
         * checksum, no content size: the frame is a function of the input
         * alone. */
        size_t r = ZSTD_CCtx_setParameter(c->zstd, ZSTD_c_compressionLevel, level);
        if (!ZSTD_isError(r))
                r = ZSTD_CCtx_setParameter(c->zstd, ZSTD_c_nbWorkers, (int) threads);
        if (!ZSTD_isError(r))
                r = ZSTD_CCtx_setParameter(c->zstd, ZSTD_c_jobSize, COMPRESS_ZSTD_JOB);
        if (!ZSTD_isError(r))
                r = ZSTD_CCtx_setParameter(c->zstd, ZSTD_c_checksumFlag, 0);
        if (ZSTD_isError(r))
                return ob_error_plain(err, ENOTSUP, "cannot set up zstd compression: %s", ZSTD_getErrorName(r));
        c->zout_cap = ZSTD_CStreamOutSize();
        c->zout = xmalloc(c->zout_cap);
        *ret = TAKE_PTR(c);
        return 0;
}

static int emit(Compressor *c, Slot *s, ObError *err)
{
        if (s->out_len == 0)
                return ob_error_plain(err, EIO, "gzip compression failed");
        int r = c->sink(c->userdata, s->out, s->out_len, err);
        s->in_len = 0;
        /* Workers read every slot's state under the lock. */
        if (c->threads_ok)
                pthread_mutex_lock(&c->lock);
        s->state = SLOT_FREE;
        if (c->threads_ok)
                pthread_mutex_unlock(&c->lock);
        c->emit_seq++;
        return r;
}

/* Hands every compressed chunk up to (not including) seq to the sink,
 * waiting for the workers where needed. */
static int drain_until(Compressor *c, unsigned long long seq, ObError *err)
{
        while (c->emit_seq < seq) {
                Slot *s = &c->slots[c->emit_seq % c->n_slots];
                pthread_mutex_lock(&c->lock);
                while (s->state != SLOT_DONE)
                        pthread_cond_wait(&c->done, &c->lock);
                pthread_mutex_unlock(&c->lock);
                int r = emit(c, s, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The chunk being filled is complete: compress it, or queue it. */
static int submit(Compressor *c, ObError *err)
{
        Slot *s = &c->slots[c->fill_seq % c->n_slots];
        s->seq = c->fill_seq++;
        if (!c->threads_ok) {
                compress_slot(c->z, s);
                return emit(c, s, err);
        }
        pthread_mutex_lock(&c->lock);
        s->state = SLOT_QUEUED;
        pthread_cond_signal(&c->work);
        pthread_mutex_unlock(&c->lock);
        /* The next slot to fill must have been handed out first. */
        if (c->fill_seq >= c->n_slots)
                return drain_until(c, c->fill_seq - c->n_slots + 1, err);
        return 0;
}

static int zstd_step(Compressor *c, ZSTD_inBuffer *in, ZSTD_EndDirective mode, ObError *err)
{
        for (;;) {
                ZSTD_outBuffer out = { c->zout, c->zout_cap, 0 };
                size_t left = ZSTD_compressStream2(c->zstd, &out, in, mode);
                if (ZSTD_isError(left))
                        return ob_error_plain(err, EIO, "zstd compression failed: %s", ZSTD_getErrorName(left));
                if (out.pos > 0) {
                        int r = c->sink(c->userdata, c->zout, out.pos, err);
                        if (r < 0)
                                return r;
                }
                /* continue: until the input is taken; end: until flushed. */
                if (mode == ZSTD_e_end ? left == 0 : in->pos == in->size)
                        return 0;
        }
}

int compressor_write(Compressor *c, const void *data, size_t size, ObError *err)
{
        if (c->zstd) {
                ZSTD_inBuffer in = { data, size, 0 };
                return zstd_step(c, &in, ZSTD_e_continue, err);
        }
        const unsigned char *p = data;
        while (size > 0) {
                Slot *s = &c->slots[c->fill_seq % c->n_slots];
                size_t n = c->chunk - s->in_len;
                if (n > size)
                        n = size;
                memcpy(s->in + s->in_len, p, n);
                s->in_len += n;
                p += n;
                size -= n;
                if (s->in_len == c->chunk) {
                        int r = submit(c, err);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

int compressor_finish(Compressor *c, ObError *err)
{
        if (c->zstd) {
                ZSTD_inBuffer in = { NULL, 0, 0 };
                return zstd_step(c, &in, ZSTD_e_end, err);
        }
        Slot *s = &c->slots[c->fill_seq % c->n_slots];
        /* A partly filled chunk, or an empty stream: either way one more
         * member, so that even empty input gives a valid gzip file. */
        if (s->in_len > 0 || c->fill_seq == 0) {
                int r = submit(c, err);
                if (r < 0)
                        return r;
        }
        if (c->threads_ok)
                return drain_until(c, c->fill_seq, err);
        return 0;
}

void compressor_free(Compressor *c)
{
        if (!c)
                return;
        ZSTD_freeCCtx(c->zstd);
        free(c->zout);
        stop_workers(c);
        if (c->n_threads > 0) {
                pthread_mutex_destroy(&c->lock);
                pthread_cond_destroy(&c->work);
                pthread_cond_destroy(&c->done);
        }
        for (unsigned i = 0; i < c->n_threads; i++)
                libdeflate_free_compressor(c->worker_z[i]);
        free(c->worker_z);
        free(c->workers);
        for (unsigned i = 0; i < c->n_slots; i++) {
                free(c->slots[i].in);
                free(c->slots[i].out);
        }
        free(c->slots);
        libdeflate_free_compressor(c->z);
        free(c);
}
