#!/bin/bash
# contrib/poolkeeper.bash-completion in a real bash: commands, options, and
# pool and volume names from 'poolkeeper __complete' (the local repository,
# or the state database's last observation for a remote).
set -u
. "$PK_TEST_DATA/service/lib.sh" "$@"
setup_repo service-completion
pool_xml alpha "$T/alpha"
pool_xml beta "$T/beta"
vol_xml alpha one.raw 4
vol_xml alpha two.qcow2 4
vol_xml beta three.raw 4
commit pools

# shellcheck disable=SC1091
. "$PK_TEST_DATA/../contrib/poolkeeper.bash-completion"
poolkeeper() { "$PK" "$@"; }   # the completion calls 'poolkeeper' by name
compl() { # words of the line, the last one being completed
    COMP_WORDS=("$@")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMPREPLY=()
    _poolkeeper
    printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}

is "$(compl poolkeeper re)" "resume" "a command from its prefix"
is "$(compl poolkeeper s)" "status suspend" "every command with that prefix"
unlike "$(compl poolkeeper _)" '__complete' "the hidden command is not offered"
is "$(compl poolkeeper run --)" "$(printf '%s\n' --allow-mass-delete --config --desired --help --log-format --once --quiet --ref --state --trigger --verbose --worktree | sort | tr '\n' ' ' | sed 's/ $//')" \
    "run's options and the common ones"
is "$(compl poolkeeper plan --log-format '')" "json text" "values of --log-format"
is "$(compl poolkeeper dumpxml '')" "pool vol" "dumpxml: pool or vol"
is "$(compl poolkeeper dumpxml --desired "$R" pool '')" "alpha beta" "pool names from the desired repository"
is "$(compl poolkeeper adopt vol --desired "$R" alpha '')" "one.raw two.qcow2" "volume names of a pool"
is "$(compl poolkeeper adopt --desired "$R" vol beta t)" "three.raw" "filtered by prefix"
is "$(compl poolkeeper config '')" "check show" "config subcommands"

out=$("$PK" __complete pools --desired "$R"); rc=$?
is "$rc" 0 "__complete pools"
is "$(echo $out)" "alpha beta" "prints the pools, one a line"
out=$("$PK" __complete vols nope --desired "$R"); rc=$?
is "$rc:$out" "0:" "an unknown pool has no volumes"
out=$("$PK" __complete pools --desired "$T/nowhere" 2>&1); rc=$?
is "$rc:$out" "1:" "an unreadable repository: exit 1, and not a word on the terminal"
unlike "$("$PK" --help)" '__complete' "'poolkeeper --help' does not list it"

# a remote: names come from what the state database observed
tgit init -q --bare "$T/remote.git"
tgit -C "$R" push -q "$T/remote.git" HEAD:main
printf 'desired:\n  remote: file://%s/remote.git\nstate: %s/state.db\n' "$T" "$T" >"$T/pk.yaml"
"$PK" plan --config "$T/pk.yaml" >/dev/null 2>&1
is "$(compl poolkeeper dumpxml --config "$T/pk.yaml" pool '')" "alpha beta" "with a remote, the observed pools"
done_testing
