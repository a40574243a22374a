/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cleanup-libs.h"
#include "cli.h"
#include "platform.h"
#include "image.h"
#include "path.h"
#include "pkgdb.h"
#include "util.h"

static void print_list(const char *key, char *const *v)
{
        if (!v || !v[0])
                return;
        printf("  %s:\n", key);
        for (size_t i = 0; v[i]; i++)
                printf("    - %s\n", v[i]);
}

static void print_spec(const Spec *s)
{
        printf("name: %s\n", s->name);
        printf("tier: %s\n", spec_tier_name(s->tier));
        printf("config: %s\n", s->file);
        if (s->version)
                printf("version: %s\n", s->version);
        else
                printf("version: that of the Debian package '%s' in the sysroot\n", s->package);
        printf("description: %s\n", s->description);
        if (s->rootfs)
                printf("rootfs: %s\n", s->rootfs);
        if (s->n_files) {
                printf("files:\n");
                for (size_t i = 0; i < s->n_files; i++) {
                        const SpecFile *f = &s->files[i];
                        printf("  - %s", f->path);
                        if (strcmp(f->path, f->source))
                                printf(" (from %s)", f->source);
                        for (size_t k = 0; f->exclude && f->exclude[k]; k++)
                                printf("%s%s", k ? ", " : " excluding ", f->exclude[k]);
                        printf("\n");
                }
        }
        if (s->n_dirs) {
                printf("directories:\n");
                for (size_t i = 0; i < s->n_dirs; i++)
                        printf("  - %s %04o %u:%u\n", s->dirs[i].path, s->dirs[i].mode, s->dirs[i].uid, s->dirs[i].gid);
        }
        if (s->n_links) {
                printf("symlinks:\n");
                for (size_t i = 0; i < s->n_links; i++)
                        printf("  - %s -> %s\n", s->links[i].path, s->links[i].target);
        }
        if (s->n_users) {
                printf("users:\n");
                for (size_t i = 0; i < s->n_users; i++)
                        printf("  - %s %u:%u home %s shell %s\n", s->users[i].name, s->users[i].uid, s->users[i].gid,
                               s->users[i].home, s->users[i].shell);
        }
        if (s->n_groups) {
                printf("groups:\n");
                for (size_t i = 0; i < s->n_groups; i++)
                        printf("  - %s %u\n", s->groups[i].name, s->groups[i].gid);
        }
        if (s->package)
                printf("package: %s\n", s->package);
        if (s->category)
                printf("category: %s\n", s->category);
        if (s->binaries) {
                printf("binaries:\n");
                for (size_t i = 0; s->binaries[i]; i++)
                        printf("  - %s\n", s->binaries[i]);
        }
        if (s->has_data)
                printf("data: %s (made at build time by %s)\n", s->data.path, s->data.command[0]);
        if (s->tools && s->tools[0]) {
                _cleanup_free_ char *tools = strv_join(s->tools, ", ");
                printf("tools: %s\n", tools);
        }
        if (s->n_artifacts) {
                printf("artifacts:\n");
                for (size_t i = 0; i < s->n_artifacts; i++) {
                        const SpecArtifact *a = &s->artifacts[i];
                        printf("  - %s from %s%s\n", a->path, a->url ? a->url : a->source,
                               a->url && !a->sha256 ? " (pinned by the lock file)" : "");
                }
        }
        for (size_t i = 0; i < s->n_build; i++) {
                _cleanup_free_ char *cmd = strv_join(s->build[i].command, " ");
                printf("build: %s (in %s)\n", cmd, s->build[i].workdir);
        }
        if (s->has_health) {
                _cleanup_free_ char *t = strv_join(s->health.test, " ");
                printf("healthcheck: %s\n", t);
        }
        for (size_t i = 0; i < s->n_services; i++)
                printf("compose service: %s (image %s)\n", s->services[i].name, s->services[i].image);
        if (s->test.n_steps) {
                printf("test:\n");
                for (size_t i = 0; i < s->test.n_steps; i++) {
                        printf("  -");
                        for (size_t k = 0; s->test.steps[i].command[k]; k++)
                                printf(" %s", s->test.steps[i].command[k]);
                        if (s->test.steps[i].expect)
                                printf("   => expects \"%s\"", s->test.steps[i].expect);
                        printf("\n");
                }
        }
        printf("image config:\n");
        if (s->config.user)
                printf("  user: %s\n", s->config.user);
        if (s->config.workdir)
                printf("  workdir: %s\n", s->config.workdir);
        print_list("env", s->config.env);
        print_list("entrypoint", s->config.entrypoint);
        print_list("cmd", s->config.cmd);
        print_list("ports", s->config.ports);
        print_list("volumes", s->config.volumes);
        print_list("labels", s->config.labels);
}

