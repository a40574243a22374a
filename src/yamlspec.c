/* SPDX-License-Identifier: MIT */
#include "yamlspec.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fs.h"
#include "path.h"
#include "util.h"

static int ydoc_parse(YamlDoc *d, yaml_parser_t *parser, ObError *err)
{
        if (!yaml_parser_load(parser, &d->doc)) {
                const yaml_mark_t *m = parser->problem ? &parser->problem_mark : &parser->context_mark;
                return ob_error_plain(err, EINVAL, "%s:%zu:%zu: invalid YAML: %s%s%s", d->file, m->line + 1,
                                      m->column + 1, parser->problem ? parser->problem : "parse error",
                                      parser->context ? " " : "", parser->context ? parser->context : "");
        }
        if (!yaml_document_get_root_node(&d->doc)) {
                yaml_document_delete(&d->doc);
                return ob_error_plain(err, EINVAL, "%s:1:1: the file is empty (expected a mapping)", d->file);
        }
        return 0;
}

int ydoc_load(const char *file, YamlDoc **ret, ObError *err)
{
        _cleanup_free_ char *text = NULL;
        int r = read_file(file, &text, NULL, err);
        if (r < 0)
                return r;
        return ydoc_load_string(file, text, ret, err);
}

int ydoc_load_string(const char *name, const char *text, YamlDoc **ret, ObError *err)
{
        /* A failed load leaves d->doc empty (libyaml deletes what it had
         * built), which ydoc_free() accepts. */
        _cleanup_(ydoc_freep) YamlDoc *d = xcalloc(1, sizeof(*d));
        d->file = xstrdup(name);

        yaml_parser_t parser;
        if (!yaml_parser_initialize(&parser))
                return ob_error_plain(err, ENOMEM, "cannot initialise the YAML parser");
        yaml_parser_set_input_string(&parser, (const unsigned char *) text, strlen(text));
        int r = ydoc_parse(d, &parser, err);
        yaml_parser_delete(&parser);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(d);
        return 0;
}

void ydoc_free(YamlDoc *d)
{
        if (!d)
                return;
        yaml_document_delete(&d->doc);
        free(d->file);
        free(d);
}

yaml_node_t *ydoc_root(YamlDoc *d)
{
        return yaml_document_get_root_node(&d->doc);
}

int y_error(YamlDoc *d, const yaml_node_t *node, ObError *err, const char *fmt, ...)
{
        char msg[2048];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (!node)
                return ob_error_plain(err, EINVAL, "%s: %s", d->file, msg);
        return ob_error_plain(err, EINVAL, "%s:%zu:%zu: %s", d->file, node->start_mark.line + 1,
                              node->start_mark.column + 1, msg);
}

const char *y_kind(const yaml_node_t *node)
{
        switch (node->type) {
        case YAML_SCALAR_NODE:
                return "a scalar";
        case YAML_SEQUENCE_NODE:
                return "a list";
        case YAML_MAPPING_NODE:
                return "a mapping";
        default:
                return "nothing";
        }
}

static const char *scalar(const yaml_node_t *node)
{
        return (const char *) node->data.scalar.value;
}

/* Plain (unquoted) scalars "~", "null" and "" mean null in YAML. */
static bool is_null(const yaml_node_t *node)
{
        if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
                return false;
        const char *s = scalar(node);
        return !*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
               strcmp(s, "NULL") == 0;
}

/* Levenshtein distance, for "did you mean" hints on misspelt keys. */
static size_t edit_distance(const char *a, const char *b)
{
        size_t la = strlen(a), lb = strlen(b);
        if (la > 64 || lb > 64)
                return 99;
        size_t row[65];
        for (size_t j = 0; j <= lb; j++)
                row[j] = j;
        for (size_t i = 1; i <= la; i++) {
                size_t prev = row[0];
                row[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t cur = row[j];
                        size_t best = prev + (a[i - 1] != b[j - 1]);
                        if (row[j] + 1 < best)
                                best = row[j] + 1;
                        if (row[j - 1] + 1 < best)
                                best = row[j - 1] + 1;
                        row[j] = best;
                        prev = cur;
                }
        }
        return row[lb];
}

