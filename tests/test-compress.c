/* SPDX-License-Identifier: MIT */
/* The multi-member gzip writer, judged by zlib's inflate and by gzip(1). */
#include <check.h>

#include "testutil.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "compress.h"
#include "fs.h"
#include "util.h"

#define CHUNK 1000

typedef struct Buf {
        unsigned char *p;
        size_t n, cap;
        unsigned calls;
        unsigned fail_at; /* fail on this call (1-based); 0: never */
} Buf;

static int buf_sink(void *userdata, const void *data, size_t size, ObError *err)
{
        Buf *b = userdata;
        b->calls++;
        if (b->fail_at && b->calls == b->fail_at)
                return ob_error_plain(err, ENOSPC, "disk full");
        if (b->n + size > b->cap) {
                b->cap = (b->n + size) * 2;
                b->p = xrealloc(b->p, b->cap);
        }
        memcpy(b->p + b->n, data, size);
        b->n += size;
        return 0;
}

/* Some compressible text and some noise, different for each seed. */
static unsigned char *gen_data(size_t n, uint32_t seed)
{
        unsigned char *d = xmalloc(n);
        uint32_t x = seed * 2654435761u + 1;
        for (size_t i = 0; i < n; i++) {
                x = x * 1103515245u + 12345u;
                d[i] = (i / 64) % 3 == 0 ? (unsigned char) (x >> 16) : (unsigned char) ("tar header "[i % 11]);
        }
        return d;
}

typedef struct Inflated {
        unsigned char *p;
        size_t n;
        size_t members;
        size_t member_sizes[1024];
} Inflated;

/* Inflates a series of gzip members, checking each header: deflate, no
 * flags (so no file name), MTIME 0. */
static void inflate_members(const unsigned char *in, size_t n, Inflated *out)
{
        size_t cap = 4096, pos = 0;
        memset(out, 0, sizeof(*out));
        out->p = xmalloc(cap);
        ck_assert_msg(n >= 20, "output of %zu bytes cannot be a gzip member", n);
        while (pos < n) {
                ck_assert_msg(n - pos >= 18, "trailing garbage at %zu", pos);
                ck_assert_int_eq(in[pos], 0x1f);
                ck_assert_int_eq(in[pos + 1], 0x8b);
                ck_assert_int_eq(in[pos + 2], 8); /* CM = deflate */
                ck_assert_int_eq(in[pos + 3], 0); /* FLG: no FNAME, FCOMMENT, FEXTRA, FHCRC */
                ck_assert_int_eq(in[pos + 4] | in[pos + 5] | in[pos + 6] | in[pos + 7], 0); /* MTIME */

                z_stream zs;
                memset(&zs, 0, sizeof(zs));
                ck_assert_int_eq(inflateInit2(&zs, 15 + 16), Z_OK);
                zs.next_in = (unsigned char *) in + pos;
                zs.avail_in = (uInt) (n - pos);
                size_t before = out->n;
                int r;
                do {
                        if (out->n == cap) {
                                cap *= 2;
                                out->p = xrealloc(out->p, cap);
                        }
                        zs.next_out = out->p + out->n;
                        zs.avail_out = (uInt) (cap - out->n);
                        r = inflate(&zs, Z_NO_FLUSH);
                        out->n = cap - zs.avail_out;
                        ck_assert_msg(r == Z_OK || r == Z_STREAM_END, "inflate: %d (%s)", r, zs.msg ? zs.msg : "");
                } while (r != Z_STREAM_END);
                pos = n - zs.avail_in;
                inflateEnd(&zs);
                ck_assert_uint_lt(out->members, ELEMENTSOF(out->member_sizes));
                out->member_sizes[out->members++] = out->n - before;
        }
}

