/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "build.h"
#include "error.h"

/* The command line: main.c parses the global options, finds the command
 * and hands it the options it declared; each command (src/cmd/cmd-*.c)
 * owns its options, its --help text and its run function. */

/* What the global options said, shared by every command. */
typedef struct Context {
        const char *layout;  /* the OCI layout directory (--layout/-L), written by
                                    * builds and read by the other commands */
        const char *output;  /* -o for commands whose output is a file (save, compose) */
        char *configs;       /* -C: the configs directory */
        const char *sysroot; /* --sysroot */
        bool sysroot_given;
        const char *platform; /* --platform, or NULL */
        int64_t source_date_epoch;
        int level;                    /* --level, or the level of --compression */
        LayerCompression compression; /* --compression */
        unsigned jobs;                /* -j */
        bool no_cache;                /* --no-cache */
        char **args;                  /* operands after the command name */
} Context;

/* An option of one command. main.c knows every command's options, so that
 * one meant for another command gets a message that says so. */
typedef struct CommandOption {
        const char *name; /* the long name, without "--" */
        const char *arg;  /* the value's name in --help, or NULL for a flag */
        const char *help; /* one line for --help */
} CommandOption;

typedef struct Command {
        const char *name;
        const char *synopsis;         /* "NAME..." */
        const char *summary;          /* one line for the global help */
        const char *help;             /* the rest of `oci-build CMD --help` */
        const CommandOption *options; /* ends with { NULL } */
        /* Called for each of options[] given; value is NULL for a flag. */
        int (*set_option)(const char *name, const char *value, ObError *err);
        int (*run)(Context *ctx, ObError *err);
        bool output_is_file; /* takes -o FILE; every other command refuses -o */
} Command;

extern const Command command_base, command_tool, command_app, command_compose, command_list, command_show,
        command_clean, command_save, command_test, command_sbom, command_sysroot;

/* Shared by the commands (src/cmd/common.c). */

/* The build options of the global ones. */
BuildOptions context_build_options(const Context *ctx);
/* The operands, or with all every config of the tier. */
int context_names(const Context *ctx, SpecTier tier, bool all, char ***ret, ObError *err);
/* --all, for the commands that build every config of a tier. */
extern bool arg_tier_all;
extern const CommandOption tier_options[];
int tier_set_option(const char *name, const char *value, ObError *err);
/* The run function of `tool` and `app`: the operands (or --all) built. */
int context_build_tier(const Context *ctx, SpecTier tier, ObError *err);

/* Builds the images of that tier named (the base image: names NULL) into
 * the layout, committing its index, and prints a line per image. */
int context_build(const Context *ctx, SpecTier tier, char *const *names, ObError *err);
