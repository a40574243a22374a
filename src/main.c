/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cli.h"
#include "compress.h"
#include "config.h"
#include "log.h"
#include "process.h"
#include "tmpfile.h"
#include "util.h"

static const Command commands[] = {
        { "base", "", "build the distroless base image into the layout",
          "Builds the base image from CONFIGS/base.yml: CA certificates and time zones from the\n"
          "sysroot, the static files of rootfs/, /etc/passwd and /etc/group from the config's\n"
          "users and groups, /tmp, /root and /home/nonroot. The image is named 'base' in\n"
          "OUTPUT/index.json; an image of that name is replaced.\n",
          0, cmd_base, false },
        { "tool", "NAME... | --all", "build tool images: base layer + the tool's own layer",
          "Builds each named tool (configs/tools/NAME.yml) as the base layer, byte-identical to the\n"
          "base image's, plus one layer with the tool's binaries, the shared libraries they need\n"
          "(read from their ELF files, never by running them) and the files the config names;\n"
          "postgres gets a third layer with its data directory, made at build time. A tool that is\n"
          "not installed in the sysroot is an error that names the Debian package to install.\n",
          CMD_OPT_ALL, cmd_tool, false },
        { "app", "NAME... | --all", "build app images: base and tool layers + the app's layer",
          "Builds each named app (configs/apps/NAME.yml): the base layer and the layers of the tools\n"
          "it names, byte-identical to those of the base and tool images, plus one layer with the\n"
          "app's artifacts (local files, or downloads verified against their sha256 pin and kept in\n"
          "a cache), after running the config's build steps on the host.\n",
          CMD_OPT_ALL, cmd_app, false },
        { "compose", "APP [-o FILE] [--host-network]", "write a compose file for an app and its services",
          "Writes a compose file (to FILE, or standard output) that runs APP beside the services its\n"
          "config names, with the image tags that 'oci-build save' gives, ports, environment,\n"
          "volumes, exec-form health checks and depends_on with condition service_healthy.\n"
          "--host-network runs every service with network_mode: host instead of mapping ports.\n",
          CMD_OPT_HOST_NETWORK, cmd_compose, true },
        { "list", "[base|tools|apps]", "list the configs found, and which are built",
          "Lists every config under CONFIGS (base.yml, tools/*.yml, apps/*.yml), and whether an\n"
          "image of that name is in the OUTPUT layout.\n",
          0, cmd_list, false },
        { "show", "NAME [--files]", "show a resolved config, or every file of its image",
          "Prints the config NAME as oci-build understood it and, if it is built, its manifest\n"
          "digest and layers. With --files: every path of the image's layer with its type, mode,\n"
          "owner, size, where it comes from and why it is there.\n",
          CMD_OPT_FILES, cmd_show, false },
        { "clean", "[NAME...]", "remove images from the layout and delete unused blobs",
          "Removes the named images (all images if none is named) from OUTPUT/index.json, then\n"
          "deletes every blob that no remaining image references, and temporary files left by\n"
          "an interrupted build.\n",
          0, cmd_clean, false },
        { "save", "NAME... -o FILE.tar [--tag NAME=REPO:TAG]...", "write images to a tar for docker load / podman load",
          "Writes the named images of the layout (--layout, default ./oci) to FILE.tar ('-' for\n"
          "standard output): an OCI layout (oci-layout, index.json, blobs/) plus Docker's\n"
          "manifest.json, the form that 'docker load', 'podman load' and skopeo's docker-archive:\n"
          "and oci-archive: transports all read. Images sharing layers share blobs. Each image is\n"
          "tagged distroless-NAME:VERSION and distroless-NAME:latest unless --tag NAME=REPO:TAG\n"
          "gives its tags. The same layout gives the same bytes.\n",
          CMD_OPT_TAG, cmd_save, true },
        { "test", "NAME... | --all", "run a config's test inside its built image, without a daemon",
          "Unpacks the image NAME of the layout into a temporary directory (checking every blob's\n"
          "digest) and runs the steps of the 'test' in its config there, in order: each in new\n"
          "mount, pid, ipc, uts and network (loopback only) namespaces, with /dev and /proc\n"
          "provided, as the image's user with the image's environment. A step passes when it\n"
          "exits 0 within 300 s and its output contains 'expect'. Output is shown for failed\n"
          "steps, and for every step with -v. Needs root; where this machine does not allow new\n"
          "namespaces it says so and how to run the test under docker instead.\n",
          CMD_OPT_ALL, cmd_test, false },
};

