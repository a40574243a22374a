/* SPDX-License-Identifier: MIT */
/* Compose files, read back by an independent YAML parser (libyaml always,
 * PyYAML too when python3 has it). */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "compose.h"
#include "fs.h"
#include "log.h"
#include "spec.h"
#include "testutil.h"
#include "util.h"

#define APP_DIR TEST_DATA_DIR "/app"

static char *tmp_dir; /* everything the tests write */

/* ---- helpers ---------------------------------------------------------- */

/* A fresh directory for one test. */
static char *test_dir(const char *name)
{
        char *p = xasprintf("%s/%s", tmp_dir, name);
        ck_assert_msg(mkdir(p, 0755) == 0, "mkdir %s: %s", p, strerror(errno));
        return p;
}

/* ---- compose_render, read back -------------------------------------------- */

/* libyaml's document as JSON; every scalar a string. */
static json_t *yaml_node_json(yaml_document_t *doc, yaml_node_t *n)
{
        switch (n->type) {
        case YAML_SCALAR_NODE:
                return json_stringn((const char *) n->data.scalar.value, n->data.scalar.length);
        case YAML_SEQUENCE_NODE: {
                json_t *a = json_array();
                for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++)
                        json_array_append_new(a, yaml_node_json(doc, yaml_document_get_node(doc, *it)));
                return a;
        }
        case YAML_MAPPING_NODE: {
                json_t *o = json_object();
                for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
                        yaml_node_t *k = yaml_document_get_node(doc, p->key);
                        ck_assert_int_eq(k->type, YAML_SCALAR_NODE);
                        const char *key = (const char *) k->data.scalar.value;
                        ck_assert_msg(!json_object_get(o, key), "duplicate key '%s'", key);
                        json_object_set_new(o, key, yaml_node_json(doc, yaml_document_get_node(doc, p->value)));
                }
                return o;
        }
        default:
                ck_abort_msg("empty YAML node");
        }
        return NULL;
}

static json_t *parse_libyaml(const char *text)
{
        yaml_parser_t parser;
        yaml_document_t doc;
        ck_assert(yaml_parser_initialize(&parser));
        yaml_parser_set_input_string(&parser, (const unsigned char *) text, strlen(text));
        int ok = yaml_parser_load(&parser, &doc);
        ck_assert_msg(ok, "libyaml: %s at line %zu", parser.problem ? parser.problem : "?",
                      parser.problem_mark.line + 1);
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        ck_assert_ptr_nonnull(root);
        json_t *j = yaml_node_json(&doc, root);
        yaml_document_delete(&doc);
        /* exactly one document */
        yaml_document_t next;
        ck_assert(yaml_parser_load(&parser, &next));
        ck_assert_ptr_null(yaml_document_get_root_node(&next));
        yaml_document_delete(&next);
        yaml_parser_delete(&parser);
        return j;
}

/* A python3 that has PyYAML, found once: the system's first, then the one
 * on PATH (a version manager's wrapper can take a second to start; the
 * interpreter behind it does not, so that is what is kept). */
static char *pyyaml_python;

static bool try_pyyaml(const char *python)
{
        _cleanup_free_ char *cmd = xasprintf("%s -c 'import sys, yaml; print(sys.executable)' 2>/dev/null", python);
        FILE *f = popen(cmd, "r");
        if (!f)
                return false;
        char line[4096] = "";
        bool got = fgets(line, sizeof(line), f) != NULL;
        if (pclose(f) != 0 || !got)
                return false;
        line[strcspn(line, "\n")] = '\0';
        if (line[0] != '/' || strchr(line, '\''))
                return false;
        pyyaml_python = xstrdup(line);
        return true;
}

static void find_pyyaml(void)
{
        if (access("/usr/bin/python3", X_OK) == 0 && try_pyyaml("/usr/bin/python3"))
                return;
        try_pyyaml("python3");
}

static bool have_pyyaml(void)
{
        return pyyaml_python != NULL;
}

