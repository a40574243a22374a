/* SPDX-License-Identifier: MIT */
/* What the three tiers of config share (the lists of a layer, the image
 * config, the start of every loader, spec_free()) and the base tier
 * (configs/base.yml): its rootfs, users and groups. */
#include "journal.h"
#include "spec.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

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
        strv_free(s->tool_versions);
        for (size_t i = 0; i < s->n_artifacts; i++) {
                free(s->artifacts[i].path);
                free(s->artifacts[i].source);
                free(s->artifacts[i].url);
                strv_free(s->artifacts[i].sha256);
                strv_free(s->artifacts[i].arch);
                strv_free(s->artifacts[i].include);
                strv_free(s->artifacts[i].exclude);
        }
        free(s->artifacts);
        for (size_t i = 0; i < s->n_build; i++) {
                strv_free(s->build[i].command);
                free(s->build[i].workdir);
                strv_free(s->build[i].env);
                strv_free(s->build[i].inputs);
                free(s->build[i].input_lines);
                strv_free(s->build[i].outputs);
                free(s->build[i].config_sha256);
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

/* What a shell and env(1) accept as a variable's name. */
static bool valid_env_name(const char *s, size_t len)
{
        if (len == 0 || (s[0] >= '0' && s[0] <= '9'))
                return false;
        for (size_t i = 0; i < len; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
                      s[i] == '_'))
                        return false;
        return true;
}

int spec_parse_env(YamlDoc *d, yaml_node_t *node, const char *key, char ***ret, ObError *err)
{
        _cleanup_strv_ char **env = NULL;
        int r = y_str_map(d, node, key, &env, err);
        if (r < 0)
                return r;
        for (size_t i = 0; env[i]; i++) {
                size_t n = strcspn(env[i], "=");
                if (!valid_env_name(env[i], n)) {
                        /* y_str_map() took a mapping: entry i is pair i */
                        yaml_node_t *k = yaml_document_get_node(&d->doc, node->data.mapping.pairs.start[i].key);
                        return y_error(d, k, err,
                                       "names of '%s' must be letters, digits and '_', not starting with a digit, "
                                       "found '%.*s'",
                                       key, (int) n, env[i]);
                }
        }
        *ret = TAKE_PTR(env);
        return 0;
}

/* Text that ends up in a colon-separated line of /etc/passwd. */
static bool valid_passwd_field(const char *s)
{
        return !strpbrk(s, ":\n");
}

int spec_get_str(YamlDoc *d, yaml_node_t *map, const char *key, SpecKeyPresence presence, const char *what, char **ret,
                 ObError *err)
{
        yaml_node_t *v = y_get(d, map, key);
        if (!v) {
                if (presence == SPEC_KEY_REQUIRED)
                        return y_require(d, map, key, what, &v, err);
                return 0;
        }
        return y_nonempty_str(d, v, key, ret, err);
}

int spec_get_path(YamlDoc *d, yaml_node_t *map, const char *key, SpecKeyPresence presence, const char *what, char **ret,
                  ObError *err)
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
        /* room doubles at each power of two: a list of 80,000 entries (bad
         * ones too, which are all read now) is not copied 80,000 times */
        if ((*n & (*n - 1)) == 0)
                *array = xrealloc(*array, (*n ? 2 * *n : 1) * elem_size);
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
        Y_SEQ_FOREACH(d, list, item) {
                /* entries are independent: a bad one does not hide the next */
                int r = y_note(d, spec_parse_entry_sized(d, item, kind, elem_size, array, n, userdata, err), err);
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
                        return y_error(d, v, err, "'%s' must look like ${resolve:/ABSOLUTE/PATH}/REST, found '%s'", key,
                                       s);
                *ret = xstrdup(s);
                return 0;
        }
        return y_abs_path(d, v, key, ret, err);
}

