/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "configs.h"
#include "log.h"
#include "path.h"
#include "platform.h"
#include "sandbox.h"
#include "unpack.h"
#include "util.h"

typedef struct TestTarget {
        char *name;
        Spec *spec;
} TestTarget;

static void targets_free(TestTarget *t, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(t[i].name);
                spec_free(t[i].spec);
        }
        free(t);
}

static void targets_add(TestTarget **t, size_t *n, const char *name, Spec *spec)
{
        *t = xrealloc(*t, (*n + 1) * sizeof(**t));
        (*t)[(*n)++] = (TestTarget){ .name = xstrdup(name), .spec = spec };
}

static const char *build_command(SpecTier tier)
{
        return tier == SPEC_TIER_BASE ? "base" : tier == SPEC_TIER_TOOL ? "tool" : "app";
}

/* The configs to test: the named ones, or with --all every config whose
 * image is in the layout and which has a test. Every config is loaded
 * before anything runs, so a bad one fails at once. */
static int load_targets(Context *ctx, bool all, Layout *l, TestTarget **ret, size_t *ret_n, ObError *err)
{
        TestTarget *t = NULL;
        size_t n = 0;
        int r = 0;

        if (all) {
                ConfigRef *refs = NULL;
                size_t n_refs = 0;
                if (ctx->args && ctx->args[0])
                        return ob_error_usage(err, "give image names or --all, not both");
                r = configs_list(ctx->configs, &refs, &n_refs, err);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n_refs && r == 0; i++) {
                        Spec *spec = NULL;
                        if (!l || !layout_index_find(l, refs[i].name))
                                continue;
                        r = build_load_config(ctx->configs, refs[i].name, /* expect_tier= */ -1, &spec, err);
                        if (r < 0)
                                break;
                        if (spec->test.n_steps)
                                targets_add(&t, &n, refs[i].name, spec);
                        else
                                spec_free(spec);
                }
                configs_free(refs, n_refs);
                if (r == 0 && n == 0)
                        r = ob_error_plain(err, ENOENT,
                                           "no image in %s has a config with a test (build them with "
                                           "'oci-build tool --all' or 'oci-build app --all')",
                                           ctx->layout);
        } else {
                if (!ctx->args || !ctx->args[0])
                        return ob_error_usage(err, "test needs NAME... or --all (see 'oci-build list')");
                for (size_t i = 0; ctx->args[i] && r == 0; i++) {
                        ConfigRef ref = { 0 };
                        Spec *spec = NULL;
                        bool dup = false;
                        for (size_t k = 0; k < n; k++)
                                dup = dup || strcmp(t[k].name, ctx->args[i]) == 0;
                        if (dup)
                                continue;
                        r = configs_find(ctx->configs, ctx->args[i], &ref, err);
                        if (r == 0)
                                r = build_load_config(ctx->configs, ctx->args[i], /* expect_tier= */ -1, &spec, err);
                        if (r == 0 && !spec->test.n_steps)
                                r = ob_error_plain(err, EINVAL, "'%s' has no test: its config %s has no 'test'",
                                                   ctx->args[i], ref.file);
                        if (r == 0 && (!l || !layout_index_find(l, ctx->args[i])))
                                r = ob_error_plain(err, ENOENT,
                                                   "image '%s' is not in %s: build it with 'oci-build %s%s%s'",
                                                   ctx->args[i], ctx->layout, build_command(ref.tier),
                                                   ref.tier == SPEC_TIER_BASE ? "" : " ",
                                                   ref.tier == SPEC_TIER_BASE ? "" : ctx->args[i]);
                        if (r == 0)
                                targets_add(&t, &n, ctx->args[i], TAKE_PTR(spec));
                        spec_free(spec);
                        config_ref_clear(&ref);
                }
        }
        if (r < 0) {
                targets_free(t, n);
                return r;
        }
        *ret = t;
        *ret_n = n;
        return 0;
}

/* argv as a shell would need it typed, for messages. */
static char *format_argv(char *const *argv)
{
        size_t cap = 64, n = 0;
        char *s = xmalloc(cap);
        s[0] = '\0';
        for (size_t i = 0; argv[i]; i++) {
                const char *a = argv[i];
                bool quote = !*a || strpbrk(a, " \t\n'\"\\$`*?[]{}()<>|&;#~!") != NULL;
                size_t need = strlen(a) * 4 + 4;
                if (n + need + 1 > cap) {
                        cap = (n + need + 1) * 2;
                        s = xrealloc(s, cap);
                }
                if (i)
                        s[n++] = ' ';
                if (quote)
                        s[n++] = '\'';
                for (; *a; a++) {
                        if (quote && *a == '\'') {
                                memcpy(s + n, "'\\''", 4);
                                n += 4;
                        } else
                                s[n++] = *a;
                }
                if (quote)
                        s[n++] = '\'';
                s[n] = '\0';
        }
        return s;
}

