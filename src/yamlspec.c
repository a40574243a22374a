/* SPDX-License-Identifier: MIT */
#include "journal.h"
#include "yamlspec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>

#include "digest.h"
#include "path.h"
#include "util.h"

/* ---- a hash table of strings ---- */

/* Open addressing, keyed by strings it owns: what keeps duplicate keys and
 * anchors linear in the size of a config. */
typedef struct StrSlot {
        char *key; /* NULL: empty */
        size_t value[3];
} StrSlot;

typedef struct StrTable {
        StrSlot *slots;
        size_t cap, n; /* cap: 0 or a power of two */
} StrTable;

static void str_table_clear(StrTable *t)
{
        for (size_t i = 0; i < t->cap; i++)
                free(t->slots[i].key);
        free(t->slots);
        *t = (StrTable){ 0 };
}

/* FNV-1a from a per-process seed, so that a config cannot be written to
 * collide in every run. */
static size_t str_hash(const char *s)
{
        static uint64_t seed;
        if (!seed) {
                const unsigned char *r = (const unsigned char *) getauxval(AT_RANDOM);
                seed = 14695981039346656037ull;
                for (size_t i = 0; r && i < 8; i++)
                        seed = (seed ^ r[i]) * 1099511628211ull;
        }
        uint64_t h = seed;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                h = (h ^ *p) * 1099511628211ull;
        return (size_t) (h ^ (h >> 29));
}

static StrSlot *str_table_probe(StrSlot *slots, size_t cap, const char *key)
{
        for (size_t i = str_hash(key) & (cap - 1);; i = (i + 1) & (cap - 1))
                if (!slots[i].key || strcmp(slots[i].key, key) == 0)
                        return &slots[i];
}

static const StrSlot *str_table_find(const StrTable *t, const char *key)
{
        if (t->cap == 0)
                return NULL;
        StrSlot *slot = str_table_probe(t->slots, t->cap, key);
        return slot->key ? slot : NULL;
}

/* The slot of key, added with zero values when absent; *ret_added says which. */
static StrSlot *str_table_add(StrTable *t, const char *key, bool *ret_added)
{
        if ((t->n + 1) * 2 > t->cap) {
                size_t cap = t->cap ? t->cap * 2 : 16;
                StrSlot *slots = xcalloc(cap, sizeof(StrSlot));
                for (size_t i = 0; i < t->cap; i++)
                        if (t->slots[i].key)
                                *str_table_probe(slots, cap, t->slots[i].key) = t->slots[i];
                free(t->slots);
                t->slots = slots;
                t->cap = cap;
        }
        StrSlot *slot = str_table_probe(t->slots, t->cap, key);
        *ret_added = !slot->key;
        if (!slot->key) {
                slot->key = xstrdup(key);
                t->n++;
        }
        return slot;
}

/* ---- messages ---- */

__attribute__((format(printf, 5, 0))) static int y_verror_at(YamlDoc *d, size_t line, size_t column, ObError *err,
                                                             const char *fmt, va_list ap)
{
        char msg[2048], full[3072], escaped[sizeof(((ObError *) NULL)->msg)];

        d->error_line = line;
        d->error_column = column;
        /* Past the problems a loader shows, the text is only counted
         * (y_note()): a file of 80,000 bad entries is not spelt out. */
        if (d->n_problems >= YDOC_MAX_PROBLEMS)
                return ob_error_plain(err, EINVAL, "%s:%zu:%zu: one more problem", ob_escape(d->file, full, 1024), line,
                                      column);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        if (line == 0)
                snprintf(full, sizeof(full), "%s: %s", d->file, msg);
        else
                snprintf(full, sizeof(full), "%s:%zu:%zu: %s", d->file, line, column, msg);
        /* config text and file names are quoted as they are, and may hold
         * anything */
        return ob_error_plain(err, EINVAL, "%s", ob_escape(full, escaped, sizeof(escaped)));
}

/* "file:line:col: message", line and column counted from 1; line 0: "file: message". */
__attribute__((format(printf, 5, 6))) static int y_error_at(YamlDoc *d, size_t line, size_t column, ObError *err,
                                                            const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = y_verror_at(d, line, column, err, fmt, ap);
        va_end(ap);
        return r;
}

