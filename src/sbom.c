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

int sbom_image_of(Layout *l, const char *name, const char *mdigest, const SbomDownload *downloads, size_t n_downloads,
                  int64_t created, LayerFactsCache *facts, json_t **ret, ObError *err)
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

        _cleanup_(sbom_clear) Sbom s = { 0 };
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
                        r = apply_layer(&s, &lf, ldigest, i, err);
                if (r < 0)
                        return r;
        }

        qsort_safe(s.owned, s.n_owned, sizeof(SbomOwned), owned_cmp);
        _cleanup_free_ SbomFile **files = xcalloc(s.n_files + 1, sizeof(SbomFile *));
        size_t n = 0;
        for (size_t k = 0; k < s.n_files; k++)
                if (!s.files[k].gone)
                        files[n++] = &s.files[k];
        qsort_safe(files, n, sizeof(SbomFile *), file_cmp);

        const SbomFile *osr = find(&s, "usr/lib/os-release");
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
        json_t *packages = json_array(), *jfiles = json_array(), *rels = json_array();
        _cleanup_json_ json_t *doc =
                json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:[s]}, s:o, s:o, s:o}", "spdxVersion", "SPDX-2.3",
                          "dataLicense", "CC0-1.0", "SPDXID", "SPDXRef-DOCUMENT", "name", name, "documentNamespace", ns,
                          "creationInfo", "created", when, "creators", "Tool: oci-build-" OB_VERSION, "packages",
                          packages, "files", jfiles, "relationships", rels);
        if (!doc)
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
        _cleanup_strv_ char **records = NULL;
        for (size_t k = 0; k < n; k++)
                if (str_startswith(files[k]->path, STATUS_DIR) && !str_endswith(files[k]->path, ".md5sums") &&
                    !strchr(files[k]->path + strlen(STATUS_DIR), '/'))
                        strv_push(&records, files[k]->path + strlen(STATUS_DIR));
        size_t n_records = strv_length(records);
        for (size_t k = 0; k < n_records; k++) {
                _cleanup_free_ char *spath = xasprintf(STATUS_DIR "%s", records[k]);
                const SbomFile *f = find(&s, spath);
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
                const SbomFile *cf = find(&s, cpath);
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
        _cleanup_free_ const SbomFile **fetched = xcalloc(n_downloads + 1, sizeof(SbomFile *));
        for (size_t k = 0; k < n_downloads; k++) {
                const char *dpath = downloads[k].path;
                while (*dpath == '/')
                        dpath++;
                const SbomFile *f = find(&s, dpath);
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

        /* Files, each once, with the layer that carries it and the packages
         * whose md5sums name it. */
        for (size_t k = 0; k < n; k++) {
                _cleanup_free_ char *id = xasprintf("SPDXRef-File-%zu", k + 1);
                _cleanup_free_ char *fname = xasprintf("/%s", files[k]->path);
                json_array_append_new(jfiles, json_pack("{s:s, s:s, s:[o, o]}", "SPDXID", id, "fileName", fname,
                                                        "checksums", checksum("SHA1", files[k]->sha1),
                                                        checksum("SHA256", files[k]->sha256)));
                _cleanup_free_ char *lid = xasprintf("SPDXRef-Layer-%zu", files[k]->layer + 1);
                json_array_append_new(rels, relationship(lid, "CONTAINS", id));
                _cleanup_strv_ char **owners = NULL;
                for (size_t o = owned_first(&s, files[k]->path);
                     o < s.n_owned && strcmp(s.owned[o].path, files[k]->path) == 0; o++)
                        if (!strv_contains(owners, s.owned[o].package))
                                strv_push(&owners, s.owned[o].package);
                for (size_t o = 0; owners && owners[o]; o++)
                        for (size_t p = 0; p < n_records; p++)
                                if (strcmp(records[p], owners[o]) == 0) {
                                        _cleanup_free_ char *pid = xasprintf("SPDXRef-Package-deb-%zu", p + 1);
                                        json_array_append_new(rels, relationship(pid, "CONTAINS", id));
                                }
                for (size_t d = 0; d < n_downloads; d++)
                        if (fetched[d] == files[k]) {
                                _cleanup_free_ char *pid = xasprintf("SPDXRef-Package-download-%zu", d + 1);
                                json_array_append_new(rels, relationship(pid, "CONTAINS", id));
                        }
        }
        *ret = TAKE_PTR(doc);
        return 0;
}
