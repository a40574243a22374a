/* SPDX-License-Identifier: MIT */
#include "cli.h"
#include "util.h"

static bool arg_all;

static const CommandOption options[] = {
        { "all", NULL, "every config of the tier" },
        { NULL },
};

static int set_option(const char *name, const char *value, ObError *err)
{
        arg_all = true;
        return 0;
}

static int run(Context *ctx, ObError *err)
{
        _cleanup_strv_ char **names = NULL;
        int r = context_names(ctx, SPEC_TIER_APP, arg_all, &names, err);
        if (r < 0)
                return r;
        return context_build(ctx, SPEC_TIER_APP, names, err);
}

const Command command_app = {
        .name = "app",
        .synopsis = "NAME... | --all",
        .summary = "build app images: base and tool layers + the app's layer",
        .help = "Builds each named app (configs/apps/NAME.yml): the base layer and the layers of the tools\n"
                "it names, byte-identical to those of the base and tool images, plus one layer with the\n"
                "app's artifacts (local files, or downloads verified against their sha256 pin and kept in\n"
                "a cache), after running the config's build steps on the host.\n",
        .options = options,
        .set_option = set_option,
        .run = run,
};