/* PyYAML's reading, through JSON. */
static json_t *parse_pyyaml(const char *text, const char *name)
{
        _cleanup_free_ char *in = xasprintf("%s/%s.yml", tmp_dir, name);
        _cleanup_free_ char *out = xasprintf("%s/%s.json", tmp_dir, name);
        test_put_file(in, text, 0644);
        _cleanup_free_ char *cmd = xasprintf("'%s' -c 'import json, sys, yaml; "
                                             "json.dump(yaml.safe_load(open(sys.argv[1])), open(sys.argv[2], \"w\"))' "
                                             "'%s' '%s'",
                                             pyyaml_python, in, out);
        ck_assert_msg(system(cmd) == 0, "PyYAML could not read the compose file");
        json_error_t jerr;
        json_t *j = json_load_file(out, 0, &jerr);
        ck_assert_msg(j != NULL, "%s", jerr.text);
        unlink(in);
        unlink(out);
        return j;
}

/* A scalar as text, whichever parser typed it. */
static char *scalar_text(json_t *v)
{
        ck_assert_ptr_nonnull(v);
        if (json_is_string(v))
                return xstrdup(json_string_value(v));
        if (json_is_integer(v))
                return xasprintf("%lld", (long long) json_integer_value(v));
        ck_abort_msg("not a scalar");
        return NULL;
}

static json_t *at(json_t *o, const char *path)
{
        /* "services.db.image" */
        _cleanup_free_ char *copy = xstrdup(path);
        char *save = NULL;
        json_t *cur = o;
        for (char *t = strtok_r(copy, ".", &save); t; t = strtok_r(NULL, ".", &save)) {
                ck_assert_msg(json_is_object(cur), "'%s': '%s' is not in a mapping", path, t);
                cur = json_object_get(cur, t);
                ck_assert_msg(cur != NULL, "'%s' is missing", path);
        }
        return cur;
}

static bool has(json_t *o, const char *path)
{
        _cleanup_free_ char *copy = xstrdup(path);
        char *save = NULL;
        json_t *cur = o;
        for (char *t = strtok_r(copy, ".", &save); t; t = strtok_r(NULL, ".", &save)) {
                if (!json_is_object(cur))
                        return false;
                cur = json_object_get(cur, t);
                if (!cur)
                        return false;
        }
        return true;
}

static void expect_str(json_t *o, const char *path, const char *want)
{
        _cleanup_free_ char *got = scalar_text(at(o, path));
        ck_assert_msg(strcmp(got, want) == 0, "'%s' is '%s', expected '%s'", path, got, want);
}

/* A list of scalars, compared with want (NULL-terminated). */
static void expect_list(json_t *o, const char *path, const char *const *want)
{
        json_t *a = at(o, path);
        ck_assert_msg(json_is_array(a), "'%s' is not a list", path);
        size_t n = 0;
        while (want[n])
                n++;
        ck_assert_msg(json_array_size(a) == n, "'%s' has %zu items, expected %zu", path, json_array_size(a), n);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *got = scalar_text(json_array_get(a, i));
                ck_assert_msg(strcmp(got, want[i]) == 0, "'%s'[%zu] is '%s', expected '%s'", path, i, got, want[i]);
        }
}

