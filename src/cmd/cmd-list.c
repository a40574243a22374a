/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "platform.h"
#include "configs.h"
#include "path.h"
#include "util.h"

static int tier_from_arg(const char *a, SpecTier *ret, ObError *err)
{
        if (strcmp(a, "base") == 0)
                *ret = SPEC_TIER_BASE;
        else if (strcmp(a, "tools") == 0 || strcmp(a, "tool") == 0)
                *ret = SPEC_TIER_TOOL;
        else if (strcmp(a, "apps") == 0 || strcmp(a, "app") == 0)
                *ret = SPEC_TIER_APP;
        else
                return ob_error_usage(err, "unknown tier '%s' (expected base, tools or apps)", a);
        return 0;
}

static int run(Context *ctx, ObError *err)
{
        ConfigRef *refs = NULL;
        size_t n = 0;
        SpecTier only = SPEC_TIER_BASE;
        bool filter = false;
        int r;

        if (strv_length(ctx->args) > 1)
                return ob_error_usage(err, "list takes at most one tier (base, tools or apps)");
        if (ctx->args && ctx->args[0]) {
                r = tier_from_arg(ctx->args[0], &only, err);
                if (r < 0)
                        return r;
                filter = true;
        }
        r = configs_list(ctx->configs, &refs, &n, err);
        if (r < 0)
                return r;

        /* Which images are already in the layout, if there is one. */
        _cleanup_strv_ char **built = NULL;
        _cleanup_free_ char *marker = path_join(ctx->layout, "oci-layout");
        _cleanup_(layout_closep) Layout *l = NULL;
        if (access(marker, F_OK) == 0) {
                ObError ignore;
                if (layout_open(ctx->layout, /* flags= */ 0, &l, &ignore) == 0)
                        built = layout_index_names(l);
        }

        printf("%-6s %-16s %-6s %s\n", "TIER", "NAME", "BUILT", "CONFIG");
        for (size_t i = 0; i < n; i++) {
                if (filter && refs[i].tier != only)
                        continue;
                bool is_built = strv_contains(built, refs[i].name);
                /* The architectures of a built image, after the config. */
                _cleanup_free_ char *archs = NULL;
                _cleanup_free_ Platform *platforms = NULL;
                size_t n_platforms = 0;
                ObError ignore;
                if (is_built && platform_list(l, refs[i].name, &platforms, &n_platforms, &ignore) == 0)
                        for (size_t k = 0; k < n_platforms; k++) {
                                char *next =
                                        xasprintf("%s%s%s", archs ? archs : "", archs ? "," : "", platforms[k].arch);
                                free(archs);
                                archs = next;
                        }
                printf("%-6s %-16s %-6s %s%s%s\n", spec_tier_name(refs[i].tier), refs[i].name, is_built ? "yes" : "no",
                       refs[i].file, archs ? " " : "", archs ? archs : "");
        }
        configs_free(refs, n);
        return 0;
}

const Command command_list = {
        .name = "list",
        .synopsis = "[base|tools|apps]",
        .summary = "list the configs found, and which are built",
        .help = "Lists every config under CONFIGS (base.yml, tools/*.yml, apps/*.yml), and whether an\n"
                "image of that name is in the layout (--layout, default ./oci), and for a built image\n"
                "the architectures it has (one, or each of its image index).\n",
        .run = run,
};
