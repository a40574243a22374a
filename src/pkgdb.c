/* SPDX-License-Identifier: MIT */
#include "pkgdb.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"
#include "fs.h"
#include "log.h"
#include "md5-cache.h"
#include "util.h"

/* The directories a merged-/usr system links into /usr: the database may
 * name a file by either path. */
static const char *const merged_candidates[] = { "bin", "sbin", "lib", "lib32", "lib64", "libx32" };

/* Files that no .list names because a maintainer script makes them, but
 * that are plainly the package's: scanners should see the package. */
static const struct {
        const char *path;
        const char *package;
} generated_by[] = {
        { "etc/ssl/certs/ca-certificates.crt", "ca-certificates" }, /* update-ca-certificates */
};

/* The owner field's flag: the canonical form is "usr/" and the tail. */
#define PKGDB_USR 0x80000000u

void pkgdb_free(Pkgdb *db)
{
        if (!db)
                return;
        for (size_t i = 0; i < db->n_packages; i++) {
                free(db->packages[i].name);
                free(db->packages[i].arch);
        }
        free(db->packages);
        free(db->slots);
        for (size_t i = 0; i < db->n_texts; i++)
                free(db->texts[i]);
        free(db->texts);
        strv_free(db->merged);
        dpkg_status_free(db->status);
        sysroot_free(db->root);
        free(db);
}

/* A path as the table keys it: its canonical form is "usr/" + tail when
 * usr, else tail. */
typedef struct Key {
        const char *tail;
        size_t len; /* of tail */
        bool usr;
        uint32_t hash;
} Key;

static uint64_t mix(uint64_t h)
{
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 33;
        return h;
}

/* Eight bytes at a time: paths are long and share their beginnings. */
static uint32_t hash_key(const char *s, size_t n, bool usr)
{
        uint64_t h = (usr ? 0x9e3779b97f4a7c15ull : 0x2545f4914f6cdd1dull) ^ n;
        for (; n >= 8; s += 8, n -= 8) {
                uint64_t w;
                memcpy(&w, s, 8);
                h = (h ^ w) * 0xc6a4a7935bd1e995ull;
                h ^= h >> 47;
        }
        uint64_t w = 0;
        memcpy(&w, s, n);
        return (uint32_t) mix(h ^ w);
}

/* The key of a path (len bytes, NUL-terminated): no leading '/', and on a
 * merged-/usr sysroot the /usr form ("lib/x" -> "usr/lib/x"). */
static Key key_of(const Pkgdb *db, const char *path, size_t len)
{
        for (; *path == '/'; path++)
                len--;
        Key k = { .tail = path, .len = len };
        if (strncmp(path, "usr/", 4) == 0) {
                k.usr = true;
                k.tail += 4;
                k.len -= 4;
        } else if (db->merged) {
                size_t n = strcspn(path, "/");
                for (size_t i = 0; db->merged[i]; i++)
                        if (strlen(db->merged[i]) == n && strncmp(path, db->merged[i], n) == 0)
                                k.usr = true;
        }
        k.hash = hash_key(k.tail, k.len, k.usr);
        return k;
}

static PkgdbSlot *slot_of(const Pkgdb *db, const Key *k)
{
        if (db->slots_cap == 0)
                return NULL;
        size_t mask = db->slots_cap - 1;
        for (size_t h = k->hash & mask;; h = (h + 1) & mask) {
                PkgdbSlot *s = &db->slots[h];
                if (!s->tail ||
                    (s->hash == k->hash && ((s->owner & PKGDB_USR) != 0) == k->usr && strcmp(s->tail, k->tail) == 0))
                        return s;
        }
}

/* The first package to name a path owns it (packages go in sorted order). */
static void paths_add(Pkgdb *db, const Key *k, size_t owner)
{
        PkgdbSlot *s = slot_of(db, k);
        if (!s->tail)
                *s = (PkgdbSlot){ .tail = k->tail,
                                  .hash = k->hash,
                                  .owner = (uint32_t) owner | (k->usr ? PKGDB_USR : 0) };
}

static int package_cmp(const void *a, const void *b)
{
        const PkgdbPackage *x = a, *y = b;
        int c = strcmp(x->name, y->name);
        return c ? c : strcmp(x->arch, y->arch);
}

/* var/lib/dpkg/diversions: lines in threes (the path a package ships, where
 * it went instead, the package holding the diversion or ":" for a local
 * one). */
typedef struct Diversion {
        const char *from, *to, *holder;
        size_t from_len;
} Diversion;

static int read_sysroot_file(Sysroot *root, const char *path, char **ret, size_t *ret_size, ObError *err)
{
        _cleanup_free_ char *host = sysroot_host_path(root, path);
        return read_file(host, ret, ret_size, err);
}

/* info/PACKAGE.list, or info/PACKAGE:ARCH.list for a Multi-Arch: same
 * package; -ENOENT when there is neither (a package with no files). */
static int read_list(Pkgdb *db, const PkgdbPackage *pkg, char **ret, size_t *ret_size, ObError *err)
{
        _cleanup_free_ char *plain = xasprintf("/var/lib/dpkg/info/%s.list", pkg->name);
        int r = read_sysroot_file(db->root, plain, ret, ret_size, err);
        if (r == -ENOENT && dpkg_paragraph_get(pkg->para, "Architecture")) {
                _cleanup_free_ char *qualified = xasprintf("/var/lib/dpkg/info/%s:%s.list", pkg->name, pkg->arch);
                r = read_sysroot_file(db->root, qualified, ret, ret_size, err);
        }
        return r;
}

