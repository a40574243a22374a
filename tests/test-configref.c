/* SPDX-License-Identifier: MIT */
/* docs/configs.md against the parser, so that the two cannot drift apart.
 *
 * The document marks each section's table of keys with a comment line
 * "<!-- keys: SECTION -->" (and the keys the parser refuses with a hint with
 * "<!-- refused: SECTION -->"); the rows that follow start with the key in
 * backquotes, and the fifth column of a keys table is an example, a YAML
 * flow value. For every section this test knows how to reach the mapping in
 * a config of its tier (SECTIONS below: a template with the mapping's place,
 * and the least content that makes the rest valid), and
 *
 *  - writes a config whose mapping holds one key no mapping has: the loader
 *    must refuse it with y_check_map()'s "unknown key 'K' in WHAT (expected
 *    one of: A, B, ...)", and that list, which comes from the parser's own
 *    allowed-key array, must be the documented set, neither more nor less;
 *  - writes, for each documented key, a config with that key set to its
 *    documented example: the loader must accept it;
 *  - writes, for each documented refused key, a config holding it: the
 *    loader must refuse it with "key 'K' is not supported in WHAT: HINT",
 *    HINT as documented.
 *
 * The parser's key arrays are read through its own message, not copied here,
 * so a key added to (or removed from) the parser fails this test until the
 * document says so. A section documented but unknown here, or known here but
 * not documented, fails too. What this cannot see: a refused key that the
 * document does not list (the parser's message names only the key given). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "spec.h"
#include "fs.h"
#include "testutil.h"
#include "util.h"

#define DOC TEST_DATA_DIR "/../../docs/configs.md"
#define UNKNOWN "zqxwvu_unknown_key"

typedef enum Tier { BASE, TOOL, APP } Tier;

typedef struct Section {
        const char *name; /* as in "<!-- keys: NAME -->" */
        Tier tier;
        const char *tmpl;       /* the config; "%s" is the section's mapping content */
        const char *minimal[6]; /* "key: value" pairs that make the config valid */
} Section;

/* Every config is one YAML flow mapping, so that an example fits on the
 * line of its key. */
#define BASE_MIN "name: b, description: d, "
#define TOOL_MIN "name: t, version: \"1\", description: d, binaries: [/usr/bin/t], "
#define APP_MIN "name: a, version: \"1\", description: d, artifacts: [{path: /a, source: a}], "

static const Section SECTIONS[] = {
        { "base", BASE, "{%s}", { "name: b", "description: d", "groups: [{name: nonroot, gid: 1000}]" } },
        { "tool", TOOL, "{%s}", { "name: t", "version: \"1\"", "description: d", "binaries: [/usr/bin/t]" } },
        { "app", APP, "{%s}", { "name: a", "version: \"1\"", "description: d", "artifacts: [{path: /a, source: a}]" } },
        { "files", TOOL, "{" TOOL_MIN "files: [{%s}]}", { "path: /x" } },
        { "directories", TOOL, "{" TOOL_MIN "directories: [{%s}]}", { "path: /x" } },
        { "symlinks", TOOL, "{" TOOL_MIN "symlinks: [{%s}]}", { "path: /x", "target: y" } },
        { "users",
          BASE,
          "{" BASE_MIN "groups: [{name: g, gid: 1000}], users: [{%s}]}",
          { "name: u", "uid: 1000", "gid: 1000", "home: /h" } },
        { "groups",
          BASE,
          "{" BASE_MIN "users: [{name: nonroot, uid: 1000, gid: 1000, home: /h}], groups: [{%s}]}",
          { "name: g", "gid: 1000" } },
        { "config", TOOL, "{" TOOL_MIN "config: {%s}}", { NULL } },
        { "test", TOOL, "{" TOOL_MIN "test: {%s}}", { "command: [/bin/t]" } },
        { "test-step", TOOL, "{" TOOL_MIN "test: {steps: [{%s}]}}", { "command: [/bin/t]" } },
        { "data", TOOL, "{" TOOL_MIN "data: {%s}}", { "path: /d", "command: [/bin/true]" } },
        { "artifacts",
          APP,
          "{name: a, version: \"1\", description: d, artifacts: [{%s}]}",
          { "path: /a", "url: https://example.com/a" } },
        /* 'outputs' needs 'inputs' */
        { "build", APP, "{" APP_MIN "build: [{%s}]}", { "command: [true]", "inputs: [x]" } },
        { "tool-artifacts", TOOL, "{" TOOL_MIN "artifacts: [{%s}]}", { "path: /a", "url: https://example.com/a" } },
        { "tool-build", TOOL, "{" TOOL_MIN "build: [{%s}]}", { "command: [make]" } },
        { "healthcheck", APP, "{" APP_MIN "healthcheck: {%s}}", { "test: [/bin/t]" } },
        /* a service's healthcheck has the same keys */
        { "healthcheck",
          APP,
          "{" APP_MIN "compose: {services: {db: {image: db, healthcheck: {%s}}}}}",
          { "test: [/bin/t]" } },
        { "defaults", APP, "{" APP_MIN "defaults: {%s}}", { NULL } },
        { "compose", APP, "{" APP_MIN "compose: {%s}}", { NULL } },
        { "service", APP, "{" APP_MIN "compose: {services: {db: {%s}}}}", { "image: db" } },
};

