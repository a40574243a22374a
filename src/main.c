/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cli.h"
#include "configs.h"
#include "compress.h"
#include "config.h"
#include "log.h"
#include "process.h"
#include "tmpfile.h"
#include "util.h"

/* glibc's own default, before it starts to move it. */
#define MALLOC_MMAP_THRESHOLD (128 * 1024)

static const Command *const commands[] = {
        &command_base,  &command_tool, &command_app,  &command_compose, &command_list,    &command_show,
        &command_clean, &command_save, &command_test, &command_sbom,    &command_sysroot,
};

static void print_global_help(FILE *f)
{
        fprintf(f, "Usage: oci-build [OPTIONS] COMMAND [ARGS...]\n"
                   "\n"
                   "Builds minimal, distroless OCI images without a container daemon, straight into an\n"
                   "OCI image layout directory (push it with 'skopeo copy oci:DIR:NAME docker://...').\n"
                   "\n"
                   "Commands:\n");
        for (size_t i = 0; i < ELEMENTSOF(commands); i++) {
                _cleanup_free_ char *s = xasprintf("%s %s", commands[i]->name, commands[i]->synopsis);
                if (strlen(s) > 28)
                        fprintf(f, "  %s\n  %-28s %s\n", s, "", commands[i]->summary);
                else
                        fprintf(f, "  %-28s %s\n", s, commands[i]->summary);
        }
        fprintf(f,
                "\n"
                "Options (for every command):\n"
                "  -L, --layout DIR      the OCI layout directory that builds write and the other\n"
                "                        commands read (default: ./oci)\n"
                "  -o, --output FILE     the file that save and compose write ('-' for standard output)\n"
                "  -C, --configs DIR     configs directory (default: the source tree's configs/ when\n"
                "                        run from a build tree, else the installed one)\n"
                "      --sysroot DIR     read host files from DIR instead of /\n"
                "      --platform LIST   build for linux/amd64, linux/arm64 (comma-separated, or 'all'):\n"
                "                        an image index per image; other platforms read the sysroot\n"
                "                        'oci-build sysroot' made (test, save: which image to use)\n"
                "  -j, --jobs N          compress, and make SBOMs, with N threads (default: the number of\n"
                "                        CPUs, at most 8)\n"
                "      --compression gzip|zstd[:LEVEL]\n"
                "                        layer compression (default gzip); zstd layers are smaller and\n"
                "                        faster to write, but Docker 20.10 cannot load them\n"
                "      --level N         gzip effort 0-%d (12 is smallest and slowest); default: %d for\n"
                "                        layers with up to %u MiB of files, %d for larger ones; zstd 1-%d,\n"
                "                        default %d\n"
                "      --no-cache        write every layer and run every data command and build\n"
                "                        step, even when the layer and step caches have them\n"
                "  -q, --quiet           print only errors\n"
                "  -v, --verbose         print more about what happens\n"
                "  -h, --help            show this help, or a command's with COMMAND --help\n"
                "  -V, --version         show the version\n"
                "\n"
                "Environment:\n"
                "  SOURCE_DATE_EPOCH     the 'created' time of images and the latest mtime in layers\n"
                "                        (seconds since 1970, default 0): same inputs, same bytes\n"
                "  OCI_BUILD_CACHE       where app downloads and the layer and step caches are kept\n"
                "                        (default $XDG_CACHE_HOME/oci-build or ~/.cache/oci-build)\n"
                "  OCI_BUILD_SYSROOTS    where the sysroots of other platforms are (default:\n"
                "                        OCI_BUILD_CACHE/sysroots, one directory per platform: linux-arm64)\n"
                "\n"
                "Exit status: 0 on success, 1 when the work failed, 2 when the command line is wrong.\n"
                "Run 'oci-build COMMAND --help' for more about a command.\n",
                COMPRESS_LEVEL_MAX, LAYER_AUTO_SMALL_LEVEL, LAYER_AUTO_SMALL >> 20, LAYER_AUTO_LARGE_LEVEL,
                COMPRESS_ZSTD_LEVEL_MAX, COMPRESS_ZSTD_LEVEL_DEFAULT);
}

