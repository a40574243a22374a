/* SPDX-License-Identifier: MIT */
#include "layout.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "cleanup-libs.h"
#include "fs.h"
#include "log.h"
#include "oci.h"
#include "path.h"
#include "sbom-attach.h"
#include "tmpfile.h"
#include "util.h"

#define TMP_PREFIX ".oci-build-"
#define TMP_SUFFIX ".tmp"
struct Layout {
        char *dir;
        int fd;
        bool created_dir;   /* we made the directory */
        bool created_files; /* we initialised an empty directory */
        json_t *index;
        char **new_blobs; /* blob paths this Layout created */
        int *new_slots;   /* their slots in the signal-safe registry (tmpfile.h), until commit */
        size_t n_new_slots;
};

struct BlobWriter {
        char *tmp;
        int fd;
        int slot;
        Sha256 hash;
        uint64_t size;
};

const char *layout_path(const Layout *l)
{
        return l->dir;
}

char *layout_blob_path(const Layout *l, const char *digest)
{
        return xasprintf("%s/blobs/sha256/%s", l->dir, digest_hex(digest));
}

static int write_initial(Layout *l, ObError *err)
{
        static const char oci_layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
        _cleanup_free_ char *p1 = path_join(l->dir, "blobs");
        _cleanup_free_ char *p2 = path_join(l->dir, "blobs/sha256");
        _cleanup_free_ char *p3 = path_join(l->dir, "oci-layout");
        _cleanup_free_ char *p4 = path_join(l->dir, "index.json");
        int r;

        l->created_files = true;
        if (mkdir(p1, 0755) < 0 && errno != EEXIST)
                return ob_error_set(err, errno, "cannot create '%s'", p1);
        if (mkdir(p2, 0755) < 0 && errno != EEXIST)
                return ob_error_set(err, errno, "cannot create '%s'", p2);
        l->index = oci_index_new();
        _cleanup_free_ char *idx = oci_json_dump(l->index);
        r = write_file_atomic(p4, idx, strlen(idx), 0644, err);
        if (r < 0)
                return r;
        /* oci-layout last: its presence marks a complete layout */
        return write_file_atomic(p3, oci_layout, strlen(oci_layout), 0644, err);
}

/* Reads a small file of the layout. Anything but a regular file is refused
 * before it is read: a FIFO under that name would block forever. */
