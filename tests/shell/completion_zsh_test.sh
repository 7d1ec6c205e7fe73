#!/bin/bash
# Tests etc/zsh-completion/_skedctl: types each line and a Tab into an interactive zsh (in a zpty,
# compinit with the file on $fpath) and takes the matches the completion adds (compadd's words
# that match what is typed), against the real skedctl (subcommands and options from its --help)
# and a real skedd in a temp dir (job names and run ids over its socket); run states, and zone
# names from the tz database (/usr/share/zoneinfo, and stand-ins through $TZDIR).
# Usage: tests/shell/completion_zsh_test.sh COMPLETION_FILE SKEDCTL SKEDD
# Skips (77) when there is no zsh.
set -u

completion=${1:?usage: completion_zsh_test.sh COMPLETION_FILE SKEDCTL SKEDD}
skedctl=${2:?usage: completion_zsh_test.sh COMPLETION_FILE SKEDCTL SKEDD}
skedd=${3:?usage: completion_zsh_test.sh COMPLETION_FILE SKEDCTL SKEDD}

if ! command -v zsh >/dev/null 2>&1; then
  echo "SKIP: no zsh (scripts/install-deps installs it)"
  exit 77
fi

dir=$(mktemp -d) || exit 1
daemon_pid=""
cleanup() {
  if [[ -n $daemon_pid ]]; then
    kill -KILL "$daemon_pid" 2>/dev/null
    wait "$daemon_pid" 2>/dev/null
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
unset SKEDD_SOCKET

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

failures=0
checks=0

# Completes LINE (the cursor at its end) and prints the matches sorted, one line, spaces between;
# what zsh said as an error, in front of them (so that no expectation holds).
complete_line() {
  zsh -f "$dir/capture.zsh" "$dir/fpath" "$dir" "$1" 2>&1 >"$dir/matches" | sed 's/^/error: /'
  sort "$dir/matches" | tr '\n' ' ' | sed 's/ $//'
}

# expect LINE WANTED: the matches for LINE are exactly WANTED (sorted, space-separated).
expect() {
  local got
  got=$(complete_line "$1")
  checks=$((checks + 1))
  if [[ $got != "$2" ]]; then
    echo "FAIL: '$1'"
    echo "  want: '$2'"
    echo "  got:  '$got'"
    failures=$((failures + 1))
  fi
}

# expect_has LINE WORD...: the matches for LINE include every WORD.
expect_has() {
  local line=$1 got word
  shift
  got=" $(complete_line "$line") "
  checks=$((checks + 1))
  for word in "$@"; do
    if [[ $got != *" $word "* ]]; then
      echo "FAIL: '$line': no '$word' in '$got'"
      failures=$((failures + 1))
    fi
  done
}

# check WHAT WANT GOT: a check of the completion's functions themselves.
check() {
  checks=$((checks + 1))
  if [[ $3 != "$2" ]]; then
    echo "FAIL: $1"
    echo "  want: '$2'"
    echo "  got:  '$3'"
    failures=$((failures + 1))
  fi
}

sorted() { tr ' ' '\n' | sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//'; }

# --- loading: from $fpath (above), or sourced after compinit ---
check "sourced after compinit, the file registers _skedctl for skedctl" "_skedctl" \
  "$(zsh -fc 'autoload -Uz compinit && compinit -u -d "$1/zcompdump-source" && source "$2" &&
    print -r -- $_comps[skedctl]' zsh "$dir" "$completion" 2>&1)"

# --- subcommands and options, from the real skedctl's --help ---

# Every subcommand `skedctl --help` lists (read here with awk, apart from the completion's own)
# is offered, aliases included, and nothing else.
all=$("$skedctl" --help | awk '
  /^Subcommands:/ { on = 1; next }
  on && /^  [a-z]/ { sub(/^  /, ""); split($0, f, "  "); n = split(f[1], names, ", ");
                     for (i = 1; i <= n; i++) print names[i] }' | sort | tr '\n' ' ' | sed 's/ $//')
if [[ -z $all ]]; then
  echo "FAIL: no subcommands in \`$skedctl --help\`"
  failures=$((failures + 1))
fi
expect "$skedctl " "$all"
expect_has "$skedctl " status list show pause resume trigger cancel runs history logs wait \
  reload add update remove next version
expect "$skedctl sta" "status"
expect "$skedctl hi" "history"
expect "$skedctl res" "resume"
expect "$skedctl zzz" ""
# Options as the help lists them (read here with awk), and the ones there have long been.
help_options() {
  "$skedctl" "$@" --help | awk '/^Options:/ { on = 1; next } on && /^[^ ]/ { on = 0 }
    on && /^  -/ { split(substr($0, 3), w, " "); n = split(w[1], f, ","); for (i = 1; i <= n; i++) print f[i] }'
}
starting() { grep -e "^$1" | sort | tr '\n' ' ' | sed 's/ $//'; }
expect "$skedctl --" "$(help_options | starting --)"
expect_has "$skedctl --" --help --socket --user --version
expect "$skedctl --socket $dir/none sh" "show"

expect "$skedctl pause --" "$(help_options pause | starting --)"
expect_has "$skedctl pause --" --all --help --json --run
expect "$skedctl runs --" "$(help_options runs | starting --)"
expect_has "$skedctl runs --" --help --json --limit --since --state
expect "$skedctl logs -" "$(help_options logs | starting -)"
expect_has "$skedctl logs -" --follow --help --json -f -h
expect_has "$skedctl add --" --cron --every --at --command --file --json
expect "$skedctl runs --limit " ""
touch "$dir/daemon.toml"
expect_has "$skedctl add --file $dir/" daemon.toml
expect_has "$skedctl --socket $dir/" daemon.toml

# The descriptions zsh shows: the help's, for subcommands and options (also when the help puts
# an option's description on the next line).
funcs() { zsh -fc 'source "$1" && shift && "$@"' zsh "$completion" "$@"; }
check "the description of status" \
  "status	$("$skedctl" --help | sed -n 's/^  status  *//p')" \
  "$(funcs _skedctl_subcommands "$skedctl" | grep '^status	')"
check "the description of history" \
  "history	$("$skedctl" --help | sed -n 's/^  runs, history  *//p')" \
  "$(funcs _skedctl_subcommands "$skedctl" | grep '^history	')"
check "pause --run: takes a value, its description on the next line" \
  "--run	1	$("$skedctl" pause --help | sed -n '/^  --run /{n;s/^  *//p;}')" \
  "$(funcs _skedctl_options "$skedctl" pause | grep '^--run	')"
check "pause --all: a flag, whatever its help says after it" \
  "--all	0	$("$skedctl" pause --help | sed -n 's/^  --all Excludes: job --run  *//p')" \
  "$(funcs _skedctl_options "$skedctl" pause | grep '^--all	')"
check "runs -n: takes a value" "-n 1" \
  "$(funcs _skedctl_options "$skedctl" runs | awk -F'\t' '$1 == "-n" { print $1, $2 }')"
check "logs -f and --follow: flags" "-f 0 --follow 0" \
  "$(funcs _skedctl_options "$skedctl" logs | awk -F'\t' '$1 ~ /f/ { printf "%s%s %s", sep, $1, $2; sep = " " }')"

# --- run states, and zone names where --help shows --tz or --timezone (no daemon needed) ---
states="cancelled failed interrupted killed missed paused running scheduled skipped stalled succeeded timed_out"
expect "$skedctl runs --state " "$states"
expect "$skedctl history --state " "$states"
expect "$skedctl runs --state s" "scheduled skipped stalled succeeded"
expect "$skedctl runs --json --state t" "timed_out"
expect "$skedctl runs --state zzz" ""

zoneinfo=/usr/share/zoneinfo
if [[ -r $zoneinfo/tzdata.zi ]]; then
  zones=$(awk '$1 == "Z" || $1 == "L" { print $1 == "Z" ? $2 : $3 }' "$zoneinfo/tzdata.zi" |
    sort -u | tr '\n' ' ' | sed 's/ $//')
  expect "$skedctl next --tz " "$zones"
  expect "$skedctl next --tz Europe/Berl" "Europe/Berlin"
  expect "$skedctl next --json --tz UT" "UTC"
  expect "$skedctl add --timezone America/New_Y" "America/New_York"
  expect "$skedctl update --cron '0 3 * * *' --timezone Asia/Tok" "Asia/Tokyo"
  expect "$skedctl next --tz posix" ""
  expect "$skedctl next --tz right/" ""
else
  echo "note: no $zoneinfo/tzdata.zi, the zones of the real tz database are not checked"
fi
tz="$dir/zoneinfo"
mkdir -p "$tz/Europe" "$tz/Etc" "$tz/posix/Europe" "$tz/right/Europe"
printf 'TZif2\0\0\0' >"$tz/Europe/Berlin"
printf 'TZif2\0\0\0' >"$tz/Etc/UTC"
ln -s Etc/UTC "$tz/UTC"
cp "$tz/Europe/Berlin" "$tz/posix/Europe/Berlin"
cp "$tz/Europe/Berlin" "$tz/right/Europe/Paris"
cp "$tz/Europe/Berlin" "$tz/posixrules"
printf '# tz zone descriptions\nDE\t+5230+01322\tEurope/Berlin\n' >"$tz/zone.tab"
printf 'not a zone\n' >"$tz/Europe/README"
TZDIR=$tz expect "$skedctl next --tz " "Etc/UTC Europe/Berlin UTC"
TZDIR=$tz expect "$skedctl add --timezone E" "Etc/UTC Europe/Berlin"
printf '# version x\nZ Foo/Bar 0 - FB\nZ Foo/Baz 1 - FZ\nL Foo/Bar Qux\nR X 1 2 - J 1 0 0 -\n' \
  >"$tz/tzdata.zi"
TZDIR=$tz expect "$skedctl next --tz " "Foo/Bar Foo/Baz Qux"
# Read once a shell (and directory): the list stands when the directory changes under it.
check "zones read once a shell" "Foo/Bar Foo/Baz Qux|Foo/Bar Foo/Baz Qux|Etc/UTC Europe/Berlin UTC" \
  "$(TZDIR=$tz zsh -fc 'source "$1" && _skedctl_load_zones && print -rn -- "$_skedctl_zone_list|" &&
      rm "$TZDIR/tzdata.zi" && _skedctl_load_zones && print -rn -- "$_skedctl_zone_list|" &&
      TZDIR=$TZDIR/. && _skedctl_load_zones && print -rn -- "$_skedctl_zone_list"' zsh "$completion")"

# --- job names and runs: nothing (and at once) when no daemon answers ---
expect "$skedctl --socket $dir/none.sock show " ""
expect "$skedctl --socket $dir/none.sock pause a" ""
expect "$skedctl --socket $dir/none.sock logs " ""
expect "$skedctl --socket $dir/none.sock pause --run " ""
expect "$skedctl --socket $dir/none.sock wait alpha~" ""

# --- job names from a real skedd ---
mkdir -p "$dir/jobs.d"
cat >"$dir/daemon.toml" <<'EOF'
[daemon]
jobs_dir = "jobs.d"
run_host = false  # runs as skedd's children: nothing outlives the test
EOF
cat >"$dir/jobs.d/jobs.toml" <<'EOF'
[job.alpha]
cron = "0 3 1 1 *"
command = ["/bin/true"]

[job.alpine-2]
cron = "0 3 1 1 *"
command = ["/bin/true"]

[job."beta.two"]
every = "1h"
command = "true"
EOF
sock="$dir/skedd.sock"
"$skedd" --config "$dir/daemon.toml" --state-dir "$dir/state" --socket "$sock" --no-cgroups \
  </dev/null >"$dir/skedd.out" 2>"$dir/skedd.log" &
daemon_pid=$!
for _ in $(seq 1 100); do
  "$skedctl" --socket "$sock" status >/dev/null 2>&1 && break
  sleep 0.1
done
if ! "$skedctl" --socket "$sock" status >/dev/null 2>&1; then
  echo "FAIL: skedd did not answer on $sock; its log:"
  cat "$dir/skedd.log"
  exit 1
fi

jobs="alpha alpine-2 beta.two"
for sub in show pause resume trigger runs history remove update; do
  expect "$skedctl --socket $sock $sub " "$jobs"
done
# And every subcommand whose help names "job" as its first positional (read here with awk).
for sub in $all; do
  first=$("$skedctl" "$sub" --help 2>/dev/null | awk '/^Positionals:/ { on = 1; next }
    on && /^[^ ]/ { exit } on && /^  [a-z]/ { print $1; exit }')
  [[ $first == job ]] && expect "$skedctl --socket $sock $sub " "$jobs"
done
expect "$skedctl --socket=$sock show " "$jobs"
expect "$skedctl --socket '$sock' show " "$jobs"                 # the socket as typed, unquoted
expect "$skedctl --socket $sock show al" "alpha alpine-2"
expect "$skedctl --socket $sock show b" "beta.two"
expect "$skedctl --socket $sock show alpha " ""                  # one job only
expect "$skedctl --socket $sock runs --state failed " "$jobs"    # past an option's value
expect "$skedctl --socket $sock runs --json al" "alpha alpine-2"  # past a flag
expect "$skedctl --socket $sock reload " ""
expect "$skedctl --socket $sock validate " ""
expect "$skedctl --socket $sock add " ""                          # a new name: nothing to offer
SKEDD_SOCKET=$dir/none.sock expect "$skedctl show " ""
SKEDD_SOCKET=$sock expect "$skedctl show a" "alpha alpine-2"
XDG_RUNTIME_DIR=$dir expect "$skedctl --user show " "$jobs"
XDG_RUNTIME_DIR=$dir/none expect "$skedctl --user show " ""

# --- runs: the job names and the 20 most recent run ids ---
expect "$skedctl --socket $sock logs " "$jobs"                    # no run yet: the jobs
for _ in 1 2; do
  "$skedctl" --socket "$sock" trigger beta.two --wait >/dev/null 2>&1 || echo "FAIL: trigger beta.two"
done
for _ in $(seq 1 21); do
  "$skedctl" --socket "$sock" trigger alpha --wait >/dev/null 2>&1 || echo "FAIL: trigger alpha"
done
"$skedctl" --socket "$sock" runs -n 100 | awk '$1 ~ /^[0-9]+$/ { print $1 }' >"$dir/run-ids"
if [[ $(wc -l <"$dir/run-ids") -ne 23 ]]; then
  echo "FAIL: 23 runs expected, the runs table shows:"
  "$skedctl" --socket "$sock" runs -n 100
  failures=$((failures + 1))
fi
recent=$(head -n 20 "$dir/run-ids" | tr '\n' ' ')
targets=$(echo "$jobs $recent" | sorted)
for sub in wait logs cancel send; do
  expect "$skedctl --socket $sock $sub " "$targets"
done
expect "$skedctl --socket $sock pause --run " "$targets"
expect "$skedctl --socket $sock resume --run " "$targets"
expect "$skedctl --socket $sock resume --json --run " "$targets"
expect "$skedctl --socket $sock logs --follow " "$targets"
expect "$skedctl --socket=$sock wait " "$targets"
SKEDD_SOCKET=$sock expect "$skedctl cancel " "$targets"
newest=$(head -n 1 "$dir/run-ids")
oldest=$(tail -n 1 "$dir/run-ids")
expect "$skedctl --socket $sock logs $newest" "$newest"
expect "$skedctl --socket $sock logs $oldest" ""
expect "$skedctl --socket $sock logs ${newest:0:3}" "$(grep "^${newest:0:3}" "$dir/run-ids" | head -n 20 | sorted)"
expect "$skedctl --socket $sock wait al" "alpha alpine-2"
expect "$skedctl --socket $sock wait alpha " ""
expect "$skedctl --socket $sock send alpha " ""
expect "$skedctl --socket $sock send $newest " ""
expect "$skedctl --socket $sock pause " "$jobs"
expect "$skedctl --socket $sock pause --run $newest " "$jobs"
expect "$skedctl --socket $sock logs job:" "job:alpha job:alpine-2 job:beta.two"
expect "$skedctl --socket $sock logs job:al" "job:alpha job:alpine-2"
expect "$skedctl --socket $sock logs j" ""
expect "$skedctl --socket $sock logs alpha~" "$(for n in $(seq 1 19); do echo "alpha~$n"; done | sorted)"
expect "$skedctl --socket $sock pause --run alpha~1" "$(for n in 1 $(seq 10 19); do echo "alpha~$n"; done | sorted)"
expect "$skedctl --socket $sock wait beta.two~" "beta.two~1"
expect "$skedctl --socket $sock wait 'beta.two~'" "beta.two~1"     # the ~ quoted
expect "$skedctl --socket $sock wait beta.two\\~" "beta.two~1"
expect "$skedctl --socket $sock cancel alpine-2~" ""
expect "$skedctl --socket $sock cancel nosuch~" ""
expect "$skedctl --socket $sock logs alpha~3 " ""
# The runs as zsh lists them: newest first, each with its job and state.
check "the recent runs, described" \
  "$(head -n 20 "$dir/run-ids" | awk '{ print $1 "\talpha succeeded" }')" \
  "$(funcs _skedctl_runs "" "$skedctl" --socket "$sock")"

kill -TERM "$daemon_pid"
wait "$daemon_pid"
daemon_pid=""
expect "$skedctl --socket $sock show " ""

# --- names with ':' (cron:FILE:HASH), through a stand-in skedctl ---
# zsh completes the whole word: the whole names are offered.
mkdir -p "$dir/fake"
fake="$dir/fake/skedctl"
cat >"$fake" <<EOF
#!/bin/sh
case "\$*" in
  --help) exec "$skedctl" --help ;;
  "show --help") exec "$skedctl" show --help ;;
  "logs --help") exec "$skedctl" logs --help ;;
  "frob --help") printf 'frob\nUsage: skedctl frob [OPTIONS] job [n]\n\nPositionals:\n  job TEXT REQUIRED   a job\n  n INT   a number\n\nOptions:\n  -h,--help   help\n' ;;
  "twiddle --help") printf 'twiddle\nUsage: skedctl twiddle [OPTIONS] run\n\nPositionals:\n  run TEXT REQUIRED   a run\n\nOptions:\n  --json   JSON\n' ;;
  "other --help") printf 'other\nUsage: skedctl other [OPTIONS] thing\n\nPositionals:\n  thing TEXT   a thing\n' ;;
  "list --json") echo '{"id":1,"jobs":[{"last":null,"name":"cron:backup:1a2b","paused":false},{"name":"cron:backup:9f8e"},{"name":"cron:daily:77aa"},{"name":"plain"}],"ok":true}' ;;
  "runs --json -n 20") echo '{"id":1,"ok":true,"runs":[{"job":"plain","log":"/x/\\\\"run\\\\":7","run":42,"state":"running"},{"job":"cron:backup:1a2b","run":41,"state":"failed"}]}' ;;
  "runs --json -n 20 cron:backup:1a2b") echo '{"ok":true,"runs":[{"job":"cron:backup:1a2b","run":41,"state":"failed"},{"job":"cron:backup:1a2b","run":40,"state":"succeeded"}]}' ;;
  *) exit 1 ;;