static void print_command_help(const Command *c)
{
        printf("Usage: oci-build [OPTIONS] %s %s\n\n%s\n%s", c->name, c->synopsis, c->summary, c->help);
        for (const CommandOption *o = c->options; o && o->name; o++) {
                _cleanup_free_ char *spelled = xasprintf("--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
                printf("\n  %-21s %s\n", spelled, o->help);
        }
        printf("\nGlobal options: see 'oci-build --help'.\n");
}

static void on_signal(int sig)
{
        /* A host program we run (initdb, npm, curl) goes with us. */
        pid_t child = ob_child_pid;
        if (child > 0) {
                /* A build step runs in a process group of its own: stop all
                 * of it, not only the process we started. */
                if (getpgid(child) == child)
                        kill(-child, SIGTERM);
                else
                        kill(child, SIGTERM);
                while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
                        ;
        }
        /* And a data command running in the background, before its
         * directory goes. */
        background_stop_all();
        tmpfile_cleanup_all();
        signal(sig, SIG_DFL);
        raise(sig);
}

enum {
        OPT_SYSROOT = 0x100,
        OPT_LEVEL,
        OPT_NO_CACHE,
        OPT_COMPRESSION,
        OPT_PLATFORM,
        OPT_COMMAND, /* an option of some command: long_index says which */
};

static const struct option global_options[] = {
        { "output", required_argument, NULL, 'o' },
        { "configs", required_argument, NULL, 'C' },
        { "sysroot", required_argument, NULL, OPT_SYSROOT },
        { "platform", required_argument, NULL, OPT_PLATFORM },
        { "jobs", required_argument, NULL, 'j' },
        { "level", required_argument, NULL, OPT_LEVEL },
        { "no-cache", no_argument, NULL, OPT_NO_CACHE },
        { "compression", required_argument, NULL, OPT_COMPRESSION },
        { "quiet", no_argument, NULL, 'q' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { "layout", required_argument, NULL, 'L' },
};

/* The options getopt knows: the global ones, then every command's (each
 * name once), so that an option of another command is recognised and
 * refused with a message that says so. */
static struct option *all_options(void)
{
        size_t n = ELEMENTSOF(global_options), cap = n + 1;
        struct option *v = xcalloc(cap, sizeof(*v));
        memcpy(v, global_options, sizeof(global_options));
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                for (const CommandOption *o = commands[i]->options; o && o->name; o++) {
                        bool known = false;
                        for (size_t k = 0; k < n; k++)
                                known = known || strcmp(v[k].name, o->name) == 0;
                        if (known)
                                continue;
                        v = xrealloc(v, (n + 2) * sizeof(*v));
                        v[n++] =
                                (struct option){ o->name, o->arg ? required_argument : no_argument, NULL, OPT_COMMAND };
                        v[n] = (struct option){ 0 };
                }
        return v;
}

/* A command option as given, applied once the command is known. */
typedef struct GivenOption {
        const char *name;
        const char *value;
} GivenOption;

static int apply_options(const Command *cmd, const GivenOption *given, size_t n, ObError *err)
{
        for (size_t i = 0; i < n; i++) {
                bool takes = false;
                for (const CommandOption *o = cmd->options; o && o->name; o++)
                        takes = takes || strcmp(o->name, given[i].name) == 0;
                if (!takes)
                        return ob_error_plain(err, EINVAL, "%s does not take --%s (see 'oci-build %s --help')",
                                              cmd->name, given[i].name, cmd->name);
        }
        for (size_t i = 0; i < n; i++) {
                int r = cmd->set_option(given[i].name, given[i].value, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *ret)
{
        char *end;
        errno = 0;
        if (!s || !*s || *s == '-')
                return -EINVAL;
        unsigned long v = strtoul(s, &end, 10);
        if (errno || *end || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int parse_sde(int64_t *ret, ObError *err)
{
        const char *s = getenv("SOURCE_DATE_EPOCH");
        if (!s || !*s) {
                *ret = 0;
                return 0;
        }
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno || *end || v < 0 || v > 253402300799LL)
                return ob_error_plain(err, EINVAL,
                                      "SOURCE_DATE_EPOCH must be a whole number of seconds since 1970, found '%s'", s);
        *ret = v;
        return 0;
}

int main(int argc, char **argv)
{
        _cleanup_free_ struct option *options = all_options();
        _cleanup_free_ GivenOption *given = xcalloc((size_t) argc + 1, sizeof(GivenOption));
        size_t n_given = 0;
        Context ctx = { .sysroot = "/", .level = LAYER_LEVEL_AUTO };
        const char *configs = NULL, *output = NULL, *layout = NULL;
        bool help = false;
        ObError err = { 0 };
        unsigned long v;
        int level = LAYER_LEVEL_AUTO;
        long cpus;
        int c, r, index;

        /* glibc raises its mmap threshold to the size of each large block
         * freed, after which the megabyte buffers of the compressors and of
         * the package database come from the heap and stay in it once
         * freed, so each layer adds to the peak. A fixed threshold keeps
         * every large buffer in its own mapping, returned when freed. */
        mallopt(M_MMAP_THRESHOLD, MALLOC_MMAP_THRESHOLD);
        /* Tar headers store names as UTF-8 whatever the user's locale is. */
        setlocale(LC_CTYPE, "C.UTF-8");
        cpus = sysconf(_SC_NPROCESSORS_ONLN);
        /* Each job holds a 1 MiB chunk and a compressor: more than 8
         * buys little on one layer and costs memory. */
        ctx.jobs = cpus > 8 ? 8 : cpus > 0 ? (unsigned) cpus : 1;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":o:L:C:j:qvhV", options, &index)) >= 0) {
                switch (c) {
                case 'o':
                        output = optarg;
                        break;
                case 'L':
                        layout = optarg;
                        break;
                case OPT_COMMAND:
                        given[n_given++] = (GivenOption){ options[index].name, optarg };
                        break;
                case 'C':
                        configs = optarg;
                        break;
                case OPT_SYSROOT:
                        ctx.sysroot = optarg;
                        ctx.sysroot_given = true;
                        break;
                case OPT_PLATFORM:
                        ctx.platform = optarg;
                        break;
                case 'j':
                        if (parse_uint(optarg, 64, &v) < 0 || v == 0) {
                                fprintf(stderr, "oci-build: -j/--jobs needs a number from 1 to 64, found '%s'\n",
                                        optarg);
                                return 2;
                        }
                        ctx.jobs = (unsigned) v;
                        break;
                case OPT_LEVEL:
                        if (parse_uint(optarg, COMPRESS_ZSTD_LEVEL_MAX, &v) < 0) {
                                fprintf(stderr,
                                        "oci-build: --level needs a number from 0 to %d (gzip) or %d to %d "
                                        "(zstd), found '%s'\n",
                                        COMPRESS_LEVEL_MAX, COMPRESS_ZSTD_LEVEL_MIN, COMPRESS_ZSTD_LEVEL_MAX, optarg);
                                return 2;
                        }
                        level = (int) v;
                        break;
                case OPT_COMPRESSION:
                        if (layer_compression_parse(optarg, &ctx.compression, &ctx.level, &err) < 0) {
                                fprintf(stderr, "oci-build: %s\n", err.msg);
                                return 2;
                        }
                        break;
                case OPT_NO_CACHE:
                        ctx.no_cache = true;
                        break;
                case 'q':
                        ob_verbosity = -1;
                        break;
                case 'v':
                        ob_verbosity = 1;
                        break;
                case 'h':
                        help = true;
                        break;
                case 'V':
                        printf("oci-build %s\n", OB_VERSION);
                        return 0;
                case ':':
                        fprintf(stderr, "oci-build: option '%s' needs a value (see 'oci-build --help')\n",
                                argv[optind - 1]);
                        return 2;
                default:
                        fprintf(stderr, "oci-build: unknown option '%s' (see 'oci-build --help')\n", argv[optind - 1]);
                        return 2;
                }
        }

        if (level != LAYER_LEVEL_AUTO) {
                if (ctx.level != LAYER_LEVEL_AUTO) {
                        fprintf(stderr, "oci-build: give the level with --level or in --compression, not both\n");
                        return 2;
                }
                if (layer_level_check(ctx.compression, level, &err) < 0) {
                        fprintf(stderr, "oci-build: --level: %s\n", err.msg);
                        return 2;
                }
                ctx.level = level;
        }

        if (optind >= argc) {
                if (help) {
                        print_global_help(stdout);
                        return 0;
                }
                print_global_help(stderr);
                return 2;
        }
        const char *name = argv[optind];
        if (strcmp(name, "help") == 0) {
                if (optind + 1 >= argc) {
                        print_global_help(stdout);
                        return 0;
                }
                name = argv[optind + 1];
                help = true;
        }
        const Command *cmd = NULL;
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (strcmp(commands[i]->name, name) == 0)
                        cmd = commands[i];
        if (!cmd) {
                fprintf(stderr, "oci-build: unknown command '%s' (commands: ", name);
                for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                        fprintf(stderr, "%s%s", i ? ", " : "", commands[i]->name);
                fprintf(stderr, "; see 'oci-build --help')\n");
                return 2;
        }
        if (help) {
                print_command_help(cmd);
                return 0;
        }
        if (apply_options(cmd, given, n_given, &err) < 0) {
                fprintf(stderr, "oci-build: %s\n", err.msg);
                return 2;
        }
        if (output && !cmd->output_is_file) {
                fprintf(stderr,
                        "oci-build: %s writes no file, so it takes no -o; the layout directory is named with "
                        "--layout DIR (or -L DIR)\n",
                        cmd->name);
                return 2;
        }
        ctx.output = output;
        ctx.layout = layout ? layout : "oci";
        if (strcmp(argv[optind], "help") != 0 && optind + 1 < argc)
                ctx.args = argv + optind + 1;

        r = parse_sde(&ctx.source_date_epoch, &err);
        if (r < 0) {
                fprintf(stderr, "oci-build: %s\n", err.msg);
                return 2;
        }
        ctx.configs = configs ? xstrdup(configs) : configs_default_dir();

        struct sigaction sa = { .sa_handler = on_signal };
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        /* A closed stdout is an error we report, not a reason to die silently. */
        signal(SIGPIPE, SIG_IGN);

        r = cmd->run(&ctx, &err);
        if (r == 0 && (fflush(stdout) != 0 || ferror(stdout)))
                r = ob_error_set(&err, errno ? errno : EIO, "cannot write to standard output");
        if (r < 0)
                fprintf(stderr, "oci-build: %s\n", err.msg[0] ? err.msg : strerror(-r));
        free(ctx.configs);
        /* 2: the command line was wrong; 1: the work failed. */
        return r < 0 ? (err.usage ? 2 : 1) : 0;
}
