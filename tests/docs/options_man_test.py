#!/usr/bin/env python3
"""Every option a program's --help shows is in the OPTIONS section of its man page, and back.

Usage: options_man_test.py PROGRAM MAN_PAGE   (for skedd and skedd(8); skedctl has its own)
"""
import re
import subprocess
import sys

program, page = sys.argv[1], sys.argv[2]
shown = set()
for line in subprocess.run([program, "--help"], capture_output=True, text=True).stdout.splitlines():
    m = re.match(r"^  (-[A-Za-z0-9])?,?(--[A-Za-z0-9][A-Za-z0-9-]*)?", line)
    if m:
        shown |= {name for name in (m.group(1), m.group(2)) if name}
shown -= {"-h", "--help"}

man = open(page, encoding="utf-8").read().replace("\\-", "-")
options = re.search(r"^\.SH OPTIONS\n(.*?)^\.SH ", man, re.S | re.M)
failures = []
if not options:
    failures.append(f"{page} has no OPTIONS section")
    documented = set()
else:
    # The options a .TP item of the section names (its first line after .TP).
    documented = set()
    lines = options.group(1).splitlines()
    for i, line in enumerate(lines):
        if line.strip() == ".TP" and i + 1 < len(lines):
            documented |= set(re.findall(r"(?<![A-Za-z0-9-])(--?[A-Za-z][A-Za-z0-9-]*)", lines[i + 1]))
for option in sorted(shown - documented):
    failures.append(f"{program} {option}: in --help, not an item of OPTIONS in {page}")
for option in sorted(documented - shown - {"-h", "--help"}):
    failures.append(f"{page} OPTIONS: {option} is not in {program} --help")
for f in failures:
    print("FAIL:", f)
print(f"options and man: {len(shown)} options, {len(failures)} problem(s)")
sys.exit(1 if failures else 0)