/* Keys that exclude one of the minimal keys: a test has 'steps' or
 * 'command', an artifact 'source' or 'url'. */
static const char *const EXCLUDES[][3] = {
        { "test", "steps", "command" },
        { "artifacts", "source", "url" },
        { "tool-artifacts", "source", "url" },
};

/* --- the document ------------------------------------------------------- */

typedef struct DocRow {
        char *key;
        char *value; /* the example (keys) or the hint (refused) */
} DocRow;

typedef struct DocTable {
        char *section;
        bool refused;
        DocRow *rows;
        size_t n;
} DocTable;

static DocTable *tables;
static size_t n_tables;

static char *trim(char *s)
{
        while (*s == ' ')
                s++;
        size_t n = strlen(s);
        while (n && s[n - 1] == ' ')
                s[--n] = '\0';
        return s;
}

/* "`x`" -> "x" */
static char *unquote(char *s)
{
        size_t n = strlen(s);
        if (n >= 2 && s[0] == '`' && s[n - 1] == '`') {
                s[n - 1] = '\0';
                return s + 1;
        }
        return s;
}

static void read_doc(void)
{
        _cleanup_free_ char *text = NULL;
        ObError e;
        ck_assert_msg(read_file(DOC, &text, NULL, &e) == 0, "%s", e.msg);
        DocTable *cur = NULL;
        bool in_rows = false;
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
                char name[64];
                if (sscanf(line, "<!-- keys: %63s -->", name) == 1 ||
                    sscanf(line, "<!-- refused: %63s -->", name) == 1) {
                        tables = xrealloc(tables, (n_tables + 1) * sizeof(*tables));
                        cur = &tables[n_tables++];
                        *cur = (DocTable){ .section = xstrdup(name), .refused = strstr(line, "refused") != NULL };
                        in_rows = false;
                        continue;
                }
                if (!cur)
                        continue;
                if (line[0] != '|') {
                        if (in_rows)
                                cur = NULL; /* the table ended */
                        continue;
                }
                in_rows = true;
                /* "| `key` | a | b | c | `example` | ..." */
                char *cells[8] = { NULL };
                size_t nc = 0;
                char *p = line + 1;
                while (nc < ELEMENTSOF(cells) && p) {
                        char *bar = strchr(p, '|');
                        if (bar)
                                *bar = '\0';
                        cells[nc++] = trim(p);
                        p = bar ? bar + 1 : NULL;
                }
                if (nc < 2 || cells[0][0] != '`')
                        continue; /* the header and its rule */
                const char *value = cur->refused ? cells[1] : nc > 4 ? unquote(cells[4]) : "";
                cur->rows = xrealloc(cur->rows, (cur->n + 1) * sizeof(*cur->rows));
                cur->rows[cur->n++] = (DocRow){ .key = xstrdup(unquote(cells[0])), .value = xstrdup(value) };
        }
        ck_assert_msg(n_tables > 0, "%s has no '<!-- keys: SECTION -->' tables", DOC);
}

