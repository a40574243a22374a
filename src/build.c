/* SPDX-License-Identifier: MIT */
#include "build.h"

#include <errno.h>
#include <malloc.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "config.h"
#include "configs.h"
#include "image.h"
#include "journal.h"
#include "layer-facts.h"
#include "log.h"
#include "oci.h"
#include "pkgdb.h"
#include "sbom-attach.h"
#include "platform.h"
#include "step-cache.h"
#include "tool.h"

typedef struct BuildTool {
        Spec *spec;
        char *version;
        char *debian_version; /* the package's full version, when the image has its (tag-safe) form */
        Plan plan;
        bool data_planned;  /* the data command ran and its layer is planned */
        ToolData *data_run; /* the data command, started: finished when its layer is written */
        Plan data;
        char *data_tmp;   /* the data command's output, removed with the Build */
        bool data_keyed;  /* data_key names the data layer's inputs (step-cache.h) */
        bool data_cached; /* data_info is the layer the step cache has for them */
        LayerKey data_key;
        OciLayerInfo data_info;
} BuildTool;

/* One of an app's build steps in this run. */
typedef struct BuildAppStep {
        bool ran;                /* it ran */
        struct timespec started; /* when it started (CLOCK_REALTIME) */
        bool keyed;              /* key names what it read and left, as planned */
        LayerKey key;
} BuildAppStep;

typedef struct BuildApp {
        Spec *spec;
        size_t *tools; /* indices into Build.tools, in the config's order */
        size_t n_tools;
        Plan plan;
        BuildAppStep *steps; /* beside spec->build */
} BuildApp;

/* An image to write: the base image, tools[index] or apps[index]. */
typedef struct BuildImage {
        SpecTier tier;
        size_t index;
} BuildImage;

/* A layer written in this run, so that images sharing it write it once. */
typedef struct WrittenLayer {
        char *key; /* "base", "tool:NAME", "data:NAME", "app:NAME" */
        char *created_by;
        OciLayerInfo info; /* created_by points at the string above */
} WrittenLayer;

struct Build {
        BuildOptions o;
        /* The image being written, for progress. */
        const char *current;
        size_t current_layer, current_layers;
        double current_start;
        Spec *base;
        Plan base_plan;
        Sysroot *root;
        Pkgdb *pkgdb; /* NULL for a sysroot without a dpkg database, or once written */
        bool has_pkgdb;
        PlatformChoice platform; /* of every image of the run: they share the base layer */
        BuildTool *tools;
        size_t n_tools;
        BuildApp *apps;
        size_t n_apps;
        BuildImage *images;
        size_t n_images;
        BuildResult *results;
        WrittenLayer *written;
        size_t n_written;
        char **missing_packages; /* of tools that build_add() could not plan for want of them */
        char **missing_tools;    /* "NAME (PACKAGE)", for the message */
        char *missing_msg;       /* the first such failure's own message */
        LayerFactsCache *facts;  /* opened here, owned: o.layer.facts */
};

static void build_tool_clear(BuildTool *t)
{
        spec_free(t->spec);
        free(t->version);
        free(t->debian_version);
        plan_clear(&t->plan);
        plan_clear(&t->data);
        tool_data_abandon(t->data_run);
        tool_data_cleanup(t->data_tmp);
}

static void build_app_clear(BuildApp *a)
{
        spec_free(a->spec);
        free(a->tools);
        free(a->steps);
        plan_clear(&a->plan);
}

void build_free(Build *b)
{
        if (!b)
                return;
        for (size_t i = 0; i < b->n_tools; i++)
                build_tool_clear(&b->tools[i]);
        free(b->tools);
        for (size_t i = 0; i < b->n_apps; i++)
                build_app_clear(&b->apps[i]);
        free(b->apps);
        for (size_t i = 0; i < b->n_written; i++) {
                free(b->written[i].key);
                free(b->written[i].created_by);
        }
        free(b->written);
        strv_free(b->missing_packages);
        strv_free(b->missing_tools);
        free(b->missing_msg);
        free(b->images);
        free(b->results);
        plan_clear(&b->base_plan);
        spec_free(b->base);
        pkgdb_free(b->pkgdb);
        sysroot_free(b->root);
        platform_choice_clear(&b->platform);
        layer_facts_cache_free(b->facts);
        free(b);
}

/* Configs are found by file name and images named by 'name': the two must
 * agree, or `tool X` would build an image that `test X` cannot find. */
static int check_name(const ConfigRef *ref, const Spec *spec, ObError *err)
{
        /* base.yml is found by its fixed name; the image it makes may be
         * named otherwise (a variant of the base). */
        if (ref->tier == SPEC_TIER_BASE || strcmp(spec->name, ref->name) == 0)
                return 0;
        /* a file name may hold anything: it is quoted as the terminal can show it */
        char file[1024], name[512];
        return ob_error_plain(err, EINVAL, "%s: 'name' is '%s' but the file is %s.yml: they must be the same",
                              ob_escape(ref->file, file, sizeof(file)), spec->name,
                              ob_escape(ref->name, name, sizeof(name)));
}

