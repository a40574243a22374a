/* SPDX-License-Identifier: MIT */
#include "compose.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "config.h"
#include "util.h"

/* ---- what a compose file may say ----------------------------------------- */

#define VAR_FIRST "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_"
#define VAR_CHARS VAR_FIRST "0123456789"
#define NAME_CHARS VAR_CHARS ".-"

static bool has_control(const char *s, bool allow_tab_newline)
{
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if ((*p < 0x20 && !(allow_tab_newline && (*p == '\t' || *p == '\n'))) || *p == 0x7f)
                        return true;
        return false;
}

static bool is_var_name(const char *s, size_t n)
{
        return n > 0 && strchr(VAR_FIRST, s[0]) && strspn(s, VAR_CHARS) >= n;
}

/* A named volume: what docker accepts, [a-zA-Z0-9][a-zA-Z0-9_.-]*. */
static bool is_volume_name(const char *s, size_t n)
{
        return n > 0 && s[0] != '_' && s[0] != '.' && s[0] != '-' && strspn(s, NAME_CHARS) >= n;
}

/* NAME:/absolute/path, optionally :ro or :rw. */
static bool is_volume_spec(const char *s)
{
        const char *colon = strchr(s, ':');
        if (!colon || !is_volume_name(s, (size_t) (colon - s)) || colon[1] != '/' || has_control(s, false))
                return false;
        const char *mode = strchr(colon + 1, ':');
        return !mode || strcmp(mode, ":ro") == 0 || strcmp(mode, ":rw") == 0;
}

/* s for a message: control characters escaped, long ones cut. */
static char *shown(const char *s)
{
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        if (!f)
                abort();
        size_t i = 0;
        for (; s[i] && i < 80; i++) {
                unsigned char c = (unsigned char) s[i];
                if (c == '\n')
                        fputs("\\n", f);
                else if (c < 0x20 || c == 0x7f)
                        fprintf(f, "\\x%02x", c);
                else
                        fputc(c, f);
        }
        if (s[i])
                fputs("...", f);
        fclose(f);
        return buf;
}

static int check_env(const Spec *app, const char *where, char *const *env, ObError *err)
{
        for (size_t i = 0; env && env[i]; i++) {
                size_t klen = strcspn(env[i], "=");
                if (!is_var_name(env[i], klen)) {
                        _cleanup_free_ char *k = xstrndup(env[i], klen);
                        _cleanup_free_ char *s = shown(k);
                        return ob_error_plain(err, EINVAL,
                                              "%s: %s: environment key '%s' is not a variable name "
                                              "([A-Za-z_][A-Za-z0-9_]*)",
                                              app->file, where, s);
                }
                if (env[i][klen] && has_control(env[i] + klen + 1, true)) {
                        _cleanup_free_ char *s = shown(env[i] + klen + 1);
                        return ob_error_plain(err, EINVAL, "%s: %s: environment '%.*s' has a control character: '%s'",
                                              app->file, where, (int) klen, env[i], s);
                }
        }
        return 0;
}

static int check_args(const Spec *app, const char *where, const char *what, char *const *argv, ObError *err)
{
        for (size_t i = 0; argv && argv[i]; i++)
                if (has_control(argv[i], true)) {
                        _cleanup_free_ char *s = shown(argv[i]);
                        return ob_error_plain(err, EINVAL, "%s: %s: %s argument '%s' has a control character",
                                              app->file, where, what, s);
                }
        return 0;
}

