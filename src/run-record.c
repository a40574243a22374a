/* SPDX-License-Identifier: MIT */
#include "run-record.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup-libs.h"
#include "digest.h"
#include "download.h"
#include "fs.h"
#include "oci.h"
#include "path.h"
#include "sbom-attach.h"

#define HEADER "oci-build run record"
/* Nested image indexes deeper than this are not followed (nor recorded). */
#define WALK_DEPTH_MAX 8

RunRecord *run_record_new(const char *key)
{
        RunRecord *r = xcalloc(1, sizeof(*r));
        snprintf(r->key, sizeof(r->key), "%s", key);
        r->journal = journal_new();
        return r;
}

void run_record_free(RunRecord *r)
{
        if (!r)
                return;
        journal_free(r->journal);
        strv_free(r->names);
        strv_free(r->descriptors);
        strv_free(r->blobs);
        free(r->blob_sizes);
        strv_free(r->out_before);
        strv_free(r->out_after);
        free(r);
}

char *run_record_dir(void)
{
        _cleanup_free_ char *root = download_cache_dir();
        return path_join(root, "runs");
}

void run_record_add_output(RunRecord *r, const char *before, const char *after)
{
        strv_push(&r->out_before, before);
        strv_push(&r->out_after, after);
}

static void add_blob(RunRecord *r, const char *digest, uint64_t size)
{
        for (size_t i = 0; i < r->n_blobs; i++)
                if (strcmp(r->blobs[i], digest) == 0)
                        return;
        strv_push(&r->blobs, digest);
        r->blob_sizes = xrealloc(r->blob_sizes, (r->n_blobs + 1) * sizeof(uint64_t));
        r->blob_sizes[r->n_blobs++] = size;
}

static int walk(RunRecord *r, Layout *l, json_t *desc, unsigned depth, ObError *err);

/* A blob named by digest alone (the SBOM annotation): its size is its
 * file's, and it is walked as a manifest. */
static int walk_digest(RunRecord *r, Layout *l, const char *digest, unsigned depth, ObError *err)
{
        _cleanup_free_ char *data = NULL;
        size_t size = 0;
        int k = layout_read_blob(l, digest, &data, &size, err);
        if (k < 0)
                return k;
        _cleanup_(json_decrefp) json_t *d =
                json_pack("{s:s, s:s, s:I}", "mediaType", OCI_MT_MANIFEST, "digest", digest, "size", (json_int_t) size);
        return walk(r, l, d, depth, err);
}

static int walk(RunRecord *r, Layout *l, json_t *desc, unsigned depth, ObError *err)
{
        const char *digest = json_string_value(json_object_get(desc, "digest"));
        const char *mt = json_string_value(json_object_get(desc, "mediaType"));
        json_t *size = json_object_get(desc, "size");
        if (!digest || !digest_is_valid(digest) || !json_is_integer(size) || json_integer_value(size) < 0)
                return ob_error_plain(err, EINVAL, "a descriptor in the layout is not complete");
        if (depth > WALK_DEPTH_MAX)
                return ob_error_plain(err, ELOOP, "'%s' nests image indexes too deeply", digest);
        add_blob(r, digest, (uint64_t) json_integer_value(size));
        const char *sbom = json_string_value(json_object_get(json_object_get(desc, "annotations"), SBOM_ANNOTATION));
        if (sbom) {
                int k = walk_digest(r, l, sbom, depth + 1, err);
                if (k < 0)
                        return k;
        }
        bool manifest = mt && strcmp(mt, OCI_MT_MANIFEST) == 0;
        bool index = mt && strcmp(mt, OCI_MT_INDEX) == 0;
        if (!manifest && !index)
                return 0;
        _cleanup_free_ char *data = NULL;
        size_t n = 0;
        int k = layout_read_blob(l, digest, &data, &n, err);
        if (k < 0)
                return k;
        _cleanup_(json_decrefp) json_t *doc = json_loadb(data, n, 0, NULL);
        if (!json_is_object(doc))
                return ob_error_plain(err, EINVAL, "the blob '%s' is not JSON", digest);
        size_t i;
        json_t *d;
        if (index) {
                json_array_foreach(json_object_get(doc, "manifests"), i, d) {
                        k = walk(r, l, d, depth + 1, err);
                        if (k < 0)
                                return k;
                }
                return 0;
        }
        json_t *config = json_object_get(doc, "config");
        if (config) {
                k = walk(r, l, config, depth + 1, err);
                if (k < 0)
                        return k;
        }
        json_array_foreach(json_object_get(doc, "layers"), i, d) {
                k = walk(r, l, d, depth + 1, err);
                if (k < 0)
                        return k;
        }
        return 0;
}

