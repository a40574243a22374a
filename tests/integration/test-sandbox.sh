#!/usr/bin/env bash
# oci-build test as a user types it (default ./oci), as an ordinary user
# (uid 65534) through a user namespace, what the step sees (its uid, the
# /dev/stdout it reopens), and SIGKILL mid-step: no process of the step
# survives and 'oci-build clean' removes what was left.
. "$(dirname "$0")/lib.sh"

OB=$OCI_BUILD
W=$T/home                 # the directory a user stands in: ./oci is here
C=$T/src/configs        # the project's configs and two of this test's own
mkdir -p "$W" "$C"
cp -r "$SOURCE_ROOT/configs/." "$C/"
ln -s "$SOURCE_ROOT/rootfs" "$T/src/rootfs"
# The image's user (1000:1000) as the step sees it, and a daemon's way of
# logging: reopening /dev/stdout and /dev/stderr.
cat >"$C/tools/probe.yml" <<'EOF'
name: probe
package: coreutils
description: coreutils programs that show what a test step sees
category: test
binaries:
  - /usr/bin/id
  - /usr/bin/cp
test:
  steps:
    - command: [/usr/bin/id]
      expect: "uid=1000"
    - command: [/usr/bin/cp, /etc/passwd, /dev/stdout]
      expect: "nonroot:x:1000:1000"
    - command: [/usr/bin/cp, /etc/group, /dev/stderr]
      expect: "nonroot:x:1000"
EOF
cat >"$C/tools/sleeper.yml" <<'EOF'
name: sleeper
package: coreutils
description: a step that sleeps, to be killed
category: test
binaries:
  - /usr/bin/sleep
test:
  command: [/usr/bin/sleep, "4343"]
EOF

# --- exactly as a user types it: no -o, the layout is ./oci ---------------------
if out=$(cd "$W" && "$OB" -q tool jq 2>&1 && "$OB" test jq 2>&1); then
        if printf '%s\n' "$out" | grep -q '^jq: passed, 1 of 1 steps'; then
                ok "cd DIR && oci-build tool jq && oci-build test jq"
        else
                not_ok "cd DIR && oci-build test jq: no 'passed' line" "$out"
        fi
else
        not_ok "cd DIR && oci-build tool jq && oci-build test jq" "$out"
fi
if ! (cd "$W" && "$OB" -q -C "$C" tool curl probe sleeper); then
        not_ok "oci-build tool curl probe sleeper"
        finish
fi
ok "oci-build tool curl probe sleeper"

# --- as root: the image's user, /dev/stdout and /dev/stderr reopened ---------
out=$(cd "$W" && "$OB" -v -C "$C" test probe 2>&1)
if [ $? -eq 0 ] && printf '%s\n' "$out" | grep -qx '      uid=1000(nonroot) gid=1000(nonroot) groups=1000(nonroot)' &&
        printf '%s\n' "$out" | grep -qx '      nonroot:x:1000:1000:.*' &&
        printf '%s\n' "$out" | grep -qx '      nonroot:x:1000:.*'; then
        ok "as root: a step runs as 1000 and reopens /dev/stdout and /dev/stderr"
else
        not_ok "as root: a step runs as 1000 and reopens /dev/stdout and /dev/stderr" "$out"
fi

# --- as an ordinary user ----------------------------------------------------------
as_nobody() {
        if have setpriv; then
                setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
        else
                runuser -u nobody -- "$@"
        fi
}
chmod 755 "$T"
mkdir -p "$T/nobody-tmp"
chown 65534:65534 "$T/nobody-tmp"
if ! have setpriv && ! have runuser; then
        skip "oci-build test as uid 65534" "neither setpriv nor runuser is installed"
else
        out=$(cd "$W" && as_nobody env TMPDIR="$T/nobody-tmp" "$OB" -v -C "$C" test curl jq probe 2>&1)
        rc=$?
        # Without subordinate ids the one uid mapped is the caller's: the
        # image's user, without its supplementary groups.
        if [ $rc -eq 0 ] && printf '%s\n' "$out" | grep -q '^curl: passed' &&
                printf '%s\n' "$out" | grep -q '^jq: passed' &&
                printf '%s\n' "$out" | grep -qx '      uid=1000(nonroot) gid=1000(nonroot) groups=1000(nonroot)' &&
                printf '%s\n' "$out" | grep -qx '      nonroot:x:1000:1000:.*'; then
                ok "as uid 65534: curl, jq and probe pass, the step is uid 1000 and reopens /dev/stdout"
        else
                not_ok "as uid 65534: oci-build test curl jq probe" "exit status $rc" "$out"
        fi
        left=$(find "$T/nobody-tmp" -mindepth 1 -maxdepth 1 | wc -l)
        if [ "$left" -eq 0 ]; then
                ok "as uid 65534: the run directory is removed"
        else
                not_ok "as uid 65534: $left entries left in TMPDIR" "$(ls -la "$T/nobody-tmp")"
        fi
