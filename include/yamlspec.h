/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <yaml.h>

#include "error.h"
#include "util.h"

/* Strict, typed reading of a YAML document. Every error names
 * "file:line:col" (libyaml's marks, 1-based) and what was expected. */
/* A problem of a config that loading went on past: see y_note(). */
typedef struct YamlProblem {
        size_t line, column; /* 1-based; 0: the whole file */
        char *msg;           /* "file:line:col: what was expected" */
} YamlProblem;

/* A key y_check_map() reported as unknown, for y_require(). */
typedef struct YamlUnknownKey {
        const yaml_node_t *node;
        const char *hint; /* of a renamed key, or NULL */
        size_t next;      /* 1 + the index of the next one of the same mapping; 0: none */
} YamlUnknownKey;

/* How many problems of one config are reported; the rest are counted. */
#define YDOC_MAX_PROBLEMS 20

typedef struct YamlDoc {
        char *file; /* as given, used in messages */
        yaml_document_t doc;
        YamlProblem problems[YDOC_MAX_PROBLEMS]; /* the first found */
        size_t n_problems;                       /* noted, kept or not */
        size_t error_line, error_column;         /* of the last y_error() */
        YamlUnknownKey *unknown_keys;            /* reported by y_check_map() */
        size_t n_unknown_keys, cap_unknown_keys;
        size_t *unknown_by_map; /* per node: 1 + the index of its first unknown key; 0: none */
} YamlDoc;

/* What a config may cost, whoever wrote it: a larger file, deeper nesting, or
 * more nodes or scalar bytes (YDOC_MAX_SIZE) reached through aliases is
 * refused as soon as it is seen, before time or memory go to it. */
#define YDOC_MAX_SIZE (1024 * 1024)
#define YDOC_MAX_DEPTH 64
#define YDOC_MAX_ALIAS_NODES 10000

/* One document of UTF-8 text without NUL; a file must be a regular file. */
int ydoc_load(const char *file, YamlDoc **ret, ObError *err);
int ydoc_load_data(const char *name, const char *data, size_t size, YamlDoc **ret, ObError *err);
int ydoc_load_string(const char *name, const char *text, YamlDoc **ret, ObError *err);
void ydoc_free(YamlDoc *d);
DEFINE_CLEANUP_FUNC(YamlDoc *, ydoc_free);
yaml_node_t *ydoc_root(YamlDoc *d);

/* "file:line:col: message", or "file: message" without a node; control
 * characters of the file name and the quoted values come out escaped. */
int y_error(YamlDoc *d, const yaml_node_t *node, ObError *err, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

const char *y_kind(const yaml_node_t *node); /* "a string", "a list", "a mapping" */

/* Independent problems of one config are reported together. A loader that
 * can go on past a problem (the next key, the next entry of a list) hands
 * what a step returned to y_note(): a config problem (-EINVAL, err filled by
 * y_error()) is recorded in d and 0 returned; anything else (out of memory)
 * comes back as it is, and r >= 0 too. A problem that the rest depends on
 * (the text is not YAML) still ends loading at once. */
int y_note(YamlDoc *d, int r, ObError *err);
/* What y_require() returns for a required key that an unknown key of the
 * same mapping already stands for (misspelt, or renamed with a hint that
 * names it): y_note() drops it, as said. err has a message all the same. */
#define Y_ALREADY_SAID (-EALREADY)
/* Whether a problem was noted: checks that relate several keys to one
 * another run only when each key on its own was fine. */
bool y_has_problems(const YamlDoc *d);
/* The end of a loader: 0 when nothing was noted; else err holds every
 * problem, one a line in the order found (the first line is the message
 * loading used to stop at), at most
 * YDOC_MAX_PROBLEMS of them and then "and N more problems", and -EINVAL
 * is returned. */
int y_problems(YamlDoc *d, ObError *err);

/* A key that an older config format used, and what to write instead. */
typedef struct YamlRename {
        const char *old_key;
        const char *hint;
} YamlRename;

/* Checks that node is a mapping whose keys are all scalars, unique, and
 * listed in allowed (NULL-terminated); renames may be NULL. what names the
 * thing for messages ("the image config"). A node that is not a mapping is
 * an error; each bad key is noted (y_note()) and the others stay usable. */
int y_check_map(YamlDoc *d, yaml_node_t *node, const char *what, const char *const *allowed, const YamlRename *renames,
                ObError *err);

yaml_node_t *y_get(YamlDoc *d, yaml_node_t *map, const char *key);
/* The key node of a mapping entry, for error positions. */
yaml_node_t *y_get_key(YamlDoc *d, yaml_node_t *map, const char *key);
int y_require(YamlDoc *d, yaml_node_t *map, const char *key, const char *what, yaml_node_t **ret, ObError *err);

/* Scalar conversions; each names the node's position on error. */
int y_str(YamlDoc *d, yaml_node_t *node, const char *key, char **ret, ObError *err);
int y_nonempty_str(YamlDoc *d, yaml_node_t *node, const char *key, char **ret, ObError *err);
int y_uint(YamlDoc *d, yaml_node_t *node, const char *key, uint64_t max, uint64_t *ret, ObError *err);
int y_bool(YamlDoc *d, yaml_node_t *node, const char *key, bool *ret, ObError *err);
typedef enum YamlModeFlags {
        /* setgid on a directory only passes its group on to new files, which
         * grants nothing (initdb's socket directory is 2775) */
        Y_MODE_DIRECTORY = 1 << 0,
} YamlModeFlags;

/* An octal mode as a string ("0755", "1777"); at most 07777, never setuid,
 * and setgid only on a directory. */
int y_mode(YamlDoc *d, yaml_node_t *node, const char *key, YamlModeFlags flags, uint32_t *ret, ObError *err);
/* An absolute image path, normalised; ".." is refused. */
int y_abs_path(YamlDoc *d, yaml_node_t *node, const char *key, char **ret, ObError *err);
/* "UID:GID" or "UID" (gid = uid). */
int y_owner(YamlDoc *d, yaml_node_t *node, const char *key, uint32_t *ret_uid, uint32_t *ret_gid, ObError *err);
typedef enum YamlListFlags {
        Y_LIST_ALLOW_SCALAR = 1 << 0, /* a single string is a one-element list */
} YamlListFlags;

/* A list of strings. */
int y_str_list(YamlDoc *d, yaml_node_t *node, const char *key, YamlListFlags flags, char ***ret, ObError *err);
/* A mapping of strings to strings, as "KEY=VALUE" entries in document order. */
int y_str_map(YamlDoc *d, yaml_node_t *node, const char *key, char ***ret, ObError *err);
/* A list of paths relative to a directory, each normalised ("./a//b/" is
 * "a/b", "." the directory itself): an empty, absolute or ".." path is
 * refused. ret_lines, when not NULL, gets the line of each. */
int y_rel_path_list(YamlDoc *d, yaml_node_t *node, const char *key, char ***ret, size_t **ret_lines, ObError *err);

/* The sha256 (64 hex digits) of node as parsed: its structure, keys and
 * values, not its formatting, comments or anchors. */
char *y_node_sha256(YamlDoc *d, const yaml_node_t *node);

/* Iteration helpers. */
#define Y_SEQ_FOREACH(ydoc_, seq_, item_)                                      \
        for (yaml_node_item_t *_it_ = (seq_)->data.sequence.items.start;       \
             _it_ < (seq_)->data.sequence.items.top &&                         \
             ((item_) = yaml_document_get_node(&(ydoc_)->doc, *_it_)) != NULL; \
             _it_++)