static char *desc_text(json_t *desc)
{
        return json_dumps(desc, JSON_SORT_KEYS | JSON_COMPACT);
}

int run_record_add_image(RunRecord *r, Layout *l, const char *name, ObError *err)
{
        if (strv_contains(r->names, name))
                return 0;
        json_t *desc = layout_index_find(l, name);
        if (!desc)
                return ob_error_plain(err, ENOENT, "'%s' is not in the layout", name);
        _cleanup_free_ char *text = desc_text(desc);
        if (!text)
                return ob_error_plain(err, ENOMEM, "cannot write the descriptor of '%s'", name);
        strv_push(&r->names, name);
        strv_push(&r->descriptors, text);
        return walk(r, l, desc, 0, err);
}

static bool one_line(const char *s, bool tab_ok)
{
        return !strchr(s, '\n') && (tab_ok || !strchr(s, '\t'));
}

char *run_record_format(const RunRecord *r)
{
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        _cleanup_fclose_ FILE *f = open_memstream(&buf, &size);
        if (!f)
                return NULL;
        size_t lines = 2;
        fprintf(f, "%s %d\nkey %s\n", HEADER, RUN_RECORD_VERSION, r->key);
        if (!journal_write(r->journal, f))
                return NULL;
        lines += r->journal->n;
        for (size_t i = 0; r->names && r->names[i]; i++) {
                if (!one_line(r->names[i], false) || !*r->names[i] || !one_line(r->descriptors[i], true))
                        return NULL;
                fprintf(f, "n %s\t%s\n", r->names[i], r->descriptors[i]);
                lines++;
        }
        for (size_t i = 0; i < r->n_blobs; i++, lines++)
                fprintf(f, "b %" PRIu64 " %s\n", r->blob_sizes[i], r->blobs[i]);
        for (size_t i = 0; r->out_before && r->out_before[i]; i++, lines++) {
                if (!one_line(r->out_before[i], false) || !one_line(r->out_after[i], false))
                        return NULL;
                fprintf(f, "o %s\t%s\n", r->out_before[i], r->out_after[i]);
        }
        fprintf(f, "end %zu\n", lines);
        if (fclose(TAKE_PTR(f)) != 0)
                return NULL;
        return TAKE_PTR(buf);
}

static bool is_hex64(const char *s)
{
        size_t n = strspn(s, "0123456789abcdef");
        return n == 64 && s[n] == '\0';
}

static bool parse_line(RunRecord *r, char *line)
{
        if (str_startswith(line, "j ")) {
                JournalEntry e;
                if (!journal_parse_line(line, &e))
                        return false;
                journal_append(r->journal, &e);
                return true;
        }
        if (str_startswith(line, "n ")) {
                char *tab = strchr(line + 2, '\t');
                if (!tab || tab == line + 2)
                        return false;
                *tab = '\0';
                _cleanup_(json_decrefp) json_t *d = json_loads(tab + 1, 0, NULL);
                if (!json_is_object(d))
                        return false;
                strv_push(&r->names, line + 2);
                strv_push(&r->descriptors, tab + 1);
                return true;
        }
        if (str_startswith(line, "b ")) {
                char *end = NULL;
                errno = 0;
                unsigned long long size = strtoull(line + 2, &end, 10);
                if (errno || end == line + 2 || *end != ' ' || line[2] == '-' || !digest_is_valid(end + 1) ||
                    !str_startswith(end + 1, "sha256:"))
                        return false;
                add_blob(r, end + 1, size);
                return true;
        }
        if (str_startswith(line, "o ")) {
                char *tab = strchr(line + 2, '\t');
                if (!tab)
                        return false;
                *tab = '\0';
                run_record_add_output(r, line + 2, tab + 1);
                return true;
        }
        return false;
}

