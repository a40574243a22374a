/* SPDX-License-Identifier: MIT */
#include "sbom.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cleanup-libs.h"
#include "config.h"
#include "digest.h"
#include "dpkg.h"
#include "json-text.h"
#include "layer-facts.h"
#include "log.h"
#include "util.h"

#define STATUS_DIR "var/lib/dpkg/status.d/"

/* A regular file of the image as the layers stack up. */
typedef struct SbomFile {
        char *path; /* no leading '/' */
        char sha1[41], sha256[65];
        size_t layer;  /* the layer that carries it */
        char *content; /* kept for the records read afterwards (status.d, copyright, os-release) */
        bool gone;     /* replaced by a non-file or removed by a whiteout */
} SbomFile;

/* A line of a status.d/PACKAGE.md5sums of some layer. */
typedef struct SbomOwned {
        char *path;
        char *package; /* the record's name: status.d/<package> */
} SbomOwned;

typedef struct Sbom {
        SbomFile *files;
        size_t n_files;
        size_t *index; /* open addressing over files: number + 1 */
        size_t index_cap;
        SbomOwned *owned;
        size_t n_owned;
} Sbom;

static void sbom_clear(Sbom *s)
{
        for (size_t i = 0; i < s->n_files; i++) {
                free(s->files[i].path);
                free(s->files[i].content);
        }
        free(s->files);
        free(s->index);
        for (size_t i = 0; i < s->n_owned; i++) {
                free(s->owned[i].path);
                free(s->owned[i].package);
        }
        free(s->owned);
}

static size_t hash_str(const char *s)
{
        size_t h = 1469598103934665603ull; /* FNV-1a */
        for (; *s; s++) {
                h ^= (unsigned char) *s;
                h *= 1099511628211ull;
        }
        return h;
}

static size_t *slot(const Sbom *s, const char *path)
{
        size_t h = hash_str(path) & (s->index_cap - 1);
        while (s->index[h] && strcmp(s->files[s->index[h] - 1].path, path) != 0)
                h = (h + 1) & (s->index_cap - 1);
        return &s->index[h];
}

static SbomFile *find(const Sbom *s, const char *path)
{
        if (!s->index)
                return NULL;
        size_t *x = slot(s, path);
        return *x ? &s->files[*x - 1] : NULL;
}

static SbomFile *get(Sbom *s, const char *path)
{
        SbomFile *f = find(s, path);
        if (f)
                return f;
        if ((s->n_files + 1) * 2 > s->index_cap) {
                free(s->index);
                s->index_cap = s->index_cap ? s->index_cap * 2 : 1024;
                s->index = xcalloc(s->index_cap, sizeof(size_t));
                for (size_t i = 0; i < s->n_files; i++)
                        *slot(s, s->files[i].path) = i + 1;
        }
        s->files = xrealloc(s->files, (s->n_files + 1) * sizeof(SbomFile));
        s->files[s->n_files] = (SbomFile){ .path = xstrdup(path), .gone = true };
        *slot(s, path) = ++s->n_files;
        return &s->files[s->n_files - 1];
}

/* A whiteout removes a path and what is below it; an opaque one what is
 * below its directory. */
static void remove_below(Sbom *s, const char *dir, bool self)
{
        size_t n = strlen(dir);
        for (size_t i = 0; i < s->n_files; i++) {
                const char *p = s->files[i].path;
                if ((self && strcmp(p, dir) == 0) || (strncmp(p, dir, n) == 0 && (n == 0 || p[n] == '/')))
                        s->files[i].gone = true;
        }
}

static void add_md5sums(Sbom *s, const char *path, const char *text)
{
        _cleanup_free_ char *package =
                xstrndup(path + strlen(STATUS_DIR), strlen(path) - strlen(STATUS_DIR) - strlen(".md5sums"));
        for (const char *line = text; line && *line;) {
                const char *end = strchrnul(line, '\n');
                const char *sep = strstr(line, "  ");
                if (sep && sep < end) {
                        s->owned = xrealloc(s->owned, (s->n_owned + 1) * sizeof(SbomOwned));
                        s->owned[s->n_owned++] = (SbomOwned){ .path = xstrndup(sep + 2, (size_t) (end - sep - 2)),
                                                              .package = xstrdup(package) };
                }
                line = *end ? end + 1 : NULL;
        }
}

