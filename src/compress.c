/* SPDX-License-Identifier: MIT */
#include "compress.h"

#include <errno.h>
#include <libdeflate.h>
#include <pthread.h>
#include <string.h>

#include "util.h"

typedef struct Slot {
        unsigned char *in;
        size_t in_len;
        unsigned char *out;
        size_t out_cap;
        size_t out_len;
        struct libdeflate_compressor *z;
} Slot;

struct Compressor {
        int level;
        size_t chunk;
        unsigned n_slots;
        unsigned filled;      /* slots holding a full chunk, waiting for a batch */
        Slot *slots;
        CompressSink sink;
        void *userdata;
        unsigned long long members;
};

int compressor_new(int level, size_t chunk_size, unsigned threads, CompressSink sink, void *userdata,
                   Compressor **ret, ObError *err)
{
        if (level < 0 || level > COMPRESS_LEVEL_MAX)
                return ob_error_plain(err, EINVAL, "compression level %d is out of range (0-%d)", level,
                                      COMPRESS_LEVEL_MAX);
        if (threads < 1)
                threads = 1;
        if (threads > 64)
                threads = 64;
        Compressor *c = xcalloc(1, sizeof(*c));
        c->level = level;
        c->chunk = chunk_size ? chunk_size : COMPRESS_CHUNK_DEFAULT;
        c->n_slots = threads;
        c->slots = xcalloc(threads, sizeof(Slot));
        for (unsigned i = 0; i < threads; i++) {
                Slot *s = &c->slots[i];
                s->z = libdeflate_alloc_compressor(level);
                if (!s->z) {
                        compressor_free(c);
                        return ob_error_plain(err, ENOMEM, "cannot allocate a gzip compressor");
                }
                s->in = xmalloc(c->chunk);
                s->out_cap = libdeflate_gzip_compress_bound(s->z, c->chunk);
                s->out = xmalloc(s->out_cap);
        }
        c->sink = sink;
        c->userdata = userdata;
        *ret = c;
        return 0;
}

static void *compress_slot(void *arg)
{
        Slot *s = arg;
        s->out_len = libdeflate_gzip_compress(s->z, s->in, s->in_len, s->out, s->out_cap);
        return NULL;
}

/* Compresses the filled slots (in parallel when there are several) and
 * hands the members to the sink in input order. */
static int flush_batch(Compressor *c, ObError *err)
{
        pthread_t tids[64];
        bool started[64] = { false };
        unsigned n = c->filled;

        for (unsigned i = 1; i < n; i++)
                started[i] = pthread_create(&tids[i], NULL, compress_slot, &c->slots[i]) == 0;
        if (n > 0)
                compress_slot(&c->slots[0]);
        for (unsigned i = 1; i < n; i++) {
                if (started[i])
                        pthread_join(tids[i], NULL);
                else
                        compress_slot(&c->slots[i]);
        }

        int r = 0;
        for (unsigned i = 0; i < n; i++) {
                Slot *s = &c->slots[i];
                if (r == 0 && s->out_len == 0)
                        r = ob_error_plain(err, EIO, "gzip compression failed");
                if (r == 0)
                        r = c->sink(c->userdata, s->out, s->out_len, err);
                s->in_len = 0;
                c->members++;
        }
        c->filled = 0;
        return r;
}

int compressor_write(Compressor *c, const void *data, size_t size, ObError *err)
{
        const unsigned char *p = data;
        while (size > 0) {
                Slot *s = &c->slots[c->filled];
                size_t n = c->chunk - s->in_len;
                if (n > size)
                        n = size;
                memcpy(s->in + s->in_len, p, n);
                s->in_len += n;
                p += n;
                size -= n;
                if (s->in_len == c->chunk) {
                        c->filled++;
                        if (c->filled == c->n_slots) {
                                int r = flush_batch(c, err);
                                if (r < 0)
                                        return r;
                        }
                }
        }
        return 0;
}

int compressor_finish(Compressor *c, ObError *err)
{
        /* A partly filled slot, or an empty stream: either way one more member,
         * so that even empty input gives a valid gzip file. */
        if (c->slots[c->filled].in_len > 0 || (c->filled == 0 && c->members == 0))
                c->filled++;
        return flush_batch(c, err);
}

void compressor_free(Compressor *c)
{
        if (!c)
                return;
        for (unsigned i = 0; i < c->n_slots; i++) {
                libdeflate_free_compressor(c->slots[i].z);
                free(c->slots[i].in);
                free(c->slots[i].out);
        }
        free(c->slots);
        free(c);
}