static int read_layout_file(Layout *l, const char *name, char **ret_text, ObError *err)
{
        _cleanup_free_ char *path = path_join(l->dir, name);
        _cleanup_close_ int fd = openat(l->fd, name, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return ob_error_set(err, errno, "cannot open '%s'", path);
        struct stat st;
        if (fstat(fd, &st) < 0)
                return ob_error_set(err, errno, "cannot stat '%s'", path);
        if (!S_ISREG(st.st_mode))
                return ob_error_plain(err, EINVAL, "'%s' is not a regular file", path);
        size_t len = 0, cap = (size_t) st.st_size + 1;
        _cleanup_free_ char *data = xmalloc(cap);
        for (;;) {
                if (len + 1 == cap)
                        data = xrealloc(data, cap *= 2);
                ssize_t n = read(fd, data + len, cap - len - 1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return ob_error_set(err, errno, "cannot read '%s'", path);
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        data[len] = '\0';
        *ret_text = TAKE_PTR(data);
        return 0;
}

/* What is wrong with a descriptor of the index, or NULL: an image whose
 * descriptor cannot be read cannot be kept, nor its blobs told apart. */
static const char *desc_problem(json_t *desc)
{
        if (!json_is_object(desc))
                return "is not an object";
        if (!json_is_string(json_object_get(desc, "mediaType")))
                return "has no 'mediaType' string";
        if (!digest_is_valid(json_string_value(json_object_get(desc, "digest"))))
                return "has no valid sha256 'digest'";
        json_t *size = json_object_get(desc, "size");
        if (!json_is_integer(size) || json_integer_value(size) < 0)
                return "has no 'size' (a non-negative integer)";
        json_t *ann = json_object_get(desc, "annotations");
        if (ann && !json_is_object(ann))
                return "has 'annotations' that are not an object";
        return NULL;
}

/* Every descriptor of the index well-formed; a one-line error otherwise. */
static int check_descriptors(Layout *l, ObError *err)
{
        size_t i;
        json_t *desc;
        json_array_foreach(json_object_get(l->index, "manifests"), i, desc) {
                const char *why = desc_problem(desc);
                if (why)
                        return ob_error_plain(err, EINVAL, "'%s/index.json': manifests[%zu] %s", l->dir, i, why);
        }
        return 0;
}

static int check_existing(Layout *l, LayoutOpenFlags flags, ObError *err)
{
        _cleanup_free_ char *p_layout = path_join(l->dir, "oci-layout");
        _cleanup_free_ char *p_index = path_join(l->dir, "index.json");
        _cleanup_free_ char *text = NULL, *index_text = NULL;
        json_error_t jerr;
        int r;

        r = read_layout_file(l, "oci-layout", &text, err);
        if (r < 0)
                return r;
        _cleanup_json_ json_t *j = json_loads(text, 0, &jerr);
        const char *v = j ? json_string_value(json_object_get(j, "imageLayoutVersion")) : NULL;
        if (!v || strncmp(v, "1.", 2) != 0)
                return ob_error_plain(
                        err, EINVAL, "'%s' is not a valid oci-layout file (expected imageLayoutVersion 1.x)", p_layout);

        r = read_layout_file(l, "index.json", &index_text, err);
        if (r < 0)
                return r;
        l->index = json_loads(index_text, 0, &jerr);
        if (!l->index)
                return ob_error_plain(err, EINVAL, "'%s' is not valid JSON: line %d: %s", p_index, jerr.line,
                                      jerr.text);
        if (!json_is_object(l->index) || !json_is_array(json_object_get(l->index, "manifests")))
                return ob_error_plain(err, EINVAL, "'%s' is not an OCI image index (no 'manifests' list)", p_index);
        if (!(flags & (LAYOUT_CREATE | LAYOUT_WRITE)))
                return 0;

        /* Changed only when whole: what is written into a damaged layout
         * would leave it no better, and a clean could not tell which blobs
         * are in use. */
        json_t *sv = json_object_get(l->index, "schemaVersion");
        if (!json_is_integer(sv) || json_integer_value(sv) != 2)
                return ob_error_plain(err, EINVAL, "'%s': 'schemaVersion' is not 2", p_index);
        r = check_descriptors(l, err);
        if (r < 0)
                return r;
        struct stat st;
        if (fstatat(l->fd, "blobs/sha256", &st, AT_SYMLINK_NOFOLLOW) < 0)
                return ob_error_set(err, errno, "'%s' is not a valid OCI image layout: 'blobs/sha256'", l->dir);
        if (!S_ISDIR(st.st_mode))
                return ob_error_plain(
                        err, EINVAL, "'%s' is not a valid OCI image layout: 'blobs/sha256' is not a directory", l->dir);
        return 0;
}

/* A DIR stream of fd that leaves fd itself open (and its offset alone,
 * once rewound), or NULL. */
static DIR *opendir_dup(int fd)
{
        _cleanup_close_ int dfd = dup(fd);
        if (dfd < 0)
                return NULL;
        DIR *d = fdopendir(dfd);
        if (!d)
                return NULL;
        TAKE_FD(dfd);
        rewinddir(d);
        return d;
}

static bool dir_is_empty(int fd)
{
        _cleanup_dir_ DIR *d = opendir_dup(fd);
        if (!d)
                return false;
        struct dirent *de;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                        return false;
        return true;
}

static void remove_stale_tmp(Layout *l)
{
        _cleanup_dir_ DIR *d = opendir_dup(l->fd);
        if (!d)
                return;
        struct dirent *de;
        while ((de = readdir(d)))
                if (str_startswith(de->d_name, TMP_PREFIX) || str_startswith(de->d_name, "index.json.tmp-"))
                        unlinkat(l->fd, de->d_name, 0);
}

/* A Layout that failed to open takes back what it created. */
static void layout_abandon(Layout *l)
{
        if (!l)
                return;
        layout_rollback(l);
        layout_close(l);
}
DEFINE_CLEANUP_FUNC(Layout *, layout_abandon);

int layout_open(const char *dir, LayoutOpenFlags flags, Layout **ret, ObError *err)
{
        _cleanup_free_ char *p_layout = path_join(dir, "oci-layout");
        struct stat st;
        int r;

        _cleanup_(layout_abandonp) Layout *l = xcalloc(1, sizeof(*l));
        l->fd = -1;
        l->dir = xstrdup(dir);

        if (stat(dir, &st) < 0) {
                if (errno != ENOENT || !(flags & LAYOUT_CREATE))
                        return ob_error_set(err, errno, "cannot use output directory '%s'", dir);
                if (mkdir(dir, 0755) < 0)
                        return ob_error_set(err, errno, "cannot create output directory '%s'", dir);
                l->created_dir = true;
        } else if (!S_ISDIR(st.st_mode))
                return ob_error_plain(err, ENOTDIR, "output '%s' exists and is not a directory", dir);

        l->fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (l->fd < 0)
                return ob_error_set(err, errno, "cannot open output directory '%s'", dir);
        /* Readers (list, show, save, test) share the lock; a build or a
         * clean holds it alone. */
        int lock = (flags & (LAYOUT_CREATE | LAYOUT_WRITE)) ? LOCK_EX : LOCK_SH;
        if (flock(l->fd, lock | LOCK_NB) < 0) {
                if (errno != EWOULDBLOCK)
                        return ob_error_set(err, errno, "cannot lock '%s'", dir);
                ob_info("waiting for another oci-build to finish with '%s'...", dir);
                if (flock(l->fd, lock) < 0)
                        return ob_error_set(err, errno, "cannot lock '%s'", dir);
        }

        if (access(p_layout, F_OK) == 0) {
                r = check_existing(l, flags, err);
                if (r < 0)
                        return r;
                if ((flags & LAYOUT_CREATE) && faccessat(AT_FDCWD, dir, W_OK, AT_EACCESS) < 0)
                        return ob_error_set(err, errno, "output directory '%s' is not writable", dir);
                if (flags & LAYOUT_CREATE)
                        remove_stale_tmp(l);
        } else {
                if (!(flags & LAYOUT_CREATE))
                        return ob_error_plain(err, ENOENT, "'%s' is not an OCI image layout (no oci-layout file)", dir);
                if (!dir_is_empty(l->fd))
                        return ob_error_plain(err, EEXIST,
                                              "'%s' exists but is not an OCI image layout (no oci-layout file, and it "
                                              "is not empty); refusing to write into it",
                                              dir);
                if (faccessat(AT_FDCWD, dir, W_OK, AT_EACCESS) < 0)
                        return ob_error_set(err, errno, "output directory '%s' is not writable", dir);
                r = write_initial(l, err);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

int layout_check(const char *dir, json_t **ret_index, ObError *err)
{
        _cleanup_(layout_closep) Layout *l = xcalloc(1, sizeof(*l));
        l->dir = xstrdup(dir);
        l->fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (l->fd < 0)
                return ob_error_set(err, errno, "cannot open output directory '%s'", dir);
        if (faccessat(l->fd, "oci-layout", F_OK, AT_SYMLINK_NOFOLLOW) < 0)
                return ob_error_plain(err, ENOENT, "'%s' is not an OCI image layout (no oci-layout file)", dir);
        int r = check_existing(l, LAYOUT_WRITE, err);
        if (r < 0)
                return r;
        if (faccessat(AT_FDCWD, dir, W_OK, AT_EACCESS) < 0)
                return ob_error_set(err, errno, "output directory '%s' is not writable", dir);
        *ret_index = TAKE_PTR(l->index);
        return 0;
}

/* The blobs this Layout made are referenced (or removed) now: a signal no
 * longer has anything of ours to remove. */
static void forget_new_blobs(Layout *l)
{
        for (size_t i = 0; i < l->n_new_slots; i++)
                tmpfile_unregister(l->new_slots[i]);
        free(l->new_slots);
        l->new_slots = NULL;
        l->n_new_slots = 0;
        strv_free(l->new_blobs);
        l->new_blobs = NULL;
}

void layout_close(Layout *l)
{
        if (!l)
                return;
        forget_new_blobs(l);
        if (l->fd >= 0)
                close(l->fd);
        json_decref(l->index);
        strv_free(l->new_blobs);
        free(l->dir);
        free(l);
}

void layout_rollback(Layout *l)
{
        for (size_t i = 0; l->new_blobs && l->new_blobs[i]; i++)
                unlink(l->new_blobs[i]);
        forget_new_blobs(l);
        if (l->created_files) {
                _cleanup_free_ char *p1 = path_join(l->dir, "oci-layout");
                _cleanup_free_ char *p2 = path_join(l->dir, "index.json");
                _cleanup_free_ char *p3 = path_join(l->dir, "blobs/sha256");
                _cleanup_free_ char *p4 = path_join(l->dir, "blobs");
                unlink(p1);
                unlink(p2);
                rmdir(p3);
                rmdir(p4);
        }
        if (l->created_dir)
                rmdir(l->dir);
}

int layout_blob_begin(Layout *l, BlobWriter **ret, ObError *err)
{
        _cleanup_free_ char *tmp = xasprintf("%s/" TMP_PREFIX "XXXXXX" TMP_SUFFIX, l->dir);
        int slot;
        int fd = tmpfile_create(tmp, (int) strlen(TMP_SUFFIX), O_CLOEXEC, &slot);
        if (fd < 0)
                return ob_error_set(err, -fd, "cannot create a blob in '%s'", l->dir);

        BlobWriter *w = xcalloc(1, sizeof(*w));
        w->fd = fd;
        w->slot = slot;
        w->tmp = TAKE_PTR(tmp);
        sha256_init(&w->hash);
        *ret = w;
        return 0;
}

int blob_writer_write(BlobWriter *w, const void *data, size_t size, ObError *err)
{
        int r = write_all(w->fd, data, size);
        if (r < 0)
                return ob_error_set(err, -r, "cannot write '%s'", w->tmp);
        sha256_update(&w->hash, data, size);
        w->size += size;
        return 0;
}

/* Frees w and forgets its temporary file, which must be gone (renamed or
 * removed) by now. */
static void blob_writer_free(BlobWriter *w)
{
        if (!w)
                return;
        if (w->fd >= 0)
                close(w->fd);
        tmpfile_unregister(w->slot);
        sha256_free(&w->hash);
        free(w->tmp);
        free(w);
}

void blob_writer_abort(BlobWriter *w)
{
        if (!w)
                return;
        unlink(w->tmp);
        blob_writer_free(w);
}

void layout_blob_abort(Layout *l, BlobWriter *w)
{
        blob_writer_abort(w);
}

/* Whether the blob already under a digest's name holds those bytes: a
 * regular file (not a symlink planted there) of that size whose content
 * hashes to it. A byte flipped on disk would otherwise be referenced by every
 * later image. */
static bool blob_is_intact(const char *path, const struct stat *st, const char *digest, uint64_t size)
{
        return S_ISREG(st->st_mode) && (uint64_t) st->st_size == size && sha256_file_matches(path, digest);
}

int layout_blob_commit(Layout *l, BlobWriter *writer, char ret_digest[static DIGEST_STRING_MAX], uint64_t *ret_size,
                       ObError *err)
{
        /* Ours now: abandoned, temporary file and all, on every failure. */
        _cleanup_(blob_writer_abortp) BlobWriter *w = writer;
        char digest[DIGEST_STRING_MAX];

        sha256_final(&w->hash, digest);
        uint64_t size = w->size;
        _cleanup_free_ char *path = layout_blob_path(l, digest);
        struct stat st;
        bool existed = lstat(path, &st) == 0;
        if (existed && blob_is_intact(path, &st, digest, size))
                /* Same digest, same bytes: keep the one that is there. */
                blob_writer_abort(TAKE_PTR(w));
        else {
                if (fchmod(w->fd, 0644) < 0 || fsync(w->fd) < 0)
                        return ob_error_set(err, errno, "cannot write '%s'", w->tmp);
                /* Registered before it has the name, so that no signal
                 * leaves it behind unreferenced; the lock says nobody else
                 * makes it meanwhile. */
                int slot = existed ? -1 : tmpfile_register(path);
                /* Over a damaged or planted one too: rename() replaces a
                 * symlink, not what it points to. */
                if (rename(w->tmp, path) < 0) {
                        tmpfile_unregister(slot);
                        return ob_error_set(err, errno, "cannot rename blob into '%s'", path);
                }
                /* Renamed: there is no temporary file left to remove. */
                blob_writer_free(TAKE_PTR(w));
                if (!existed) {
                        strv_push(&l->new_blobs, path);
                        l->new_slots = xrealloc(l->new_slots, (l->n_new_slots + 1) * sizeof(int));
                        l->new_slots[l->n_new_slots++] = slot;
                }
        }
        memcpy(ret_digest, digest, DIGEST_STRING_MAX);
        if (ret_size)
                *ret_size = size;
        return 0;
}

int layout_put_blob(Layout *l, const void *data, size_t size, char ret_digest[static DIGEST_STRING_MAX], ObError *err)
{
        _cleanup_(blob_writer_abortp) BlobWriter *w = NULL;
        int r;

        r = layout_blob_begin(l, &w, err);
        if (r < 0)
                return r;
        r = blob_writer_write(w, data, size, err);
        if (r < 0)
                return r;
        return layout_blob_commit(l, TAKE_PTR(w), ret_digest, /* ret_size= */ NULL, err);
}

bool layout_has_blob(Layout *l, const char *digest)
{
        if (!digest_is_valid(digest))
                return false;
        _cleanup_free_ char *path = layout_blob_path(l, digest);
        return access(path, F_OK) == 0;
}

int layout_read_blob(Layout *l, const char *digest, char **ret_data, size_t *ret_size, ObError *err)
{
        char actual[DIGEST_STRING_MAX];
        if (!digest_is_valid(digest))
                return ob_error_plain(err, EINVAL, "'%s' is not a sha256 digest", digest);
        _cleanup_free_ char *path = layout_blob_path(l, digest);
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r = read_file(path, &data, &size, err);
        if (r < 0)
                return r;
        sha256_string(data, size, actual);
        if (strcmp(actual, digest) != 0)
                return ob_error_plain(err, EIO, "blob '%s' is corrupt (its content hashes to %s)", path, actual);
        *ret_data = TAKE_PTR(data);
        if (ret_size)
                *ret_size = size;
        return 0;
}

json_t *layout_index(Layout *l)
{
        return l->index;
}

static const char *desc_name(json_t *desc)
{
        return json_string_value(json_object_get(json_object_get(desc, "annotations"), OCI_REF_NAME));
}

json_t *layout_index_find(Layout *l, const char *name)
{
        json_t *m = json_object_get(l->index, "manifests");
        size_t i;
        json_t *desc;
        json_array_foreach(m, i, desc) {
                const char *n = desc_name(desc);
                if (n && strcmp(n, name) == 0)
                        return desc;
        }
        return NULL;
}

static int desc_cmp(const void *a, const void *b)
{
        const char *x = desc_name(*(json_t *const *) a), *y = desc_name(*(json_t *const *) b);
        return strcmp(x ? x : "", y ? y : "");
}

int layout_index_set(Layout *l, const char *name, json_t *desc, ObError *err)
{
        layout_index_remove(l, name, err);
        json_t *m = json_object_get(l->index, "manifests");
        json_array_append_new(m, desc);

        /* Keep the index in name order, so it does not depend on build order. */
        size_t n = json_array_size(m);
        _cleanup_free_ json_t **v = xmalloc(n * sizeof(json_t *));
        for (size_t i = 0; i < n; i++)
                v[i] = json_incref(json_array_get(m, i));
        qsort_safe(v, n, sizeof(json_t *), desc_cmp);
        json_array_clear(m);
        for (size_t i = 0; i < n; i++)
                json_array_append_new(m, v[i]);
        return 0;
}

int layout_index_remove(Layout *l, const char *name, ObError *err)
{
        json_t *m = json_object_get(l->index, "manifests");
        for (size_t i = 0; i < json_array_size(m);) {
                const char *n = desc_name(json_array_get(m, i));
                if (n && strcmp(n, name) == 0)
                        json_array_remove(m, i);
                else
                        i++;
        }
        return 0;
}

char **layout_index_names(Layout *l)
{
        char **v = xcalloc(1, sizeof(char *));
        json_t *m = json_object_get(l->index, "manifests");
        size_t i;
        json_t *desc;
        json_array_foreach(m, i, desc) {
                const char *n = desc_name(desc);
                if (n && !strv_contains(v, n))
                        strv_push(&v, n);
        }
        return v;
}

int layout_commit(Layout *l, ObError *err)
{
        _cleanup_free_ char *path = path_join(l->dir, "index.json");
        _cleanup_free_ char *text = oci_json_dump(l->index);
        int r = write_file_atomic(path, text, strlen(text), 0644, err);
        if (r < 0)
                return r;
        /* The blobs are referenced now: a later rollback, or a signal, must keep them. */
        forget_new_blobs(l);
        l->created_dir = l->created_files = false;
        return 0;
}

/* Adds desc's digest and everything it points to. Whatever the media type
 * says, a blob that is a JSON object is searched for the fields through
 * which OCI and Docker documents reference others (config, layers,
 * manifests, blobs, subject), so gc never deletes what an image it does
 * not know still uses. */
static int mark(Layout *l, json_t *desc, char ***live, ObError *err)
{
        const char *digest = json_string_value(json_object_get(desc, "digest"));
        const char *mt = json_string_value(json_object_get(desc, "mediaType"));
        if (!digest || !digest_is_valid(digest))
                return 0;
        if (strv_contains(*live, digest))
                return 0;
        strv_push(live, digest);
        /* An image's SBOM is named by an annotation of its descriptor,
         * not by an index entry of its own (sbom-attach.h). */
        const char *sbom = json_string_value(json_object_get(json_object_get(desc, "annotations"), SBOM_ANNOTATION));
        if (sbom) {
                _cleanup_json_ json_t *d = oci_descriptor(OCI_MT_MANIFEST, sbom, 0);
                int r = mark(l, d, live, err);
                if (r < 0)
                        return r;
        }
        /* Layers and SPDX documents name no blob; reading them would only
         * cost time. */
        if (mt && (strstr(mt, ".layer.") || strstr(mt, ".tar") || strcmp(mt, SBOM_MEDIA_TYPE) == 0))
                return 0;
        _cleanup_free_ char *data = NULL;
        size_t size = 0;
        int r = layout_read_blob(l, digest, &data, &size, err);
        if (r < 0)
                return r;
        _cleanup_json_ json_t *j = json_loadb(data, size, 0, /* error= */ NULL);
        if (!json_is_object(j))
                return 0;
        static const char *const single[] = { "config", "subject" };
        static const char *const lists[] = { "layers", "manifests", "blobs" };
        for (size_t k = 0; k < ELEMENTSOF(single); k++) {
                json_t *c = json_object_get(j, single[k]);
                if (json_is_object(c)) {
                        r = mark(l, c, live, err);
                        if (r < 0)
                                return r;
                }
        }
        for (size_t k = 0; k < ELEMENTSOF(lists); k++) {
                size_t i;
                json_t *d;
                json_array_foreach(json_object_get(j, lists[k]), i, d) {
                        r = mark(l, d, live, err);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* Every blob the images of the index (as it is in memory) reference. */
static int mark_live(Layout *l, char ***ret_live, ObError *err)
{
        _cleanup_strv_ char **live = NULL;
        size_t i;
        json_t *desc;

        /* A descriptor that cannot be read could be keeping any blob alive. */
        int k = check_descriptors(l, err);
        if (k < 0)
                return ob_error_wrap(err, "not deleting anything");
        json_array_foreach(json_object_get(l->index, "manifests"), i, desc) {
                int r = mark(l, desc, &live, err);
                if (r < 0)
                        return ob_error_wrap(err, "not deleting anything: cannot read what '%s' references", l->dir);
        }
        *ret_live = TAKE_PTR(live);
        return 0;
}

int layout_gc_check(Layout *l, ObError *err)
{
        _cleanup_strv_ char **live = NULL;
        return mark_live(l, &live, err);
}

int layout_gc(Layout *l, size_t *ret_count, uint64_t *ret_bytes, ObError *err)
{
        _cleanup_strv_ char **live = NULL;
        size_t count = 0;
        uint64_t bytes = 0;

        int r = mark_live(l, &live, err);
        if (r < 0)
                return r;

        _cleanup_free_ char *blobs = path_join(l->dir, "blobs/sha256");
        _cleanup_dir_ DIR *d = opendir(blobs);
        if (!d)
                return ob_error_set(err, errno, "cannot open '%s'", blobs);
        struct dirent *de;
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                _cleanup_free_ char *digest = xasprintf("sha256:%s", de->d_name);
                if (strv_contains(live, digest))
                        continue;
                _cleanup_free_ char *path = path_join(blobs, de->d_name);
                struct stat st;
                if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && unlink(path) == 0) {
                        count++;
                        bytes += (uint64_t) st.st_size;
                }
        }
        remove_stale_tmp(l);
        if (ret_count)
                *ret_count = count;
        if (ret_bytes)
                *ret_bytes = bytes;
        return 0;
}