int compose_check(const Spec *app, ObError *err)
{
        int r;

        if ((r = check_env(app, "config", app->config.env, err)) < 0 ||
            (r = check_env(app, "compose", app->compose_env, err)) < 0)
                return r;
        if (app->has_health && (r = check_args(app, "health", "test", app->health.test, err)) < 0)
                return r;
        if (app->data_dir && (strchr(app->data_dir, ':') || has_control(app->data_dir, false)))
                return ob_error_plain(err, EINVAL, "%s: data directory '%s' cannot be a compose volume", app->file,
                                      app->data_dir);
        for (size_t i = 0; app->compose_volumes && app->compose_volumes[i]; i++)
                if (!is_volume_name(app->compose_volumes[i], strlen(app->compose_volumes[i]))) {
                        _cleanup_free_ char *s = shown(app->compose_volumes[i]);
                        return ob_error_plain(err, EINVAL,
                                              "%s: compose: volume '%s' is not a volume name "
                                              "([A-Za-z0-9][A-Za-z0-9_.-]*)",
                                              app->file, s);
                }
        for (size_t i = 0; i < app->n_services; i++) {
                const SpecService *svc = &app->services[i];
                _cleanup_free_ char *where = xasprintf("compose service '%s'", svc->name);
                if (has_control(svc->image, false) || strpbrk(svc->image, " \t")) {
                        _cleanup_free_ char *s = shown(svc->image);
                        return ob_error_plain(err, EINVAL, "%s: %s: image '%s' is not an image name", app->file, where,
                                              s);
                }
                if ((r = check_env(app, where, svc->environment, err)) < 0 ||
                    (r = check_args(app, where, "command", svc->command, err)) < 0)
                        return r;
                if (svc->has_health && (r = check_args(app, where, "healthcheck test", svc->health.test, err)) < 0)
                        return r;
                for (size_t k = 0; svc->volumes && svc->volumes[k]; k++)
                        if (!is_volume_spec(svc->volumes[k])) {
                                _cleanup_free_ char *s = shown(svc->volumes[k]);
                                return ob_error_plain(err, EINVAL,
                                                      "%s: %s: volume '%s' is not NAME:/absolute/path[:ro|:rw]",
                                                      app->file, where, s);
                        }
        }
        return 0;
}

bool compose_valid_listen(const char *s)
{
        struct in_addr a;
        return inet_pton(AF_INET, s, &a) == 1;
}

/* ---- service names on the host network ------------------------------------ */

/* The length of the host at s: a compose variable, or up to a port, path,
 * query, fragment or the end. */
static size_t host_length(const char *s)
{
        if (str_startswith(s, "${")) {
                const char *close = strchr(s, '}');
                return close ? (size_t) (close - s) + 1 : strlen(s);
        }
        return strcspn(s, ":/?#@");
}

/* Whether the n bytes at t name one of names, as they are or as the default
 * of a compose variable (${VAR:-NAME}, ${VAR-NAME}); *ret_off and *ret_len
 * say which bytes are the name. */
static bool names_one_of(const char *t, size_t n, char *const *names, size_t *ret_off, size_t *ret_len)
{
        size_t off = 0, len = n;
        if (n >= 3 && str_startswith(t, "${") && t[n - 1] == '}') {
                size_t var = strspn(t + 2, VAR_CHARS);
                const char *rest = t + 2 + var;
                size_t dash = str_startswith(rest, ":-") ? 2 : rest[0] == '-' ? 1 : 0;
                if (var == 0 || dash == 0 || 2 + var + dash > n - 1)
                        return false;
                off = 2 + var + dash;
                len = n - 1 - off;
        }
        for (size_t i = 0; names && names[i]; i++)
                if (strlen(names[i]) == len && strncmp(t + off, names[i], len) == 0) {
                        *ret_off = off;
                        *ret_len = len;
                        return true;
                }
        return false;
}

char *compose_rewrite_host(const char *value, char *const *services, const char *to)
{
        const char *scheme = strstr(value, "://");
        const char *host = value;
        if (scheme) {
                /* The host follows the user information, if any. */
                const char *auth = scheme + 3;
                size_t n = strcspn(auth, "/?#");
                host = auth;
                for (size_t i = 0; i < n; i++)
                        if (auth[i] == '@')
                                host = auth + i + 1;
        }
        size_t n = host_length(host);
        if (!scheme) {
                /* The whole value, or HOST:PORT: anything else is not an address. */
                const char *rest = host + n;
                if (*rest && !(*rest == ':' && rest[1] &&
                               (strspn(rest + 1, "0123456789") == strlen(rest + 1) || str_startswith(rest + 1, "${"))))
                        return NULL;
        }
        size_t off, len;
        if (!names_one_of(host, n, services, &off, &len))
                return NULL;
        size_t at = (size_t) (host - value) + off;
        return xasprintf("%.*s%s%s", (int) at, value, to, value + at + len);
}

/* A value that is a wildcard address (or defaults to one), which on the host
 * network would put the app on every interface: listen instead. "*" is
 * postgres' (listen_addresses). */
