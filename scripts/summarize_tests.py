#!/usr/bin/env python3
"""Prints the closing line of the test command from meson's test log.

Usage: summarize_tests.py TESTLOG_JSON [FORMAT_FAILURES] [SUMMARY_LOG...]

Each doctest binary counts its test cases and each system test script counts
its own cases, so the line reports cases rather than meson targets. The
formatting check counts as one more case. Each SUMMARY_LOG is the output of
another runner, such as scripts/fuzz.sh, whose last "<name>: N passed, N
failed" line is added; a log without that line counts as one failure.
"""
import json
import re
import sys

DOCTEST = re.compile(r"test cases:\s*(\d+) \|\s*(\d+) passed \|\s*(\d+) failed")
SYSTEM = re.compile(r"^system: (\d+) passed, (\d+) failed", re.MULTILINE)
RUNNER = re.compile(r"^\w+: (\d+) passed, (\d+) failed", re.MULTILINE)


def count(entry):
    """Returns (passed, failed) for one meson test entry."""
    output = entry.get("stdout") or ""
    ok = entry.get("result") == "OK"
    for pattern in (DOCTEST, SYSTEM):
        matches = pattern.findall(output)
        if matches:
            last = matches[-1]
            passed, failed = int(last[-2]), int(last[-1])
            if not ok and failed == 0:
                failed = 1  # crashed or timed out after its last report
            return passed, failed
    return (1, 0) if ok else (0, 1)


def count_runner(path):
    """Returns (passed, failed) from the last summary line of a log."""
    with open(path, encoding="utf-8", errors="replace") as log:
        matches = RUNNER.findall(log.read())
    if not matches:
        return 0, 1
    return int(matches[-1][0]), int(matches[-1][1])


def main():
    passed = failed = 0
    with open(sys.argv[1], encoding="utf-8") as log:
        for line in log:
            if line.strip():
                p, f = count(json.loads(line))
                passed += p
                failed += f
    format_failures = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    passed += 1 - format_failures
    failed += format_failures
    for path in sys.argv[3:]:
        p, f = count_runner(path)
        passed += p
        failed += f
    print(f"{passed} passed, {failed} failed")


if __name__ == "__main__":
    main()