static void compress_buf(int level, size_t chunk, unsigned threads, const unsigned char *data, size_t n, size_t piece,
                         Buf *out)
{
        ObError e = { 0 };
        Compressor *c = NULL;
        memset(out, 0, sizeof(*out));
        ck_assert_msg(compressor_new(level, chunk, threads, buf_sink, out, &c, &e) == 0, "%s", e.msg);
        size_t off = 0, step = 0;
        while (off < n) {
                /* piece 0: uneven pieces, some empty */
                size_t len = piece ? piece : (step * 131 + 7) % (chunk + 300);
                if (len > n - off)
                        len = n - off;
                ck_assert_msg(compressor_write(c, data + off, len, &e) == 0, "%s", e.msg);
                off += len;
                step++;
        }
        ck_assert_msg(compressor_finish(c, &e) == 0, "%s", e.msg);
        compressor_free(c);
}

static const size_t sizes[] = { 0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 10 * CHUNK + 7 };
static const unsigned thread_counts[] = { 1, 3 };

START_TEST(test_roundtrip)
{
        size_t size = sizes[_i / 2];
        unsigned threads = thread_counts[_i % 2];
        unsigned char *data = gen_data(size ? size : 1, (uint32_t) _i);
        Buf whole, pieces;
        Inflated inf;

        compress_buf(6, CHUNK, threads, data, size, size ? size : 1, &whole);
        inflate_members(whole.p, whole.n, &inf);
        ck_assert_uint_eq(inf.n, size);
        ck_assert_msg(size == 0 || memcmp(inf.p, data, size) == 0, "size %zu threads %u: content differs", size,
                      threads);

        /* One member per chunk (at least one), all full but the last. */
        size_t want_members = size == 0 ? 1 : (size + CHUNK - 1) / CHUNK;
        ck_assert_uint_eq(inf.members, want_members);
        for (size_t m = 0; m + 1 < inf.members; m++)
                ck_assert_uint_eq(inf.member_sizes[m], CHUNK);
        ck_assert_uint_eq(inf.member_sizes[inf.members - 1], size - (want_members - 1) * CHUNK);

        /* How the input is cut into writes does not matter. */
        compress_buf(6, CHUNK, threads, data, size, 0, &pieces);
        ck_assert_uint_eq(pieces.n, whole.n);
        ck_assert_mem_eq(pieces.p, whole.p, whole.n);

        free(inf.p);
        free(whole.p);
        free(pieces.p);
        free(data);
}
END_TEST

START_TEST(test_threads_identical)
{
        size_t n = 64 * CHUNK + 513;
        unsigned char *data = gen_data(n, 99);
        Buf ref;
        compress_buf(9, CHUNK, 1, data, n, 4096, &ref);
        static const unsigned counts[] = { 2, 3, 8 };
        for (size_t i = 0; i < ELEMENTSOF(counts); i++) {
                Buf b;
                compress_buf(9, CHUNK, counts[i], data, n, 0, &b);
                ck_assert_msg(b.n == ref.n, "threads %u: %zu bytes, threads 1: %zu", counts[i], b.n, ref.n);
                ck_assert_msg(memcmp(b.p, ref.p, ref.n) == 0, "threads %u: output differs", counts[i]);
                free(b.p);
        }
        Inflated inf;
        inflate_members(ref.p, ref.n, &inf);
        ck_assert_uint_eq(inf.n, n);
        ck_assert_mem_eq(inf.p, data, n);
        ck_assert_uint_eq(inf.members, 65);
        free(inf.p);
        free(ref.p);
        free(data);
}
END_TEST

static bool have_gzip(void)
{
        return system("command -v gzip >/dev/null 2>&1") == 0;
}

START_TEST(test_gzip_tool_reads_it)
{
        if (!have_gzip())
                test_skip("gzip not found on PATH");
        size_t n = 10 * CHUNK + 7;
        unsigned char *data = gen_data(n, 5);
        Buf b;
        compress_buf(12, CHUNK, 3, data, n, 0, &b);

        const char *base = getenv("TMPDIR");
        char *path = xasprintf("%s/ob-test-compress-XXXXXX", base && *base ? base : "/tmp");
        int fd = mkstemp(path);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write_all(fd, b.p, b.n), 0);
        close(fd);

        char *cmd = xasprintf("gzip -t '%s' && gzip -dc < '%s'", path, path);
        FILE *p = popen(cmd, "r");
        ck_assert_ptr_nonnull(p);
        unsigned char *got = xmalloc(n + 100);
        size_t got_n = fread(got, 1, n + 100, p);
        int status = pclose(p);
        unlink(path);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "gzip failed: status %d", status);
        ck_assert_uint_eq(got_n, n);
        ck_assert_mem_eq(got, data, n);
        free(got);
        free(cmd);
        free(path);
        free(b.p);
        free(data);
}
END_TEST