static char *rewrite_wildcard(const char *value, const char *listen)
{
        char *const wildcards[] = { (char *) "0.0.0.0", (char *) "::", (char *) "[::]", (char *) "*", NULL };
        size_t off, len;
        if (!names_one_of(value, strlen(value), wildcards, &off, &len))
                return NULL;
        return xasprintf("%.*s%s%s", (int) off, value, listen, value + off + len);
}

/* ---- the YAML emitter ------------------------------------------------------ */

typedef struct Emitter {
        yaml_emitter_t e;
} Emitter;

static int write_handler(void *data, unsigned char *buffer, size_t size)
{
        return fwrite(buffer, 1, size, data) == size;
}

/* Every event we make is well formed and the output is memory: a failure is
 * a bug or no memory, neither of which the caller could handle. */
static void emit(Emitter *em, yaml_event_t *ev, int ok)
{
        if (!ok || !yaml_emitter_emit(&em->e, ev)) {
                fprintf(stderr, "oci-build: libyaml emitter: %s\n", em->e.problem ? em->e.problem : "out of memory");
                abort();
        }
}

static void scalar(Emitter *em, const char *s, yaml_scalar_style_t style)
{
        yaml_event_t ev;
        bool plain = style == YAML_PLAIN_SCALAR_STYLE;
        emit(em, &ev,
             yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *) s, (int) strlen(s),
                                          /* plain_implicit= */ plain, /* quoted_implicit= */ !plain, style));
}

/* Our own words: keys, numbers, conditions. */
static void word(Emitter *em, const char *s)
{
        scalar(em, s, YAML_PLAIN_SCALAR_STYLE);
}

/* What a config said: always a string, whatever it looks like. */
static void str(Emitter *em, const char *s)
{
        scalar(em, s, YAML_DOUBLE_QUOTED_SCALAR_STYLE);
}

/* A key a config named (a variable, service or volume): plain when it
 * reads as the same string to every YAML reader, else quoted. */
static void name(Emitter *em, const char *s)
{
        static const char *const special[] = { "y", "yes", "n", "no", "true", "false", "on", "off", "null", NULL };
        bool plain = *s && strchr(VAR_FIRST, s[0]) && strspn(s, NAME_CHARS) == strlen(s);
        for (size_t i = 0; plain && special[i]; i++)
                plain = strcasecmp(s, special[i]) != 0;
        scalar(em, s, plain ? YAML_PLAIN_SCALAR_STYLE : YAML_DOUBLE_QUOTED_SCALAR_STYLE);
}

static void map_start(Emitter *em, bool flow)
{
        yaml_event_t ev;
        emit(em, &ev,
             yaml_mapping_start_event_initialize(&ev, NULL, NULL, /* implicit= */ 1,
                                                 flow ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE));
}

static void map_end(Emitter *em)
{
        yaml_event_t ev;
        emit(em, &ev, yaml_mapping_end_event_initialize(&ev));
}

static void seq_start(Emitter *em, bool flow)
{
        yaml_event_t ev;
        emit(em, &ev,
             yaml_sequence_start_event_initialize(&ev, NULL, NULL, /* implicit= */ 1,
                                                  flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE));
}

static void seq_end(Emitter *em)
{
        yaml_event_t ev;
        emit(em, &ev, yaml_sequence_end_event_initialize(&ev));
}

static void kv(Emitter *em, const char *key, const char *value)
{
        word(em, key);
        str(em, value);
}

static void list(Emitter *em, const char *key, const char *first, char *const *v, bool flow)
{
        word(em, key);
        seq_start(em, flow);
        if (first)
                str(em, first);
        for (size_t i = 0; v && v[i]; i++)
                str(em, v[i]);
        seq_end(em);
}

static void environment(Emitter *em, char *const *env)
{
        if (!env || !env[0])
                return;
        word(em, "environment");
        map_start(em, false);
        for (size_t i = 0; env[i]; i++) {
                size_t klen = strcspn(env[i], "=");
                _cleanup_free_ char *k = xstrndup(env[i], klen);
                name(em, k);
                str(em, env[i][klen] ? env[i] + klen + 1 : "");
        }
        map_end(em);
}

