/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "tool.h"
#include "util.h"

LayerOptions context_layer_options(const Context *ctx)
{
        return (LayerOptions){ .source_date_epoch = ctx->source_date_epoch, .level = ctx->level,
                               .threads = ctx->jobs, .chunk = 0 };
}

/* Configs are found by file name and images named by 'name': the two must
 * agree, or `tool X` would build an image that `test X` cannot find. */
int context_check_name(const ConfigRef *ref, Spec *spec, ObError *err)
{
        /* base.yml is found by its fixed name; the image it makes may be
         * named otherwise (a variant of the base). */
        if (ref->tier == SPEC_TIER_BASE || strcmp(spec->name, ref->name) == 0)
                return 0;
        return ob_error_plain(err, EINVAL, "%s: 'name' is '%s' but the file is %s.yml: they must be the same",
                              ref->file, spec->name, ref->name);
}

int context_load_spec(const Context *ctx, const ConfigRef *ref, Spec **ret, ObError *err)
{
        int r = -EINVAL;
        switch (ref->tier) {
        case SPEC_TIER_BASE:
                r = spec_load_base(ref->file, OB_VERSION, ret, err);
                break;
        case SPEC_TIER_TOOL:
                r = spec_load_tool(ref->file, ret, err);
                break;
        case SPEC_TIER_APP:
                r = spec_load_app(ref->file, ret, err);
                break;
        }
        if (r == 0 && (r = context_check_name(ref, *ret, err)) < 0) {
                spec_free(*ret);
                *ret = NULL;
        }
        return r;
        return ob_error_plain(err, ENOTSUP, "%s: %s configs are not supported by this version of oci-build",
                              ref->file, spec_tier_name(ref->tier));
}

int context_base_plan(const Context *ctx, const Spec *spec, Plan *ret, ObError *err)
{
        Sysroot *root = NULL;
        int r = sysroot_open(ctx->sysroot, &root, err);
        if (r < 0)
                return r;
        plan_init(ret);
        r = plan_from_spec(ret, spec, root, ctx->source_date_epoch, err);
        sysroot_free(root);
        if (r < 0)
                plan_clear(ret);
        return r;
}

int context_build_base(const Context *ctx, Layout *l, const Spec *spec, const Plan *plan, ImageResult *ret,
                       ObError *err)
{
        LayerOptions lo = context_layer_options(ctx);
        _cleanup_free_ char *created_by = xasprintf("oci-build %s: %s layer", OB_VERSION, spec->name);
        OciLayerInfo layer = { .created_by = created_by, .comment = spec->description };
        int r = layer_write(l, plan, &lo, &layer, err);
        if (r < 0)
                return r;

        ImageBuild b = { .name = spec->name, .version = spec->version, .description = spec->description,
                         .config = &spec->config, .layers = &layer, .n_layers = 1,
                         .created = ctx->source_date_epoch };
        return image_write(l, &b, ret, err);
}

void tool_build_clear(ToolBuild *t)
{
        spec_free(t->spec);
        free(t->version);
        plan_clear(&t->plan);
        if (t->has_data)
                plan_clear(&t->data);
        tool_data_cleanup(t->data_tmp);
}

int context_load_tool(const Context *ctx, const char *name, Sysroot *root, const Plan *base_plan, ToolBuild *t,
                      bool with_data, ObError *err)
{
        ConfigRef ref = { 0 };
        int r = configs_find(ctx->configs, name, &ref, err);
        if (r < 0)
                return r;
        if (ref.tier != SPEC_TIER_TOOL) {
                r = ob_error_plain(err, EINVAL, "'%s' is not a tool config (it is the %s config %s)", name,
                                   spec_tier_name(ref.tier), ref.file);
                config_ref_clear(&ref);
                return r;
        }
        r = spec_load_tool(ref.file, &t->spec, err);
        if (r == 0)
                r = context_check_name(&ref, t->spec, err);
        config_ref_clear(&ref);
        if (r < 0)
                return r;
        r = tool_resolve_version(t->spec, root, &t->version, err);
        if (r < 0)
                return r;
        r = tool_plan(t->spec, root, base_plan, ctx->source_date_epoch, &t->plan, err);
        if (r < 0)
                return r;
        if (with_data && t->spec->has_data) {
                r = tool_data_plan(t->spec, ctx->source_date_epoch, &t->data, &t->data_tmp, err);
                if (r < 0)
                        return r;
                t->has_data = true;
        }
        return 0;
}


int context_names(const Context *ctx, SpecTier tier, char ***ret, ObError *err)
{
        const char *what = tier == SPEC_TIER_TOOL ? "tool" : "app";
        char **names = NULL;
        if (ctx->all) {
                if (ctx->args && ctx->args[0])
                        return ob_error_plain(err, EINVAL, "give %s names or --all, not both", what);
                ConfigRef *refs = NULL;
                size_t n = 0;
                int r = configs_list(ctx->configs, &refs, &n, err);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n; i++)
                        if (refs[i].tier == tier)
                                strv_push(&names, refs[i].name);
                configs_free(refs, n);
                if (!names)
                        return ob_error_plain(err, ENOENT, "no %s configs in '%s/%ss'", what, ctx->configs, what);
        } else {
                if (!ctx->args || !ctx->args[0])
                        return ob_error_plain(err, EINVAL, "%s needs NAME... or --all (see 'oci-build list %ss')", what,
                                              what);
                for (size_t i = 0; ctx->args[i]; i++)
                        if (!strv_contains(names, ctx->args[i]))
                                strv_push(&names, ctx->args[i]);
        }
        *ret = names;
        return 0;
}

int context_base_begin(const Context *ctx, BaseBuild *ret, ObError *err)
{
        int r;
        plan_init(&ret->plan);
        if ((r = configs_find(ctx->configs, "base", &ret->ref, err)) < 0 ||
            (r = context_load_spec(ctx, &ret->ref, &ret->spec, err)) < 0 ||
            (r = context_base_plan(ctx, ret->spec, &ret->plan, err)) < 0 ||
            (r = sysroot_open(ctx->sysroot, &ret->root, err)) < 0)
                return r;
        ret->created_by = xasprintf("oci-build %s: %s layer", OB_VERSION, ret->spec->name);
        return 0;
}

int context_base_layer(const Context *ctx, Layout *l, BaseBuild *b, OciLayerInfo *ret, ObError *err)
{
        LayerOptions lo = context_layer_options(ctx);
        *ret = (OciLayerInfo){ .created_by = b->created_by, .comment = b->spec->description };
        return layer_write(l, &b->plan, &lo, ret, err);
}

void base_build_clear(BaseBuild *b)
{
        sysroot_free(b->root);
        plan_clear(&b->plan);
        spec_free(b->spec);
        config_ref_clear(&b->ref);
        free(b->created_by);
        memset(b, 0, sizeof(*b));
}
