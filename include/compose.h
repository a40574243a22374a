/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "error.h"
#include "spec.h"

/* The address the stack listens on unless told otherwise: a generated
 * compose file never puts a service on other hosts' reach by default. */
#define COMPOSE_DEFAULT_LISTEN "127.0.0.1"

/* A compose file for an app and its services. service_images[i] is the
 * image of the app's services[i]; app_tag the app's own. */
typedef struct ComposeOptions {
        /* network_mode: host, no port mappings; the app's environment then
         * names its services by 127.0.0.1, since their names do not resolve. */
        bool host_network;
        /* The address ports are published on (with port mappings), or that
         * an app told to bind every address binds instead (host network).
         * NULL: COMPOSE_DEFAULT_LISTEN. */
        const char *listen;
        const char *app_tag;
        char *const *service_images;
} ComposeOptions;

/* Refuses, naming the config file, what no compose file should say: an
 * environment key that is not a variable name, a volume that is not
 * NAME:/absolute/path[:ro|:rw], a volume name or image with odd characters,
 * and control characters (other than tab and newline in values and
 * arguments). compose_render() is safe without it; this makes a hostile
 * or mistyped config an error instead of a strange stack. */
int compose_check(const Spec *app, ObError *err);

/* Whether s is an address --listen accepts (an IPv4 address). */
bool compose_valid_listen(const char *s);

/* The compose file's text, every scalar emitted (and so quoted and escaped)
 * by libyaml. */
char *compose_render(const Spec *app, const ComposeOptions *o);

/* value with a host part that names one of services (a NULL-terminated list)
 * replaced by to: the whole value ("db"), HOST:PORT, a URL's host
 * ("postgres://u:p@db:5432/x"), or the default of a compose variable in those
 * places ("${DB_HOST:-db}"). NULL when nothing names a service. */
char *compose_rewrite_host(const char *value, char *const *services, const char *to);