/* Stacks one layer's facts on what the layers below left. */
static int apply_layer(Sbom *s, const LayerFacts *facts, const char *digest, size_t layer, ObError *err)
{
        for (size_t i = 0; i < facts->n; i++) {
                const LayerFact *x = &facts->v[i];
                SbomFile *f;
                switch (x->kind) {
                case FACT_OPAQUE:
                        remove_below(s, x->path, /* self= */ false);
                        break;
                case FACT_WHITEOUT:
                        remove_below(s, x->path, /* self= */ true);
                        break;
                case FACT_LINK: {
                        const SbomFile *t = find(s, x->target);
                        if (!t || t->gone)
                                return ob_error_plain(err, EBADMSG,
                                                      "layer %s: hard link '%s' to '%s', which is no file", digest,
                                                      x->path, x->target);
                        SbomFile copy = *t;
                        f = get(s, x->path);
                        memcpy(f->sha1, copy.sha1, sizeof(f->sha1));
                        memcpy(f->sha256, copy.sha256, sizeof(f->sha256));
                        free(f->content);
                        f->content = copy.content ? xstrdup(copy.content) : NULL;
                        f->layer = layer;
                        f->gone = false;
                        break;
                }
                case FACT_DIR:
                case FACT_OTHER:
                        f = find(s, x->path);
                        if (f)
                                f->gone = true;
                        if (x->kind == FACT_OTHER)
                                remove_below(s, x->path, /* self= */ false);
                        break;
                case FACT_FILE:
                        f = get(s, x->path);
                        memcpy(f->sha1, x->sha1, sizeof(f->sha1));
                        memcpy(f->sha256, x->sha256, sizeof(f->sha256));
                        free(f->content);
                        f->content = x->content ? xstrdup(x->content) : NULL;
                        f->layer = layer;
                        f->gone = false;
                        /* Each layer's md5sums count: a package split across
                         * layers is recorded in each, and the upper record
                         * hides the lower. */
                        if (f->content && str_startswith(x->path, STATUS_DIR) && str_endswith(x->path, ".md5sums"))
                                add_md5sums(s, x->path, f->content);
                        break;
                }
        }
        return 0;
}

/* A layer's facts: from the cache, else read from its blob (and then
 * remembered). */
static int layer_facts_of(Layout *l, const char *digest, LayerFactsCache *cache, LayerFacts *ret, ObError *err)
{
        if (layer_facts_cache_load(cache, digest, ret)) {
                ob_debug("SBOM: layer %s: its files from the layer facts cache", digest);
                return 0;
        }
        _cleanup_free_ char *blob = layout_blob_path(l, digest);
        int r = layer_facts_read_blob(blob, ret, err);
        if (r < 0)
                return r;
        ob_debug("SBOM: layer %s: read back", digest);
        layer_facts_cache_store(cache, digest, ret);
        return 0;
}

/* Percent-encoding of a purl component: what is not unreserved. */
static char *purl_escape(const char *s)
{
        size_t n = 0;
        char *out = xmalloc(strlen(s) * 3 + 1);
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;
                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '-' || c == '_' || c == '~')
                        out[n++] = (char) c;
                else
                        n += (size_t) sprintf(out + n, "%%%02X", c);
        }
        out[n] = '\0';
        return out;
}

char *sbom_deb_purl(const char *vendor, const char *name, const char *version, const char *arch, const char *distro)
{
        _cleanup_free_ char *v = purl_escape(vendor), *n = purl_escape(name), *ver = purl_escape(version),
                            *a = purl_escape(arch);
        if (!distro)
                return xasprintf("pkg:deb/%s/%s@%s?arch=%s", v, n, ver, a);
        _cleanup_free_ char *d = purl_escape(distro);
        return xasprintf("pkg:deb/%s/%s@%s?arch=%s&distro=%s", v, n, ver, a, d);
}

/* Debian's short licence names (copyright-format 1.0) that differ from
 * SPDX's; names that are SPDX identifiers already pass as they are. */