int y_error(YamlDoc *d, const yaml_node_t *node, ObError *err, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = node ? y_verror_at(d, node->start_mark.line + 1, node->start_mark.column + 1, err, fmt, ap)
                     : y_verror_at(d, 0, 0, err, fmt, ap);
        va_end(ap);
        return r;
}

/* ---- several problems at once ---- */

static size_t kept_problems(const YamlDoc *d)
{
        return d->n_problems < YDOC_MAX_PROBLEMS ? d->n_problems : YDOC_MAX_PROBLEMS;
}

int y_note(YamlDoc *d, int r, ObError *err)
{
        if (r == Y_ALREADY_SAID)
                return 0;
        if (r != -EINVAL)
                return r;
        /* one text found twice (a key checked on two paths) is said once */
        for (size_t i = 0; i < kept_problems(d); i++)
                if (d->problems[i].line == d->error_line && d->problems[i].column == d->error_column &&
                    strcmp(d->problems[i].msg, err->msg) == 0)
                        return 0;
        if (d->n_problems < YDOC_MAX_PROBLEMS)
                d->problems[d->n_problems] =
                        (YamlProblem){ .line = d->error_line, .column = d->error_column, .msg = xstrdup(err->msg) };
        d->n_problems++;
        return 0;
}

bool y_has_problems(const YamlDoc *d)
{
        return d->n_problems > 0;
}

int y_problems(YamlDoc *d, ObError *err)
{
        if (d->n_problems == 0)
                return 0;
        /* Room is left for a caller's context in front (ob_error_wrap()
         * takes up to 1 KiB), which must not cut lines out of the middle. */
        char buf[sizeof(err->msg) - 1024];
        size_t len = 0, said = 0;
        size_t kept = kept_problems(d);
        for (size_t i = 0; i < kept; i++) {
                const char *m = d->problems[i].msg;
                size_t n = strlen(m);
                /* the first always; later ones while they fit beside the
                 * closing count */
                if (i > 0 && len + 1 + n + 64 >= sizeof(buf))
                        break;
                len += (size_t) snprintf(buf + len, sizeof(buf) - len, "%s%s", i ? "\n" : "", m);
                if (len >= sizeof(buf))
                        len = sizeof(buf) - 1;
                said++;
        }
        if (said < d->n_problems)
                snprintf(buf + len, sizeof(buf) - len, "\nand %zu more problem%s", d->n_problems - said,
                         d->n_problems - said == 1 ? "" : "s");
        return ob_error_plain(err, EINVAL, "%s", buf);
}

/* ---- positions in the text ---- */

/* A line ends at "\n", "\r\n" or "\r"; columns count characters, as
 * libyaml's marks do. */
static size_t line_break_len(const char *text, size_t size, size_t i)
{
        if (text[i] == '\n')
                return 1;
        if (text[i] == '\r')
                return i + 1 < size && text[i + 1] == '\n' ? 2 : 1;
        return 0;
}

static bool utf8_continuation(char c)
{
        return ((unsigned char) c & 0xc0) == 0x80;
}

/* The 1-based line and column of the byte at offset. */
static void text_position(const char *text, size_t size, size_t offset, size_t *ret_line, size_t *ret_column)
{
        size_t line = 1, column = 1;
        for (size_t i = 0; i < offset && i < size;) {
                size_t b = line_break_len(text, size, i);
                if (b) {
                        line++;
                        column = 1;
                        i += b;
                        continue;
                }
                if (!utf8_continuation(text[i]))
                        column++;
                i++;
        }
        *ret_line = line;
        *ret_column = column;
}

/* The byte a libyaml mark points at, or '\0' past the end. */
static char text_at(const char *text, size_t size, const yaml_mark_t *m)
{
        size_t i = 0;
        for (size_t line = 0; line < m->line && i < size; i++) {
                size_t b = line_break_len(text, size, i);
                if (b) {
                        line++;
                        i += b - 1;
                }
        }
        for (size_t column = 0; i < size; i++) {
                if (utf8_continuation(text[i]))
                        continue;
                if (column++ == m->column)
                        return text[i];
        }
        return '\0';
}

/* ---- loading ---- */

static const char *file_type_name(mode_t mode)
{
        return S_ISDIR(mode)    ? "a directory"
               : S_ISFIFO(mode) ? "a FIFO"
               : S_ISCHR(mode)  ? "a character device"
               : S_ISBLK(mode)  ? "a block device"
               : S_ISSOCK(mode) ? "a socket"
                                : "a special file";
}

