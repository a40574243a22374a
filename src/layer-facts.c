/* SPDX-License-Identifier: MIT */
#include "layer-facts.h"

#include <errno.h>
#include <pthread.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup-libs.h"
#include "digest.h"
#include "download.h"
#include "fs.h"
#include "log.h"
#include "path.h"

#define STATUS_DIR "var/lib/dpkg/status.d/"
#define MAGIC "oci-build layer-files"

/* As xmalloc() does: an allocation failure is not recoverable. */
static void oom(void)
{
        fputs("oci-build: out of memory\n", stderr);
        abort();
}

void layer_facts_clear(LayerFacts *f)
{
        for (size_t i = 0; i < f->n; i++) {
                free(f->v[i].path);
                free(f->v[i].target);
                free(f->v[i].content);
        }
        free(f->v);
        *f = (LayerFacts){ 0 };
}

bool layer_facts_keeps(const char *path)
{
        return str_startswith(path, STATUS_DIR) || strcmp(path, "usr/lib/os-release") == 0 ||
               (str_startswith(path, "usr/share/doc/") && str_endswith(path, "/copyright"));
}

static LayerFact *push(LayerFacts *f, char kind, char *path)
{
        f->v = xrealloc(f->v, (f->n + 1) * sizeof(LayerFact));
        f->v[f->n] = (LayerFact){ .kind = kind, .path = path };
        return &f->v[f->n++];
}

LayerFact *layer_facts_add(LayerFacts *f, const char *name, const char *hardlink, bool is_file, bool is_dir)
{
        while (name[0] == '.' && name[1] == '/')
                name += 2;
        while (*name == '/')
                name++;
        _cleanup_free_ char *path = xstrdup(name);
        size_t len = strlen(path);
        while (len > 0 && path[len - 1] == '/')
                path[--len] = '\0';
        if (len == 0)
                return NULL;
        char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        if (str_startswith(base, ".wh.")) {
                if (strcmp(base, ".wh..wh..opq") == 0) {
                        base[base == path ? 0 : -1] = '\0';
                        push(f, FACT_OPAQUE, TAKE_PTR(path));
                } else {
                        memmove(base, base + 4, strlen(base + 4) + 1);
                        push(f, FACT_WHITEOUT, TAKE_PTR(path));
                }
                return NULL;
        }
        if (hardlink) {
                while (*hardlink == '/' || (hardlink[0] == '.' && hardlink[1] == '/'))
                        hardlink += hardlink[0] == '/' ? 1 : 2;
                push(f, FACT_LINK, TAKE_PTR(path))->target = xstrdup(hardlink);
                return NULL;
        }
        if (!is_file) {
                push(f, is_dir ? FACT_DIR : FACT_OTHER, TAKE_PTR(path));
                return NULL;
        }
        return push(f, FACT_FILE, TAKE_PTR(path));
}

struct LayerFactsHasher {
        EVP_MD_CTX *sha1, *sha256;
        LayerFact *fact;
        char *content;
        size_t size, cap;
        bool keep;
};

LayerFactsHasher *layer_facts_hasher_new(void)
{
        LayerFactsHasher *h = xcalloc(1, sizeof(*h));
        h->sha1 = EVP_MD_CTX_new();
        h->sha256 = EVP_MD_CTX_new();
        if (!h->sha1 || !h->sha256)
                oom();
        return h;
}

void layer_facts_hasher_free(LayerFactsHasher *h)
{
        if (!h)
                return;
        EVP_MD_CTX_free(h->sha1);
        EVP_MD_CTX_free(h->sha256);
        free(h->content);
        free(h);
}

void layer_facts_hasher_start(LayerFactsHasher *h, LayerFact *fact)
{
        if (EVP_DigestInit_ex(h->sha1, EVP_sha1(), NULL) != 1 || EVP_DigestInit_ex(h->sha256, EVP_sha256(), NULL) != 1)
                oom();
        h->fact = fact;
        h->keep = layer_facts_keeps(fact->path);
        h->size = 0;
}

void layer_facts_hasher_update(LayerFactsHasher *h, const void *data, size_t size)
{
        EVP_DigestUpdate(h->sha1, data, size);
        EVP_DigestUpdate(h->sha256, data, size);
        if (!h->keep || size == 0)
                return;
        if (h->size + size + 1 > h->cap) {
                h->cap = (h->size + size + 1) * 2;
                h->content = xrealloc(h->content, h->cap);
        }
        memcpy(h->content + h->size, data, size);
        h->size += size;
}

