# fish completion for skedctl(1)
# Installed as share/fish/vendor_completions.d/skedctl.fish (fish loads it the first time skedctl
# is completed), or copy it to ~/.config/fish/completions/.
#
# The same as the bash completion (etc/bash-completion/skedctl), with the descriptions fish shows.
# Everything comes from the skedctl being completed, at completion time, so it never goes stale:
# subcommands from `skedctl --help`, a subcommand's options from `skedctl SUB --help`, job names
# from `skedctl list --json` and recent runs from `skedctl runs --json -n 20` through the daemon
# (the same --socket / --user / $SKEDD_SOCKET as the command line); nothing is offered when the
# daemon cannot be reached. The values of --state are the run states, those of --tz and
# --timezone the zone names of the tz database ($TZDIR, else /usr/share/zoneinfo). No jq.

# The subcommands (aliases included) in the Subcommands section of `skedctl --help`, one a line
# as "NAME<TAB>DESCRIPTION".
function __skedctl_subcommands --argument-names bin
    $bin --help 2>/dev/null | awk '
    /^Subcommands:/ { on = 1; next }
    on && /^  [a-z]/ {
      spec = substr($0, 3); desc = ""
      if (match(spec, /  +/)) {
        desc = substr(spec, RSTART + RLENGTH)
        spec = substr(spec, 1, RSTART - 1)
      }
      n = split(spec, names, ", ")
      for (i = 1; i <= n; i++)
        if (names[i] ~ /^[a-z][a-z0-9-]*$/) print names[i] "\t" desc
    }'
end

# The options of `skedctl [SUB] --help`, one a line as "NAME<TAB>VALUE<TAB>DESCRIPTION": VALUE is
# 1 when the option takes a value (its help shows a type in capitals: TEXT, UINT, INT...), else 0.
function __skedctl_options --argument-names bin
    set -e argv[1]
    $bin $argv --help 2>/dev/null | awk '
    function flush(  i) {
      for (i = 1; i <= n; i++)
        if (nm[i] ~ /^--?[A-Za-z0-9][A-Za-z0-9-]*$/) print nm[i] "\t" val "\t" desc
      n = 0
    }
    /^Options:/ { on = 1; next }
    on && /^[^ ]/ { flush(); on = 0 }
    on && /^  -/ {
      flush()
      spec = substr($0, 3); desc = ""
      if (match(spec, /  +/)) {
        desc = substr(spec, RSTART + RLENGTH)
        spec = substr(spec, 1, RSTART - 1)
      }
      split(spec, w, " ")
      val = w[2] ~ /^[A-Z]+(:|$)/ ? 1 : 0
      n = split(w[1], nm, ",")
      if (desc != "") flush()
      next
    }
    on && n && /^    / { desc = $0; sub(/^ +/, "", desc); flush() }
    END { flush() }'
end

# The name of the first positional in `skedctl SUB --help` (job, run, name...), if any.
function __skedctl_positional --argument-names bin sub
    $bin $sub --help 2>/dev/null |
        awk '/^Positionals:/ { on = 1; next }
          on && /^[^ ]/ { exit }
          on && /^  [a-z]/ { print $1; exit }'
end

# Runs `SKEDCTL [GLOBAL...] ARGS...` for a daemon query, given 3 seconds where timeout(1) is.
function __skedctl_query
    if command -q timeout
        timeout 3 $argv 2>/dev/null
    else
        $argv 2>/dev/null
    end
end

# The names of the daemon's jobs, from `skedctl list --json` (nothing when unreachable).
function __skedctl_jobs
    __skedctl_query $argv list --json |
        grep -o '"name":"[^"\\\\]*"' | sed 's/^"name":"//; s/"$//' |
        grep -E '^[A-Za-z0-9][A-Za-z0-9_.:-]*$'
end

# The daemon's recent runs (JOB's when JOB is not empty), newest first, from
# `skedctl runs --json -n 20 [JOB]`, one a line as "ID<TAB>JOB STATE": JOB SKEDCTL [GLOBAL...]. A
# run object is flat, with one "job", one "run" and one "state" key.
function __skedctl_runs --argument-names job
    set -e argv[1]
    set -l only
    test -n "$job"; and set only $job
    __skedctl_query $argv runs --json -n 20 $only |
        grep -o -E '"(job|state)":"([^"\\\\]|\\\\.)*"|"run":[0-9]+' |
        awk -F'"' '
      $2 == "run" { run = substr($3, 2) }
      $2 == "job" { job = $4 }
      $2 == "state" { state = $4 }
      run != "" && job != "" && state != "" {
        if (!seen[run]++) print run "\t" job " " state
        run = job = state = ""
      }'
end

