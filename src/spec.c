/* SPDX-License-Identifier: MIT */
#include "spec.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "digest.h"
#include "path.h"
#include "util.h"
#include "yamlspec.h"

const char *spec_tier_name(SpecTier tier)
{
        switch (tier) {
        case SPEC_TIER_BASE:
                return "base";
        case SPEC_TIER_TOOL:
                return "tool";
        case SPEC_TIER_APP:
                return "app";
        }
        return "?";
}

void spec_image_config_clear(SpecImageConfig *c)
{
        free(c->user);
        strv_free(c->env);
        free(c->workdir);
        strv_free(c->entrypoint);
        strv_free(c->cmd);
        strv_free(c->ports);
        strv_free(c->volumes);
        strv_free(c->labels);
}

static void spec_health_clear(SpecHealth *h)
{
        strv_free(h->test);
        free(h->interval);
        free(h->timeout);
        free(h->start_period);
}

void spec_free(Spec *s)
{
        if (!s)
                return;
        free(s->file);
        free(s->name);
        free(s->version);
        free(s->description);
        free(s->rootfs);
        for (size_t i = 0; i < s->n_files; i++) {
                free(s->files[i].path);
                free(s->files[i].source);
                strv_free(s->files[i].exclude);
        }
        free(s->files);
        for (size_t i = 0; i < s->n_dirs; i++)
                free(s->dirs[i].path);
        free(s->dirs);
        for (size_t i = 0; i < s->n_links; i++) {
                free(s->links[i].path);
                free(s->links[i].target);
        }
        free(s->links);
        for (size_t i = 0; i < s->n_users; i++) {
                free(s->users[i].name);
                free(s->users[i].home);
                free(s->users[i].shell);
                free(s->users[i].gecos);
        }
        free(s->users);
        for (size_t i = 0; i < s->n_groups; i++) {
                free(s->groups[i].name);
                strv_free(s->groups[i].members);
        }
        free(s->groups);
        spec_image_config_clear(&s->config);
        free(s->package);
        free(s->category);
        strv_free(s->binaries);
        for (size_t i = 0; i < s->test.n_steps; i++) {
                strv_free(s->test.steps[i].command);
                free(s->test.steps[i].expect);
        }
        free(s->test.steps);
        strv_free(s->test.env);
        strv_free(s->test.files);
        free(s->data.path);
        strv_free(s->data.command);
        free(s->data.run_as);
        free(s->data.password);
        strv_free(s->data.append);
        strv_free(s->tools);
        for (size_t i = 0; i < s->n_artifacts; i++) {
                free(s->artifacts[i].path);
                free(s->artifacts[i].source);
                free(s->artifacts[i].url);
                strv_free(s->artifacts[i].sha256);
        }
        free(s->artifacts);
        for (size_t i = 0; i < s->n_build; i++) {
                strv_free(s->build[i].command);
                free(s->build[i].workdir);
        }
        free(s->build);
        spec_health_clear(&s->health);
        free(s->data_dir);
        for (size_t i = 0; i < s->n_services; i++) {
                free(s->services[i].name);
                free(s->services[i].image);
                strv_free(s->services[i].environment);
                strv_free(s->services[i].volumes);
                strv_free(s->services[i].command);
                spec_health_clear(&s->services[i].health);
        }
        free(s->services);
        strv_free(s->compose_volumes);
        strv_free(s->compose_env);
        free(s);
}

/* Names of images, users and groups: what both a tag and /etc/passwd accept. */
static bool valid_name(const char *s, size_t max)
{
        size_t n = strlen(s);
        if (n == 0 || n > max)
                return false;
        if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9') || s[0] == '_'))
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.'))
                        return false;
        return true;
}

/* Text that ends up in a colon-separated line of /etc/passwd. */
static bool valid_passwd_field(const char *s)
{
        return !strpbrk(s, ":\n");
}

static int get_str(YamlDoc *d, yaml_node_t *map, const char *key, bool required, const char *what, char **ret,
                   ObError *err)
{
        yaml_node_t *v = y_get(d, map, key);
        if (!v) {
                if (required)
                        return y_require(d, map, key, what, &v, err);
                return 0;
        }
        return y_nonempty_str(d, v, key, ret, err);
}

static int get_path(YamlDoc *d, yaml_node_t *map, const char *key, bool required, const char *what, char **ret,
                    ObError *err)
{
        yaml_node_t *v = y_get(d, map, key);
        if (!v) {
                if (required)
                        return y_require(d, map, key, what, &v, err);
                return 0;
        }
        return y_abs_path(d, v, key, ret, err);
}

static int get_id(YamlDoc *d, yaml_node_t *map, const char *key, const char *what, uint32_t *ret, ObError *err)
{
        yaml_node_t *v;
        uint64_t u;
        int r = y_require(d, map, key, what, &v, err);
        if (r < 0)
                return r;
        r = y_uint(d, v, key, 0xfffffffeu, &u, err);
        if (r < 0)
                return r;
        *ret = (uint32_t) u;
        return 0;
}

static int expect_list(YamlDoc *d, yaml_node_t *node, const char *key, ObError *err)
{
        if (node->type != YAML_SEQUENCE_NODE)
                return y_error(d, node, err, "'%s' must be a list, found %s", key, y_kind(node));
        return 0;
}