static void check_compose(json_t *doc, bool host)
{
        ck_assert(json_is_object(doc));
        expect_str(doc, "version", "2.4");
        json_t *svcs = at(doc, "services");
        ck_assert_uint_eq(json_object_size(svcs), 3);

        /* the app */
        expect_str(doc, "services.testapp.image", "distroless-testapp:1.0.0");
        if (host) {
                expect_str(doc, "services.testapp.network_mode", "host");
                expect_str(doc, "services.db.network_mode", "host");
                expect_str(doc, "services.cache.network_mode", "host");
                ck_assert(!has(doc, "services.testapp.ports"));
        } else {
                /* published on loopback only unless told otherwise */
                static const char *const ports[] = { "127.0.0.1:8080:8080", NULL };
                expect_list(doc, "services.testapp.ports", ports);
                ck_assert(!has(doc, "services.testapp.network_mode"));
                ck_assert(!has(doc, "services.db.network_mode"));
                ck_assert(!has(doc, "services.db.ports"));
        }
        /* the image's env, overridden by the compose settings, quotes and
         * colons intact */
        ck_assert_uint_eq(json_object_size(at(doc, "services.testapp.environment")), 3);
        expect_str(doc, "services.testapp.environment.PORT", "8080");
        /* on the host network the service's name does not resolve: the
         * generated file names it by loopback */
        expect_str(doc, "services.testapp.environment.DB",
                   host ? "postgres://u:p@${DB_HOST:-127.0.0.1}:5432/x" : "postgres://u:p@${DB_HOST:-db}:5432/x");
        expect_str(doc, "services.testapp.environment.QUOTED", "he said \"hi\": ok # not a comment");
        static const char *const vols[] = { "testapp-data:/app/data", NULL };
        expect_list(doc, "services.testapp.volumes", vols);
        static const char *const test[] = { "CMD", "/app/bin/testapp", "health", "--quiet", NULL };
        expect_list(doc, "services.testapp.healthcheck.test", test);
        expect_str(doc, "services.testapp.healthcheck.interval", "10s");
        expect_str(doc, "services.testapp.healthcheck.timeout", "1m30s");
        expect_str(doc, "services.testapp.healthcheck.start_period", "500ms");
        expect_str(doc, "services.testapp.healthcheck.retries", "5");
        ck_assert_uint_eq(json_object_size(at(doc, "services.testapp.depends_on")), 2);
        expect_str(doc, "services.testapp.depends_on.db.condition", "service_healthy");
        expect_str(doc, "services.testapp.depends_on.cache.condition", "service_started");
        expect_str(doc, "services.testapp.restart", "unless-stopped");

        /* the services */
        expect_str(doc, "services.db.image", "distroless-postgres:1.0");
        static const char *const cmd[] = { "-p", "5432", NULL };
        expect_list(doc, "services.db.command", cmd);
        expect_str(doc, "services.db.environment.POSTGRES_PASSWORD", "pw");
        static const char *const dbvols[] = { "testapp-db:/var/lib/postgresql/data", NULL };
        expect_list(doc, "services.db.volumes", dbvols);
        static const char *const dbtest[] = { "CMD", "/usr/bin/pg_isready", "-q", NULL };
        expect_list(doc, "services.db.healthcheck.test", dbtest);
        expect_str(doc, "services.db.healthcheck.interval", "2s");
        expect_str(doc, "services.db.healthcheck.timeout", "5s");
        expect_str(doc, "services.db.healthcheck.retries", "3");
        ck_assert(!has(doc, "services.db.healthcheck.start_period"));
        expect_str(doc, "services.cache.image", "docker.io/library/redis:7");
        ck_assert(!has(doc, "services.cache.healthcheck"));
        ck_assert(!has(doc, "services.cache.depends_on"));
        ck_assert(!has(doc, "services.cache.environment"));

        /* named volumes are declared */
        json_t *v = at(doc, "volumes");
        ck_assert_uint_eq(json_object_size(v), 2);
        ck_assert(has(doc, "volumes.testapp-data"));
        ck_assert(has(doc, "volumes.testapp-db"));
}

START_TEST(test_compose)
{
        Spec *s = test_load_app(APP_DIR "/good.yml");
        char *images[] = { (char *) "distroless-postgres:1.0", (char *) "docker.io/library/redis:7" };
        for (int host = 0; host <= 1; host++) {
                ComposeOptions o = { .host_network = host,
                                     .app_tag = "distroless-testapp:1.0.0",
                                     .service_images = images };
                _cleanup_free_ char *text = compose_render(s, &o);
                ck_assert_ptr_nonnull(text);
                /* the comment names what to save: the app and its distroless services */
                ck_assert_msg(strstr(text, "oci-build save testapp postgres -o images.tar") != NULL, "%s", text);

                json_t *doc = parse_libyaml(text);
                check_compose(doc, host);
                json_decref(doc);
                if (have_pyyaml()) {
                        doc = parse_pyyaml(text, host ? "compose-host" : "compose");
                        check_compose(doc, host);
                        json_decref(doc);
                }
        }
        spec_free(s);
        if (!have_pyyaml())
                test_skip("PyYAML (python3-yaml) missing: the compose files were read with libyaml only");
}
END_TEST

