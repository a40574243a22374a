/* SPDX-License-Identifier: MIT */
#include "configs.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "journal.h"
#include "path.h"
#include "util.h"

char *configs_default_dir(void)
{
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n > 0) {
                exe[n] = '\0';
                char *slash = strrchr(exe, '/');
                if (slash)
                        *slash = '\0';
                _cleanup_free_ char *build = realpath(OB_BUILD_ROOT, NULL);
                if (build && strcmp(build, exe) == 0)
                        return xstrdup(OB_SOURCE_ROOT "/configs");
        }
        return xstrdup(OB_DATADIR "/configs");
}

static int cmp_ref(const void *a, const void *b)
{
        const ConfigRef *x = a, *y = b;
        if (x->tier != y->tier)
                return (int) x->tier - (int) y->tier;
        return strcmp(x->name, y->name);
}

/* The configs found so far. */
typedef struct ConfigRefList {
        ConfigRef *v;
        size_t n;
} ConfigRefList;

static void config_ref_list_done(ConfigRefList *list)
{
        configs_free(list->v, list->n);
        *list = (ConfigRefList){};
}

static void push(ConfigRefList *list, SpecTier tier, const char *name, const char *file)
{
        list->v = xrealloc(list->v, (list->n + 1) * sizeof(ConfigRef));
        list->v[list->n++] = (ConfigRef){ .tier = tier, .name = xstrdup(name), .file = xstrdup(file) };
}

static int scan_tier(const char *dir, const char *sub, SpecTier tier, ConfigRefList *list, ObError *err)
{
        _cleanup_free_ char *path = path_join(dir, sub);
        /* What the listing finds changes the directory's own identity. */
        journal_note_path(path, /* follow= */ true);
        _cleanup_dir_ DIR *d = opendir(path);
        if (!d) {
                if (errno == ENOENT)
                        return 0;
                return ob_error_set(err, errno, "cannot read configs directory '%s'", path);
        }
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.' || !str_endswith(de->d_name, ".yml"))
                        continue;
                _cleanup_free_ char *name = xstrndup(de->d_name, strlen(de->d_name) - 4);
                _cleanup_free_ char *file = path_join(path, de->d_name);
                push(list, tier, name, file);
        }
        return 0;
}

static int list_configs(const char *dir, ConfigRefList *ret, ObError *err)
{
        _cleanup_(config_ref_list_done) ConfigRefList list = {};
        struct stat st;
        int r;

        journal_note_walk(dir);
        if (stat(dir, &st) < 0)
                return ob_error_set(err, errno, "configs directory '%s' cannot be used", dir);
        if (!S_ISDIR(st.st_mode))
                return ob_error_plain(err, ENOTDIR, "configs directory '%s' is not a directory", dir);
        if (access(dir, R_OK | X_OK) < 0)
                return ob_error_set(err, errno, "configs directory '%s' is not readable", dir);

        _cleanup_free_ char *base = path_join(dir, "base.yml");
        journal_note_path(base, /* follow= */ true);
        if (access(base, F_OK) == 0)
                push(&list, SPEC_TIER_BASE, "base", base);
        r = scan_tier(dir, "tools", SPEC_TIER_TOOL, &list, err);
        if (r < 0)
                return r;
        r = scan_tier(dir, "apps", SPEC_TIER_APP, &list, err);
        if (r < 0)
                return r;
        qsort_safe(list.v, list.n, sizeof(ConfigRef), cmp_ref);
        *ret = list;
        list = (ConfigRefList){};
        return 0;
}

int configs_list(const char *dir, ConfigRef **ret, size_t *ret_n, ObError *err)
{
        ConfigRefList list;
        int r = list_configs(dir, &list, err);
        if (r < 0)
                return r;
        *ret = list.v;
        *ret_n = list.n;
        return 0;
}

void config_ref_clear(ConfigRef *c)
{
        free(c->name);
        free(c->file);
        c->name = c->file = NULL;
}

void configs_free(ConfigRef *v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                config_ref_clear(&v[i]);
        free(v);
}

int configs_find(const char *dir, const char *name, ConfigRef *ret, ObError *err)
{
        _cleanup_(config_ref_list_done) ConfigRefList list = {};
        int r = list_configs(dir, &list, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < list.n; i++)
                if (strcmp(list.v[i].name, name) == 0) {
                        *ret = list.v[i];
                        list.v[i] = (ConfigRef){};
                        return 0;
                }
        _cleanup_strv_ char **names = NULL;
        for (size_t i = 0; i < list.n; i++)
                strv_push(&names, list.v[i].name);
        _cleanup_free_ char *known = names ? strv_join(names, ", ") : xstrdup("none");
        return ob_error_plain(err, ENOENT, "no config named '%s' in '%s' (known: %s)", name, dir, known);
}
