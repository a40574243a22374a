/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "configs.h"
#include "error.h"
#include "image.h"
#include "layer.h"
#include "layout.h"
#include "plan.h"
#include "spec.h"
#include "sysroot.h"

/* What the command line said, shared by every command. */
typedef struct Context {
        const char *layout;        /* the OCI layout directory: -o for commands that
                                    * build into it, --layout for those that read it */
        const char *output;        /* -o for commands whose output is a file (save) */
        char **tags;               /* --tag NAME=REPO:TAG, repeatable */
        char *configs;             /* -C: the configs directory */
        const char *sysroot;       /* --sysroot */
        int64_t source_date_epoch;
        int level;                 /* --level: gzip effort */
        unsigned jobs;             /* -j */
        bool all;                  /* --all */
        bool files;                /* --files */
        bool host_network;         /* --host-network */
        char **args;               /* operands after the command name */
} Context;

typedef struct Command {
        const char *name;
        const char *synopsis;      /* "NAME..." */
        const char *summary;       /* one line for the global help */
        const char *help;          /* the rest of `oci-build CMD --help` */
        unsigned options;          /* CMD_OPT_* it accepts besides the global ones */
        int (*run)(Context *ctx, ObError *err);
        bool output_is_file;       /* -o names a file; the layout comes from --layout */
} Command;

enum {
        CMD_OPT_ALL = 1 << 0,
        CMD_OPT_FILES = 1 << 1,
        CMD_OPT_TAG = 1 << 2,
        CMD_OPT_HOST_NETWORK = 1 << 3,
};

int cmd_base(Context *ctx, ObError *err);
int cmd_tool(Context *ctx, ObError *err);
int cmd_app(Context *ctx, ObError *err);
int cmd_compose(Context *ctx, ObError *err);
int context_load_app(const Context *ctx, const char *name, Spec **ret, ObError *err);
int cmd_list(Context *ctx, ObError *err);
int cmd_show(Context *ctx, ObError *err);
int cmd_clean(Context *ctx, ObError *err);
int cmd_save(Context *ctx, ObError *err);
int cmd_test(Context *ctx, ObError *err);

/* A tool image in the making: its spec, version and layer plans. */
typedef struct ToolBuild {
        Spec *spec;
        char *version;
        Plan plan;
        bool has_data;
        Plan data;
        char *data_tmp;     /* the data command's output, removed by tool_build_clear() */
} ToolBuild;

/* The base image's spec, plan and the sysroot, which every tier builds on. */
typedef struct BaseBuild {
        ConfigRef ref;
        Spec *spec;
        Plan plan;
        Sysroot *root;
        char *created_by;
} BaseBuild;

/* Shared by the commands (src/cmd/common.c). */
/* The operands, or with --all every config of the tier. */
int context_names(const Context *ctx, SpecTier tier, char ***ret, ObError *err);
int context_base_begin(const Context *ctx, BaseBuild *ret, ObError *err);
/* Writes the base layer (the same blob every time) and describes it. */
int context_base_layer(const Context *ctx, Layout *l, BaseBuild *b, OciLayerInfo *ret, ObError *err);
void base_build_clear(BaseBuild *b);
LayerOptions context_layer_options(const Context *ctx);
int context_load_spec(const Context *ctx, const ConfigRef *ref, Spec **ret, ObError *err);
int context_check_name(const ConfigRef *ref, Spec *spec, ObError *err);
/* The layer plan of a base-tier spec. */
int context_base_plan(const Context *ctx, const Spec *spec, Plan *ret, ObError *err);
/* Builds and names the image of a base spec in the layout (index in memory). */
/* Loads the tool config NAME and plans its layers (and, with_data, runs its
 * data command). */
int context_load_tool(const Context *ctx, const char *name, Sysroot *root, const Plan *base_plan, ToolBuild *t,
                      bool with_data, ObError *err);
void tool_build_clear(ToolBuild *t);
int context_build_base(const Context *ctx, Layout *l, const Spec *spec, const Plan *plan, ImageResult *ret,
                       ObError *err);