# Sets __skedctl_zone_list to the zone names of the tz database in $TZDIR (else
# /usr/share/zoneinfo): the zones and links of its tzdata.zi, or where there is none, the zone
# files (TZif) outside posix/ and right/. Read once a shell (and directory).
function __skedctl_load_zones
    set -l dir /usr/share/zoneinfo
    test -n "$TZDIR"; and set dir $TZDIR
    set -q __skedctl_zone_dir; and test "$__skedctl_zone_dir" = "$dir"; and return
    if test -r $dir/tzdata.zi
        set -g __skedctl_zone_list (awk '$1 == "Z" { print $2 } $1 == "L" { print $3 }' \
            $dir/tzdata.zi | env LC_ALL=C sort -u)
    else
        set -g __skedctl_zone_list (sh -c 'cd "$1" 2>/dev/null &&
            find . \( -path ./posix -o -path ./right \) -prune -o \( -type f -o -type l \) \
              -exec grep -l -m 1 "^TZif" {} + 2>/dev/null |
            sed -n "s#^\./\([A-Z]\)#\1#p" | LC_ALL=C sort -u' sh $dir)
    end
    set -g __skedctl_zone_dir $dir
end

# What names a run (CUR SKEDCTL [GLOBAL...]): the jobs (JOB: its latest run) and the recent run
# ids (described by their job and state, newest first); job:NAME for each job once CUR starts with
# job:, and JOB~1... (the runs before JOB's latest, as many as its recent runs) once CUR is JOB~.
function __skedctl_run_targets --argument-names cur
    set -e argv[1]
    set -l jobs (__skedctl_jobs $argv)
    set -q jobs[1]; and printf '%s\tjob (its latest run)\n' $jobs
    __skedctl_runs '' $argv
    if string match -q -- 'job:*' "$cur"; and set -q jobs[1]
        printf 'job:%s\tjob\n' $jobs
    end
    if string match -qr -- '^.+~' "$cur"
        set -l job (string replace -r -- '~.*' '' "$cur")
        if string match -qr -- '^[A-Za-z0-9][A-Za-z0-9_.:-]*$' "$job"
            set -l runs (__skedctl_runs $job $argv)
            set -l n (count $runs)
            if test $n -gt 1
                for k in (seq 1 (math $n - 1))
                    printf '%s~%s\trun before the latest of %s\n' $job $k $job
                end
            end
        end
    end
end

# The candidates for the word at the cursor, as "WORD<TAB>DESCRIPTION" lines; fish matches them
# against what is typed.
function __skedctl_complete
    set -l tokens (commandline -opc)
    # The word at the cursor without its quotes (what is tested of it has none); every string
    # call below is given its strings, lest it read them from standard input.
    set -l cur (commandline -ct)
    set cur (string replace -ra -- '[\\\\\'"]' '' "$cur")
    set -l bin (string replace -r -- '^~' $HOME $tokens[1])
    set -l n (count $tokens)

    # The global options before the subcommand: --socket and --user are passed on to the daemon
    # queries.
    set -l global
    set -l sub
    set -l i 2
    while test $i -le $n
        switch $tokens[$i]
            case --socket
                set -a global --socket $tokens[(math $i + 1)]
                set i (math $i + 2)
                continue
            case '--socket=*' --user
                set -a global $tokens[$i]
            case '-*'
            case '*'
                set sub $tokens[$i]
                break
        end
        set i (math $i + 1)
    end

    if test -z "$sub"
        if test $n -ge 2 -a "$tokens[-1]" = --socket
            __fish_complete_path $cur
        else if string match -q -- '-*' "$cur"
            __skedctl_options $bin | awk -F'\t' '{ print $1 "\t" $3 }'
        else
            __skedctl_subcommands $bin
        end
        return
    end

    # The subcommand's arguments: options, or the value of the option before the cursor, or a job
    # name or a run for the subcommands that take one (once, as their first positional).
    set -l entries (__skedctl_options $bin $sub)
    set -l valued
    for entry in $entries
        set -l fields (string split \t -- $entry)
        test "$fields[2]" = 1; and set -a valued $fields[1]
    end
    set -l prev $tokens[-1]
    if test $n -gt $i; and contains -- $prev $valued
        switch $prev
            case --file --socket
                __fish_complete_path $cur
            case --run
                __skedctl_run_targets "$cur" $bin $global
            case --state
                printf '%s\trun state\n' scheduled running paused succeeded failed timed_out \
                    killed skipped missed interrupted cancelled stalled
            case --tz --timezone
                __skedctl_load_zones
                set -q __skedctl_zone_list[1]; and printf '%s\ttime zone\n' $__skedctl_zone_list
        end
        return
    end
    if string match -q -- '-*' "$cur"
        set -q entries[1]; and printf '%s\n' $entries | awk -F'\t' '{ print $1 "\t" $3 }'
        return
    end

    # Positionals already given (a word that is neither an option nor an option's value).
    set -l positionals 0
    set -l skip_value 0
    for word in $tokens[(math $i + 1)..-1]
        if test $skip_value = 1
            set skip_value 0
        else if string match -q -- '-*' $word
            contains -- $word $valued; and set skip_value 1
        else
            set positionals (math $positionals + 1)
        end
    end
    test $positionals = 0; or return
    # A job for these, and wherever the first positional is "job"; a run for these, and wherever
    # it is "run".
    set -l takes
    switch $sub
        case show pause resume trigger runs history remove update
            set takes job
        case wait logs cancel send
            set takes run
        case '*'
            set takes (__skedctl_positional $bin $sub)
    end
    switch "$takes"
        case job
            set -l jobs (__skedctl_jobs $bin $global)
            set -q jobs[1]; and printf '%s\tjob\n' $jobs
        case run
            __skedctl_run_targets "$cur" $bin $global
    end
end

complete -c skedctl -f -k -a '(__skedctl_complete)'