static void print_output(const StepResult *res)
{
        if (!res->output_size) {
                printf("      (no output)\n");
                return;
        }
        const char *p = res->output, *end = res->output + res->output_size;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t len = nl ? (size_t) (nl - p) : (size_t) (end - p);
                printf("      %.*s\n", (int) len, p);
                p += len + (nl ? 1 : 0);
        }
        if (res->truncated)
                printf("      (output truncated)\n");
}

static double now_seconds(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Unpacks one image into root, runs its steps in order. *ret_failed is the
 * number of the failed step (from 1), 0 when all passed. */
static int run_steps(Context *ctx, const TestTarget *t, const char *root, double start, size_t *ret_failed,
                     ObError *err)
{
        _cleanup_(unpacked_image_clear) UnpackedImage img = { 0 };
        const SpecTest *test = &t->spec->test;
        size_t failed = 0;
        char size[32];
        int r;

        {
                _cleanup_(layout_closep) Layout *l = NULL;
                r = layout_open(ctx->layout, /* flags= */ 0, &l, err);
                if (r < 0)
                        return r;
                Platform want;
                r = ctx->platform ? platform_parse(ctx->platform, &want, err) : 0;
                if (r == 0)
                        r = unpack_image_for(l, t->name, ctx->platform ? &want : NULL, root, &img, err);
                /* The layout's lock is released here, before the steps, which may be long. */
        }
        if (r < 0)
                return r;
        if (ob_verbosity >= 0)
                printf("%s: unpacked %zu layers (%s) in %.1f s; running as %s\n", t->name, img.n_layers,
                       format_size(img.tar_size, size), now_seconds() - start, img.user[0] ? img.user : "root");
        r = sandbox_create_files(root, &img, test->files, err);
        if (r < 0)
                return ob_error_wrap(err, "%s", t->name);

        for (size_t i = 0; i < test->n_steps; i++) {
                const SpecTestStep *step = &test->steps[i];
                _cleanup_free_ char *cmd = format_argv(step->command);
                _cleanup_(step_result_clear) StepResult res = { 0 };
                if (failed) {
                        if (ob_verbosity >= 0)
                                printf("  skipped: %s\n", cmd);
                        continue;
                }
                r = sandbox_run_step(root, &img, step->command, test->env, step->expect, SANDBOX_STEP_TIMEOUT_DEFAULT,
                                     &res, err);
                if (r < 0)
                        return r;
                if (res.passed) {
                        if (ob_verbosity >= 0)
                                printf("  ok: %s (%.1f s)\n", cmd, res.seconds);
                        if (ob_verbosity > 0)
                                print_output(&res);
                } else {
                        failed = i + 1;
                        printf("  FAILED: %s (%s, %.1f s)\n", cmd, res.why, res.seconds);
                        print_output(&res);
                }
                fflush(stdout);
        }
        if (failed)
                printf("%s: FAILED at step %zu of %zu (%.1f s)\n", t->name, failed, test->n_steps,
                       now_seconds() - start);
        else if (ob_verbosity >= 0)
                printf("%s: passed, %zu of %zu steps (%.1f s)\n", t->name, test->n_steps, test->n_steps,
                       now_seconds() - start);
        *ret_failed = failed;
        return 0;
}

/* Runs one image's test in a fresh private directory, removed afterwards. */
static int test_one(Context *ctx, const TestTarget *t, size_t *ret_failed, ObError *err)
{
        const char *tmpdir = getenv("TMPDIR");
        _cleanup_free_ char *dir = xasprintf("%s/oci-build-run.XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
        double start = now_seconds();
        int r;

        /* The directory is private (0700); the image's root inside it is
         * 0755 so that the image's user can walk it once it is "/". */
        if (!mkdtemp(dir))
                return ob_error_set(err, errno, "cannot create a temporary directory in '%s'",
                                    tmpdir && *tmpdir ? tmpdir : "/tmp");
        _cleanup_free_ char *root = path_join(dir, "rootfs");
        /* Held until the tree is gone: if this process is killed, 'oci-build
         * clean' sees that the directory's owner is gone. */
        _cleanup_close_ int owner_fd = -1;
        r = sandbox_claim_dir(dir, &owner_fd, err);
        if (r == 0 && (mkdir(root, 0755) < 0 || chmod(root, 0755) < 0))
                r = ob_error_set(err, errno, "cannot create '%s'", root);
        if (r == 0)
                r = run_steps(ctx, t, root, start, ret_failed, err);
        fflush(stdout);

        ObError rm_err;
        if (sandbox_remove_tree(dir, &rm_err) < 0) {
                if (r == 0)
                        return ob_error_plain(err, rm_err.code, "%s", rm_err.msg);
                fprintf(stderr, "oci-build: %s\n", rm_err.msg);
        }
        return r;
}

/* What to run instead where namespaces are not allowed. */
static int no_namespaces(Context *ctx, const TestTarget *t, ObError *err)
{
        char why[sizeof(err->msg)];
        snprintf(why, sizeof(why), "%s", err->msg);
        _cleanup_free_ char *args = format_argv(t->spec->test.steps[0].command + 1);
        _cleanup_free_ char *layout = strcmp(ctx->layout, "oci") ? xasprintf("--layout %s ", ctx->layout) : NULL;
        return ob_error_plain(err, err->code,
                              "%s; run the test under docker instead: oci-build %ssave %s -o %s.tar && docker load -i "
                              "%s.tar && docker run --rm --network=none --entrypoint %s distroless-%s:latest %s",
                              why, layout ? layout : "", t->name, t->name, t->name, t->spec->test.steps[0].command[0],
                              t->name, args);
}

static bool arg_all;

static const CommandOption options[] = {
        { "all", NULL, "every config whose image is in the layout and which has a test" },
        {},
};

static int set_option(const char *name, const char *value, ObError *err)
{
        arg_all = true;
        return 0;
}

static int run(Context *ctx, ObError *err)
{
        TestTarget *targets = NULL;
        size_t n = 0, n_failed = 0, n_steps = 0;
        _cleanup_free_ char *failed_names = NULL;
        double start = now_seconds();
        int r;

        {
                /* No layout at all is the same as an empty one for the messages. */
                _cleanup_(layout_closep) Layout *l = NULL;
                _cleanup_free_ char *marker = path_join(ctx->layout, "oci-layout");
                if (access(marker, F_OK) == 0) {
                        r = layout_open(ctx->layout, /* flags= */ 0, &l, err);
                        if (r < 0)
                                return r;
                }
                r = load_targets(ctx, arg_all, l, &targets, &n, err);
                if (r < 0)
                        return r;
        }

        /* A foreign platform runs under emulation, or not at all. */
        if (ctx->platform) {
                Platform want;
                r = platform_parse(ctx->platform, &want, err);
                if (r == 0)
                        r = platform_can_run(&want, err);
                if (r < 0) {
                        targets_free(targets, n);
                        return r;
                }
        }

        r = sandbox_check_namespaces(err);
        if (r < 0) {
                r = no_namespaces(ctx, &targets[0], err);
                targets_free(targets, n);
                return r;
        }

        sandbox_catch_signals();
        for (size_t i = 0; i < n; i++) {
                size_t failed = 0;
                r = test_one(ctx, &targets[i], &failed, err);
                if (r < 0)
                        break;
                n_steps += targets[i].spec->test.n_steps;
                if (failed) {
                        n_failed++;
                        char *s = xasprintf("%s%s%s", failed_names ? failed_names : "", failed_names ? ", " : "",
                                            targets[i].name);
                        free(failed_names);
                        failed_names = s;
                }
        }
        if (sandbox_interrupted()) {
                /* The tree is gone: die of the signal, as the caller expects. */
                int sig = sandbox_interrupted();
                fflush(stdout);
                signal(sig, SIG_DFL);
                raise(sig);
        }
        if (r == 0 && n_failed)
                r = ob_error_plain(err, EIO, "test failed for %s (%zu of %zu images)", failed_names, n_failed, n);
        else if (r == 0 && ob_verbosity >= 0 && n > 1)
                printf("all %zu images passed their tests (%zu steps, %.1f s)\n", n, n_steps, now_seconds() - start);
        targets_free(targets, n);
        return r;
}

const Command command_test = {
        .name = "test",
        .synopsis = "NAME... | --all",
        .summary = "run a config's test inside its built image, without a daemon",
        .help = "Unpacks the image NAME of the layout into a temporary directory (checking every blob's\n"
                "digest) and runs the steps of the 'test' in its config there, in order: each in new\n"
                "mount, pid, ipc, uts and network (loopback only) namespaces, with the /dev and /proc\n"
                "of a container runtime, as the image's user with the image's environment, its own\n"
                "session keyring and a seccomp filter like docker's default one. A step passes when\n"
                "it exits 0 within 300 s and its output contains 'expect'. Output is shown for failed\n"
                "steps, and for every step with -v. An ordinary user runs the steps in a user\n"
                "namespace too, as the image's user. Where this machine does not allow new namespaces\n"
                "it says which call failed and how to run the test under docker instead. Killed, it\n"
                "takes its steps with it; 'oci-build clean' removes the directory it leaves.\n",
        .options = options,
        .set_option = set_option,
        .run = run,
};