START_TEST(test_levels)
{
        size_t n = 3 * CHUNK + 11;
        unsigned char *data = gen_data(n, 7);
        static const int ok[] = { 0, 1, COMPRESS_LEVEL_DEFAULT, COMPRESS_LEVEL_MAX };
        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                Buf b;
                Inflated inf;
                compress_buf(ok[i], CHUNK, 2, data, n, 0, &b);
                inflate_members(b.p, b.n, &inf);
                ck_assert_uint_eq(inf.n, n);
                ck_assert_mem_eq(inf.p, data, n);
                free(inf.p);
                free(b.p);
        }

        static const struct {
                int level;
                const char *msg;
        } bad[] = {
                { -1, "compression level -1 is out of range (0-12)" },
                { 13, "compression level 13 is out of range (0-12)" },
                { 1000, "compression level 1000 is out of range (0-12)" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                ObError e = { 0 };
                Compressor *c = NULL;
                Buf b = { 0 };
                ck_assert_int_eq(compressor_new(bad[i].level, CHUNK, 1, buf_sink, &b, &c, &e), -EINVAL);
                ck_assert_ptr_null(c);
                ck_assert_str_eq(e.msg, bad[i].msg);
        }
        free(data);
}
END_TEST

START_TEST(test_compresses)
{
        size_t n = 100 * CHUNK;
        unsigned char *zeros = xcalloc(n, 1);
        Buf b;
        compress_buf(6, CHUNK, 1, zeros, n, 0, &b);
        ck_assert_uint_lt(b.n, n / 5);
        Inflated inf;
        inflate_members(b.p, b.n, &inf);
        ck_assert_uint_eq(inf.n, n);
        ck_assert_mem_eq(inf.p, zeros, n);
        free(inf.p);
        free(b.p);
        free(zeros);
}
END_TEST

START_TEST(test_default_chunk)
{
        size_t n = 100000;
        ck_assert_uint_gt(COMPRESS_CHUNK_DEFAULT, n);
        unsigned char *data = gen_data(n, 11);
        Buf b;
        compress_buf(1, 0, 1, data, n, 0, &b);
        Inflated inf;
        inflate_members(b.p, b.n, &inf);
        ck_assert_uint_eq(inf.members, 1);
        ck_assert_uint_eq(inf.n, n);
        ck_assert_mem_eq(inf.p, data, n);
        free(inf.p);
        free(b.p);
        free(data);
}
END_TEST

START_TEST(test_sink_error)
{
        size_t n = 20 * CHUNK;
        unsigned char *data = gen_data(n, 13);
        for (unsigned threads = 1; threads <= 3; threads += 2) {
                ObError e = { 0 };
                Compressor *c = NULL;
                Buf b = { .fail_at = 2 };
                ck_assert_int_eq(compressor_new(6, CHUNK, threads, buf_sink, &b, &c, &e), 0);
                int r = 0;
                for (size_t off = 0; off < n && r == 0; off += 500)
                        r = compressor_write(c, data + off, 500, &e);
                if (r == 0)
                        r = compressor_finish(c, &e);
                ck_assert_msg(r == -ENOSPC, "threads %u: %d", threads, r);
                ck_assert_str_eq(e.msg, "disk full");
                ck_assert_uint_ge(b.calls, 2);
                compressor_free(c);
                free(b.p);
        }
        free(data);
}
END_TEST