static const struct {
        const char *debian, *spdx;
} licence_names[] = {
        { "GPL-1", "GPL-1.0-only" },
        { "GPL-1+", "GPL-1.0-or-later" },
        { "GPL-2", "GPL-2.0-only" },
        { "GPL-2+", "GPL-2.0-or-later" },
        { "GPL-3", "GPL-3.0-only" },
        { "GPL-3+", "GPL-3.0-or-later" },
        { "LGPL-2", "LGPL-2.0-only" },
        { "LGPL-2+", "LGPL-2.0-or-later" },
        { "LGPL-2.1", "LGPL-2.1-only" },
        { "LGPL-2.1+", "LGPL-2.1-or-later" },
        { "LGPL-3", "LGPL-3.0-only" },
        { "LGPL-3+", "LGPL-3.0-or-later" },
        { "AGPL-3", "AGPL-3.0-only" },
        { "AGPL-3+", "AGPL-3.0-or-later" },
        { "GFDL-1.3", "GFDL-1.3-only" },
        { "GFDL-1.3+", "GFDL-1.3-or-later" },
        { "BSD-2-clause", "BSD-2-Clause" },
        { "BSD-3-clause", "BSD-3-Clause" },
        { "BSD-4-clause", "BSD-4-Clause" },
        { "Expat", "MIT" },
        { "MIT", "MIT" },
        { "Apache-2.0", "Apache-2.0" },
        { "ISC", "ISC" },
        { "Zlib", "Zlib" },
        { "curl", "curl" },
        { "OpenSSL", "OpenSSL" },
        { "MPL-2.0", "MPL-2.0" },
        { "Artistic", "Artistic-1.0-Perl" },
        { "Artistic-2.0", "Artistic-2.0" },
        { "CC0-1.0", "CC0-1.0" },
        { "Apache-2", "Apache-2.0" },
        { "FSFULLR", "FSFULLR" },
        { "OLDAP-2.8", "OLDAP-2.8" },
        { "OpenLDAP-2.8", "OLDAP-2.8" },
        { "BSD-4-Clause-UC", "BSD-4-Clause-UC" },
        { "GFDL-1.2", "GFDL-1.2-only" },
        { "GFDL-1.2+", "GFDL-1.2-or-later" },
        { "MPL-1.1", "MPL-1.1" },
        { "GPL-2.0+", "GPL-2.0-or-later" },
        { "X11", "X11" },
        { "PSF-2.0", "PSF-2.0" },
        { "Unicode-DFS-2016", "Unicode-DFS-2016" },
};

static const char *licence_spdx(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(licence_names); i++)
                if (strcasecmp(name, licence_names[i].debian) == 0)
                        return licence_names[i].spdx;
        return NULL;
}

/* One License: value ("GPL-2+ or Artistic") as an expression, or NULL. */
static char *licence_expression(const char *value)
{
        _cleanup_free_ char *first = xstrndup(value, strcspn(value, "\n"));
        _cleanup_strv_ char **terms = NULL;
        char *save = NULL;
        const char *op = NULL;
        for (char *w = strtok_r(first, " \t,", &save); w; w = strtok_r(NULL, " \t,", &save)) {
                if (strcasecmp(w, "or") == 0 || strcasecmp(w, "and") == 0) {
                        const char *this_op = strcasecmp(w, "or") == 0 ? " OR " : " AND ";
                        if (op && strcmp(op, this_op) != 0)
                                return NULL; /* mixed operators without parentheses: no guess */
                        op = this_op;
                        continue;
                }
                const char *id = licence_spdx(w);
                if (!id)
                        return NULL;
                strv_push(&terms, id);
        }
        if (!terms)
                return NULL;
        _cleanup_free_ char *joined = strv_join(terms, op ? op : " AND ");
        return strv_length(terms) > 1 ? xasprintf("(%s)", joined) : xstrdup(joined);
}

char *sbom_copyright_license(const char *text)
{
        _cleanup_(dpkg_status_freep) DpkgStatus *c = dpkg_status_parse(text);
        if (c->n_paragraphs == 0)
                return NULL;
        const char *format = dpkg_paragraph_get(&c->paragraphs[0], "Format");
        if (!format || !strstr(format, "copyright-format"))
                return NULL;
        _cleanup_strv_ char **exprs = NULL;
        for (size_t i = 0; i < c->n_paragraphs; i++) {
                const DpkgParagraph *p = &c->paragraphs[i];
                const char *lic = dpkg_paragraph_get(p, "License");
                if (!lic || !dpkg_paragraph_get(p, "Files"))
                        continue;
                _cleanup_free_ char *e = licence_expression(lic);
                if (!e)
                        return NULL;
                if (!strv_contains(exprs, e))
                        strv_push(&exprs, e);
        }
        if (!exprs)
                return NULL;
        qsort_safe(exprs, strv_length(exprs), sizeof(char *), strv_compare);
        return strv_join(exprs, " AND ");
}

static int file_cmp(const void *a, const void *b)
{
        return strcmp((*(SbomFile *const *) a)->path, (*(SbomFile *const *) b)->path);
}

static int owned_cmp(const void *a, const void *b)
{
        const SbomOwned *x = a, *y = b;
        int c = strcmp(x->path, y->path);
        return c ? c : strcmp(x->package, y->package);
}