static const char *type_letter(EntryType t)
{
        switch (t) {
        case ENTRY_DIR:
                return "d";
        case ENTRY_FILE:
                return "f";
        case ENTRY_SYMLINK:
                return "l";
        case ENTRY_HARDLINK:
                return "h";
        }
        return "?";
}

static void print_files(const Plan *p, const Pkgdb *db)
{
        char size[32];
        printf("%-1s %-4s %-11s %10s  %-48s %s\n", "T", "MODE", "OWNER", "SIZE", "PATH", "SOURCE / WHY");
        for (size_t i = 0; i < p->n; i++) {
                const Entry *e = &p->entries[i];
                _cleanup_free_ char *owner = xasprintf("%u:%u", e->uid, e->gid);
                _cleanup_free_ char *path = xasprintf("/%s", e->path);
                const char *src = e->source ? e->source : (e->type == ENTRY_FILE ? "(generated)" : "");
                printf("%-1s %04o %-11s %10s  %-48s ", type_letter(e->type), e->mode, owner,
                       e->type == ENTRY_FILE ? format_size(e->size, size) : "-", path);
                if (e->type == ENTRY_SYMLINK)
                        printf("-> %s; ", e->target);
                else if (e->type == ENTRY_HARDLINK)
                        printf("=> /%s; ", e->target);
                else if (*src)
                        printf("%s; ", src);
                printf("%s", e->why ? e->why : "");
                /* The owner last, as one word: the columns before stay put. */
                const PkgdbPackage *pkg = pkgdb_entry_owner(db, e);
                if (pkg)
                        printf("; package:%s=%s", pkg->name, dpkg_paragraph_get(pkg->para, "Version"));
                printf("\n");
        }
        printf("%zu entries, %s in files\n", p->n, format_size(plan_content_size(p), size));
}

/* The version the image was built with, which for a tool may differ from
 * what its package in the sysroot says now. */
static void print_built_version(json_t *m)
{
        json_t *ann = json_object_get(m, "annotations");
        const char *version = json_string_value(json_object_get(ann, "org.opencontainers.image.version"));
        const char *debian = json_string_value(json_object_get(ann, IMAGE_ANNOTATION_DEBIAN_VERSION));
        const char *package = json_string_value(json_object_get(ann, IMAGE_ANNOTATION_DEBIAN_PACKAGE));
        if (!version)
                return;
        if (debian)
                printf("  version: %s (Debian package '%s' %s)\n", version, package ? package : "?", debian);
        else
                printf("  version: %s\n", version);
}

static void print_layers(json_t *m)
{
        size_t i;
        json_t *layer;
        char size[32];
        json_array_foreach(json_object_get(m, "layers"), i, layer) {
                printf("  layer %zu: %s %s\n", i + 1, json_string_value(json_object_get(layer, "digest")),
                       format_size((uint64_t) json_integer_value(json_object_get(layer, "size")), size));
        }
}