START_TEST(test_compose_values)
{
        /* Values YAML would otherwise read as something else. */
        _cleanup_free_ char *dir = test_dir("compose-values");
        _cleanup_free_ char *cfg = xasprintf("%s/app.yml", dir);
        test_put_file(cfg,
                      "name: v\nversion: \"1\"\ndescription: d\nartifacts: [{path: /x, source: x}]\n"
                      "config:\n"
                      "  env:\n"
                      "    TRICKY: \"a \\\"quoted\\\": 'b' \\\\ back\\nnew line\\ttab #c & *d {e: f} [g] \\u00e9\"\n"
                      "    BOOL: \"yes\"\n"
                      "    NUM: \"0755\"\n"
                      "    NUL: \"null\"\n"
                      "    EMPTY: \"\"\n"
                      "    LEAD: \"- dash\"\n",
                      0644);
        Spec *s = test_load_app(cfg);
        ComposeOptions o = { .app_tag = "reg.example:5000/v:1", .service_images = NULL };
        _cleanup_free_ char *text = compose_render(s, &o);
        static const struct {
                const char *key, *value;
        } want[] = {
                { "TRICKY", "a \"quoted\": 'b' \\ back\nnew line\ttab #c & *d {e: f} [g] \xc3\xa9" },
                { "BOOL", "yes" },
                { "NUM", "0755" },
                { "NUL", "null" },
                { "EMPTY", "" },
                { "LEAD", "- dash" },
        };
        json_t *docs[2] = { parse_libyaml(text), have_pyyaml() ? parse_pyyaml(text, "values") : NULL };
        for (size_t k = 0; k < 2 && docs[k]; k++) {
                json_t *env = at(docs[k], "services.v.environment");
                ck_assert_uint_eq(json_object_size(env), ELEMENTSOF(want));
                for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                        json_t *v = json_object_get(env, want[i].key);
                        ck_assert_msg(json_is_string(v), "%s: not a string", want[i].key);
                        ck_assert_msg(strcmp(json_string_value(v), want[i].value) == 0, "%s: '%s'", want[i].key,
                                      json_string_value(v));
                }
                expect_str(docs[k], "services.v.image", "reg.example:5000/v:1");
                /* nothing the app does not have */
                ck_assert(!has(docs[k], "volumes"));
                ck_assert(!has(docs[k], "services.v.ports"));
                ck_assert(!has(docs[k], "services.v.healthcheck"));
                ck_assert(!has(docs[k], "services.v.depends_on"));
                ck_assert_uint_eq(json_object_size(at(docs[k], "services")), 1);
                json_decref(docs[k]);
        }
        spec_free(s);
        if (!have_pyyaml())
                test_skip("PyYAML (python3-yaml) missing: the compose file was read with libyaml only");
}
END_TEST

/* The keys of the mapping at path, compared with want (NULL-terminated, any order). */
static void expect_keys(json_t *o, const char *path, const char *const *want)
{
        json_t *m = at(o, path);
        ck_assert_msg(json_is_object(m), "'%s' is not a mapping", path);
        size_t n = 0;
        for (; want[n]; n++)
                ck_assert_msg(json_object_get(m, want[n]), "'%s' has no '%s'", path, want[n]);
        if (json_object_size(m) != n) {
                const char *k;
                json_t *v;
                json_object_foreach(m, k, v) {
                        bool known = false;
                        for (size_t i = 0; want[i]; i++)
                                known |= strcmp(k, want[i]) == 0;
                        ck_assert_msg(known, "'%s' has an unexpected key '%s'", path, k);
                }
        }
}

/* What a hostile config could try: keys, values and volumes that would end
 * their line and start new keys of the service. */
static const char *const hostile_key = "EVIL\n    privileged: true\n    X";
static const char *const hostile_value = "v\n    privileged: true";
static const char *const colon_value = "a: b\n    cap_add: [ALL]";
static const char *const hostile_volume = "x:/data\n    privileged: true";
static const char *const hostile_named = "v: {}\n  x";

static Spec *hostile_spec(void)
{
        Spec *s = test_load_app(APP_DIR "/good.yml");
        _cleanup_free_ char *k = xasprintf("%s=1", hostile_key);
        _cleanup_free_ char *v = xasprintf("VALUE=%s", hostile_value);
        _cleanup_free_ char *c = xasprintf("COLON=%s", colon_value);
        strv_push(&s->compose_env, k);
        strv_push(&s->compose_env, v);
        strv_push(&s->compose_env, c);
        strv_push(&s->services[0].volumes, hostile_volume);
        strv_push(&s->services[0].volumes, "/:/host");
        strv_push(&s->compose_volumes, hostile_named);
        return s;
}

