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

int context_load_spec(const Context *ctx, const ConfigRef *ref, Spec **ret, ObError *err)
{
        switch (ref->tier) {
        case SPEC_TIER_BASE:
                return spec_load_base(ref->file, OB_VERSION, ret, err);
        case SPEC_TIER_TOOL:
                return spec_load_tool(ref->file, ret, err);
        case SPEC_TIER_APP:
                return spec_load_app(ref->file, ret, err);
        }
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

