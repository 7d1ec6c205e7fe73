#!/usr/bin/env python3
"""Every command and option skedctl's --help shows is in skedctl(1), and back.

Usage: help_man_test.py SKEDCTL MAN_PAGE

A command is documented by a .SS heading that starts with its name; its options (long ones,
and short ones without a long name) are documented in its section, or in the page's general
part (before the first .SS) for those every command shares (--json, --help). Back: every
.SS heading names a command, and every option a heading shows is one the command takes.
"""
import re
import subprocess
import sys

skedctl, page = sys.argv[1], sys.argv[2]
failures = []


def help_of(*args):
    return subprocess.run([skedctl, *args, "--help"], capture_output=True, text=True).stdout


def section(text, title):
    """The lines of `text` from a line equal to `title` up to the next unindented line."""
    out, inside = [], False
    for line in text.splitlines():
        if line.strip() == title:
            inside = True
            continue
        if inside and line and not line.startswith(" "):
            break
        if inside:
            out.append(line)
    return out


def options_of(lines):
    """The options a --help section lists: each long name, or the short one when it has none."""
    found = set()
    for line in lines:
        m = re.match(r"^  (-[A-Za-z0-9])?,?(--[A-Za-z0-9][A-Za-z0-9-]*)?", line)
        if not m or not (m.group(1) or m.group(2)):
            continue
        found.add(m.group(2) or m.group(1))
    return found


commands = {}
for line in section(help_of(), "Subcommands:"):
    m = re.match(r"^  ([a-z][a-z0-9-]*)(?:, ([a-z][a-z0-9-]*))?\s", line + " ")
    if m:
        commands[m.group(1)] = m.group(2)

# The page, with groff's escapes for '-' undone, split into its general part and its .SS
# sections (a .TQ joins the next heading to the same section).
man = open(page, encoding="utf-8").read().replace("\\-", "-")
general, sections, current = [], {}, None
heading_lines = []
pending_tq = False
for line in man.splitlines():
    if line.startswith(".SS "):
        title = line[4:].strip().strip('"')
        title = re.sub(r"\\f[BIRP]", "", title)
        name = title.split()[0] if title.split() else ""
        if name[:1].isupper():  # a general subsection ("Runs"), not a command's
            current = None
            pending_tq = False
            continue
        heading_lines.append((name, title))
        if pending_tq and current is not None:
            sections.setdefault(name, sections[current])
            sections[name] = sections[current]
        else:
            sections[name] = []
        current = name
        pending_tq = False
        continue
    if line.startswith(".SH "):
        if line.startswith(".SH DESCRIPTION") or current is None:
            pass
        current = None if not line.startswith(".SH EXIT") else None
        continue
    if line.strip() == ".TQ":
        pending_tq = True
        continue
    (sections[current] if current is not None else general).append(line)

general_text = "\n".join(general)
for command, alias in sorted(commands.items()):
    if command not in sections:
        failures.append(f"skedctl {command}: in --help, no .SS section in {page}")
        continue
    if alias and alias not in man:
        failures.append(f"skedctl {command}: its alias {alias} is not in {page}")
    text = "\n".join(sections[command]) + "\n" + "\n".join(
        title for name, title in heading_lines if name == command)
    for option in sorted(options_of(section(help_of(command), "Options:"))):
        if option in ("-h", "--help"):
            continue
        pattern = re.escape(option) + r"(?![A-Za-z0-9-])"
        if not re.search(pattern, text) and not re.search(pattern, general_text):
            failures.append(f"skedctl {command} {option}: in --help, not in its section of {page}")

for name, title in heading_lines:
    if name not in commands and name not in commands.values():
        failures.append(f".SS {title}: no such command in skedctl --help")
        continue
    taken = options_of(section(help_of(name), "Options:"))
    taken |= {o for o in options_of(section(help_of(), "Options:"))}
    for option in re.findall(r"(?<![A-Za-z0-9-])(--?[A-Za-z][A-Za-z0-9-]*)", title):
        short = {line.split(",")[0].strip() for line in section(help_of(name), "Options:")
                 if re.match(r"^  -[A-Za-z0-9],", line)}
        if option not in taken and option not in short:
            failures.append(f".SS {title}: skedctl {name} takes no {option}")

for f in failures:
    print("FAIL:", f)
print(f"help and man: {len(commands)} commands, {len(failures)} problem(s)")
sys.exit(1 if failures else 0)
