/* SPDX-License-Identifier: MIT */
/* The tool tier (configs/tools/NAME.yml): the binaries whose ELF closure
 * makes the layer, the test run in the built image, and the data layer. */
#include "spec.h"

#include <string.h>

#include "path.h"
#include "spec-internal.h"
#include "util.h"
#include "yamlspec.h"

/* {command, expect}: the keys are checked by the caller, since a test with
 * a single step has them next to its own. */
static int parse_test_step(YamlDoc *d, yaml_node_t *node, void *elem, void *userdata, ObError *err)
{
        SpecTestStep *st = elem;
        yaml_node_t *v;
        int r = y_require(d, node, "command", "a 'test' step", &v, err);
        if (r < 0)
                return r;
        if ((r = y_str_list(d, v, "command", /* flags= */ 0, &st->command, err)) < 0)
                return r;
        if (!st->command[0])
                return y_error(d, v, err, "'command' must name a program to run");
        if ((v = y_get(d, node, "expect")) && (r = y_nonempty_str(d, v, "expect", &st->expect, err)) < 0)
                return r;
        return 0;
}

static const SpecEntryKind test_step_kind = {
        .key = "steps",
        .what = "a 'test' step",
        .keys = (const char *const[]){ "command", "expect", NULL },
        .parse = parse_test_step,
};

/* test: {command: [...], expect: TEXT} or {steps: [{command, expect}...]},
 * with optional env and files (created under /tmp before the first step).
 * Apps take the same. */
int spec_parse_test(YamlDoc *d, yaml_node_t *node, SpecTest *t, ObError *err)
{
        static const char *const keys[] = { "command", "expect", "steps", "env", "files", NULL };
        yaml_node_t *v;
        int r = y_check_map(d, node, "'test'", keys, NULL, err);
        if (r < 0)
                return r;
        if ((v = y_get(d, node, "steps"))) {
                if (y_get(d, node, "command") || y_get(d, node, "expect"))
                        return y_error(d, v, err, "'test' takes 'steps' or 'command', not both");
                if (v->type != YAML_SEQUENCE_NODE || v->data.sequence.items.top == v->data.sequence.items.start)
                        return y_error(d, v, err, "'steps' must be a non-empty list of {command, expect}");
                if ((r = spec_parse_list(d, v, &test_step_kind, &t->steps, &t->n_steps, /* userdata= */ NULL, err)) < 0)
                        return r;
        } else {
                /* the keys were checked above, 'steps' being absent */
                t->steps = xcalloc(1, sizeof(*t->steps));
                t->n_steps = 1;
                if ((r = parse_test_step(d, node, &t->steps[0], /* userdata= */ NULL, err)) < 0)
                        return r;
        }
        if ((v = y_get(d, node, "env")) && (r = y_str_map(d, v, "env", &t->env, err)) < 0)
                return r;
        if ((v = y_get(d, node, "files"))) {
                if ((r = y_str_map(d, v, "files", &t->files, err)) < 0)
                        return r;
                for (size_t i = 0; t->files[i]; i++)
                        if (!str_startswith(t->files[i], "/tmp/") || strstr(t->files[i], "/../"))
                                return y_error(d, v, err, "'test.files' paths must be under /tmp/, found '%.*s'",
                                               (int) strcspn(t->files[i], "="), t->files[i]);
        }
        return 0;
}

static int parse_data(YamlDoc *d, yaml_node_t *node, SpecData *data, ObError *err)
{
        static const char *const keys[] = { "path", "owner", "mode", "command", "run_as", "password", "append", NULL };
        yaml_node_t *v;
        int r = y_check_map(d, node, "'data'", keys, NULL, err);
        if (r < 0)
                return r;
        if ((r = spec_get_path(d, node, "path", SPEC_KEY_REQUIRED, "'data'", &data->path, err)) < 0)
                return r;
        data->mode = 0700;
        if ((v = y_get(d, node, "mode")) && (r = y_mode(d, v, "mode", Y_MODE_DIRECTORY, &data->mode, err)) < 0)
                return r;
        if ((v = y_get(d, node, "owner")) && (r = y_owner(d, v, "owner", &data->uid, &data->gid, err)) < 0)
                return r;
        if ((r = y_require(d, node, "command", "'data'", &v, err)) < 0)
                return r;
        if ((r = y_str_list(d, v, "command", /* flags= */ 0, &data->command, err)) < 0)
                return r;
        if (!data->command[0] || data->command[0][0] != '/')
                return y_error(d, v, err, "the first word of 'command' must be an absolute path of a host program");
        if ((r = spec_get_str(d, node, "run_as", SPEC_KEY_OPTIONAL, "'data'", &data->run_as, err)) < 0)
                return r;
        if ((r = spec_get_str(d, node, "password", SPEC_KEY_OPTIONAL, "'data'", &data->password, err)) < 0)
                return r;
        if ((v = y_get(d, node, "append"))) {
                if ((r = y_str_map(d, v, "append", &data->append, err)) < 0)
                        return r;
                for (size_t i = 0; data->append[i]; i++) {
                        size_t klen = strcspn(data->append[i], "=");
                        if (memchr(data->append[i], '/', klen) || strncmp(data->append[i], "..=", 3) == 0 ||
                            strncmp(data->append[i], ".=", 2) == 0)
                                return y_error(
                                        d, v, err,
                                        "'append' keys must be file names inside the data directory, found '%.*s'",
                                        (int) klen, data->append[i]);
                }
        }
        return 0;
}

