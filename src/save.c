/* SPDX-License-Identifier: MIT */
#include "save.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup-libs.h"
#include "digest.h"
#include "fs.h"
#include "image.h"
#include "oci.h"
#include "util.h"

#define COPY_CHUNK (256u * 1024u)
#define DOCKER_MT_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define ANNOTATION_VERSION "org.opencontainers.image.version"

/* --- the plan ------------------------------------------------------------ */

static void save_image_clear(SaveImage *im)
{
        free(im->name);
        free(im->manifest);
        free(im->config);
        strv_free(im->layers);
        for (size_t i = 0; i < im->n_refs; i++)
                image_ref_clear(&im->refs[i]);
        free(im->refs);
        json_decref(im->descriptor);
        json_decref(im->index_descriptor);
}

void save_plan_free(SavePlan *p)
{
        if (!p)
                return;
        for (size_t i = 0; i < p->n_images; i++)
                save_image_clear(&p->images[i]);
        free(p->images);
        for (size_t i = 0; i < p->n_blobs; i++)
                free(p->blobs[i].digest);
        free(p->blobs);
        free(p);
}

static int add_ref(SaveImage *im, const char *ref, ObError *err)
{
        _cleanup_(image_ref_clear) ImageRef r = { 0 };
        int k = image_ref_parse(ref, &r, err);
        if (k < 0)
                return k;
        for (size_t i = 0; i < im->n_refs; i++)
                if (strcmp(im->refs[i].full, r.full) == 0)
                        return 0;
        im->refs = xrealloc(im->refs, (im->n_refs + 1) * sizeof(ImageRef));
        im->refs[im->n_refs++] = r;
        r = (ImageRef){ 0 }; /* owned by im now */
        return 0;
}

static int add_blob(SavePlan *p, const char *digest, json_t *size_json, const char *what, ObError *err)
{
        if (!digest || !digest_is_valid(digest) || !json_is_integer(size_json) || json_integer_value(size_json) < 0)
                return ob_error_plain(err, EINVAL, "%s has no valid sha256 digest and size", what);
        uint64_t size = (uint64_t) json_integer_value(size_json);
        for (size_t i = 0; i < p->n_blobs; i++)
                if (strcmp(p->blobs[i].digest, digest) == 0) {
                        if (p->blobs[i].size != size)
                                return ob_error_plain(err, EINVAL, "blob %s is listed with two sizes (%llu and %llu)",
                                                      digest, (unsigned long long) p->blobs[i].size,
                                                      (unsigned long long) size);
                        return 0;
                }

        /* Found now rather than half-way through the archive. */
        _cleanup_free_ char *path = layout_blob_path(p->layout, digest);
        struct stat st;
        if (stat(path, &st) < 0)
                return ob_error_set(err, errno, "%s: blob '%s' is missing", what, path);
        if (!S_ISREG(st.st_mode) || (uint64_t) st.st_size != size)
                return ob_error_plain(err, EIO, "%s: blob '%s' has %llu bytes, its descriptor says %llu", what, path,
                                      (unsigned long long) st.st_size, (unsigned long long) size);

        p->blobs = xrealloc(p->blobs, (p->n_blobs + 1) * sizeof(SaveBlob));
        p->blobs[p->n_blobs++] = (SaveBlob){ .digest = xstrdup(digest), .size = size };
        p->blob_bytes += size;
        return 0;
}

