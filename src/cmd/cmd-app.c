/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "cli.h"
#include "compose.h"
#include "config.h"
#include "fs.h"
#include "log.h"
#include "tool.h"
#include "util.h"

typedef struct AppBuild {
        Spec *spec;
        ToolBuild *tools;
        size_t n_tools;
        Plan plan;
} AppBuild;

static void app_build_clear(AppBuild *a)
{
        for (size_t i = 0; i < a->n_tools; i++)
                tool_build_clear(&a->tools[i]);
        free(a->tools);
        plan_clear(&a->plan);
        spec_free(a->spec);
}

int context_load_app(const Context *ctx, const char *name, Spec **ret, ObError *err)
{
        ConfigRef ref = { 0 };
        int r = configs_find(ctx->configs, name, &ref, err);
        if (r < 0)
                return r;
        if (ref.tier != SPEC_TIER_APP)
                r = ob_error_plain(err, EINVAL, "'%s' is not an app config (it is the %s config %s)", name,
                                   spec_tier_name(ref.tier), ref.file);
        else if ((r = spec_load_app(ref.file, ret, err)) == 0 && (r = context_check_name(&ref, *ret, err)) < 0) {
                spec_free(*ret);
                *ret = NULL;
        }
        config_ref_clear(&ref);
        return r;
}

static int load_app(const Context *ctx, const char *name, const BaseBuild *base, AppBuild *a, ObError *err)
{
        Sysroot *root = base->root;
        const Plan *base_plan = &base->plan;
        int r = context_load_app(ctx, name, &a->spec, err);
        if (r < 0)
                return r;
        /* The user the image runs as is the app's, else the base's: the
         * data directory must belong to that one. */
        if (!a->spec->config.user && base->spec->config.user)
                a->spec->config.user = xstrdup(base->spec->config.user);
        const Spec *s = a->spec;
        a->n_tools = strv_length(s->tools);
        a->tools = xcalloc(a->n_tools + 1, sizeof(ToolBuild));
        for (size_t i = 0; i < a->n_tools; i++) {
                ConfigRef ref = { 0 };
                ObError ignore;
                bool is_tool = configs_find(ctx->configs, s->tools[i], &ref, &ignore) == 0 && ref.tier == SPEC_TIER_TOOL;
                config_ref_clear(&ref);
                if (!is_tool) {
                        _cleanup_strv_ char **tools = NULL;
                        Context all = *ctx;
                        all.all = true;
                        all.args = NULL;
                        _cleanup_free_ char *list = NULL;
                        if (context_names(&all, SPEC_TIER_TOOL, &tools, &ignore) == 0)
                                list = strv_join(tools, ", ");
                        return ob_error_plain(err, ENOENT, "%s: tools: '%s' is not a tool config (tools: %s)", s->file,
                                              s->tools[i], list ? list : "none");
                }
                r = context_load_tool(ctx, s->tools[i], root, base_plan, &a->tools[i], false, err);
                if (r < 0)
                        return ob_error_wrap(err, "%s: tools: '%s'", s->file, s->tools[i]);
        }
        r = app_run_build(s, err);
        if (r < 0)
                return r;
        r = app_plan(s, root, oci_arch(), ctx->source_date_epoch, true, &a->plan, err);
        if (r < 0)
                return r;
        const Plan **layers = xcalloc(a->n_tools + 2, sizeof(Plan *));
        size_t n = 0;
        layers[n++] = base_plan;
        for (size_t i = 0; i < a->n_tools; i++)
                layers[n++] = &a->tools[i].plan;
        layers[n++] = &a->plan;
        r = app_check_health(s, layers, n, err);
        free(layers);
        return r;
}