START_TEST(test_compose_hostile)
{
        /* The emitter alone keeps every scalar a scalar, checked or not. */
        Spec *s = hostile_spec();
        char *images[] = { (char *) "distroless-postgres:1.0", (char *) "docker.io/library/redis:7" };
        for (int host = 0; host <= 1; host++) {
                ComposeOptions o = { .host_network = host,
                                     .app_tag = "distroless-testapp:1.0.0",
                                     .service_images = images };
                _cleanup_free_ char *text = compose_render(s, &o);
                json_t *doc = parse_libyaml(text);
                static const char *const app_keys_host[] = { "image",       "network_mode", "environment", "volumes",
                                                             "healthcheck", "depends_on",   "restart",     NULL };
                static const char *const app_keys_ports[] = { "image",       "ports",      "environment", "volumes",
                                                              "healthcheck", "depends_on", "restart",     NULL };
                expect_keys(doc, "services.testapp", host ? app_keys_host : app_keys_ports);
                static const char *const db_keys[] = { "image",       "command", "environment", "volumes",
                                                       "healthcheck", "restart", NULL };
                static const char *const db_keys_host[] = { "image",   "network_mode", "command", "environment",
                                                            "volumes", "healthcheck",  "restart", NULL };
                expect_keys(doc, "services.db", host ? db_keys_host : db_keys);
                static const char *const svcs[] = { "testapp", "db", "cache", NULL };
                expect_keys(doc, "services", svcs);
                static const char *const top[] = { "version", "services", "volumes", NULL };
                expect_keys(doc, "", top);

                /* the hostile strings are there, as the strings they are */
                json_t *env = at(doc, "services.testapp.environment");
                ck_assert_uint_eq(json_object_size(env), 6);
                ck_assert_str_eq(json_string_value(json_object_get(env, hostile_key)), "1");
                ck_assert_str_eq(json_string_value(json_object_get(env, "VALUE")), hostile_value);
                ck_assert_str_eq(json_string_value(json_object_get(env, "COLON")), colon_value);
                static const char *const dbvols[] = { "testapp-db:/var/lib/postgresql/data", hostile_volume, "/:/host",
                                                      NULL };
                expect_list(doc, "services.db.volumes", dbvols);
                json_t *vols = at(doc, "volumes");
                ck_assert_uint_eq(json_object_size(vols), 3);
                ck_assert(json_is_object(json_object_get(vols, hostile_named)));
                ck_assert_uint_eq(json_object_size(json_object_get(vols, hostile_named)), 0);
                json_decref(doc);
        }
        spec_free(s);
}
END_TEST

/* compose_check() on good.yml with one hostile change. */
static void expect_refused(void (*change)(Spec *), const char *what)
{
        Spec *s = test_load_app(APP_DIR "/good.yml");
        change(s);
        ObError err = { 0 };
        ck_assert_int_eq(compose_check(s, &err), -EINVAL);
        ck_assert_msg(str_startswith(err.msg, s->file), "'%s' does not name the config file", err.msg);
        ck_assert_msg(strstr(err.msg, what), "'%s' does not say '%s'", err.msg, what);
        ck_assert_msg(!strchr(err.msg, '\n'), "'%s' is more than one line", err.msg);
        spec_free(s);
}

static void key_newline(Spec *s)
{
        strv_push(&s->compose_env, "EVIL\n    privileged: true\n    X=1");
}
static void key_space(Spec *s)
{
        strv_push(&s->compose_env, "A B=1");
}
static void key_digit(Spec *s)
{
        strv_push(&s->services[0].environment, "1A=1");
}
static void value_escape(Spec *s)
{
        strv_push(&s->compose_env, "V=a\033[2Jb");
}
static void volume_newline(Spec *s)
{
        strv_push(&s->services[0].volumes, "x:/data\n    privileged: true");
}
static void volume_host(Spec *s)
{
        strv_push(&s->services[0].volumes, "/:/host");
}
static void volume_relative(Spec *s)
{
        strv_push(&s->services[0].volumes, "x:data");
}
static void volume_mode(Spec *s)
{
        strv_push(&s->services[0].volumes, "x:/data:z");
}
static void named_volume(Spec *s)
{
        strv_push(&s->compose_volumes, "v: {}\n  x");
}
static void command_control(Spec *s)
{
        strv_push(&s->services[0].command, "a\rb");
}