/* The first md5sums line of path (s->owned sorted), or n_owned. */
static size_t owned_first(const Sbom *s, const char *path)
{
        size_t lo = 0, hi = s->n_owned;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strcmp(s->owned[mid].path, path) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

static char *os_release_value(const char *text, const char *key)
{
        size_t n = strlen(key);
        for (const char *line = text; line && *line;) {
                const char *end = strchrnul(line, '\n');
                if ((size_t) (end - line) > n && strncmp(line, key, n) == 0 && line[n] == '=') {
                        const char *v = line + n + 1;
                        size_t len = (size_t) (end - v);
                        if (len >= 2 && (v[0] == '"' || v[0] == '\'') && v[len - 1] == v[0]) {
                                v++;
                                len -= 2;
                        }
                        return xstrndup(v, len);
                }
                line = *end ? end + 1 : NULL;
        }
        return NULL;
}

static json_t *relationship(const char *a, const char *type, const char *b)
{
        return json_pack("{s:s, s:s, s:s}", "spdxElementId", a, "relationshipType", type, "relatedSpdxElement", b);
}

static json_t *checksum(const char *alg, const char *value)
{
        return json_pack("{s:s, s:s}", "algorithm", alg, "checksumValue", value);
}

char *sbom_generic_purl(const char *name, const char *version, const char *url)
{
        _cleanup_free_ char *n = purl_escape(name), *v = purl_escape(version), *u = purl_escape(url);
        return xasprintf("pkg:generic/%s@%s?download_url=%s", n, v, u);
}

char *sbom_text(json_t *doc)
{
        return json_text_sorted(doc, 1, "\n");
}

/* The document goes to the blob in pieces: a large SBOM is never held
 * whole beside its JSON tree. */
typedef struct SbomSink {
        BlobWriter *w;
        ObError *err;
        int failed; /* negative errno once a write failed */
} SbomSink;

static int sbom_sink_write(const char *data, size_t size, void *userdata)
{
        SbomSink *s = userdata;
        int r = blob_writer_write(s->w, data, size, s->err);
        if (r < 0)
                s->failed = r;
        return r;
}

int sbom_put_blob(Layout *l, json_t *doc, char ret_digest[static DIGEST_STRING_MAX], uint64_t *ret_size, ObError *err)
{
        _cleanup_(blob_writer_abortp) BlobWriter *w = NULL;
        int r = layout_blob_begin(l, &w, err);
        if (r < 0)
                return r;
        SbomSink s = { .w = w, .err = err };
        /* The text of sbom_text(). */
        if (json_text_sorted_to(doc, 1, "\n", sbom_sink_write, &s) < 0)
                return s.failed ? s.failed : ob_error_plain(err, EINVAL, "cannot write the SPDX document");
        return layout_blob_commit(l, TAKE_PTR(w), ret_digest, ret_size, err);
}

bool sbom_text_made_here(const char *text, size_t size)
{
        /* With an indent of one, a key of the top object, and only such
         * a key, starts a line with one space: strings escape newlines. */
        static const char key[] = "\n \"creationInfo\": ";
        if (size == 0 || text[0] != '{')
                return false;
        const char *at = memmem(text, size, key, strlen(key));
        if (!at)
                return false;
        const char *value = at + strlen(key);
        /* One value and no more: the rest of the document is not read. */
        _cleanup_json_ json_t *info = json_loadb(value, size - (size_t) (value - text), JSON_DISABLE_EOF_CHECK, NULL);
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(info, "creators"), i, c)
                if (json_is_string(c) && strcmp(json_string_value(c), "Tool: oci-build-" OB_VERSION) == 0)
                        return true;
        return false;
}

int sbom_image(Layout *l, const char *name, const SbomDownload *downloads, size_t n_downloads, int64_t created,
               LayerFactsCache *facts, json_t **ret, ObError *err)
{
        json_t *desc = layout_index_find(l, name);
        if (!desc)
                return ob_error_plain(err, ENOENT, "no image '%s' in the layout %s (build it first)", name,
                                      layout_path(l));
        return sbom_image_of(l, name, json_string_value(json_object_get(desc, "digest")), downloads, n_downloads,
                             created, facts, ret, err);
}

/* A document as it is made: all of it but its files and the relationships
 * of its files. Those are thousands of small objects in a large image, so
 * they are made from the image's records only as they are written, into a
 * tree (sbom_image_of()) or straight into the text (sbom_image_text()). */
typedef struct SbomDoc {
        Sbom s;
        json_t *head;     /* the document without "files" and "relationships" */
        json_t *rels;     /* the relationships that come before the files' */
        SbomFile **files; /* the image's, sorted by path */
        size_t n;
        char **records; /* the status.d records' names, sorted (point into s) */
        size_t n_records;
        const SbomFile **fetched; /* the file each download became, or NULL */
        size_t n_downloads;
} SbomDoc;