/* The bytes of a config. Only a regular file is read, and no more of it
 * than a config may have: a FIFO would block for ever, /dev/zero never
 * ends, and a file may grow while it is read. */
static int read_config(const char *file, char **ret_data, size_t *ret_size, ObError *err)
{
        char name[1024];
        ob_escape(file, name, sizeof(name));
        _cleanup_close_ int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) {
                journal_note_error(file, /* follow= */ true, errno);
                return ob_error_set(err, errno, "cannot open '%s'", name);
        }
        struct stat st;
        if (fstat(fd, &st) < 0) {
                journal_set_broken("cannot stat '%s'", file);
                return ob_error_set(err, errno, "cannot read '%s'", name);
        }
        journal_note_stat(file, /* follow= */ true, &st);
        if (!S_ISREG(st.st_mode))
                return ob_error_plain(err, EINVAL, "config '%s' is %s, not a regular file", name,
                                      file_type_name(st.st_mode));
        if (st.st_size > YDOC_MAX_SIZE)
                return ob_error_plain(err, EFBIG, "config '%s' is larger than a config may be (%d KiB)", name,
                                      YDOC_MAX_SIZE / 1024);
        size_t n = 0;
        _cleanup_free_ char *buf = xmalloc(YDOC_MAX_SIZE + 2);
        for (;;) {
                ssize_t r = read(fd, buf + n, YDOC_MAX_SIZE + 1 - n);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return ob_error_set(err, errno, "cannot read '%s'", name);
                if (r == 0)
                        break;
                n += (size_t) r;
                if (n > YDOC_MAX_SIZE)
                        return ob_error_plain(err, EFBIG, "config '%s' is larger than a config may be (%d KiB)", name,
                                              YDOC_MAX_SIZE / 1024);
        }
        buf[n] = '\0';
        *ret_data = TAKE_PTR(buf);
        *ret_size = n;
        return 0;
}

int ydoc_load(const char *file, YamlDoc **ret, ObError *err)
{
        _cleanup_free_ char *data = NULL;
        size_t size = 0;
        int r = read_config(file, &data, &size, err);
        if (r < 0)
                return r;
        return ydoc_load_data(file, data, size, ret, err);
}

/* What a node holds, aliases expanded. */
typedef struct YamlCost {
        size_t nodes;
        size_t bytes; /* of scalars */
} YamlCost;

/* A collection that is being read. */
typedef struct LoadFrame {
        int node;
        int key;       /* of a mapping: the key that waits for its value; 0: none */
        char *anchor;  /* recorded when the collection ends: no alias points into its own node */
        YamlCost cost; /* so far, aliases expanded */
} LoadFrame;

typedef struct Loader {
        YamlDoc *d;
        const char *text;
        size_t size;
        LoadFrame stack[YDOC_MAX_DEPTH];
        size_t depth;
        StrTable anchors; /* name: node id, nodes, bytes */
        YamlCost aliased; /* reached through aliases */
        bool have_document;
} Loader;

static void loader_clear(Loader *l)
{
        for (size_t i = 0; i < l->depth; i++)
                free(l->stack[i].anchor);
        str_table_clear(&l->anchors);
}

__attribute__((format(printf, 4, 5))) static int loader_error(Loader *l, const yaml_mark_t *m, ObError *err,
                                                              const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = y_verror_at(l->d, m->line + 1, m->column + 1, err, fmt, ap);
        va_end(ap);
        return r;
}

static int parse_error(Loader *l, const yaml_parser_t *p, ObError *err)
{
        if (p->error == YAML_MEMORY_ERROR)
                return ob_error_plain(err, ENOMEM, "out of memory reading YAML");
        if (p->error == YAML_READER_ERROR) {
                /* libyaml gives the reader's errors (not UTF-8, a control
                 * character) a byte offset, not a mark */
                size_t line, column;
                text_position(l->text, l->size, p->problem_offset, &line, &column);
                if (p->problem_value < 0) /* the input ended inside a character */
                        return y_error_at(l->d, line, column, err, "%s", p->problem);
                return y_error_at(l->d, line, column, err, "%s (0x%02x)", p->problem, (unsigned) p->problem_value);
        }
        const yaml_mark_t *m = p->problem ? &p->problem_mark : &p->context_mark;
        if (text_at(l->text, l->size, m) == '\t')
                return loader_error(l, m, err, "tabs cannot indent YAML; indent with spaces");
        return loader_error(l, m, err, "invalid YAML: %s%s%s", p->problem ? p->problem : "parse error",
                            p->context ? " " : "", p->context ? p->context : "");
}