int run_record_parse(const char *text, const char *key, RunRecord **ret, ObError *err)
{
        _cleanup_free_ char *copy = xstrdup(text);
        char *save = NULL;
        char *line = strtok_r(copy, "\n", &save);
        char header[64];
        snprintf(header, sizeof(header), "%s %d", HEADER, RUN_RECORD_VERSION);
        if (!line || strcmp(line, header) != 0)
                return ob_error_plain(err, EINVAL, "not a run record of version %d", RUN_RECORD_VERSION);
        line = strtok_r(NULL, "\n", &save);
        if (!line || !str_startswith(line, "key ") || !is_hex64(line + 4))
                return ob_error_plain(err, EINVAL, "a run record without its key");
        if (key && strcmp(line + 4, key) != 0)
                return ob_error_plain(err, EINVAL, "the run record is of another key");
        _cleanup_(run_record_freep) RunRecord *r = run_record_new(line + 4);
        size_t lines = 2;
        bool ended = false;
        while ((line = strtok_r(NULL, "\n", &save))) {
                if (ended)
                        return ob_error_plain(err, EINVAL, "the run record goes on after its end");
                if (str_startswith(line, "end ")) {
                        char *end = NULL;
                        errno = 0;
                        unsigned long long n = strtoull(line + 4, &end, 10);
                        if (errno || *end || end == line + 4 || n != lines)
                                return ob_error_plain(err, EINVAL, "the run record is not complete");
                        ended = true;
                        continue;
                }
                if (!parse_line(r, line))
                        return ob_error_plain(err, EINVAL, "the run record has a bad line %zu", lines + 1);
                lines++;
        }
        /* Every line was counted. */
        if (!ended || r->journal->n + strv_length(r->names) + r->n_blobs + strv_length(r->out_before) + 2 != lines)
                return ob_error_plain(err, EINVAL, "the run record is not complete");
        if (!r->names)
                return ob_error_plain(err, EINVAL, "the run record names no image");
        *ret = TAKE_PTR(r);
        return 0;
}

RunRecord *run_record_load(const char *dir, const char *key)
{
        _cleanup_free_ char *path = path_join(dir, key);
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        ObError err;
        if (read_file(path, &text, &size, &err) < 0 || strlen(text) != size)
                return NULL;
        RunRecord *r = NULL;
        if (run_record_parse(text, key, &r, &err) < 0)
                return NULL;
        return r;
}

typedef struct Aged {
        char *name;
        int64_t mtime;
} Aged;

static int aged_cmp(const void *a, const void *b)
{
        const Aged *x = a, *y = b;
        if (x->mtime != y->mtime)
                return x->mtime < y->mtime ? -1 : 1;
        return strcmp(x->name, y->name);
}

/* The oldest records beyond the cap go (concurrent builds may race to
 * remove the same one: a missing file is no error). */
static void prune(const char *dir)
{
        _cleanup_dir_ DIR *d = opendir(dir);
        if (!d)
                return;
        Aged *v = NULL;
        size_t n = 0;
        for (struct dirent *de; (de = readdir(d));) {
                if (!is_hex64(de->d_name))
                        continue;
                struct stat st;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                v = xrealloc(v, (n + 1) * sizeof(Aged));
                v[n++] = (Aged){ xstrdup(de->d_name), (int64_t) st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec };
        }
        qsort_safe(v, n, sizeof(Aged), aged_cmp);
        for (size_t i = 0; i < n; i++) {
                if (i + RUN_RECORDS_MAX < n)
                        (void) unlinkat(dirfd(d), v[i].name, 0);
                free(v[i].name);
        }
        free(v);
}

int run_record_store(const char *dir, const RunRecord *r, ObError *err)
{
        _cleanup_free_ char *text = run_record_format(r);
        if (!text)
                return ob_error_plain(err, EINVAL, "the run cannot be recorded (a name or path with a newline)");
        int k = mkdir_p(dir, 0700, err);
        if (k < 0)
                return k;
        _cleanup_free_ char *path = path_join(dir, r->key);
        k = write_file_atomic(path, text, strlen(text), 0600, err);
        if (k < 0)
                return k;
        prune(dir);
        return 0;
}

static const char *desc_name(json_t *desc)
{
        return json_string_value(json_object_get(json_object_get(desc, "annotations"), OCI_REF_NAME));
}

bool run_record_layout_matches(const RunRecord *r, const char *layout_dir, const char **why)
{
        json_t *index_json = NULL;
        ObError err;
        if (layout_check(layout_dir, &index_json, &err) < 0) {
                *why = "index.json (the layout is not whole)";
                return false;
        }
        _cleanup_(json_decrefp) json_t *index = index_json;
        json_t *manifests = json_object_get(index, "manifests");
        for (size_t k = 0; r->names[k]; k++) {
                json_t *found = NULL, *desc;
                size_t i;
                json_array_foreach(manifests, i, desc) {
                        const char *n = desc_name(desc);
                        if (n && strcmp(n, r->names[k]) == 0) {
                                found = desc;
                                break;
                        }
                }
                _cleanup_free_ char *have = found ? desc_text(found) : NULL;
                if (!have || strcmp(have, r->descriptors[k]) != 0) {
                        *why = r->names[k];
                        return false;
                }
        }
        _cleanup_free_ char *blobs = path_join(layout_dir, "blobs/sha256");
        for (size_t i = 0; i < r->n_blobs; i++) {
                _cleanup_free_ char *p = path_join(blobs, digest_hex(r->blobs[i]));
                struct stat st;
                if (lstat(p, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t) st.st_size != r->blob_sizes[i]) {
                        *why = r->blobs[i];
                        return false;
                }
        }
        return true;
}