static void sbom_doc_clear(SbomDoc *d)
{
        json_decref(d->head);
        json_decref(d->rels);
        free(d->files);
        free(d->records);
        free(d->fetched);
        sbom_clear(&d->s);
}

static int sbom_doc_make(Layout *l, const char *name, const char *mdigest, const SbomDownload *downloads,
                         size_t n_downloads, int64_t created, LayerFactsCache *facts, SbomDoc *d, ObError *err)
{
        _cleanup_free_ char *mtext = NULL, *ctext = NULL;
        int r = layout_read_blob(l, mdigest, &mtext, NULL, err);
        if (r < 0)
                return r;
        _cleanup_json_ json_t *manifest = json_loads(mtext, 0, NULL);
        json_t *layers = json_object_get(manifest, "layers");
        const char *cdigest = json_string_value(json_object_get(json_object_get(manifest, "config"), "digest"));
        if (!json_is_array(layers) || !cdigest)
                return ob_error_plain(err, EBADMSG, "the manifest %s of '%s' has no layers or config", mdigest, name);
        r = layout_read_blob(l, cdigest, &ctext, NULL, err);
        if (r < 0)
                return r;
        _cleanup_json_ json_t *config = json_loads(ctext, 0, NULL);
        const char *arch = json_string_value(json_object_get(config, "architecture"));
        json_t *ann = json_object_get(manifest, "annotations");
        const char *version = json_string_value(json_object_get(ann, "org.opencontainers.image.version"));

        Sbom *s = &d->s;
        size_t i;
        json_t *layer;
        json_array_foreach(layers, i, layer) {
                const char *ldigest = json_string_value(json_object_get(layer, "digest"));
                if (!ldigest)
                        return ob_error_plain(err, EBADMSG, "the manifest %s of '%s' has a layer without a digest",
                                              mdigest, name);
                _cleanup_(layer_facts_clear) LayerFacts lf = { 0 };
                r = layer_facts_of(l, ldigest, facts, &lf, err);
                if (r == 0)
                        r = apply_layer(s, &lf, ldigest, i, err);
                if (r < 0)
                        return r;
        }

        qsort_safe(s->owned, s->n_owned, sizeof(SbomOwned), owned_cmp);
        SbomFile **files = d->files = xcalloc(s->n_files + 1, sizeof(SbomFile *));
        size_t n = 0;
        for (size_t k = 0; k < s->n_files; k++)
                if (!s->files[k].gone)
                        files[n++] = &s->files[k];
        qsort_safe(files, n, sizeof(SbomFile *), file_cmp);
        d->n = n;

        const SbomFile *osr = find(s, "usr/lib/os-release");
        _cleanup_free_ char *os_id = osr && !osr->gone && osr->content ? os_release_value(osr->content, "ID") : NULL;
        _cleanup_free_ char *os_version =
                osr && !osr->gone && osr->content ? os_release_value(osr->content, "VERSION_ID") : NULL;
        _cleanup_free_ char *distro = os_id && os_version ? xasprintf("%s-%s", os_id, os_version) : NULL;

        const char *hexd = digest_hex(mdigest);
        char when[32];
        time_t t = (time_t) created;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);

        _cleanup_free_ char *ns = xasprintf("https://spdx.org/spdxdocs/oci-build/%s-%s", name, hexd);
        _cleanup_free_ char *image_purl = xasprintf("pkg:oci/%s@sha256%%3A%s?arch=%s", name, hexd, arch ? arch : "");
        json_t *packages = json_array(), *rels = d->rels = json_array();
        d->head = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:[s]}, s:o}", "spdxVersion", "SPDX-2.3", "dataLicense",
                            "CC0-1.0", "SPDXID", "SPDXRef-DOCUMENT", "name", name, "documentNamespace", ns,
                            "creationInfo", "created", when, "creators", "Tool: oci-build-" OB_VERSION, "packages",
                            packages);
        if (!d->head || !rels)
                return ob_error_plain(err, ENOMEM, "cannot make the SPDX document");

        json_array_append_new(packages,
                              json_pack("{s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:s, s:[o], s:[{s:s, s:s, s:s}]}",
                                        "SPDXID", "SPDXRef-Image", "name", name, "versionInfo",
                                        version ? version : mdigest, "downloadLocation", "NOASSERTION", "filesAnalyzed",
                                        0, "licenseConcluded", "NOASSERTION", "licenseDeclared", "NOASSERTION",
                                        "copyrightText", "NOASSERTION", "primaryPackagePurpose", "CONTAINER",
                                        "checksums", checksum("SHA256", hexd), "externalRefs", "referenceCategory",
                                        "PACKAGE-MANAGER", "referenceType", "purl", "referenceLocator", image_purl));
        json_array_append_new(rels, relationship("SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Image"));
        json_array_foreach(layers, i, layer) {
                const char *ldigest = json_string_value(json_object_get(layer, "digest"));
                _cleanup_free_ char *id = xasprintf("SPDXRef-Layer-%zu", i + 1);
                _cleanup_free_ char *lname = xasprintf("%s layer %zu", name, i + 1);
                json_array_append_new(
                        packages, json_pack("{s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:s, s:[o]}", "SPDXID", id,
                                            "name", lname, "versionInfo", ldigest, "downloadLocation", "NOASSERTION",
                                            "filesAnalyzed", 0, "licenseConcluded", "NOASSERTION", "licenseDeclared",
                                            "NOASSERTION", "copyrightText", "NOASSERTION", "primaryPackagePurpose",
                                            "ARCHIVE", "checksums", checksum("SHA256", digest_hex(ldigest))));
                json_array_append_new(rels, relationship("SPDXRef-Image", "CONTAINS", id));
        }

        /* The Debian packages the image records, sorted by file name. */
        char **records = d->records = xcalloc(n + 1, sizeof(char *));
        size_t n_records = 0;
        for (size_t k = 0; k < n; k++)
                if (str_startswith(files[k]->path, STATUS_DIR) && !str_endswith(files[k]->path, ".md5sums") &&
                    !strchr(files[k]->path + strlen(STATUS_DIR), '/'))
                        records[n_records++] = files[k]->path + strlen(STATUS_DIR);
        d->n_records = n_records;
        for (size_t k = 0; k < n_records; k++) {
                _cleanup_free_ char *spath = xasprintf(STATUS_DIR "%s", records[k]);
                const SbomFile *f = find(s, spath);
                _cleanup_(dpkg_status_freep) DpkgStatus *st = dpkg_status_parse(f->content ? f->content : "");
                const char *pname = st->n_paragraphs ? dpkg_paragraph_get(&st->paragraphs[0], "Package") : NULL;
                const char *pver = st->n_paragraphs ? dpkg_paragraph_get(&st->paragraphs[0], "Version") : NULL;
                const char *parch = st->n_paragraphs ? dpkg_paragraph_get(&st->paragraphs[0], "Architecture") : NULL;
                const char *psrc = st->n_paragraphs ? dpkg_paragraph_get(&st->paragraphs[0], "Source") : NULL;
                if (!pname || !pver || !parch)
                        return ob_error_plain(err, EBADMSG, "/%s in '%s' lacks Package, Version or Architecture", spath,
                                              name);
                _cleanup_free_ char *id = xasprintf("SPDXRef-Package-deb-%zu", k + 1);
                _cleanup_free_ char *purl = sbom_deb_purl(os_id ? os_id : "debian", pname, pver, parch, distro);
                _cleanup_free_ char *cpath = xasprintf("usr/share/doc/%s/copyright", pname);
                const SbomFile *cf = find(s, cpath);
                _cleanup_free_ char *lic = cf && !cf->gone && cf->content ? sbom_copyright_license(cf->content) : NULL;
                json_t *pkg =
                        json_pack("{s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:[{s:s, s:s, s:s}]}", "SPDXID", id, "name",
                                  pname, "versionInfo", pver, "downloadLocation", "NOASSERTION", "filesAnalyzed", 0,
                                  "licenseConcluded", "NOASSERTION", "licenseDeclared", lic ? lic : "NOASSERTION",
                                  "copyrightText", "NOASSERTION", "externalRefs", "referenceCategory",
                                  "PACKAGE-MANAGER", "referenceType", "purl", "referenceLocator", purl);
                if (psrc) {
                        _cleanup_free_ char *info = xasprintf("built from the Debian source package %s", psrc);
                        json_object_set_new(pkg, "sourceInfo", json_string(info));
                }
                json_array_append_new(packages, pkg);
                json_array_append_new(rels, relationship("SPDXRef-Image", "CONTAINS", id));
        }

        /* Downloads: a package each, for the file it became. */
        const SbomFile **fetched = d->fetched = xcalloc(n_downloads + 1, sizeof(SbomFile *));
        d->n_downloads = n_downloads;
        for (size_t k = 0; k < n_downloads; k++) {
                const char *dpath = downloads[k].path;
                while (*dpath == '/')
                        dpath++;
                const SbomFile *f = find(s, dpath);
                if (!f || f->gone)
                        continue;
                fetched[k] = f;
                _cleanup_free_ char *id = xasprintf("SPDXRef-Package-download-%zu", k + 1);
                _cleanup_free_ char *purl =
                        sbom_generic_purl(downloads[k].name, downloads[k].version, downloads[k].url);
                json_array_append_new(
                        packages,
                        json_pack("{s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:[o], s:[{s:s, s:s, s:s}]}", "SPDXID", id,
                                  "name", downloads[k].name, "versionInfo", downloads[k].version, "downloadLocation",
                                  downloads[k].url, "filesAnalyzed", 0, "licenseConcluded", "NOASSERTION",
                                  "licenseDeclared", "NOASSERTION", "copyrightText", "NOASSERTION", "checksums",
                                  checksum("SHA256", f->sha256), "externalRefs", "referenceCategory", "PACKAGE-MANAGER",
                                  "referenceType", "purl", "referenceLocator", purl));
                json_array_append_new(rels, relationship("SPDXRef-Image", "CONTAINS", id));
        }

        return 0;
}