static int load_ref(const ConfigRef *ref, Spec **ret, ObError *err)
{
        _cleanup_(spec_freep) Spec *spec = NULL;
        int r = -EINVAL;
        switch (ref->tier) {
        case SPEC_TIER_BASE:
                r = spec_load_base(ref->file, /* default_version= */ OB_VERSION, &spec, err);
                break;
        case SPEC_TIER_TOOL:
                r = spec_load_tool(ref->file, &spec, err);
                break;
        case SPEC_TIER_APP:
                r = spec_load_app(ref->file, &spec, err);
                break;
        }
        if (r < 0)
                return r;
        r = check_name(ref, spec, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(spec);
        return 0;
}

int build_load_config(const char *configs, const char *name, int expect_tier, Spec **ret, ObError *err)
{
        _cleanup_(config_ref_clear) ConfigRef ref = { 0 };
        int r = configs_find(configs, name, &ref, err);
        if (r < 0)
                return r;
        if (expect_tier >= 0 && ref.tier != (SpecTier) expect_tier)
                return ob_error_plain(err, EINVAL, "'%s' is not %s config (it is the %s config %s)", name,
                                      expect_tier == SPEC_TIER_APP ? "an app" : "a tool", spec_tier_name(ref.tier),
                                      ref.file);
        return load_ref(&ref, ret, err);
}

int build_image_version(const Spec *spec, Sysroot *root, char **ret, ObError *err)
{
        if (spec->tier == SPEC_TIER_TOOL)
                return tool_resolve_version(spec, root, ret, /* ret_debian_version= */ NULL, err);
        *ret = xstrdup(spec->version);
        return 0;
}

int build_new(const BuildOptions *o, Build **ret, ObError *err)
{
        _cleanup_(build_freep) Build *b = xcalloc(1, sizeof(*b));
        int r;

        b->o = *o;
        /* The layers' facts for the SBOMs go with the layer cache: a
         * --no-cache build neither reads nor writes them. */
        if (o->layer.cache && !o->layer.facts)
                b->o.layer.facts = b->facts = layer_facts_cache_open_default();
        r = build_load_config(o->configs, "base", /* expect_tier= */ -1, &b->base, err);
        if (r < 0)
                return r;
        r = sysroot_open(o->sysroot, &b->root, err);
        if (r < 0)
                return r;
        r = platform_choice_init(&b->platform, b->root, o->platform, err);
        if (r < 0)
                return r;
        r = plan_from_spec(&b->base_plan, b->base, b->root, o->source_date_epoch, err);
        if (r < 0)
                return r;
        r = pkgdb_load(b->root, o->layer.threads, &b->pkgdb, err);
        b->has_pkgdb = b->pkgdb != NULL;
        if (b->pkgdb)
                b->pkgdb->md5 = o->md5;
        if (r == 0)
                r = pkgdb_add_distro(b->root, &b->base_plan, o->source_date_epoch, err);
        if (r == 0)
                r = pkgdb_add_records(b->pkgdb, &b->base_plan, o->source_date_epoch, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(b);
        return 0;
}

const Spec *build_base_spec(const Build *b)
{
        return b->base;
}

const Plan *build_base_plan(const Build *b)
{
        return &b->base_plan;
}

const Pkgdb *build_pkgdb(const Build *b)
{
        return b->pkgdb;
}

static BuildTool *find_tool(const Build *b, const char *name)
{
        for (size_t i = 0; i < b->n_tools; i++)
                if (strcmp(b->tools[i].spec->name, name) == 0)
                        return &b->tools[i];
        return NULL;
}

static BuildApp *find_app(const Build *b, const char *name)
{
        for (size_t i = 0; i < b->n_apps; i++)
                if (strcmp(b->apps[i].spec->name, name) == 0)
                        return &b->apps[i];
        return NULL;
}

const Plan *build_tool_plan(const Build *b, const char *name)
{
        const BuildTool *t = find_tool(b, name);
        return t ? &t->plan : NULL;
}

const Plan *build_app_plan(const Build *b, const char *name)
{
        const BuildApp *a = find_app(b, name);
        return a ? &a->plan : NULL;
}

static bool image_queued(const Build *b, SpecTier tier, size_t index)
{
        for (size_t i = 0; i < b->n_images; i++)
                if (b->images[i].tier == tier && b->images[i].index == index)
                        return true;
        return false;
}

static void queue_image(Build *b, SpecTier tier, size_t index)
{
        if (image_queued(b, tier, index))
                return;
        b->images = xrealloc(b->images, (b->n_images + 1) * sizeof(BuildImage));
        b->images[b->n_images++] = (BuildImage){ .tier = tier, .index = index };
}

/* A tool whose Debian package is not installed: remembered, so that one
 * message can name every package to install. */
static void note_missing(Build *b, const Spec *spec)
{
        _cleanup_free_ char *tool = xasprintf("%s (%s)", spec->name, spec->package);
        if (!strv_contains(b->missing_tools, tool))
                strv_push(&b->missing_tools, tool);
        if (!strv_contains(b->missing_packages, spec->package))
                strv_push(&b->missing_packages, spec->package);
}

/* The data layer of a tool: the one the step cache has when nothing that
 * decides it changed (its command does not run), else started now and
 * finished by finish_data() when the layer is written, so that the
 * command runs while other layers are compressed. */
static int plan_data(Build *b, BuildTool *t, ObError *err)
{
        ObError ignore;
        const char *mt = layer_media_type(&b->o.layer);
        t->data_keyed =
                layer_cache_usable(b->o.steps) && b->o.layout_dir &&
                step_cache_data_key(t->spec, t->debian_version, &t->plan, &b->o.layer, &t->data_key, &ignore) == 0;
        if (t->data_keyed && layer_cache_lookup_at(b->o.steps, b->o.layout_dir, &t->data_key, mt, &t->data_info)) {
                ob_debug("%s: data layer %s: from the step cache", t->spec->name, t->data_info.digest);
                t->data_info.media_type = mt;
                t->data_cached = true;
                return 0;
        }
        return tool_data_start(t->spec, &t->data_run, err);
}

/* Waits for the data command plan_data() started and plans what it made. */
static int finish_data(Build *b, BuildTool *t, ObError *err)
{
        if (!t->data_run)
                return 0;
        int r = tool_data_finish(TAKE_PTR(t->data_run), b->o.source_date_epoch, &t->data, &t->data_tmp, err);
        if (r < 0)
                return r;
        t->data_planned = true;
        return 0;
}

/* Loads and plans the tool NAME once per run; with_data also starts its
 * data command (once). Returns its index. */
static int plan_tool(Build *b, const char *name, bool with_data, bool fetch, size_t *ret_index, ObError *err)
{
        BuildTool *t = find_tool(b, name);
        int r;

        if (!t) {
                _cleanup_(spec_freep) Spec *spec = NULL;
                _cleanup_free_ char *version = NULL, *debian_version = NULL;
                _cleanup_(plan_clear) Plan plan = { 0 };
                r = build_load_config(b->o.configs, name, SPEC_TIER_TOOL, &spec, err);
                if (r < 0)
                        return r;
                r = tool_resolve_version(spec, b->root, &version, &debian_version, err);
                if (r == 0)
                        r = tool_plan_with(spec, b->root, &b->base_plan, b->o.source_date_epoch,
                                           &(ToolPlanOptions){ .arch = platform_choice_get(&b->platform)->arch,
                                                               .no_fetch = !fetch },
                                           &plan, err);
                if (r == 0)
                        r = pkgdb_add_records(b->pkgdb, &plan, b->o.source_date_epoch, err);
                if (r == 0)
                        r = platform_choice_add_plan(&b->platform, &plan, err);
                if (r == -ENOPKG)
                        note_missing(b, spec);
                if (r < 0)
                        return r;
                b->tools = xrealloc(b->tools, (b->n_tools + 1) * sizeof(BuildTool));
                t = &b->tools[b->n_tools++];
                *t = (BuildTool){ .spec = TAKE_PTR(spec),
                                  .version = TAKE_PTR(version),
                                  .debian_version = TAKE_PTR(debian_version),
                                  .plan = plan };
                plan = (Plan){ 0 };
        }
        if (with_data && t->spec->has_data && !t->data_planned && !t->data_cached && !t->data_run) {
                r = plan_data(b, t, err);
                if (r < 0)
                        return r;
        }
        *ret_index = (size_t) (t - b->tools);
        return 0;
}

/* The names of the tool configs, for a message. */
static char *tool_names(const char *configs)
{
        ConfigRef *refs = NULL;
        size_t n = 0;
        ObError ignore;
        if (configs_list(configs, &refs, &n, &ignore) < 0)
                return xstrdup("none");
        _cleanup_strv_ char **names = NULL;
        for (size_t i = 0; i < n; i++)
                if (refs[i].tier == SPEC_TIER_TOOL)
                        strv_push(&names, refs[i].name);
        configs_free(refs, n);
        return names ? strv_join(names, ", ") : xstrdup("none");
}

static bool is_tool_config(const char *configs, const char *name)
{
        _cleanup_(config_ref_clear) ConfigRef ref = { 0 };
        ObError ignore;
        return configs_find(configs, name, &ref, &ignore) == 0 && ref.tier == SPEC_TIER_TOOL;
}

/* Runs the app's build steps in order, each unless the step cache marks
 * its key, taken after the steps before it ran (below: the key of the
 * layers below, or NULL without the step cache). */
static int app_run_steps(Build *b, const Spec *app, const LayerKey *below, BuildAppStep *steps, ObError *err)
{
        for (size_t i = 0; i < app->n_build; i++) {
                LayerKey key;
                ObError ignore;
                if (below &&
                    step_cache_step_key(app, i, below, &b->o.layer, /* inputs_since= */ NULL, &key, &ignore) == 0 &&
                    layer_cache_marked(b->o.steps, &key)) {
                        _cleanup_free_ char *name = app_step_name(app->build[i].command);
                        ob_info("%s: build step '%s' skipped: nothing it reads or makes changed since it ran",
                                app->name, name);
                        continue;
                }
                clock_gettime(CLOCK_REALTIME, &steps[i].started);
                int r = app_run_step(app, i, err);
                if (r < 0)
                        return r;
                steps[i].ran = true;
        }
        return 0;
}

static int plan_app(Build *b, const char *name, BuildAddFlags flags, size_t *ret_index, ObError *err)
{
        BuildApp *found = find_app(b, name);
        if (found) {
                *ret_index = (size_t) (found - b->apps);
                return 0;
        }

        _cleanup_(spec_freep) Spec *spec = NULL;
        int r = build_load_config(b->o.configs, name, SPEC_TIER_APP, &spec, err);
        if (r < 0)
                return r;
        /* The user the image runs as is the app's, else the base's: the
         * data directory must belong to that one. */
        if (!spec->config.user && b->base->config.user)
                spec->config.user = xstrdup(b->base->config.user);

        size_t n_tools = strv_length(spec->tools);
        _cleanup_free_ size_t *tools = xcalloc(n_tools + 1, sizeof(size_t));
        _cleanup_free_ const Plan **layers = xcalloc(n_tools + 2, sizeof(Plan *));
        size_t n_layers = 0;
        layers[n_layers++] = &b->base_plan;
        if (!(flags & BUILD_PLAN_ONLY))
                for (size_t i = 0; i < n_tools; i++) {
                        if (!is_tool_config(b->o.configs, spec->tools[i])) {
                                _cleanup_free_ char *list = tool_names(b->o.configs);
                                return ob_error_plain(err, ENOENT, "%s: tools: '%s' is not a tool config (tools: %s)",
                                                      spec->file, spec->tools[i], list);
                        }
                        r = plan_tool(b, spec->tools[i], /* with_data= */ false, /* fetch= */ true, &tools[i], err);
                        if (r < 0)
                                return ob_error_wrap(err, "%s: tools: '%s'", spec->file, spec->tools[i]);
                        const char *want = spec->tool_versions ? spec->tool_versions[i] : "";
                        if (!tool_version_matches(b->tools[tools[i]].version, want))
                                return ob_error_plain(err, EINVAL,
                                                      "%s: tools: '%s@%s' asks for version %s, but %s has version "
                                                      "%s",
                                                      spec->file, spec->tools[i], want, want,
                                                      b->tools[tools[i]].spec->file, b->tools[tools[i]].version);
                }
        /* Planning moved b->tools: take the plans' addresses only now. */
        for (size_t i = 0; i < n_tools && !(flags & BUILD_PLAN_ONLY); i++)
                layers[n_layers++] = &b->tools[tools[i]].plan;

        _cleanup_free_ BuildAppStep *steps = xcalloc(spec->n_build + 1, sizeof(BuildAppStep));
        LayerKey below;
        ObError ignore;
        bool keying = !(flags & BUILD_PLAN_ONLY) && spec->n_build > 0 && layer_cache_usable(b->o.steps) &&
                      step_cache_below_key(layers, n_layers, &b->o.layer, &below, &ignore) == 0;
        if (!(flags & BUILD_PLAN_ONLY)) {
                r = app_run_steps(b, spec, keying ? &below : NULL, steps, err);
                if (r < 0)
                        return r;
        }
        _cleanup_(plan_clear) Plan plan = { 0 };
        /* What the base and tool layers hold is not repeated in the app's. */
        r = app_plan_over(spec, b->root, layers, n_layers, platform_choice_get(&b->platform)->arch,
                          b->o.source_date_epoch, /* fetch= */ !(flags & BUILD_PLAN_ONLY), &plan, err);
        if (r == 0)
                r = platform_choice_add_plan(&b->platform, &plan, err);
        if (r == 0)
                r = pkgdb_add_records(b->pkgdb, &plan, b->o.source_date_epoch, err);
        if (r < 0)
                return r;
        /* What each step that ran read and left, as planned. */
        for (size_t i = 0; i < spec->n_build && keying; i++)
                steps[i].keyed = steps[i].ran && step_cache_step_key(spec, i, &below, &b->o.layer, &steps[i].started,
                                                                     &steps[i].key, &ignore) == 0;
        if (!(flags & BUILD_PLAN_ONLY)) {
                layers[n_layers++] = &plan;
                r = app_check_health(spec, layers, n_layers, err);
                if (r < 0)
                        return r;
        }

        b->apps = xrealloc(b->apps, (b->n_apps + 1) * sizeof(BuildApp));
        b->apps[b->n_apps] = (BuildApp){ .spec = TAKE_PTR(spec),
                                         .tools = TAKE_PTR(tools),
                                         .n_tools = n_tools,
                                         .plan = plan,
                                         .steps = TAKE_PTR(steps) };
        plan = (Plan){ 0 };
        *ret_index = b->n_apps++;
        return 0;
}

int build_add(Build *b, SpecTier tier, const char *name, BuildAddFlags flags, ObError *err)
{
        size_t index = 0;
        int r = 0;

        switch (tier) {
        case SPEC_TIER_BASE:
                break;
        case SPEC_TIER_TOOL:
                r = plan_tool(b, name, /* with_data= */ !(flags & BUILD_PLAN_ONLY), !(flags & BUILD_PLAN_ONLY), &index,
                              err);
                break;
        case SPEC_TIER_APP:
                r = plan_app(b, name, flags, &index, err);
                break;
        }
        if (r == -ENOPKG && !b->missing_msg)
                b->missing_msg = xstrdup(err->msg);
        if (r < 0)
                return r;
        queue_image(b, tier, index);
        return 0;
}

int build_missing_error(const Build *b, ObError *err)
{
        size_t n = strv_length(b->missing_tools);
        if (n == 0)
                return 0;
        if (n == 1)
                return ob_error_plain(err, ENOPKG, "%s", b->missing_msg);
        _cleanup_free_ char *tools = strv_join(b->missing_tools, ", ");
        _cleanup_free_ char *packages = strv_join(b->missing_packages, " ");
        return ob_error_plain(err, ENOPKG, "%zu tools are not installed in the sysroot: %s: apt-get install %s", n,
                              tools, packages);
}

/* Writes the layer KEY unless this run wrote it already. */
static double now_seconds(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void tell(Build *b, BuildProgress p)
{
        if (!b->o.progress)
                return;
        p.name = b->current;
        p.n_layers = b->current_layers;
        if (p.event != BUILD_IMAGE_START)
                p.layer = b->current_layer;
        p.seconds = now_seconds() - b->current_start;
        b->o.progress(b->o.progress_data, &p);
}

static const OciLayerInfo *written_before(const Build *b, const char *key)
{
        for (size_t i = 0; i < b->n_written; i++)
                if (strcmp(b->written[i].key, key) == 0)
                        return &b->written[i].info;
        return NULL;
}

/* Writes the layer KEY unless this run wrote it already; with cached
 * (a layer of the step cache, in the layout), plan is not written. */
static int write_layer_from(Build *b, Layout *l, const char *key, const Plan *plan, const OciLayerInfo *cached,
                            char *created_by, const char *comment, OciLayerInfo *ret, ObError *err)
{
        _cleanup_free_ char *by = created_by;
        b->current_layer++;
        const OciLayerInfo *before = written_before(b, key);
        if (before) {
                *ret = *before;
                tell(b, (BuildProgress){ .event = BUILD_LAYER_DONE });
                return 0;
        }
        OciLayerInfo info = { 0 };
        if (cached) {
                info = *cached;
                tell(b, (BuildProgress){ .event = BUILD_LAYER_DONE });
        } else {
                tell(b, (BuildProgress){ .event = BUILD_LAYER_START,
                                         .entries = plan->n,
                                         .file_bytes = plan_content_size(plan) });
                int r = layer_write(l, plan, &b->o.layer, &info, err);
                if (r < 0)
                        return r;
                tell(b, (BuildProgress){ .event = BUILD_LAYER_DONE, .compressed = info.size });
        }
        info.created_by = by;
        info.comment = comment;
        b->written = xrealloc(b->written, (b->n_written + 1) * sizeof(WrittenLayer));
        WrittenLayer *w = &b->written[b->n_written++];
        *w = (WrittenLayer){ .key = xstrdup(key), .created_by = TAKE_PTR(by), .info = info };
        *ret = w->info;
        return 0;
}

static int write_layer(Build *b, Layout *l, const char *key, const Plan *plan, char *created_by, const char *comment,
                       OciLayerInfo *ret, ObError *err)
{
        return write_layer_from(b, l, key, plan, /* cached= */ NULL, created_by, comment, ret, err);
}

/* A tool's data layer: the step cache's, or written and remembered there. */
static int data_layer(Build *b, Layout *l, BuildTool *t, OciLayerInfo *ret, ObError *err)
{
        const char *mt = layer_media_type(&b->o.layer);
        int r = finish_data(b, t, err);
        if (r < 0)
                return r;
        /* Its blob may have gone since it was planned ('oci-build clean'
         * meanwhile): then the command runs now. */
        if (t->data_cached && !layer_cache_lookup(b->o.steps, l, &t->data_key, mt, &t->data_info)) {
                t->data_cached = false;
                r = tool_data_plan(t->spec, b->o.source_date_epoch, &t->data, &t->data_tmp, err);
                if (r < 0)
                        return r;
                t->data_planned = true;
        }
        t->data_info.media_type = mt;
        _cleanup_free_ char *key = xasprintf("data:%s", t->spec->name);
        /* Its files are gone after this build: no layer cache entry would
         * ever be found again. */
        struct LayerCache *layers = b->o.layer.cache;
        b->o.layer.cache = NULL;
        r = write_layer_from(b, l, key, &t->data, t->data_cached ? &t->data_info : NULL,
                             xasprintf("oci-build %s: %s data layer (made by %s)", OB_VERSION, t->spec->name,
                                       t->spec->data.command[0]),
                             "not reproducible: made by a program at build time", ret, err);
        b->o.layer.cache = layers;
        if (r < 0 || t->data_cached || !t->data_keyed)
                return r;
        /* Remembered only when its inputs did not change meanwhile. */
        LayerKey after;
        ObError ignore;
        if (step_cache_data_key(t->spec, t->debian_version, &t->plan, &b->o.layer, &after, &ignore) == 0 &&
            strcmp(after.hex, t->data_key.hex) == 0) {
                layer_cache_store(b->o.steps, l, &after, mt, ret);
                /* Remembered: the next build takes this very layer, as a
                 * run record of this one would. */
                if (!after.racy && layer_cache_usable(b->o.steps))
                        journal_forget_command();
        }
        return 0;
}

static int base_layer(Build *b, Layout *l, OciLayerInfo *ret, ObError *err)
{
        return write_layer(b, l, "base", &b->base_plan, xasprintf("oci-build %s: %s layer", OB_VERSION, b->base->name),
                           b->base->description, ret, err);
}

static int tool_layer(Build *b, Layout *l, const BuildTool *t, OciLayerInfo *ret, ObError *err)
{
        _cleanup_free_ char *key = xasprintf("tool:%s", t->spec->name);
        return write_layer(b, l, key, &t->plan, xasprintf("oci-build %s: %s layer", OB_VERSION, t->spec->name),
                           t->spec->description, ret, err);
}

/* Describes what was written. */
static void set_result(BuildResult *res, const char *name, SpecTier tier, const ImageResult *img, size_t n_layers,
                       const OciLayerInfo *own, size_t own_entries)
{
        *res = (BuildResult){ .name = name,
                              .tier = tier,
                              .total_size = img->total_size,
                              .n_layers = n_layers,
                              .own_layer_size = own ? own->size : 0,
                              .own_layer_entries = own_entries };
        memcpy(res->manifest_digest, img->manifest_digest, sizeof(res->manifest_digest));
}

static int write_base_image(Build *b, Layout *l, BuildResult *ret, ObError *err)
{
        OciLayerInfo layer;
        int r = base_layer(b, l, &layer, err);
        if (r < 0)
                return r;
        ImageBuild ib = { .name = b->base->name,
                          .version = b->base->version,
                          .description = b->base->description,
                          .config = &b->base->config,
                          .layers = &layer,
                          .n_layers = 1,
                          .created = b->o.source_date_epoch,
                          .platform = platform_choice_get(&b->platform) };
        ImageResult img;
        r = image_write(l, &ib, &img, err);
        if (r < 0)
                return r;
        set_result(ret, b->base->name, SPEC_TIER_BASE, &img, 1, &layer, b->base_plan.n);
        return 0;
}

static int write_tool_image(Build *b, Layout *l, BuildTool *t, BuildResult *ret, ObError *err)
{
        OciLayerInfo layers[3];
        size_t n = 0;
        int r = base_layer(b, l, &layers[n++], err);
        if (r < 0)
                return r;
        r = tool_layer(b, l, t, &layers[n++], err);
        if (r < 0)
                return r;
        if (t->data_planned || t->data_cached || t->data_run) {
                r = data_layer(b, l, t, &layers[n++], err);
                if (r < 0)
                        return r;
        }
        _cleanup_(spec_image_config_clear) SpecImageConfig cfg = { 0 };
        image_config_merge(&b->base->config, &t->spec->config, &cfg);
        ImageBuild ib = { .name = t->spec->name,
                          .version = t->version,
                          .debian_package = t->spec->package,
                          .debian_version = t->debian_version,
                          .description = t->spec->description,
                          .config = &cfg,
                          .layers = layers,
                          .n_layers = n,
                          .created = b->o.source_date_epoch,
                          .platform = platform_choice_get(&b->platform) };
        ImageResult img;
        r = image_write(l, &ib, &img, err);
        if (r < 0)
                return r;
        set_result(ret, t->spec->name, SPEC_TIER_TOOL, &img, n, &layers[1], t->plan.n);
        return 0;
}

/* The base config, then the environment of each tool (NODE_EXTRA_CA_CERTS,
 * PATH), then the app's own config. */
static void app_config(const Build *b, const BuildApp *a, SpecImageConfig *ret)
{
        SpecImageConfig cfg, merged;
        image_config_merge(&b->base->config, &(SpecImageConfig){ 0 }, &cfg);
        for (size_t k = 0; k < a->n_tools; k++) {
                SpecImageConfig env_only = { .env = b->tools[a->tools[k]].spec->config.env };
                image_config_merge(&cfg, &env_only, &merged);
                spec_image_config_clear(&cfg);
                cfg = merged;
        }
        image_config_merge(&cfg, &a->spec->config, ret);
        spec_image_config_clear(&cfg);
}

/* Marks the key of each step that ran, when what it read and left is
 * still as planned and old enough for its timestamps to tell a later
 * change. */
static void app_steps_remember(Build *b, const BuildApp *a)
{
        bool any = false;
        for (size_t i = 0; i < a->spec->n_build; i++)
                any |= a->steps[i].keyed;
        if (!any)
                return;
        _cleanup_free_ const Plan **below = xcalloc(a->n_tools + 1, sizeof(Plan *));
        size_t n = 0;
        below[n++] = &b->base_plan;
        for (size_t k = 0; k < a->n_tools; k++)
                below[n++] = &b->tools[a->tools[k]].plan;
        LayerKey below_key;
        ObError ignore;
        if (step_cache_below_key(below, n, &b->o.layer, &below_key, &ignore) < 0)
                return;
        bool waited = false;
        for (size_t i = 0; i < a->spec->n_build; i++) {
                if (!a->steps[i].keyed)
                        continue;
                LayerKey after;
                bool same = step_cache_step_key(a->spec, i, &below_key, &b->o.layer, &a->steps[i].started, &after,
                                                &ignore) == 0 &&
                            strcmp(after.hex, a->steps[i].key.hex) == 0;
                if (same && after.racy && !waited) {
                        /* Files a step wrote a moment ago: wait out the clock tick once. */
                        nanosleep(&(struct timespec){ .tv_nsec = 60 * 1000 * 1000 }, NULL);
                        waited = true;
                        same = step_cache_step_key(a->spec, i, &below_key, &b->o.layer, &a->steps[i].started, &after,
                                                   &ignore) == 0 &&
                               strcmp(after.hex, a->steps[i].key.hex) == 0;
                }
                if (same)
                        layer_cache_mark(b->o.steps, &after); /* not when still racy */
        }
}

static int write_app_image(Build *b, Layout *l, BuildApp *a, BuildResult *ret, ObError *err)
{
        _cleanup_free_ OciLayerInfo *layers = xcalloc(a->n_tools + 2, sizeof(OciLayerInfo));
        size_t n = 0;
        int r = base_layer(b, l, &layers[n++], err);
        if (r < 0)
                return r;
        for (size_t k = 0; k < a->n_tools; k++) {
                r = tool_layer(b, l, &b->tools[a->tools[k]], &layers[n++], err);
                if (r < 0)
                        return r;
        }
        _cleanup_free_ char *key = xasprintf("app:%s", a->spec->name);
        r = write_layer(b, l, key, &a->plan, xasprintf("oci-build %s: %s app layer", OB_VERSION, a->spec->name),
                        a->spec->description, &layers[n++], err);
        if (r < 0)
                return r;
        app_steps_remember(b, a);
        _cleanup_(spec_image_config_clear) SpecImageConfig cfg = { 0 };
        app_config(b, a, &cfg);
        ImageBuild ib = { .name = a->spec->name,
                          .version = a->spec->version,
                          .description = a->spec->description,
                          .config = &cfg,
                          .layers = layers,
                          .n_layers = n,
                          .created = b->o.source_date_epoch,
                          .platform = platform_choice_get(&b->platform) };
        ImageResult img;
        r = image_write(l, &ib, &img, err);
        if (r < 0)
                return r;
        set_result(ret, a->spec->name, SPEC_TIER_APP, &img, n, &layers[n - 1], a->plan.n);
        return 0;
}

/* Announces an image: its layers and the bytes of files of those this run
 * has not written yet. */
static void start_image(Build *b, const BuildImage *im)
{
        const Plan *plans[64];
        const char *keys[64];
        size_t n = 0;
        bool more_bytes = false;
        _cleanup_free_ char *k1 = NULL, *k2 = NULL;
        plans[n] = &b->base_plan;
        keys[n++] = "base";
        if (im->tier == SPEC_TIER_BASE) {
                b->current = b->base->name;
        } else if (im->tier == SPEC_TIER_TOOL) {
                const BuildTool *t = &b->tools[im->index];
                b->current = t->spec->name;
                plans[n] = &t->plan;
                keys[n++] = k1 = xasprintf("tool:%s", t->spec->name);
                if (t->data_planned || t->data_cached || t->data_run) {
                        /* A cached layer has no files to write; those of
                         * one whose command still runs are not known yet:
                         * its own BUILD_LAYER_START tells them. */
                        plans[n] = t->data_planned ? &t->data : NULL;
                        keys[n++] = k2 = xasprintf("data:%s", t->spec->name);
                        more_bytes = t->data_run != NULL;
                }
        } else {
                const BuildApp *a = &b->apps[im->index];
                b->current = a->spec->name;
                for (size_t k = 0; k < a->n_tools && n < 62; k++) {
                        plans[n] = &b->tools[a->tools[k]].plan;
                        keys[n++] = b->tools[a->tools[k]].spec->name; /* only counted, see below */
                }
                plans[n] = &a->plan;
                keys[n++] = NULL;
        }
        uint64_t bytes = 0;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *key = NULL;
                if (im->tier == SPEC_TIER_APP && i > 0 && keys[i])
                        key = xasprintf("tool:%s", keys[i]);
                const char *k = key ? key : keys[i];
                if (plans[i] && (!k || !written_before(b, k)))
                        bytes += plan_content_size(plans[i]);
        }
        b->current_layer = 0;
        b->current_layers = n;
        b->current_start = now_seconds();
        tell(b, (BuildProgress){ .event = BUILD_IMAGE_START, .file_bytes = bytes, .more_bytes = more_bytes });
}

int build_write(Build *b, Layout *l, const BuildResult **ret_results, size_t *ret_n, ObError *err)
{
        /* Every record is planned (build_add() comes first): the
         * database's index would only weigh on the compression. */
        pkgdb_free(TAKE_PTR(b->pkgdb));
        /* Its many small blocks leave free pages all over the heap: give
         * them back before the compressors need theirs. */
        malloc_trim(0);
        free(b->results);
        b->results = xcalloc(b->n_images + 1, sizeof(BuildResult));
        for (size_t i = 0; i < b->n_images; i++) {
                const BuildImage *im = &b->images[i];
                int r = 0;
                start_image(b, im);
                switch (im->tier) {
                case SPEC_TIER_BASE:
                        r = write_base_image(b, l, &b->results[i], err);
                        break;
                case SPEC_TIER_TOOL:
                        r = write_tool_image(b, l, &b->tools[im->index], &b->results[i], err);
                        break;
                case SPEC_TIER_APP:
                        r = write_app_image(b, l, &b->apps[im->index], &b->results[i], err);
                        break;
                }
                if (r < 0)
                        return r;
                tell(b, (BuildProgress){ .event = BUILD_IMAGE_DONE, .compressed = b->results[i].total_size });
        }
        b->current = NULL;
        if (!b->has_pkgdb && b->n_images > 0)
                pkgdb_note_no_database(b->root);
        b->o.progress = NULL; /* the base image named below is not one the caller asked for */
        /* Every image stands on the base layer: name the base image too, so
         * that it is in the index whatever was built (`skopeo inspect
         * oci:oci:base` works after `tool --all` into an empty layout, or
         * after the base image was removed). Its layer is written already. */
        if (b->n_images > 0 && !image_queued(b, SPEC_TIER_BASE, 0)) {
                BuildResult base;
                int r = write_base_image(b, l, &base, err);
                if (r < 0)
                        return r;
        }
        /* Each image written gets its SBOM, attached in the layout. The
         * documents of different images are independent: they are made on
         * the threads the compression had. */
        _cleanup_free_ const Spec **specs = xcalloc(b->n_images + 2, sizeof(Spec *));
        size_t n_specs = 0;
        for (size_t i = 0; i <= b->n_images && b->n_images > 0; i++) {
                const BuildImage *im = i < b->n_images ? &b->images[i] : NULL;
                if (!im && image_queued(b, SPEC_TIER_BASE, 0))
                        break;
                specs[n_specs++] = !im || im->tier == SPEC_TIER_BASE ? b->base
                                   : im->tier == SPEC_TIER_TOOL      ? b->tools[im->index].spec
                                                                     : b->apps[im->index].spec;
        }
        int r = sbom_attach_all(l, specs, n_specs, platform_choice_get(&b->platform)->arch, b->o.source_date_epoch,
                                b->o.layer.facts, b->o.layer.threads, err);
        if (r < 0)
                return r;
        *ret_results = b->results;
        *ret_n = b->n_images;
        return 0;
}

const Platform *build_platform(const Build *b)
{
        return platform_choice_get(&b->platform);
}