START_TEST(test_abandon)
{
        /* Freed half-way, with chunks queued: no hang, no leak. */
        size_t n = 7 * CHUNK + 3;
        unsigned char *data = gen_data(n, 17);
        ObError e = { 0 };
        Compressor *c = NULL;
        Buf b = { 0 };
        ck_assert_int_eq(compressor_new(12, CHUNK, 4, buf_sink, &b, &c, &e), 0);
        ck_assert_int_eq(compressor_write(c, data, n, &e), 0);
        compressor_free(c);
        compressor_free(NULL);
        free(b.p);
        free(data);
}
END_TEST

/* zstd: libzstd's decoder gives the input back, whatever the threads and
 * however the input was cut into writes, and the bytes are the same. */
static void zstd_buf(int level, unsigned threads, const unsigned char *data, size_t n, size_t piece, Buf *out)
{
        ObError e = { 0 };
        Compressor *c = NULL;
        memset(out, 0, sizeof(*out));
        ck_assert_msg(compressor_new_zstd(level, threads, buf_sink, out, &c, &e) == 0, "%s", e.msg);
        for (size_t off = 0, step = 0; off < n; step++) {
                size_t len = piece ? piece : (step * 7919 + 1) % 70000;
                if (len > n - off)
                        len = n - off;
                ck_assert_msg(compressor_write(c, data + off, len, &e) == 0, "%s", e.msg);
                off += len;
        }
        ck_assert_msg(compressor_finish(c, &e) == 0, "%s", e.msg);
        compressor_free(c);
}

START_TEST(test_zstd_roundtrip)
{
        /* Larger than two zstd jobs, so that the workers share it. */
        size_t n = 5u * COMPRESS_ZSTD_JOB + 12345;
        unsigned char *data = gen_data(n, 7);
        Buf one, two, four;
        zstd_buf(3, 1, data, n, 65536, &one);
        zstd_buf(3, 2, data, n, 0, &two);
        zstd_buf(3, 4, data, n, 1u << 20, &four);
        ck_assert_uint_lt(one.n, n);
        ck_assert_uint_eq(one.n, two.n);
        ck_assert(memcmp(one.p, two.p, one.n) == 0);
        ck_assert_uint_eq(one.n, four.n);
        ck_assert(memcmp(one.p, four.p, one.n) == 0);

        unsigned char *back = xmalloc(n + 1);
        ZSTD_DCtx *d = ZSTD_createDCtx();
        ZSTD_inBuffer in = { one.p, one.n, 0 };
        ZSTD_outBuffer o = { back, n + 1, 0 };
        size_t r;
        do {
                r = ZSTD_decompressStream(d, &o, &in);
                ck_assert_msg(!ZSTD_isError(r), "%s", ZSTD_getErrorName(r));
        } while (r != 0 && in.pos < in.size);
        ck_assert_uint_eq(r, 0);
        ck_assert_uint_eq(o.pos, n);
        ck_assert(memcmp(back, data, n) == 0);
        ZSTD_freeDCtx(d);

        /* Another level, other bytes; an empty input is a valid frame. */
        Buf nine, empty;
        zstd_buf(9, 2, data, n, 0, &nine);
        ck_assert(nine.n != one.n || memcmp(nine.p, one.p, one.n) != 0);
        zstd_buf(3, 2, data, 0, 0, &empty);
        ck_assert_uint_gt(empty.n, 0);
        unsigned char sink[16];
        ck_assert_uint_eq(ZSTD_decompress(sink, sizeof(sink), empty.p, empty.n), 0);

        free(empty.p);
        free(nine.p);
        free(back);
        free(one.p);
        free(two.p);
        free(four.p);
        free(data);
}
END_TEST

/* Fewer workers than -j asks for change no byte: the frame is the one
 * libzstd makes with as many workers as there are jobs. */