esac
EOF
chmod +x "$fake"
expect "$fake show " "cron:backup:1a2b cron:backup:9f8e cron:daily:77aa plain"
expect "$fake show cr" "cron:backup:1a2b cron:backup:9f8e cron:daily:77aa"
expect "$fake show cron:" "cron:backup:1a2b cron:backup:9f8e cron:daily:77aa"
expect "$fake show cron:backup:" "cron:backup:1a2b cron:backup:9f8e"
expect "$fake show cron:backup:9" "cron:backup:9f8e"
# A subcommand the completion does not know: what its help's first positional names.
expect "$fake frob " "cron:backup:1a2b cron:backup:9f8e cron:daily:77aa plain"
expect "$fake frob plain " ""
expect "$fake twiddle " "41 42 cron:backup:1a2b cron:backup:9f8e cron:daily:77aa plain"
expect "$fake twiddle --json 4" "41 42"
expect "$fake other " ""
expect "$fake logs " "41 42 cron:backup:1a2b cron:backup:9f8e cron:daily:77aa plain"
expect "$fake logs 4" "41 42"
expect "$fake logs job:cron:backup:" "job:cron:backup:1a2b job:cron:backup:9f8e"
expect "$fake logs cron:backup:1a2b~" "cron:backup:1a2b~1"
check "runs described from JSON with a \"run\" inside a string" \
  "42	plain running
41	cron:backup:1a2b failed" "$(funcs _skedctl_runs "" "$fake")"

if [[ $failures -ne 0 ]]; then
  echo "zsh completion: $failures of $checks checks failed"
  exit 1
fi
echo "zsh completion: $checks checks passed"
