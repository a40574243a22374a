/* SPDX-License-Identifier: MIT */
/* 'artifacts' and 'build', which apps and tools name the same way: files
 * from the config's directory or from pinned downloads, and host commands
 * run before packaging. Tools also unpack release archives. */
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "path.h"
#include "spec-internal.h"
#include "spec.h"
#include "util.h"
#include "yamlspec.h"

/* 'sha256' of an artifact: one digest for every arch, or a mapping of
 * arch to digest. */
static int parse_sha256(YamlDoc *d, yaml_node_t *v, char ***ret, ObError *err)
{
        _cleanup_strv_ char **pins = NULL;
        int r;
        if (v->type == YAML_SCALAR_NODE) {
                _cleanup_free_ char *hex = NULL;
                if ((r = y_str(d, v, "sha256", &hex, err)) < 0)
                        return r;
                _cleanup_free_ char *kv = xasprintf("*=%s", hex);
                strv_push(&pins, kv);
        } else if ((r = y_str_map(d, v, "sha256", &pins, err)) < 0)
                return r;
        for (size_t i = 0; pins[i]; i++) {
                const char *hex = strchr(pins[i], '=') + 1;
                _cleanup_free_ char *dg = xasprintf("sha256:%s", hex);
                if (!digest_is_valid(dg))
                        return y_error(d, v, err, "'sha256' must be 64 lowercase hex digits, found '%s'", hex);
        }
        *ret = TAKE_PTR(pins);
        return 0;
}

/* A size: bytes, or a number with K, M or G (powers of 1024). */
static int parse_size(YamlDoc *d, yaml_node_t *v, const char *key, uint64_t *ret, ObError *err)
{
        const char *s = v->type == YAML_SCALAR_NODE ? (const char *) v->data.scalar.value : "";
        char *end = NULL;
        unsigned long long n = s[0] >= '0' && s[0] <= '9' ? strtoull(s, &end, 10) : 0;
        unsigned shift = !end ? 0 : *end == 'K' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : 0;
        if (!end || n == 0 || (shift && end[1]) || (!shift && *end) || n > (UINT64_MAX >> shift) >> 1)
                return y_error(d, v, err, "'%s' must be a size such as 500M, 2G or a number of bytes, found '%s'", key,
                               v->type == YAML_SCALAR_NODE ? s : y_kind(v));
        *ret = (uint64_t) n << shift;
        return 0;
}

/* The keys that unpack a tool's release archive. */
static int parse_unpack_keys(YamlDoc *d, yaml_node_t *item, SpecArtifact *a, ObError *err)
{
        yaml_node_t *v;
        int r = 0;
        if ((v = y_get(d, item, "arch")) && (r = y_str_map(d, v, "arch", &a->arch, err)) < 0)
                return r;
        if ((v = y_get(d, item, "strip_components")) &&
            (r = y_uint(d, v, "strip_components", 64, &a->strip_components, err)) < 0)
                return r;
        if ((v = y_get(d, item, "include")) && (r = y_str_list(d, v, "include", /* flags= */ 0, &a->include, err)) < 0)
                return r;
        if ((v = y_get(d, item, "exclude")) && (r = y_str_list(d, v, "exclude", /* flags= */ 0, &a->exclude, err)) < 0)
                return r;
        if ((v = y_get(d, item, "max_unpacked")) && (r = parse_size(d, v, "max_unpacked", &a->max_unpacked, err)) < 0)
                return r;
        return 0;
}