static int resolve_image(SavePlan *p, SaveImage *im, ObError *err)
{
        json_auto_t *desc = NULL;
        int k = platform_resolve(p->layout, im->name, im->multi ? &im->platform : NULL, &desc, err);
        if (k < 0)
                return k;
        const char *mt = json_string_value(json_object_get(desc, "mediaType"));
        const char *digest = json_string_value(json_object_get(desc, "digest"));
        int r;

        if (!mt || (strcmp(mt, OCI_MT_MANIFEST) != 0 && strcmp(mt, DOCKER_MT_MANIFEST) != 0))
                return ob_error_plain(err, EINVAL,
                                      "image '%s' is a '%s', not an image manifest; only single-platform images "
                                      "can be saved",
                                      im->name, mt ? mt : "descriptor without mediaType");
        _cleanup_free_ char *what = xasprintf("image '%s'", im->name);
        r = add_blob(p, digest, json_object_get(desc, "size"), what, err);
        if (r < 0)
                return r;
        im->manifest = xstrdup(digest);

        _cleanup_free_ char *text = NULL;
        r = layout_read_blob(p->layout, digest, &text, NULL, err);
        if (r < 0)
                return ob_error_wrap(err, "cannot read the manifest of '%s'", im->name);
        json_error_t jerr;
        json_auto_t *m = json_loads(text, 0, &jerr);
        if (!m)
                return ob_error_plain(err, EINVAL, "the manifest of '%s' (%s) is not valid JSON: %s", im->name, digest,
                                      jerr.text);

        json_t *cfg = json_object_get(m, "config");
        json_t *layers = json_object_get(m, "layers");
        if (!json_is_object(cfg) || !json_is_array(layers))
                return ob_error_plain(err, EINVAL, "the manifest of '%s' (%s) has no config or no layers", im->name,
                                      digest);
        _cleanup_free_ char *what_cfg = xasprintf("the config of '%s'", im->name);
        const char *cfg_digest = json_string_value(json_object_get(cfg, "digest"));
        r = add_blob(p, cfg_digest, json_object_get(cfg, "size"), what_cfg, err);
        if (r < 0)
                return r;
        im->config = xstrdup(cfg_digest);
        im->layers = xcalloc(1, sizeof(char *));
        size_t i;
        json_t *ld;
        json_array_foreach(layers, i, ld) {
                _cleanup_free_ char *what_layer = xasprintf("layer %zu of '%s'", i + 1, im->name);
                const char *ldigest = json_string_value(json_object_get(ld, "digest"));
                /* Docker 20.10 reads manifest.json and cannot decompress
                 * zstd: refused, rather than a tar it would mis-read. */
                const char *lmt = json_string_value(json_object_get(ld, "mediaType"));
                if (lmt && str_endswith(lmt, "+zstd"))
                        return ob_error_plain(err, ENOTSUP,
                                              "'%s' has zstd layers, which docker load cannot read: build it with "
                                              "--compression gzip to save it, or copy it with skopeo",
                                              im->name);
                r = add_blob(p, ldigest, json_object_get(ld, "size"), what_layer, err);
                if (r < 0)
                        return r;
                strv_push(&im->layers, ldigest);
        }

        const char *version = json_string_value(json_object_get(json_object_get(m, "annotations"), ANNOTATION_VERSION));
        if (im->n_refs == 0 && (!im->multi || im->primary)) {
                _cleanup_free_ char *t1 = version ? image_default_tag(im->name, version) : NULL;
                _cleanup_free_ char *t2 = image_default_tag(im->name, "latest");
                r = t1 ? add_ref(im, t1, err) : 0;
                if (r == 0)
                        r = add_ref(im, t2, err);
                if (r < 0)
                        return ob_error_wrap(err, "cannot tag '%s' by default (use --tag %s=REPO:TAG)", im->name,
                                             im->name);
        }
        if (im->multi) {
                /* Docker 20.10 loads no index: a tag per platform. */
                im->n_plain_refs = im->n_refs;
                _cleanup_free_ char *v = xasprintf("%s-%s", version ? version : "latest", im->platform.arch);
                _cleanup_free_ char *t = image_default_tag(im->name, v);
                r = add_ref(im, t, err);
                if (r < 0)
                        return r;
        }
        if (im->primary) {
                json_t *top = layout_index_find(p->layout, im->name);
                _cleanup_free_ char *what_index = xasprintf("the image index of '%s'", im->name);
                r = add_blob(p, json_string_value(json_object_get(top, "digest")), json_object_get(top, "size"),
                             what_index, err);
                if (r < 0)
                        return r;
                im->index_descriptor = json_deep_copy(top);
                json_object_del(im->index_descriptor, "annotations");
        }

        im->descriptor = json_deep_copy(desc);
        json_object_del(im->descriptor, "annotations");
        return 0;
}

static int image_cmp(const void *a, const void *b)
{
        const SaveImage *x = a, *y = b;
        int c = strcmp(x->name, y->name);
        return c ? c : strcmp(x->platform.arch, y->platform.arch);
}

static int blob_cmp(const void *a, const void *b)
{
        return strcmp(((const SaveBlob *) a)->digest, ((const SaveBlob *) b)->digest);
}

static int unknown_image(Layout *l, const char *name, ObError *err)
{
        _cleanup_strv_ char **names = layout_index_names(l);
        if (!names[0])
                return ob_error_plain(err, ENOENT, "no image named '%s' in '%s': it has no images yet", name,
                                      layout_path(l));
        char list[1024] = "";
        size_t n = 0;
        for (size_t i = 0; names[i]; i++) {
                int w = snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "", names[i]);
                if (w < 0 || (size_t) w >= sizeof(list) - n) {
                        snprintf(list + sizeof(list) - 5, 5, "...");
                        break;
                }
                n += (size_t) w;
        }
        return ob_error_plain(err, ENOENT, "no image named '%s' in '%s' (images there: %s)", name, layout_path(l),
                              list);
}

