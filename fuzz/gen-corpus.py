#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpora for fuzz-elf and fuzz-elf-closure: tiny hand-made
ELF files, each a single PT_LOAD holding the headers, an interpreter path, a
string table and a dynamic section. Deterministic; run it again after
changing it:

    python3 fuzz/gen-corpus.py [OUTPUT_DIR]     (default: fuzz/corpus)
"""
import os
import struct
import sys

EM_X86_64, EM_AARCH64 = 62, 183
ET_EXEC, ET_DYN = 2, 3
PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
DT_NULL, DT_NEEDED, DT_STRTAB, DT_STRSZ, DT_SONAME, DT_RPATH, DT_RUNPATH = 0, 1, 5, 10, 14, 15, 29
BASE = 0x400000


def ident(cls=2, data=1):
    return b"\x7fELF" + bytes([cls, data, 1, 0]) + bytes(8)


def elf(machine=EM_X86_64, etype=ET_DYN, interp=None, needed=(), runpath=None, rpath=None, soname=None,
        xnum=False):
    strtab = b"\0"
    offsets = {}

    def add(s):
        nonlocal strtab
        if s not in offsets:
            offsets[s] = len(strtab)
            strtab += s.encode() + b"\0"
        return offsets[s]

    dyn = [(DT_NEEDED, add(n)) for n in needed]
    if runpath is not None:
        dyn.append((DT_RUNPATH, add(runpath)))
    if rpath is not None:
        dyn.append((DT_RPATH, add(rpath)))
    if soname is not None:
        dyn.append((DT_SONAME, add(soname)))
    dynamic = bool(dyn)

    phnum = 1 + (interp is not None) + dynamic
    off = 64 + 56 * phnum
    shoff = 0
    if xnum:
        shoff = off
        off += 64
    interp_off = off
    interp_bytes = interp.encode() + b"\0" if interp is not None else b""
    off += len(interp_bytes)
    strtab_off = off
    off += len(strtab)
    off = (off + 7) & ~7
    dyn_off = off
    dyn += [(DT_STRTAB, BASE + strtab_off), (DT_STRSZ, len(strtab)), (DT_NULL, 0)]
    dyn_bytes = b"".join(struct.pack("<qQ", t, v) for t, v in dyn) if dynamic else b""
    size = dyn_off + len(dyn_bytes)

    phdrs = [struct.pack("<IIQQQQQQ", PT_LOAD, 5, 0, BASE, BASE, size, size, 0x1000)]
    if interp is not None:
        phdrs.append(struct.pack("<IIQQQQQQ", PT_INTERP, 4, interp_off, BASE + interp_off, BASE + interp_off,
                                 len(interp_bytes), len(interp_bytes), 1))
    if dynamic:
        phdrs.append(struct.pack("<IIQQQQQQ", PT_DYNAMIC, 6, dyn_off, BASE + dyn_off, BASE + dyn_off,
                                 len(dyn_bytes), len(dyn_bytes), 8))
    ehdr = ident() + struct.pack("<HHIQQQIHHHHHH", etype, machine, 1, BASE, 64, shoff, 0, 64, 56,
                                 0xffff if xnum else phnum, 64 if xnum else 0, 1 if xnum else 0, 0)
    out = bytearray(ehdr + b"".join(phdrs))
    if xnum:
        out += struct.pack("<IIQQQQIIQQ", 0, 0, 0, 0, 0, 0, 0, phnum, 0, 0)
    out += interp_bytes
    out += strtab
    out += bytes(dyn_off - len(out))
    out += dyn_bytes
    assert len(out) == size
    return bytes(out)


SEEDS = {
    "exe-x86_64": elf(EM_X86_64, ET_DYN, interp="/lib64/ld-linux-x86-64.so.2",
                      needed=["libc.so.6", "libfoo.so.1"], runpath="$ORIGIN/../lib:/opt/x/${LIB}"),
    "lib-aarch64": elf(EM_AARCH64, ET_DYN, needed=["libc.so.6"], rpath="${ORIGIN}:$PLATFORM",
                       soname="libbar.so.2"),
    "exe-aarch64": elf(EM_AARCH64, ET_EXEC, interp="/lib/ld-linux-aarch64.so.1", needed=["libbar.so.2"]),
    "static-x86_64": elf(EM_X86_64, ET_EXEC),
    "xnum-x86_64": elf(EM_X86_64, ET_DYN, interp="/lib/ld.so", needed=["liba.so"], xnum=True),
    # A valid file whose DT_NEEDED entries all name one string: together
    # they are longer than the file.
    "needed-shared": elf(EM_X86_64, ET_DYN, needed=["libshared-" + "x" * 40 + ".so.1"] * 8),
    "elf32": ident(cls=1) + bytes(36),
    "big-endian": ident(data=2) + bytes(48),
}


# fuzz-elf-closure installs its input as /usr/bin/prog and as libfuzz.so.1 in
# the multiarch directories of a small sysroot.
CLOSURE_SEEDS = {
    "self": elf(EM_X86_64, ET_DYN, interp="/usr/bin/prog", needed=["libfuzz.so.1"],
                runpath="$ORIGIN/../lib/${LIB}:/opt/$PLATFORM:/opt/up/up/etc"),
    "paths": elf(EM_X86_64, ET_DYN, needed=["libfuzz.so.1", "/lib/x86_64-linux-gnu/libfuzz.so.1",
                                           "$ORIGIN/../lib/x86_64-linux-gnu/libfuzz.so.1"],
                 rpath="$ORIGIN:${ORIGIN}/../../..:$LIB", soname="libfuzz.so.1"),
    "aarch64": elf(EM_AARCH64, ET_DYN, needed=["libfuzz.so.1"], soname="libfuzz.so.1"),
    "missing": elf(EM_X86_64, ET_EXEC, interp="/lib/ld.so", needed=["libnot.so"]),
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
    for sub, seeds in (("elf", SEEDS), ("elf-closure", CLOSURE_SEEDS)):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(out, sub, name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
