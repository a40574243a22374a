#!/usr/bin/env bash
# What an interrupted or crowded build must survive: several oci-build
# processes building different images into one layout at once, and SIGTERM
# or SIGKILL in the middle of a tool's data step (initdb) and of `test`.
# Each ends with a layout that validates and nothing of ours left behind.
. "$(dirname "$0")/lib.sh"

need jq
L=$T/oci
S=$T/src
mkdir -p "$S"
cp -r "$SOURCE_ROOT/configs" "$SOURCE_ROOT/rootfs" "$S/"
C=$S/configs
# Four tiny tool images, so that a round of concurrent builds is quick.
bins=(true false env cat)
for i in 1 2 3 4; do
        b=${bins[$((i - 1))]}
        printf 'name: c%s\npackage: coreutils\ndescription: a tiny image for the concurrency test\n' "$i" \
                > "$C/tools/c$i.yml"
        printf 'category: test\nbinaries:\n  - /usr/bin/%s\nconfig:\n  entrypoint: [/usr/bin/%s]\n' "$b" "$b" \
                >> "$C/tools/c$i.yml"
done

valid() {  # valid LAYOUT -- the validator accepts it (or, without one, its index parses)
        if have_validator; then
                "$OCI_VALIDATE" "$1" --quiet
        else
                jq -e '.manifests | length >= 0' "$1/index.json" >/dev/null
        fi
}
have_validator || skip "the layouts are judged by oci-validate" "oci-validate (shared/bin) or python3-jsonschema missing"
names() { jq -r '.manifests[].annotations["org.opencontainers.image.ref.name"]' "$1/index.json" | LC_ALL=C sort; }
leftovers() {  # temporary files of ours in the layout
        find "$1" -maxdepth 3 \( -name '.oci-build-*' -o -name '*.tmp-*' -o -name '*.tmp' \) -print
}

