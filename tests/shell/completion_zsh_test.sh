#!/bin/bash
# Tests etc/zsh-completion/_skedctl: types each line and a Tab into an interactive zsh (in a zpty,
# compinit with the file on $fpath) and takes the matches the completion adds (compadd's words
# that match what is typed), against the real skedctl (subcommands and options from its --help)
# and a real skedd in a temp dir (job names and run ids over its socket); run states, and zone
# names from the tz database (/usr/share/zoneinfo, and stand-ins through $TZDIR).
# What every shell's test checks is in completion_common.sh.
# Usage: tests/shell/completion_zsh_test.sh COMPLETION_FILE SKEDCTL SKEDD
# Skips (77) when there is no zsh.
set -u

# shellcheck source-path=SCRIPTDIR source=completion_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/completion_common.sh" || exit 1
needs zsh

# The completion as compinit finds it: a file named _skedctl in a directory on $fpath.
mkdir -p "$dir/fpath"
cp "$completion" "$dir/fpath/_skedctl" || exit 1

# capture.zsh COMPLETION_DIR WORK_DIR LINE: types LINE and a Tab in `zsh -f -i` in a zpty, with
# compinit and COMPLETION_DIR on $fpath; prints the words the completion adds that match what is
# typed (compadd -O, from a compadd wrapped for the test; after $IPREFIX, the part of the word
# the completion kept as typed), one a line, then ends that zsh. What
# the completion said on the terminal as an error (_skedctl...:LINE: ...) goes to stderr.
cat >"$dir/capture.zsh" <<'EOF'
zmodload zsh/zpty || exit 2
compdir=$1 work=$2 line=$3
out=$work/matches.$$
: >$out
zpty capture env TERM=xterm PS1= RPROMPT= zsh -f -i
zpty -w capture "fpath=(${(q)compdir} \$fpath); autoload -Uz compinit; compinit -u -d ${(q)work}/zcompdump"
zpty -w capture "compadd() {
  if [[ \${@[1,(i)(-|--)]} == *-(O|A|D)\\ * ]]; then builtin compadd \"\$@\"; return; fi
  local -a __hits; builtin compadd -O __hits \"\$@\"; (( \$#__hits )) && print -rl -- \$IPREFIX\$^__hits >>${(q)out}
  builtin compadd \"\$@\"
}"
zpty -w capture "_capture_done() { print -r -- __CAPTURE_DONE__ >>${(q)out} }; comppostfuncs=(_capture_done)"
zpty -w capture "bindkey '^I' complete-word; zstyle ':completion:*' list-prompt ''"
zpty -w -n capture "$line"$'\t'
integer n=0
tty=
while ! grep -q '^__CAPTURE_DONE__$' $out 2>/dev/null; do
  while zpty -r -t capture chunk 2>/dev/null; do tty+=$chunk; done
  if (( ++n > 500 )); then
    print -u2 "capture: no completion for '$line'"
    zpty -d capture
    rm -f $out
    exit 3
  fi
  sleep 0.02
done
sleep 0.05
while zpty -r -t capture chunk 2>/dev/null; do tty+=$chunk; done
zpty -d capture
print -r -- ${tty//$'\r'/} | grep -a -o -E '_(skedctl|describe|wanted|files|message)[a-z_]*:[0-9]+: .*' >&2
grep -v '^__CAPTURE_DONE__$' $out
rm -f $out
EOF

if ! zsh -fc 'zmodload zsh/zpty'; then
  echo "FAIL: zsh has no zsh/zpty module"
  exit 1
fi

# Completes LINE (the cursor at its end) and prints the matches sorted, one line, spaces between;
# what zsh said as an error, in front of them (so that no expectation holds).
complete_line() {
  zsh -f "$dir/capture.zsh" "$dir/fpath" "$dir" "$1" 2>&1 >"$dir/matches" | sed 's/^/error: /'
  sort "$dir/matches" | tr '\n' ' ' | sed 's/ $//'
}

# funcs NAME ARG...: what the completion's _skedctl_NAME prints, the file sourced in a zsh.
funcs() {
  local name=_skedctl_$1
  shift
  zsh -fc 'source "$1" && shift && "$@"' zsh "$completion" "$name" "$@"
}

# --- loading: from $fpath (above), or sourced after compinit ---
check "sourced after compinit, the file registers _skedctl for skedctl" "_skedctl" \
  "$(zsh -fc 'autoload -Uz compinit && compinit -u -d "$1/zcompdump-source" && source "$2" &&
    print -r -- $_comps[skedctl]' zsh "$dir" "$completion" 2>&1)"

expect_subcommands_and_options
touch "$dir/daemon.toml"
expect_has "$skedctl add --file $dir/" daemon.toml
expect_has "$skedctl --socket $dir/" daemon.toml
check_descriptions

expect_states_and_zones
expect_zone_files
# Read once a shell (and directory): the list stands when the directory changes under it.
check "zones read once a shell" "Foo/Bar Foo/Baz Qux|Foo/Bar Foo/Baz Qux|Etc/UTC Europe/Berlin UTC" \
  "$(TZDIR=$tz zsh -fc 'source "$1" && _skedctl_load_zones && print -rn -- "$_skedctl_zone_list|" &&
      rm "$TZDIR/tzdata.zi" && _skedctl_load_zones && print -rn -- "$_skedctl_zone_list|" &&
      TZDIR=$TZDIR/. && _skedctl_load_zones && print -rn -- "$_skedctl_zone_list"' zsh "$completion")"

expect_no_daemon
start_daemon
expect_job_names
expect_runs
expect_whole_words
expect "$skedctl --socket $sock wait beta.two\\~" "beta.two~1"       # the ~ escaped
check_runs_described
stop_daemon

expect_fake_names
expect_fake_whole_words
check_fake_runs_described

report zsh
