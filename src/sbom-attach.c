/* SPDX-License-Identifier: MIT */
#include "sbom-attach.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "cleanup-libs.h"
#include "config.h"
#include "oci.h"
#include "platform.h"
#include "sbom.h"
#include "util.h"

json_t *sbom_artifact_manifest(const char *subject_digest, uint64_t subject_size, const char *empty_digest,
                               const char *sbom_digest, uint64_t sbom_size, const char *title, int64_t created)
{
        _cleanup_free_ char *when = oci_time(created);
        json_t *layer = oci_descriptor(SBOM_MEDIA_TYPE, sbom_digest, sbom_size);
        json_object_set_new(layer, "annotations", json_pack("{s:s}", "org.opencontainers.image.title", title));
        return json_pack("{s:i, s:s, s:s, s:o, s:[o], s:o, s:{s:s}}", "schemaVersion", 2, "mediaType", OCI_MT_MANIFEST,
                         "artifactType", SBOM_MEDIA_TYPE, "config", oci_descriptor(OCI_MT_EMPTY, empty_digest, 2),
                         "layers", layer, "subject", oci_descriptor(OCI_MT_MANIFEST, subject_digest, subject_size),
                         "annotations", "org.opencontainers.image.created", when);
}

/* The downloaded artifacts of an app, as the build fetched them. */
static SbomDownload *downloads_of(const Spec *spec, const char *arch, char ***ret_strings, size_t *ret_n)
{
        SbomDownload *v = xcalloc(spec->n_artifacts + 1, sizeof(SbomDownload));
        char **strings = NULL;
        size_t n = 0;
        for (size_t i = 0; i < spec->n_artifacts; i++) {
                const SpecArtifact *a = &spec->artifacts[i];
                /* An app's download is one file of the image. A tool's
                 * release is unpacked, maybe compiled: not listed (yet). */
                if (!a->url || spec->tier != SPEC_TIER_APP)
                        continue;
                _cleanup_free_ char *u1 = str_replace_all(a->url, "{arch}", arch);
                _cleanup_free_ char *url =
                        spec->version ? str_replace_all(u1, "{version}", spec->version) : xstrdup(u1);
                strv_push(&strings, url);
                const char *base = strrchr(a->path, '/');
                v[n++] = (SbomDownload){ .path = a->path,
                                         .name = base ? base + 1 : a->path,
                                         .version = spec->version ? spec->version : "NOASSERTION" };
        }
        /* The URLs, once strv_push() is done moving them. */
        for (size_t i = 0; i < n; i++)
                v[i].url = strings[i];
        *ret_strings = strings;
        *ret_n = n;
        return v;
}

/* The SBOM the layout's committed index.json already attaches to the same
 * image manifest, when its blobs are all there and this program wrote it:
 * an unchanged image keeps its document without its layers being read
 * back. NULL when there is none to reuse (then the SBOM is made again). */
static char *reusable_sbom(Layout *l, const char *name, const char *mdigest)
{
        _cleanup_free_ char *path = xasprintf("%s/index.json", layout_path(l));
        _cleanup_json_ json_t *index = json_load_file(path, 0, NULL);
        const char *adigest = NULL;
        size_t i;
        json_t *d;
        json_array_foreach(json_object_get(index, "manifests"), i, d) {
                json_t *ann = json_object_get(d, "annotations");
                const char *ref = json_string_value(json_object_get(ann, "org.opencontainers.image.ref.name"));
                const char *digest = json_string_value(json_object_get(d, "digest"));
                if (ref && digest && strcmp(ref, name) == 0 && strcmp(digest, mdigest) == 0)
                        adigest = json_string_value(json_object_get(ann, SBOM_ANNOTATION));
        }
        if (!adigest || !layout_has_blob(l, adigest))
                return NULL;
        ObError ignored = { 0 };
        _cleanup_free_ char *mtext = NULL, *stext = NULL;
        size_t msize = 0, ssize = 0;
        if (layout_read_blob(l, adigest, &mtext, &msize, &ignored) < 0)
                return NULL;
        _cleanup_json_ json_t *m = json_loadb(mtext, msize, 0, NULL);
        const char *subject = json_string_value(json_object_get(json_object_get(m, "subject"), "digest"));
        const char *sdigest =
                json_string_value(json_object_get(json_array_get(json_object_get(m, "layers"), 0), "digest"));
        const char *edigest = json_string_value(json_object_get(json_object_get(m, "config"), "digest"));
        if (!subject || strcmp(subject, mdigest) != 0 || !sdigest || !edigest || !layout_has_blob(l, edigest) ||
            layout_read_blob(l, sdigest, &stext, &ssize, &ignored) < 0)
                return NULL;
        /* A document of another version of the program is made again. */
        return sbom_text_made_here(stext, ssize) ? xstrdup(adigest) : NULL;
}