static void hex(const unsigned char *md, unsigned len, char *out)
{
        static const char digits[] = "0123456789abcdef";
        for (unsigned i = 0; i < len; i++) {
                out[2 * i] = digits[md[i] >> 4];
                out[2 * i + 1] = digits[md[i] & 15];
        }
        out[2 * len] = '\0';
}

void layer_facts_hasher_finish(LayerFactsHasher *h)
{
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        LayerFact *f = h->fact;
        EVP_DigestFinal_ex(h->sha1, md, &len);
        hex(md, len, f->sha1);
        EVP_DigestFinal_ex(h->sha256, md, &len);
        hex(md, len, f->sha256);
        if (h->keep) {
                f->content = xmalloc(h->size + 1);
                if (h->size)
                        memcpy(f->content, h->content, h->size);
                f->content[h->size] = '\0';
                f->content_size = h->size;
        }
        h->fact = NULL;
}

int layer_facts_read_blob(const char *blob, LayerFacts *ret, ObError *err)
{
        _cleanup_archive_read_ struct archive *a = archive_read_new();
        archive_read_support_filter_gzip(a);
        archive_read_support_filter_zstd(a); /* --compression zstd */
        archive_read_support_filter_none(a);
        archive_read_support_format_tar(a);
        if (archive_read_open_filename(a, blob, 1 << 16) < ARCHIVE_OK)
                return ob_error_plain(err, EIO, "%s: %s", blob, archive_error_string(a));
        _cleanup_(layer_facts_hasher_freep) LayerFactsHasher *h = layer_facts_hasher_new();
        _cleanup_(layer_facts_clear) LayerFacts f = { 0 };
        _cleanup_free_ char *buf = xmalloc(1 << 16);
        struct archive_entry *e;
        int r;
        while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
                LayerFact *fact =
                        layer_facts_add(&f, archive_entry_pathname(e), archive_entry_hardlink(e),
                                        archive_entry_filetype(e) == AE_IFREG, archive_entry_filetype(e) == AE_IFDIR);
                if (!fact)
                        continue;
                layer_facts_hasher_start(h, fact);
                for (;;) {
                        la_ssize_t n = archive_read_data(a, buf, 1 << 16);
                        if (n < 0)
                                return ob_error_plain(err, EIO, "%s: %s: %s", blob, fact->path,
                                                      archive_error_string(a));
                        if (n == 0)
                                break;
                        layer_facts_hasher_update(h, buf, (size_t) n);
                }
                layer_facts_hasher_finish(h);
        }
        if (r != ARCHIVE_EOF)
                return ob_error_plain(err, EIO, "%s: %s", blob, archive_error_string(a));
        *ret = f;
        f = (LayerFacts){ 0 };
        return 0;
}

/* ---- the file format ------------------------------------------------------
 *
 *   oci-build layer-files VERSION sha256:HEX
 *   F SHA1 SHA256 PATHLEN CONTENTLEN|-   then PATH CONTENT and a newline
 *   H PATHLEN TARGETLEN                  then PATH TARGET and a newline
 *   W|O|D|N PATHLEN                      then PATH and a newline
 *   end COUNT SHA256HEX-OF-ALL-BEFORE
 *
 * Lengths make any byte of a name safe; the end line tells a truncated or
 * damaged file. */

char *layer_facts_format(const LayerFacts *f, const char *digest, size_t *ret_size)
{
        char *data = NULL;
        size_t size = 0;
        FILE *m = open_memstream(&data, &size);
        if (!m)
                oom();
        fprintf(m, MAGIC " %d %s\n", LAYER_FACTS_VERSION, digest);
        for (size_t i = 0; i < f->n; i++) {
                const LayerFact *x = &f->v[i];
                size_t plen = strlen(x->path);
                switch (x->kind) {
                case FACT_FILE:
                        if (x->content)
                                fprintf(m, "F %s %s %zu %zu\n", x->sha1, x->sha256, plen, x->content_size);
                        else
                                fprintf(m, "F %s %s %zu -\n", x->sha1, x->sha256, plen);
                        fwrite(x->path, 1, plen, m);
                        if (x->content)
                                fwrite(x->content, 1, x->content_size, m);
                        break;
                case FACT_LINK:
                        fprintf(m, "H %zu %zu\n%s%s", plen, strlen(x->target), x->path, x->target);
                        break;
                default:
                        fprintf(m, "%c %zu\n%s", x->kind, plen, x->path);
                        break;
                }
                fputc('\n', m);
        }
        if (fclose(m) != 0)
                oom();
        char sum[DIGEST_STRING_MAX];
        sha256_string(data, size, sum);
        _cleanup_free_ char *end = xasprintf("end %zu %s\n", f->n, digest_hex(sum));
        size_t n = strlen(end);
        data = xrealloc(data, size + n + 1);
        memcpy(data + size, end, n + 1);
        *ret_size = size + n;
        return data;
}