static void healthcheck(Emitter *em, const SpecHealth *h)
{
        char retries[32];
        word(em, "healthcheck");
        map_start(em, false);
        list(em, "test", "CMD", h->test, /* flow= */ true);
        kv(em, "interval", h->interval ? h->interval : "5s");
        kv(em, "timeout", h->timeout ? h->timeout : "5s");
        if (h->start_period)
                kv(em, "start_period", h->start_period);
        snprintf(retries, sizeof(retries), "%llu", (unsigned long long) h->retries);
        word(em, "retries");
        word(em, retries);
        map_end(em);
}

/* ---- the compose file ------------------------------------------------------ */

/* The environment with the host network's rewrites: services by loopback,
 * wildcard binds by the listen address. */
static char **host_network_env(char *const *env, char *const *services, const char *listen)
{
        char **out = NULL;
        for (size_t i = 0; env && env[i]; i++) {
                size_t klen = strcspn(env[i], "=");
                const char *value = env[i][klen] ? env[i] + klen + 1 : "";
                _cleanup_free_ char *h = compose_rewrite_host(value, services, "127.0.0.1");
                _cleanup_free_ char *w = rewrite_wildcard(h ? h : value, listen);
                const char *v = w ? w : h ? h : value;
                _cleanup_free_ char *line = xasprintf("%.*s=%s", (int) klen, env[i], v);
                strv_push(&out, line);
        }
        return out;
}

/* A service's command on the host network: an argument, or the value of a
 * NAME=VALUE one ("listen_addresses=${POSTGRES_LISTEN:-*}"), rewritten as
 * the environment is, so that the stack stays on loopback as written. */
static char **host_network_args(char *const *args, char *const *services, const char *listen)
{
        char **out = NULL;
        for (size_t i = 0; args && args[i]; i++) {
                const char *eq = strchr(args[i], '=');
                size_t klen = eq ? (size_t) (eq - args[i]) + 1 : 0;
                const char *value = args[i] + klen;
                _cleanup_free_ char *h = compose_rewrite_host(value, services, "127.0.0.1");
                _cleanup_free_ char *w = rewrite_wildcard(h ? h : value, listen);
                _cleanup_free_ char *arg = xasprintf("%.*s%s", (int) klen, args[i], w ? w : h ? h : value);
                strv_push(&out, arg);
        }
        return out;
}

/* The app's environment: the image's, overridden by the compose-only
 * settings (which may use ${VAR:-default}, expanded by compose). */
static char **app_env(const Spec *app)
{
        char **env = NULL;
        for (size_t i = 0; app->config.env && app->config.env[i]; i++) {
                size_t klen = strcspn(app->config.env[i], "=");
                bool overridden = false;
                for (size_t k = 0; app->compose_env && app->compose_env[k]; k++)
                        overridden |= strncmp(app->compose_env[k], app->config.env[i], klen + 1) == 0;
                if (!overridden)
                        strv_push(&env, app->config.env[i]);
        }
        for (size_t k = 0; app->compose_env && app->compose_env[k]; k++)
                strv_push(&env, app->compose_env[k]);
        return env;
}

/* A comment line holds only what cannot end it. */
static void comment_word(FILE *f, const char *s)
{
        fputc(' ', f);
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, f);
}

static void header(FILE *f, const Spec *app, const ComposeOptions *o)
{
        fprintf(f, "# Generated by oci-build %s from", OB_VERSION);
        comment_word(f, app->name);
        fprintf(f, ": the");
        comment_word(f, app->name);
        fprintf(f, " stack.\n# Load the images first: oci-build save");
        comment_word(f, app->name);
        for (size_t i = 0; i < app->n_services; i++)
                if (!strchr(o->service_images[i], '/') && str_startswith(o->service_images[i], "distroless-"))
                        comment_word(f, app->services[i].image);
        fprintf(f, " -o images.tar && docker load -i images.tar\n");
}