/* An entry of 'artifacts'; userdata is the config's directory. */
static int parse_artifact(YamlDoc *d, yaml_node_t *item, void *elem, void *userdata, ObError *err)
{
        const char *dir = userdata;
        SpecArtifact *a = elem;
        yaml_node_t *v;

        a->line = item->start_mark.line + 1;
        int r = spec_get_path(d, item, "path", SPEC_KEY_REQUIRED, "an 'artifacts' entry", &a->path, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *src = NULL;
        if ((r = spec_get_str(d, item, "source", SPEC_KEY_OPTIONAL, "an 'artifacts' entry", &src, err)) < 0)
                return r;
        if ((r = spec_get_str(d, item, "url", SPEC_KEY_OPTIONAL, "an 'artifacts' entry", &a->url, err)) < 0)
                return r;
        if (!src == !a->url)
                return y_error(d, item, err, "an 'artifacts' entry needs either 'source' (a local path) or 'url'");
        if (src)
                a->source = spec_resolve_relative(dir, src);
        if (a->url && !str_startswith(a->url, "https://") && !str_startswith(a->url, "http://") &&
            !str_startswith(a->url, "file://"))
                return y_error(d, y_get(d, item, "url"), err,
                               "'url' must start with https://, http:// or file://, found '%s'", a->url);
        if ((v = y_get(d, item, "sha256"))) {
                if (!a->url)
                        return y_error(d, v, err, "'sha256' pins a download: it needs 'url'");
                if ((r = parse_sha256(d, v, &a->sha256, err)) < 0)
                        return r;
        }
        if ((v = y_get(d, item, "mode"))) {
                if ((r = y_mode(d, v, "mode", /* flags= */ 0, &a->mode, err)) < 0)
                        return r;
                a->has_mode = true;
        }
        if ((v = y_get(d, item, "owner")) && (r = y_owner(d, v, "owner", &a->uid, &a->gid, err)) < 0)
                return r;
        return parse_unpack_keys(d, item, a, err);
}

static const SpecEntryKind app_artifact_kind = {
        .key = "artifacts",
        .what = "an 'artifacts' entry",
        .keys = (const char *const[]){ "path", "source", "url", "sha256", "mode", "owner", NULL },
        .parse = parse_artifact,
};

static const SpecEntryKind tool_artifact_kind = {
        .key = "artifacts",
        .what = "an 'artifacts' entry",
        .keys = (const char *const[]){ "path", "source", "url", "sha256", "mode", "owner", "arch", "strip_components",
                                       "include", "exclude", "max_unpacked", NULL },
        .parse = parse_artifact,
};

int spec_parse_artifacts(YamlDoc *d, yaml_node_t *list, Spec *s, const char *dir, ObError *err)
{
        const SpecEntryKind *kind = s->tier == SPEC_TIER_TOOL ? &tool_artifact_kind : &app_artifact_kind;
        return spec_parse_list(d, list, kind, &s->artifacts, &s->n_artifacts, (void *) dir, err);
}

/* A step of 'build'; userdata is the config's directory (apps), or NULL
 * (tools: a workdir is relative to the unpacked sources). */
static int parse_build_step(YamlDoc *d, yaml_node_t *item, void *elem, void *userdata, ObError *err)
{
        const char *dir = userdata;
        SpecBuildStep *b = elem;
        yaml_node_t *v;

        int r = y_require(d, item, "command", "a 'build' step", &v, err);
        if (r < 0)
                return r;
        if ((r = y_str_list(d, v, "command", /* flags= */ 0, &b->command, err)) < 0)
                return r;
        if (!b->command[0])
                return y_error(d, v, err, "'command' must name a program");
        _cleanup_free_ char *wd = NULL;
        if ((r = spec_get_str(d, item, "workdir", SPEC_KEY_OPTIONAL, "a 'build' step", &wd, err)) < 0)
                return r;
        if ((v = y_get(d, item, "env")) && (r = spec_parse_env(d, v, "env", &b->env, err)) < 0)
                return r;
        if (!dir) {
                if (wd && (wd[0] == '/' || strstr(wd, "..")))
                        return y_error(d, y_get(d, item, "workdir"), err,
                                       "'workdir' must be relative to the unpacked sources, without '..', found '%s'",
                                       wd);
                b->workdir = TAKE_PTR(wd);
                return 0;
        }
        b->workdir = !wd ? xstrdup(dir) : spec_resolve_relative(dir, wd);
        b->line = item->start_mark.line + 1;
        b->config_sha256 = y_node_sha256(d, item);
        if ((v = y_get(d, item, "inputs")) &&
            (r = y_rel_path_list(d, v, "inputs", &b->inputs, &b->input_lines, err)) < 0)
                return r;
        if (b->inputs && !b->inputs[0])
                return y_error(d, v, err,
                               "'inputs' must name at least one path (without 'inputs', the whole workdir is the "
                               "step's input)");
        if ((v = y_get(d, item, "outputs"))) {
                if (!b->inputs)
                        return y_error(d, v, err,
                                       "'outputs' needs 'inputs': a step reruns when what it reads changes, so name "
                                       "that too");
                if ((r = y_rel_path_list(d, v, "outputs", &b->outputs, /* ret_lines= */ NULL, err)) < 0)
                        return r;
        }
        return 0;
}

static const SpecEntryKind app_build_step_kind = {
        .key = "build",
        .what = "a 'build' step",
        .keys = (const char *const[]){ "command", "workdir", "env", "inputs", "outputs", NULL },
        .parse = parse_build_step,
};

static const SpecEntryKind tool_build_step_kind = {
        .key = "build",
        .what = "a 'build' step",
        .keys = (const char *const[]){ "command", "workdir", "env", NULL },
        .parse = parse_build_step,
};

int spec_parse_build(YamlDoc *d, yaml_node_t *list, Spec *s, const char *dir, ObError *err)
{
        if (s->tier == SPEC_TIER_TOOL)
                return spec_parse_list(d, list, &tool_build_step_kind, &s->build, &s->n_build, NULL, err);
        return spec_parse_list(d, list, &app_build_step_kind, &s->build, &s->n_build, (void *) dir, err);
}
