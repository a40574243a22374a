/* SPDX-License-Identifier: MIT */
/* The app tier (configs/apps/NAME.yml): the tools it reuses, its artifacts
 * and build steps, its healthcheck, and the services of its compose file. */
#include "spec.h"

#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "path.h"
#include "spec-internal.h"
#include "util.h"
#include "yamlspec.h"

static bool valid_duration(const char *s)
{
        /* what compose accepts: digits followed by ms, s, m or h, repeated */
        if (!*s)
                return false;
        while (*s) {
                if (*s < '0' || *s > '9')
                        return false;
                while (*s >= '0' && *s <= '9')
                        s++;
                if (str_startswith(s, "ms"))
                        s += 2;
                else if (*s == 's' || *s == 'm' || *s == 'h')
                        s++;
                else
                        return false;
        }
        return true;
}

static int parse_health(YamlDoc *d, yaml_node_t *node, SpecHealth *h, ObError *err)
{
        static const char *const keys[] = { "test", "interval", "timeout", "start_period", "retries", NULL };
        yaml_node_t *v;
        int r = y_check_map(d, node, "'healthcheck'", keys, NULL, err);
        if (r < 0)
                return r;
        if ((r = y_require(d, node, "test", "'healthcheck'", &v, err)) < 0)
                return r;
        h->line = v->start_mark.line + 1;
        if (v->type != YAML_SEQUENCE_NODE)
                return y_error(d, v, err,
                               "'test' must be a list (exec form: [/path/to/program, ARGS...]); there is no shell "
                               "in the image to run a string");
        if ((r = y_str_list(d, v, "test", /* flags= */ 0, &h->test, err)) < 0)
                return r;
        if (!h->test[0] || h->test[0][0] != '/')
                return y_error(d, v, err,
                               "the first word of 'test' must be the absolute path of a program in the image");
        const char *durations[] = { "interval", "timeout", "start_period" };
        char **dst[] = { &h->interval, &h->timeout, &h->start_period };
        for (size_t i = 0; i < ELEMENTSOF(durations); i++) {
                if ((r = spec_get_str(d, node, durations[i], SPEC_KEY_OPTIONAL, "'healthcheck'", dst[i], err)) < 0)
                        return r;
                if (*dst[i] && !valid_duration(*dst[i]))
                        return y_error(d, y_get(d, node, durations[i]), err,
                                       "'%s' must be a duration such as 5s, 500ms or 1m, found '%s'", durations[i],
                                       *dst[i]);
        }
        h->retries = 3;
        if ((v = y_get(d, node, "retries")) && (r = y_uint(d, v, "retries", 1000, &h->retries, err)) < 0)
                return r;
        return 0;
}

/* A service of 'compose'; userdata is the key node that names it. */
static int parse_service(YamlDoc *d, yaml_node_t *node, void *elem, void *userdata, ObError *err)
{
        const yaml_node_t *name = userdata;
        SpecService *svc = elem;
        yaml_node_t *v;

        svc->name = xstrdup((const char *) name->data.scalar.value);
        int r = spec_get_str(d, node, "image", SPEC_KEY_REQUIRED, "a service", &svc->image, err);
        if (r < 0)
                return r;
        if ((v = y_get(d, node, "environment")) && (r = y_str_map(d, v, "environment", &svc->environment, err)) < 0)
                return r;
        if ((v = y_get(d, node, "volumes")) &&
            (r = y_str_list(d, v, "volumes", /* flags= */ 0, &svc->volumes, err)) < 0)
                return r;
        if ((v = y_get(d, node, "command")) &&
            (r = y_str_list(d, v, "command", /* flags= */ 0, &svc->command, err)) < 0)
                return r;
        if ((v = y_get(d, node, "healthcheck"))) {
                if ((r = parse_health(d, v, &svc->health, err)) < 0)
                        return r;
                svc->has_health = true;
        }
        return 0;
}

static const SpecEntryKind service_kind = {
        .key = "services",
        .what = "a service",
        .keys = (const char *const[]){ "image", "environment", "volumes", "command", "healthcheck", NULL },
        .renames =
                (const YamlRename[]){
                        { "ports", "services run with the app's network; set the port in 'environment' or 'command'" },
                        { "depends_on",
                          "the app depends on every service here, healthy first when it has a healthcheck" },
                        { NULL, NULL },
                },
        .parse = parse_service,
};

static int parse_compose(YamlDoc *d, yaml_node_t *node, Spec *s, ObError *err)
{
        static const char *const keys[] = { "services", "volumes", "environment", NULL };
        yaml_node_t *v;
        int r = y_check_map(d, node, "'compose'", keys, NULL, err);
        if (r < 0)
                return r;
        if ((v = y_get(d, node, "volumes")) &&
            (r = y_str_list(d, v, "volumes", /* flags= */ 0, &s->compose_volumes, err)) < 0)
                return r;
        if ((v = y_get(d, node, "environment")) && (r = y_str_map(d, v, "environment", &s->compose_env, err)) < 0)
                return r;
        yaml_node_t *svcs = y_get(d, node, "services");
        if (!svcs)
                return 0;
        /* Services are named by their keys, so this is a mapping where the
         * other entries are lists. */
        if (svcs->type != YAML_MAPPING_NODE)
                return y_error(d, svcs, err, "'services' must be a mapping of service names, found %s", y_kind(svcs));
        for (yaml_node_pair_t *p = svcs->data.mapping.pairs.start; p < svcs->data.mapping.pairs.top; p++) {
                yaml_node_t *k = yaml_document_get_node(&d->doc, p->key);
                yaml_node_t *sv = yaml_document_get_node(&d->doc, p->value);
                if (k->type != YAML_SCALAR_NODE || !spec_valid_name((const char *) k->data.scalar.value, 63))
                        r = y_error(d, k, err, "service names must be lowercase letters, digits, '_', '-' or '.'");
                else
                        r = spec_parse_entry(d, sv, &service_kind, &s->services, &s->n_services, /* userdata= */ k,
                                             err);
                if ((r = y_note(d, r, err)) < 0)
                        return r;
        }
        return 0;
}