/* Paths of 'files' may start with ${resolve:/usr/bin/go}: the canonical
 * path of that file in the sysroot, so a config can follow a symlink to a
 * versioned directory (/usr/lib/go-1.19) instead of naming the version. */
static int get_file_path(YamlDoc *d, yaml_node_t *map, const char *key, bool required, char **ret, ObError *err)
{
        yaml_node_t *v = y_get(d, map, key);
        if (!v) {
                if (required)
                        return y_require(d, map, key, "a 'files' entry", &v, err);
                return 0;
        }
        if (v->type == YAML_SCALAR_NODE && str_startswith((const char *) v->data.scalar.value, "${resolve:")) {
                const char *s = (const char *) v->data.scalar.value;
                const char *close = strchr(s, '}');
                if (!close || s[10] != '/' || (close[1] && close[1] != '/'))
                        return y_error(d, v, err,
                                       "'%s' must look like ${resolve:/ABSOLUTE/PATH}/REST, found '%s'", key, s);
                *ret = xstrdup(s);
                return 0;
        }
        return y_abs_path(d, v, key, ret, err);
}

static int parse_files(YamlDoc *d, yaml_node_t *list, Spec *s, ObError *err)
{
        static const char *const keys[] = { "path", "source", "exclude", "mode", "owner", "optional", NULL };
        yaml_node_t *item;
        int r = expect_list(d, list, "files", err);
        if (r < 0)
                return r;
        Y_SEQ_FOREACH(d, list, item)
        {
                s->files = xrealloc(s->files, (s->n_files + 1) * sizeof(*s->files));
                SpecFile *f = &s->files[s->n_files++];
                memset(f, 0, sizeof(*f));
                f->line = item->start_mark.line + 1;
                if (item->type == YAML_SCALAR_NODE) {
                        /* "- /etc/foo" is short for "- path: /etc/foo" */
                        r = y_abs_path(d, item, "files", &f->path, err);
                        if (r < 0)
                                return r;
                        f->source = xstrdup(f->path);
                        continue;
                }
                r = y_check_map(d, item, "a 'files' entry", keys, NULL, err);
                if (r < 0)
                        return r;
                r = get_file_path(d, item, "path", true, &f->path, err);
                if (r < 0)
                        return r;
                r = get_file_path(d, item, "source", false, &f->source, err);
                if (r < 0)
                        return r;
                if (!f->source)
                        f->source = xstrdup(f->path);
                yaml_node_t *v = y_get(d, item, "exclude");
                if (v && (r = y_str_list(d, v, "exclude", true, &f->exclude, err)) < 0)
                        return r;
                if ((v = y_get(d, item, "mode"))) {
                        if ((r = y_mode(d, v, "mode", &f->mode, err)) < 0)
                                return r;
                        f->has_mode = true;
                }
                if ((v = y_get(d, item, "owner")) && (r = y_owner(d, v, "owner", &f->uid, &f->gid, err)) < 0)
                        return r;
                if ((v = y_get(d, item, "optional")) && (r = y_bool(d, v, "optional", &f->optional, err)) < 0)
                        return r;
        }
        return 0;
}

static int parse_dirs(YamlDoc *d, yaml_node_t *list, Spec *s, ObError *err)
{
        static const char *const keys[] = { "path", "mode", "owner", NULL };
        yaml_node_t *item;
        int r = expect_list(d, list, "directories", err);
        if (r < 0)
                return r;
        Y_SEQ_FOREACH(d, list, item)
        {
                r = y_check_map(d, item, "a 'directories' entry", keys, NULL, err);
                if (r < 0)
                        return r;
                s->dirs = xrealloc(s->dirs, (s->n_dirs + 1) * sizeof(*s->dirs));
                SpecDir *dir = &s->dirs[s->n_dirs++];
                memset(dir, 0, sizeof(*dir));
                dir->mode = 0755;
                r = get_path(d, item, "path", true, "a 'directories' entry", &dir->path, err);
                if (r < 0)
                        return r;
                if (strcmp(dir->path, "/") == 0)
                        return y_error(d, y_get(d, item, "path"), err, "'path' must not be the image root");
                yaml_node_t *v;
                if ((v = y_get(d, item, "mode")) && (r = y_mode(d, v, "mode", &dir->mode, err)) < 0)
                        return r;
                if ((v = y_get(d, item, "owner")) && (r = y_owner(d, v, "owner", &dir->uid, &dir->gid, err)) < 0)
                        return r;
        }
        return 0;
}