fi

# --- an ordinary user where user namespaces are refused: say which call ---------
# The kernel refuses a user namespace to a process in a chroot, whatever the
# sysctls say: a chroot holding oci-build and its libraries shows the message.
R=$T/chroot
mkdir -p "$R/bin" "$R/tmp" "$R/home"
chmod 1777 "$R/tmp"
cp "$OB" "$R/bin/oci-build"
for lib in $(ldd "$OB" | grep -o '/[^ ]*'); do
        mkdir -p "$R$(dirname "$lib")"
        cp -L "$lib" "$R$lib"
done
mkdir -p "$R/src"
cp -r "$C" "$R/src/configs"
cp -r "$SOURCE_ROOT/rootfs" "$R/src/rootfs"
cp -r "$W/oci" "$R/home/oci"
chmod -R a+rX "$R"
if ! have chroot; then
        skip "in a chroot as uid 65534: the error names the refused call" "chroot is not installed"
elif out=$(chroot --userspec=65534:65534 "$R" /bin/oci-build -C /src/configs --layout /home/oci test jq 2>&1); then
        not_ok "in a chroot as uid 65534: oci-build test succeeded" "$out"
elif printf '%s\n' "$out" | grep -q 'does not allow an ordinary user new namespaces (unshare(CLONE_NEWUSER): Operation not permitted \[EPERM\]'; then
        ok "in a chroot as uid 65534: the error names unshare(CLONE_NEWUSER) and EPERM"
else
        not_ok "in a chroot as uid 65534: the error names the refused call" "$out"
fi

# --- SIGKILL mid-step ------------------------------------------------------------
K=$T/kill-tmp
mkdir -p "$K"
(cd "$W" && exec env TMPDIR="$K" "$OB" -q -C "$C" test sleeper) &
pid=$!
CLEANUP_PIDS+=("$pid")
started=
for _ in $(seq 600); do
        pgrep -x -f '/usr/bin/sleep 4343' >/dev/null && { started=1; break; }
        sleep 0.1
done
if [ -z "$started" ]; then
        not_ok "the sleeping step started within 60 s"
        finish
fi
kill -KILL "$pid"
wait "$pid" 2>/dev/null
gone=
for _ in $(seq 50); do
        pgrep -x -f '/usr/bin/sleep 4343' >/dev/null || { gone=1; break; }
        sleep 0.1
done
if [ -n "$gone" ]; then
        ok "SIGKILL of oci-build test: no process of the step survives"
else
        not_ok "SIGKILL of oci-build test: the step outlived it" "$(pgrep -a -x -f '/usr/bin/sleep 4343')"
        for p in $(pgrep -x -f '/usr/bin/sleep 4343'); do kill -KILL "$p"; done
fi
left=$(find "$K" -mindepth 1 -maxdepth 1 -name 'oci-build-run.*' | wc -l)
if [ "$left" -eq 1 ]; then
        ok "the killed run left its directory"
else
        not_ok "the killed run left $left directories, expected 1"
fi
# A layout that does not exist: clean removes no image, only what was left.
out=$(TMPDIR="$K" "$OB" --layout "$T/no-layout" clean 2>&1)
said=$(printf '%s\n' "$out" | grep -E "^removed 1 directory left in $K by killed runs \([0-9.]+ [kMG]?B\)$")
if [ -n "$said" ] && [ -z "$(find "$K" -mindepth 1 -maxdepth 1)" ]; then
        ok "oci-build clean removes the directory of the killed run and says so ($said)"
else
        not_ok "oci-build clean removes the directory of the killed run" "$out" "$(ls -la "$K")"
fi
# A live run's directory stays.
out=$(TMPDIR="$W" "$OB" --layout "$T/no-layout" clean 2>&1)
if ! printf '%s\n' "$out" | grep -q '^removed'; then
        ok "oci-build clean leaves directories it does not know to be abandoned"
else
        not_ok "oci-build clean removed something unexpected" "$out"
fi

finish