/* 'binaries': a non-empty list of image paths, normalised. */
static int parse_binaries(YamlDoc *d, yaml_node_t *v, char ***ret, ObError *err)
{
        _cleanup_strv_ char **binaries = NULL;
        int r = y_str_list(d, v, "binaries", /* flags= */ 0, &binaries, err);
        if (r < 0)
                return r;
        if (!binaries[0])
                return y_error(d, v, err, "'binaries' must name at least one program");
        for (size_t i = 0; binaries[i]; i++) {
                ObError ignore;
                char *norm = path_normalize_abs(binaries[i], &ignore);
                if (!norm)
                        return y_error(d, yaml_document_get_node(&d->doc, v->data.sequence.items.start[i]), err,
                                       "'binaries' entries must be absolute paths without '..', found '%s'",
                                       binaries[i]);
                free(binaries[i]);
                binaries[i] = norm;
        }
        *ret = TAKE_PTR(binaries);
        return 0;
}

/* A release tool: 'artifacts' (downloads or local files, archives
 * unpacked) instead of the sysroot's binaries, and 'build' steps that
 * compile unpacked sources. */
static int parse_release(YamlDoc *d, yaml_node_t *root, Spec *s, ObError *err)
{
        yaml_node_t *v;
        int r;
        _cleanup_free_ char *dir = spec_config_dir_abs(s->file);
        if ((v = y_get(d, root, "artifacts")) && (r = y_note(d, spec_parse_artifacts(d, v, s, dir, err), err)) < 0)
                return r;
        if ((v = y_get(d, root, "build")) && v->type != YAML_MAPPING_NODE &&
            (r = y_note(d, spec_parse_build(d, v, s, /* dir= */ NULL, err), err)) < 0)
                return r;
        /* without 'package' either, that was said already */
        if ((y_get(d, root, "artifacts") || y_get(d, root, "build")) && !y_get(d, root, "version") &&
            y_get(d, root, "package"))
                return y_note(d,
                              y_error(d, root, err,
                                      "a tool config with 'artifacts' or 'build' needs 'version': it is the release's "
                                      "version"),
                              err);
        return 0;
}

int spec_load_tool(const char *file, Spec **ret, ObError *err)
{
        static const char *const keys[] = { "name",     "version", "package",     "description", "category",
                                            "binaries", "files",   "directories", "symlinks",    "config",
                                            "test",     "data",    "artifacts",   "build",       NULL };
        static const YamlRename renames[] = {
                { "install_path", "binaries and files keep their host paths; use 'files' with 'path' and 'source' "
                                  "to place something elsewhere" },
                { "test_command", "use 'test: {command: [...], expect: TEXT}'" },
                { "binary", "use 'binaries' (a list)" },
                { "env", "put it under 'config: {env: ...}'" },
                { "entrypoint", "put it under 'config: {entrypoint: [...]}'" },
                { "cmd", "put it under 'config: {cmd: [...]}'" },
                { "user", "put it under 'config: {user: UID:GID}'" },
                { "workdir", "put it under 'config: {workdir: PATH}'" },
                { "ports", "put it under 'config: {ports: [...]}'" },
                { "volumes", "put it under 'config: {volumes: [...]}'" },
                { "users", "users and groups belong to the base image (configs/base.yml)" },
                { "rootfs", "a tool has no rootfs; list host files under 'files'" },
                { NULL, NULL },
        };
        _cleanup_(ydoc_freep) YamlDoc *d = NULL;
        _cleanup_(spec_freep) Spec *s = NULL;
        yaml_node_t *v;
        int r = spec_begin(file, SPEC_TIER_TOOL, "a tool config", keys, renames, &d, &s, err);
        if (r < 0)
                return r;
        yaml_node_t *root = ydoc_root(d);
        /* each key is checked on its own, and every problem reported */
        if ((r = y_note(d, spec_get_str(d, root, "package", SPEC_KEY_OPTIONAL, "a tool config", &s->package, err),
                        err)) < 0)
                return r;
        if (!y_get(d, root, "version") && !y_get(d, root, "package") &&
            (r = y_note(d,
                        y_error(d, root, err, "a tool config needs 'version', or 'package' to read the version from"),
                        err)) < 0)
                return r;
        if ((r = y_note(d, spec_get_str(d, root, "category", SPEC_KEY_OPTIONAL, "a tool config", &s->category, err),
                        err)) < 0)
                return r;
        /* The seed format's build mapping named the binary: its message
         * says to write 'binaries', so a missing 'binaries' is not said again. */
        bool seed_build = (v = y_get(d, root, "build")) && v->type == YAML_MAPPING_NODE;
        if (seed_build &&
            (r = y_note(d,
                        y_error(d, v, err,
                                "key 'build' is not supported in a tool config as a mapping: 'build.binary_path' "
                                "is now 'binaries' (a list of image paths) and 'build.runtime_libraries' is not "
                                "needed: libraries are found by reading the ELF files; name data files and helpers "
                                "under 'files' ('build' is now a list of steps that compile a release's "
                                "'artifacts')"),
                        err)) < 0)
                return r;
        if (!seed_build && (r = y_note(d, y_require(d, root, "binaries", "a tool config", &v, err), err)) < 0)
                return r;
        if ((v = y_get(d, root, "binaries")) && (r = y_note(d, parse_binaries(d, v, &s->binaries, err), err)) < 0)
                return r;
        if ((r = parse_release(d, root, s, err)) < 0)
                return r;
        if ((r = spec_parse_layer_keys(d, root, s, err)) < 0)
                return r;
        if ((v = y_get(d, root, "test")) && (r = y_note(d, spec_parse_test(d, v, &s->test, err), err)) < 0)
                return r;
        if ((v = y_get(d, root, "data"))) {
                if ((r = y_note(d, parse_data(d, v, &s->data, err), err)) < 0)
                        return r;
                s->has_data = true;
        }
        if ((r = y_problems(d, err)) < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}