static int parse_links(YamlDoc *d, yaml_node_t *list, Spec *s, ObError *err)
{
        static const char *const keys[] = { "path", "target", NULL };
        yaml_node_t *item;
        int r = expect_list(d, list, "symlinks", err);
        if (r < 0)
                return r;
        Y_SEQ_FOREACH(d, list, item)
        {
                r = y_check_map(d, item, "a 'symlinks' entry", keys, NULL, err);
                if (r < 0)
                        return r;
                s->links = xrealloc(s->links, (s->n_links + 1) * sizeof(*s->links));
                SpecLink *l = &s->links[s->n_links++];
                memset(l, 0, sizeof(*l));
                r = get_path(d, item, "path", true, "a 'symlinks' entry", &l->path, err);
                if (r < 0)
                        return r;
                r = get_str(d, item, "target", true, "a 'symlinks' entry", &l->target, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_groups(YamlDoc *d, yaml_node_t *list, Spec *s, ObError *err)
{
        static const char *const keys[] = { "name", "gid", "members", NULL };
        yaml_node_t *item;
        int r = expect_list(d, list, "groups", err);
        if (r < 0)
                return r;
        Y_SEQ_FOREACH(d, list, item)
        {
                r = y_check_map(d, item, "a 'groups' entry", keys, NULL, err);
                if (r < 0)
                        return r;
                s->groups = xrealloc(s->groups, (s->n_groups + 1) * sizeof(*s->groups));
                SpecGroup *g = &s->groups[s->n_groups++];
                memset(g, 0, sizeof(*g));
                r = get_str(d, item, "name", true, "a 'groups' entry", &g->name, err);
                if (r < 0)
                        return r;
                if (!valid_name(g->name, 32))
                        return y_error(d, y_get(d, item, "name"), err,
                                       "group name '%s' must be 1-32 characters of a-z, 0-9, '_', '-', '.'", g->name);
                r = get_id(d, item, "gid", "a 'groups' entry", &g->gid, err);
                if (r < 0)
                        return r;
                yaml_node_t *v = y_get(d, item, "members");
                if (v && (r = y_str_list(d, v, "members", false, &g->members, err)) < 0)
                        return r;
                for (size_t i = 0; i + 1 < s->n_groups; i++) {
                        if (strcmp(s->groups[i].name, g->name) == 0)
                                return y_error(d, item, err, "group '%s' is defined twice", g->name);
                        if (s->groups[i].gid == g->gid)
                                return y_error(d, item, err, "gid %u is used by groups '%s' and '%s'", g->gid,
                                               s->groups[i].name, g->name);
                }
        }
        return 0;
}

static int parse_users(YamlDoc *d, yaml_node_t *list, Spec *s, ObError *err)
{
        static const char *const keys[] = { "name", "uid", "gid", "home", "shell", "gecos", NULL };
        yaml_node_t *item;
        int r = expect_list(d, list, "users", err);
        if (r < 0)
                return r;
        Y_SEQ_FOREACH(d, list, item)
        {
                r = y_check_map(d, item, "a 'users' entry", keys, NULL, err);
                if (r < 0)
                        return r;
                s->users = xrealloc(s->users, (s->n_users + 1) * sizeof(*s->users));
                SpecUser *u = &s->users[s->n_users++];
                memset(u, 0, sizeof(*u));
                r = get_str(d, item, "name", true, "a 'users' entry", &u->name, err);
                if (r < 0)
                        return r;
                if (!valid_name(u->name, 32))
                        return y_error(d, y_get(d, item, "name"), err,
                                       "user name '%s' must be 1-32 characters of a-z, 0-9, '_', '-', '.'", u->name);
                if ((r = get_id(d, item, "uid", "a 'users' entry", &u->uid, err)) < 0)
                        return r;
                if ((r = get_id(d, item, "gid", "a 'users' entry", &u->gid, err)) < 0)
                        return r;
                if ((r = get_path(d, item, "home", true, "a 'users' entry", &u->home, err)) < 0)
                        return r;
                if ((r = get_path(d, item, "shell", false, "a 'users' entry", &u->shell, err)) < 0)
                        return r;
                if (!u->shell)
                        u->shell = xstrdup("/sbin/nologin");
                if ((r = get_str(d, item, "gecos", false, "a 'users' entry", &u->gecos, err)) < 0)
                        return r;
                if (u->gecos && !valid_passwd_field(u->gecos))
                        return y_error(d, y_get(d, item, "gecos"), err, "'gecos' must not contain ':' or a newline");
                if (!u->gecos)
                        u->gecos = xstrdup(u->name);
                for (size_t i = 0; i + 1 < s->n_users; i++) {
                        if (strcmp(s->users[i].name, u->name) == 0)
                                return y_error(d, item, err, "user '%s' is defined twice", u->name);
                        if (s->users[i].uid == u->uid)
                                return y_error(d, item, err, "uid %u is used by users '%s' and '%s'", u->uid,
                                               s->users[i].name, u->name);
                }
        }
        return 0;
}

static bool valid_port(const char *p)
{
        char *end;
        /* strtol() would also take " 80" and "+80" */
        if (*p < '0' || *p > '9')
                return false;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (errno || end == p || v < 1 || v > 65535)
                return false;
        return !*end || strcmp(end, "/tcp") == 0 || strcmp(end, "/udp") == 0 || strcmp(end, "/sctp") == 0;
}

int spec_parse_image_config(YamlDoc *d, yaml_node_t *node, SpecImageConfig *c, ObError *err);
int spec_parse_image_config(YamlDoc *d, yaml_node_t *node, SpecImageConfig *c, ObError *err)
{
        static const char *const keys[] = { "user", "env", "workdir", "entrypoint", "cmd",
                                            "ports", "volumes", "labels", NULL };
        static const YamlRename renames[] = {
                { "working_dir", "use 'workdir'" },
                { "environment", "use 'env'" },
                { "command", "use 'cmd'" },
                { "expose", "use 'ports'" },
                { NULL, NULL },
        };
        yaml_node_t *v;
        int r = y_check_map(d, node, "'config'", keys, renames, err);
        if (r < 0)
                return r;
        if ((v = y_get(d, node, "user"))) {
                uint32_t uid, gid;
                if ((r = y_owner(d, v, "user", &uid, &gid, err)) < 0)
                        return r;
                c->user = xasprintf("%u:%u", uid, gid);
        }
        if ((v = y_get(d, node, "env")) && (r = y_str_map(d, v, "env", &c->env, err)) < 0)
                return r;
        if ((v = y_get(d, node, "workdir")) && (r = y_abs_path(d, v, "workdir", &c->workdir, err)) < 0)
                return r;
        if ((v = y_get(d, node, "entrypoint")) && (r = y_str_list(d, v, "entrypoint", false, &c->entrypoint, err)) < 0)
                return r;
        if ((v = y_get(d, node, "cmd")) && (r = y_str_list(d, v, "cmd", false, &c->cmd, err)) < 0)
                return r;
        if ((v = y_get(d, node, "ports"))) {
                if ((r = y_str_list(d, v, "ports", false, &c->ports, err)) < 0)
                        return r;
                for (size_t i = 0; c->ports[i]; i++) {
                        /* y_str_list() took a sequence: item i is c->ports[i] */
                        yaml_node_t *item = yaml_document_get_node(&d->doc, v->data.sequence.items.start[i]);
                        if (!valid_port(c->ports[i]))
                                return y_error(d, item, err,
                                               "'ports' entries must be a port number 1-65535 with an optional "
                                               "/tcp or /udp, found '%s'",
                                               c->ports[i]);
                        if (!strchr(c->ports[i], '/')) {
                                char *p = xasprintf("%s/tcp", c->ports[i]);
                                free(c->ports[i]);
                                c->ports[i] = p;
                        }
                }
        }
        if ((v = y_get(d, node, "volumes"))) {
                if ((r = y_str_list(d, v, "volumes", false, &c->volumes, err)) < 0)
                        return r;
                for (size_t i = 0; c->volumes[i]; i++)
                        if (c->volumes[i][0] != '/')
                                return y_error(d, yaml_document_get_node(&d->doc, v->data.sequence.items.start[i]),
                                               err, "'volumes' entries must be absolute paths, found '%s'",
                                               c->volumes[i]);
        }
        if ((v = y_get(d, node, "labels")) && (r = y_str_map(d, v, "labels", &c->labels, err)) < 0)
                return r;
        return 0;
}

/* The directory of the config file, for paths written relative to it. */
static char *config_dir(const char *file)
{
        const char *slash = strrchr(file, '/');
        if (!slash)
                return xstrdup(".");
        if (slash == file)
                return xstrdup("/");
        return xstrndup(file, (size_t) (slash - file));
}

static int parse_rootfs(YamlDoc *d, yaml_node_t *v, const char *file, char **ret, ObError *err)
{
        _cleanup_free_ char *rel = NULL;
        int r = y_nonempty_str(d, v, "rootfs", &rel, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *dir = config_dir(file);
        _cleanup_free_ char *joined = rel[0] == '/' ? xstrdup(rel) : path_join(dir, rel);
        char *real = realpath(joined, NULL);
        if (!real)
                return y_error(d, v, err, "'rootfs' directory '%s' cannot be used: %s", joined, strerror(errno));
        struct stat st;
        if (stat(real, &st) < 0 || !S_ISDIR(st.st_mode)) {
                free(real);
                return y_error(d, v, err, "'rootfs' must be a directory, '%s' is not", joined);
        }
        *ret = real;
        return 0;
}

static int check_cross_refs(YamlDoc *d, yaml_node_t *root, Spec *s, ObError *err)
{
        for (size_t i = 0; i < s->n_users; i++) {
                bool found = false;
                for (size_t j = 0; j < s->n_groups; j++)
                        found |= s->groups[j].gid == s->users[i].gid;
                if (!found)
                        return y_error(d, y_get(d, root, "users"), err,
                                       "user '%s' has gid %u, which no entry of 'groups' defines", s->users[i].name,
                                       s->users[i].gid);
        }
        for (size_t j = 0; j < s->n_groups; j++)
                for (size_t k = 0; s->groups[j].members && s->groups[j].members[k]; k++) {
                        bool found = false;
                        for (size_t i = 0; i < s->n_users; i++)
                                found |= strcmp(s->users[i].name, s->groups[j].members[k]) == 0;
                        if (!found)
                                return y_error(d, y_get(d, root, "groups"), err,
                                               "group '%s' lists member '%s', which is not in 'users'",
                                               s->groups[j].name, s->groups[j].members[k]);
                }
        return 0;
}

/* The start all tiers share: the file, its keys, name, version and
 * description. The version may be absent; the caller decides. */
static int spec_begin(const char *file, SpecTier tier, const char *what, const char *const *keys,
                      const YamlRename *renames, YamlDoc **ret_doc, Spec **ret, ObError *err)
{
        YamlDoc *d = NULL;
        yaml_node_t *root;
        int r = ydoc_load(file, &d, err);
        if (r < 0)
                return r;
        Spec *s = xcalloc(1, sizeof(*s));
        s->tier = tier;
        s->file = xstrdup(file);
        root = ydoc_root(d);
        if ((r = y_check_map(d, root, what, keys, renames, err)) < 0 ||
            (r = get_str(d, root, "name", true, what, &s->name, err)) < 0)
                goto fail;
        if (!valid_name(s->name, 64)) {
                r = y_error(d, y_get(d, root, "name"), err,
                            "'name' must be lowercase letters, digits, '_', '-' or '.', found '%s'", s->name);
                goto fail;
        }
        if ((r = get_str(d, root, "version", false, what, &s->version, err)) < 0 ||
            (r = get_str(d, root, "description", true, what, &s->description, err)) < 0)
                goto fail;
        *ret_doc = d;
        *ret = s;
        return 0;
fail:
        ydoc_free(d);
        spec_free(s);
        return r;
}

/* What every tier's layer may name: files, directories, symlinks; and the
 * image config. */
static int parse_layer_keys(YamlDoc *d, yaml_node_t *root, Spec *s, ObError *err)
{
        yaml_node_t *v;
        int r = 0;
        if ((v = y_get(d, root, "files")) && (r = parse_files(d, v, s, err)) < 0)
                return r;
        if ((v = y_get(d, root, "directories")) && (r = parse_dirs(d, v, s, err)) < 0)
                return r;
        if ((v = y_get(d, root, "symlinks")) && (r = parse_links(d, v, s, err)) < 0)
                return r;
        if ((v = y_get(d, root, "config")) && (r = spec_parse_image_config(d, v, &s->config, err)) < 0)
                return r;
        return 0;
}

/* Ends a loader: the spec on success, nothing on failure. */
static int spec_end(YamlDoc *d, Spec *s, int r, Spec **ret)
{
        ydoc_free(d);
        if (r < 0) {
                spec_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

int spec_load_base(const char *file, const char *default_version, Spec **ret, ObError *err)
{
        static const char *const keys[] = { "name", "version", "description", "rootfs", "files", "directories",
                                            "symlinks", "users", "groups", "config", NULL };
        static const YamlRename renames[] = {
                { "install_path", "a base image has no install path; list host files under 'files'" },
                { "dirs", "use 'directories'" },
                { "links", "use 'symlinks'" },
                { NULL, NULL },
        };
        YamlDoc *d = NULL;
        Spec *s = NULL;
        yaml_node_t *root, *v;
        int r = spec_begin(file, SPEC_TIER_BASE, "the base config", keys, renames, &d, &s, err);
        if (r < 0)
                return r;
        root = ydoc_root(d);
        if (!s->version)
                s->version = xstrdup(default_version);
        if ((v = y_get(d, root, "rootfs")) && (r = parse_rootfs(d, v, file, &s->rootfs, err)) < 0)
                goto out;
        if ((r = parse_layer_keys(d, root, s, err)) < 0)
                goto out;
        if ((v = y_get(d, root, "groups")) && (r = parse_groups(d, v, s, err)) < 0)
                goto out;
        if ((v = y_get(d, root, "users")) && (r = parse_users(d, v, s, err)) < 0)
                goto out;
        r = check_cross_refs(d, root, s, err);
out:
        return spec_end(d, s, r, ret);
}

static int parse_test_step(YamlDoc *d, yaml_node_t *node, bool check_keys, SpecTestStep *st, ObError *err)
{
        static const char *const keys[] = { "command", "expect", NULL };
        yaml_node_t *v;
        int r = check_keys ? y_check_map(d, node, "a 'test' step", keys, NULL, err) : 0;
        if (r < 0)
                return r;
        if ((r = y_require(d, node, "command", "a 'test' step", &v, err)) < 0)
                return r;
        if ((r = y_str_list(d, v, "command", false, &st->command, err)) < 0)
                return r;
        if (!st->command[0])
                return y_error(d, v, err, "'command' must name a program to run");
        if ((v = y_get(d, node, "expect")) && (r = y_nonempty_str(d, v, "expect", &st->expect, err)) < 0)
                return r;
        return 0;
}

/* test: {command: [...], expect: TEXT} or {steps: [{command, expect}...]},
 * with optional env and files (created under /tmp before the first step). */
static int parse_test(YamlDoc *d, yaml_node_t *node, SpecTest *t, ObError *err)
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
                yaml_node_t *item;
                Y_SEQ_FOREACH(d, v, item)
                {
                        t->steps = xrealloc(t->steps, (t->n_steps + 1) * sizeof(*t->steps));
                        memset(&t->steps[t->n_steps], 0, sizeof(*t->steps));
                        t->n_steps++;
                        if ((r = parse_test_step(d, item, true, &t->steps[t->n_steps - 1], err)) < 0)
                                return r;
                }
        } else {
                t->steps = xcalloc(1, sizeof(*t->steps));
                t->n_steps = 1;
                static const char *const step_keys[] = { "command", "expect", "env", "files", NULL };
                if ((r = y_check_map(d, node, "'test'", step_keys, NULL, err)) < 0)
                        return r;
                if ((r = parse_test_step(d, node, false, &t->steps[0], err)) < 0)
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
        if ((r = get_path(d, node, "path", true, "'data'", &data->path, err)) < 0)
                return r;
        data->mode = 0700;
        if ((v = y_get(d, node, "mode")) && (r = y_mode(d, v, "mode", &data->mode, err)) < 0)
                return r;
        if ((v = y_get(d, node, "owner")) && (r = y_owner(d, v, "owner", &data->uid, &data->gid, err)) < 0)
                return r;
        if ((r = y_require(d, node, "command", "'data'", &v, err)) < 0)
                return r;
        if ((r = y_str_list(d, v, "command", false, &data->command, err)) < 0)
                return r;
        if (!data->command[0] || data->command[0][0] != '/')
                return y_error(d, v, err, "the first word of 'command' must be an absolute path of a host program");
        if ((r = get_str(d, node, "run_as", false, "'data'", &data->run_as, err)) < 0)
                return r;
        if ((r = get_str(d, node, "password", false, "'data'", &data->password, err)) < 0)
                return r;
        if ((v = y_get(d, node, "append"))) {
                if ((r = y_str_map(d, v, "append", &data->append, err)) < 0)
                        return r;
                for (size_t i = 0; data->append[i]; i++) {
                        size_t klen = strcspn(data->append[i], "=");
                        if (memchr(data->append[i], '/', klen) || strncmp(data->append[i], "..=", 3) == 0 ||
                            strncmp(data->append[i], ".=", 2) == 0)
                                return y_error(d, v, err,
                                               "'append' keys must be file names inside the data directory, found '%.*s'",
                                               (int) klen, data->append[i]);
                }
        }
        return 0;
}

int spec_load_tool(const char *file, Spec **ret, ObError *err)
{
        static const char *const keys[] = { "name", "version", "package", "description", "category", "binaries",
                                            "files", "directories", "symlinks", "config", "test", "data", NULL };
        static const YamlRename renames[] = {
                { "build", "'build.binary_path' is now 'binaries' (a list of image paths) and "
                           "'build.runtime_libraries' is not needed: libraries are found by reading the ELF files; "
                           "name data files and helpers under 'files'" },
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
        YamlDoc *d = NULL;
        Spec *s = NULL;
        yaml_node_t *root, *v;
        int r = spec_begin(file, SPEC_TIER_TOOL, "a tool config", keys, renames, &d, &s, err);
        if (r < 0)
                return r;
        root = ydoc_root(d);
        if ((r = get_str(d, root, "package", false, "a tool config", &s->package, err)) < 0)
                goto out;
        if (!s->version && !s->package) {
                r = y_error(d, root, err, "a tool config needs 'version', or 'package' to read the version from");
                goto out;
        }
        if ((r = get_str(d, root, "category", false, "a tool config", &s->category, err)) < 0)
                goto out;
        if ((r = y_require(d, root, "binaries", "a tool config", &v, err)) < 0)
                goto out;
        if ((r = y_str_list(d, v, "binaries", false, &s->binaries, err)) < 0)
                goto out;
        if (!s->binaries[0]) {
                r = y_error(d, v, err, "'binaries' must name at least one program");
                goto out;
        }
        for (size_t i = 0; s->binaries[i]; i++) {
                ObError tmp;
                char *norm = path_normalize_abs(s->binaries[i], &tmp);
                if (!norm) {
                        r = y_error(d, yaml_document_get_node(&d->doc, v->data.sequence.items.start[i]), err,
                                    "'binaries' entries must be absolute paths without '..', found '%s'",
                                    s->binaries[i]);
                        goto out;
                }
                free(s->binaries[i]);
                s->binaries[i] = norm;
        }
        if ((r = parse_layer_keys(d, root, s, err)) < 0)
                goto out;
        if ((v = y_get(d, root, "test")) && (r = parse_test(d, v, &s->test, err)) < 0)
                goto out;
        if ((v = y_get(d, root, "data"))) {
                if ((r = parse_data(d, v, &s->data, err)) < 0)
                        goto out;
                s->has_data = true;
        }
out:
        return spec_end(d, s, r, ret);
}

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
        if ((r = y_str_list(d, v, "test", false, &h->test, err)) < 0)
                return r;
        if (!h->test[0] || h->test[0][0] != '/')
                return y_error(d, v, err, "the first word of 'test' must be the absolute path of a program in the image");
        const char *durations[] = { "interval", "timeout", "start_period" };
        char **dst[] = { &h->interval, &h->timeout, &h->start_period };
        for (size_t i = 0; i < 3; i++) {
                if ((r = get_str(d, node, durations[i], false, "'healthcheck'", dst[i], err)) < 0)
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

/* A path written relative to the config's directory, made absolute (and
 * canonical where it exists, so messages show a clean path). */
static char *resolve_relative(const char *dir, const char *path)
{
        _cleanup_free_ char *joined = path[0] == '/' ? xstrdup(path) : path_join(dir, path);
        char *real = realpath(joined, NULL);
        return real ? real : TAKE_PTR(joined);
}

static int parse_artifacts(YamlDoc *d, yaml_node_t *list, const char *dir, Spec *s, ObError *err)
{
        static const char *const keys[] = { "path", "source", "url", "sha256", "mode", "owner", NULL };
        yaml_node_t *item, *v;
        int r = expect_list(d, list, "artifacts", err);
        if (r < 0)
                return r;
        Y_SEQ_FOREACH(d, list, item)
        {
                if ((r = y_check_map(d, item, "an 'artifacts' entry", keys, NULL, err)) < 0)
                        return r;
                s->artifacts = xrealloc(s->artifacts, (s->n_artifacts + 1) * sizeof(*s->artifacts));
                SpecArtifact *a = &s->artifacts[s->n_artifacts++];
                memset(a, 0, sizeof(*a));
                a->line = item->start_mark.line + 1;
                if ((r = get_path(d, item, "path", true, "an 'artifacts' entry", &a->path, err)) < 0)
                        return r;
                _cleanup_free_ char *src = NULL;
                if ((r = get_str(d, item, "source", false, "an 'artifacts' entry", &src, err)) < 0)
                        return r;
                if ((r = get_str(d, item, "url", false, "an 'artifacts' entry", &a->url, err)) < 0)
                        return r;
                if (!src == !a->url)
                        return y_error(d, item, err, "an 'artifacts' entry needs either 'source' (a local path) or 'url'");
                if (src)
                        a->source = resolve_relative(dir, src);
                if (a->url && !str_startswith(a->url, "https://") && !str_startswith(a->url, "http://") &&
                    !str_startswith(a->url, "file://"))
                        return y_error(d, y_get(d, item, "url"), err,
                                       "'url' must start with https://, http:// or file://, found '%s'", a->url);
                if ((v = y_get(d, item, "sha256"))) {
                        if (!a->url)
                                return y_error(d, v, err, "'sha256' pins a download: it needs 'url'");
                        if (v->type == YAML_SCALAR_NODE) {
                                _cleanup_free_ char *hex = NULL;
                                if ((r = y_str(d, v, "sha256", &hex, err)) < 0)
                                        return r;
                                _cleanup_free_ char *kv = xasprintf("*=%s", hex);
                                strv_push(&a->sha256, kv);
                        } else if ((r = y_str_map(d, v, "sha256", &a->sha256, err)) < 0)
                                return r;
                        for (size_t i = 0; a->sha256[i]; i++) {
                                _cleanup_free_ char *dg = xasprintf("sha256:%s", strchr(a->sha256[i], '=') + 1);
                                if (!digest_is_valid(dg))
                                        return y_error(d, v, err, "'sha256' must be 64 lowercase hex digits, found '%s'",
                                                       strchr(a->sha256[i], '=') + 1);
                        }
                }
                if ((v = y_get(d, item, "mode"))) {
                        if ((r = y_mode(d, v, "mode", &a->mode, err)) < 0)
                                return r;
                        a->has_mode = true;
                }
                if ((v = y_get(d, item, "owner")) && (r = y_owner(d, v, "owner", &a->uid, &a->gid, err)) < 0)
                        return r;
        }
        return 0;
}

static int parse_build(YamlDoc *d, yaml_node_t *list, const char *dir, Spec *s, ObError *err)
{
        static const char *const keys[] = { "command", "workdir", NULL };
        yaml_node_t *item, *v;
        int r = expect_list(d, list, "build", err);
        if (r < 0)
                return r;
        Y_SEQ_FOREACH(d, list, item)
        {
                if ((r = y_check_map(d, item, "a 'build' step", keys, NULL, err)) < 0)
                        return r;
                s->build = xrealloc(s->build, (s->n_build + 1) * sizeof(*s->build));
                SpecBuildStep *b = &s->build[s->n_build++];
                memset(b, 0, sizeof(*b));
                if ((r = y_require(d, item, "command", "a 'build' step", &v, err)) < 0)
                        return r;
                if ((r = y_str_list(d, v, "command", false, &b->command, err)) < 0)
                        return r;
                if (!b->command[0])
                        return y_error(d, v, err, "'command' must name a program");
                _cleanup_free_ char *wd = NULL;
                if ((r = get_str(d, item, "workdir", false, "a 'build' step", &wd, err)) < 0)
                        return r;
                b->workdir = !wd ? xstrdup(dir) : resolve_relative(dir, wd);
        }
        return 0;
}

static int parse_services(YamlDoc *d, yaml_node_t *node, Spec *s, ObError *err)
{
        static const char *const keys[] = { "services", "volumes", "environment", NULL };
        static const char *const svc_keys[] = { "image", "environment", "volumes", "command", "healthcheck", NULL };
        static const YamlRename renames[] = {
                { "ports", "services run with the app's network; set the port in 'environment' or 'command'" },
                { "depends_on", "the app depends on every service here, healthy first when it has a healthcheck" },
                { NULL, NULL },
        };
        yaml_node_t *v;
        int r = y_check_map(d, node, "'compose'", keys, NULL, err);
        if (r < 0)
                return r;
        if ((v = y_get(d, node, "volumes")) && (r = y_str_list(d, v, "volumes", false, &s->compose_volumes, err)) < 0)
                return r;
        if ((v = y_get(d, node, "environment")) && (r = y_str_map(d, v, "environment", &s->compose_env, err)) < 0)
                return r;
        yaml_node_t *svcs = y_get(d, node, "services");
        if (!svcs)
                return 0;
        if (svcs->type != YAML_MAPPING_NODE)
                return y_error(d, svcs, err, "'services' must be a mapping of service names, found %s", y_kind(svcs));
        for (yaml_node_pair_t *p = svcs->data.mapping.pairs.start; p < svcs->data.mapping.pairs.top; p++) {
                yaml_node_t *k = yaml_document_get_node(&d->doc, p->key);
                yaml_node_t *sv = yaml_document_get_node(&d->doc, p->value);
                if (k->type != YAML_SCALAR_NODE || !valid_name((const char *) k->data.scalar.value, 63))
                        return y_error(d, k, err, "service names must be lowercase letters, digits, '_', '-' or '.'");
                if ((r = y_check_map(d, sv, "a service", svc_keys, renames, err)) < 0)
                        return r;
                s->services = xrealloc(s->services, (s->n_services + 1) * sizeof(*s->services));
                SpecService *svc = &s->services[s->n_services++];
                memset(svc, 0, sizeof(*svc));
                svc->name = xstrdup((const char *) k->data.scalar.value);
                if ((r = get_str(d, sv, "image", true, "a service", &svc->image, err)) < 0)
                        return r;
                if ((v = y_get(d, sv, "environment")) && (r = y_str_map(d, v, "environment", &svc->environment, err)) < 0)
                        return r;
                if ((v = y_get(d, sv, "volumes")) && (r = y_str_list(d, v, "volumes", false, &svc->volumes, err)) < 0)
                        return r;
                if ((v = y_get(d, sv, "command")) && (r = y_str_list(d, v, "command", false, &svc->command, err)) < 0)
                        return r;
                if ((v = y_get(d, sv, "healthcheck"))) {
                        if ((r = parse_health(d, v, &svc->health, err)) < 0)
                                return r;
                        svc->has_health = true;
                }
        }
        return 0;
}

int spec_load_app(const char *file, Spec **ret, ObError *err)
{
        static const char *const keys[] = { "name", "version", "description", "tools", "artifacts", "build",
                                            "files", "directories", "symlinks", "config", "healthcheck",
                                            "defaults", "compose", NULL };
        static const YamlRename renames[] = {
                { "image", "an app image is built from 'tools' and 'artifacts', not from another image" },
                { "dockerfile", "there is no Dockerfile: name files under 'artifacts' and host commands under 'build'" },
                { "binaries", "apps list their files under 'artifacts'; tools under 'tools'" },
                { "env", "put it under 'config: {env: ...}'" },
                { "ports", "put it under 'config: {ports: [...]}' or 'defaults: {port: N}'" },
                { NULL, NULL },
        };
        YamlDoc *d = NULL;
        Spec *s = NULL;
        yaml_node_t *root, *v;
        int r = spec_begin(file, SPEC_TIER_APP, "an app config", keys, renames, &d, &s, err);
        if (r < 0)
                return r;
        root = ydoc_root(d);
        /* Paths in an app config are relative to the config file, wherever
         * oci-build runs from. */
        _cleanup_free_ char *rel_dir = config_dir(file);
        _cleanup_free_ char *dir = realpath(rel_dir, NULL);
        if (!dir)
                dir = xstrdup(rel_dir);
        if (!s->version) {
                r = y_require(d, root, "version", "an app config", &v, err);
                goto out;
        }
        if ((v = y_get(d, root, "tools")) && (r = y_str_list(d, v, "tools", false, &s->tools, err)) < 0)
                goto out;
        if ((r = y_require(d, root, "artifacts", "an app config", &v, err)) < 0 ||
            (r = parse_artifacts(d, v, dir, s, err)) < 0)
                goto out;
        if ((v = y_get(d, root, "build")) && (r = parse_build(d, v, dir, s, err)) < 0)
                goto out;
        if ((r = parse_layer_keys(d, root, s, err)) < 0)
                goto out;
        if ((v = y_get(d, root, "healthcheck"))) {
                if ((r = parse_health(d, v, &s->health, err)) < 0)
                        goto out;
                s->has_health = true;
        }
        if ((v = y_get(d, root, "defaults"))) {
                static const char *const dkeys[] = { "port", "data_dir", NULL };
                yaml_node_t *w;
                if ((r = y_check_map(d, v, "'defaults'", dkeys, NULL, err)) < 0)
                        goto out;
                if ((w = y_get(d, v, "port"))) {
                        ObError ignore;
                        if (y_uint(d, w, "port", 65535, &s->default_port, &ignore) < 0 || s->default_port == 0) {
                                r = y_error(d, w, err, "'port' must be a port number from 1 to 65535, found '%s'",
                                            w->type == YAML_SCALAR_NODE ? (const char *) w->data.scalar.value
                                                                        : y_kind(w));
                                goto out;
                        }
                }
                if ((r = get_path(d, v, "data_dir", false, "'defaults'", &s->data_dir, err)) < 0)
                        goto out;
        }
        if ((v = y_get(d, root, "compose")) && (r = parse_services(d, v, s, err)) < 0)
                goto out;
out:
        return spec_end(d, s, r, ret);
}