static char *allowed_list(const char *const *allowed)
{
        size_t n = 1;
        for (size_t i = 0; allowed[i]; i++)
                n += strlen(allowed[i]) + 2;
        char *s = xmalloc(n);
        s[0] = '\0';
        for (size_t i = 0; allowed[i]; i++) {
                if (i)
                        strcat(s, ", ");
                strcat(s, allowed[i]);
        }
        return s;
}

int y_check_map(YamlDoc *d, yaml_node_t *node, const char *what, const char *const *allowed,
                const YamlRename *renames, ObError *err)
{
        if (node->type != YAML_MAPPING_NODE)
                return y_error(d, node, err, "%s must be a mapping, found %s", what, y_kind(node));

        for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
                yaml_node_t *k = yaml_document_get_node(&d->doc, p->key);
                if (k->type != YAML_SCALAR_NODE)
                        return y_error(d, k, err, "keys of %s must be strings, found %s", what, y_kind(k));
                const char *key = scalar(k);

                for (yaml_node_pair_t *q = node->data.mapping.pairs.start; q < p; q++) {
                        yaml_node_t *k2 = yaml_document_get_node(&d->doc, q->key);
                        if (k2->type == YAML_SCALAR_NODE && strcmp(scalar(k2), key) == 0)
                                return y_error(d, k, err, "duplicate key '%s' in %s (first at line %zu)", key, what,
                                               k2->start_mark.line + 1);
                }

                bool ok = false;
                for (size_t i = 0; allowed[i]; i++)
                        if (strcmp(allowed[i], key) == 0)
                                ok = true;
                if (ok)
                        continue;
                for (size_t i = 0; renames && renames[i].old_key; i++)
                        if (strcmp(renames[i].old_key, key) == 0)
                                return y_error(d, k, err, "key '%s' is not supported in %s: %s", key, what,
                                               renames[i].hint);
                const char *best = NULL;
                size_t best_d = 3;
                for (size_t i = 0; allowed[i]; i++) {
                        size_t dist = edit_distance(key, allowed[i]);
                        if (dist < best_d || (str_startswith(allowed[i], key) && strlen(key) >= 3) ||
                            (str_startswith(key, allowed[i]) && strlen(allowed[i]) >= 3)) {
                                best_d = dist < best_d ? dist : best_d;
                                best = allowed[i];
                        }
                }
                if (best)
                        return y_error(d, k, err, "unknown key '%s' in %s (did you mean '%s'?)", key, what, best);
                _cleanup_free_ char *list = allowed_list(allowed);
                return y_error(d, k, err, "unknown key '%s' in %s (expected one of: %s)", key, what, list);
        }
        return 0;
}

yaml_node_t *y_get_key(YamlDoc *d, yaml_node_t *map, const char *key)
{
        if (!map || map->type != YAML_MAPPING_NODE)
                return NULL;
        for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
                yaml_node_t *k = yaml_document_get_node(&d->doc, p->key);
                if (k->type == YAML_SCALAR_NODE && strcmp(scalar(k), key) == 0)
                        return k;
        }
        return NULL;
}

yaml_node_t *y_get(YamlDoc *d, yaml_node_t *map, const char *key)
{
        if (!map || map->type != YAML_MAPPING_NODE)
                return NULL;
        for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
                yaml_node_t *k = yaml_document_get_node(&d->doc, p->key);
                if (k->type == YAML_SCALAR_NODE && strcmp(scalar(k), key) == 0) {
                        yaml_node_t *v = yaml_document_get_node(&d->doc, p->value);
                        return is_null(v) ? NULL : v;
                }
        }
        return NULL;
}

