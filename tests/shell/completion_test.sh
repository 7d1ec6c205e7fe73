#!/bin/bash
# Tests etc/bash-completion/skedctl: sources it and calls _skedctl as bash would, with COMP_LINE,
# COMP_POINT, COMP_WORDS and COMP_CWORD set, against the real skedctl (subcommands and options
# from its --help) and a real skedd in a temp dir (job names over its socket).
# Usage: tests/shell/completion_test.sh COMPLETION_FILE SKEDCTL SKEDD
set -u

completion=${1:?usage: completion_test.sh COMPLETION_FILE SKEDCTL SKEDD}
skedctl=${2:?usage: completion_test.sh COMPLETION_FILE SKEDCTL SKEDD}
skedd=${3:?usage: completion_test.sh COMPLETION_FILE SKEDCTL SKEDD}

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

# shellcheck source=/dev/null
source "$completion" || exit 1
unset SKEDD_SOCKET

failures=0
checks=0

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

# --- subcommands and options, from the real skedctl's --help ---

# Every subcommand `skedctl --help` lists (read here with awk, apart from the completion's sed)
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
expect "$skedctl --" "--help --socket --user --version"
expect "$skedctl --socket $dir/none sh" "show"

expect "$skedctl pause --" "--all --help --json --run"
expect "$skedctl runs --" "--help --json --limit --since --state"
expect "$skedctl logs -" "--follow --help --json -f -h"
expect_has "$skedctl add --" --cron --every --at --command --file --json
expect "$skedctl runs --limit " ""
touch "$dir/daemon.toml"
expect_has "$skedctl add --file $dir/" "$dir/daemon.toml"
expect_has "$skedctl --socket $dir/" "$dir/daemon.toml"

# --- job names: nothing (and at once) when no daemon answers ---
expect "$skedctl --socket $dir/none.sock show " ""
expect "$skedctl --socket $dir/none.sock pause a" ""

# --- job names from a real skedd ---
mkdir -p "$dir/jobs.d"
cat >"$dir/daemon.toml" <<'EOF'
[daemon]
jobs_dir = "jobs.d"
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
expect "$skedctl --socket=$sock show " "$jobs"
expect "$skedctl --socket $sock show al" "alpha alpine-2"
expect "$skedctl --socket $sock show b" "beta.two"
expect "$skedctl --socket $sock show alpha " ""                  # one job only
expect "$skedctl --socket $sock runs --state failed " "$jobs"    # past an option's value
expect "$skedctl --socket $sock runs --json al" "alpha alpine-2"  # past a flag
expect "$skedctl --socket $sock status " ""
expect "$skedctl --socket $sock logs " ""
expect "$skedctl --socket $sock add " ""                          # a new name: nothing to offer
SKEDD_SOCKET=$dir/none.sock expect "$skedctl show " ""
SKEDD_SOCKET=$sock expect "$skedctl show a" "alpha alpine-2"

kill -TERM "$daemon_pid"
wait "$daemon_pid"
daemon_pid=""
expect "$skedctl --socket $sock show " ""

# --- names with ':' (cron:FILE:HASH), through a stand-in skedctl ---
# bash replaces only what follows the last ':' of the word, so that is what must be offered.
fake="$dir/fake-skedctl"
cat >"$fake" <<EOF
#!/bin/sh
case "\$*" in
  --help) exec "$skedctl" --help ;;
  "show --help") exec "$skedctl" show --help ;;
  "list --json") echo '{"id":1,"jobs":[{"last":null,"name":"cron:backup:1a2b","paused":false},{"name":"cron:backup:9f8e"},{"name":"cron:daily:77aa"},{"name":"plain"}],"ok":true}' ;;
  *) exit 1 ;;
esac
EOF
chmod +x "$fake"
expect "$fake show " "cron:backup:1a2b cron:backup:9f8e cron:daily:77aa plain"
expect "$fake show cr" "cron:backup:1a2b cron:backup:9f8e cron:daily:77aa"
expect "$fake show cron:" "backup:1a2b backup:9f8e daily:77aa"
expect "$fake show cron:backup:" "1a2b 9f8e"
expect "$fake show cron:backup:9" "9f8e"

if [[ $failures -ne 0 ]]; then
  echo "bash completion: $failures of $checks checks failed"
  exit 1
fi
echo "bash completion: $checks checks passed"