START_TEST(test_compose_check)
{
        Spec *s = test_load_app(APP_DIR "/good.yml");
        ObError err = { 0 };
        ck_assert_msg(compose_check(s, &err) == 0, "%s", err.msg);
        spec_free(s);

        expect_refused(key_newline, "environment key 'EVIL\\n    privileged: true\\n    X' is not a variable name");
        expect_refused(key_space, "environment key 'A B'");
        expect_refused(key_digit, "compose service 'db': environment key '1A'");
        expect_refused(value_escape, "environment 'V' has a control character");
        expect_refused(volume_newline,
                       "compose service 'db': volume 'x:/data\\n    privileged: true' is not NAME:/absolute/path");
        expect_refused(volume_host, "volume '/:/host' is not NAME:/absolute/path");
        expect_refused(volume_relative, "volume 'x:data'");
        expect_refused(volume_mode, "volume 'x:/data:z'");
        expect_refused(named_volume, "compose: volume 'v: {}\\n  x' is not a volume name");
        expect_refused(command_control, "command argument 'a\\x0db' has a control character");
}
END_TEST

START_TEST(test_rewrite_host)
{
        char *const services[] = { (char *) "db", (char *) "cache", NULL };
        static const struct {
                const char *in, *out;
        } cases[] = {
                { "db", "127.0.0.1" },
                { "cache", "127.0.0.1" },
                { "db:5432", "127.0.0.1:5432" },
                { "db:${PORT:-5432}", "127.0.0.1:${PORT:-5432}" },
                { "postgres://postgres:postgres@db:5432/postgres",
                  "postgres://postgres:postgres@127.0.0.1:5432/postgres" },
                { "postgres://db/x", "postgres://127.0.0.1/x" },
                { "redis://cache", "redis://127.0.0.1" },
                { "http://u@cache:6379?x=1", "http://u@127.0.0.1:6379?x=1" },
                { "${DB_HOST:-db}", "${DB_HOST:-127.0.0.1}" },
                { "${DB_HOST-db}", "${DB_HOST-127.0.0.1}" },
                { "postgres://u:p@${DB_HOST:-db}:${P:-5432}/x", "postgres://u:p@${DB_HOST:-127.0.0.1}:${P:-5432}/x" },
                /* not a host that names a service */
                { "database", NULL },
                { "dbx:5432", NULL },
                { "db is down", NULL },
                { "db:x", NULL },
                { "postgres://db:db@other:5432/db", NULL },
                { "${DB_HOST}", NULL },
                { "${DB_HOST:-other}", NULL },
                { "/db", NULL },
                { "", NULL },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *got = compose_rewrite_host(cases[i].in, services, "127.0.0.1");
                if (!cases[i].out)
                        ck_assert_msg(!got, "'%s' became '%s'", cases[i].in, got);
                else
                        ck_assert_msg(got && strcmp(got, cases[i].out) == 0, "'%s' became '%s', expected '%s'",
                                      cases[i].in, got ? got : "(unchanged)", cases[i].out);
        }
}
END_TEST

/* On the host network a service's command is rewritten as the environment
 * is: postgres' wildcard listen_addresses becomes the listen address, a
 * service's name loopback; on a bridge network the command is as written. */
START_TEST(test_compose_host_command)
{
        _cleanup_free_ char *dir = test_dir("compose-host-command");
        _cleanup_free_ char *cfg = xasprintf("%s/app.yml", dir);
        test_put_file(cfg,
                      "name: h\nversion: \"1\"\ndescription: d\nartifacts: [{path: /x, source: x}]\n"
                      "compose:\n  services:\n    db:\n      image: postgres\n"
                      "      command: [-c, \"listen_addresses=${POSTGRES_LISTEN:-*}\", -h, \"*\", --peer=db:5432, "
                      "-c, \"name=*x\", \"0.0.0.0\"]\n",
                      0644);
        Spec *s = test_load_app(cfg);
        char *images[] = { (char *) "distroless-postgres:1", NULL };
        static const char *const bridge[] = {
                "-c", "listen_addresses=${POSTGRES_LISTEN:-*}", "-h", "*", "--peer=db:5432", "-c", "name=*x", "0.0.0.0",
                NULL
        };
        static const char *const host[] = { "-c",
                                            "listen_addresses=${POSTGRES_LISTEN:-127.0.0.1}",
                                            "-h",
                                            "127.0.0.1",
                                            "--peer=127.0.0.1:5432",
                                            "-c",
                                            "name=*x",
                                            "127.0.0.1",
                                            NULL };
        for (int h = 0; h < 2; h++) {
                ComposeOptions o = { .host_network = h, .app_tag = "h:1", .service_images = images };
                _cleanup_free_ char *text = compose_render(s, &o);
                json_t *doc = parse_libyaml(text);
                expect_list(doc, "services.db.command", h ? host : bridge);
                json_decref(doc);
        }
        spec_free(s);
}
END_TEST