static void print_global_help(FILE *f)
{
        fprintf(f,
                "Usage: oci-build [OPTIONS] COMMAND [ARGS...]\n"
                "\n"
                "Builds minimal, distroless OCI images without a container daemon, straight into an\n"
                "OCI image layout directory (push it with 'skopeo copy oci:DIR:NAME docker://...').\n"
                "\n"
                "Commands:\n");
        for (size_t i = 0; i < ELEMENTSOF(commands); i++) {
                _cleanup_free_ char *s = xasprintf("%s %s", commands[i].name, commands[i].synopsis);
                if (strlen(s) > 28)
                        fprintf(f, "  %s\n  %-28s %s\n", s, "", commands[i].summary);
                else
                        fprintf(f, "  %-28s %s\n", s, commands[i].summary);
        }
        fprintf(f,
                "\n"
                "Options (for every command):\n"
                "  -o, --output DIR      OCI layout directory to write (default: ./oci); for save\n"
                "                        and compose, the file to write\n"
                "      --layout DIR      OCI layout directory to read (save; default: ./oci)\n"
                "  -C, --configs DIR     configs directory (default: the source tree's configs/ when\n"
                "                        run from a build tree, else the installed one)\n"
                "      --sysroot DIR     read host files from DIR instead of /\n"
                "  -j, --jobs N          compress with N threads (default: the number of CPUs, at most 8)\n"
                "      --level N         gzip effort 0-%d (12 is smallest and slowest); default: %d for\n"
                "                        layers with up to %u MiB of files, %d for larger ones\n"
                "  -q, --quiet           print only errors\n"
                "  -v, --verbose         print more about what happens\n"
                "  -h, --help            show this help, or a command's with COMMAND --help\n"
                "  -V, --version         show the version\n"
                "\n"
                "Environment:\n"
                "  SOURCE_DATE_EPOCH     the 'created' time of images and the latest mtime in layers\n"
                "                        (seconds since 1970, default 0): same inputs, same bytes\n"
                "  OCI_BUILD_CACHE       where app downloads are kept (default ~/.cache/oci-build)\n"
                "\n"
                "Run 'oci-build COMMAND --help' for more about a command.\n",
                COMPRESS_LEVEL_MAX, LAYER_AUTO_SMALL_LEVEL, LAYER_AUTO_SMALL >> 20, LAYER_AUTO_LARGE_LEVEL);
}

static void print_command_help(const Command *c)
{
        printf("Usage: oci-build [OPTIONS] %s %s\n\n%s\n%s", c->name, c->synopsis, c->summary, c->help);
        if (c->options & CMD_OPT_FILES)
                printf("\n  --files               list every file of the image with its source and reason\n");
        if (c->options & CMD_OPT_TAG)
                printf("\n  --tag NAME=REPO:TAG   tag image NAME as REPO:TAG instead of the defaults (repeatable)\n");
        if (c->options & CMD_OPT_ALL)
                printf("\n  --all                 every config of the tier\n");
        printf("\nGlobal options: see 'oci-build --help'.\n");
}

static void on_signal(int sig)
{
        /* A host program we run (initdb, npm, curl) goes with us. */
        pid_t child = ob_child_pid;
        if (child > 0) {
                kill(child, SIGTERM);
                while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
                        ;
        }
        tmpfile_cleanup_all();
        signal(sig, SIG_DFL);
        raise(sig);
}