/* One image whose SBOM is made in this run. */
typedef struct SbomJob {
        const Spec *spec;
        json_t *ann; /* the annotations of its descriptor in the index */
        const char *mdigest;
        uint64_t msize;
        SbomDownload *downloads;
        char **urls;
        size_t n_downloads;
        bool claimed, made, attached;
        char *text; /* made on a worker: the document, until attached */
        size_t size;
        int r; /* negative once it failed, with err */
        ObError err;
} SbomJob;

typedef struct SbomQueue {
        Layout *l;
        int64_t created;
        LayerFactsCache *facts;
        SbomJob *jobs;
        size_t n;
        bool stop; /* a job failed: no new one is started */
        pthread_mutex_t lock;
        pthread_cond_t changed;
} SbomQueue;

static void sbom_job_clear(SbomJob *j)
{
        free(j->downloads);
        strv_free(j->urls);
        free(j->text);
}

/* The next job nobody has started, claimed; NULL when there is none left
 * (or one failed). Called with the lock held. */
static SbomJob *claim(SbomQueue *q)
{
        if (q->stop)
                return NULL;
        for (size_t i = 0; i < q->n; i++)
                if (!q->jobs[i].claimed) {
                        q->jobs[i].claimed = true;
                        return &q->jobs[i];
                }
        return NULL;
}

