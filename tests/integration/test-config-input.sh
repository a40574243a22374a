#!/usr/bin/env bash
# Configs that cannot hurt: each hostile or broken config is refused at once
# with one line naming the file (and line:col), a non-zero exit, the layout
# byte for byte as it was and no temporary file left behind.
. "$(dirname "$0")/lib.sh"

# Every run is bounded in time and (outside a sanitizer build, which needs a
# vast address space) in memory, so an input that used to hang or eat memory
# fails the test instead of the machine.
if ldd "$OCI_BUILD" 2>/dev/null | grep -q libasan; then
        MEM_LIMIT=
else
        MEM_LIMIT="ulimit -v 2097152;"
fi
run() {
        TMPDIR=$T/tmp timeout 30 bash -c "$MEM_LIMIT"' exec "$@"' run "$@"
}
mkdir -p "$T/tmp"

G=$T/good
if run "$OCI_BUILD" -q --layout "$G" base; then
        ok "the shipped base (with /tmp 1777, the sticky bit) builds"
else
        not_ok "the shipped base (with /tmp 1777, the sticky bit) builds"
        finish
fi
before=$(tree_sum "$G")

# A configs directory: the shipped base, a tool and an app; each case then
# replaces one file.
C=$T/cfg
mk_configs() {
        rm -rf "$C"
        mkdir -p "$C/tools" "$C/apps"
        sed "s|^rootfs: .*|rootfs: $SOURCE_ROOT/rootfs|" "$SOURCE_ROOT/configs/base.yml" > "$C/base.yml"
        cp "$SOURCE_ROOT/configs/tools/jq.yml" "$C/tools/jq.yml"
        printf 'name: hello\nversion: "1"\ndescription: hello\nartifacts:\n%s\n' \
                '  - { path: /app/hello.txt, source: hello.txt }' > "$C/apps/hello.yml"
        echo hello > "$C/apps/hello.txt"
}
BASE="name: base
description: test
rootfs: $SOURCE_ROOT/rootfs
"

# --- setuid and setgid bits, in every tier ------------------------------------
# (setgid stays allowed on a directory, where it only passes the group on to
# new files: the postgres tool's socket directory is 2775)
mk_configs
printf '%sfiles:\n  - path: /etc/ssl/certs/ca-certificates.crt\n    mode: "6755"\n' "$BASE" > "$C/base.yml"
expect_fail "base: a 'files' mode 6755 is refused" \
        "^oci-build: $C/base.yml:6:11: 'mode' \"6755\" sets setuid/setgid bits, which are not allowed in a distroless image\$" \
        run "$OCI_BUILD" -C "$C" --layout "$G" base
printf '%sdirectories:\n  - { path: /tmp, mode: "1777" }\n  - { path: /srv, mode: "6777" }\n' "$BASE" > "$C/base.yml"
expect_fail "base: a directory mode 6777 is refused, /tmp 1777 is not" \
        "$C/base.yml:6:25: 'mode' \"6777\" sets the setuid bit, which is not allowed" run "$OCI_BUILD" -C "$C" --layout "$G" base
mk_configs
printf 'files:\n  - { path: /usr/local/bin/jq, source: /usr/bin/jq, mode: "4755" }\n' >> "$C/tools/jq.yml"
expect_fail "tool: a 'files' mode 4755 is refused" "$C/tools/jq.yml:14:59: 'mode' \"4755\" sets setuid/setgid bits" \
        run "$OCI_BUILD" -C "$C" --layout "$G" tool jq
mk_configs
printf 'data:\n  path: /var/lib/jq\n  mode: "4700"\n  command: [/bin/true]\n' >> "$C/tools/jq.yml"
expect_fail "tool: a 'data' mode 4700 is refused" "$C/tools/jq.yml:15:9: 'mode' \"4700\" sets the setuid bit" \
        run "$OCI_BUILD" -C "$C" --layout "$G" tool jq