enum {
        OPT_SYSROOT = 0x100,
        OPT_LEVEL,
        OPT_ALL,
        OPT_FILES,
        OPT_LAYOUT,
        OPT_TAG,
        OPT_HOST_NETWORK,
};

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
        static const struct option options[] = {
                { "output", required_argument, NULL, 'o' },
                { "configs", required_argument, NULL, 'C' },
                { "sysroot", required_argument, NULL, OPT_SYSROOT },
                { "jobs", required_argument, NULL, 'j' },
                { "level", required_argument, NULL, OPT_LEVEL },
                { "quiet", no_argument, NULL, 'q' },
                { "verbose", no_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                { "all", no_argument, NULL, OPT_ALL },
                { "files", no_argument, NULL, OPT_FILES },
                { "layout", required_argument, NULL, OPT_LAYOUT },
                { "tag", required_argument, NULL, OPT_TAG },
                { "host-network", no_argument, NULL, OPT_HOST_NETWORK },
                {},
        };
        Context ctx = { .sysroot = "/", .level = LAYER_LEVEL_AUTO };
        const char *configs = NULL, *output = NULL, *layout = NULL;
        char **tags = NULL;
        bool help = false;
        unsigned used = 0;
        ObError err = { 0 };
        unsigned long v;
        long cpus;
        int c, r;

        /* Tar headers store names as UTF-8 whatever the user's locale is. */
        setlocale(LC_CTYPE, "C.UTF-8");
        cpus = sysconf(_SC_NPROCESSORS_ONLN);
        /* Each job holds two 1 MiB chunks and a compressor: more than 8
         * buys little on one layer and costs memory. */
        ctx.jobs = cpus > 8 ? 8 : cpus > 0 ? (unsigned) cpus : 1;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":o:C:j:qvhV", options, NULL)) >= 0) {
                switch (c) {
                case 'o':
                        output = optarg;
                        break;
                case OPT_LAYOUT:
                        layout = optarg;
                        break;
                case OPT_HOST_NETWORK:
                        used |= CMD_OPT_HOST_NETWORK;
                        ctx.host_network = true;
                        break;
                case OPT_TAG:
                        used |= CMD_OPT_TAG;
                        strv_push(&tags, optarg);
                        break;
                case 'C':
                        configs = optarg;
                        break;
                case OPT_SYSROOT:
                        ctx.sysroot = optarg;
                        break;
                case 'j':
                        if (parse_uint(optarg, 64, &v) < 0 || v == 0) {
                                fprintf(stderr, "oci-build: -j/--jobs needs a number from 1 to 64, found '%s'\n", optarg);
                                return 2;
                        }
                        ctx.jobs = (unsigned) v;
                        break;
                case OPT_LEVEL:
                        if (parse_uint(optarg, COMPRESS_LEVEL_MAX, &v) < 0) {
                                fprintf(stderr, "oci-build: --level needs a number from 0 to %d, found '%s'\n",
                                        COMPRESS_LEVEL_MAX, optarg);
                                return 2;
                        }
                        ctx.level = (int) v;
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
                case OPT_ALL:
                        used |= CMD_OPT_ALL;
                        ctx.all = true;
                        break;
                case OPT_FILES:
                        used |= CMD_OPT_FILES;
                        ctx.files = true;
                        break;
                case ':':
                        fprintf(stderr, "oci-build: option '%s' needs a value (see 'oci-build --help')\n",
                                argv[optind - 1]);
                        return 2;
                default:
                        fprintf(stderr, "oci-build: unknown option '%s' (see 'oci-build --help')\n", argv[optind - 1]);
                        return 2;
                }
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
                if (strcmp(commands[i].name, name) == 0)
                        cmd = &commands[i];
        if (!cmd) {
                fprintf(stderr, "oci-build: unknown command '%s' (commands: ", name);
                for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                        fprintf(stderr, "%s%s", i ? ", " : "", commands[i].name);
                fprintf(stderr, "; see 'oci-build --help')\n");
                return 2;
        }
        if (help) {
                print_command_help(cmd);
                return 0;
        }
        if (used & ~cmd->options) {
                unsigned bad = used & ~cmd->options;
                fprintf(stderr, "oci-build: %s does not take %s (see 'oci-build %s --help')\n", cmd->name,
                        (bad & CMD_OPT_ALL)     ? "--all"
                        : (bad & CMD_OPT_FILES) ? "--files"
                        : (bad & CMD_OPT_TAG)   ? "--tag"
                                                : "--host-network",
                        cmd->name);
                strv_free(tags);
                return 2;
        }
        if (cmd->output_is_file) {
                ctx.output = output;
                ctx.layout = layout ? layout : "oci";
        } else {
                if (output && layout && strcmp(output, layout) != 0) {
                        fprintf(stderr, "oci-build: -o and --layout name different layouts ('%s', '%s')\n", output,
                                layout);
                        strv_free(tags);
                        return 2;
                }
                ctx.layout = output ? output : layout ? layout : "oci";
        }
        ctx.tags = tags;
        if (strcmp(name, "help") != 0 && optind + 1 < argc)
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
        if (r == 0 && (fflush(stdout) != 0 || ferror(stdout))) {
                r = ob_error_set(&err, errno ? errno : EIO, "cannot write to standard output");
        }
        if (r < 0)
                fprintf(stderr, "oci-build: %s\n", err.msg[0] ? err.msg : strerror(-r));
        free(ctx.configs);
        strv_free(tags);
        return r < 0 ? 1 : 0;
}