int cmd_app(Context *ctx, ObError *err)
{
        _cleanup_strv_ char **names = NULL;
        BaseBuild base = { 0 };
        Layout *l = NULL;
        AppBuild *apps = NULL;
        size_t n = 0;
        int r;

        r = context_names(ctx, SPEC_TIER_APP, &names, err);
        if (r < 0)
                return r;
        n = strv_length(names);
        apps = xcalloc(n, sizeof(AppBuild));

        if ((r = context_base_begin(ctx, &base, err)) < 0)
                goto out;
        for (size_t i = 0; i < n; i++) {
                r = load_app(ctx, names[i], &base, &apps[i], err);
                if (r < 0)
                        goto out;
        }

        r = layout_open(ctx->layout, LAYOUT_CREATE, &l, err);
        if (r < 0)
                goto out;
        LayerOptions lo = context_layer_options(ctx);
        OciLayerInfo base_layer;
        r = context_base_layer(ctx, l, &base, &base_layer, err);
        if (r < 0)
                goto fail;

        for (size_t i = 0; i < n; i++) {
                AppBuild *a = &apps[i];
                size_t n_layers = 0;
                OciLayerInfo *layers = xcalloc(a->n_tools + 2, sizeof(OciLayerInfo));
                char **bys = xcalloc(a->n_tools + 2, sizeof(char *));
                layers[n_layers++] = base_layer;
                SpecImageConfig cfg, merged;
                tool_image_config(&base.spec->config, &(SpecImageConfig){ 0 }, &cfg);
                for (size_t k = 0; k < a->n_tools && r == 0; k++) {
                        ToolBuild *t = &a->tools[k];
                        bys[k] = xasprintf("oci-build %s: %s layer", OB_VERSION, t->spec->name);
                        layers[n_layers] = (OciLayerInfo){ .created_by = bys[k], .comment = t->spec->description };
                        r = layer_write(l, &t->plan, &lo, &layers[n_layers], err);
                        n_layers++;
                        /* The tools' environment (NODE_EXTRA_CA_CERTS, PATH) is the app's too. */
                        SpecImageConfig env_only = { .env = t->spec->config.env };
                        tool_image_config(&cfg, &env_only, &merged);
                        spec_image_config_clear(&cfg);
                        cfg = merged;
                }
                bys[a->n_tools] = xasprintf("oci-build %s: %s app layer", OB_VERSION, a->spec->name);
                if (r == 0) {
                        layers[n_layers] = (OciLayerInfo){ .created_by = bys[a->n_tools],
                                                           .comment = a->spec->description };
                        r = layer_write(l, &a->plan, &lo, &layers[n_layers], err);
                        n_layers++;
                }
                if (r == 0) {
                        tool_image_config(&cfg, &a->spec->config, &merged);
                        ImageBuild b = { .name = a->spec->name, .version = a->spec->version,
                                         .description = a->spec->description, .config = &merged, .layers = layers,
                                         .n_layers = n_layers, .created = ctx->source_date_epoch };
                        ImageResult res;
                        r = image_write(l, &b, &res, err);
                        spec_image_config_clear(&merged);
                        char size[32], app_size[32];
                        if (r == 0 && ob_verbosity >= 0)
                                printf("%s %s %s (%zu layers, %s; app layer %s)\n", a->spec->name, res.manifest_digest,
                                       ctx->layout, n_layers, format_size(res.total_size, size),
                                       format_size(layers[n_layers - 1].size, app_size));
                }
                spec_image_config_clear(&cfg);
                for (size_t k = 0; k <= a->n_tools; k++)
                        free(bys[k]);
                free(bys);
                free(layers);
                if (r < 0)
                        goto fail;
        }
        r = layout_commit(l, err);
        if (r == 0)
                goto out;
fail:
        layout_rollback(l);
out:
        layout_close(l);
        for (size_t i = 0; i < n; i++)
                app_build_clear(&apps[i]);
        free(apps);
        base_build_clear(&base);
        return r;
}

/* The image a compose service names: a config of ours (its save tag) or
 * any image reference. */
static int service_image(const Context *ctx, Sysroot *root, const char *image, char **ret, ObError *err)
{
        if (strchr(image, ':') || strchr(image, '/')) {
                *ret = xstrdup(image);
                return 0;
        }
        ConfigRef ref = { 0 };
        Spec *s = NULL;
        _cleanup_free_ char *version = NULL;
        int r = configs_find(ctx->configs, image, &ref, err);
        if (r == 0)
                r = ref.tier == SPEC_TIER_APP ? spec_load_app(ref.file, &s, err) : context_load_spec(ctx, &ref, &s, err);
        if (r == 0)
                r = ref.tier == SPEC_TIER_TOOL ? tool_resolve_version(s, root, &version, err)
                                               : (version = xstrdup(s->version), 0);
        if (r == 0)
                *ret = image_default_tag(s->name, version);
        spec_free(s);
        config_ref_clear(&ref);
        return r;
}

int cmd_compose(Context *ctx, ObError *err)
{
        Spec *app = NULL;
        Sysroot *root = NULL;
        char **images = NULL;
        _cleanup_free_ char *tag = NULL, *text = NULL;
        int r;

        if (strv_length(ctx->args) != 1)
                return ob_error_plain(err, EINVAL, "compose takes exactly one APP (see 'oci-build list apps')");
        if ((r = context_load_app(ctx, ctx->args[0], &app, err)) < 0)
                return r;
        if ((r = sysroot_open(ctx->sysroot, &root, err)) < 0)
                goto out;
        images = xcalloc(app->n_services + 1, sizeof(char *));
        for (size_t i = 0; i < app->n_services; i++) {
                r = service_image(ctx, root, app->services[i].image, &images[i], err);
                if (r < 0) {
                        ob_error_wrap(err, "%s: compose service '%s': image '%s'", app->file, app->services[i].name,
                                      app->services[i].image);
                        goto out;
                }
        }
        tag = image_default_tag(app->name, app->version);
        ComposeOptions o = { .host_network = ctx->host_network, .app_tag = tag, .service_images = images };
        text = compose_render(app, &o);
        if (!ctx->output || strcmp(ctx->output, "-") == 0) {
                if (fputs(text, stdout) < 0)
                        r = ob_error_set(err, errno, "cannot write to standard output");
        } else {
                r = write_file_atomic(ctx->output, text, strlen(text), 0644, err);
                if (r == 0)
                        ob_info("wrote %s", ctx->output);
        }
out:
        strv_free(images);
        sysroot_free(root);
        spec_free(app);
        return r;
}