/* One SaveImage per platform of an image index, else one. */
static int add_images(SavePlan *p, const char *name, const Platform *primary, ObError *err)
{
        json_t *top = layout_index_find(p->layout, name);
        const char *mt = json_string_value(json_object_get(top, "mediaType"));
        if (!mt || strcmp(mt, OCI_MT_INDEX) != 0) {
                p->images = xrealloc(p->images, (p->n_images + 1) * sizeof(SaveImage));
                p->images[p->n_images++] = (SaveImage){ .name = xstrdup(name) };
                return 0;
        }
        _cleanup_free_ Platform *v = NULL;
        size_t n = 0;
        int r = platform_list(p->layout, name, &v, &n, err);
        if (r < 0)
                return r;
        Platform native;
        platform_native(&native);
        const Platform *want = primary ? primary : &native;
        size_t pick = 0;
        bool found = false;
        for (size_t i = 0; i < n; i++)
                if (!found && platform_equal(&v[i], want)) {
                        pick = i;
                        found = true;
                }
        if (primary && !found) {
                _cleanup_free_ char *w = platform_string(primary);
                return ob_error_plain(err, ENOENT, "image '%s' has no manifest for %s", name, w);
        }
        for (size_t i = 0; i < n; i++) {
                p->images = xrealloc(p->images, (p->n_images + 1) * sizeof(SaveImage));
                p->images[p->n_images++] =
                        (SaveImage){ .name = xstrdup(name), .multi = true, .platform = v[i], .primary = i == pick };
        }
        return 0;
}

int save_plan(Layout *l, char *const *names, char *const *tags, SavePlan **ret, ObError *err)
{
        return save_plan_for(l, names, tags, /* platform= */ NULL, ret, err);
}

int save_plan_for(Layout *l, char *const *names, char *const *tags, const Platform *platform, SavePlan **ret,
                  ObError *err)
{
        _cleanup_(save_plan_freep) SavePlan *p = xcalloc(1, sizeof(*p));
        int r;

        p->layout = l;
        if (!names || !names[0])
                return ob_error_plain(err, EINVAL, "no image to save");
        for (size_t i = 0; names[i]; i++) {
                if (!layout_index_find(l, names[i]))
                        return unknown_image(l, names[i], err);
                bool seen = false;
                for (size_t k = 0; k < p->n_images; k++)
                        seen |= strcmp(p->images[k].name, names[i]) == 0;
                if (seen)
                        continue;
                r = add_images(p, names[i], platform, err);
                if (r < 0)
                        return r;
        }
        qsort_safe(p->images, p->n_images, sizeof(SaveImage), image_cmp);

        for (size_t i = 0; tags && tags[i]; i++) {
                const char *eq = strchr(tags[i], '=');
                if (!eq || eq == tags[i])
                        return ob_error_plain(err, EINVAL, "--tag '%s' is not NAME=REPO:TAG", tags[i]);
                _cleanup_free_ char *name = xstrndup(tags[i], (size_t) (eq - tags[i]));
                SaveImage *im = NULL;
                for (size_t k = 0; k < p->n_images; k++)
                        if (strcmp(p->images[k].name, name) == 0 && (!p->images[k].multi || p->images[k].primary))
                                im = &p->images[k];
                if (!im)
                        return ob_error_plain(err, EINVAL, "--tag '%s' is for '%s', which is not being saved", tags[i],
                                              name);
                r = add_ref(im, eq + 1, err);
                if (r < 0) {
                        ob_error_wrap(err, "--tag '%s'", tags[i]);
                        return r;
                }
        }

        for (size_t i = 0; i < p->n_images; i++) {
                r = resolve_image(p, &p->images[i], err);
                if (r < 0)
                        return r;
        }

        /* One tag on two images: the one loaded last would silently win. */
        for (size_t i = 0; i < p->n_images; i++)
                for (size_t j = i + 1; j < p->n_images; j++)
                        for (size_t a = 0; a < p->images[i].n_refs; a++)
                                for (size_t b = 0; b < p->images[j].n_refs; b++)
                                        if (strcmp(p->images[i].refs[a].full, p->images[j].refs[b].full) == 0)
                                                return ob_error_plain(err, EINVAL,
                                                                      "tag '%s' is given to both '%s' and '%s'",
                                                                      p->images[i].refs[a].familiar, p->images[i].name,
                                                                      p->images[j].name);

        qsort_safe(p->blobs, p->n_blobs, sizeof(SaveBlob), blob_cmp);
        *ret = TAKE_PTR(p);
        return 0;
}