mk_configs
printf '  - { path: /app/hello, source: hello.txt, mode: "6755" }\n' >> "$C/apps/hello.yml"
expect_fail "app: an artifact mode 6755 is refused" "$C/apps/hello.yml:6:50: 'mode' \"6755\" sets setuid/setgid bits" \
        run "$OCI_BUILD" -C "$C" --layout "$G" app hello

# --- text that used to be ignored -----------------------------------------------
mk_configs
printf 'name: base\ndescription: test\0\nfiles:\n  - path: /etc/shadow\n' > "$C/base.yml"
expect_fail "a NUL byte is an error where it is, not the end of the file" \
        "$C/base.yml:2:18: a NUL byte is not allowed in a config" run "$OCI_BUILD" -C "$C" --layout "$G" base
printf '%sconfig:\n  env:\n    A: "x\\0y"\n' "$BASE" > "$C/base.yml"
expect_fail "a \\0 escape is an error, not the end of the value" \
        "$C/base.yml:6:8: a NUL character \(\\\\0\) is not allowed in a config" run "$OCI_BUILD" -C "$C" --layout "$G" base
printf '%s---\n{{{ [ not even YAML\n' "$BASE" > "$C/base.yml"
expect_fail "a second document, even garbage, is an error" \
        "$C/base.yml:4:1: a second YAML document starts here; a config is one document" \
        run "$OCI_BUILD" -C "$C" --layout "$G" base

# --- small configs that cost minutes or gigabytes ---------------------------------
# A million brackets in 1 MB: minutes in libyaml before anything was checked.
{ printf '%sx: ' "$BASE"; head -c 1000000 /dev/zero | tr '\0' '['; echo; } > "$C/base.yml"
start=$SECONDS
expect_fail "a million nested brackets are refused at level 64" \
        "$C/base.yml:4:67: nested deeper than 64 levels, more than a config may be" run "$OCI_BUILD" -C "$C" --layout "$G" base
check "... within 5 s" test $((SECONDS - start)) -le 5
# 1 MB of aliases to a long value: a 210 MB image config from 1 GB of memory.
python3 - "$C/base.yml" "$BASE" <<'EOF'
import sys
head = sys.argv[2] + "config:\n  env:\n    K0: &s " + "a" * 900 + "\n"
open(sys.argv[1], "w").write(head + "".join("    K%d: *s\n" % i for i in range(1, 65000)))
EOF
expect_fail "an alias bomb into env is refused" \
        "$C/base.yml:[0-9]+:[0-9]+: aliases expand to more than 10000 nodes or 1024 KiB, more than a config may have" \
        run "$OCI_BUILD" -C "$C" --layout "$G" base
{ printf '%sl0: &l0 [x, x, x, x, x, x, x, x, x, x]\n' "$BASE"
  for i in 1 2 3 4 5 6 7 8; do
        p=$((i - 1))
        printf 'l%d: &l%d [*l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d]\n' $i $i $p $p $p $p $p $p $p $p $p $p
  done; } > "$C/base.yml"
expect_fail "nested aliases (a billion laughs) are refused" "$C/base.yml:7:45: aliases expand to more than 10000 nodes" \
        run "$OCI_BUILD" -C "$C" --layout "$G" base
{ printf '%s' "$BASE"; head -c 2000000 /dev/zero | tr '\0' '#'; echo; } > "$C/base.yml"
expect_fail "a config over 1 MiB is refused" "config '$C/base.yml' is larger than a config may be \(1024 KiB\)" \
        run "$OCI_BUILD" -C "$C" --layout "$G" base
# An env of 80,000 keys is big but honest: it loads, in a moment (38 s before).
{ printf '%sconfig:\n env:\n' "$BASE"; seq 0 79999 | awk '{ printf "  k%x: v\n", $1 }'; } > "$C/base.yml"
start=$SECONDS
check "an env of 80,000 keys loads" bash -c "'$OCI_BUILD' -C '$C' show base | grep -q 'k1387f=v'"
check "... within 5 s" test $((SECONDS - start)) -le 5

