/* SPDX-License-Identifier: MIT */
#include "spec.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "digest.h"
#include "path.h"
#include "spec-internal.h"
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

bool spec_valid_name(const char *s, size_t max)
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

int spec_get_str(YamlDoc *d, yaml_node_t *map, const char *key, SpecKeyPresence presence, const char *what,
                 char **ret, ObError *err)
{
        yaml_node_t *v = y_get(d, map, key);
        if (!v) {
                if (presence == SPEC_KEY_REQUIRED)
                        return y_require(d, map, key, what, &v, err);
                return 0;
        }
        return y_nonempty_str(d, v, key, ret, err);
}

int spec_get_path(YamlDoc *d, yaml_node_t *map, const char *key, SpecKeyPresence presence, const char *what,
                  char **ret, ObError *err)
{
        yaml_node_t *v = y_get(d, map, key);
        if (!v) {
                if (presence == SPEC_KEY_REQUIRED)
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

int spec_parse_entry_sized(YamlDoc *d, yaml_node_t *node, const SpecEntryKind *kind, size_t elem_size, void **array,
                           size_t *n, void *userdata, ObError *err)
{
        if (!(kind->scalar_ok && node->type == YAML_SCALAR_NODE)) {
                int r = y_check_map(d, node, kind->what, kind->keys, kind->renames, err);
                if (r < 0)
                        return r;
        }
        *array = xrealloc(*array, (*n + 1) * elem_size);
        void *elem = (char *) *array + *n * elem_size;
        memset(elem, 0, elem_size);
        (*n)++;
        return kind->parse(d, node, elem, userdata, err);
}

int spec_parse_list_sized(YamlDoc *d, yaml_node_t *list, const SpecEntryKind *kind, size_t elem_size, void **array,
                          size_t *n, void *userdata, ObError *err)
{
        if (list->type != YAML_SEQUENCE_NODE)
                return y_error(d, list, err, "'%s' must be a list, found %s", kind->key, y_kind(list));
        yaml_node_t *item;
        Y_SEQ_FOREACH(d, list, item)
        {
                int r = spec_parse_entry_sized(d, item, kind, elem_size, array, n, userdata, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Paths of 'files' may start with ${resolve:/usr/bin/go}: the canonical
 * path of that file in the sysroot, so a config can follow a symlink to a
 * versioned directory (/usr/lib/go-1.19) instead of naming the version. */
static int get_file_path(YamlDoc *d, yaml_node_t *map, const char *key, SpecKeyPresence presence, char **ret,
                         ObError *err)
{
        yaml_node_t *v = y_get(d, map, key);
        if (!v) {
                if (presence == SPEC_KEY_REQUIRED)
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

static int parse_file(YamlDoc *d, yaml_node_t *item, void *elem, void *userdata, ObError *err)
{
        SpecFile *f = elem;
        yaml_node_t *v;
        int r;

        f->line = item->start_mark.line + 1;
        if (item->type == YAML_SCALAR_NODE) {
                /* "- /etc/foo" is short for "- path: /etc/foo" */
                r = y_abs_path(d, item, "files", &f->path, err);
                if (r < 0)
                        return r;
                f->source = xstrdup(f->path);
                return 0;
        }
        if ((r = get_file_path(d, item, "path", SPEC_KEY_REQUIRED, &f->path, err)) < 0)
                return r;
        if ((r = get_file_path(d, item, "source", SPEC_KEY_OPTIONAL, &f->source, err)) < 0)
                return r;
        if (!f->source)
                f->source = xstrdup(f->path);
        if ((v = y_get(d, item, "exclude")) &&
            (r = y_str_list(d, v, "exclude", Y_LIST_ALLOW_SCALAR, &f->exclude, err)) < 0)
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
        return 0;
}

static const SpecEntryKind file_kind = {
        .key = "files",
        .what = "a 'files' entry",
        .keys = (const char *const[]) { "path", "source", "exclude", "mode", "owner", "optional", NULL },
        .scalar_ok = true,
        .parse = parse_file,
};

static int parse_dir(YamlDoc *d, yaml_node_t *item, void *elem, void *userdata, ObError *err)
{
        SpecDir *dir = elem;
        yaml_node_t *v;

        dir->mode = 0755;
        int r = spec_get_path(d, item, "path", SPEC_KEY_REQUIRED, "a 'directories' entry", &dir->path, err);
        if (r < 0)
                return r;
        if (strcmp(dir->path, "/") == 0)
                return y_error(d, y_get(d, item, "path"), err, "'path' must not be the image root");
        if ((v = y_get(d, item, "mode")) && (r = y_mode(d, v, "mode", &dir->mode, err)) < 0)
                return r;
        if ((v = y_get(d, item, "owner")) && (r = y_owner(d, v, "owner", &dir->uid, &dir->gid, err)) < 0)
                return r;
        return 0;
}

static const SpecEntryKind dir_kind = {
        .key = "directories",
        .what = "a 'directories' entry",
        .keys = (const char *const[]) { "path", "mode", "owner", NULL },
        .parse = parse_dir,
};

static int parse_link(YamlDoc *d, yaml_node_t *item, void *elem, void *userdata, ObError *err)
{
        SpecLink *l = elem;
        int r = spec_get_path(d, item, "path", SPEC_KEY_REQUIRED, "a 'symlinks' entry", &l->path, err);
        if (r < 0)
                return r;
        return spec_get_str(d, item, "target", SPEC_KEY_REQUIRED, "a 'symlinks' entry", &l->target, err);
}

static const SpecEntryKind link_kind = {
        .key = "symlinks",
        .what = "a 'symlinks' entry",
        .keys = (const char *const[]) { "path", "target", NULL },
        .parse = parse_link,
};

/* An entry of 'groups'; userdata is the Spec, whose last group it is. */
static int parse_group(YamlDoc *d, yaml_node_t *item, void *elem, void *userdata, ObError *err)
{
        const Spec *s = userdata;
        SpecGroup *g = elem;
        yaml_node_t *v;

        int r = spec_get_str(d, item, "name", SPEC_KEY_REQUIRED, "a 'groups' entry", &g->name, err);
        if (r < 0)
                return r;
        if (!spec_valid_name(g->name, 32))
                return y_error(d, y_get(d, item, "name"), err,
                               "group name '%s' must be 1-32 characters of a-z, 0-9, '_', '-', '.'", g->name);
        if ((r = get_id(d, item, "gid", "a 'groups' entry", &g->gid, err)) < 0)
                return r;
        if ((v = y_get(d, item, "members")) && (r = y_str_list(d, v, "members", /* flags= */ 0, &g->members, err)) < 0)
                return r;
        for (size_t i = 0; i + 1 < s->n_groups; i++) {
                if (strcmp(s->groups[i].name, g->name) == 0)
                        return y_error(d, item, err, "group '%s' is defined twice", g->name);
                if (s->groups[i].gid == g->gid)
                        return y_error(d, item, err, "gid %u is used by groups '%s' and '%s'", g->gid,
                                       s->groups[i].name, g->name);
        }
        return 0;
}

static const SpecEntryKind group_kind = {
        .key = "groups",
        .what = "a 'groups' entry",
        .keys = (const char *const[]) { "name", "gid", "members", NULL },
        .parse = parse_group,
};

/* An entry of 'users'; userdata is the Spec, whose last user it is. */
static int parse_user(YamlDoc *d, yaml_node_t *item, void *elem, void *userdata, ObError *err)
{
        const Spec *s = userdata;
        SpecUser *u = elem;

        int r = spec_get_str(d, item, "name", SPEC_KEY_REQUIRED, "a 'users' entry", &u->name, err);
        if (r < 0)
                return r;
        if (!spec_valid_name(u->name, 32))
                return y_error(d, y_get(d, item, "name"), err,
                               "user name '%s' must be 1-32 characters of a-z, 0-9, '_', '-', '.'", u->name);
        if ((r = get_id(d, item, "uid", "a 'users' entry", &u->uid, err)) < 0)
                return r;
        if ((r = get_id(d, item, "gid", "a 'users' entry", &u->gid, err)) < 0)
                return r;
        if ((r = spec_get_path(d, item, "home", SPEC_KEY_REQUIRED, "a 'users' entry", &u->home, err)) < 0)
                return r;
        if ((r = spec_get_path(d, item, "shell", SPEC_KEY_OPTIONAL, "a 'users' entry", &u->shell, err)) < 0)
                return r;
        if (!u->shell)
                u->shell = xstrdup("/sbin/nologin");
        if ((r = spec_get_str(d, item, "gecos", SPEC_KEY_OPTIONAL, "a 'users' entry", &u->gecos, err)) < 0)
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
        return 0;
}

static const SpecEntryKind user_kind = {
        .key = "users",
        .what = "a 'users' entry",
        .keys = (const char *const[]) { "name", "uid", "gid", "home", "shell", "gecos", NULL },
        .parse = parse_user,
};

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

static int parse_image_config(YamlDoc *d, yaml_node_t *node, SpecImageConfig *c, ObError *err)
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
        if ((v = y_get(d, node, "entrypoint")) &&
            (r = y_str_list(d, v, "entrypoint", /* flags= */ 0, &c->entrypoint, err)) < 0)
                return r;
        if ((v = y_get(d, node, "cmd")) && (r = y_str_list(d, v, "cmd", /* flags= */ 0, &c->cmd, err)) < 0)
                return r;
        if ((v = y_get(d, node, "ports"))) {
                if ((r = y_str_list(d, v, "ports", /* flags= */ 0, &c->ports, err)) < 0)
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
                if ((r = y_str_list(d, v, "volumes", /* flags= */ 0, &c->volumes, err)) < 0)
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

char *spec_config_dir(const char *file)
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
        _cleanup_free_ char *dir = spec_config_dir(file);
        _cleanup_free_ char *joined = rel[0] == '/' ? xstrdup(rel) : path_join(dir, rel);
        _cleanup_free_ char *real = realpath(joined, NULL);
        if (!real)
                return y_error(d, v, err, "'rootfs' directory '%s' cannot be used: %s", joined, strerror(errno));
        struct stat st;
        if (stat(real, &st) < 0 || !S_ISDIR(st.st_mode))
                return y_error(d, v, err, "'rootfs' must be a directory, '%s' is not", joined);
        *ret = TAKE_PTR(real);
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

int spec_begin(const char *file, SpecTier tier, const char *what, const char *const *keys, const YamlRename *renames,
               YamlDoc **ret_doc, Spec **ret_spec, ObError *err)
{
        _cleanup_(ydoc_freep) YamlDoc *d = NULL;
        int r = ydoc_load(file, &d, err);
        if (r < 0)
                return r;
        _cleanup_(spec_freep) Spec *s = xcalloc(1, sizeof(*s));
        s->tier = tier;
        s->file = xstrdup(file);
        yaml_node_t *root = ydoc_root(d);
        if ((r = y_check_map(d, root, what, keys, renames, err)) < 0)
                return r;
        if ((r = spec_get_str(d, root, "name", SPEC_KEY_REQUIRED, what, &s->name, err)) < 0)
                return r;
        if (!spec_valid_name(s->name, 64))
                return y_error(d, y_get(d, root, "name"), err,
                               "'name' must be lowercase letters, digits, '_', '-' or '.', found '%s'", s->name);
        if ((r = spec_get_str(d, root, "version", SPEC_KEY_OPTIONAL, what, &s->version, err)) < 0)
                return r;
        if ((r = spec_get_str(d, root, "description", SPEC_KEY_REQUIRED, what, &s->description, err)) < 0)
                return r;
        *ret_doc = TAKE_PTR(d);
        *ret_spec = TAKE_PTR(s);
        return 0;
}

int spec_parse_layer_keys(YamlDoc *d, yaml_node_t *root, Spec *s, ObError *err)
{
        yaml_node_t *v;
        int r;
        if ((v = y_get(d, root, "files")) &&
            (r = spec_parse_list(d, v, &file_kind, &s->files, &s->n_files, /* userdata= */ NULL, err)) < 0)
                return r;
        if ((v = y_get(d, root, "directories")) &&
            (r = spec_parse_list(d, v, &dir_kind, &s->dirs, &s->n_dirs, /* userdata= */ NULL, err)) < 0)
                return r;
        if ((v = y_get(d, root, "symlinks")) &&
            (r = spec_parse_list(d, v, &link_kind, &s->links, &s->n_links, /* userdata= */ NULL, err)) < 0)
                return r;
        if ((v = y_get(d, root, "config")) && (r = parse_image_config(d, v, &s->config, err)) < 0)
                return r;
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
        _cleanup_(ydoc_freep) YamlDoc *d = NULL;
        _cleanup_(spec_freep) Spec *s = NULL;
        yaml_node_t *v;
        int r = spec_begin(file, SPEC_TIER_BASE, "the base config", keys, renames, &d, &s, err);
        if (r < 0)
                return r;
        yaml_node_t *root = ydoc_root(d);
        if (!s->version)
                s->version = xstrdup(default_version);
        if ((v = y_get(d, root, "rootfs")) && (r = parse_rootfs(d, v, file, &s->rootfs, err)) < 0)
                return r;
        if ((r = spec_parse_layer_keys(d, root, s, err)) < 0)
                return r;
        if ((v = y_get(d, root, "groups")) &&
            (r = spec_parse_list(d, v, &group_kind, &s->groups, &s->n_groups, s, err)) < 0)
                return r;
        if ((v = y_get(d, root, "users")) &&
            (r = spec_parse_list(d, v, &user_kind, &s->users, &s->n_users, s, err)) < 0)
                return r;
        if ((r = check_cross_refs(d, root, s, err)) < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

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
        .keys = (const char *const[]) { "command", "expect", NULL },
        .parse = parse_test_step,
};

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
                if ((r = spec_parse_list(d, v, &test_step_kind, &t->steps, &t->n_steps, /* userdata= */ NULL,
                                         err)) < 0)
                        return r;
        } else {
                static const char *const step_keys[] = { "command", "expect", "env", "files", NULL };
                t->steps = xcalloc(1, sizeof(*t->steps));
                t->n_steps = 1;
                if ((r = y_check_map(d, node, "'test'", step_keys, NULL, err)) < 0)
                        return r;
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
        if ((v = y_get(d, node, "mode")) && (r = y_mode(d, v, "mode", &data->mode, err)) < 0)
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
                                return y_error(d, v, err,
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
        _cleanup_(ydoc_freep) YamlDoc *d = NULL;
        _cleanup_(spec_freep) Spec *s = NULL;
        yaml_node_t *v;
        int r = spec_begin(file, SPEC_TIER_TOOL, "a tool config", keys, renames, &d, &s, err);
        if (r < 0)
                return r;
        yaml_node_t *root = ydoc_root(d);
        if ((r = spec_get_str(d, root, "package", SPEC_KEY_OPTIONAL, "a tool config", &s->package, err)) < 0)
                return r;
        if (!s->version && !s->package)
                return y_error(d, root, err, "a tool config needs 'version', or 'package' to read the version from");
        if ((r = spec_get_str(d, root, "category", SPEC_KEY_OPTIONAL, "a tool config", &s->category, err)) < 0)
                return r;
        if ((r = y_require(d, root, "binaries", "a tool config", &v, err)) < 0)
                return r;
        if ((r = parse_binaries(d, v, &s->binaries, err)) < 0)
                return r;
        if ((r = spec_parse_layer_keys(d, root, s, err)) < 0)
                return r;
        if ((v = y_get(d, root, "test")) && (r = parse_test(d, v, &s->test, err)) < 0)
                return r;
        if ((v = y_get(d, root, "data"))) {
                if ((r = parse_data(d, v, &s->data, err)) < 0)
                        return r;
                s->has_data = true;
        }
        *ret = TAKE_PTR(s);
        return 0;
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
        if ((r = y_str_list(d, v, "test", /* flags= */ 0, &h->test, err)) < 0)
                return r;
        if (!h->test[0] || h->test[0][0] != '/')
                return y_error(d, v, err, "the first word of 'test' must be the absolute path of a program in the image");
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

/* A path written relative to the config's directory, made absolute (and
 * canonical where it exists, so messages show a clean path). */
static char *resolve_relative(const char *dir, const char *path)
{
        _cleanup_free_ char *joined = path[0] == '/' ? xstrdup(path) : path_join(dir, path);
        char *real = realpath(joined, NULL);
        return real ? real : TAKE_PTR(joined);
}

/* 'sha256' of an artifact: one digest for every arch, or a mapping of
 * arch to digest. */
static int parse_sha256(YamlDoc *d, yaml_node_t *v, char ***ret, ObError *err)
{
        _cleanup_strv_ char **pins = NULL;
        int r;
        if (v->type == YAML_SCALAR_NODE) {
                _cleanup_free_ char *hex = NULL;
                if ((r = y_str(d, v, "sha256", &hex, err)) < 0)
                        return r;
                _cleanup_free_ char *kv = xasprintf("*=%s", hex);
                strv_push(&pins, kv);
        } else if ((r = y_str_map(d, v, "sha256", &pins, err)) < 0)
                return r;
        for (size_t i = 0; pins[i]; i++) {
                const char *hex = strchr(pins[i], '=') + 1;
                _cleanup_free_ char *dg = xasprintf("sha256:%s", hex);
                if (!digest_is_valid(dg))
                        return y_error(d, v, err, "'sha256' must be 64 lowercase hex digits, found '%s'", hex);
        }
        *ret = TAKE_PTR(pins);
        return 0;
}

/* An entry of 'artifacts'; userdata is the config's directory. */
static int parse_artifact(YamlDoc *d, yaml_node_t *item, void *elem, void *userdata, ObError *err)
{
        const char *dir = userdata;
        SpecArtifact *a = elem;
        yaml_node_t *v;

        a->line = item->start_mark.line + 1;
        int r = spec_get_path(d, item, "path", SPEC_KEY_REQUIRED, "an 'artifacts' entry", &a->path, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *src = NULL;
        if ((r = spec_get_str(d, item, "source", SPEC_KEY_OPTIONAL, "an 'artifacts' entry", &src, err)) < 0)
                return r;
        if ((r = spec_get_str(d, item, "url", SPEC_KEY_OPTIONAL, "an 'artifacts' entry", &a->url, err)) < 0)
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
                if ((r = parse_sha256(d, v, &a->sha256, err)) < 0)
                        return r;
        }
        if ((v = y_get(d, item, "mode"))) {
                if ((r = y_mode(d, v, "mode", &a->mode, err)) < 0)
                        return r;
                a->has_mode = true;
        }
        if ((v = y_get(d, item, "owner")) && (r = y_owner(d, v, "owner", &a->uid, &a->gid, err)) < 0)
                return r;
        return 0;
}

static const SpecEntryKind artifact_kind = {
        .key = "artifacts",
        .what = "an 'artifacts' entry",
        .keys = (const char *const[]) { "path", "source", "url", "sha256", "mode", "owner", NULL },
        .parse = parse_artifact,
};

/* A step of 'build'; userdata is the config's directory. */
static int parse_build_step(YamlDoc *d, yaml_node_t *item, void *elem, void *userdata, ObError *err)
{
        const char *dir = userdata;
        SpecBuildStep *b = elem;
        yaml_node_t *v;

        int r = y_require(d, item, "command", "a 'build' step", &v, err);
        if (r < 0)
                return r;
        if ((r = y_str_list(d, v, "command", /* flags= */ 0, &b->command, err)) < 0)
                return r;
        if (!b->command[0])
                return y_error(d, v, err, "'command' must name a program");
        _cleanup_free_ char *wd = NULL;
        if ((r = spec_get_str(d, item, "workdir", SPEC_KEY_OPTIONAL, "a 'build' step", &wd, err)) < 0)
                return r;
        b->workdir = !wd ? xstrdup(dir) : resolve_relative(dir, wd);
        return 0;
}

static const SpecEntryKind build_step_kind = {
        .key = "build",
        .what = "a 'build' step",
        .keys = (const char *const[]) { "command", "workdir", NULL },
        .parse = parse_build_step,
};

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
        .keys = (const char *const[]) { "image", "environment", "volumes", "command", "healthcheck", NULL },
        .renames = (const YamlRename[]) {
                { "ports", "services run with the app's network; set the port in 'environment' or 'command'" },
                { "depends_on", "the app depends on every service here, healthy first when it has a healthcheck" },
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
                        return y_error(d, k, err, "service names must be lowercase letters, digits, '_', '-' or '.'");
                if ((r = spec_parse_entry(d, sv, &service_kind, &s->services, &s->n_services, /* userdata= */ k,
                                          err)) < 0)
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
                                       v->type == YAML_SCALAR_NODE ? (const char *) v->data.scalar.value
                                                                   : y_kind(v));
        }
        return spec_get_path(d, node, "data_dir", SPEC_KEY_OPTIONAL, "'defaults'", &s->data_dir, err);
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
        _cleanup_(ydoc_freep) YamlDoc *d = NULL;
        _cleanup_(spec_freep) Spec *s = NULL;
        yaml_node_t *v;
        int r = spec_begin(file, SPEC_TIER_APP, "an app config", keys, renames, &d, &s, err);
        if (r < 0)
                return r;
        yaml_node_t *root = ydoc_root(d);
        /* Paths in an app config are relative to the config file, wherever
         * oci-build runs from. */
        _cleanup_free_ char *rel_dir = spec_config_dir(file);
        _cleanup_free_ char *dir = realpath(rel_dir, NULL);
        if (!dir)
                dir = xstrdup(rel_dir);
        if (!s->version) /* absent or empty: y_require() says which */
                return y_require(d, root, "version", "an app config", &v, err);
        if ((v = y_get(d, root, "tools")) && (r = y_str_list(d, v, "tools", /* flags= */ 0, &s->tools, err)) < 0)
                return r;
        if ((r = y_require(d, root, "artifacts", "an app config", &v, err)) < 0)
                return r;
        if ((r = spec_parse_list(d, v, &artifact_kind, &s->artifacts, &s->n_artifacts, dir, err)) < 0)
                return r;
        if ((v = y_get(d, root, "build")) &&
            (r = spec_parse_list(d, v, &build_step_kind, &s->build, &s->n_build, dir, err)) < 0)
                return r;
        if ((r = spec_parse_layer_keys(d, root, s, err)) < 0)
                return r;
        if ((v = y_get(d, root, "healthcheck"))) {
                if ((r = parse_health(d, v, &s->health, err)) < 0)
                        return r;
                s->has_health = true;
        }
        if ((v = y_get(d, root, "defaults")) && (r = parse_defaults(d, v, s, err)) < 0)
                return r;
        if ((v = y_get(d, root, "compose")) && (r = parse_compose(d, v, s, err)) < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

char *spec_render_passwd(const Spec *s)
{
        char *out = xstrdup("");
        for (size_t i = 0; i < s->n_users; i++) {
                const SpecUser *u = &s->users[i];
                char *line = xasprintf("%s%s:x:%u:%u:%s:%s:%s\n", out, u->name, u->uid, u->gid, u->gecos, u->home,
                                       u->shell);
                free(out);
                out = line;
        }
        return out;
}

char *spec_render_group(const Spec *s)
{
        char *out = xstrdup("");
        for (size_t i = 0; i < s->n_groups; i++) {
                const SpecGroup *g = &s->groups[i];
                char *members = xstrdup("");
                for (size_t k = 0; g->members && g->members[k]; k++) {
                        char *m = xasprintf("%s%s%s", members, k ? "," : "", g->members[k]);
                        free(members);
                        members = m;
                }
                char *line = xasprintf("%s%s:x:%u:%s\n", out, g->name, g->gid, members);
                free(members);
                free(out);
                out = line;
        }
        return out;
}
