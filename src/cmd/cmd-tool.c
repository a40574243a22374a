/* SPDX-License-Identifier: MIT */
#include "cli.h"

static int run(Context *ctx, ObError *err)
{
        return context_build_tier(ctx, SPEC_TIER_TOOL, err);
}

const Command command_tool = {
        .name = "tool",
        .synopsis = "NAME... | --all",
        .summary = "build tool images: base layer + the tool's own layer",
        .help = "Builds each named tool (configs/tools/NAME.yml) as the base layer, byte-identical to the\n"
                "base image's, plus one layer with the tool's binaries, the shared libraries they need\n"
                "(read from their ELF files, never by running them) and the files the config names;\n"
                "postgres gets a third layer with its data directory, made at build time. A tool that is\n"
                "not installed in the sysroot is an error that names the Debian package to install.\n"
                "A release tool (a config with 'artifacts': node24, go125) is downloaded, verified and\n"
                "unpacked instead; --all builds only the tools of the sysroot, which need no network, and\n"
                "release tools are built by name.\n",
        .options = tier_options,
        .set_option = tier_set_option,
        .run = run,
};