/* The relationships of the file files[k] of the document, in order: the
 * layer that carries it, the packages whose md5sums name it, the download
 * it is. */
typedef void (*SbomRelationFn)(const char *a, const char *b, void *userdata);

static void file_relations(const SbomDoc *d, size_t k, const char *id, SbomRelationFn fn, void *userdata)
{
        const SbomFile *f = d->files[k];
        char other[64];
        snprintf(other, sizeof(other), "SPDXRef-Layer-%zu", f->layer + 1);
        fn(other, id, userdata);
        /* The owners, each once: s.owned is sorted by path, then package. */
        const char *last = NULL;
        for (size_t o = owned_first(&d->s, f->path); o < d->s.n_owned && strcmp(d->s.owned[o].path, f->path) == 0;
             o++) {
                const char *owner = d->s.owned[o].package;
                if (last && strcmp(last, owner) == 0)
                        continue;
                last = owner;
                for (size_t p = 0; p < d->n_records; p++)
                        if (strcmp(d->records[p], owner) == 0) {
                                snprintf(other, sizeof(other), "SPDXRef-Package-deb-%zu", p + 1);
                                fn(other, id, userdata);
                        }
        }
        for (size_t x = 0; x < d->n_downloads; x++)
                if (d->fetched[x] == f) {
                        snprintf(other, sizeof(other), "SPDXRef-Package-download-%zu", x + 1);
                        fn(other, id, userdata);
                }
}

