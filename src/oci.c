/* SPDX-License-Identifier: MIT */
#include "oci.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util.h"

char *oci_json_dump(json_t *j)
{
        char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
        if (!s) {
                fputs("oci-build: cannot serialise JSON\n", stderr);
                abort();
        }
        return s;
}

json_t *oci_index_new(void)
{
        return json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType", OCI_MT_INDEX, "manifests");
}

json_t *oci_descriptor(const char *media_type, const char *digest, uint64_t size)
{
        return json_pack("{s:s, s:s, s:I}", "mediaType", media_type, "digest", digest, "size", (json_int_t) size);
}

char *oci_time(int64_t epoch)
{
        time_t t = (time_t) epoch;
        struct tm tm;
        char buf[64];
        if (!gmtime_r(&t, &tm))
                return xstrdup("1970-01-01T00:00:00Z");
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
        return xstrdup(buf);
}

static json_t *strv_to_json(char *const *v)
{
        json_t *a = json_array();
        for (size_t i = 0; v && v[i]; i++)
                json_array_append_new(a, json_string(v[i]));
        return a;
}

static json_t *set_of(char *const *v)
{
        json_t *o = json_object();
        for (size_t i = 0; v && v[i]; i++)
                json_object_set_new(o, v[i], json_object());
        return o;
}

json_t *oci_image_config(const SpecImageConfig *c, const char *arch, const char *variant, const OciLayerInfo *layers,
                         size_t n_layers, int64_t created)
{
        _cleanup_free_ char *when = oci_time(created);
        json_t *cfg = json_object();
        if (c->user)
                json_object_set_new(cfg, "User", json_string(c->user));
        if (c->env)
                json_object_set_new(cfg, "Env", strv_to_json(c->env));
        if (c->workdir)
                json_object_set_new(cfg, "WorkingDir", json_string(c->workdir));
        if (c->entrypoint)
                json_object_set_new(cfg, "Entrypoint", strv_to_json(c->entrypoint));
        if (c->cmd)
                json_object_set_new(cfg, "Cmd", strv_to_json(c->cmd));
        if (c->ports && c->ports[0])
                json_object_set_new(cfg, "ExposedPorts", set_of(c->ports));
        if (c->volumes && c->volumes[0])
                json_object_set_new(cfg, "Volumes", set_of(c->volumes));
        if (c->labels && c->labels[0]) {
                json_t *l = json_object();
                for (size_t i = 0; c->labels[i]; i++) {
                        const char *eq = strchr(c->labels[i], '=');
                        _cleanup_free_ char *k = xstrndup(c->labels[i], (size_t) (eq - c->labels[i]));
                        json_object_set_new(l, k, json_string(eq + 1));
                }
                json_object_set_new(cfg, "Labels", l);
        }

        json_t *diff_ids = json_array();
        json_t *history = json_array();
        for (size_t i = 0; i < n_layers; i++) {
                json_array_append_new(diff_ids, json_string(layers[i].diff_id));
                json_t *h = json_pack("{s:s}", "created", when);
                if (layers[i].created_by)
                        json_object_set_new(h, "created_by", json_string(layers[i].created_by));
                if (layers[i].comment)
                        json_object_set_new(h, "comment", json_string(layers[i].comment));
                json_array_append_new(history, h);
        }

        json_t *j =
                json_pack("{s:s, s:s, s:s, s:o, s:{s:s, s:o}, s:o}", "created", when, "architecture", arch, "os",
                          "linux", "config", cfg, "rootfs", "type", "layers", "diff_ids", diff_ids, "history", history);
        if (variant && *variant)
                json_object_set_new(j, "variant", json_string(variant));
        return j;
}

json_t *oci_manifest(const char *config_digest, uint64_t config_size, const OciLayerInfo *layers, size_t n_layers,
                     json_t *annotations)
{
        json_t *ls = json_array();
        for (size_t i = 0; i < n_layers; i++)
                json_array_append_new(ls,
                                      oci_descriptor(layers[i].media_type ? layers[i].media_type : OCI_MT_LAYER_GZIP,
                                                     layers[i].digest, layers[i].size));
        json_t *m = json_pack("{s:i, s:s, s:o, s:o}", "schemaVersion", 2, "mediaType", OCI_MT_MANIFEST, "config",
                              oci_descriptor(OCI_MT_CONFIG, config_digest, config_size), "layers", ls);
        if (annotations)
                json_object_set_new(m, "annotations", annotations);
        return m;
}
