#!/bin/bash
# Tests etc/fish-completion/skedctl.fish: completes each line with fish's `complete -C LINE` (the
# file on $fish_complete_path, loaded as fish loads it), against the real skedctl (subcommands and
# options from its --help) and a real skedd in a temp dir (job names and run ids over its socket);
# run states, and zone names from the tz database (/usr/share/zoneinfo, and stand-ins through
# $TZDIR).
# What every shell's test checks is in completion_common.sh.
# Usage: tests/shell/completion_fish_test.sh COMPLETION_FILE SKEDCTL SKEDD
# Skips (77) when there is no fish.
# shellcheck disable=SC2016  # the fish code in single quotes is fish's to expand
set -u

# shellcheck source-path=SCRIPTDIR source=completion_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/completion_common.sh" || exit 1
needs fish

# The completion as fish finds it: skedctl.fish in a directory on $fish_complete_path, loaded the
# first time a skedctl on $PATH is completed. fish keeps its files in the temp dir.
mkdir -p "$dir/completions" "$dir/bin" "$dir/config" "$dir/data"
cp "$completion" "$dir/completions/skedctl.fish" || exit 1
skedctl_abs=$(cd "$(dirname "$skedctl")" && pwd)/$(basename "$skedctl")
ln -s "$skedctl_abs" "$dir/bin/skedctl"
export PATH="$dir/bin:$PATH" XDG_CONFIG_HOME="$dir/config" XDG_DATA_HOME="$dir/data"

# Completes LINE (the cursor at its end) and prints the candidates sorted, one line, spaces
# between; what fish said on stderr, in front of them (so that no expectation holds). fish matches
# the candidates against the word itself, falling back to fuzzy matches when none starts with it:
# only those that start with the word (its quotes removed) are the completion's.
complete_line() {
  local word=${1##* }
  word=${word//[\'\"]/}
  fish --no-config -c 'set -p fish_complete_path $argv[1]; complete -C $argv[2]' \
    "$dir/completions" "$1" </dev/null 2>"$dir/stderr" >"$dir/candidates"
  sed 's/^/error: /' "$dir/stderr"
  cut -f1 "$dir/candidates" | awk -v w="$word" 'substr($0, 1, length(w)) == w' |
    sort | tr '\n' ' ' | sed 's/ $//'
}

# funcs NAME ARG...: what the completion's __skedctl_NAME prints, the file sourced in a fish.
funcs() {
  local name=__skedctl_$1
  shift
  fish --no-config -c 'source $argv[1]; and $argv[2..-1]' "$completion" "$name" "$@"
}

# --- loading: fish loads the file for skedctl (on $PATH, or as a path) ---
expect "skedctl sta" "status"
check "the file parses" "" "$(fish --no-config --no-execute "$completion" 2>&1)"

expect_subcommands_and_options
touch "$dir/daemon.toml"
expect_has "$skedctl add --file $dir/" "$dir/daemon.toml"
expect_has "$skedctl --socket $dir/" "$dir/daemon.toml"
check_descriptions
check "the descriptions as fish shows them" \
  "pause	$("$skedctl" --help | sed -n 's/^  pause  *//p')" \
  "$(fish --no-config -c 'set -p fish_complete_path $argv[1]; complete -C "skedctl pau"' "$dir/completions")"

expect_states_and_zones
expect_zone_files
# Read once a shell (and directory): the list stands when the directory changes under it.
check "zones read once a shell" "Foo/Bar Foo/Baz Qux|Foo/Bar Foo/Baz Qux|Etc/UTC Europe/Berlin UTC" \
  "$(TZDIR=$tz fish --no-config -c 'source $argv[1]; __skedctl_load_zones; echo -n "$__skedctl_zone_list|"
      rm $TZDIR/tzdata.zi; __skedctl_load_zones; echo -n "$__skedctl_zone_list|"
      set TZDIR $TZDIR/.; __skedctl_load_zones; echo -n "$__skedctl_zone_list"' "$completion")"

expect_no_daemon
start_daemon
expect_job_names
expect "skedctl --socket $sock show " "$jobs"                     # the skedctl on $PATH
expect_runs
expect_whole_words
check_runs_described
stop_daemon

expect_fake_names
expect_fake_whole_words
check_fake_runs_described

report fish