/* --- the archive --------------------------------------------------------- */

typedef struct Sink {
        int fd;
        uint64_t bytes;
        int failed; /* negative errno of the first failed write */
} Sink;

static ssize_t sink_write(struct archive *a, void *userdata, const void *buf, size_t n)
{
        Sink *s = userdata;
        int r = write_all(s->fd, buf, n);
        if (r < 0) {
                s->failed = r;
                archive_set_error(a, -r, "%s", strerror(-r));
                return -1;
        }
        s->bytes += n;
        return (ssize_t) n;
}

static int archive_fail(struct archive *a, const Sink *s, ObError *err, const char *what)
{
        /* The caller knows the name of what fd writes to and adds it. */
        if (s->failed)
                return ob_error_plain(err, -s->failed, "%s", strerror(-s->failed));
        return ob_error_plain(err, EIO, "cannot write %s into the archive: %s", what, archive_error_string(a));
}

static int put_header(struct archive *a, const Sink *s, struct archive_entry *ae, const char *path, bool dir,
                      uint64_t size, int64_t mtime, ObError *err)
{
        archive_entry_clear(ae);
        archive_entry_copy_pathname(ae, path);
        archive_entry_set_filetype(ae, dir ? AE_IFDIR : AE_IFREG);
        archive_entry_set_perm(ae, dir ? 0755 : 0644);
        archive_entry_set_uid(ae, 0);
        archive_entry_set_gid(ae, 0);
        archive_entry_set_mtime(ae, (time_t) mtime, 0);
        if (!dir)
                archive_entry_set_size(ae, (la_int64_t) size);
        if (archive_write_header(a, ae) < ARCHIVE_OK)
                return archive_fail(a, s, err, path);
        return 0;
}

static int put_text(struct archive *a, const Sink *s, struct archive_entry *ae, const char *path, const char *text,
                    int64_t mtime, ObError *err)
{
        size_t n = strlen(text);
        int r = put_header(a, s, ae, path, false, n, mtime, err);
        if (r < 0)
                return r;
        la_ssize_t w = archive_write_data(a, text, n);
        if (w < 0 || (size_t) w != n)
                return archive_fail(a, s, err, path);
        return 0;
}

static int put_blob(struct archive *a, const Sink *s, struct archive_entry *ae, const SavePlan *p, const SaveBlob *b,
                    int64_t mtime, char *buf, ObError *err)
{
        _cleanup_free_ char *src = layout_blob_path(p->layout, b->digest);
        _cleanup_free_ char *name = xasprintf("blobs/sha256/%s", digest_hex(b->digest));
        char actual[DIGEST_STRING_MAX];
        struct stat st;
        int r;

        _cleanup_close_ int fd = open(src, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return ob_error_set(err, errno, "cannot open blob '%s'", src);
        if (fstat(fd, &st) < 0)
                return ob_error_set(err, errno, "cannot stat blob '%s'", src);
        if ((uint64_t) st.st_size != b->size)
                return ob_error_plain(err, EIO, "blob '%s' has %llu bytes, its descriptor says %llu", src,
                                      (unsigned long long) st.st_size, (unsigned long long) b->size);
        (void) posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);

        r = put_header(a, s, ae, name, false, b->size, mtime, err);
        if (r < 0)
                return r;
        _cleanup_(sha256_free) Sha256 h = { 0 };
        sha256_init(&h);
        uint64_t left = b->size;
        while (left > 0) {
                ssize_t n = read(fd, buf, left < COPY_CHUNK ? left : COPY_CHUNK);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        if (n < 0)
                                return ob_error_set(err, errno, "cannot read blob '%s'", src);
                        return ob_error_plain(err, EIO, "blob '%s' shrank while it was being saved", src);
                }
                sha256_update(&h, buf, (size_t) n);
                la_ssize_t w = archive_write_data(a, buf, (size_t) n);
                if (w != n)
                        return archive_fail(a, s, err, name);
                left -= (uint64_t) n;
        }
        sha256_final(&h, actual);
        /* A corrupt blob would make docker load fail with a less helpful
         * message, after the whole archive was transferred. */
        if (strcmp(actual, b->digest) != 0)
                return ob_error_plain(err, EIO, "blob '%s' is corrupt (its content hashes to %s)", src, actual);
        return 0;
}