/* Larger lists are left to read_list(): they are not dpkg's. */
#define LIST_AHEAD_MAX (64u << 20)
#define LIST_THREADS_MAX 64

/* A list read ahead on a thread, noted in the input journal (which is
 * not for threads) afterwards on the loading thread, as read_list() notes
 * what it reads. */
typedef struct ListAhead {
        enum { LIST_REDO, LIST_READ, LIST_MISSING } state; /* LIST_REDO: read_list() reads it */
        bool qualified;                                    /* the plain name is missing: text is PACKAGE:ARCH.list's */
        struct stat st;
        char *text;
        size_t size, lines;
} ListAhead;

static size_t count_lines(const char *text, size_t size)
{
        size_t n = 1;
        for (const char *c = text, *end = text + size; (c = memchr(c, '\n', (size_t) (end - c))); c++)
                n++;
        return n;
}

/* A regular file's bytes, as read_file() gives them but noting nothing:
 * 0, -ENOENT when there is no file, another error for anything else
 * (read_list() then says what). */
static int read_ahead(const Sysroot *root, const char *path, ListAhead *a)
{
        _cleanup_free_ char *host = sysroot_host_path(root, path);
        _cleanup_close_ int fd = open(host, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
                return errno == ENOENT ? -ENOENT : -EIO;
        if (fstat(fd, &a->st) < 0 || !S_ISREG(a->st.st_mode) || (uint64_t) a->st.st_size > LIST_AHEAD_MAX)
                return -EIO;
        size_t cap = (size_t) a->st.st_size + 2, n = 0;
        _cleanup_free_ char *buf = xmalloc(cap);
        while (n + 1 < cap) {
                ssize_t r = read(fd, buf + n, cap - n - 1);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -EIO;
                if (r == 0)
                        break;
                n += (size_t) r;
        }
        if (n + 1 >= cap)
                return -EIO; /* grown since fstat() */
        buf[n] = '\0';
        a->text = TAKE_PTR(buf);
        a->size = n;
        a->lines = count_lines(a->text, n);
        return 0;
}

/* What read_list() would read for pkg. */
static void read_list_ahead(const Pkgdb *db, const PkgdbPackage *pkg, ListAhead *a)
{
        _cleanup_free_ char *plain = xasprintf("/var/lib/dpkg/info/%s.list", pkg->name);
        int r = read_ahead(db->root, plain, a);
        if (r == -ENOENT && dpkg_paragraph_get(pkg->para, "Architecture")) {
                _cleanup_free_ char *qualified = xasprintf("/var/lib/dpkg/info/%s:%s.list", pkg->name, pkg->arch);
                a->qualified = true;
                r = read_ahead(db->root, qualified, a);
        }
        a->state = r == 0 ? LIST_READ : r == -ENOENT ? LIST_MISSING : LIST_REDO;
}

typedef struct ListsAhead {
        const Pkgdb *db;
        ListAhead *v;
        atomic_size_t next;
} ListsAhead;

static void *lists_ahead_work(void *userdata)
{
        ListsAhead *l = userdata;
        for (size_t i; (i = atomic_fetch_add(&l->next, 1)) < l->db->n_packages;)
                read_list_ahead(l->db, &l->db->packages[i], &l->v[i]);
        return NULL;
}

/* Notes what read_list() would have noted for a, and takes its text:
 * 0, or -ENOENT for a package with no list. */
static int take_list_ahead(Pkgdb *db, const PkgdbPackage *pkg, ListAhead *a, char **ret, size_t *ret_size)
{
        _cleanup_free_ char *plain = xasprintf("/var/lib/dpkg/info/%s.list", pkg->name);
        _cleanup_free_ char *plain_host = sysroot_host_path(db->root, plain);
        if (!a->qualified && a->state == LIST_READ) {
                journal_note_stat(plain_host, /* follow= */ true, &a->st);
        } else {
                journal_note_error(plain_host, /* follow= */ true, ENOENT);
                if (a->qualified) {
                        _cleanup_free_ char *qualified =
                                xasprintf("/var/lib/dpkg/info/%s:%s.list", pkg->name, pkg->arch);
                        _cleanup_free_ char *host = sysroot_host_path(db->root, qualified);
                        if (a->state == LIST_READ)
                                journal_note_stat(host, /* follow= */ true, &a->st);
                        else
                                journal_note_error(host, /* follow= */ true, ENOENT);
                }
        }
        if (a->state != LIST_READ)
                return -ENOENT;
        *ret = TAKE_PTR(a->text);
        *ret_size = a->size;
        return 0;
}

static void keep_text(Pkgdb *db, char *text)
{
        db->texts = xrealloc(db->texts, (db->n_texts + 1) * sizeof(char *));
        db->texts[db->n_texts++] = text;
}

static void find_merged(Pkgdb *db)
{
        for (size_t i = 0; i < ELEMENTSOF(merged_candidates); i++) {
                _cleanup_free_ char *abs = xasprintf("/%s", merged_candidates[i]);
                _cleanup_free_ char *target = NULL;
                ObError ignore;
                if (sysroot_readlink(db->root, abs, &target, &ignore) < 0)
                        continue;
                _cleanup_free_ char *want = xasprintf("usr/%s", merged_candidates[i]);
                if (strcmp(target[0] == '/' ? target + 1 : target, want) == 0)
                        strv_push(&db->merged, merged_candidates[i]);
        }
}

/* Indexes the paths of one list (its lines ended in place). */
/* Keys are inserted this many lines after they are read, their slots
 * fetched meanwhile: the table is larger than the caches, and a miss per
 * path was most of the loading. */
#define PREFETCH_AHEAD 8

/* Indexes the paths of one list (its lines ended in place). */
static void add_list(Pkgdb *db, char *text, size_t size, size_t owner, const Diversion *div, size_t n_div)
{
        const char *name = db->packages[owner].name;
        char *end = text + size;
        Key ring[PREFETCH_AHEAD];
        size_t n = 0;
        for (char *line = text; line < end;) {
                char *nl = memchr(line, '\n', (size_t) (end - line));
                if (!nl)
                        nl = end;
                *nl = '\0';
                size_t len = (size_t) (nl - line);
                if (line[0] == '/') {
                        const char *path = line;
                        /* A diverted file of another package lives where
                         * the diversion sends it. */
                        for (size_t d = 0; d < n_div; d++)
                                if (div[d].from_len == len && memcmp(div[d].from, line, len) == 0 &&
                                    strcmp(div[d].holder, name) != 0) {
                                        path = div[d].to;
                                        len = strlen(path);
                                        break;
                                }
                        Key *k = &ring[n++ % PREFETCH_AHEAD];
                        if (n > PREFETCH_AHEAD)
                                paths_add(db, k, owner); /* the key read PREFETCH_AHEAD lines ago */
                        *k = key_of(db, path, len);
                        __builtin_prefetch(&db->slots[k->hash & (db->slots_cap - 1)]);
                }
                line = nl + 1;
        }
        /* The last ones, in the order read. */
        for (size_t i = n > PREFETCH_AHEAD ? n - PREFETCH_AHEAD : 0; i < n; i++)
                paths_add(db, &ring[i % PREFETCH_AHEAD], owner);
}

int pkgdb_load(Sysroot *root, unsigned threads, Pkgdb **ret, ObError *err)
{
        _cleanup_(pkgdb_freep) Pkgdb *db = xcalloc(1, sizeof(*db));
        int r;

        db->root = sysroot_ref(root);
        db->threads = threads;
        r = dpkg_status_load(root, &db->status, err);
        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        if (r < 0)
                return r;
        _cleanup_free_ char *shown = sysroot_host_path(root, "/var/lib/dpkg/status");
        r = dpkg_status_check(db->status->text, shown, err);
        if (r < 0)
                return r;
        find_merged(db);

        for (size_t i = 0; i < db->status->n_paragraphs; i++) {
                const DpkgParagraph *p = &db->status->paragraphs[i];
                if (!dpkg_paragraph_installed(p))
                        continue;
                const char *name = dpkg_paragraph_get(p, "Package");
                const char *arch = dpkg_paragraph_get(p, "Architecture");
                if (!name)
                        return ob_error_plain(err, EINVAL, "a dpkg status paragraph without 'Package'");
                db->packages = xrealloc(db->packages, (db->n_packages + 1) * sizeof(PkgdbPackage));
                db->packages[db->n_packages++] =
                        (PkgdbPackage){ .name = xstrdup(name), .arch = xstrdup(arch ? arch : ""), .para = p };
        }
        qsort_safe(db->packages, db->n_packages, sizeof(PkgdbPackage), package_cmp);
        if (db->n_packages >= PKGDB_USR)
                return ob_error_plain(err, E2BIG, "'%s' lists too many packages", shown);

        _cleanup_free_ Diversion *div = NULL;
        size_t n_div = 0;
        char *diversions = NULL;
        r = read_sysroot_file(root, "/var/lib/dpkg/diversions", &diversions, NULL, err);
        if (r < 0 && r != -ENOENT)
                return r;
        if (r == 0) {
                keep_text(db, diversions); /* the table may point at a diversion's target */
                char *save = NULL;
                char *lines[3];
                size_t k = 0;
                for (char *line = strtok_r(diversions, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                        lines[k++] = line;
                        if (k < 3)
                                continue;
                        div = xrealloc(div, (n_div + 1) * sizeof(Diversion));
                        div[n_div++] = (Diversion){ .from = lines[0],
                                                    .to = lines[1],
                                                    .holder = lines[2],
                                                    .from_len = strlen(lines[0]) };
                        k = 0;
                }
        }

        /* Every list first, so that the table is sized once. */
        size_t first_list = db->n_texts;
        _cleanup_free_ size_t *sizes = xcalloc(db->n_packages + 1, sizeof(size_t));
        _cleanup_free_ size_t *owners = xcalloc(db->n_packages + 1, sizeof(size_t));
        size_t lines = n_div, n_lists = 0;
        /* Hundreds of lists: they are read on threads, then taken in
         * order here. */
        _cleanup_free_ ListAhead *ahead = xcalloc(db->n_packages + 1, sizeof(ListAhead));
        {
                ListsAhead l = { .db = db, .v = ahead };
                atomic_init(&l.next, 0);
                pthread_t tid[LIST_THREADS_MAX];
                size_t started = 0;
                for (; started + 1 < threads && started < LIST_THREADS_MAX; started++)
                        if (pthread_create(&tid[started], NULL, lists_ahead_work, &l) != 0)
                                break; /* fewer threads: this one reads the rest */
                lists_ahead_work(&l);
                for (size_t k = 0; k < started; k++)
                        pthread_join(tid[k], NULL);
        }
        for (size_t i = 0; i < db->n_packages; i++) {
                char *list = NULL;
                size_t size = 0;
                ListAhead *a = &ahead[i];
                if (a->state == LIST_REDO) {
                        r = read_list(db, &db->packages[i], &list, &size, err);
                        a->lines = r == 0 ? count_lines(list, size) : 0;
                } else
                        r = take_list_ahead(db, &db->packages[i], a, &list, &size);
                if (r == -ENOENT)
                        continue; /* a package with no files (metapackage from an old dpkg) */
                if (r < 0) {
                        for (size_t k = i; k < db->n_packages; k++)
                                free(ahead[k].text);
                        return r;
                }
                keep_text(db, list);
                sizes[n_lists] = size;
                owners[n_lists++] = i;
                lines += a->lines;
        }
        /* A load of at most 2/3. */
        db->slots_cap = 1024;
        while (db->slots_cap < lines + lines / 2)
                db->slots_cap *= 2;
        db->slots = xcalloc(db->slots_cap, sizeof(PkgdbSlot));
        for (size_t k = 0; k < n_lists; k++)
                add_list(db, db->texts[first_list + k], sizes[k], owners[k], div, n_div);
        *ret = TAKE_PTR(db);
        return 0;
}

void pkgdb_note_no_database(const Sysroot *root)
{
        ob_info("note: the sysroot %s has no dpkg database (/var/lib/dpkg/status): no package records were written",
                root->path[0] ? root->path : "/");
}

/* Whether k's canonical form is canon. */
static bool key_is(const Key *k, const char *canon)
{
        if (strncmp(canon, "usr/", 4) == 0)
                return k->usr && strcmp(k->tail, canon + 4) == 0;
        return !k->usr && strcmp(k->tail, canon) == 0;
}

const PkgdbPackage *pkgdb_path_owner(const Pkgdb *db, const char *path)
{
        Key k = key_of(db, path, strlen(path));
        const PkgdbSlot *s = slot_of(db, &k);
        if (s && s->tail)
                return &db->packages[s->owner & ~PKGDB_USR];
        for (size_t i = 0; i < ELEMENTSOF(generated_by); i++)
                if (key_is(&k, generated_by[i].path))
                        for (size_t j = 0; j < db->n_packages; j++)
                                if (strcmp(db->packages[j].name, generated_by[i].package) == 0)
                                        return &db->packages[j];
        return NULL;
}

const PkgdbPackage *pkgdb_entry_owner(const Pkgdb *db, const Entry *e)
{
        if (!db || e->root != db->root)
                return NULL;
        const PkgdbPackage *pkg = e->source_path ? pkgdb_path_owner(db, e->source_path) : NULL;
        return pkg ? pkg : pkgdb_path_owner(db, e->path);
}

char *pkgdb_stanza(const PkgdbPackage *pkg)
{
        const DpkgParagraph *p = pkg->para;
        size_t size = 0;
        char *text = NULL;
        _cleanup_fclose_ FILE *f = open_memstream(&text, &size);
        if (!f)
                abort();
        for (size_t i = 0; i < p->n_fields; i++) {
                const DpkgField *field = &p->fields[i];
                if (strcasecmp(field->name, "Status") == 0 || strcasecmp(field->name, "Conffiles") == 0 ||
                    strcasecmp(field->name, "Config-Version") == 0)
                        continue;
                fprintf(f, "%s:%s%s\n", field->name, field->value[0] == '\n' ? "" : " ", field->value);
                if (strcasecmp(field->name, "Package") == 0)
                        fputs("Status: install ok installed\n", f);
        }
        fclose(TAKE_PTR(f));
        return text;
}

/* An open descriptor of a plan entry's bytes (a file from a sysroot or the
 * host); -1 with the bytes in *ret_data for generated content. */
static int entry_open(const Plan *p, const Entry *e, const char **ret_data, ObError *err)
{
        if (e->type == ENTRY_HARDLINK) {
                const Entry *t = plan_find(p, e->target);
                if (!t || t->type != ENTRY_FILE)
                        return ob_error_plain(err, ENOENT, "'/%s' links to '/%s', which is no file of the layer",
                                              e->path, e->target);
                e = t;
        }
        *ret_data = NULL;
        if (e->data || !e->source) {
                *ret_data = e->data ? e->data : "";
                return -1;
        }
        if (e->root)
                return sysroot_openat(e->root, e->source_path, O_RDONLY | O_NOCTTY | O_NONBLOCK, err);
        int fd = open(e->source, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                journal_note_error(e->source, /* follow= */ false, errno);
        else
                journal_note_fd(e->source, /* follow= */ false, fd);
        if (fd < 0)
                return ob_error_set(err, errno, "cannot open '%s'", e->source);
        return fd;
}

static inline void md_ctx_freep(EVP_MD_CTX **c)
{
        EVP_MD_CTX_free(*c);
}

/* The md5 in hex, as dpkg's md5sums files list it, of fd's bytes (else of
 * size bytes of data). 0, -errno of a failed read, or ENOSYS (positive)
 * when OpenSSL has no md5. Touches nothing shared: it runs on threads. */
static int md5_hex(int fd, const char *data, size_t size, char ret[static 33])
{
        _cleanup_(md_ctx_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        if (!ctx || EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1)
                return ENOSYS;
        if (fd < 0) {
                EVP_DigestUpdate(ctx, data, size);
        } else {
                char buf[65536];
                for (;;) {
                        ssize_t n = read(fd, buf, sizeof(buf));
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0)
                                return -errno;
                        if (n == 0)
                                break;
                        EVP_DigestUpdate(ctx, buf, (size_t) n);
                }
        }
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        EVP_DigestFinal_ex(ctx, md, &len);
        for (unsigned i = 0; i < len && i < 16; i++)
                snprintf(ret + 2 * i, 3, "%02x", md[i]);
        return 0;
}

static int md5_error(int r, const Entry *e, ObError *err)
{
        if (r == ENOSYS)
                return ob_error_plain(err, ENOMEM, "OpenSSL: md5 is not available");
        return ob_error_set(err, -r, "cannot read '/%s'", e->path);
}

/* An entry a record lists, and its md5 once known. */
typedef struct Md5Item {
        const Entry *e;
        int fd; /* open while its bytes are still to be read, else -1 */
        struct stat st;
        bool keyed;  /* st says what the md5 cache may remember it by */
        size_t same; /* an earlier item of the same file, whose md5 this one takes; else SIZE_MAX */
        int error;   /* of md5_hex() */
        char md5[33];
} Md5Item;

/* Descriptors open at once: a layer may hold tens of thousands of files. */
#define MD5_WINDOW 64

/* The files of one entries_md5() call on their way to the readers: this
 * thread opens them in order and queues them, the readers take them as
 * they come. */
typedef struct Md5Pipe {
        Md5Item *v;
        pthread_mutex_t lock;
        pthread_cond_t queued;    /* an item was queued, or the end came */
        pthread_cond_t read;      /* an item was read and closed */
        size_t queue[MD5_WINDOW]; /* items still to read, in no order */
        size_t n_queued;
        size_t n_open; /* queued or being read */
        bool end;      /* nothing more will be queued */
} Md5Pipe;

/* Reads item i and closes it. Called without the lock. */
static void md5_pipe_read(Md5Pipe *pp, size_t i)
{
        Md5Item *it = &pp->v[i];
        it->error = md5_hex(it->fd, NULL, 0, it->md5);
        close(TAKE_FD(it->fd));
        pthread_mutex_lock(&pp->lock);
        pp->n_open--;
        pthread_cond_signal(&pp->read);
        pthread_mutex_unlock(&pp->lock);
}

/* A queued item, taken off the queue; SIZE_MAX when none is. The readers
 * take the largest file, this thread the smallest: a big file read here
 * would keep the next files from being opened, and the readers idle.
 * Called with the lock. */
static size_t md5_pipe_take(Md5Pipe *pp, bool largest)
{
        if (pp->n_queued == 0)
                return SIZE_MAX;
        size_t best = 0;
        for (size_t k = 1; k < pp->n_queued; k++) {
                off_t size = pp->v[pp->queue[k]].st.st_size, best_size = pp->v[pp->queue[best]].st.st_size;
                if (largest ? size > best_size : size < best_size)
                        best = k;
        }
        size_t i = pp->queue[best];
        pp->queue[best] = pp->queue[--pp->n_queued];
        return i;
}

static void *md5_pipe_work(void *userdata)
{
        Md5Pipe *pp = userdata;
        for (;;) {
                pthread_mutex_lock(&pp->lock);
                while (pp->n_queued == 0 && !pp->end)
                        pthread_cond_wait(&pp->queued, &pp->lock);
                size_t i = md5_pipe_take(pp, /* largest= */ true);
                pthread_mutex_unlock(&pp->lock);
                if (i == SIZE_MAX)
                        return NULL;
                md5_pipe_read(pp, i);
        }
}

/* Waits until at most max descriptors are open; this thread reads queued
 * files meanwhile rather than wait for the readers. */
static void md5_pipe_drain(Md5Pipe *pp, size_t max)
{
        pthread_mutex_lock(&pp->lock);
        while (pp->n_open > max) {
                size_t i = md5_pipe_take(pp, /* largest= */ false);
                if (i == SIZE_MAX) {
                        pthread_cond_wait(&pp->read, &pp->lock);
                        continue;
                }
                pthread_mutex_unlock(&pp->lock);
                md5_pipe_read(pp, i);
                pthread_mutex_lock(&pp->lock);
        }
        pthread_mutex_unlock(&pp->lock);
}

static void md5_pipe_queue(Md5Pipe *pp, size_t i)
{
        pthread_mutex_lock(&pp->lock);
        pp->queue[pp->n_queued++] = i;
        pp->n_open++;
        pthread_cond_signal(&pp->queued);
        pthread_mutex_unlock(&pp->lock);
}

/* The same file twice in one call (a hard link and its target): the
 * earlier item of st's file queued in this call, or SIZE_MAX. Adds it
 * otherwise. */
static size_t md5_seen(size_t *slots, size_t cap, const Md5Item *v, size_t i)
{
        const struct stat *st = &v[i].st;
        uint64_t h = mix((uint64_t) st->st_ino ^ ((uint64_t) st->st_dev * 0x9e3779b97f4a7c15ull));
        for (size_t k = h & (cap - 1);; k = (k + 1) & (cap - 1)) {
                if (slots[k] == SIZE_MAX) {
                        slots[k] = i;
                        return SIZE_MAX;
                }
                const struct stat *o = &v[slots[k]].st;
                if (o->st_dev == st->st_dev && o->st_ino == st->st_ino && o->st_size == st->st_size &&
                    o->st_mtim.tv_sec == st->st_mtim.tv_sec && o->st_mtim.tv_nsec == st->st_mtim.tv_nsec &&
                    o->st_ctim.tv_sec == st->st_ctim.tv_sec && o->st_ctim.tv_nsec == st->st_ctim.tv_nsec)
                        return slots[k];
        }
}

/* The md5 of each entry of v in hex, as dpkg's md5sums files list it, each
 * in its item; a source file the md5 cache knows unchanged (a rebuild) is
 * not read again. The files of a tool are tens of megabytes (curl's 20 MB), read while
 * nothing else runs: their bytes are hashed on threads that live for the
 * whole call, while this thread opens the next files, which tells the
 * input journal what was read. No barrier: a big file keeps one reader
 * busy while the others go on. The first entry that fails, in v's order,
 * is the error. */
static int entries_md5(Md5Cache *md5_cache, const Plan *p, Md5Item *v, size_t n, unsigned threads, ObError *err)
{
        Md5Pipe pp = { .v = v };
        pthread_mutex_init(&pp.lock, NULL);
        pthread_cond_init(&pp.queued, NULL);
        pthread_cond_init(&pp.read, NULL);
        size_t cap = 16;
        while (cap < 2 * n)
                cap *= 2;
        _cleanup_free_ size_t *seen = xmalloc(cap * sizeof(size_t));
        memset(seen, 0xff, cap * sizeof(size_t));

        pthread_t tid[MD5_WINDOW];
        size_t started = 0;
        size_t want = threads < MD5_WINDOW ? threads : MD5_WINDOW;
        for (; n > 1 && started + 1 < want; started++)
                if (pthread_create(&tid[started], NULL, md5_pipe_work, &pp) != 0)
                        break; /* fewer readers: this thread reads the rest */

        ObError open_err;
        int open_r = 0;
        size_t i = 0;
        for (; i < n; i++) {
                Md5Item *it = &v[i];
                it->same = SIZE_MAX;
                md5_pipe_drain(&pp, MD5_WINDOW - 1);
                const char *data = NULL;
                int fd = entry_open(p, it->e, &data, &open_err);
                if (fd < 0 && !data) {
                        open_r = fd;
                        break;
                }
                if (data) {
                        it->error = md5_hex(-1, data, it->e->type == ENTRY_FILE ? it->e->size : strlen(data), it->md5);
                        continue;
                }
                it->fd = fd;
                bool regular = fstat(fd, &it->st) == 0 && S_ISREG(it->st.st_mode);
                it->keyed = md5_cache && regular;
                if (it->keyed && md5_cache_lookup(md5_cache, &it->st, it->md5)) {
                        it->keyed = false;
                        close(TAKE_FD(it->fd));
                        continue;
                }
                if (regular)
                        it->same = md5_seen(seen, cap, v, i);
                if (it->same != SIZE_MAX) {
                        it->keyed = false;
                        close(TAKE_FD(it->fd));
                        continue;
                }
                md5_pipe_queue(&pp, i);
        }

        pthread_mutex_lock(&pp.lock);
        pp.end = true;
        pthread_cond_broadcast(&pp.queued);
        pthread_mutex_unlock(&pp.lock);
        md5_pipe_drain(&pp, 0);
        for (size_t k = 0; k < started; k++)
                pthread_join(tid[k], NULL);
        pthread_cond_destroy(&pp.read);
        pthread_cond_destroy(&pp.queued);
        pthread_mutex_destroy(&pp.lock);

        for (size_t k = 0; k < i; k++) {
                Md5Item *it = &v[k];
                if (it->same != SIZE_MAX) {
                        it->error = v[it->same].error;
                        memcpy(it->md5, v[it->same].md5, sizeof(it->md5));
                }
                if (it->error != 0)
                        return md5_error(it->error, it->e, err);
        }
        if (open_r < 0) {
                if (err)
                        *err = open_err;
                return open_r;
        }
        for (size_t k = 0; k < n; k++)
                if (v[k].keyed)
                        md5_cache_store(md5_cache, &v[k].st, v[k].md5);
        return 0;
}

static bool is_content(const Entry *e)
{
        return e->type == ENTRY_FILE || e->type == ENTRY_HARDLINK;
}

static int add_text(Plan *p, const char *path, const char *text, int64_t mtime, const char *why, ObError *err)
{
        Entry e = { .path = (char *) path,
                    .type = ENTRY_FILE,
                    .mode = 0644,
                    .mtime = mtime,
                    .size = strlen(text),
                    .data = (char *) text,
                    .why = (char *) why };
        return plan_add(p, &e, err);
}

/* Packages built from one source often carry the same copyright file
 * (krb5's four libraries, 63 kB each): in a layer the later ones become hard
 * links of the first, which tar stores without the bytes. */
static int link_same_copyrights(const Pkgdb *db, Plan *p, ObError *err)
{
        _cleanup_free_ Md5Item *items = xcalloc(p->n + 1, sizeof(Md5Item));
        size_t n_items = 0;
        for (size_t i = 0; i < p->n; i++) {
                const Entry *e = &p->entries[i];
                if (e->type == ENTRY_FILE && e->root && str_startswith(e->path, "usr/share/doc/") &&
                    str_endswith(e->path, "/copyright"))
                        items[n_items++] = (Md5Item){ .e = e, .fd = -1 };
        }
        /* Read like the files of the records, which list them again: the
         * md5 cache then knows them. */
        int r = entries_md5(db->md5, p, items, n_items, db->threads, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_items; i++) {
                Entry *e = (Entry *) items[i].e;
                const Md5Item *same = NULL;
                for (size_t k = 0; k < i && !same; k++)
                        if (items[k].e->type == ENTRY_FILE && items[k].e->size == e->size &&
                            strcmp(items[k].md5, items[i].md5) == 0)
                                same = &items[k];
                const Entry *first = same ? same->e : NULL;
                if (first && first->mode == e->mode && first->uid == e->uid && first->gid == e->gid) {
                        e->type = ENTRY_HARDLINK;
                        free(e->target);
                        e->target = xstrdup(first->path);
                }
        }
        return 0;
}

int pkgdb_add_records(const Pkgdb *db, Plan *p, int64_t mtime, ObError *err)
{
        if (!db)
                return 0;
        _cleanup_free_ bool *used = xcalloc(db->n_packages + 1, sizeof(bool));
        size_t n_used = 0;
        for (size_t i = 0; i < p->n; i++) {
                const PkgdbPackage *pkg = is_content(&p->entries[i]) ? pkgdb_entry_owner(db, &p->entries[i]) : NULL;
                if (pkg && !used[pkg - db->packages]) {
                        used[pkg - db->packages] = true;
                        n_used++;
                }
        }
        if (n_used == 0)
                return 0;

        int r;
        /* The copyright files first: they are the packages' own files, so
         * their md5sums list them too. */
        for (size_t k = 0; k < db->n_packages; k++) {
                if (!used[k])
                        continue;
                _cleanup_free_ char *path = xasprintf("/usr/share/doc/%s/copyright", db->packages[k].name);
                _cleanup_free_ char *why = xasprintf("copyright of the Debian package %s", db->packages[k].name);
                PlanCopyOptions o = { .dst = path, .src = path, .why = why };
                ObError local;
                if (plan_find(p, path))
                        continue; /* a config named it already */
                r = plan_add_host(p, db->root, &o, &local);
                /* Licence detection is worth a record without it: a package
                 * without the file, or a layer where the path is taken. */
                if (r == -ENOENT || r == -EEXIST || r == -ENOTDIR)
                        continue;
                if (r < 0) {
                        *err = local;
                        return r;
                }
        }
        r = plan_finish(p, mtime, err);
        if (r < 0)
                return r;
        r = link_same_copyrights(db, p, err);
        if (r < 0)
                return r;

        /* Each file's owner once, and the md5 of those the records list
         * (the records added below are no package's files). */
        size_t n_entries = p->n;
        _cleanup_free_ const PkgdbPackage **owners = xcalloc(n_entries + 1, sizeof(PkgdbPackage *));
        _cleanup_free_ Md5Item *items = xcalloc(n_entries + 1, sizeof(Md5Item));
        _cleanup_free_ size_t *item_of = xcalloc(n_entries + 1, sizeof(size_t));
        size_t n_items = 0;
        for (size_t i = 0; i < n_entries; i++) {
                const Entry *e = &p->entries[i];
                const PkgdbPackage *pkg = is_content(e) ? pkgdb_entry_owner(db, e) : NULL;
                if (!pkg || !used[pkg - db->packages])
                        continue;
                owners[i] = pkg;
                item_of[i] = n_items;
                items[n_items++] = (Md5Item){ .e = e, .fd = -1 };
        }
        r = entries_md5(db->md5, p, items, n_items, db->threads, err);
        if (r < 0)
                return r;

        const char *last_name = NULL;
        for (size_t k = 0; k < db->n_packages; k++) {
                if (!used[k])
                        continue;
                const PkgdbPackage *pkg = &db->packages[k];
                size_t size = 0;
                _cleanup_free_ char *md5sums = NULL;
                {
                        _cleanup_fclose_ FILE *f = open_memstream(&md5sums, &size);
                        if (!f)
                                abort();
                        for (size_t i = 0; i < n_entries; i++)
                                if (owners[i] == pkg)
                                        fprintf(f, "%s  %s\n", items[item_of[i]].md5, p->entries[i].path);
                }
                /* A package installed for two architectures: the second
                 * gets dpkg's qualified name. */
                bool again = last_name && strcmp(last_name, pkg->name) == 0;
                last_name = pkg->name;
                _cleanup_free_ char *file = again ? xasprintf("%s:%s", pkg->name, pkg->arch) : xstrdup(pkg->name);
                _cleanup_free_ char *stanza = pkgdb_stanza(pkg);
                _cleanup_free_ char *status = xasprintf("/var/lib/dpkg/status.d/%s", file);
                _cleanup_free_ char *sums = xasprintf("/var/lib/dpkg/status.d/%s.md5sums", file);
                _cleanup_free_ char *why = xasprintf("record of the Debian package %s, for scanners", pkg->name);
                r = add_text(p, status, stanza, mtime, why, err);
                if (r == 0)
                        r = add_text(p, sums, md5sums ? md5sums : "", mtime, why, err);
                if (r < 0)
                        return r;
        }
        return plan_finish(p, mtime, err);
}

/* The value of KEY= in an os-release text, as written (quotes kept). */
static char *os_release_get(const char *text, const char *key)
{
        size_t n = strlen(key);
        for (const char *line = text; line && *line;) {
                const char *end = strchrnul(line, '\n');
                if ((size_t) (end - line) > n && strncmp(line, key, n) == 0 && line[n] == '=')
                        return xstrndup(line + n + 1, (size_t) (end - line - (ptrdiff_t) n - 1));
                line = *end ? end + 1 : NULL;
        }
        return NULL;
}

static int read_sysroot_resolved(Sysroot *root, const char *path, char **ret, ObError *err)
{
        _cleanup_free_ char *canon = NULL;
        int r = sysroot_resolve(root, path, NULL, NULL, &canon, err);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = sysroot_open_file(root, canon, err);
        if (fd < 0)
                return fd;
        size_t size = 0;
        _cleanup_free_ char *text = NULL;
        _cleanup_fclose_ FILE *f = open_memstream(&text, &size);
        if (!f)
                abort();
        char buf[4096];
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return ob_error_set(err, errno, "cannot read '%s'", path);
                if (n == 0)
                        break;
                fwrite(buf, 1, (size_t) n, f);
        }
        fclose(TAKE_PTR(f));
        *ret = TAKE_PTR(text);
        return 0;
}

static const char *const distro_keys[] = { "ID", "VERSION_ID", "VERSION_CODENAME" };

int pkgdb_add_distro(Sysroot *root, Plan *p, int64_t mtime, ObError *err)
{
        _cleanup_free_ char *sys = NULL;
        ObError local;
        int r = read_sysroot_resolved(root, "/etc/os-release", &sys, &local);
        if (r == -ENOENT)
                r = read_sysroot_resolved(root, "/usr/lib/os-release", &sys, &local);
        if (r == -ENOENT)
                return 0;
        if (r < 0) {
                *err = local;
                return r;
        }

        const Entry *found = plan_find(p, "usr/lib/os-release");
        if (found && found->type == ENTRY_FILE) {
                Entry *e = &p->entries[found - p->entries];
                const char *data = NULL;
                _cleanup_close_ int fd = entry_open(p, e, &data, err);
                _cleanup_free_ char *ours = NULL;
                if (fd < 0 && !data)
                        return fd;
                if (data)
                        ours = xstrdup(data);
                else {
                        size_t size = 0;
                        _cleanup_fclose_ FILE *f = open_memstream(&ours, &size);
                        char buf[4096];
                        ssize_t n;
                        while ((n = read(fd, buf, sizeof(buf))) > 0)
                                fwrite(buf, 1, (size_t) n, f);
                        if (n < 0)
                                return ob_error_set(err, errno, "cannot read '%s'", e->source);
                }
                /* Our lines without the keys that identify the distribution,
                 * then those of the sysroot. */
                size_t size = 0;
                _cleanup_free_ char *text = NULL;
                {
                        _cleanup_fclose_ FILE *f = open_memstream(&text, &size);
                        for (const char *line = ours; line && *line;) {
                                const char *end = strchrnul(line, '\n');
                                bool drop = false;
                                for (size_t k = 0; k < ELEMENTSOF(distro_keys); k++) {
                                        size_t n = strlen(distro_keys[k]);
                                        _cleanup_free_ char *v = os_release_get(sys, distro_keys[k]);
                                        if (v && strncmp(line, distro_keys[k], n) == 0 && line[n] == '=')
                                                drop = true;
                                }
                                if (!drop)
                                        fprintf(f, "%.*s\n", (int) (end - line), line);
                                line = *end ? end + 1 : NULL;
                        }
                        for (size_t k = 0; k < ELEMENTSOF(distro_keys); k++) {
                                _cleanup_free_ char *v = os_release_get(sys, distro_keys[k]);
                                if (v)
                                        fprintf(f, "%s=%s\n", distro_keys[k], v);
                        }
                }
                free(e->source);
                free(e->source_path);
                sysroot_free(e->root);
                free(e->data);
                free(e->why);
                e->source = e->source_path = NULL;
                e->root = NULL;
                e->dev = e->ino = 0;
                e->nlink = 0;
                e->data = TAKE_PTR(text);
                e->size = size;
                e->why = xstrdup("rootfs/, with ID, VERSION_ID and VERSION_CODENAME of the sysroot's os-release");
        }

        _cleanup_free_ char *canon = NULL;
        if (sysroot_resolve(root, "/etc/debian_version", NULL, NULL, &canon, &local) == 0) {
                PlanCopyOptions o = { .dst = "/etc/debian_version",
                                      .src = "/etc/debian_version",
                                      .has_mode = true,
                                      .mode = 0644,
                                      .why = "the sysroot's Debian release, for scanners" };
                r = plan_add_host(p, root, &o, err);
                if (r < 0)
                        return r;
        }
        return plan_finish(p, mtime, err);
}
