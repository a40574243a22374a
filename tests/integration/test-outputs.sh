#!/usr/bin/env bash
# Where -o writes: save and compose replace a regular file whole, write to a
# character device, a FIFO or standard output as a stream (the device stays
# a device), and refuse anything else, leaving it as it was.
. "$(dirname "$0")/lib.sh"

L=$T/oci
CONFIGS=$SOURCE_ROOT/configs
save() { "$OCI_BUILD" -q --layout "$L" save "$@"; }
compose() { "$OCI_BUILD" -q -C "$CONFIGS" compose "$@"; }

"$OCI_BUILD" -q --layout "$L" base && ok "build base" || not_ok "build base"
save base -o "$T/base.tar" && ok "save base -o a new file" || not_ok "save base -o a new file"

# /dev/null stays a character device (as root, replacing it broke the host).
if [ -w /dev/null ] && [ -c /dev/null ]; then
        before=$(stat -c '%F %t:%T %a %U' /dev/null)
        save base -o /dev/null && ok "save -o /dev/null" || not_ok "save -o /dev/null"
        after=$(stat -c '%F %t:%T %a %U' /dev/null)
        check "/dev/null is still the same character device ($after)" test "$before" = "$after"
        compose notes -o /dev/null && ok "compose -o /dev/null" || not_ok "compose -o /dev/null"
        after=$(stat -c '%F %t:%T %a %U' /dev/null)
        check "/dev/null is still the same character device after compose" test "$before" = "$after"
else
        skip "save -o /dev/null" "no writable /dev/null"
fi

# A FIFO is written as a stream: its reader gets the archive, and it is
# still a FIFO afterwards.
mkfifo "$T/fifo"
cat "$T/fifo" > "$T/from-fifo.tar" &
reader=$!
CLEANUP_PIDS+=("$reader")
save base -o "$T/fifo" && ok "save -o a FIFO" || not_ok "save -o a FIFO"
wait "$reader"
check "the FIFO's reader got the same archive" cmp "$T/base.tar" "$T/from-fifo.tar"
check "the FIFO is still a FIFO" test -p "$T/fifo"

# Standard output, by its names.
compose notes -o "$T/notes.yml" && ok "compose -o a new file" || not_ok "compose -o a new file"
compose notes -o /dev/stdout > "$T/stdout.yml" && ok "compose -o /dev/stdout" || not_ok "compose -o /dev/stdout"
check "compose -o /dev/stdout writes the compose file" cmp "$T/notes.yml" "$T/stdout.yml"
compose notes -o /dev/stdout | cat > "$T/pipe.yml" && ok "compose -o /dev/stdout into a pipe" ||
        not_ok "compose -o /dev/stdout into a pipe"
check "the pipe's reader got the compose file" cmp "$T/notes.yml" "$T/pipe.yml"
compose notes -o /proc/self/fd/1 > "$T/fd1.yml" && ok "compose -o /proc/self/fd/1" ||
        not_ok "compose -o /proc/self/fd/1"
check "compose -o /proc/self/fd/1 writes the compose file" cmp "$T/notes.yml" "$T/fd1.yml"
save base -o /proc/self/fd/1 > "$T/fd1.tar" && ok "save -o /proc/self/fd/1" || not_ok "save -o /proc/self/fd/1"
check "save -o /proc/self/fd/1 writes the archive" cmp "$T/base.tar" "$T/fd1.tar"
expect_fail "save -o /proc/self/fd/1 when it is closed" "cannot write to standard output: Bad file descriptor" \
        bash -c '"$0" -q --layout "$1" save base -o /proc/self/fd/1 >&-' "$OCI_BUILD" "$L"
expect_fail "compose -o /proc/self/fd/7 that is not open" \
        "cannot write '/proc/self/fd/7': descriptor 7 is not open" compose notes -o /proc/self/fd/7

# A symbolic link is refused, and it and its target are left alone.
echo precious > "$T/target"
ln -s target "$T/link"
expect_fail "save -o a symbolic link" "cannot write '$T/link': it is a symbolic link" save base -o "$T/link"
check "the link is still a link to its target" test -L "$T/link" -a "$(readlink "$T/link")" = target
check "the link's target is untouched" test "$(cat "$T/target")" = precious
expect_fail "compose -o a symbolic link" "cannot write '$T/link': it is a symbolic link" compose notes -o "$T/link"
check "the link is still a link after compose" test -L "$T/link" -a "$(cat "$T/target")" = precious
ln -s /dev/null "$T/null-link"
expect_fail "save -o a symbolic link to /dev/null" "it is a symbolic link" save base -o "$T/null-link"

# A directory and a socket are refused; no temporary file is left.
mkdir "$T/dir"
expect_fail "save -o a directory" "cannot write '$T/dir': it is a directory" save base -o "$T/dir"
expect_fail "compose -o a directory" "cannot write '$T/dir': it is a directory" compose notes -o "$T/dir"
if have python3; then
        python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$T/sock"
        expect_fail "save -o a socket" "cannot write '$T/sock': it is a socket" save base -o "$T/sock"
        check "the socket is still a socket" test -S "$T/sock"
else
        skip "save -o a socket" "no python3 to make one"
fi
check "no temporary file is left" test -z "$(find "$T" -maxdepth 1 -name '.*.tmp')"

# A regular file is replaced whole.
echo old > "$T/old.tar"
save base -o "$T/old.tar" && ok "save -o an existing file" || not_ok "save -o an existing file"
check "the existing file is replaced by the archive" cmp "$T/base.tar" "$T/old.tar"

finish
