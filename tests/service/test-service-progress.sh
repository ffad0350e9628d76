#!/bin/bash
# The progress line of apply (and of the observation before it): drawn on a
# terminal, rate-limited, erased at the end; never when stderr is a pipe,
# nor with -q. The terminal is a pseudo-terminal from script(1).
set -u
. "$PK_TEST_DATA/service/lib.sh" "$@"
setup_repo service-progress
pool_xml p "$T/pool"
for i in $(seq -w 1 400); do vol_xml p v$i.raw 4; done
commit "400 volumes"
on_tty() { # OUTFILE ARGS...: run poolkeeper ARGS on a pseudo-terminal
    local out=$1 cmd
    shift
    cmd=$(printf '%q ' "$PK" "$@")
    TERM=xterm script -qfec "$cmd" /dev/null >"$out" 2>&1 </dev/null
}

on_tty "$T/tty.out" apply --yes --desired "$R" --state "$T/s1/state.db"
is "$?" 0 "apply on a terminal succeeds"
draws=$(grep -o 'applying \[' "$T/tty.out" | wc -l)
ok "it draws a progress bar ($draws times)" test "$draws" -ge 1
ok "fewer times than there are actions (rate-limited)" test "$draws" -lt 400
ok "its last state is complete" grep -q '401/401 100%' "$T/tty.out"
ok "it shows the observation too" grep -q 'observing' "$T/tty.out"
ok "every action is still listed" test "$(grep -c '  done   vol.create' "$T/tty.out")" = 400
tail=$(tail -c 300 "$T/tty.out" | tr '\r\033' 'RE')
like "$tail" 'Apply complete: 401 done' "the summary comes after the bar"

rm -rf "$T/pool"
"$PK" apply --yes --desired "$R" --state "$T/s2/state.db" >"$T/pipe.out" 2>&1
is "$?" 0 "apply into a pipe succeeds"
ok "and draws nothing" sh -c "! grep -q 'applying \\[' '$T/pipe.out' && ! grep -q \"\$(printf '\\r')\" '$T/pipe.out'"

rm -rf "$T/pool"
on_tty "$T/quiet.out" apply --yes -q --desired "$R" --state "$T/s3/state.db"
is "$?" 0 "apply -q on a terminal succeeds"
ok "and draws nothing" sh -c "! grep -q 'applying \\[' '$T/quiet.out'"
done_testing