static const DocTable *doc_table(const char *section, bool refused)
{
        for (size_t i = 0; i < n_tables; i++)
                if (strcmp(tables[i].section, section) == 0 && tables[i].refused == refused)
                        return &tables[i];
        return NULL;
}

/* --- configs -------------------------------------------------------------- */

static char tmp_root[4096];

static void setup(void)
{
        test_tmpdir(tmp_root, sizeof(tmp_root), "configref");
        char path[4200];
        /* for the base config's 'rootfs: ../rootfs' */
        snprintf(path, sizeof(path), "%s/rootfs", tmp_root);
        ck_assert_int_eq(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/configs", tmp_root);
        ck_assert_int_eq(mkdir(path, 0755), 0);
        if (!tables)
                read_doc();
}

static void teardown(void)
{
        test_rm_rf(tmp_root);
}

static bool excluded_by(const Section *s, const char *key, const char *minimal)
{
        size_t kl = strcspn(minimal, ":");
        if (strncmp(minimal, key, kl) == 0 && key[kl] == '\0')
                return true; /* replaced by the key under test */
        for (size_t i = 0; i < ELEMENTSOF(EXCLUDES); i++)
                if (strcmp(EXCLUDES[i][0], s->name) == 0 && strcmp(EXCLUDES[i][1], key) == 0 &&
                    strncmp(minimal, EXCLUDES[i][2], kl) == 0 && EXCLUDES[i][2][kl] == '\0')
                        return true;
        return false;
}

/* Loads the section's config with "key: value" added to its mapping; the
 * message in *e. */
static int load_with(const Section *s, const char *key, const char *value, ObError *e, char **ret_yaml)
{
        _cleanup_free_ char *content = xstrdup("");
        for (size_t i = 0; s->minimal[i]; i++) {
                if (excluded_by(s, key, s->minimal[i]))
                        continue;
                char *c = xasprintf("%s%s, ", content, s->minimal[i]);
                free(content);
                content = c;
        }
        char *c = xasprintf("%s%s: %s", content, key, value);
        free(content);
        content = c;
        const char *at = strstr(s->tmpl, "%s");
        ck_assert(at != NULL);
        _cleanup_free_ char *yaml = xasprintf("%.*s%s%s", (int) (at - s->tmpl), s->tmpl, content, at + 2);
        char file[4200];
        snprintf(file, sizeof(file), "%s/configs/%s.yml", tmp_root, s->name);
        FILE *f = fopen(file, "w");
        ck_assert_msg(f != NULL, "cannot write %s", file);
        fprintf(f, "%s\n", yaml);
        fclose(f);

        Spec *spec = NULL;
        int r;
        switch (s->tier) {
        case BASE:
                r = spec_load_base(file, "0", &spec, e);
                break;
        case TOOL:
                r = spec_load_tool(file, &spec, e);
                break;
        default:
                r = spec_load_app(file, &spec, e);
                break;
        }
        spec_free(spec);
        if (ret_yaml)
                *ret_yaml = TAKE_PTR(yaml);
        return r;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* "a, b, c" -> sorted, comma-joined; and the same for a table's keys */
static char *sorted_list(char **v, size_t n)
{
        qsort(v, n, sizeof(*v), cmp_str);
        char *s = xstrdup("");
        for (size_t i = 0; i < n; i++) {
                char *t = xasprintf("%s%s%s", s, i ? ", " : "", v[i]);
                free(s);
                s = t;
        }
        return s;
}

START_TEST(test_sections_match)
{
        /* every documented section is one this test reaches, and back */
        for (size_t i = 0; i < n_tables; i++) {
                bool known = false;
                for (size_t j = 0; j < ELEMENTSOF(SECTIONS); j++)
                        known |= strcmp(SECTIONS[j].name, tables[i].section) == 0;
                ck_assert_msg(known, "docs/configs.md documents a section '%s' this test does not know",
                              tables[i].section);
                ck_assert_msg(tables[i].n > 0, "section '%s' of docs/configs.md has no rows", tables[i].section);
        }
        for (size_t j = 0; j < ELEMENTSOF(SECTIONS); j++)
                ck_assert_msg(doc_table(SECTIONS[j].name, false), "docs/configs.md has no '<!-- keys: %s -->' table",
                              SECTIONS[j].name);
}
END_TEST

START_TEST(test_allowed_keys)
{
        const Section *s = &SECTIONS[_i];
        const DocTable *t = doc_table(s->name, false);
        ck_assert_msg(t, "no keys table for '%s'", s->name);
        ObError e = { 0 };
        _cleanup_free_ char *yaml = NULL;
        int r = load_with(s, UNKNOWN, "1", &e, &yaml);
        ck_assert_msg(r < 0, "section '%s': an unknown key was accepted in:\n%s", s->name, yaml);
        const char *m = strstr(e.msg, "unknown key '" UNKNOWN "' in ");
        const char *list = strstr(e.msg, "(expected one of: ");
        ck_assert_msg(m && list, "section '%s': not the unknown-key message: %s\nconfig: %s", s->name, e.msg, yaml);
        list += strlen("(expected one of: ");
        _cleanup_free_ char *parser = xstrndup(list, strcspn(list, ")"));
        char **pv = NULL;
        size_t pn = 0;
        for (char *tok = strtok(parser, ", "); tok; tok = strtok(NULL, ", ")) {
                pv = xrealloc(pv, (pn + 1) * sizeof(*pv));
                pv[pn++] = tok;
        }
        char **dv = xcalloc(t->n ? t->n : 1, sizeof(*dv));
        for (size_t i = 0; i < t->n; i++)
                dv[i] = t->rows[i].key;
        _cleanup_free_ char *ps = sorted_list(pv, pn);
        _cleanup_free_ char *ds = sorted_list(dv, t->n);
        free(pv);
        free(dv);
        ck_assert_msg(strcmp(ps, ds) == 0, "section '%s': the parser accepts [%s] but docs/configs.md documents [%s]",
                      s->name, ps, ds);
}
END_TEST

START_TEST(test_examples_accepted)
{
        const Section *s = &SECTIONS[_i];
        const DocTable *t = doc_table(s->name, false);
        ck_assert_msg(t, "no keys table for '%s'", s->name);
        for (size_t i = 0; i < t->n; i++) {
                ck_assert_msg(t->rows[i].value[0], "section '%s': key '%s' has no example", s->name, t->rows[i].key);
                ObError e = { 0 };
                _cleanup_free_ char *yaml = NULL;
                int r = load_with(s, t->rows[i].key, t->rows[i].value, &e, &yaml);
                ck_assert_msg(r == 0, "section '%s': the example of '%s' is refused: %s\nconfig: %s", s->name,
                              t->rows[i].key, e.msg, yaml);
        }
}
END_TEST

START_TEST(test_refused_keys)
{
        const Section *s = &SECTIONS[_i];
        const DocTable *t = doc_table(s->name, true);
        for (size_t i = 0; t && i < t->n; i++) {
                ObError e = { 0 };
                _cleanup_free_ char *yaml = NULL;
                int r = load_with(s, t->rows[i].key, "1", &e, &yaml);
                ck_assert_msg(r < 0, "section '%s': refused key '%s' was accepted", s->name, t->rows[i].key);
                _cleanup_free_ char *want = xasprintf("key '%s' is not supported in ", t->rows[i].key);
                const char *m = strstr(e.msg, want);
                ck_assert_msg(m, "section '%s': '%s' is not refused with a hint: %s", s->name, t->rows[i].key, e.msg);
                const char *hint = strstr(m, ": ");
                ck_assert_msg(hint && strcmp(hint + 2, t->rows[i].value) == 0,
                              "section '%s': the hint for '%s' is\n  %s\nbut docs/configs.md says\n  %s", s->name,
                              t->rows[i].key, hint ? hint + 2 : e.msg, t->rows[i].value);
        }
}
END_TEST

static Suite *configref_suite(void)
{
        Suite *s = suite_create("configref");
        TCase *tc = tcase_create("doc");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_sections_match);
        tcase_add_loop_test(tc, test_allowed_keys, 0, (int) ELEMENTSOF(SECTIONS));
        tcase_add_loop_test(tc, test_examples_accepted, 0, (int) ELEMENTSOF(SECTIONS));
        tcase_add_loop_test(tc, test_refused_keys, 0, (int) ELEMENTSOF(SECTIONS));
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        return test_run(configref_suite());
}