# --- concurrent builds into one layout ----------------------------------------
"$OCI_BUILD" -q -C "$C" --layout "$L" --level 1 base || not_ok "build base"
for n in 2 4; do
        bad=()
        for round in $(seq 10); do
                "$OCI_BUILD" -q -C "$C" --layout "$L" clean c1 c2 c3 c4 2>/dev/null
                pids=()
                for i in $(seq "$n"); do
                        "$OCI_BUILD" -q -C "$C" --layout "$L" --level 1 -j 1 tool "c$i" 2>"$T/err-$i" &
                        pids+=($!)
                done
                for i in $(seq "$n"); do
                        wait "${pids[$((i - 1))]}" || bad+=("round $round: tool c$i failed: $(cat "$T/err-$i")")
                done
                want=$(printf '%s\n' base $(seq -f 'c%g' "$n") | LC_ALL=C sort)
                got=$(names "$L")
                [ "$got" = "$want" ] || bad+=("round $round: index.json names $(echo $got), not $(echo $want)")
                valid "$L" >"$T/valid.out" 2>&1 || bad+=("round $round: the layout is not valid: $(tail -n 3 "$T/valid.out")")
                [ -z "$(leftovers "$L")" ] || bad+=("round $round: left behind: $(leftovers "$L")")
        done
        if [ ${#bad[@]} -eq 0 ]; then
                ok "$n builds at once into one layout, 10 rounds: every image in index.json, the layout valid"
        else
                not_ok "$n builds at once into one layout, 10 rounds" "${bad[@]}"
        fi
done

# --- SIGTERM and SIGKILL in the middle -----------------------------------------
# interrupt WHAT SIG PATTERN COMMAND... -- starts the command, waits (at most
# 120 s) until PATTERN (a glob) exists, which proves it is in the middle,
# sends SIG, and checks the exit status.
interrupt() {
        local what=$1 sig=$2 pattern=$3 pid rc
        shift 3
        "$@" >"$T/int.out" 2>&1 &
        pid=$!
        if wait_for 120 compgen -G "$pattern"; then
                kill -"$sig" "$pid"
                wait "$pid"
                rc=$?
                check "$what: SIG$sig in the middle ends it (exit $rc)" test "$rc" -eq $((128 + $(kill -l "$sig")))
        else
                kill -KILL "$pid" 2>/dev/null
                wait "$pid"
                not_ok "$what: SIG$sig in the middle" "$pattern did not appear within 120 s" "$(tail -n 5 "$T/int.out")"
        fi
}

tmpd=$T/tmp
mkdir -p "$tmpd"
chmod 755 "$T"
before=$(jq -cS . "$L/index.json")
blobs_before=$(ls "$L/blobs/sha256" | LC_ALL=C sort)
for sig in TERM KILL; do
        rm -rf "$tmpd" && mkdir -p "$tmpd" && chmod 1777 "$tmpd"
        # The data step: initdb is writing the cluster into the data directory.
        interrupt "tool postgres, in initdb" $sig "$tmpd/oci-build-data-*/data/PG_VERSION" \
                env TMPDIR="$tmpd" "$OCI_BUILD" -q -C "$C" --layout "$L" --level 1 tool postgres
        sleep 0.5
        left=$(survivors "$tmpd")
        check "tool postgres, SIG$sig: no process of the build is left ($(echo $left))" test -z "$left"
        for p in $left; do kill -KILL "$p" 2>/dev/null; done
        if [ $sig = TERM ]; then
                check "tool postgres, SIGTERM: the data directory is removed" test -z "$(ls -A "$tmpd")"
                check "tool postgres, SIGTERM: no temporary file in the layout" test -z "$(leftovers "$L")"
                check "tool postgres, SIGTERM: no blob of the build is left" \
                        test "$(ls "$L/blobs/sha256" | LC_ALL=C sort)" = "$blobs_before"
        fi
        check "tool postgres, SIG$sig: index.json is unchanged" test "$(jq -cS . "$L/index.json")" = "$before"
        check "tool postgres, SIG$sig: the layout is valid" valid "$L"
done
# A data command that runs in the background while the build waits for it:
# SIGTERM reaches it (its trap runs, which the SIGKILL it would get when we
# die cannot), and it has ended before its directory is removed.
printf '#!/bin/sh\ntrap '"'"'echo stopped > "$2"; exit 1'"'"' TERM\necho started > "$1/started"\n' > "$T/slowdata"
printf 'while :; do sleep 0.05; done\n' >> "$T/slowdata"
chmod 755 "$T/slowdata"
sed -e 's/^name: c1/name: slow/' "$C/tools/c1.yml" > "$C/tools/slow.yml"
printf 'data:\n  path: /var/lib/slow\n  command: [%s, "{dir}", %s]\n' "$T/slowdata" "$T/slow.stopped" >> "$C/tools/slow.yml"
rm -rf "$tmpd" && mkdir -p "$tmpd" && chmod 1777 "$tmpd"
interrupt "tool slow, in its data command" TERM "$tmpd/oci-build-data-*/data/started" \
        env TMPDIR="$tmpd" "$OCI_BUILD" -q -C "$C" --layout "$L" --level 1 tool slow
check "tool slow, SIGTERM: the data command was stopped by SIGTERM" test -s "$T/slow.stopped"
sleep 0.5
left=$(survivors "$tmpd")
check "tool slow, SIGTERM: no process of the build is left ($(echo $left))" test -z "$left"
for p in $left; do kill -KILL "$p" 2>/dev/null; done
check "tool slow, SIGTERM: the data directory is removed" test -z "$(ls -A "$tmpd")"
check "tool slow, SIGTERM: index.json is unchanged" test "$(jq -cS . "$L/index.json")" = "$before"
"$OCI_BUILD" -q -C "$C" --layout "$L" clean
rm -rf "$tmpd"/*

# `test`: the image unpacked into a temporary tree, its steps running there.
if "$OCI_BUILD" -q -C "$C" --layout "$L" --level 1 tool go; then
        before=$(jq -cS . "$L/index.json")
        for sig in TERM KILL; do
                rm -rf "$tmpd" && mkdir -p "$tmpd" && chmod 1777 "$tmpd"
                interrupt "test go" $sig "$tmpd/oci-build-run.*/rootfs/usr/bin" env TMPDIR="$tmpd" "$OCI_BUILD" -q -C "$C" --layout "$L" test go
                sleep 0.5
                left=$(survivors "$tmpd")
                check "test go, SIG$sig: no process of the test is left ($(echo $left))" test -z "$left"
                for p in $left; do kill -KILL "$p" 2>/dev/null; done
                if [ $sig = TERM ]; then
                        check "test go, SIGTERM: the unpacked tree is removed" test -z "$(ls -A "$tmpd")"
                fi
                check "test go, SIG$sig: index.json is unchanged" test "$(jq -cS . "$L/index.json")" = "$before"
                check "test go, SIG$sig: the layout is valid" valid "$L"
        done
else
        not_ok "build tool go to interrupt its test"
fi
chmod -R u+rwX "$tmpd" 2>/dev/null

finish