/* The artifact around a stored document, and the annotation that names it. */
static int attach_document(SbomQueue *q, SbomJob *j, const char *sdigest, uint64_t ssize, ObError *err)
{
        char edigest[DIGEST_STRING_MAX], adigest[DIGEST_STRING_MAX];
        int r = layout_put_blob(q->l, "{}", 2, edigest, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *title = xasprintf("%s.spdx.json", j->spec->name);
        _cleanup_json_ json_t *m =
                sbom_artifact_manifest(j->mdigest, j->msize, edigest, sdigest, ssize, title, q->created);
        _cleanup_free_ char *mtext = oci_json_dump(m);
        r = layout_put_blob(q->l, mtext, strlen(mtext), adigest, err);
        if (r < 0)
                return r;
        json_object_set_new(j->ann, SBOM_ANNOTATION, json_string(adigest));
        return 0;
}

/* On the thread that owns the layout: the document goes to its blob as
 * it is written, never held whole. */
static int make_and_attach(SbomQueue *q, SbomJob *j, ObError *err)
{
        char sdigest[DIGEST_STRING_MAX];
        uint64_t ssize = 0;
        int r = sbom_image_put_blob(q->l, j->spec->name, j->mdigest, j->downloads, j->n_downloads, q->created, q->facts,
                                    sdigest, &ssize, err);
        if (r < 0)
                return r;
        return attach_document(q, j, sdigest, ssize, err);
}

/* The text a worker made, stored by the thread that owns the layout. */
static int attach_text(SbomQueue *q, SbomJob *j, ObError *err)
{
        char sdigest[DIGEST_STRING_MAX];
        int r = layout_put_blob(q->l, j->text, j->size, sdigest, err);
        if (r < 0)
                return r;
        free(TAKE_PTR(j->text));
        return attach_document(q, j, sdigest, j->size, err);
}

/* A worker makes documents as text and leaves the layout alone: its blob
 * writer, index and signal-safe list of new files are not thread-safe. */
static void *worker(void *userdata)
{
        SbomQueue *q = userdata;
        pthread_mutex_lock(&q->lock);
        for (SbomJob *j; (j = claim(q));) {
                pthread_mutex_unlock(&q->lock);
                char *text = NULL;
                size_t size = 0;
                int r = sbom_image_text(q->l, j->spec->name, j->mdigest, j->downloads, j->n_downloads, q->created,
                                        q->facts, NULL, NULL, &text, &size, &j->err);
                pthread_mutex_lock(&q->lock);
                j->text = text;
                j->size = size;
                j->r = r;
                j->made = true;
                if (r < 0)
                        q->stop = true;
                pthread_cond_broadcast(&q->changed);
        }
        pthread_mutex_unlock(&q->lock);
        return NULL;
}

/* The thread that owns the layout: it stores what the workers made, as
 * soon as it is made, and makes documents itself while there is none to
 * store. Blobs are named by their content: the order they are stored in
 * changes nothing in the layout. */
static void run_queue(SbomQueue *q)
{
        pthread_mutex_lock(&q->lock);
        for (;;) {
                SbomJob *ready = NULL;
                for (size_t i = 0; i < q->n && !ready && !q->stop; i++)
                        if (q->jobs[i].made && q->jobs[i].r == 0 && !q->jobs[i].attached)
                                ready = &q->jobs[i];
                SbomJob *mine = ready || q->stop ? NULL : claim(q);
                if (!ready && !mine) {
                        bool busy = false;
                        for (size_t i = 0; i < q->n; i++)
                                busy = busy || (q->jobs[i].claimed && !q->jobs[i].made);
                        /* Nothing left to start (or a failure stops it
                         * all) and nothing under way: done. */
                        if (!busy)
                                break;
                        pthread_cond_wait(&q->changed, &q->lock);
                        continue;
                }
                pthread_mutex_unlock(&q->lock);
                SbomJob *j = ready ? ready : mine;
                int r = ready ? attach_text(q, j, &j->err) : make_and_attach(q, j, &j->err);
                pthread_mutex_lock(&q->lock);
                j->made = j->attached = true;
                if (r < 0) {
                        j->r = r;
                        q->stop = true;
                }
        }
        pthread_mutex_unlock(&q->lock);
}

int sbom_attach_all(Layout *l, const Spec *const *specs, size_t n, const char *arch, int64_t created,
                    LayerFactsCache *facts, unsigned threads, ObError *err)
{
        SbomQueue q = { .l = l, .created = created, .facts = facts, .jobs = xcalloc(n + 1, sizeof(SbomJob)) };
        int r = 0;
        /* What reads or changes the index is done here, before any worker
         * starts: an image whose document is there already keeps it. */
        for (size_t i = 0; i < n && r == 0; i++) {
                const Spec *spec = specs[i];
                json_t *desc = layout_index_find(l, spec->name);
                const char *mdigest = json_string_value(json_object_get(desc, "digest"));
                if (!mdigest) {
                        r = ob_error_plain(err, ENOENT, "no image '%s' in '%s' to attach an SBOM to", spec->name,
                                           layout_path(l));
                        break;
                }
                json_t *ann = json_object_get(desc, "annotations");
                if (!json_is_object(ann))
                        json_object_set_new(desc, "annotations", ann = json_object());
                _cleanup_free_ char *reuse = reusable_sbom(l, spec->name, mdigest);
                if (reuse) {
                        json_object_set_new(ann, SBOM_ANNOTATION, json_string(reuse));
                        continue;
                }
                SbomJob *j = &q.jobs[q.n++];
                *j = (SbomJob){ .spec = spec,
                                .ann = ann,
                                .mdigest = mdigest,
                                .msize = (uint64_t) json_integer_value(json_object_get(desc, "size")) };
                j->downloads = downloads_of(spec, arch, &j->urls, &j->n_downloads);
        }

        if (r == 0 && q.n > 0) {
                pthread_mutex_init(&q.lock, NULL);
                pthread_cond_init(&q.changed, NULL);
                /* This thread makes documents too: threads - 1 workers, and
                 * none for one document. A worker that cannot be started
                 * leaves its share to the others. */
                size_t n_workers = threads > 1 ? (size_t) threads - 1 : 0;
                if (n_workers > q.n - 1)
                        n_workers = q.n - 1;
                _cleanup_free_ pthread_t *tids = xcalloc(n_workers + 1, sizeof(pthread_t));
                size_t started = 0;
                while (started < n_workers && pthread_create(&tids[started], NULL, worker, &q) == 0)
                        started++;
                run_queue(&q);
                for (size_t i = 0; i < started; i++)
                        pthread_join(tids[i], NULL);
                pthread_cond_destroy(&q.changed);
                pthread_mutex_destroy(&q.lock);
                /* The first image's failure, whichever thread saw it first. */
                for (size_t i = 0; i < q.n && r == 0; i++)
                        if (q.jobs[i].r < 0) {
                                r = q.jobs[i].r;
                                if (err)
                                        *err = q.jobs[i].err;
                                ob_error_wrap(err, "the SBOM of '%s'", q.jobs[i].spec->name);
                        }
        }
        for (size_t i = 0; i < q.n; i++)
                sbom_job_clear(&q.jobs[i]);
        free(q.jobs);
        return r;
}

int sbom_attach(Layout *l, const Spec *spec, const char *arch, int64_t created, LayerFactsCache *facts, ObError *err)
{
        return sbom_attach_all(l, &spec, 1, arch, created, facts, 1, err);
}

/* The descriptor that carries the annotation: the entry itself, or in an
 * image index the native platform's manifest (else the first). */
static int sbom_holder(Layout *l, const char *name, json_t **ret, ObError *err)
{
        json_t *desc = layout_index_find(l, name);
        if (!desc)
                return -ENOENT;
        const char *mt = json_string_value(json_object_get(desc, "mediaType"));
        if (!mt || strcmp(mt, OCI_MT_INDEX) != 0) {
                *ret = json_incref(desc);
                return 0;
        }
        _cleanup_free_ char *data = NULL;
        size_t size = 0;
        int r = layout_read_blob(l, json_string_value(json_object_get(desc, "digest")), &data, &size, err);
        if (r < 0)
                return ob_error_wrap(err, "image '%s'", name);
        _cleanup_json_ json_t *idx = json_loadb(data, size, 0, NULL);
        json_t *list = json_object_get(idx, "manifests");
        Platform native;
        platform_native(&native);
        json_t *pick = NULL, *m;
        size_t i;
        json_array_foreach(list, i, m)
                if (!pick && platform_json_matches(json_object_get(m, "platform"), &native))
                        pick = m;
        if (!pick)
                pick = json_array_get(list, 0);
        if (!pick)
                return -ENOENT;
        *ret = json_incref(pick);
        return 0;
}

int sbom_attached(Layout *l, const char *name, char **ret_text, size_t *ret_size, ObError *err)
{
        _cleanup_json_ json_t *holder = NULL;
        int r = sbom_holder(l, name, &holder, err);
        if (r < 0)
                return r;
        const char *adigest =
                json_string_value(json_object_get(json_object_get(holder, "annotations"), SBOM_ANNOTATION));
        if (!adigest)
                return -ENOENT;
        _cleanup_free_ char *mtext = NULL;
        size_t msize = 0;
        r = layout_read_blob(l, adigest, &mtext, &msize, err);
        if (r < 0)
                return ob_error_wrap(err, "the SBOM of '%s' (annotation %s)", name, SBOM_ANNOTATION);
        _cleanup_json_ json_t *m = json_loadb(mtext, msize, 0, NULL);
        json_t *layer = json_array_get(json_object_get(m, "layers"), 0);
        const char *art = json_string_value(json_object_get(m, "artifactType"));
        const char *lt = json_string_value(json_object_get(layer, "mediaType"));
        const char *sdigest = json_string_value(json_object_get(layer, "digest"));
        if (!art || strcmp(art, SBOM_MEDIA_TYPE) != 0 || !lt || strcmp(lt, SBOM_MEDIA_TYPE) != 0 || !sdigest)
                return ob_error_plain(err, EBADMSG,
                                      "the SBOM manifest %s of '%s' is not an artifact of type %s with its "
                                      "document as first layer",
                                      adigest, name, SBOM_MEDIA_TYPE);
        r = layout_read_blob(l, sdigest, ret_text, ret_size, err);
        if (r < 0)
                return ob_error_wrap(err, "the SBOM of '%s'", name);
        return 0;
}
