#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Counts the checks in a meson test log (meson-logs/testlog.json, one JSON
object per test), not the meson tests: each TAP line of a TAP test (the
integration scripts, and the unit test programs, which print one line per
test case), or the test itself when it speaks no TAP.

    count-tests.py LABEL TESTLOG.json

Prints "skip LABEL/TEST: CHECK: REASON" and "fail LABEL/TEST: CHECK" lines,
then "counts PASSED FAILED SKIPPED" last. A test that meson failed (crash,
timeout, wrong plan) without a failing TAP line counts one failure more.
"""
import json
import re
import sys

TAP_LINE = re.compile(r"^(not )?ok\b\s*(\d+)?\s*(?:-\s*)?(.*)$")
PLAN = re.compile(r"^1\.\.(\d+)\s*(?:#\s*(.*))?$")
DIRECTIVE = re.compile(r"\s#\s*(SKIP|TODO)\S*\s*(.*)$", re.IGNORECASE)
BAD = {"FAIL", "ERROR", "TIMEOUT", "UNEXPECTEDPASS", "INTERRUPT"}


def count(label, path):
    passed = failed = skipped = 0
    lines = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for raw in f:
            if not raw.strip():
                continue
            t = json.loads(raw)
            name = f"{label}/{t['name']}"
            result = t.get("result", "ERROR")
            out = t.get("stdout") or ""
            tap = False
            t_failed = 0
            for line in out.splitlines():
                m = PLAN.match(line)
                if m:
                    tap = True
                    if m.group(1) == "0":
                        skipped += 1
                        lines.append(f"skip {name}: {m.group(2) or 'no reason given'}")
                    continue
                m = TAP_LINE.match(line)
                if not m:
                    continue
                tap = True
                desc = m.group(3)
                d = DIRECTIVE.search(desc)
                if d and d.group(1).upper() == "SKIP":
                    skipped += 1
                    lines.append(f"skip {name}: {desc[:d.start()].strip()}: {d.group(2).strip()}")
                elif m.group(1):
                    if d and d.group(1).upper() == "TODO":
                        continue
                    failed += 1
                    t_failed += 1
                    lines.append(f"fail {name}: {desc}")
                else:
                    passed += 1
            if not tap:
                if result == "OK":
                    passed += 1
                elif result == "SKIP":
                    skipped += 1
                    why = (out.strip().splitlines() or ["exit status 77"])[-1]
                    lines.append(f"skip {name}: {why}")
                else:
                    failed += 1
                    lines.append(f"fail {name}: {result}")
            elif result in BAD and t_failed == 0:
                failed += 1
                lines.append(f"fail {name}: {result} (exit {t.get('returncode')}) with no failing check: "
                             "a crash, a timeout or a wrong plan")
    for line in lines:
        print(line)
    print(f"counts {passed} {failed} {skipped}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    count(sys.argv[1], sys.argv[2])
