/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "log.h"
#include "output.h"
#include "save.h"
#include "util.h"

static void describe(const SavePlan *p, const char *output, uint64_t bytes, bool to_stdout)
{
        char size[32];
        for (size_t i = 0; i < p->n_images; i++) {
                const SaveImage *im = &p->images[i];
                _cleanup_free_ char *line = xasprintf("%s", im->name);
                for (size_t k = 0; k < im->n_refs; k++) {
                        char *n = xasprintf("%s %s", line, im->refs[k].familiar);
                        free(line);
                        line = n;
                }
                if (to_stdout)
                        ob_info("%s", line);
                else
                        printf("%s\n", line);
        }
        if (to_stdout)
                ob_info("%zu blobs, %s to standard output", p->n_blobs, format_size(bytes, size));
        else
                printf("%zu blobs, %s in %s\n", p->n_blobs, format_size(bytes, size), output);
}

static char **arg_tags;

static const CommandOption options[] = {
        { "tag", "NAME=REPO:TAG", "tag image NAME as REPO:TAG instead of the defaults (repeatable)" },
        {},
};

static int set_option(const char *name, const char *value, ObError *err)
{
        strv_push(&arg_tags, value);
        return 0;
}

static int run(Context *ctx, ObError *err)
{
        _cleanup_(layout_closep) Layout *l = NULL;
        _cleanup_(save_plan_freep) SavePlan *p = NULL;
        _cleanup_strv_ char **tags = TAKE_PTR(arg_tags);
        _cleanup_(output_freep) Output *out = NULL;
        uint64_t bytes = 0;
        struct stat st;
        int r;

        if (!ctx->args || !ctx->args[0])
                return ob_error_usage(err, "save needs the names of the images to save (see 'oci-build save --help')");
        if (!ctx->output || !*ctx->output)
                return ob_error_usage(err, "save needs -o FILE.tar, or -o - for standard output");
        /* The archive goes to a temporary file beside a regular FILE and is
         * renamed over it only when complete and on disk: a failed or
         * interrupted save never leaves a partial FILE.tar that docker load
         * would choke on later. Opened first: a closed standard output
         * would hand descriptor 1 to the next open(). */
        r = output_open(ctx->output, 0666, OUTPUT_NO_TERMINAL, &out, err);
        if (r < 0)
                return r;
        if (stat(ctx->layout, &st) < 0)
                return ob_error_set(err, errno, "cannot read the OCI layout '%s' (name it with --layout)", ctx->layout);
        r = layout_open(ctx->layout, /* flags= */ 0, &l, err);
        if (r < 0)
                return r;
        Platform platform;
        r = ctx->platform ? platform_parse(ctx->platform, &platform, err) : 0;
        if (r < 0)
                return r;
        r = save_plan_for(l, ctx->args, tags, ctx->platform ? &platform : NULL, &p, err);
        if (r < 0)
                return r;
        r = save_plan_write(p, ctx->source_date_epoch, out->fd, &bytes, err);
        if (r < 0)
                return ob_error_wrap(err, "cannot write %s", out->what);
        r = output_commit(out, err);
        if (r < 0)
                return r;
        bool to_stdout = output_is_stdout(out);
        if (ob_verbosity >= 0)
                describe(p, ctx->output, bytes, to_stdout);
        return 0;
}

const Command command_save = {
        .name = "save",
        .synopsis = "NAME... -o FILE.tar [--tag NAME=REPO:TAG]...",
        .summary = "write images to a tar for docker load / podman load",
        .help = "Writes the named images of the layout (--layout, default ./oci) to FILE.tar ('-' for\n"
                "standard output): an OCI layout (oci-layout, index.json, blobs/) plus Docker's\n"
                "manifest.json, the form that 'docker load', 'podman load' and skopeo's docker-archive:\n"
                "and oci-archive: transports all read. Images sharing layers share blobs. Each image is\n"
                "tagged distroless-NAME:VERSION and distroless-NAME:latest unless --tag NAME=REPO:TAG\n"
                "gives its tags. The same layout gives the same bytes.\n",
        .options = options,
        .set_option = set_option,
        .run = run,
        .output_is_file = true,
};
