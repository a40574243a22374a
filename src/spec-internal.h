/* SPDX-License-Identifier: MIT */
#pragma once

/* What the loaders of the three tiers (spec.c, spec-tool.c, spec-app.c)
 * share; not part of the spec module's interface. */

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "spec.h"
#include "yamlspec.h"

typedef enum SpecKeyPresence {
        SPEC_KEY_OPTIONAL,
        SPEC_KEY_REQUIRED,
} SpecKeyPresence;

/* A non-empty string, or an absolute image path, under key of map. An
 * optional key that is absent leaves *ret as it is; what names map in the
 * message about a missing required key. */
int spec_get_str(YamlDoc *d, yaml_node_t *map, const char *key, SpecKeyPresence presence, const char *what, char **ret,
                 ObError *err);
int spec_get_path(YamlDoc *d, yaml_node_t *map, const char *key, SpecKeyPresence presence, const char *what, char **ret,
                  ObError *err);

/* Names of images, users, groups and services: what both a tag and
 * /etc/passwd accept. */
bool spec_valid_name(const char *s, size_t max);

/* A map of environment variables (y_str_map()), as "NAME=VALUE"; names
 * are letters, digits and '_', not starting with a digit. */
int spec_parse_env(YamlDoc *d, yaml_node_t *node, const char *key, char ***ret, ObError *err);

/* The directory of the config file, for paths written relative to it. */
char *spec_config_dir(const char *file);
/* The same, absolute (canonical where it exists). */
char *spec_config_dir_abs(const char *file);
/* path, when relative, joined to dir; canonical where it exists, so
 * messages show a clean path. */
char *spec_resolve_relative(const char *dir, const char *path);

/* One kind of entry of a list in a config (or of a mapping of names). */
typedef struct SpecEntryKind {
        const char *key;           /* the list's key, for messages: "files" */
        const char *what;          /* one entry, for messages: "a 'files' entry" */
        const char *const *keys;   /* the keys an entry may have */
        const YamlRename *renames; /* may be NULL */
        bool scalar_ok;            /* an entry may also be a plain string, which parse reads */
        /* Fills elem from node. elem is zeroed and already counted, so that
         * spec_free() releases what it holds even when parse fails. */
        int (*parse)(YamlDoc *d, yaml_node_t *node, void *elem, void *userdata, ObError *err);
} SpecEntryKind;

/* Appends one entry parsed from node to the array *array of *n elements of
 * elem_size bytes, which only this function grows (its room is *n rounded
 * up to a power of two). */
int spec_parse_entry_sized(YamlDoc *d, yaml_node_t *node, const SpecEntryKind *kind, size_t elem_size, void **array,
                           size_t *n, void *userdata, ObError *err);
#define spec_parse_entry(d, node, kind, array, n, userdata, err) \
        spec_parse_entry_sized(d, node, kind, sizeof(**(array)), (void **) (array), n, userdata, err)

/* Checks that list is a list and appends each of its entries. */
int spec_parse_list_sized(YamlDoc *d, yaml_node_t *list, const SpecEntryKind *kind, size_t elem_size, void **array,
                          size_t *n, void *userdata, ObError *err);
#define spec_parse_list(d, list, kind, array, n, userdata, err) \
        spec_parse_list_sized(d, list, kind, sizeof(**(array)), (void **) (array), n, userdata, err)

/* The start all tiers share: the file, its keys, name, version and
 * description. The version may be absent; the caller decides. Problems of
 * a key are noted on the document (y_note()), each loader going on with
 * the other keys and ending with y_problems(), which reports them all. */
int spec_begin(const char *file, SpecTier tier, const char *what, const char *const *keys, const YamlRename *renames,
               YamlDoc **ret_doc, Spec **ret_spec, ObError *err);

/* A 'test' (tools and apps): what `oci-build test NAME` runs in the image. */
int spec_parse_test(YamlDoc *d, yaml_node_t *node, SpecTest *t, ObError *err);

/* What every tier's layer may name: files, directories, symlinks; and the
 * image config. */
int spec_parse_layer_keys(YamlDoc *d, yaml_node_t *root, Spec *s, ObError *err);

/* 'artifacts' and 'build' (src/spec-artifact.c), which apps and tools share;
 * dir is the config's directory. A tool's artifacts may also unpack an
 * archive, and its build steps run in the unpacked sources. */
int spec_parse_artifacts(YamlDoc *d, yaml_node_t *list, Spec *s, const char *dir, ObError *err);
int spec_parse_build(YamlDoc *d, yaml_node_t *list, Spec *s, const char *dir, ObError *err);