START_TEST(test_zstd_workers)
{
        ck_assert_uint_eq(compress_zstd_workers(0), 1);
        ck_assert_uint_eq(compress_zstd_workers(1), 1);
        ck_assert_uint_eq(compress_zstd_workers(2), 1);
        ck_assert_uint_eq(compress_zstd_workers(8), 7);
        size_t n = 3u * COMPRESS_ZSTD_JOB + 777;
        unsigned char *data = gen_data(n, 11);
        Buf ours;
        zstd_buf(3, 8, data, n, 0, &ours);

        ZSTD_CCtx *z = ZSTD_createCCtx();
        ck_assert_ptr_nonnull(z);
        ck_assert(!ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, 3)));
        ck_assert(!ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_nbWorkers, 4)));
        ck_assert(!ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_jobSize, COMPRESS_ZSTD_JOB)));
        ck_assert(!ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_checksumFlag, 0)));
        size_t cap = ZSTD_compressBound(n);
        unsigned char *theirs = xmalloc(cap);
        ZSTD_inBuffer in = { data, n, 0 };
        ZSTD_outBuffer out = { theirs, cap, 0 };
        /* Streamed as ours is: the frame then holds no content size. */
        size_t left;
        do {
                left = ZSTD_compressStream2(z, &out, &in, ZSTD_e_continue);
                ck_assert_msg(!ZSTD_isError(left), "%s", ZSTD_getErrorName(left));
        } while (in.pos < in.size);
        ZSTD_inBuffer none = { NULL, 0, 0 };
        do {
                left = ZSTD_compressStream2(z, &out, &none, ZSTD_e_end);
                ck_assert_msg(!ZSTD_isError(left), "%s", ZSTD_getErrorName(left));
        } while (left != 0);
        ck_assert_uint_eq(ours.n, out.pos);
        ck_assert(memcmp(ours.p, theirs, ours.n) == 0);

        ZSTD_freeCCtx(z);
        free(theirs);
        free(ours.p);
        free(data);
}
END_TEST

START_TEST(test_zstd_levels)
{
        ObError e = { 0 };
        Compressor *c = NULL;
        Buf b = { 0 };
        ck_assert_int_eq(compressor_new_zstd(0, 1, buf_sink, &b, &c, &e), -EINVAL);
        ck_assert_int_eq(compressor_new_zstd(COMPRESS_ZSTD_LEVEL_MAX + 1, 1, buf_sink, &b, &c, &e), -EINVAL);
        ck_assert_ptr_null(c);
        ck_assert_int_eq(compressor_new_zstd(COMPRESS_ZSTD_LEVEL_MAX, 1, buf_sink, &b, &c, &e), 0);
        compressor_free(c);
}
END_TEST

/* Memory is bounded by the slots: one chunk for one thread, one per
 * thread and the one being filled for more. */
START_TEST(test_gzip_slots)
{
        ck_assert_uint_eq(compress_gzip_slots(0), 1);
        ck_assert_uint_eq(compress_gzip_slots(1), 1);
        ck_assert_uint_eq(compress_gzip_slots(2), 3);
        ck_assert_uint_eq(compress_gzip_slots(8), 9);
}
END_TEST

static Suite *compress_suite(void)
{
        Suite *s = suite_create("compress");
        TCase *tc = tcase_create("gzip");
        tcase_set_timeout(tc, 30);
        tcase_add_loop_test(tc, test_roundtrip, 0, (int) (ELEMENTSOF(sizes) * ELEMENTSOF(thread_counts)));
        tcase_add_test(tc, test_threads_identical);
        tcase_add_test(tc, test_gzip_tool_reads_it);
        tcase_add_test(tc, test_levels);
        tcase_add_test(tc, test_compresses);
        tcase_add_test(tc, test_default_chunk);
        tcase_add_test(tc, test_sink_error);
        tcase_add_test(tc, test_abandon);
        tcase_add_test(tc, test_gzip_slots);
        suite_add_tcase(s, tc);
        TCase *tz = tcase_create("zstd");
        tcase_set_timeout(tz, 60);
        tcase_add_test(tz, test_zstd_roundtrip);
        tcase_add_test(tz, test_zstd_workers);
        tcase_add_test(tz, test_zstd_levels);
        suite_add_tcase(s, tz);
        return s;
}

int main(void)
{
        return test_run(compress_suite());
}
