#!/bin/sh
# 75-quiet-output: a job's output pump keeps no text buffers until the
# job first writes (output.c: pump_in_buffers makes the line prefixes,
# the stamp and the head at the first read).  Jobs that stay silent for a
# while and then write must come out exactly as jobs that write at once:
# colored "NAME | " prefixes padded to the longest name on stdout and
# stderr, a line longer than a pump read cut with a "NAME + " piece,
# timestamps, the lines in grunctl logs; a job that never writes ends
# cleanly.
. "$(dirname "$0")/lib.sh"

plan 9

ESC=$(printf '\033')
CTL=$abs_top_builddir/cmd/grunctl
S=$T/ctl.sock
c() { timeout -k 2 "$(secs 20)" "$CTL" -s "$S" "$@"; }

F=$T/q.ini
cat >"$F" <<'EOF2'
[grun]
control = SOCKET

[job:quiet]
cmd = sh -c 'sleep 1; echo quiet speaks; echo quiet warns >&2; exec sleep 1000'

[job:long]
cmd = sh -c 'sleep 1; head -c 70000 /dev/zero | tr "\0" x; echo; exec sleep 1000'

[job:silent]
cmd = sleep 1000
EOF2
sed -i "s|SOCKET|$S|" "$F"
start_grun --color always --timestamps=utc "$F"
wait_for 10 test -S "$S"
wait_grep 'quiet speaks$' "$T/out" 10
wait_grep 'quiet warns$' "$T/err" 10
wait_grep "^.*long +\\+$ESC\\[0m x+\$" "$T/out" 10

STAMP='[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-9:]{8}\.[0-9]{3}Z '
like "$(grep 'quiet speaks' "$T/out")" "^$STAMP$ESC\\[[0-9;]*mquiet  \\|$ESC\\[0m quiet speaks\$" \
	"silent, then stdout: stamp and colored prefix padded to the longest name"
like "$(grep 'quiet warns' "$T/err")" "^$STAMP$ESC\\[[0-9;]*mquiet  \\|$ESC\\[0m quiet warns\$" \
	"silent, then stderr: the same prefix on grun's stderr"
first=$(grep "long   |" "$T/out" | sed "s/.*$ESC\\[0m //")
rest=$(grep "long   +" "$T/out" | sed "s/.*$ESC\\[0m //")
is "${#first}:${#rest}" "65536:4464" "silent, then a 70000-byte line: cut at 64 KiB, the rest after \"long   + \""
out=$(c logs quiet)
is "$out" "quiet | quiet speaks
quiet | quiet warns" "grunctl logs: the silent job's lines once it wrote"
out=$(c logs silent)
is "$out" "" "grunctl logs: nothing for a job that never wrote"
like "$(c status silent)" '^silent +running ' "grunctl status: the silent job runs"

kill -TERM "$GRUN_PID"
wait_grun 20
is "$rc" 143 "SIGTERM: exit 143 (temporary jobs stopped)"
unlike "$(grep -Ev "^$STAMP(grun: |.*quiet warns\$)" "$T/err")" '.' "nothing else on grun's stderr than its own lines and quiet's"
ok "$(left)" "no process left"

done_testing