/* Records anchor (if any) as naming node. */
static int loader_anchor(Loader *l, const char *anchor, const yaml_mark_t *m, int node, YamlCost cost, ObError *err)
{
        if (!anchor)
                return 0;
        bool added;
        StrSlot *slot = str_table_add(&l->anchors, anchor, &added);
        if (!added)
                return loader_error(l, m, err, "anchor '&%s' is defined twice", anchor);
        slot->value[0] = (size_t) node;
        slot->value[1] = cost.nodes;
        slot->value[2] = cost.bytes;
        return 0;
}

/* Puts node into the collection being read, or makes it the root. */
static int loader_add(Loader *l, int node, YamlCost cost, ObError *err)
{
        if (l->depth == 0)
                return 0; /* the root: the document's first node */
        LoadFrame *f = &l->stack[l->depth - 1];
        yaml_node_t *parent = yaml_document_get_node(&l->d->doc, f->node);
        int ok = 1;
        f->cost.nodes += cost.nodes;
        f->cost.bytes += cost.bytes;
        if (parent->type == YAML_SEQUENCE_NODE)
                ok = yaml_document_append_sequence_item(&l->d->doc, f->node, node);
        else if (!f->key)
                f->key = node;
        else {
                ok = yaml_document_append_mapping_pair(&l->d->doc, f->node, f->key, node);
                f->key = 0;
        }
        if (!ok)
                return ob_error_plain(err, ENOMEM, "out of memory reading YAML");
        return 0;
}

static void set_marks(Loader *l, int node, const yaml_event_t *ev)
{
        yaml_node_t *n = yaml_document_get_node(&l->d->doc, node);
        n->start_mark = ev->start_mark;
        n->end_mark = ev->end_mark;
}

static int load_scalar(Loader *l, const yaml_event_t *ev, ObError *err)
{
        const char *value = (const char *) ev->data.scalar.value;
        size_t length = ev->data.scalar.length;
        /* "\0" in a quoted scalar: the text after it would vanish from a C string */
        if (memchr(value, '\0', length))
                return loader_error(l, &ev->start_mark, err, "a NUL character (\\0) is not allowed in a config");
        int node = yaml_document_add_scalar(&l->d->doc, ev->data.scalar.tag, ev->data.scalar.value, (int) length,
                                            ev->data.scalar.style);
        if (!node)
                return ob_error_plain(err, ENOMEM, "out of memory reading YAML");
        set_marks(l, node, ev);
        YamlCost cost = { .nodes = 1, .bytes = length };
        int r = loader_anchor(l, (const char *) ev->data.scalar.anchor, &ev->start_mark, node, cost, err);
        if (r < 0)
                return r;
        return loader_add(l, node, cost, err);
}

static int load_alias(Loader *l, const yaml_event_t *ev, ObError *err)
{
        const char *anchor = (const char *) ev->data.alias.anchor;
        const StrSlot *slot = str_table_find(&l->anchors, anchor);
        if (!slot) {
                for (size_t i = 0; i < l->depth; i++)
                        if (l->stack[i].anchor && strcmp(l->stack[i].anchor, anchor) == 0)
                                return loader_error(l, &ev->start_mark, err, "alias '*%s' is inside the node it names",
                                                    anchor);
                return loader_error(l, &ev->start_mark, err, "alias '*%s' names no anchor defined before it", anchor);
        }
        /* every node and byte reached through an alias counts: a few lines
         * of aliases of aliases would otherwise make millions of them */
        YamlCost cost = { .nodes = slot->value[1], .bytes = slot->value[2] };
        l->aliased.nodes += cost.nodes;
        l->aliased.bytes += cost.bytes;
        if (l->aliased.nodes > YDOC_MAX_ALIAS_NODES || l->aliased.bytes > YDOC_MAX_SIZE)
                return loader_error(l, &ev->start_mark, err,
                                    "aliases expand to more than %d nodes or %d KiB, more than a config may have",
                                    YDOC_MAX_ALIAS_NODES, YDOC_MAX_SIZE / 1024);
        return loader_add(l, (int) slot->value[0], cost, err);
}