START_TEST(test_compose_listen)
{
        /* Ports on loopback by default; elsewhere only when asked. On the
         * host network a wildcard bind becomes the listen address. */
        _cleanup_free_ char *dir = test_dir("compose-listen");
        _cleanup_free_ char *cfg = xasprintf("%s/app.yml", dir);
        test_put_file(cfg,
                      "name: l\nversion: \"1\"\ndescription: d\nartifacts: [{path: /x, source: x}]\n"
                      "config:\n  ports: [\"8080/tcp\", \"9090\"]\n  env:\n    HOST: \"0.0.0.0\"\n"
                      "compose:\n  environment:\n    BIND: ${BIND:-0.0.0.0}\n",
                      0644);
        Spec *s = test_load_app(cfg);
        static const struct {
                const char *listen;
                bool host;
                const char *port0, *host_env, *bind;
        } cases[] = {
                { NULL, false, "127.0.0.1:8080:8080", "0.0.0.0", "${BIND:-0.0.0.0}" },
                { "0.0.0.0", false, "0.0.0.0:8080:8080", "0.0.0.0", "${BIND:-0.0.0.0}" },
                { "192.0.2.1", false, "192.0.2.1:8080:8080", "0.0.0.0", "${BIND:-0.0.0.0}" },
                { NULL, true, NULL, "127.0.0.1", "${BIND:-127.0.0.1}" },
                { "0.0.0.0", true, NULL, "0.0.0.0", "${BIND:-0.0.0.0}" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                ComposeOptions o = { .host_network = cases[i].host, .listen = cases[i].listen, .app_tag = "l:1" };
                _cleanup_free_ char *text = compose_render(s, &o);
                json_t *doc = parse_libyaml(text);
                if (cases[i].port0) {
                        json_t *ports = at(doc, "services.l.ports");
                        ck_assert_uint_eq(json_array_size(ports), 2);
                        ck_assert_str_eq(json_string_value(json_array_get(ports, 0)), cases[i].port0);
                } else
                        ck_assert(!has(doc, "services.l.ports"));
                expect_str(doc, "services.l.environment.HOST", cases[i].host_env);
                expect_str(doc, "services.l.environment.BIND", cases[i].bind);
                json_decref(doc);
        }
        ck_assert(compose_valid_listen("127.0.0.1"));
        ck_assert(!compose_valid_listen("localhost"));
        ck_assert(!compose_valid_listen("127.0.0.1:80"));
        spec_free(s);
}
END_TEST

static Suite *compose_suite(void)
{
        Suite *s = suite_create("compose");
        TCase *tc = tcase_create("compose");
        tcase_add_test(tc, test_compose);
        tcase_add_test(tc, test_compose_values);
        tcase_add_test(tc, test_compose_hostile);
        tcase_add_test(tc, test_compose_check);
        tcase_add_test(tc, test_rewrite_host);
        tcase_add_test(tc, test_compose_listen);
        tcase_add_test(tc, test_compose_host_command);
        tcase_set_timeout(tc, 60);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        const char *tmp = getenv("TMPDIR");
        tmp_dir = xasprintf("%s/test-compose-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(tmp_dir)) {
                perror("mkdtemp");
                return EXIT_FAILURE;
        }
        ob_verbosity = -1;
        find_pyyaml();

        int status = test_run(compose_suite());

        test_rm_rf(tmp_dir);
        free(tmp_dir);
        free(pyyaml_python);
        return status;
}
