/* SPDX-License-Identifier: MIT */
#include <archive.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "cleanup-libs.h"
#include "cli.h"
#include "config.h"
#include "configs.h"
#include "journal.h"
#include "layer-cache.h"
#include "md5-cache.h"
#include "log.h"
#include "run-record.h"
#include "step-cache.h"
#include "util.h"

bool arg_tier_all;

const CommandOption tier_options[] = {
        { "all", NULL, "every config of the tier" },
        {},
};

int tier_set_option(const char *name, const char *value, ObError *err)
{
        arg_tier_all = true;
        return 0;
}

BuildOptions context_build_options(const Context *ctx)
{
        return (BuildOptions){
                .configs = ctx->configs,
                .sysroot = ctx->sysroot,
                .source_date_epoch = ctx->source_date_epoch,
                .layer = { .source_date_epoch = ctx->source_date_epoch,
                           .compression = ctx->compression,
                           .level = ctx->level,
                           .threads = ctx->jobs },
        };
}

/* A tool built from upstream release downloads (node24, go125): `tool
 * --all` builds what the sysroot has, offline, and leaves these to be named.
 * A config that does not load is not one: its error comes when it is built. */
static bool is_release_tool(const Context *ctx, const char *name)
{
        Spec *spec = NULL;
        ObError ignore;
        if (build_load_config(ctx->configs, name, SPEC_TIER_TOOL, &spec, &ignore) < 0)
                return false;
        bool release = spec->n_artifacts || spec->n_build;
        spec_free(spec);
        return release;
}

int context_names(const Context *ctx, SpecTier tier, bool all, char ***ret, ObError *err)
{
        const char *what = tier == SPEC_TIER_TOOL ? "tool" : "app";
        _cleanup_strv_ char **names = NULL;
        if (all) {
                if (ctx->args && ctx->args[0])
                        return ob_error_usage(err, "give %s names or --all, not both", what);
                ConfigRef *refs = NULL;
                size_t n = 0;
                int r = configs_list(ctx->configs, &refs, &n, err);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n; i++)
                        if (refs[i].tier == tier && !(tier == SPEC_TIER_TOOL && is_release_tool(ctx, refs[i].name)))
                                strv_push(&names, refs[i].name);
                configs_free(refs, n);
                if (!names)
                        return ob_error_plain(err, ENOENT, "no %s configs in '%s/%ss'", what, ctx->configs, what);
        } else {
                if (!ctx->args || !ctx->args[0])
                        return ob_error_usage(err, "%s needs NAME... or --all (see 'oci-build list %ss')", what, what);
                for (size_t i = 0; ctx->args[i]; i++)
                        if (!strv_contains(names, ctx->args[i]))
                                strv_push(&names, ctx->args[i]);
        }
        *ret = TAKE_PTR(names);
        return 0;
}

/* The line a build prints for an image, around the layout's name. */
static void add_result(RunRecord *out, const char *platform, const BuildResult *res)
{
        char size[32], own[32];
        format_size(res->total_size, size);
        format_size(res->own_layer_size, own);
        _cleanup_free_ char *before =
                xasprintf("%s%s%s %s ", platform ? platform : "", platform ? " " : "", res->name, res->manifest_digest);
        _cleanup_free_ char *after = NULL;
        switch (res->tier) {
        case SPEC_TIER_BASE:
                after = xasprintf(" (%s)", size);
                break;
        case SPEC_TIER_TOOL:
                after = xasprintf(" (%zu layers, %s; tool layer %s, %zu files)", res->n_layers, size, own,
                                  res->own_layer_entries);
                break;
        case SPEC_TIER_APP:
                after = xasprintf(" (%zu layers, %s; app layer %s)", res->n_layers, size, own);
                break;
        }
        run_record_add_output(out, before, after);
}

static void print_results(const Context *ctx, const RunRecord *out)
{
        for (size_t i = 0; out->out_before && out->out_before[i] && ob_verbosity >= 0; i++)
                printf("%s%s%s\n", out->out_before[i], ctx->layout, out->out_after[i]);
}

/* Progress on stderr: on a terminal one line per image, updated as its
 * layers are written; otherwise a line when an image starts and one when it
 * is done. Nothing with -q. */
