/* SPDX-License-Identifier: MIT */
#include "cli.h"

static int run(Context *ctx, ObError *err)
{
        return context_build(ctx, SPEC_TIER_BASE, /* names= */ NULL, err);
}

const Command command_base = {
        .name = "base",
        .synopsis = "",
        .summary = "build the distroless base image into the layout",
        .help = "Builds the base image from CONFIGS/base.yml: CA certificates and time zones from the\n"
                "sysroot, the static files of rootfs/, /etc/passwd and /etc/group from the config's\n"
                "users and groups, /tmp, /root and /home/nonroot. The image is named 'base' in\n"
                "OUTPUT/index.json; an image of that name is replaced.\n",
        .run = run,
};