# 85,000 entries, each with an unknown key and a required key missing: every
# problem is found and counted, in a moment (70 s when each missing key looked
# through every unknown key of the file).
{ printf '%sdirectories:\n' "$BASE"; seq 85000 | sed 's/.*/- {z: 1}/'; } > "$C/base.yml"
start=$SECONDS
err=$(run "$OCI_BUILD" -C "$C" --layout "$G" base 2>&1)
check "85,000 bad entries: 20 problems shown, then the count of the rest" \
        test "$(tail -n 1 <<<"$err")" = "and 169980 more problems"
check "... within 5 s" test $((SECONDS - start)) -le 5

# --- config files that are not files ----------------------------------------------
mk_configs
rm "$C/base.yml"
mkfifo "$C/base.yml"
expect_fail "a FIFO as a config is refused at once" "^oci-build: config '$C/base.yml' is a FIFO, not a regular file$" \
        run "$OCI_BUILD" -C "$C" --layout "$G" base
err=$(run "$OCI_BUILD" -C "$C" --layout "$G" base 2>&1)
check "... and the message names the file once" test "$(grep -o "base.yml" <<<"$err" | wc -l)" = 1
rm "$C/base.yml"
ln -s /dev/zero "$C/base.yml"
expect_fail "a symlink to /dev/zero as a config is refused" \
        "^oci-build: config '$C/base.yml' is a character device, not a regular file$" run "$OCI_BUILD" -C "$C" --layout "$G" base
mk_configs
rm "$C/tools/jq.yml"
mkfifo "$C/tools/jq.yml"
expect_fail "a FIFO as a tool config is refused at once" "config '$C/tools/jq.yml' is a FIFO, not a regular file" \
        run "$OCI_BUILD" -C "$C" --layout "$G" tool jq

# --- messages ----------------------------------------------------------------------
mk_configs
printf 'name: base\ndescription: caf\xe9\n' > "$C/base.yml"
expect_fail "invalid UTF-8 is reported where it is" "$C/base.yml:2:17: incomplete UTF-8 octet sequence" \
        run "$OCI_BUILD" -C "$C" --layout "$G" base
printf '%sdirectories:\n\t- { path: /srv }\n' "$BASE" > "$C/base.yml"
expect_fail "a tab used for indentation says so" "$C/base.yml:5:1: tabs cannot indent YAML; indent with spaces" \
        run "$OCI_BUILD" -C "$C" --layout "$G" base
E=$T/$(printf 'c\033[31m')
mkdir -p "$E"
printf 'name: "\\e]0;owned\\abase"\ndescription: test\n' > "$E/base.yml"
expect_fail "control characters of a path and a value come out escaped" \
        "c\\\\x1b\[31m/base.yml:1:7: 'name' must be .*, found '\\\\x1b\]0;owned\\\\x07base'$" \
        run "$OCI_BUILD" -C "$E" --layout "$G" base
err=$(run "$OCI_BUILD" -C "$E" --layout "$G" base 2>&1)
check "... and no raw control character reaches the terminal" \
        test -z "$(printf '%s' "$err" | LC_ALL=C tr -d '\n' | LC_ALL=C tr -d '[:print:]')"

# A config file whose name holds a control character, named by 'name' otherwise:
# the message quotes the file as the terminal can show it.
mk_configs
cp "$C/tools/jq.yml" "$C/tools/j$(printf '\033')q.yml"
expect_fail "a file name that does not match 'name' is quoted escaped" \
        "^oci-build: $C/tools/j\\\\x1bq\\.yml: 'name' is 'jq' but the file is j\\\\x1bq\\.yml: they must be the same$" \
        run "$OCI_BUILD" -C "$C" --layout "$G" tool "j$(printf '\033')q"
rm -f "$C/tools/j$(printf '\033')q.yml"

