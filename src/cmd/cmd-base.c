/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include "cli.h"
#include "log.h"
#include "util.h"

int cmd_base(Context *ctx, ObError *err)
{
        ConfigRef ref = { 0 };
        Spec *spec = NULL;
        Layout *l = NULL;
        ImageResult res;
        Plan plan;
        int r;

        plan_init(&plan);

        /* Everything that can be checked without touching the layout is
         * checked first, so bad input leaves the output alone. */
        r = configs_find(ctx->configs, "base", &ref, err);
        if (r < 0)
                return r;
        r = context_load_spec(ctx, &ref, &spec, err);
        if (r < 0)
                goto out;
        r = context_base_plan(ctx, spec, &plan, err);
        if (r < 0)
                goto out;
        r = layout_open(ctx->layout, LAYOUT_CREATE, &l, err);
        if (r < 0)
                goto out;
        r = context_build_base(ctx, l, spec, &plan, &res, err);
        if (r == 0)
                r = layout_commit(l, err);
        if (r < 0) {
                layout_rollback(l);
                goto out;
        }
        char size[32];
        if (ob_verbosity >= 0)
                printf("%s %s %s (%s)\n", spec->name, res.manifest_digest, ctx->layout,
                       format_size(res.total_size, size));
out:
        plan_clear(&plan);
        layout_close(l);
        spec_free(spec);
        config_ref_clear(&ref);
        return r;
}