/* An entry of 'files'; userdata is the config's directory. */
static int parse_file(YamlDoc *d, yaml_node_t *item, void *elem, void *userdata, ObError *err)
{
        const char *dir = userdata;
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
        v = y_get(d, item, "source");
        const char *src = v && v->type == YAML_SCALAR_NODE ? (const char *) v->data.scalar.value : NULL;
        if (src && *src && src[0] != '/' && !str_startswith(src, "${")) {
                /* a file beside the config, not one of the sysroot */
                f->source = spec_resolve_relative(dir, src);
                f->local = true;
        } else if ((r = get_file_path(d, item, "source", SPEC_KEY_OPTIONAL, &f->source, err)) < 0)
                return r;
        if (!f->source)
                f->source = xstrdup(f->path);
        if ((v = y_get(d, item, "exclude")) &&
            (r = y_str_list(d, v, "exclude", Y_LIST_ALLOW_SCALAR, &f->exclude, err)) < 0)
                return r;
        if ((v = y_get(d, item, "mode"))) {
                if ((r = y_mode(d, v, "mode", /* flags= */ 0, &f->mode, err)) < 0)
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
        .keys = (const char *const[]){ "path", "source", "exclude", "mode", "owner", "optional", NULL },
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
        if ((v = y_get(d, item, "mode")) && (r = y_mode(d, v, "mode", Y_MODE_DIRECTORY, &dir->mode, err)) < 0)
                return r;
        if ((v = y_get(d, item, "owner")) && (r = y_owner(d, v, "owner", &dir->uid, &dir->gid, err)) < 0)
                return r;
        return 0;
}

static const SpecEntryKind dir_kind = {
        .key = "directories",
        .what = "a 'directories' entry",
        .keys = (const char *const[]){ "path", "mode", "owner", NULL },
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
        .keys = (const char *const[]){ "path", "target", NULL },
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
        /* an earlier entry that had a problem may lack its name or gid */
        for (size_t i = 0; !y_has_problems(d) && i + 1 < s->n_groups; i++) {
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
        .keys = (const char *const[]){ "name", "gid", "members", NULL },
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
        for (size_t i = 0; !y_has_problems(d) && i + 1 < s->n_users; i++) {
                if (strcmp(s->users[i].name, u->name) == 0)
                        return y_error(d, item, err, "user '%s' is defined twice", u->name);
                if (s->users[i].uid == u->uid)
                        return y_error(d, item, err, "uid %u is used by users '%s' and '%s'", u->uid, s->users[i].name,
                                       u->name);
        }
        return 0;
}

static const SpecEntryKind user_kind = {
        .key = "users",
        .what = "a 'users' entry",
        .keys = (const char *const[]){ "name", "uid", "gid", "home", "shell", "gecos", NULL },
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

static int parse_ports(YamlDoc *d, yaml_node_t *v, char ***ret, ObError *err)
{
        _cleanup_strv_ char **ports = NULL;
        int r = y_str_list(d, v, "ports", /* flags= */ 0, &ports, err);
        if (r < 0)
                return r;
        for (size_t i = 0; ports[i]; i++) {
                /* y_str_list() took a sequence: item i is ports[i] */
                yaml_node_t *item = yaml_document_get_node(&d->doc, v->data.sequence.items.start[i]);
                if (!valid_port(ports[i]))
                        return y_error(d, item, err,
                                       "'ports' entries must be a port number 1-65535 with an optional "
                                       "/tcp or /udp, found '%s'",
                                       ports[i]);
                if (!strchr(ports[i], '/')) {
                        char *p = xasprintf("%s/tcp", ports[i]);
                        free(ports[i]);
                        ports[i] = p;
                }
        }
        *ret = TAKE_PTR(ports);
        return 0;
}

static int parse_volumes(YamlDoc *d, yaml_node_t *v, char ***ret, ObError *err)
{
        _cleanup_strv_ char **volumes = NULL;
        int r = y_str_list(d, v, "volumes", /* flags= */ 0, &volumes, err);
        if (r < 0)
                return r;
        for (size_t i = 0; volumes[i]; i++)
                if (volumes[i][0] != '/')
                        return y_error(d, yaml_document_get_node(&d->doc, v->data.sequence.items.start[i]), err,
                                       "'volumes' entries must be absolute paths, found '%s'", volumes[i]);
        *ret = TAKE_PTR(volumes);
        return 0;
}

static int parse_image_config(YamlDoc *d, yaml_node_t *node, SpecImageConfig *c, ObError *err)
{
        static const char *const keys[] = { "user",  "env",     "workdir", "entrypoint", "cmd",
                                            "ports", "volumes", "labels",  NULL };
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
                if ((r = y_owner(d, v, "user", &uid, &gid, err)) == 0)
                        c->user = xasprintf("%u:%u", uid, gid);
                else if ((r = y_note(d, r, err)) < 0)
                        return r;
        }
        if ((v = y_get(d, node, "env")) && (r = y_note(d, y_str_map(d, v, "env", &c->env, err), err)) < 0)
                return r;
        if ((v = y_get(d, node, "workdir")) && (r = y_note(d, y_abs_path(d, v, "workdir", &c->workdir, err), err)) < 0)
                return r;
        if ((v = y_get(d, node, "entrypoint")) &&
            (r = y_note(d, y_str_list(d, v, "entrypoint", /* flags= */ 0, &c->entrypoint, err), err)) < 0)
                return r;
        if ((v = y_get(d, node, "cmd")) &&
            (r = y_note(d, y_str_list(d, v, "cmd", /* flags= */ 0, &c->cmd, err), err)) < 0)
                return r;
        if ((v = y_get(d, node, "ports")) && (r = y_note(d, parse_ports(d, v, &c->ports, err), err)) < 0)
                return r;
        if ((v = y_get(d, node, "volumes")) && (r = y_note(d, parse_volumes(d, v, &c->volumes, err), err)) < 0)
                return r;
        if ((v = y_get(d, node, "labels")) && (r = y_note(d, y_str_map(d, v, "labels", &c->labels, err), err)) < 0)
                return r;
        return 0;
}

char *spec_config_dir_abs(const char *file)
{
        _cleanup_free_ char *rel = spec_config_dir(file);
        journal_note_walk(rel);
        char *dir = realpath(rel, NULL);
        return dir ? dir : TAKE_PTR(rel);
}

char *spec_resolve_relative(const char *dir, const char *path)
{
        _cleanup_free_ char *joined = path[0] == '/' ? xstrdup(path) : path_join(dir, path);
        journal_note_walk(joined);
        char *real = realpath(joined, NULL);
        return real ? real : TAKE_PTR(joined);
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
        journal_note_walk(joined);
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

static int get_name(YamlDoc *d, yaml_node_t *root, const char *what, char **ret, ObError *err)
{
        _cleanup_free_ char *name = NULL;
        int r = spec_get_str(d, root, "name", SPEC_KEY_REQUIRED, what, &name, err);
        if (r < 0)
                return r;
        if (!spec_valid_name(name, 64))
                return y_error(d, y_get(d, root, "name"), err,
                               "'name' must be lowercase letters, digits, '_', '-' or '.', found '%s'", name);
        *ret = TAKE_PTR(name);
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
        /* a document that is not a mapping has nothing else to check */
        if ((r = y_check_map(d, root, what, keys, renames, err)) < 0)
                return r;
        if ((r = y_note(d, get_name(d, root, what, &s->name, err), err)) < 0)
                return r;
        if ((r = y_note(d, spec_get_str(d, root, "version", SPEC_KEY_OPTIONAL, what, &s->version, err), err)) < 0)
                return r;
        if ((r = y_note(d, spec_get_str(d, root, "description", SPEC_KEY_REQUIRED, what, &s->description, err), err)) <
            0)
                return r;
        *ret_doc = TAKE_PTR(d);
        *ret_spec = TAKE_PTR(s);
        return 0;
}

int spec_parse_layer_keys(YamlDoc *d, yaml_node_t *root, Spec *s, ObError *err)
{
        yaml_node_t *v;
        int r;
        /* for 'files' sources written relative to the config */
        _cleanup_free_ char *userdata = spec_config_dir_abs(s->file);
        if ((v = y_get(d, root, "files")) &&
            (r = y_note(d, spec_parse_list(d, v, &file_kind, &s->files, &s->n_files, userdata, err), err)) < 0)
                return r;
        if ((v = y_get(d, root, "directories")) &&
            (r = y_note(d, spec_parse_list(d, v, &dir_kind, &s->dirs, &s->n_dirs, /* userdata= */ NULL, err), err)) < 0)
                return r;
        if ((v = y_get(d, root, "symlinks")) &&
            (r = y_note(d, spec_parse_list(d, v, &link_kind, &s->links, &s->n_links, /* userdata= */ NULL, err), err)) <
                    0)
                return r;
        if ((v = y_get(d, root, "config")) && (r = y_note(d, parse_image_config(d, v, &s->config, err), err)) < 0)
                return r;
        return 0;
}

int spec_load_base(const char *file, const char *default_version, Spec **ret, ObError *err)
{
        static const char *const keys[] = { "name",     "version", "description", "rootfs", "files", "directories",
                                            "symlinks", "users",   "groups",      "config", NULL };
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
        if ((v = y_get(d, root, "rootfs")) && (r = y_note(d, parse_rootfs(d, v, file, &s->rootfs, err), err)) < 0)
                return r;
        if ((r = spec_parse_layer_keys(d, root, s, err)) < 0)
                return r;
        if ((v = y_get(d, root, "groups")) &&
            (r = y_note(d, spec_parse_list(d, v, &group_kind, &s->groups, &s->n_groups, s, err), err)) < 0)
                return r;
        if ((v = y_get(d, root, "users")) &&
            (r = y_note(d, spec_parse_list(d, v, &user_kind, &s->users, &s->n_users, s, err), err)) < 0)
                return r;
        if ((r = y_problems(d, err)) < 0)
                return r;
        /* users and groups name one another: only once each is whole */
        if ((r = check_cross_refs(d, root, s, err)) < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}