# --- several independent problems, reported together ------------------------------
# A tool config with three mistakes of different keys (an unknown key, a
# value of the wrong type, a bad value): one run names all three, one a line
# with its position, the first line as it would be alone; the misspelt
# 'binaries' is not also said to be missing.
mk_configs
printf 'name: jq\npackage: jq\ndescription: jq\nbinaris: [/usr/bin/jq]\nconfig:\n  user: nobody\n  ports: [80000]\n' \
        > "$C/tools/jq.yml"
err=$(cd "$T" && run "$OCI_BUILD" -C cfg --layout "$G" tool jq 2>&1 >/dev/null)
rc=$?
want="oci-build: cfg/tools/jq.yml:4:1: unknown key 'binaris' in a tool config (did you mean 'binaries'?)
cfg/tools/jq.yml:6:9: 'user' must be numeric \"UID:GID\" (e.g. \"1000:1000\"), found 'nobody'
cfg/tools/jq.yml:7:11: 'ports' entries must be a port number 1-65535 with an optional /tcp or /udp, found '80000'"
check "three problems of one config: exit status 1" test "$rc" = 1
check "... each on its own line with file:line:col, in one run" test "$err" = "$want"
printf 'name: jq\npackage: jq\ndescription: [jq]\nbinaries: [/usr/bin/jq]\ntest: {command: [jq], expect: ""}\nfiles: [relative]\n' \
        > "$C/tools/jq.yml"
err=$(cd "$T" && run "$OCI_BUILD" -C cfg --layout "$G" tool jq 2>&1 >/dev/null)
want="oci-build: cfg/tools/jq.yml:3:14: 'description' must be a string, found a list
cfg/tools/jq.yml:6:9: 'files' must be an absolute path (starting with '/'), found 'relative'
cfg/tools/jq.yml:5:31: 'expect' must not be empty"
check "... a wrong type, a bad value and a bad entry, all three" test "$err" = "$want"
printf 'name: jq\ndescription: jq\nfiles: [/x]\nconfig: {workdir: w}\nbogus: 1\n' > "$C/tools/jq.yml"
err=$(cd "$T" && run "$OCI_BUILD" -C cfg --layout "$G" tool jq 2>&1 >/dev/null)
want="oci-build: cfg/tools/jq.yml:5:1: unknown key 'bogus' in a tool config (expected one of: name, version, package, description, category, binaries, files, directories, symlinks, config, test, data, artifacts, build)
cfg/tools/jq.yml:1:1: a tool config needs 'version', or 'package' to read the version from
cfg/tools/jq.yml:1:1: missing required key 'binaries' in a tool config
cfg/tools/jq.yml:4:19: 'workdir' must be an absolute path (starting with '/'), found 'w'"
check "... missing required keys too" test "$err" = "$want"
printf 'name: jq\ndescription: jq\n' > "$C/tools/jq.yml"
for i in $(seq 1 25); do printf 'bad%d: x\n' "$i"; done >> "$C/tools/jq.yml"
err=$(run "$OCI_BUILD" -C "$C" --layout "$G" tool jq 2>&1 >/dev/null)
check "... at most 20 of them, then how many more" \
        test "$(grep -c "^\(oci-build: \)\?$C/tools/jq.yml:[0-9]*:[0-9]*: " <<<"$err")" = 20 -a \
        "$(tail -n 1 <<<"$err")" = "and 7 more problems"
printf 'name: jq\nbogus: 1\ndescription: [jq\n' > "$C/tools/jq.yml"
expect_fail "... but a YAML syntax error stops at once, alone" "^oci-build: $C/tools/jq.yml:4:1: invalid YAML: " \
        run "$OCI_BUILD" -C "$C" --layout "$G" tool jq

# --- nothing changed ---------------------------------------------------------------
check "the layout is byte for byte as it was after every bad config" test "$(tree_sum "$G")" = "$before"
check "no temporary file is left in the layout" test -z "$(find "$G" -name '*tmp*' -print -quit)"
check "no temporary file is left in TMPDIR" test -z "$(ls -A "$T/tmp")"

finish