static int parse_defaults(YamlDoc *d, yaml_node_t *node, Spec *s, ObError *err)
{
        static const char *const keys[] = { "port", "data_dir", NULL };
        yaml_node_t *v;
        int r = y_check_map(d, node, "'defaults'", keys, NULL, err);
        if (r < 0)
                return r;
        if ((v = y_get(d, node, "port"))) {
                /* y_uint()'s message would allow 0 and not say what the number is for */
                ObError ignore;
                if (y_uint(d, v, "port", 65535, &s->default_port, &ignore) < 0 || s->default_port == 0)
                        return y_error(d, v, err, "'port' must be a port number from 1 to 65535, found '%s'",
                                       v->type == YAML_SCALAR_NODE ? (const char *) v->data.scalar.value : y_kind(v));
        }
        return spec_get_path(d, node, "data_dir", SPEC_KEY_OPTIONAL, "'defaults'", &s->data_dir, err);
}

/* 'tools': tool config names, each with an optional version ("node@24"),
 * which the tool's version must start with (checked at build time). */
static int parse_tools(YamlDoc *d, yaml_node_t *v, Spec *s, ObError *err)
{
        int r = y_str_list(d, v, "tools", /* flags= */ 0, &s->tools, err);
        if (r < 0)
                return r;
        for (size_t i = 0; s->tools[i]; i++) {
                char *at = strchr(s->tools[i], '@');
                if (at && (at == s->tools[i] || !at[1]))
                        return y_error(d, yaml_document_get_node(&d->doc, v->data.sequence.items.start[i]), err,
                                       "'tools' entries are NAME or NAME@VERSION, found '%s'", s->tools[i]);
                strv_push(&s->tool_versions, at ? at + 1 : "");
                if (at)
                        *at = '\0';
        }
        return 0;
}

int spec_load_app(const char *file, Spec **ret, ObError *err)
{
        static const char *const keys[] = { "name",        "version",  "description", "tools",    "artifacts",
                                            "build",       "files",    "directories", "symlinks", "config",
                                            "healthcheck", "defaults", "compose",     "test",     NULL };
        static const YamlRename renames[] = {
                { "image", "an app image is built from 'tools' and 'artifacts', not from another image" },
                { "dockerfile",
                  "there is no Dockerfile: name files under 'artifacts' and host commands under 'build'" },
                { "binaries", "apps list their files under 'artifacts'; tools under 'tools'" },
                { "env", "put it under 'config: {env: ...}'" },
                { "ports", "put it under 'config: {ports: [...]}' or 'defaults: {port: N}'" },
                { NULL, NULL },
        };
        _cleanup_(ydoc_freep) YamlDoc *d = NULL;
        _cleanup_(spec_freep) Spec *s = NULL;
        yaml_node_t *v;
        int r = spec_begin(file, SPEC_TIER_APP, "an app config", keys, renames, &d, &s, err);
        if (r < 0)
                return r;
        yaml_node_t *root = ydoc_root(d);
        /* Paths in an app config are relative to the config file, wherever
         * oci-build runs from. */
        _cleanup_free_ char *dir = spec_config_dir_abs(file);
        /* each key is checked on its own, and every problem reported */
        if (!y_get(d, root, "version") && /* absent or empty: y_require() says which */
            (r = y_note(d, y_require(d, root, "version", "an app config", &v, err), err)) < 0)
                return r;
        if ((v = y_get(d, root, "tools")) && (r = y_note(d, parse_tools(d, v, s, err), err)) < 0)
                return r;
        if ((r = y_note(d, y_require(d, root, "artifacts", "an app config", &v, err), err)) < 0)
                return r;
        if (y_get(d, root, "artifacts") && (r = y_note(d, spec_parse_artifacts(d, v, s, dir, err), err)) < 0)
                return r;
        if ((v = y_get(d, root, "build")) && (r = y_note(d, spec_parse_build(d, v, s, dir, err), err)) < 0)
                return r;
        if ((r = spec_parse_layer_keys(d, root, s, err)) < 0)
                return r;
        if ((v = y_get(d, root, "healthcheck"))) {
                if ((r = y_note(d, parse_health(d, v, &s->health, err), err)) < 0)
                        return r;
                s->has_health = true;
        }
        if ((v = y_get(d, root, "test")) && (r = y_note(d, spec_parse_test(d, v, &s->test, err), err)) < 0)
                return r;
        if ((v = y_get(d, root, "defaults")) && (r = y_note(d, parse_defaults(d, v, s, err), err)) < 0)
                return r;
        if ((v = y_get(d, root, "compose")) && (r = y_note(d, parse_compose(d, v, s, err), err)) < 0)
                return r;
        if ((r = y_problems(d, err)) < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}
