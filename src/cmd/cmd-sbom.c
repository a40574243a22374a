/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "cleanup-libs.h"
#include "cli.h"
#include "layer-facts.h"
#include "output.h"
#include "sbom-attach.h"
#include "sbom.h"
#include "util.h"

static int run(Context *ctx, ObError *err)
{
        _cleanup_(layout_closep) Layout *l = NULL;
        _cleanup_(output_freep) Output *out = NULL;
        _cleanup_json_ json_t *doc = NULL;
        struct stat st;

        if (strv_length(ctx->args) != 1)
                return ob_error_usage(err, "sbom takes exactly one NAME (see 'oci-build list')");
        if (stat(ctx->layout, &st) < 0)
                return ob_error_set(err, errno, "cannot read the OCI layout '%s' (name it with --layout)", ctx->layout);
        int r = output_open(ctx->output ? ctx->output : "-", 0666, /* flags= */ 0, &out, err);
        if (r < 0)
                return r;
        r = layout_open(ctx->layout, /* flags= */ 0, &l, err);
        if (r < 0)
                return r;
        /* The SBOM the build attached, else one made from the image (an
         * image built before SBOMs were attached, or copied in): the same
         * bytes, but for the downloads, which only the build knows. */
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        r = sbom_attached(l, ctx->args[0], &text, &size, err);
        if (r == -ENOENT) {
                /* The layers' facts cache spares reading them back. */
                _cleanup_(layer_facts_cache_freep) LayerFactsCache *facts =
                        ctx->no_cache ? NULL : layer_facts_cache_open_default();
                r = sbom_image(l, ctx->args[0], /* downloads= */ NULL, 0, ctx->source_date_epoch, facts, &doc, err);
                if (r < 0)
                        return r;
                text = sbom_text(doc);
                if (!text)
                        return ob_error_plain(err, ENOMEM, "cannot write the SPDX document");
                size = strlen(text);
        }
        if (r < 0)
                return r;
        r = output_write(out, text, size, err);
        if (r < 0)
                return r;
        return output_commit(out, err);
}

const Command command_sbom = {
        .name = "sbom",
        .synopsis = "NAME [-o FILE]",
        .summary = "write the SPDX 2.3 SBOM of a built image",
        .help = "Writes the SPDX 2.3 JSON document of the image NAME of the layout (--layout, default\n"
                "./oci) to FILE, or to standard output. It is read from the image itself: every regular\n"
                "file with its SHA1 and SHA256 and the layer that carries it, every layer, and every\n"
                "Debian package the image records in /var/lib/dpkg/status.d/ (with its purl and the\n"
                "files its md5sums name). Files no package owns are listed too. 'created' comes from\n"
                "SOURCE_DATE_EPOCH and the document namespace from the manifest digest, so the same\n"
                "image gives the same bytes. Every build stores this document in the layout beside the\n"
                "image (an OCI artifact named by the annotation org.oci-build.sbom of its descriptor),\n"
                "with the app's downloads as packages: that stored document is what is written.\n",
        .run = run,
        .output_is_file = true,
};
