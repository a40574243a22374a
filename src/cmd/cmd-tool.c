/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "tool.h"
#include "util.h"

/* The names to build: the operands, or every tool config with --all. */
static int tool_names(Context *ctx, char ***ret, ObError *err)
{
        char **names = NULL;
        if (ctx->all) {
                if (ctx->args && ctx->args[0])
                        return ob_error_plain(err, EINVAL, "give tool names or --all, not both");
                ConfigRef *refs = NULL;
                size_t n = 0;
                int r = configs_list(ctx->configs, &refs, &n, err);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n; i++)
                        if (refs[i].tier == SPEC_TIER_TOOL)
                                strv_push(&names, refs[i].name);
                configs_free(refs, n);
                if (!names)
                        return ob_error_plain(err, ENOENT, "no tool configs in '%s/tools'", ctx->configs);
        } else {
                if (!ctx->args || !ctx->args[0])
                        return ob_error_plain(err, EINVAL, "tool needs NAME... or --all (see 'oci-build list tools')");
                for (size_t i = 0; ctx->args[i]; i++)
                        if (!strv_contains(names, ctx->args[i]))
                                strv_push(&names, ctx->args[i]);
        }
        *ret = names;
        return 0;
}

int cmd_tool(Context *ctx, ObError *err)
{
        _cleanup_strv_ char **names = NULL;
        _cleanup_free_ char *base_by = NULL;
        ConfigRef base_ref = { 0 };
        Spec *base = NULL;
        Plan base_plan;
        Sysroot *root = NULL;
        Layout *l = NULL;
        ToolBuild *tools = NULL;
        size_t n = 0;
        int r;

        plan_init(&base_plan);
        r = tool_names(ctx, &names, err);
        if (r < 0)
                return r;
        n = strv_length(names);
        tools = xcalloc(n, sizeof(ToolBuild));

        /* Every config, every source file and every data directory first:
         * bad input must not touch the layout. */
        if ((r = configs_find(ctx->configs, "base", &base_ref, err)) < 0 ||
            (r = context_load_spec(ctx, &base_ref, &base, err)) < 0 ||
            (r = context_base_plan(ctx, base, &base_plan, err)) < 0 || (r = sysroot_open(ctx->sysroot, &root, err)) < 0)
                goto out;
        for (size_t i = 0; i < n; i++) {
                ob_debug("planning %s", names[i]);
                r = context_load_tool(ctx, names[i], root, &base_plan, &tools[i], true, err);
                if (r < 0)
                        goto out;
        }

        r = layout_open(ctx->layout, LAYOUT_CREATE, &l, err);
        if (r < 0)
                goto out;

        LayerOptions lo = context_layer_options(ctx);
        base_by = xasprintf("oci-build %s: %s layer", OB_VERSION, base->name);
        OciLayerInfo base_layer = { .created_by = base_by, .comment = base->description };
        r = layer_write(l, &base_plan, &lo, &base_layer, err);
        if (r < 0)
                goto fail;

        for (size_t i = 0; i < n; i++) {
                ToolBuild *t = &tools[i];
                _cleanup_free_ char *by = xasprintf("oci-build %s: %s layer", OB_VERSION, t->spec->name);
                _cleanup_free_ char *data_by = xasprintf("oci-build %s: %s data layer (made by %s)", OB_VERSION,
                                                         t->spec->name,
                                                         t->has_data ? t->spec->data.command[0] : "");
                OciLayerInfo layers[3] = { base_layer };
                size_t n_layers = 1;
                layers[n_layers] = (OciLayerInfo){ .created_by = by, .comment = t->spec->description };
                r = layer_write(l, &t->plan, &lo, &layers[n_layers], err);
                if (r < 0)
                        goto fail;
                n_layers++;
                if (t->has_data) {
                        layers[n_layers] = (OciLayerInfo){ .created_by = data_by,
                                                           .comment = "not reproducible: made by a program at build time" };
                        r = layer_write(l, &t->data, &lo, &layers[n_layers], err);
                        if (r < 0)
                                goto fail;
                        n_layers++;
                }
                SpecImageConfig cfg;
                tool_image_config(&base->config, &t->spec->config, &cfg);
                ImageBuild b = { .name = t->spec->name, .version = t->version, .description = t->spec->description,
                                 .config = &cfg, .layers = layers, .n_layers = n_layers,
                                 .created = ctx->source_date_epoch };
                ImageResult res;
                r = image_write(l, &b, &res, err);
                spec_image_config_clear(&cfg);
                if (r < 0)
                        goto fail;
                char size[32], tool_size[32];
                if (ob_verbosity >= 0)
                        printf("%s %s %s (%zu layers, %s; tool layer %s, %zu files)\n", t->spec->name,
                               res.manifest_digest, ctx->layout, n_layers, format_size(res.total_size, size),
                               format_size(layers[1].size, tool_size), t->plan.n);
        }
        r = layout_commit(l, err);
        if (r == 0)
                goto out;
fail:
        layout_rollback(l);
out:
        layout_close(l);
        for (size_t i = 0; i < n; i++)
                tool_build_clear(&tools[i]);
        free(tools);
        sysroot_free(root);
        plan_clear(&base_plan);
        spec_free(base);
        config_ref_clear(&base_ref);
        return r;
}
