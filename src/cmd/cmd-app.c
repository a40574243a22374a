/* SPDX-License-Identifier: MIT */
#include "cli.h"

static int run(Context *ctx, ObError *err)
{
        return context_build_tier(ctx, SPEC_TIER_APP, err);
}

const Command command_app = {
        .name = "app",
        .synopsis = "NAME... | --all",
        .summary = "build app images: base and tool layers + the app's layer",
        .help = "Builds each named app (configs/apps/NAME.yml): the base layer and the layers of the tools\n"
                "it names, byte-identical to those of the base and tool images, plus one layer with the\n"
                "app's artifacts (local files, or downloads verified against their sha256 pin and kept in\n"
                "a cache), after running the config's build steps on the host. A step runs again only\n"
                "when what decides it changed: the files under its 'inputs' and 'outputs' when it names\n"
                "them (npm ci: package.json, package-lock.json, vendor; node_modules), else under its\n"
                "'workdir' (docs/configs.md, build steps).\n",
        .options = tier_options,
        .set_option = tier_set_option,
        .run = run,
};
