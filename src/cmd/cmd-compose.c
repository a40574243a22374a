/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "cli.h"
#include "compose.h"
#include "fs.h"
#include "image.h"
#include "log.h"
#include "output.h"
#include "util.h"

static bool arg_host_network;
static const char *arg_listen;

static const CommandOption options[] = {
        { "host-network", NULL, "run every service with network_mode: host instead of mapping ports" },
        { "listen", "ADDR", "publish ports on ADDR (default " COMPOSE_DEFAULT_LISTEN "; 0.0.0.0: every interface)" },
        { "publish-all", NULL, "the same as --listen 0.0.0.0: reachable from other hosts" },
        {},
};

static int set_option(const char *name, const char *value, ObError *err)
{
        if (strcmp(name, "host-network") == 0)
                arg_host_network = true;
        else if (strcmp(name, "publish-all") == 0)
                arg_listen = "0.0.0.0";
        else {
                if (!compose_valid_listen(value))
                        return ob_error_plain(err, EINVAL, "--listen: '%s' is not an IPv4 address", value);
                arg_listen = value;
        }
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
        _cleanup_(output_freep) Output *out = NULL;
        int r;

        if (strv_length(ctx->args) != 1)
                return ob_error_usage(err, "compose takes exactly one APP (see 'oci-build list apps')");
        r = build_load_config(ctx->configs, ctx->args[0], SPEC_TIER_APP, &app, err);
        if (r < 0)
                return r;
        r = compose_check(app, err);
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
        ComposeOptions o = { .host_network = arg_host_network,
                             .listen = arg_listen,
                             .app_tag = tag,
                             .service_images = images };
        text = compose_render(app, &o);
        r = output_open(ctx->output ? ctx->output : "-", 0644, /* flags= */ 0, &out, err);
        if (r < 0)
                return r;
        if ((r = output_write(out, text, strlen(text), err)) < 0 || (r = output_commit(out, err)) < 0)
                return r;
        if (!output_is_stdout(out))
                ob_info("wrote %s", ctx->output);
        return 0;
}

const Command command_compose = {
        .name = "compose",
        .synopsis = "APP [-o FILE] [--host-network] [--listen ADDR | --publish-all]",
        .summary = "write a compose file for an app and its services",
        .help = "Writes a compose file (to FILE, or standard output) that runs APP beside the services its\n"
                "config names, with the image tags that 'oci-build save' gives, ports, environment,\n"
                "volumes, exec-form health checks and depends_on with condition service_healthy.\n"
                "\n"
                "The stack stays on this host unless told otherwise: ports are published as\n"
                "127.0.0.1:PORT:PORT (--listen ADDR or --publish-all to bind elsewhere). With\n"
                "--host-network, where services cannot reach one another by name, the app's\n"
                "environment names them by 127.0.0.1 instead (DB_HOST=db becomes 127.0.0.1,\n"
                "postgres://u:p@db:5432/x becomes postgres://u:p@127.0.0.1:5432/x, and the\n"
                "default of ${DB_HOST:-db} likewise), and a value that binds every address\n"
                "(0.0.0.0, postgres' *), in the environment or a service's command, binds\n"
                "127.0.0.1 (or --listen ADDR), so the file runs as written.\n"
                "FILE may be a new or regular file (replaced whole when complete), '-', a\n"
                "character device or a FIFO (written as a stream); anything else is refused.\n",
        .options = options,
        .set_option = set_option,
        .run = run,
        .output_is_file = true,
};