static void show_progress(void *userdata, const BuildProgress *p)
{
        bool tty = *(const bool *) userdata;
        char bytes[32], size[32];
        format_size(p->file_bytes, bytes);
        format_size(p->compressed, size);
        switch (p->event) {
        case BUILD_IMAGE_START:
                if (!tty)
                        fprintf(stderr, "%s: writing %zu layer%s (%s of files%s)\n", p->name, p->n_layers,
                                p->n_layers == 1 ? "" : "s", bytes,
                                p->more_bytes ? ", and those of a data layer still being made" : "");
                break;
        case BUILD_LAYER_START:
                if (tty)
                        fprintf(stderr, "\r\033[K%s: layer %zu of %zu: %zu entries, %s of files, %.1f s", p->name,
                                p->layer, p->n_layers, p->entries, bytes, p->seconds);
                break;
        case BUILD_LAYER_DONE:
                if (tty)
                        fprintf(stderr, "\r\033[K%s: layer %zu of %zu %s, %.1f s", p->name, p->layer, p->n_layers,
                                p->compressed ? "written" : "shared", p->seconds);
                break;
        case BUILD_IMAGE_DONE:
                fprintf(stderr, "%s%s: done, %s compressed, %.1f s\n", tty ? "\r\033[K" : "", p->name, size,
                        p->seconds);
                break;
        }
        fflush(stderr);
}

