/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "configs.h"
#include "debroot.h"
#include "platform.h"
#include "util.h"

static char **arg_packages_of;
static char **arg_packages;

static const CommandOption options[] = {
        { "packages-of", "NAME,...", "also the packages of these tool or app configs ('all': every tool)" },
        { "packages", "PKG,...", "also these Debian packages (what a config's files need, e.g. npm)" },
        {},
};

static int set_option(const char *name, const char *value, ObError *err)
{
        char ***list = strcmp(name, "packages") == 0 ? &arg_packages : &arg_packages_of;
        const char *p = value;
        for (;;) {
                size_t n = strcspn(p, ",");
                _cleanup_free_ char *one = xstrndup(p, n);
                if (*one && !strv_contains(*list, one))
                        strv_push(list, one);
                if (!p[n])
                        return 0;
                p += n + 1;
        }
}

/* The Debian packages a config names: a tool's, or those of an app's tools. */
static int packages_of(const Context *ctx, const char *name, char ***packages, ObError *err)
{
        _cleanup_(spec_freep) Spec *spec = NULL;
        int r = build_load_config(ctx->configs, name, /* expect_tier= */ -1, &spec, err);
        if (r < 0)
                return r;
        if (spec->tier == SPEC_TIER_TOOL && spec->package && !strv_contains(*packages, spec->package))
                strv_push(packages, spec->package);
        for (size_t i = 0; spec->tier == SPEC_TIER_APP && spec->tools && spec->tools[i]; i++) {
                r = packages_of(ctx, spec->tools[i], packages, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int run(Context *ctx, ObError *err)
{
        _cleanup_strv_ char **want = TAKE_PTR(arg_packages_of);
        if (!ctx->platform)
                return ob_error_usage(err, "sysroot needs --platform (e.g. --platform linux/arm64)");
        Platform p;
        int r = platform_parse(ctx->platform, &p, err);
        if (r < 0)
                return r;
        if (ctx->args && ctx->args[0] && ctx->args[1])
                return ob_error_usage(err, "sysroot takes at most one directory");

        _cleanup_strv_ char **names = NULL;
        for (size_t i = 0; want && want[i]; i++)
                if (strcmp(want[i], "all") == 0) {
                        ConfigRef *refs = NULL;
                        size_t n = 0;
                        r = configs_list(ctx->configs, &refs, &n, err);
                        if (r < 0)
                                return r;
                        for (size_t k = 0; k < n; k++)
                                if (refs[k].tier == SPEC_TIER_TOOL && !strv_contains(names, refs[k].name))
                                        strv_push(&names, refs[k].name);
                        configs_free(refs, n);
                } else if (!strv_contains(names, want[i]))
                        strv_push(&names, want[i]);
        _cleanup_strv_ char **packages = TAKE_PTR(arg_packages);
        if (!packages)
                packages = xcalloc(1, sizeof(char *));
        for (size_t i = 0; names && names[i]; i++) {
                r = packages_of(ctx, names[i], &packages, err);
                if (r < 0)
                        return r;
        }

        _cleanup_free_ char *dir = ctx->args && ctx->args[0] ? xstrdup(ctx->args[0]) : platform_sysroot_dir(&p);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        r = debroot_make(&(DebrootOptions){ .platform = &p, .dir = dir, .packages = packages }, err);
        if (r < 0)
                return r;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        _cleanup_free_ char *ps = platform_string(&p);
        printf("%s %s (%.1f s)\n", ps, dir, (double) (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
        return 0;
}

const Command command_sysroot = {
        .name = "sysroot",
        .synopsis = "--platform OS/ARCH [--packages-of NAME,...] [--packages PKG,...] [DIR]",
        .summary = "make a Debian tree of another architecture for --platform builds",
        .help = "Makes (or replaces) DIR with mmdebstrap from the Debian mirror apt uses: base-files,\n"
                "libc6, libc-bin, ca-certificates and tzdata, the Debian packages of the named tool\n"
                "configs (and of an app's tools) and all they depend on. The packages are only\n"
                "unpacked, nothing of the foreign architecture runs; the dpkg database (versions,\n"
                "file lists) and the CA bundle are written from the packages. DIR defaults to where\n"
                "builds look for the platform's sysroot: $OCI_BUILD_SYSROOTS/linux-ARCH, else\n"
                "~/.cache/oci-build/sysroots/linux-ARCH (under $OCI_BUILD_CACHE when set).\n",
        .options = options,
        .set_option = set_option,
        .run = run,
};
