# shellcheck shell=bash
# What the completion tests share (completion_test.sh, completion_zsh_test.sh and
# completion_fish_test.sh source it first): their arguments, COMPLETION_FILE SKEDCTL SKEDD; a temp
# dir, removed on exit with the skedd run in it; the helpers; and the expectations that hold for
# every shell (or for zsh and fish, where named so), which each test calls in turn, its own in
# between. A test defines complete_line LINE (prints the candidates sorted, one line, spaces
# between); zsh's and fish's also funcs NAME ARG... (what the completion's function for NAME
# prints).

usage="usage: ${0##*/} COMPLETION_FILE SKEDCTL SKEDD"
# shellcheck disable=SC2034  # the tests use it
completion=${1:?$usage}
skedctl=${2:?$usage}
skedd=${3:?$usage}

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

failures=0
checks=0

# needs PROGRAM: skips the test (77) where PROGRAM is not installed.
needs() {
  command -v "$1" >/dev/null 2>&1 && return
  echo "SKIP: no $1 (scripts/install-deps installs it)"
  exit 77
}

# expect LINE WANTED: the candidates for LINE are exactly WANTED (sorted, space-separated).
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

# expect_has LINE WORD...: the candidates for LINE include every WORD.
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

# report SHELL: the summary; exits 1 if a check failed.
report() {
  if [[ $failures -ne 0 ]]; then
    echo "$1 completion: $failures of $checks checks failed"
    exit 1
  fi
  echo "$1 completion: $checks checks passed"
}

# --- subcommands and options, from the real skedctl's --help ---
expect_subcommands_and_options() {
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
}
# help_options [SUBCOMMAND]: the options its --help lists, one a line.
help_options() {
  "$skedctl" "$@" --help | awk '/^Options:/ { on = 1; next } on && /^[^ ]/ { on = 0 }
    on && /^  -/ { split(substr($0, 3), w, " "); n = split(w[1], f, ","); for (i = 1; i <= n; i++) print f[i] }'
}
# starting PREFIX: the lines that start with PREFIX, sorted, on one line.
starting() { grep -e "^$1" | sort | tr '\n' ' ' | sed 's/ $//'; }

# The descriptions zsh and fish show: the help's, for subcommands and options (also when the help
# puts an option's description on the next line).
check_descriptions() {
  check "the description of status" \
    "status	$("$skedctl" --help | sed -n 's/^  status  *//p')" \
    "$(funcs subcommands "$skedctl" | grep '^status	')"
  check "the description of history" \
    "history	$("$skedctl" --help | sed -n 's/^  runs, history  *//p')" \
    "$(funcs subcommands "$skedctl" | grep '^history	')"
  check "pause --run: takes a value, its description on the next line" \
    "--run	1	$("$skedctl" pause --help | sed -n '/^  --run /{n;s/^  *//p;}')" \
    "$(funcs options "$skedctl" pause | grep '^--run	')"
  check "pause --all: a flag, whatever its help says after it" \
    "--all	0	$("$skedctl" pause --help | sed -n 's/^  --all Excludes: job --run  *//p')" \
    "$(funcs options "$skedctl" pause | grep '^--all	')"
  check "runs -n: takes a value" "-n 1" \
    "$(funcs options "$skedctl" runs | awk -F'\t' '$1 == "-n" { print $1, $2 }')"
  check "logs -f and --follow: flags" "-f 0 --follow 0" \
    "$(funcs options "$skedctl" logs | awk -F'\t' '$1 ~ /f/ { printf "%s%s %s", sep, $1, $2; sep = " " }')"
}

# --- run states, and zone names where --help shows --tz or --timezone (no daemon needed) ---
# $zones: the real tz database's, empty where it has no tzdata.zi.
expect_states_and_zones() {
  local states="cancelled failed interrupted killed missed paused running scheduled skipped stalled succeeded timed_out"
  expect "$skedctl runs --state " "$states"
  expect "$skedctl history --state " "$states"
  expect "$skedctl runs --state s" "scheduled skipped stalled succeeded"
  expect "$skedctl runs --json --state t" "timed_out"
  expect "$skedctl runs --state zzz" ""

  local zoneinfo=/usr/share/zoneinfo
  zones=""
  if [[ -r $zoneinfo/tzdata.zi ]]; then
    # Every zone and link of tzdata.zi, and nothing from posix/ or right/.
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
}

# A stand-in tz database $tz, through $TZDIR; it ends with a tzdata.zi of Foo/Bar Foo/Baz Qux.
expect_zone_files() {
  # Without tzdata.zi: its zone files (TZif), not posix/, right/ or other files.
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
  # With tzdata.zi there, its names (zones and links) instead.
  printf '# version x\nZ Foo/Bar 0 - FB\nZ Foo/Baz 1 - FZ\nL Foo/Bar Qux\nR X 1 2 - J 1 0 0 -\n' \
    >"$tz/tzdata.zi"
  TZDIR=$tz expect "$skedctl next --tz " "Foo/Bar Foo/Baz Qux"
}

# --- job names and runs: nothing (and at once) when no daemon answers ---
expect_no_daemon() {
  expect "$skedctl --socket $dir/none.sock show " ""
  expect "$skedctl --socket $dir/none.sock pause a" ""
  expect "$skedctl --socket $dir/none.sock logs " ""
  expect "$skedctl --socket $dir/none.sock pause --run " ""
  expect "$skedctl --socket $dir/none.sock wait alpha~" ""
}

# --- job names from a real skedd ---
# A skedd on $sock with the jobs $jobs; exits 1 if it does not answer.
start_daemon() {
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
  jobs="alpha alpine-2 beta.two"
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
}

