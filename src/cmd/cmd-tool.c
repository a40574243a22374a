/* SPDX-License-Identifier: MIT */
#include <string.h>

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
        int r = context_names(ctx, SPEC_TIER_TOOL, arg_all, &names, err);
        if (r < 0)
                return r;
        return context_build(ctx, SPEC_TIER_TOOL, names, err);
}

const Command command_tool = {
        .name = "tool",
        .synopsis = "NAME... | --all",
        .summary = "build tool images: base layer + the tool's own layer",
        .help = "Builds each named tool (configs/tools/NAME.yml) as the base layer, byte-identical to the\n"
                "base image's, plus one layer with the tool's binaries, the shared libraries they need\n"
                "(read from their ELF files, never by running them) and the files the config names;\n"
                "postgres gets a third layer with its data directory, made at build time. A tool that is\n"
                "not installed in the sysroot is an error that names the Debian package to install.\n",
        .options = options,
        .set_option = set_option,
        .run = run,
};
