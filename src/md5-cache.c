/* SPDX-License-Identifier: MIT */
#include "md5-cache.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "download.h"
#include "fs.h"
#include "layer-cache.h"
#include "log.h"
#include "path.h"

#define HEADER "oci-build md5 cache 1\n"
/* A used entry is written again when its day is older than this, so
 * that it does not expire while builds keep finding it. */
#define REFRESH_DAYS 7
/* The file is not read beyond this (MD5_CACHE_MAX lines are ~10 MB). */
#define FILE_MAX (32u << 20)

typedef struct Md5Entry {
        uint64_t dev, ino;
        int64_t size, mtime, ctime; /* ns */
        int64_t day;                /* last used, days since the epoch */
        char md5[33];
        bool full;
} Md5Entry;

struct Md5Cache {
        char *dir;
        char *file;
        struct timespec start;
        int64_t today;
        Md5Entry *table; /* open addressing by device and inode */
        size_t cap, n;
        bool dirty;
        bool told;
};

static int64_t ns(const struct timespec *t)
{
        return (int64_t) t->tv_sec * 1000000000LL + t->tv_nsec;
}

static size_t slot_hash(uint64_t dev, uint64_t ino)
{
        uint64_t h = (ino ^ (dev * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;
        return (size_t) (h ^ (h >> 32));
}

static Md5Entry *find(const Md5Cache *c, uint64_t dev, uint64_t ino)
{
        if (c->cap == 0)
                return NULL;
        size_t mask = c->cap - 1;
        for (size_t h = slot_hash(dev, ino) & mask;; h = (h + 1) & mask)
                if (!c->table[h].full || (c->table[h].dev == dev && c->table[h].ino == ino))
                        return &c->table[h];
}

static void put(Md5Cache *c, const Md5Entry *e)
{
        if ((c->n + 1) * 2 > c->cap) {
                Md5Entry *old = c->table;
                size_t old_cap = c->cap;
                c->cap = old_cap ? old_cap * 2 : 1024;
                c->table = xcalloc(c->cap, sizeof(Md5Entry));
                for (size_t i = 0; i < old_cap; i++)
                        if (old[i].full)
                                *find(c, old[i].dev, old[i].ino) = old[i];
                free(old);
        }
        Md5Entry *s = find(c, e->dev, e->ino);
        if (!s->full)
                c->n++;
        *s = *e;
        s->full = true;
}

static bool is_md5(const char *s)
{
        for (size_t i = 0; i < 32; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return s[32] == '\0';
}

/* One line: "DEV INO SIZE MTIME CTIME DAY MD5". */
static bool parse_line(const char *line, Md5Entry *ret)
{
        unsigned long long dev, ino;
        long long size, mtime, ctime, day;
        char md5[34];
        int end = 0;
        if (sscanf(line, "%llu %llu %lld %lld %lld %lld %33s%n", &dev, &ino, &size, &mtime, &ctime, &day, md5, &end) !=
                    7 ||
            line[end] != '\0' || !is_md5(md5) || size < 0)
                return false;
        *ret = (Md5Entry){ .dev = dev, .ino = ino, .size = size, .mtime = mtime, .ctime = ctime, .day = day };
        memcpy(ret->md5, md5, 33);
        return true;
}

/* The whole file or nothing: it ends with "end COUNT". */
static void load(Md5Cache *c)
{
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        ObError ignore;
        struct stat st;
        bool read = stat(c->file, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t) st.st_size <= FILE_MAX &&
                    read_file_unnoted(c->file, &text, &size, &ignore) == 0;
        if (!read)
                return;
        if (size == 0 || strlen(text) != size || text[size - 1] != '\n' || strncmp(text, HEADER, strlen(HEADER)) != 0) {
                ob_debug("oci-build: ignoring the md5 cache '%s': not one", c->file);
                return;
        }
        size_t count = 0;
        bool ended = false;
        char *save = NULL;
        for (char *line = strtok_r(text + strlen(HEADER), "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                Md5Entry e;
                char tail;
                size_t n;
                if (!ended && sscanf(line, "end %zu%c", &n, &tail) == 1 && n == count) {
                        ended = true;
                        continue;
                }
                if (ended || !parse_line(line, &e)) {
                        ended = false;
                        break;
                }
                if (e.day >= c->today - MD5_CACHE_DAYS)
                        put(c, &e);
                count++;
        }
        if (!ended) {
                ob_debug("oci-build: ignoring the md5 cache '%s': damaged", c->file);
                free(c->table);
                c->table = NULL;
                c->cap = c->n = 0;
        }
}

Md5Cache *md5_cache_open(const char *dir, const struct timespec *start)
{
        Md5Cache *c = xcalloc(1, sizeof(*c));
        c->dir = xstrdup(dir);
        c->file = path_join(dir, "sums");
        if (start)
                c->start = *start;
        else
                clock_gettime(CLOCK_REALTIME, &c->start);
        c->today = c->start.tv_sec / 86400;
        load(c);
        return c;
}

Md5Cache *md5_cache_open_memory(const struct timespec *start)
{
        Md5Cache *c = xcalloc(1, sizeof(*c));
        if (start)
                c->start = *start;
        else
                clock_gettime(CLOCK_REALTIME, &c->start);
        c->today = c->start.tv_sec / 86400;
        return c;
}

Md5Cache *md5_cache_open_default(void)
{
        _cleanup_free_ char *root = download_cache_dir();
        _cleanup_free_ char *dir = path_join(root, "md5");
        return md5_cache_open(dir, NULL);
}

void md5_cache_free(Md5Cache *c)
{
        if (!c)
                return;
        free(c->table);
        free(c->file);
        free(c->dir);
        free(c);
}

bool md5_cache_lookup(Md5Cache *c, const struct stat *st, char ret[static 33])
{
        Md5Entry *e = c ? find(c, (uint64_t) st->st_dev, (uint64_t) st->st_ino) : NULL;
        if (!e || !e->full || e->size != (int64_t) st->st_size || e->mtime != ns(&st->st_mtim) ||
            e->ctime != ns(&st->st_ctim))
                return false;
        if (e->day < c->today - REFRESH_DAYS)
                c->dirty = true;
        e->day = c->today;
        memcpy(ret, e->md5, 33);
        return true;
}

void md5_cache_store(Md5Cache *c, const struct stat *st, const char md5[static 33])
{
        if (!c || !S_ISREG(st->st_mode) || cache_stat_racy(st, &c->start) || !is_md5(md5))
                return;
        Md5Entry e = { .dev = (uint64_t) st->st_dev,
                       .ino = (uint64_t) st->st_ino,
                       .size = (int64_t) st->st_size,
                       .mtime = ns(&st->st_mtim),
                       .ctime = ns(&st->st_ctim),
                       .day = c->today };
        memcpy(e.md5, md5, 33);
        put(c, &e);
        c->dirty = true;
}

static int by_day_desc(const void *a, const void *b)
{
        const Md5Entry *x = *(const Md5Entry *const *) a, *y = *(const Md5Entry *const *) b;
        return x->day < y->day ? 1 : x->day > y->day ? -1 : 0;
}

void md5_cache_save(Md5Cache *c)
{
        if (!c || !c->dir || !c->dirty || c->told)
                return;
        c->dirty = false;
        _cleanup_free_ const Md5Entry **keep = xcalloc(c->n + 1, sizeof(Md5Entry *));
        size_t n = 0;
        for (size_t i = 0; i < c->cap; i++)
                if (c->table[i].full && c->table[i].day >= c->today - MD5_CACHE_DAYS)
                        keep[n++] = &c->table[i];
        if (n > MD5_CACHE_MAX) {
                qsort_safe(keep, n, sizeof(*keep), by_day_desc);
                n = MD5_CACHE_MAX;
        }
        size_t size = 0;
        _cleanup_free_ char *text = NULL;
        {
                _cleanup_fclose_ FILE *f = open_memstream(&text, &size);
                if (!f)
                        abort();
                fputs(HEADER, f);
                for (size_t i = 0; i < n; i++)
                        fprintf(f, "%" PRIu64 " %" PRIu64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %s\n",
                                keep[i]->dev, keep[i]->ino, keep[i]->size, keep[i]->mtime, keep[i]->ctime, keep[i]->day,
                                keep[i]->md5);
                fprintf(f, "end %zu\n", n);
        }
        ObError err;
        if (mkdir_p(c->dir, 0700, &err) < 0 || write_file_atomic(c->file, text, size, 0600, &err) < 0) {
                c->told = true;
                ob_info("oci-build: the md5 cache '%s' cannot be written (%s): building without it", c->dir, err.msg);
        }
}
