/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "spec.h"

/* A compose file for an app and its services. service_images[i] is the
 * image of the app's services[i]; app_tag the app's own. */
typedef struct ComposeOptions {
        bool host_network;      /* network_mode: host, no port mappings */
        const char *app_tag;
        char *const *service_images;
} ComposeOptions;

/* The compose file's text. */
char *compose_render(const Spec *app, const ComposeOptions *o);