static int load_collection_start(Loader *l, const yaml_event_t *ev, ObError *err)
{
        if (l->depth == YDOC_MAX_DEPTH)
                return loader_error(l, &ev->start_mark, err, "nested deeper than %d levels, more than a config may be",
                                    YDOC_MAX_DEPTH);
        int node;
        const char *anchor;
        if (ev->type == YAML_SEQUENCE_START_EVENT) {
                node = yaml_document_add_sequence(&l->d->doc, ev->data.sequence_start.tag,
                                                  ev->data.sequence_start.style);
                anchor = (const char *) ev->data.sequence_start.anchor;
        } else {
                node = yaml_document_add_mapping(&l->d->doc, ev->data.mapping_start.tag, ev->data.mapping_start.style);
                anchor = (const char *) ev->data.mapping_start.anchor;
        }
        if (!node)
                return ob_error_plain(err, ENOMEM, "out of memory reading YAML");
        set_marks(l, node, ev);
        l->stack[l->depth++] = (LoadFrame){ .node = node, .anchor = anchor ? xstrdup(anchor) : NULL };
        return 0;
}

static int load_collection_end(Loader *l, const yaml_event_t *ev, ObError *err)
{
        LoadFrame f = l->stack[--l->depth];
        _cleanup_free_ char *anchor = f.anchor;
        yaml_document_get_node(&l->d->doc, f.node)->end_mark = ev->end_mark;
        const yaml_mark_t *start = &yaml_document_get_node(&l->d->doc, f.node)->start_mark;
        f.cost.nodes++;
        int r = loader_anchor(l, anchor, start, f.node, f.cost, err);
        if (r < 0)
                return r;
        return loader_add(l, f.node, f.cost, err);
}

static void yaml_event_deletep(yaml_event_t *ev)
{
        yaml_event_delete(ev);
}

/* libyaml's own loader builds the whole document before anything can be
 * checked, and libyaml takes quadratic time over deep nesting: events let
 * the limits stop a config as soon as it passes one. */
static int load_events(Loader *l, yaml_parser_t *p, ObError *err)
{
        for (;;) {
                _cleanup_(yaml_event_deletep) yaml_event_t ev = { 0 };
                int r = 0;
                if (!yaml_parser_parse(p, &ev))
                        return parse_error(l, p, err);
                switch (ev.type) {
                case YAML_STREAM_END_EVENT:
                        return 0;
                case YAML_DOCUMENT_START_EVENT:
                        if (l->have_document)
                                return loader_error(l, &ev.start_mark, err,
                                                    "a second YAML document starts here; a config is one document");
                        l->have_document = true;
                        break;
                case YAML_SCALAR_EVENT:
                        r = load_scalar(l, &ev, err);
                        break;
                case YAML_ALIAS_EVENT:
                        r = load_alias(l, &ev, err);
                        break;
                case YAML_SEQUENCE_START_EVENT:
                case YAML_MAPPING_START_EVENT:
                        r = load_collection_start(l, &ev, err);
                        break;
                case YAML_SEQUENCE_END_EVENT:
                case YAML_MAPPING_END_EVENT:
                        r = load_collection_end(l, &ev, err);
                        break;
                default:
                        break;
                }
                if (r < 0)
                        return r;
        }
}

static void yaml_parser_deletep(yaml_parser_t *p)
{
        yaml_parser_delete(p);
}

int ydoc_load_data(const char *name, const char *data, size_t size, YamlDoc **ret, ObError *err)
{
        _cleanup_(ydoc_freep) YamlDoc *d = xcalloc(1, sizeof(*d));
        d->file = xstrdup(name);
        if (size > YDOC_MAX_SIZE)
                return y_error_at(d, 0, 0, err, "larger than a config may be (%d KiB)", YDOC_MAX_SIZE / 1024);
        /* the text after a NUL byte would be lost on the way */
        const char *nul = memchr(data, '\0', size);
        if (nul) {
                size_t line, column;
                text_position(data, size, (size_t) (nul - data), &line, &column);
                return y_error_at(d, line, column, err, "a NUL byte is not allowed in a config");
        }
        if (!yaml_document_initialize(&d->doc, NULL, NULL, NULL, /* start_implicit= */ 1, /* end_implicit= */ 1))
                return ob_error_plain(err, ENOMEM, "out of memory reading YAML");

        _cleanup_(yaml_parser_deletep) yaml_parser_t parser;
        if (!yaml_parser_initialize(&parser))
                return ob_error_plain(err, ENOMEM, "cannot initialise the YAML parser");
        yaml_parser_set_input_string(&parser, (const unsigned char *) data, size);
        Loader l = { .d = d, .text = data, .size = size };
        int r = load_events(&l, &parser, err);
        loader_clear(&l);
        if (r < 0)
                return r;
        if (!ydoc_root(d))
                return y_error_at(d, 1, 1, err, "the file is empty (expected a mapping)");
        *ret = TAKE_PTR(d);
        return 0;
}

