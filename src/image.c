/* SPDX-License-Identifier: MIT */
#include "image.h"

#include <string.h>

#include "cleanup-libs.h"
#include "util.h"

static void merge_kv(char ***dst, char *const *src)
{
        for (size_t i = 0; src && src[i]; i++) {
                const char *eq = strchr(src[i], '=');
                size_t klen = eq ? (size_t) (eq - src[i]) : strlen(src[i]);
                bool replaced = false;
                for (size_t k = 0; *dst && (*dst)[k]; k++)
                        if (strncmp((*dst)[k], src[i], klen) == 0 && (*dst)[k][klen] == '=') {
                                free((*dst)[k]);
                                (*dst)[k] = xstrdup(src[i]);
                                replaced = true;
                        }
                if (!replaced)
                        strv_push(dst, src[i]);
        }
}

static char **strv_copy(char *const *v)
{
        char **out = NULL;
        if (!v)
                return NULL;
        out = xcalloc(1, sizeof(char *));
        for (size_t i = 0; v[i]; i++)
                strv_push(&out, v[i]);
        return out;
}

void image_config_merge(const SpecImageConfig *base, const SpecImageConfig *over, SpecImageConfig *ret)
{
        memset(ret, 0, sizeof(*ret));
        ret->user = xstrdup(over->user ? over->user : base->user ? base->user : "0:0");
        ret->workdir = over->workdir ? xstrdup(over->workdir) : base->workdir ? xstrdup(base->workdir) : NULL;
        merge_kv(&ret->env, base->env);
        merge_kv(&ret->env, over->env);
        merge_kv(&ret->labels, base->labels);
        merge_kv(&ret->labels, over->labels);
        ret->entrypoint = strv_copy(over->entrypoint ? over->entrypoint : base->entrypoint);
        /* As in a Dockerfile, a new entrypoint drops the inherited cmd. */
        ret->cmd = strv_copy(over->cmd ? over->cmd : over->entrypoint ? NULL : base->cmd);
        ret->ports = strv_copy(over->ports ? over->ports : base->ports);
        ret->volumes = strv_copy(over->volumes ? over->volumes : base->volumes);
}

char *image_default_tag(const char *name, const char *version)
{
        return xasprintf("distroless-%s:%s", name, version);
}

/* On the index descriptor too, so that a reader of index.json alone (`show`,
 * a registry's listing) sees which package build the image is. */
static void add_debian_annotations(json_t *ann, const ImageBuild *b)
{
        if (!b->debian_version)
                return;
        if (b->debian_package)
                json_object_set_new(ann, IMAGE_ANNOTATION_DEBIAN_PACKAGE, json_string(b->debian_package));
        json_object_set_new(ann, IMAGE_ANNOTATION_DEBIAN_VERSION, json_string(b->debian_version));
}

int image_write(Layout *l, const ImageBuild *b, ImageResult *ret, ObError *err)
{
        ImageResult res = { 0 };
        int r;

        _cleanup_json_ json_t *cfg = oci_image_config(b->config, b->platform->arch, b->platform->variant, b->layers,
                                                      b->n_layers, b->created);
        _cleanup_free_ char *cfg_text = oci_json_dump(cfg);
        r = layout_put_blob(l, cfg_text, strlen(cfg_text), res.config_digest, err);
        if (r < 0)
                return r;

        _cleanup_free_ char *created = oci_time(b->created);
        json_t *ann =
                json_pack("{s:s, s:s, s:s, s:s}", "org.opencontainers.image.title", b->name,
                          "org.opencontainers.image.description", b->description, "org.opencontainers.image.version",
                          b->version, "org.opencontainers.image.created", created);
        add_debian_annotations(ann, b);
        _cleanup_json_ json_t *m = oci_manifest(res.config_digest, strlen(cfg_text), b->layers, b->n_layers, ann);
        _cleanup_free_ char *m_text = oci_json_dump(m);
        r = layout_put_blob(l, m_text, strlen(m_text), res.manifest_digest, err);
        if (r < 0)
                return r;
        res.manifest_size = strlen(m_text);
        res.total_size = res.manifest_size + strlen(cfg_text);
        for (size_t i = 0; i < b->n_layers; i++)
                res.total_size += b->layers[i].size;

        _cleanup_free_ char *tag = image_default_tag(b->name, b->version);
        _cleanup_free_ char *full = xasprintf("docker.io/library/%s", tag);
        json_t *desc = oci_descriptor(OCI_MT_MANIFEST, res.manifest_digest, res.manifest_size);
        json_t *desc_ann = json_pack("{s:s, s:s}", OCI_REF_NAME, b->name, CONTAINERD_IMAGE_NAME, full);
        add_debian_annotations(desc_ann, b);
        json_object_set_new(desc, "annotations", desc_ann);
        json_object_set_new(desc, "platform", platform_json(b->platform));
        r = layout_index_set(l, b->name, desc, err);
        if (r < 0)
                return r;
        *ret = res;
        return 0;
}