expect_job_names() {
  local sub first
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
  # --user: the user's own daemon, $XDG_RUNTIME_DIR/skedd.sock (this one's socket).
  XDG_RUNTIME_DIR=$dir expect "$skedctl --user show " "$jobs"
  XDG_RUNTIME_DIR=$dir/none expect "$skedctl --user show " ""
}

# --- runs: the job names and the 20 most recent run ids ---
# Runs beta.two twice, then alpha 21 times; $dir/run-ids: the run ids, newest first.
expect_runs() {
  local sub recent targets newest oldest
  expect "$skedctl --socket $sock logs " "$jobs"                    # no run yet: the jobs
  for _ in 1 2; do
    "$skedctl" --socket "$sock" trigger beta.two --wait >/dev/null 2>&1 || echo "FAIL: trigger beta.two"
  done
  for _ in $(seq 1 21); do
    "$skedctl" --socket "$sock" trigger alpha --wait >/dev/null 2>&1 || echo "FAIL: trigger alpha"
  done
  # The run ids as the runs table shows them, newest first: the newest 20 are alpha's.
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
  expect "$skedctl --socket $sock logs --follow " "$targets"          # past a flag
  expect "$skedctl --socket=$sock wait " "$targets"
  SKEDD_SOCKET=$sock expect "$skedctl cancel " "$targets"
  newest=$(head -n 1 "$dir/run-ids")
  oldest=$(tail -n 1 "$dir/run-ids")
  expect "$skedctl --socket $sock logs $newest" "$newest"
  expect "$skedctl --socket $sock logs $oldest" ""                    # not among the 20 newest
  expect "$skedctl --socket $sock logs ${newest:0:3}" "$(grep "^${newest:0:3}" "$dir/run-ids" | head -n 20 | sorted)"
  expect "$skedctl --socket $sock wait al" "alpha alpine-2"
  expect "$skedctl --socket $sock wait alpha " ""                     # one run only
  expect "$skedctl --socket $sock send alpha " ""                     # then the text
  expect "$skedctl --socket $sock send $newest " ""
  expect "$skedctl --socket $sock pause " "$jobs"                     # pause JOB: the jobs only
  expect "$skedctl --socket $sock pause --run $newest " "$jobs"
  # JOB~N: the runs before the job's latest (job:NAME is each shell's own).
  expect "$skedctl --socket $sock logs j" ""
  expect "$skedctl --socket $sock logs alpha~" "$(for n in $(seq 1 19); do echo "alpha~$n"; done | sorted)"
  expect "$skedctl --socket $sock pause --run alpha~1" "$(for n in 1 $(seq 10 19); do echo "alpha~$n"; done | sorted)"
  expect "$skedctl --socket $sock wait beta.two~" "beta.two~1"
  expect "$skedctl --socket $sock cancel alpine-2~" ""                # no run
  expect "$skedctl --socket $sock cancel nosuch~" ""
  expect "$skedctl --socket $sock logs alpha~3 " ""
}

# The runs as zsh and fish list them: newest first, each with its job and state.
check_runs_described() {
  check "the recent runs, described" \
    "$(head -n 20 "$dir/run-ids" | awk '{ print $1 "\talpha succeeded" }')" \
    "$(funcs runs "" "$skedctl" --socket "$sock")"
}

# zsh and fish complete the whole word: the socket as typed, job:NAME, a JOB~ quoted.
expect_whole_words() {
  expect "$skedctl --socket '$sock' show " "$jobs"                 # the socket as typed, unquoted
  expect "$skedctl --socket $sock logs job:" "job:alpha job:alpine-2 job:beta.two"
  expect "$skedctl --socket $sock logs job:al" "job:alpha job:alpine-2"
  expect "$skedctl --socket $sock wait 'beta.two~'" "beta.two~1"     # the ~ quoted
}

# Stops skedd: then no job is offered.
stop_daemon() {
  kill -TERM "$daemon_pid"
  wait "$daemon_pid"
  daemon_pid=""
  expect "$skedctl --socket $sock show " ""
}

# --- names with ':' (cron:FILE:HASH), through a stand-in skedctl, $fake ---
# What a word with a ':' is completed to is each shell's own.
expect_fake_names() {
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
  # A subcommand the completion does not know: what its help's first positional names.
  expect "$fake frob " "cron:backup:1a2b cron:backup:9f8e cron:daily:77aa plain"
  expect "$fake frob plain " ""
  expect "$fake twiddle " "41 42 cron:backup:1a2b cron:backup:9f8e cron:daily:77aa plain"
  expect "$fake twiddle --json 4" "41 42"
  expect "$fake other " ""
  expect "$fake logs " "41 42 cron:backup:1a2b cron:backup:9f8e cron:daily:77aa plain"
  expect "$fake logs 4" "41 42"
}

# zsh and fish complete the whole word: the whole names are offered.
expect_fake_whole_words() {
  expect "$fake show cron:" "cron:backup:1a2b cron:backup:9f8e cron:daily:77aa"
  expect "$fake show cron:backup:" "cron:backup:1a2b cron:backup:9f8e"
  expect "$fake show cron:backup:9" "cron:backup:9f8e"
  expect "$fake logs job:cron:backup:" "job:cron:backup:1a2b job:cron:backup:9f8e"
  expect "$fake logs cron:backup:1a2b~" "cron:backup:1a2b~1"
}

# The fake's runs as zsh and fish describe them, a "run" inside a string of its JSON not one.
check_fake_runs_described() {
  check "runs described from JSON with a \"run\" inside a string" \
    "42	plain running
41	cron:backup:1a2b failed" "$(funcs runs "" "$fake")"
}