static void print_built(const Context *ctx, const char *name)
{
        _cleanup_free_ char *marker = path_join(ctx->layout, "oci-layout");
        if (access(marker, F_OK) != 0) {
                printf("built: no (no layout at %s)\n", ctx->layout);
                return;
        }
        _cleanup_(layout_closep) Layout *l = NULL;
        ObError err;
        if (layout_open(ctx->layout, /* flags= */ 0, &l, &err) < 0) {
                printf("built: unknown (%s)\n", err.msg);
                return;
        }
        json_t *top = layout_index_find(l, name);
        if (!top) {
                printf("built: no (not in %s)\n", ctx->layout);
                return;
        }
        printf("built: %s in %s\n", json_string_value(json_object_get(top, "digest")), ctx->layout);
        /* An image index: its platforms, then the manifest --platform names
         * (or the native one). */
        _cleanup_free_ Platform *platforms = NULL;
        size_t n_platforms = 0;
        if (platform_list(l, name, &platforms, &n_platforms, &err) == 0)
                for (size_t i = 0; i < n_platforms; i++) {
                        _cleanup_free_ char *p = platform_string(&platforms[i]);
                        printf("platform: %s\n", p);
                }
        Platform want;
        if (ctx->platform && platform_parse(ctx->platform, &want, &err) < 0) {
                printf("  (%s)\n", err.msg);
                return;
        }
        _cleanup_json_ json_t *desc = NULL;
        if (platform_resolve(l, name, ctx->platform ? &want : NULL, &desc, &err) < 0) {
                printf("  (%s)\n", err.msg);
                return;
        }
        const char *digest = json_string_value(json_object_get(desc, "digest"));
        if (strcmp(digest, json_string_value(json_object_get(top, "digest"))) != 0)
                printf("manifest: %s\n", digest);
        _cleanup_free_ char *data = NULL;
        if (layout_read_blob(l, digest, &data, NULL, &err) < 0) {
                printf("  (%s)\n", err.msg);
                return;
        }
        _cleanup_json_ json_t *m = json_loads(data, 0, NULL);
        print_built_version(m);
        print_layers(m);
}

static bool arg_files, arg_packages;

static const CommandOption options[] = {
        { "files", NULL, "list every file of the image with its source and reason" },
        { "packages", NULL, "list the Debian packages whose files the image holds" },
        {},
};

static int set_option(const char *name, const char *value, ObError *err)
{
        if (strcmp(name, "packages") == 0)
                arg_packages = true;
        else
                arg_files = true;
        return 0;
}

typedef struct Owned {
        const PkgdbPackage *pkg;
        const char *path;
} Owned;

static int owned_cmp(const void *a, const void *b)
{
        const Owned *x = a, *y = b;
        if (x->pkg != y->pkg)
                return x->pkg < y->pkg ? -1 : 1;
        return strcmp(x->path, y->path);
}

/* Every package that owns a regular file of the image's layers, with the
 * count of its files (a path in two layers counted once). */
static void print_packages(const Pkgdb *db, const Plan *const *plans, size_t n_plans)
{
        if (!db) {
                printf("no Debian packages: the sysroot has no dpkg database, so the image has no package records\n");
                return;
        }
        _cleanup_free_ Owned *owned = NULL;
        size_t n = 0;
        for (size_t k = 0; k < n_plans; k++)
                for (size_t i = 0; i < plans[k]->n; i++) {
                        const Entry *e = &plans[k]->entries[i];
                        const PkgdbPackage *pkg =
                                (e->type == ENTRY_FILE || e->type == ENTRY_HARDLINK) ? pkgdb_entry_owner(db, e) : NULL;
                        if (!pkg)
                                continue;
                        owned = xrealloc(owned, (n + 1) * sizeof(Owned));
                        owned[n++] = (Owned){ .pkg = pkg, .path = e->path };
                }
        qsort_safe(owned, n, sizeof(Owned), owned_cmp);
        printf("%-32s %-28s %-8s %-24s %s\n", "PACKAGE", "VERSION", "ARCH", "SOURCE", "FILES");
        size_t n_packages = 0;
        for (size_t i = 0; i < n;) {
                const PkgdbPackage *pkg = owned[i].pkg;
                size_t files = 0;
                for (const char *last = NULL; i < n && owned[i].pkg == pkg; i++) {
                        if (!last || strcmp(last, owned[i].path) != 0)
                                files++;
                        last = owned[i].path;
                }
                const char *source = dpkg_paragraph_get(pkg->para, "Source");
                _cleanup_free_ char *src =
                        xstrndup(source ? source : pkg->name, strcspn(source ? source : pkg->name, " "));
                printf("%-32s %-28s %-8s %-24s %zu\n", pkg->name, dpkg_paragraph_get(pkg->para, "Version"), pkg->arch,
                       src, files);
                n_packages++;
        }
        printf("%zu packages\n", n_packages);
}

