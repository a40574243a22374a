/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "image.h"
#include "log.h"
#include "tool.h"
#include "util.h"

int cmd_tool(Context *ctx, ObError *err)
{
        _cleanup_strv_ char **names = NULL;
        BaseBuild base = { 0 };
        Layout *l = NULL;
        ToolBuild *tools = NULL;
        size_t n = 0;
        int r;

        r = context_names(ctx, SPEC_TIER_TOOL, &names, err);
        if (r < 0)
                return r;
        n = strv_length(names);
        tools = xcalloc(n, sizeof(ToolBuild));

        /* Every config, every source file and every data directory first:
         * bad input must not touch the layout. */
        if ((r = context_base_begin(ctx, &base, err)) < 0)
                goto out;
        for (size_t i = 0; i < n; i++) {
                ob_debug("planning %s", names[i]);
                r = context_load_tool(ctx, names[i], base.root, &base.plan, &tools[i], true, err);
                if (r < 0)
                        goto out;
        }

        r = layout_open(ctx->layout, LAYOUT_CREATE, &l, err);
        if (r < 0)
                goto out;

        LayerOptions lo = context_layer_options(ctx);
        OciLayerInfo base_layer;
        r = context_base_layer(ctx, l, &base, &base_layer, err);
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
                image_config_merge(&base.spec->config, &t->spec->config, &cfg);
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
        base_build_clear(&base);
        return r;
}