/* Plans every image of names for one platform: nothing is written yet. */
static int plan_platform(const Context *ctx, const BuildOptions *o, SpecTier tier, char *const *names, Build **ret,
                         ObError *err)
{
        _cleanup_(build_freep) Build *b = NULL;
        int r = build_new(o, &b, err);
        if (r < 0)
                return r;
        if (tier == SPEC_TIER_BASE)
                r = build_add(b, tier, /* name= */ NULL, /* flags= */ 0, err);
        if (r < 0)
                return r;
        /* A tool that is not installed does not stop the others from being
         * planned, so that one message names every package to install; any
         * other failure stops at once. */
        for (size_t i = 0; names && names[i]; i++) {
                ob_debug("planning %s", names[i]);
                r = build_add(b, tier, names[i], /* flags= */ 0, err);
                if (r < 0 && r != -ENOPKG)
                        return r;
        }
        r = build_missing_error(b, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(b);
        return 0;
}

typedef struct PlatformBuild {
        Platform platform;
        char *sysroot;
        Build *build;
        const BuildResult *results;
        size_t n_results;
} PlatformBuild;

typedef struct PlatformBuilds {
        PlatformBuild *v;
        size_t n;
} PlatformBuilds;

static void platform_builds_cleanup(PlatformBuilds *b)
{
        for (size_t i = 0; b->v && i < b->n; i++) {
                free(b->v[i].sysroot);
                build_free(b->v[i].build);
        }
        free(b->v);
}

/* Writes each platform's images, then one image index per name over them. */
static int write_platforms(const Context *ctx, PlatformBuild *pb, size_t n, Layout *l, ObError *err)
{
        _cleanup_strv_ char **names = NULL;
        _cleanup_json_ json_t *by_name = json_object();
        for (size_t i = 0; i < n; i++) {
                int r = build_write(pb[i].build, l, &pb[i].results, &pb[i].n_results, err);
                if (r < 0)
                        return r;
                if (i == 0) {
                        for (size_t k = 0; k < pb[i].n_results; k++)
                                strv_push(&names, pb[i].results[k].name);
                        if (!strv_contains(names, build_base_spec(pb[i].build)->name))
                                strv_push(&names, build_base_spec(pb[i].build)->name);
                }
                /* The index entries this platform's images just got are
                 * the manifests of the image index written below. */
                for (size_t k = 0; names[k]; k++) {
                        json_t *d = layout_index_find(l, names[k]);
                        if (!d)
                                return ob_error_plain(err, EIO, "'%s' was not written", names[k]);
                        json_t *all = json_object_get(by_name, names[k]);
                        if (!all)
                                json_object_set_new(by_name, names[k], all = json_array());
                        json_array_append_new(all, json_deep_copy(d));
                }
        }
        for (size_t k = 0; names[k]; k++) {
                json_t *all = json_object_get(by_name, names[k]);
                size_t m = json_array_size(all);
                _cleanup_free_ json_t **v = xcalloc(m + 1, sizeof(json_t *));
                for (size_t i = 0; i < m; i++)
                        v[i] = json_array_get(all, i);
                int r = platform_index_write(l, names[k], v, m, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Builds what was planned for every platform of names into the layout,
 * the result lines into out. With a journal recording, it stops before
 * the layout is opened: planning is over. */
static int build_images(const Context *ctx, SpecTier tier, char *const *names, RunRecord *out, bool *ret_recordable,
                        ObError *err)
{
        BuildOptions o = context_build_options(ctx);
        bool tty = isatty(STDERR_FILENO) == 1;
        if (ob_verbosity >= 0) {
                o.progress = show_progress;
                o.progress_data = &tty;
        }
        _cleanup_(layer_cache_freep) LayerCache *cache = ctx->no_cache ? NULL : layer_cache_open_default();
        o.layer.cache = cache;
        _cleanup_(layer_cache_freep) LayerCache *steps = ctx->no_cache ? NULL : step_cache_open_default();
        o.steps = steps;
        /* Without caches the md5 of a file is still computed once in the
         * run: a library in several tool layers. */
        _cleanup_(md5_cache_freep) Md5Cache *md5 =
                ctx->no_cache ? md5_cache_open_memory(NULL) : md5_cache_open_default();
        o.md5 = md5;
        o.layout_dir = ctx->layout;
        _cleanup_(layout_closep) Layout *l = NULL;
        _cleanup_free_ Platform *platforms = NULL;
        size_t n_platforms = 1;
        int r;

        if (ctx->platform) {
                r = platform_parse_list(ctx->platform, &platforms, &n_platforms, err);
                if (r < 0)
                        return r;
        }
        PlatformBuild *pb = xcalloc(n_platforms, sizeof(PlatformBuild));
        _cleanup_(platform_builds_cleanup) PlatformBuilds builds = { pb, n_platforms };

        /* Every config, every source file, every build step and data
         * directory of every platform first: bad input must not touch the
         * layout. A data command runs on while the layers below its own
         * are written; its failure rolls them back. */
        for (size_t i = 0; i < n_platforms; i++) {
                BuildOptions po = o;
                if (platforms) {
                        pb[i].platform = platforms[i];
                        r = platform_sysroot_for(&platforms[i], ctx->sysroot, ctx->sysroot_given, n_platforms > 1,
                                                 &pb[i].sysroot, err);
                        if (r < 0)
                                return r;
                        po.sysroot = pb[i].sysroot;
                        po.platform = &pb[i].platform;
                }
                r = plan_platform(ctx, &po, tier, names, &pb[i].build, err);
                if (r < 0)
                        return r;
        }
        /* What the layout and the caches hold is no input. */
        journal_begin(NULL);

        r = layout_open(ctx->layout, LAYOUT_CREATE, &l, err);
        if (r < 0)
                return r;
        if (n_platforms == 1)
                r = build_write(pb[0].build, l, &pb[0].results, &pb[0].n_results, err);
        else
                r = write_platforms(ctx, pb, n_platforms, l, err);
        if (r == 0)
                r = layout_commit(l, err);
        if (r < 0) {
                layout_rollback(l);
                return r;
        }
        /* Like the layer cache, written once the build succeeded: a build
         * that fails says only why. */
        md5_cache_save(md5);
        for (size_t i = 0; i < n_platforms; i++) {
                _cleanup_free_ char *p = platform_string(build_platform(pb[i].build));
                for (size_t k = 0; k < pb[i].n_results; k++)
                        add_result(out, n_platforms > 1 ? p : NULL, &pb[i].results[k]);
        }
        if (n_platforms > 1)
                for (size_t k = 0; k < pb[0].n_results; k++) {
                        json_t *d = layout_index_find(l, pb[0].results[k].name);
                        _cleanup_free_ char *before = xasprintf("%s %s ", pb[0].results[k].name,
                                                                json_string_value(json_object_get(d, "digest")));
                        _cleanup_free_ char *after = xasprintf(" (image index, %zu platforms)", n_platforms);
                        run_record_add_output(out, before, after);
                }
        /* What the next run compares: every name this one left in the
         * index (the base image's too) and the blobs they reach. */
        bool recordable = *ret_recordable;
        ObError local;
        for (size_t k = 0; k < pb[0].n_results && recordable; k++)
                recordable = run_record_add_image(out, l, pb[0].results[k].name, &local) == 0;
        if (recordable && pb[0].n_results > 0)
                recordable = run_record_add_image(out, l, build_base_spec(pb[0].build)->name, &local) == 0;
        if (!recordable && *ret_recordable)
                ob_debug("this run is not recorded: %s", local.msg);
        *ret_recordable = recordable && pb[0].n_results > 0;
        return 0;
}

/* The key of a run: this program, the command, every option that changes
 * what is written (not -j: the bytes are the same whatever it is), and the
 * environment as build steps see it. */
static int run_key(const Context *ctx, SpecTier tier, bool all, char *const *names, char ret[static 65], ObError *err)
{
        _cleanup_sha256_ Sha256 h = { 0 };
        struct stat st;
        if (stat("/proc/self/exe", &st) < 0)
                return ob_error_set(err, errno, "cannot stat /proc/self/exe");
        _cleanup_free_ char *cwd = getcwd(NULL, 0);
        if (!cwd)
                return ob_error_set(err, errno, "cannot tell the current directory");
        sha256_init(&h);
        cache_hash_printf(&h, "oci-build %s run record %d", OB_VERSION, RUN_RECORD_VERSION);
        cache_hash_printf(&h, "exe %llu %llu %lld %lld.%09ld %lld.%09ld", (unsigned long long) st.st_dev,
                          (unsigned long long) st.st_ino, (long long) st.st_size, (long long) st.st_mtim.tv_sec,
                          st.st_mtim.tv_nsec, (long long) st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
        cache_hash_printf(&h, "tier %d all %d", (int) tier, all);
        for (size_t i = 0; names && names[i]; i++)
                cache_hash_printf(&h, "name %s", names[i]);
        cache_hash_printf(&h, "cwd %s", cwd);
        cache_hash_printf(&h, "configs %s", ctx->configs);
        cache_hash_printf(&h, "sysroot %s %d", ctx->sysroot, ctx->sysroot_given);
        cache_hash_printf(&h, "platform %s", ctx->platform ? ctx->platform : "(native)");
        cache_hash_printf(&h, "compression %d level %d epoch %lld", (int) ctx->compression, ctx->level,
                          (long long) ctx->source_date_epoch);
        /* The libraries that write the tar and the zstd frames are loaded
         * at run time: an upgrade may change the bytes. */
        cache_hash_printf(&h, "%s, libzstd %s", archive_version_string(), ZSTD_versionString());
        step_cache_hash_environ(&h);
        char digest[DIGEST_STRING_MAX];
        sha256_final(&h, digest);
        memcpy(ret, digest_hex(digest), 65);
        return 0;
}

/* The recorded run, when nothing it read changed and the layout still has
 * what it left: its lines are printed and nothing is written. */
static bool run_unchanged(const Context *ctx, const char *dir, const char *key)
{
        _cleanup_(run_record_freep) RunRecord *rec = run_record_load(dir, key);
        if (!rec) {
                ob_debug("no run record %s", key);
                return false;
        }
        const char *why = NULL;
        if (!journal_fresh(rec->journal, /* since= */ NULL, &why)) {
                ob_debug("the run record does not hold: '%s' changed", why);
                return false;
        }
        if (!run_record_layout_matches(rec, ctx->layout, &why)) {
                ob_debug("the run record does not hold: the layout's %s is not as recorded", why);
                return false;
        }
        print_results(ctx, rec);
        ob_info("oci-build: nothing changed since the last build of these images: nothing was written");
        return true;
}

/* A run: unless --no-cache, skipped when its record holds; else built,
 * with its inputs journaled, and recorded when every input was
 * identified and none changed while it ran. */
static int run_build(const Context *ctx, SpecTier tier, bool all, char *const *args, ObError *err)
{
        char key[65] = "";
        _cleanup_free_ char *dir = NULL;
        ObError local;
        if (!ctx->no_cache) {
                if (run_key(ctx, tier, all, args, key, &local) < 0) {
                        ob_debug("this run cannot be recorded: %s", local.msg);
                        key[0] = '\0';
                } else {
                        dir = run_record_dir();
                        if (run_unchanged(ctx, dir, key))
                                return 0;
                }
        }

        struct timespec start;
        clock_gettime(CLOCK_REALTIME, &start);
        unsigned commands = journal_commands();
        _cleanup_(run_record_freep) RunRecord *rec = run_record_new(key);
        bool recordable = key[0] != '\0';
        if (recordable)
                journal_begin(rec->journal);
        _cleanup_strv_ char **names = NULL;
        int r = 0;
        if (tier != SPEC_TIER_BASE)
                r = context_names(ctx, tier, all, &names, err);
        if (r == 0)
                r = build_images(ctx, tier, tier == SPEC_TIER_BASE ? args : names, rec, &recordable, err);
        journal_begin(NULL);
        if (r < 0)
                return r;
        print_results(ctx, rec);

        const char *why = NULL;
        if (!recordable)
                return 0;
        if (rec->journal->broken)
                ob_debug("this run is not recorded: %s", rec->journal->broken);
        else if (journal_commands() != commands)
                ob_debug("this run is not recorded: it ran programs on the host");
        else if (!journal_fresh(rec->journal, &start, &why))
                ob_debug("this run is not recorded: '%s' changed during the run, or too recently to tell", why);
        else if (run_record_store(dir, rec, &local) < 0)
                ob_debug("this run is not recorded: %s", local.msg);
        return 0;
}

int context_build(const Context *ctx, SpecTier tier, char *const *names, ObError *err)
{
        return run_build(ctx, tier, /* all= */ false, names, err);
}

int context_build_tier(const Context *ctx, SpecTier tier, ObError *err)
{
        return run_build(ctx, tier, arg_tier_all, ctx->args, err);
}
