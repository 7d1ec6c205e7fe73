#!/bin/bash
# Tests etc/bash-completion/skedctl: sources it and calls _skedctl as bash would, with COMP_LINE,
# COMP_POINT, COMP_WORDS and COMP_CWORD set, against the real skedctl (subcommands and options
# from its --help) and a real skedd in a temp dir (job names and run ids over its socket); run
# states, and zone names from the tz database (/usr/share/zoneinfo, and stand-ins through $TZDIR).
# What every shell's test checks is in completion_common.sh.
# Usage: tests/shell/completion_test.sh COMPLETION_FILE SKEDCTL SKEDD
set -u

# shellcheck source-path=SCRIPTDIR source=completion_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/completion_common.sh" || exit 1

# shellcheck source=/dev/null
source "$completion" || exit 1

# Completes LINE (the cursor at its end) and prints the candidates sorted, one line, spaces
# between. COMP_WORDS is split as bash splits it with the default COMP_WORDBREAKS.
complete_line() {
  COMP_LINE=$1
  COMP_POINT=${#1}
  local split=${1//:/ : }
  read -r -a COMP_WORDS <<<"$split"
  [[ -z $1 || $1 == *[[:space:]] ]] && COMP_WORDS+=("")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  _skedctl skedctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]:-}"
  printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}

expect_subcommands_and_options
touch "$dir/daemon.toml"
expect_has "$skedctl add --file $dir/" "$dir/daemon.toml"
expect_has "$skedctl --socket $dir/" "$dir/daemon.toml"

expect_states_and_zones
[[ -n $zones ]] && expect "$skedctl next --tz Europe/Berlin " ""   # an expression: nothing
expect_zone_files
# Read once a shell (and directory): completing in this shell keeps the list, which then stands
# when the directory changes under it.
COMP_LINE="$skedctl next --tz F"
COMP_POINT=${#COMP_LINE}
TZDIR=$tz _skedctl
check "zones kept" "$tz|Foo/Bar Foo/Baz" "${_skedctl_zone_dir-}|${COMPREPLY[*]}"
rm "$tz/tzdata.zi"
TZDIR=$tz _skedctl
check "zones not read again" "Foo/Bar Foo/Baz" "${COMPREPLY[*]}"

expect_no_daemon
start_daemon
expect_job_names
expect_runs
# job:NAME: bash replaces what follows the ':'.
expect "$skedctl --socket $sock logs job:" "alpha alpine-2 beta.two"
expect "$skedctl --socket $sock logs job:al" "alpha alpine-2"
stop_daemon

# bash replaces only what follows the last ':' of the word, so that is what must be offered.
expect_fake_names
expect "$fake show cron:" "backup:1a2b backup:9f8e daily:77aa"
expect "$fake show cron:backup:" "1a2b 9f8e"
expect "$fake show cron:backup:9" "9f8e"
expect "$fake logs cron:backup:" "1a2b 9f8e"
expect "$fake logs job:cron:backup:" "1a2b 9f8e"
expect "$fake logs job:p" "plain"
expect "$fake logs cron:backup:1a2b~" "1a2b~1"

report bash