static void append_relation(const char *a, const char *b, void *userdata)
{
        json_array_append_new(userdata, relationship(a, "CONTAINS", b));
}

/* A file's SPDX name: "/" and its path, made valid UTF-8 (a name that is
 * not would make the document no JSON at all). */
static char *file_name(const char *path)
{
        _cleanup_free_ char *abs = xasprintf("/%s", path);
        return json_text_utf8(abs);
}

int sbom_image_of(Layout *l, const char *name, const char *mdigest, const SbomDownload *downloads, size_t n_downloads,
                  int64_t created, LayerFactsCache *facts, json_t **ret, ObError *err)
{
        _cleanup_(sbom_doc_clear) SbomDoc d = { 0 };
        int r = sbom_doc_make(l, name, mdigest, downloads, n_downloads, created, facts, &d, err);
        if (r < 0)
                return r;
        /* Files, each once, with the layer that carries it and the packages
         * whose md5sums name it. */
        json_t *jfiles = json_array(), *rels = json_copy(d.rels);
        json_object_set_new(d.head, "files", jfiles);
        json_object_set_new(d.head, "relationships", rels);
        for (size_t k = 0; k < d.n; k++) {
                char id[64];
                snprintf(id, sizeof(id), "SPDXRef-File-%zu", k + 1);
                _cleanup_free_ char *fname = file_name(d.files[k]->path);
                json_array_append_new(jfiles, json_pack("{s:s, s:s, s:[o, o]}", "SPDXID", id, "fileName", fname,
                                                        "checksums", checksum("SHA1", d.files[k]->sha1),
                                                        checksum("SHA256", d.files[k]->sha256)));
                file_relations(&d, k, id, append_relation, rels);
        }
        *ret = TAKE_PTR(d.head);
        return 0;
}

static void write_checksum(JsonWriter *w, const char *alg, const char *value)
{
        json_writer_item(w);
        json_writer_open(w, '{');
        json_writer_key(w, "algorithm");
        json_writer_string(w, alg);
        json_writer_key(w, "checksumValue");
        json_writer_string(w, value);
        json_writer_close(w, '}');
}

/* relationship()'s object, its keys in their sorted order. */
static void write_relation(const char *a, const char *b, void *userdata)
{
        JsonWriter *w = userdata;
        json_writer_item(w);
        json_writer_open(w, '{');
        json_writer_key(w, "relatedSpdxElement");
        json_writer_string(w, b);
        json_writer_key(w, "relationshipType");
        json_writer_string(w, "CONTAINS");
        json_writer_key(w, "spdxElementId");
        json_writer_string(w, a);
        json_writer_close(w, '}');
}