static void app_service(Emitter *em, const Spec *app, const ComposeOptions *o, char *const *services,
                        const char *listen)
{
        name(em, app->name);
        map_start(em, false);
        kv(em, "image", o->app_tag);
        if (o->host_network) {
                word(em, "network_mode");
                word(em, "host");
        } else if (app->config.ports && app->config.ports[0]) {
                word(em, "ports");
                seq_start(em, false);
                for (size_t i = 0; app->config.ports[i]; i++) {
                        int n = (int) strcspn(app->config.ports[i], "/");
                        _cleanup_free_ char *map =
                                xasprintf("%s:%.*s:%.*s", listen, n, app->config.ports[i], n, app->config.ports[i]);
                        str(em, map);
                }
                seq_end(em);
        }
        _cleanup_strv_ char **env = app_env(app);
        _cleanup_strv_ char **host_env = o->host_network ? host_network_env(env, services, listen) : NULL;
        environment(em, host_env ? host_env : env);
        if (app->data_dir) {
                _cleanup_free_ char *vol = xasprintf("%s-data:%s", app->name, app->data_dir);
                word(em, "volumes");
                seq_start(em, false);
                str(em, vol);
                seq_end(em);
        }
        if (app->has_health)
                healthcheck(em, &app->health);
        if (app->n_services > 0) {
                word(em, "depends_on");
                map_start(em, false);
                for (size_t i = 0; i < app->n_services; i++) {
                        name(em, app->services[i].name);
                        map_start(em, false);
                        word(em, "condition");
                        word(em, app->services[i].has_health ? "service_healthy" : "service_started");
                        map_end(em);
                }
                map_end(em);
        }
        word(em, "restart");
        word(em, "unless-stopped");
        map_end(em);
}

static void other_service(Emitter *em, const SpecService *s, const char *image, const ComposeOptions *o,
                          char *const *services, const char *listen)
{
        name(em, s->name);
        map_start(em, false);
        kv(em, "image", image);
        if (o->host_network) {
                word(em, "network_mode");
                word(em, "host");
        }
        _cleanup_strv_ char **host_cmd = o->host_network ? host_network_args(s->command, services, listen) : NULL;
        if (s->command)
                list(em, "command", NULL, host_cmd ? host_cmd : s->command, /* flow= */ true);
        _cleanup_strv_ char **host_env = o->host_network ? host_network_env(s->environment, services, listen) : NULL;
        environment(em, host_env ? host_env : s->environment);
        if (s->volumes && s->volumes[0])
                list(em, "volumes", NULL, s->volumes, /* flow= */ false);
        if (s->has_health)
                healthcheck(em, &s->health);
        word(em, "restart");
        word(em, "unless-stopped");
        map_end(em);
}

char *compose_render(const Spec *app, const ComposeOptions *o)
{
        const char *listen = o->listen ? o->listen : COMPOSE_DEFAULT_LISTEN;
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        if (!f)
                abort();
        header(f, app, o);

        _cleanup_strv_ char **services = NULL;
        for (size_t i = 0; i < app->n_services; i++)
                strv_push(&services, app->services[i].name);

        Emitter em;
        if (!yaml_emitter_initialize(&em.e))
                abort();
        yaml_emitter_set_output(&em.e, write_handler, f);
        yaml_emitter_set_unicode(&em.e, 1);
        /* Long values stay on one line, as written. */
        yaml_emitter_set_width(&em.e, -1);
        yaml_event_t ev;
        emit(&em, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING));
        emit(&em, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, /* implicit= */ 1));
        map_start(&em, false);
        kv(&em, "version", "2.4");
        word(&em, "services");
        map_start(&em, false);
        app_service(&em, app, o, services, listen);
        for (size_t i = 0; i < app->n_services; i++)
                other_service(&em, &app->services[i], o->service_images[i], o, services, listen);
        map_end(&em);

        if (app->data_dir || (app->compose_volumes && app->compose_volumes[0])) {
                word(&em, "volumes");
                map_start(&em, false);
                if (app->data_dir) {
                        _cleanup_free_ char *v = xasprintf("%s-data", app->name);
                        name(&em, v);
                        map_start(&em, /* flow= */ true);
                        map_end(&em);
                }
                for (size_t i = 0; app->compose_volumes && app->compose_volumes[i]; i++) {
                        name(&em, app->compose_volumes[i]);
                        map_start(&em, /* flow= */ true);
                        map_end(&em);
                }
                map_end(&em);
        }
        map_end(&em);
        emit(&em, &ev, yaml_document_end_event_initialize(&ev, /* implicit= */ 1));
        emit(&em, &ev, yaml_stream_end_event_initialize(&ev));
        yaml_emitter_delete(&em.e);
        fclose(f);
        return buf;
}