int y_require(YamlDoc *d, yaml_node_t *map, const char *key, const char *what, yaml_node_t **ret, ObError *err)
{
        yaml_node_t *v = y_get(d, map, key);
        if (!v) {
                yaml_node_t *k = y_get_key(d, map, key);
                if (k)
                        return y_error(d, k, err, "'%s' in %s must have a value", key, what);
                return y_error(d, map, err, "missing required key '%s' in %s", key, what);
        }
        *ret = v;
        return 0;
}

int y_str(YamlDoc *d, yaml_node_t *node, const char *key, char **ret, ObError *err)
{
        if (node->type != YAML_SCALAR_NODE)
                return y_error(d, node, err, "'%s' must be a string, found %s", key, y_kind(node));
        *ret = xstrdup(scalar(node));
        return 0;
}

int y_nonempty_str(YamlDoc *d, yaml_node_t *node, const char *key, char **ret, ObError *err)
{
        _cleanup_free_ char *s = NULL;
        int r = y_str(d, node, key, &s, err);
        if (r < 0)
                return r;
        if (!*s)
                return y_error(d, node, err, "'%s' must not be empty", key);
        *ret = TAKE_PTR(s);
        return 0;
}

int y_uint(YamlDoc *d, yaml_node_t *node, const char *key, uint64_t max, uint64_t *ret, ObError *err)
{
        if (node->type != YAML_SCALAR_NODE)
                return y_error(d, node, err, "'%s' must be a number, found %s", key, y_kind(node));
        const char *s = scalar(node);
        uint64_t v = 0;
        if (!*s)
                return y_error(d, node, err, "'%s' must be a number, found an empty string", key);
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return y_error(d, node, err, "'%s' must be a whole number from 0 to %llu, found '%s'", key,
                                       (unsigned long long) max, s);
                if (v > (max - (uint64_t) (*p - '0')) / 10)
                        return y_error(d, node, err, "'%s' is out of range: %s (at most %llu)", key, s,
                                       (unsigned long long) max);
                v = v * 10 + (uint64_t) (*p - '0');
        }
        *ret = v;
        return 0;
}

int y_bool(YamlDoc *d, yaml_node_t *node, const char *key, bool *ret, ObError *err)
{
        if (node->type == YAML_SCALAR_NODE) {
                const char *s = scalar(node);
                if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return y_error(d, node, err, "'%s' must be true or false", key);
}

/* 3 to 5 octal digits, at most 07777. */
static int parse_mode(const char *s, uint32_t *ret)
{
        size_t n = strlen(s);
        uint32_t v = 0;
        if (n < 3 || n > 5)
                return -1;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '7')
                        return -1;
                v = v * 8 + (uint32_t) (*p - '0');
        }
        if (v > 07777)
                return -1;
        *ret = v;
        return 0;
}

int y_mode(YamlDoc *d, yaml_node_t *node, const char *key, uint32_t *ret, ObError *err)
{
        if (node->type != YAML_SCALAR_NODE)
                return y_error(d, node, err, "'%s' must be an octal mode such as \"0755\", found %s", key,
                               y_kind(node));
        if (parse_mode(scalar(node), ret) < 0)
                return y_error(d, node, err,
                               "'%s' must be an octal mode from \"0000\" to \"7777\" (e.g. \"0755\"), found '%s'", key,
                               scalar(node));
        return 0;
}

int y_abs_path(YamlDoc *d, yaml_node_t *node, const char *key, char **ret, ObError *err)
{
        if (node->type != YAML_SCALAR_NODE)
                return y_error(d, node, err, "'%s' must be an absolute path, found %s", key, y_kind(node));
        const char *s = scalar(node);
        if (s[0] != '/')
                return y_error(d, node, err, "'%s' must be an absolute path (starting with '/'), found '%s'", key, s);
        ObError tmp;
        char *p = path_normalize_abs(s, &tmp);
        if (!p)
                return y_error(d, node, err, "'%s' must be a path inside the image without '..', found '%s'", key, s);
        *ret = p;
        return 0;
}

