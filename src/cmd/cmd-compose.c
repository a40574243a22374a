/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "cli.h"
#include "fs.h"
#include "image.h"
#include "log.h"
#include "util.h"

static bool arg_host_network;

static const CommandOption options[] = {
        { "host-network", NULL, "run every service with network_mode: host instead of mapping ports" },
        { NULL },
};

static int set_option(const char *name, const char *value, ObError *err)
{
        arg_host_network = true;
        return 0;
}

/* The image a compose service names: a config of ours (its save tag) or
 * any image reference. */
static int service_image(const Context *ctx, Sysroot *root, const char *image, char **ret, ObError *err)
{
        if (strchr(image, ':') || strchr(image, '/')) {
                *ret = xstrdup(image);
                return 0;
        }
        _cleanup_(spec_freep) Spec *s = NULL;
        _cleanup_free_ char *version = NULL;
        int r = build_load_config(ctx->configs, image, /* expect_tier= */ -1, &s, err);
        if (r < 0)
                return r;
        r = build_image_version(s, root, &version, err);
        if (r < 0)
                return r;
        *ret = image_default_tag(s->name, version);
        return 0;
}

static int run(Context *ctx, ObError *err)
{
        _cleanup_(spec_freep) Spec *app = NULL;
        _cleanup_(sysroot_freep) Sysroot *root = NULL;
        _cleanup_strv_ char **images = NULL;
        _cleanup_free_ char *tag = NULL, *text = NULL;
        int r;

        if (strv_length(ctx->args) != 1)
                return ob_error_plain(err, EINVAL, "compose takes exactly one APP (see 'oci-build list apps')");
        r = build_load_config(ctx->configs, ctx->args[0], SPEC_TIER_APP, &app, err);
        if (r < 0)
                return r;
        r = sysroot_open(ctx->sysroot, &root, err);
        if (r < 0)
                return r;
        images = xcalloc(app->n_services + 1, sizeof(char *));
        for (size_t i = 0; i < app->n_services; i++) {
                r = service_image(ctx, root, app->services[i].image, &images[i], err);
                if (r < 0)
                        return ob_error_wrap(err, "%s: compose service '%s': image '%s'", app->file,
                                             app->services[i].name, app->services[i].image);
        }
        tag = image_default_tag(app->name, app->version);
        ComposeOptions o = { .host_network = arg_host_network, .app_tag = tag, .service_images = images };
        text = app_compose(app, &o);
        if (!ctx->output || strcmp(ctx->output, "-") == 0) {
                if (fputs(text, stdout) < 0)
                        return ob_error_set(err, errno, "cannot write to standard output");
                return 0;
        }
        r = write_file_atomic(ctx->output, text, strlen(text), 0644, err);
        if (r < 0)
                return r;
        ob_info("wrote %s", ctx->output);
        return 0;
}

const Command command_compose = {
        .name = "compose",
        .synopsis = "APP [-o FILE] [--host-network]",
        .summary = "write a compose file for an app and its services",
        .help = "Writes a compose file (to FILE, or standard output) that runs APP beside the services its\n"
                "config names, with the image tags that 'oci-build save' gives, ports, environment,\n"
                "volumes, exec-form health checks and depends_on with condition service_healthy.\n",
        .options = options,
        .set_option = set_option,
        .run = run,
        .output_is_file = true,
};