static char *docker_manifest_text(const SavePlan *p)
{
        json_t *list = json_array();
        for (size_t i = 0; i < p->n_images; i++) {
                const SaveImage *im = &p->images[i];
                json_t *tags = json_array();
                for (size_t k = 0; k < im->n_refs; k++)
                        /* Fully qualified: Docker shortens it anyway, and
                         * podman would name a short one localhost/NAME. */
                        json_array_append_new(tags, json_string(im->refs[k].full));
                json_t *layers = json_array();
                for (size_t k = 0; im->layers[k]; k++)
                        json_array_append_new(layers, json_sprintf("blobs/sha256/%s", digest_hex(im->layers[k])));
                json_array_append_new(list, json_pack("{s:o, s:o, s:o}", "Config",
                                                      json_sprintf("blobs/sha256/%s", digest_hex(im->config)),
                                                      "RepoTags", tags, "Layers", layers));
        }
        char *text = oci_json_dump(list);
        json_decref(list);
        return text;
}

static char *index_text(const SavePlan *p)
{
        json_t *idx = oci_index_new();
        json_t *m = json_object_get(idx, "manifests");
        /* One entry per tag, as containerd's exporter writes them: podman
         * and containerd name what they load from io.containerd.image.name,
         * and skopeo's oci-archive:FILE:REF finds REF in ref.name, which is
         * why that is the whole familiar reference and not the bare tag
         * (two images tagged "latest" would be ambiguous). */
        for (size_t i = 0; i < p->n_images; i++)
                for (size_t k = 0; k < p->images[i].n_refs; k++) {
                        const SaveImage *im = &p->images[i];
                        json_t *d = json_deep_copy(im->index_descriptor && k < im->n_plain_refs ? im->index_descriptor
                                                                                                : im->descriptor);
                        json_object_set_new(d, "annotations",
                                            json_pack("{s:s, s:s}", CONTAINERD_IMAGE_NAME, p->images[i].refs[k].full,
                                                      OCI_REF_NAME, p->images[i].refs[k].familiar));
                        json_array_append_new(m, d);
                }
        char *text = oci_json_dump(idx);
        json_decref(idx);
        return text;
}

int save_plan_write(const SavePlan *p, int64_t mtime, int fd, uint64_t *ret_bytes, ObError *err)
{
        Sink s = { .fd = fd };
        int r;

        if (mtime < 0)
                mtime = 0;
        _cleanup_archive_write_ struct archive *a = archive_write_new();
        if (!a)
                return ob_error_plain(err, ENOMEM, "cannot create a tar writer");
        /* ustar headers (pax only for values ustar cannot hold) and no
         * user or group names: same layout, same bytes, on any machine. */
        if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
            archive_write_set_bytes_per_block(a, 10240) != ARCHIVE_OK ||
            archive_write_open2(a, &s, NULL, sink_write, NULL, NULL) != ARCHIVE_OK)
                return ob_error_plain(err, EIO, "cannot set up the tar writer: %s", archive_error_string(a));

        _cleanup_archive_entry_ struct archive_entry *ae = archive_entry_new();
        _cleanup_free_ char *buf = xmalloc(COPY_CHUNK);
        _cleanup_free_ char *index = index_text(p);
        _cleanup_free_ char *manifest = docker_manifest_text(p);

        /* In byte order of the names, the order a sorted listing shows. */
        if ((r = put_header(a, &s, ae, "blobs", true, 0, mtime, err)) < 0 ||
            (r = put_header(a, &s, ae, "blobs/sha256", true, 0, mtime, err)) < 0)
                return r;
        for (size_t i = 0; i < p->n_blobs; i++)
                if ((r = put_blob(a, &s, ae, p, &p->blobs[i], mtime, buf, err)) < 0)
                        return r;
        if ((r = put_text(a, &s, ae, "index.json", index, mtime, err)) < 0 ||
            (r = put_text(a, &s, ae, "manifest.json", manifest, mtime, err)) < 0 ||
            (r = put_text(a, &s, ae, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", mtime, err)) < 0)
                return r;
        if (archive_write_close(a) != ARCHIVE_OK)
                return archive_fail(a, &s, err, "the end of the archive");
        if (ret_bytes)
                *ret_bytes = s.bytes;
        return 0;
}

int save_write(Layout *l, char *const *names, char *const *tags, int64_t mtime, int fd, ObError *err)
{
        _cleanup_(save_plan_freep) SavePlan *p = NULL;
        int r = save_plan(l, names, tags, &p, err);
        if (r < 0)
                return r;
        return save_plan_write(p, mtime, fd, NULL, err);
}