static int parse_id(const char *s, size_t len, uint32_t *ret)
{
        uint64_t v = 0;
        if (len == 0 || len > 10)
                return -1;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -1;
                v = v * 10 + (uint64_t) (s[i] - '0');
        }
        if (v > 0xfffffffeu)
                return -1;
        *ret = (uint32_t) v;
        return 0;
}

/* "UID:GID" or "UID" (gid = uid). */
static int parse_owner(const char *s, uint32_t *ret_uid, uint32_t *ret_gid)
{
        const char *colon = strchr(s, ':');
        uint32_t uid, gid;
        if (colon) {
                if (parse_id(s, (size_t) (colon - s), &uid) < 0 || parse_id(colon + 1, strlen(colon + 1), &gid) < 0)
                        return -1;
        } else {
                if (parse_id(s, strlen(s), &uid) < 0)
                        return -1;
                gid = uid;
        }
        *ret_uid = uid;
        *ret_gid = gid;
        return 0;
}

int y_owner(YamlDoc *d, yaml_node_t *node, const char *key, uint32_t *ret_uid, uint32_t *ret_gid, ObError *err)
{
        if (node->type != YAML_SCALAR_NODE)
                return y_error(d, node, err, "'%s' must be \"UID:GID\", found %s", key, y_kind(node));
        if (parse_owner(scalar(node), ret_uid, ret_gid) < 0)
                return y_error(d, node, err, "'%s' must be numeric \"UID:GID\" (e.g. \"1000:1000\"), found '%s'", key,
                               scalar(node));
        return 0;
}

int y_str_list(YamlDoc *d, yaml_node_t *node, const char *key, YamlListFlags flags, char ***ret, ObError *err)
{
        _cleanup_strv_ char **v = NULL;
        if (node->type == YAML_SCALAR_NODE && (flags & Y_LIST_ALLOW_SCALAR)) {
                strv_push(&v, scalar(node));
                *ret = TAKE_PTR(v);
                return 0;
        }
        if (node->type != YAML_SEQUENCE_NODE)
                return y_error(d, node, err, "'%s' must be a list of strings, found %s", key, y_kind(node));
        yaml_node_t *item;
        Y_SEQ_FOREACH(d, node, item)
        {
                if (item->type != YAML_SCALAR_NODE)
                        return y_error(d, item, err, "items of '%s' must be strings, found %s", key, y_kind(item));
                strv_push(&v, scalar(item));
        }
        if (!v)
                v = xcalloc(1, sizeof(char *));
        *ret = TAKE_PTR(v);
        return 0;
}

int y_str_map(YamlDoc *d, yaml_node_t *node, const char *key, char ***ret, ObError *err)
{
        _cleanup_strv_ char **v = NULL;
        if (node->type != YAML_MAPPING_NODE)
                return y_error(d, node, err, "'%s' must be a mapping of names to strings, found %s", key,
                               y_kind(node));
        for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
                yaml_node_t *k = yaml_document_get_node(&d->doc, p->key);
                yaml_node_t *val = yaml_document_get_node(&d->doc, p->value);
                if (k->type != YAML_SCALAR_NODE || !*scalar(k))
                        return y_error(d, k, err, "keys of '%s' must be non-empty strings", key);
                if (strchr(scalar(k), '='))
                        return y_error(d, k, err, "keys of '%s' must not contain '=', found '%s'", key, scalar(k));
                if (val->type != YAML_SCALAR_NODE)
                        return y_error(d, val, err, "'%s.%s' must be a string, found %s", key, scalar(k),
                                       y_kind(val));
                for (size_t i = 0; v && v[i]; i++) {
                        size_t kl = strlen(scalar(k));
                        if (strncmp(v[i], scalar(k), kl) == 0 && v[i][kl] == '=')
                                return y_error(d, k, err, "duplicate key '%s' in '%s'", scalar(k), key);
                }
                _cleanup_free_ char *kv = xasprintf("%s=%s", scalar(k), scalar(val));
                strv_push(&v, kv);
        }
        if (!v)
                v = xcalloc(1, sizeof(char *));
        *ret = TAKE_PTR(v);
        return 0;
}