/* The files as sbom_image_of() has them, its keys in their sorted order. */
static void write_files(JsonWriter *w, const SbomDoc *d)
{
        json_writer_open(w, '[');
        for (size_t k = 0; k < d->n; k++) {
                char id[64];
                snprintf(id, sizeof(id), "SPDXRef-File-%zu", k + 1);
                json_writer_item(w);
                json_writer_open(w, '{');
                json_writer_key(w, "SPDXID");
                json_writer_string(w, id);
                json_writer_key(w, "checksums");
                json_writer_open(w, '[');
                write_checksum(w, "SHA1", d->files[k]->sha1);
                write_checksum(w, "SHA256", d->files[k]->sha256);
                json_writer_close(w, ']');
                json_writer_key(w, "fileName");
                _cleanup_free_ char *fname = file_name(d->files[k]->path);
                json_writer_string(w, fname);
                json_writer_close(w, '}');
        }
        json_writer_close(w, ']');
}

static void write_relations(JsonWriter *w, const SbomDoc *d)
{
        json_writer_open(w, '[');
        size_t i;
        json_t *rel;
        json_array_foreach(d->rels, i, rel) {
                json_writer_item(w);
                json_writer_value(w, rel);
        }
        for (size_t k = 0; k < d->n; k++) {
                char id[64];
                snprintf(id, sizeof(id), "SPDXRef-File-%zu", k + 1);
                file_relations(d, k, id, write_relation, w);
        }
        json_writer_close(w, ']');
}

static int key_sort(const void *a, const void *b)
{
        return json_text_key_cmp(*(const char *const *) a, *(const char *const *) b);
}

int sbom_image_text(Layout *l, const char *name, const char *mdigest, const SbomDownload *downloads, size_t n_downloads,
                    int64_t created, LayerFactsCache *facts, JsonTextSink sink, void *userdata, char **ret_text,
                    size_t *ret_size, ObError *err)
{
        _cleanup_(sbom_doc_clear) SbomDoc d = { 0 };
        int r = sbom_doc_make(l, name, mdigest, downloads, n_downloads, created, facts, &d, err);
        if (r < 0)
                return r;
        /* The top object's keys, with the two written here, in the order
         * json_text_sorted() gives them. */
        size_t n_keys = 0;
        const char *keys[32];
        const char *key;
        json_t *value;
        json_object_foreach(d.head, key, value) {
                if (n_keys + 2 >= ELEMENTSOF(keys))
                        return ob_error_plain(err, EINVAL, "cannot write the SPDX document");
                keys[n_keys++] = key;
        }
        keys[n_keys++] = "files";
        keys[n_keys++] = "relationships";
        qsort(keys, n_keys, sizeof(keys[0]), key_sort);

        JsonWriter *w = json_writer_new(1, sink, userdata);
        json_writer_open(w, '{');
        for (size_t i = 0; i < n_keys; i++) {
                json_writer_key(w, keys[i]);
                if (strcmp(keys[i], "files") == 0)
                        write_files(w, &d);
                else if (strcmp(keys[i], "relationships") == 0)
                        write_relations(w, &d);
                else
                        json_writer_value(w, json_object_get(d.head, keys[i]));
        }
        json_writer_close(w, '}');
        if (json_writer_finish(w, "\n", ret_text, ret_size) < 0)
                return ob_error_plain(err, EINVAL, "cannot write the SPDX document");
        return 0;
}

int sbom_image_put_blob(Layout *l, const char *name, const char *mdigest, const SbomDownload *downloads,
                        size_t n_downloads, int64_t created, LayerFactsCache *facts,
                        char ret_digest[static DIGEST_STRING_MAX], uint64_t *ret_size, ObError *err)
{
        _cleanup_(blob_writer_abortp) BlobWriter *w = NULL;
        int r = layout_blob_begin(l, &w, err);
        if (r < 0)
                return r;
        /* The blob's own error (a full disk) names the file: it is the one
         * told, not the writer's generic one that follows it. */
        ObError write_err = { 0 };
        SbomSink s = { .w = w, .err = &write_err };
        r = sbom_image_text(l, name, mdigest, downloads, n_downloads, created, facts, sbom_sink_write, &s, NULL, NULL,
                            err);
        if (r < 0 && s.failed) {
                if (err)
                        *err = write_err;
                return s.failed;
        }
        if (r < 0)
                return r;
        return layout_blob_commit(l, TAKE_PTR(w), ret_digest, ret_size, err);
}