/* The image's own layer as the build would plan it, without running or
 * downloading anything: `show base --files` lists the base layer, a
 * tool's the layer on top of it, an app's its app layer. */
static int show_files(const Context *ctx, const Spec *spec, ObError *err)
{
        BuildOptions o = context_build_options(ctx);
        _cleanup_(build_freep) Build *b = NULL;
        int r = build_new(&o, &b, err);
        if (r < 0)
                return r;
        const Pkgdb *db = build_pkgdb(b);
        if (spec->tier == SPEC_TIER_BASE) {
                print_files(build_base_plan(b), db);
                return 0;
        }
        r = build_add(b, spec->tier, spec->name, BUILD_PLAN_ONLY, err);
        if (r < 0)
                return r;
        if (spec->tier == SPEC_TIER_TOOL) {
                print_files(build_tool_plan(b, spec->name), db);
                if (spec->has_data)
                        printf("and a data layer at %s, made at build time by %s\n", spec->data.path,
                               spec->data.command[0]);
                return 0;
        }
        print_files(build_app_plan(b, spec->name), db);
        if (spec->tools && spec->tools[0]) {
                _cleanup_free_ char *tools = strv_join(spec->tools, ", ");
                printf("on top of the base layer and the layers of: %s\n", tools);
        }
        return 0;
}

/* The packages of every layer of the image, as the build plans them. */
static int show_packages(const Context *ctx, const Spec *spec, ObError *err)
{
        BuildOptions o = context_build_options(ctx);
        _cleanup_(build_freep) Build *b = NULL;
        int r = build_new(&o, &b, err);
        if (r < 0)
                return r;
        size_t n_tools = strv_length(spec->tools);
        for (size_t i = 0; i < n_tools; i++) {
                r = build_add(b, SPEC_TIER_TOOL, spec->tools[i], BUILD_PLAN_ONLY, err);
                if (r < 0)
                        return r;
        }
        if (spec->tier != SPEC_TIER_BASE) {
                r = build_add(b, spec->tier, spec->name, BUILD_PLAN_ONLY, err);
                if (r < 0)
                        return r;
        }
        _cleanup_free_ const Plan **plans = xcalloc(n_tools + 2, sizeof(Plan *));
        size_t n = 0;
        plans[n++] = build_base_plan(b);
        for (size_t i = 0; i < n_tools; i++)
                plans[n++] = build_tool_plan(b, spec->tools[i]);
        if (spec->tier == SPEC_TIER_TOOL)
                plans[n++] = build_tool_plan(b, spec->name);
        else if (spec->tier == SPEC_TIER_APP)
                plans[n++] = build_app_plan(b, spec->name);
        print_packages(build_pkgdb(b), plans, n);
        return 0;
}

static int run(Context *ctx, ObError *err)
{
        _cleanup_(spec_freep) Spec *spec = NULL;

        if (strv_length(ctx->args) != 1)
                return ob_error_usage(err, "show takes exactly one NAME (see 'oci-build list')");
        int r = build_load_config(ctx->configs, ctx->args[0], /* expect_tier= */ -1, &spec, err);
        if (r < 0)
                return r;
        if (arg_files && arg_packages)
                return ob_error_usage(err, "show takes --files or --packages, not both");
        if (arg_files)
                return show_files(ctx, spec, err);
        if (arg_packages)
                return show_packages(ctx, spec, err);
        print_spec(spec);
        print_built(ctx, spec->name);
        return 0;
}

const Command command_show = {
        .name = "show",
        .synopsis = "NAME [--files | --packages]",
        .summary = "show a resolved config, or every file of its image",
        .help = "Prints the config NAME as oci-build understood it and, if it is built, its manifest\n"
                "digest and layers. With --files: every path of the image's layer with its type, mode,\n"
                "owner, size, where it comes from and why it is there, and the Debian package that owns\n"
                "it (package:NAME=VERSION). With --packages: the Debian packages whose files the image\n"
                "holds, with version, architecture, source package and count of files.\n",
        .options = options,
        .set_option = set_option,
        .run = run,
};