int ydoc_load_string(const char *name, const char *text, YamlDoc **ret, ObError *err)
{
        return ydoc_load_data(name, text, strlen(text), ret, err);
}

void ydoc_free(YamlDoc *d)
{
        if (!d)
                return;
        yaml_document_delete(&d->doc);
        free(d->file);
        for (size_t i = 0; i < kept_problems(d); i++)
                free(d->problems[i].msg);
        free(d->unknown_keys);
        free(d->unknown_by_map);
        free(d);
}

yaml_node_t *ydoc_root(YamlDoc *d)
{
        return yaml_document_get_root_node(&d->doc);
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
        return !*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
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

/* Whether key may be a misspelling of known, closer than *best_d (which
 * it then lowers) or one a prefix of the other. */
static bool similar_key(const char *key, const char *known, size_t *best_d)
{
        size_t dist = edit_distance(key, known);
        if (dist < *best_d || (str_startswith(known, key) && strlen(key) >= 3) ||
            (str_startswith(key, known) && strlen(known) >= 3)) {
                *best_d = dist < *best_d ? dist : *best_d;
                return true;
        }
        return false;
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

static size_t node_index(YamlDoc *d, const yaml_node_t *node)
{
        return (size_t) (node - d->doc.nodes.start);
}

/* Remembers k, a key of map, as unknown: a required key it stands for is
 * then not said missing too. */
static void remember_unknown(YamlDoc *d, const yaml_node_t *map, const yaml_node_t *k, const char *hint)
{
        if (!d->unknown_by_map)
                d->unknown_by_map = xcalloc((size_t) (d->doc.nodes.top - d->doc.nodes.start), sizeof(size_t));
        if (d->n_unknown_keys == d->cap_unknown_keys) {
                d->cap_unknown_keys = d->cap_unknown_keys ? 2 * d->cap_unknown_keys : 16;
                d->unknown_keys = xrealloc(d->unknown_keys, d->cap_unknown_keys * sizeof(*d->unknown_keys));
        }
        size_t *head = &d->unknown_by_map[node_index(d, map)];
        d->unknown_keys[d->n_unknown_keys++] = (YamlUnknownKey){ .node = k, .hint = hint, .next = *head };
        *head = d->n_unknown_keys;
}

static int check_key(YamlDoc *d, const yaml_node_t *map, yaml_node_t *k, const char *what, const char *const *allowed,
                     const YamlRename *renames, StrTable *seen, ObError *err)
{
        if (k->type != YAML_SCALAR_NODE)
                return y_error(d, k, err, "keys of %s must be strings, found %s", what, y_kind(k));
        const char *key = scalar(k);

        bool added;
        StrSlot *first = str_table_add(seen, key, &added);
        if (!added)
                return y_error(d, k, err, "duplicate key '%s' in %s (first at line %zu)", key, what, first->value[0]);
        first->value[0] = k->start_mark.line + 1;

        for (size_t i = 0; allowed[i]; i++)
                if (strcmp(allowed[i], key) == 0)
                        return 0;
        for (size_t i = 0; renames && renames[i].old_key; i++)
                if (strcmp(renames[i].old_key, key) == 0) {
                        remember_unknown(d, map, k, renames[i].hint);
                        return y_error(d, k, err, "key '%s' is not supported in %s: %s", key, what, renames[i].hint);
                }
        remember_unknown(d, map, k, /* hint= */ NULL);
        const char *best = NULL;
        size_t best_d = 3;
        for (size_t i = 0; allowed[i]; i++)
                if (similar_key(key, allowed[i], &best_d))
                        best = allowed[i];
        if (best)
                return y_error(d, k, err, "unknown key '%s' in %s (did you mean '%s'?)", key, what, best);
        _cleanup_free_ char *list = allowed_list(allowed);
        return y_error(d, k, err, "unknown key '%s' in %s (expected one of: %s)", key, what, list);
}

int y_check_map(YamlDoc *d, yaml_node_t *node, const char *what, const char *const *allowed, const YamlRename *renames,
                ObError *err)
{
        if (node->type != YAML_MAPPING_NODE)
                return y_error(d, node, err, "%s must be a mapping, found %s", what, y_kind(node));

        _cleanup_(str_table_clear) StrTable seen = { 0 };
        for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
                /* each key is a problem of its own: the others stay usable */
                yaml_node_t *k = yaml_document_get_node(&d->doc, p->key);
                int r = y_note(d, check_key(d, node, k, what, allowed, renames, &seen, err), err);
                if (r < 0)
                        return r;
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
                /* An unknown key of this mapping that is this one misspelt,
                 * or whose hint names it ("'build.binary_path' is now
                 * 'binaries'"): its message is the one to read. */
                _cleanup_free_ char *quoted = xasprintf("'%s'", key);
                size_t i = d->unknown_by_map && map ? d->unknown_by_map[node_index(d, map)] : 0;
                for (; i; i = d->unknown_keys[i - 1].next) {
                        const YamlUnknownKey *u = &d->unknown_keys[i - 1];
                        size_t best_d = 3;
                        if (similar_key(scalar(u->node), key, &best_d) || (u->hint && strstr(u->hint, quoted))) {
                                y_error(d, map, err, "missing required key '%s' in %s (see the key '%s')", key, what,
                                        scalar(u->node));
                                return Y_ALREADY_SAID;
                        }
                }
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

int y_mode(YamlDoc *d, yaml_node_t *node, const char *key, YamlModeFlags flags, uint32_t *ret, ObError *err)
{
        if (node->type != YAML_SCALAR_NODE)
                return y_error(d, node, err, "'%s' must be an octal mode such as \"0755\", found %s", key,
                               y_kind(node));
        uint32_t mode;
        if (parse_mode(scalar(node), &mode) < 0)
                return y_error(d, node, err,
                               "'%s' must be an octal mode from \"0000\" to \"7777\" (e.g. \"0755\"), found '%s'", key,
                               scalar(node));
        /* nothing in the image may gain privileges when run; the sticky bit
         * (1777 on /tmp) grants none */
        if ((flags & Y_MODE_DIRECTORY) && (mode & S_ISUID))
                return y_error(d, node, err,
                               "'%s' \"%s\" sets the setuid bit, which is not allowed in a distroless image", key,
                               scalar(node));
        if (!(flags & Y_MODE_DIRECTORY) && (mode & (S_ISUID | S_ISGID)))
                return y_error(d, node, err,
                               "'%s' \"%s\" sets setuid/setgid bits, which are not allowed in a distroless image", key,
                               scalar(node));
        *ret = mode;
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
        size_t n = 0;
        v = xcalloc((size_t) (node->data.sequence.items.top - node->data.sequence.items.start) + 1, sizeof(char *));
        yaml_node_t *item;
        Y_SEQ_FOREACH(d, node, item) {
                if (item->type != YAML_SCALAR_NODE)
                        return y_error(d, item, err, "items of '%s' must be strings, found %s", key, y_kind(item));
                v[n++] = xstrdup(scalar(item));
        }
        *ret = TAKE_PTR(v);
        return 0;
}

int y_str_map(YamlDoc *d, yaml_node_t *node, const char *key, char ***ret, ObError *err)
{
        if (node->type != YAML_MAPPING_NODE)
                return y_error(d, node, err, "'%s' must be a mapping of names to strings, found %s", key, y_kind(node));
        size_t n = 0;
        _cleanup_strv_ char **v =
                xcalloc((size_t) (node->data.mapping.pairs.top - node->data.mapping.pairs.start) + 1, sizeof(char *));
        _cleanup_(str_table_clear) StrTable seen = { 0 };
        for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
                yaml_node_t *k = yaml_document_get_node(&d->doc, p->key);
                yaml_node_t *val = yaml_document_get_node(&d->doc, p->value);
                if (k->type != YAML_SCALAR_NODE || !*scalar(k))
                        return y_error(d, k, err, "keys of '%s' must be non-empty strings", key);
                if (strchr(scalar(k), '='))
                        return y_error(d, k, err, "keys of '%s' must not contain '=', found '%s'", key, scalar(k));
                if (val->type != YAML_SCALAR_NODE)
                        return y_error(d, val, err, "'%s.%s' must be a string, found %s", key, scalar(k), y_kind(val));
                bool added;
                StrSlot *first = str_table_add(&seen, scalar(k), &added);
                if (!added)
                        return y_error(d, k, err, "duplicate key '%s' in '%s' (first at line %zu)", scalar(k), key,
                                       first->value[0]);
                first->value[0] = k->start_mark.line + 1;
                v[n++] = xasprintf("%s=%s", scalar(k), scalar(val));
        }
        *ret = TAKE_PTR(v);
        return 0;
}

/* path relative to a directory, normalised; NULL when it is empty,
 * absolute or has a ".." component. */
static char *normalize_relative(const char *path)
{
        if (!*path || path[0] == '/')
                return NULL;
        _cleanup_free_ char *abs = xasprintf("/%s", path);
        ObError ignore;
        _cleanup_free_ char *n = path_normalize_abs(abs, &ignore);
        if (!n)
                return NULL;
        return xstrdup(n[1] ? n + 1 : ".");
}

int y_rel_path_list(YamlDoc *d, yaml_node_t *node, const char *key, char ***ret, size_t **ret_lines, ObError *err)
{
        if (node->type != YAML_SEQUENCE_NODE)
                return y_error(d, node, err, "'%s' must be a list of paths relative to the workdir, found %s", key,
                               y_kind(node));
        size_t cap = (size_t) (node->data.sequence.items.top - node->data.sequence.items.start) + 1;
        _cleanup_strv_ char **v = xcalloc(cap, sizeof(char *));
        _cleanup_free_ size_t *lines = xcalloc(cap, sizeof(size_t));
        size_t n = 0;
        yaml_node_t *item;
        Y_SEQ_FOREACH(d, node, item) {
                if (item->type != YAML_SCALAR_NODE)
                        return y_error(d, item, err, "items of '%s' must be paths, found %s", key, y_kind(item));
                char *p = normalize_relative(scalar(item));
                if (!p)
                        return y_error(d, item, err,
                                       "items of '%s' must be paths inside the workdir, relative to it and without "
                                       "'..', found '%s'",
                                       key, scalar(item));
                lines[n] = item->start_mark.line + 1;
                v[n++] = p;
        }
        *ret = TAKE_PTR(v);
        if (ret_lines)
                *ret_lines = TAKE_PTR(lines);
        return 0;
}

static void hash_node(YamlDoc *d, const yaml_node_t *node, Sha256 *h, int depth)
{
        char head[64];
        int n;
        if (!node || depth > YDOC_MAX_DEPTH) {
                sha256_update(h, "?", 2);
                return;
        }
        switch (node->type) {
        case YAML_SCALAR_NODE:
                n = snprintf(head, sizeof(head), "s%zu:", node->data.scalar.length);
                sha256_update(h, head, (size_t) n);
                sha256_update(h, node->data.scalar.value, node->data.scalar.length);
                break;
        case YAML_SEQUENCE_NODE:
                n = snprintf(head, sizeof(head),
                             "l%td:", node->data.sequence.items.top - node->data.sequence.items.start);
                sha256_update(h, head, (size_t) n);
                for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top; it++)
                        hash_node(d, yaml_document_get_node(&d->doc, *it), h, depth + 1);
                break;
        case YAML_MAPPING_NODE:
                n = snprintf(head, sizeof(head),
                             "m%td:", node->data.mapping.pairs.top - node->data.mapping.pairs.start);
                sha256_update(h, head, (size_t) n);
                for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
                        hash_node(d, yaml_document_get_node(&d->doc, p->key), h, depth + 1);
                        hash_node(d, yaml_document_get_node(&d->doc, p->value), h, depth + 1);
                }
                break;
        default:
                sha256_update(h, "?", 2);
                break;
        }
}

char *y_node_sha256(YamlDoc *d, const yaml_node_t *node)
{
        _cleanup_sha256_ Sha256 h = { 0 };
        sha256_init(&h);
        hash_node(d, node, &h, 0);
        char digest[DIGEST_STRING_MAX];
        sha256_final(&h, digest);
        return xstrdup(digest_hex(digest));
}