typedef struct Cursor {
        const char *p, *end;
        size_t line;
} Cursor;

/* The next line, without its newline, as a NUL-terminated copy. */
static char *next_line(Cursor *c)
{
        const char *nl = memchr(c->p, '\n', (size_t) (c->end - c->p));
        if (!nl)
                return NULL;
        char *s = xstrndup(c->p, (size_t) (nl - c->p));
        c->p = nl + 1;
        c->line++;
        return s;
}

static bool parse_size(const char *s, size_t *ret)
{
        if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 15)
                return false;
        *ret = (size_t) strtoull(s, NULL, 10);
        return true;
}

static bool is_hex(const char *s, size_t n)
{
        return strlen(s) == n && strspn(s, "0123456789abcdef") == n;
}

/* n bytes as a string, which must hold no NUL (a path). */
static char *take(Cursor *c, size_t n, bool text)
{
        if ((size_t) (c->end - c->p) < n)
                return NULL;
        if (text && memchr(c->p, '\0', n))
                return NULL;
        char *s = xmalloc(n + 1);
        memcpy(s, c->p, n);
        s[n] = '\0';
        for (const char *q = c->p; (q = memchr(q, '\n', (size_t) (c->p + n - q))); q++)
                c->line++;
        c->p += n;
        return s;
}

static int bad(ObError *err, const char *what, const Cursor *c, const char *expected)
{
        return ob_error_plain(err, EBADMSG, "%s: line %zu: expected %s", what, c->line, expected);
}

/* Up to max words of line separated by single spaces (line is cut up). */
static size_t split(char *line, char **w, size_t max)
{
        size_t n = 0;
        char *save = NULL;
        for (char *t = strtok_r(line, " ", &save); t; t = strtok_r(NULL, " ", &save))
                if (n++ < max)
                        w[n - 1] = t;
        return n;
}

int layer_facts_parse(const char *what, const char *data, size_t size, const char *digest, LayerFacts *ret,
                      ObError *err)
{
        Cursor c = { data, data + size, 0 };
        _cleanup_(layer_facts_clear) LayerFacts f = { 0 };
        _cleanup_free_ char *head = next_line(&c);
        _cleanup_free_ char *want = xasprintf(MAGIC " %d %s", LAYER_FACTS_VERSION, digest);
        if (!head || strcmp(head, want) != 0)
                return bad(err, what, &c, "the header of this version and digest");
        for (;;) {
                const char *start = c.p;
                _cleanup_free_ char *line = next_line(&c);
                if (!line)
                        return bad(err, what, &c, "a record or the end line (truncated)");
                char *w[6] = { 0 };
                size_t nw = split(line, w, ELEMENTSOF(w));
                if (nw == 3 && strcmp(w[0], "end") == 0) {
                        char sum[DIGEST_STRING_MAX];
                        size_t count;
                        sha256_string(data, (size_t) (start - data), sum);
                        if (!parse_size(w[1], &count) || count != f.n || strcmp(w[2], digest_hex(sum)) != 0)
                                return bad(err, what, &c, "the end line with the count and checksum of the records");
                        if (c.p != c.end)
                                return bad(err, what, &c, "nothing after the end line");
                        break;
                }
                if (nw < 2 || strlen(w[0]) != 1)
                        return bad(err, what, &c, "a record");
                char kind = w[0][0];
                size_t plen, tlen = 0, clen = 0;
                bool has_content = false;
                LayerFact x = { .kind = kind };
                switch (kind) {
                case FACT_FILE:
                        if (nw != 5 || !is_hex(w[1], 40) || !is_hex(w[2], 64) || !parse_size(w[3], &plen) ||
                            (strcmp(w[4], "-") != 0 && !parse_size(w[4], &clen)))
                                return bad(err, what, &c, "F SHA1 SHA256 PATHLEN CONTENTLEN");
                        has_content = strcmp(w[4], "-") != 0;
                        memcpy(x.sha1, w[1], 41);
                        memcpy(x.sha256, w[2], 65);
                        break;
                case FACT_LINK:
                        if (nw != 3 || !parse_size(w[1], &plen) || !parse_size(w[2], &tlen))
                                return bad(err, what, &c, "H PATHLEN TARGETLEN");
                        break;
                case FACT_WHITEOUT:
                case FACT_OPAQUE:
                case FACT_DIR:
                case FACT_OTHER:
                        if (nw != 2 || !parse_size(w[1], &plen))
                                return bad(err, what, &c, "a kind and PATHLEN");
                        break;
                default:
                        return bad(err, what, &c, "a record of kind F, H, W, O, D or N");
                }
                x.path = take(&c, plen, true);
                if (x.path && kind == FACT_LINK)
                        x.target = take(&c, tlen, true);
                if (x.path && has_content) {
                        x.content = take(&c, clen, false);
                        x.content_size = clen;
                }
                LayerFact *added = push(&f, kind, x.path);
                *added = x;
                if (!x.path || (kind == FACT_LINK && !x.target) || (has_content && !x.content) || c.p >= c.end ||
                    *c.p != '\n')
                        return bad(err, what, &c, "the record's bytes and a newline");
                c.p++;
                c.line++;
        }
        *ret = f;
        f = (LayerFacts){ 0 };
        return 0;
}

/* ---- the cache ----------------------------------------------------------- */

/* The SBOMs of a build's images are made on several threads, which load
 * and store facts through one cache: usable is read without the lock, and
 * prepared and the directory's creation happen under it. */
struct LayerFactsCache {
        char *dir;
        bool usable;
        bool prepared;
        pthread_mutex_t lock;
};

/* Said once per run, however many caches fail. */
static bool told_unusable;

static void disable(LayerFactsCache *c, const char *why)
{
        if (!__atomic_exchange_n(&c->usable, false, __ATOMIC_RELAXED))
                return;
        if (!__atomic_exchange_n(&told_unusable, true, __ATOMIC_RELAXED))
                ob_info("oci-build: the layer facts cache '%s' cannot be used (%s): reading layers back instead",
                        c->dir, why);
}

LayerFactsCache *layer_facts_cache_open(const char *dir)
{
        LayerFactsCache *c = xcalloc(1, sizeof(*c));
        c->dir = xstrdup(dir);
        c->usable = true;
        pthread_mutex_init(&c->lock, NULL);
        return c;
}

LayerFactsCache *layer_facts_cache_open_default(void)
{
        _cleanup_free_ char *root = download_cache_dir();
        _cleanup_free_ char *dir = path_join(root, "layer-files");
        return layer_facts_cache_open(dir);
}

void layer_facts_cache_free(LayerFactsCache *c)
{
        if (!c)
                return;
        pthread_mutex_destroy(&c->lock);
        free(c->dir);
        free(c);
}

bool layer_facts_cache_usable(const LayerFactsCache *c)
{
        return c && __atomic_load_n(&c->usable, __ATOMIC_RELAXED);
}

char *layer_facts_cache_path(const LayerFactsCache *c, const char *digest)
{
        return path_join(c->dir, digest_hex(digest));
}

bool layer_facts_cache_load(LayerFactsCache *c, const char *digest, LayerFacts *ret)
{
        if (!layer_facts_cache_usable(c) || !digest_is_valid(digest))
                return false;
        _cleanup_free_ char *path = layer_facts_cache_path(c, digest);
        _cleanup_free_ char *data = NULL;
        size_t size = 0;
        ObError err;
        if (read_file(path, &data, &size, &err) < 0)
                return false;
        if (layer_facts_parse(path, data, size, digest, ret, &err) == 0)
                return true;
        ob_debug("%s: %s: made again", path, err.msg);
        (void) unlink(path);
        return false;
}

static bool prepare(LayerFactsCache *c)
{
        pthread_mutex_lock(&c->lock);
        if (!c->prepared) {
                c->prepared = true;
                ObError err;
                const char *why = cache_dir_unusable(c->dir, &err);
                if (why)
                        disable(c, why);
        }
        pthread_mutex_unlock(&c->lock);
        return layer_facts_cache_usable(c);
}

void layer_facts_cache_store(LayerFactsCache *c, const char *digest, const LayerFacts *f)
{
        if (!layer_facts_cache_usable(c) || !digest_is_valid(digest) || !prepare(c))
                return;
        size_t size = 0;
        _cleanup_free_ char *data = layer_facts_format(f, digest, &size);
        _cleanup_free_ char *path = layer_facts_cache_path(c, digest);
        ObError err;
        if (write_file_atomic(path, data, size, 0600, &err) < 0)
                disable(c, err.msg);
}
