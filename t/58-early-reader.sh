#!/bin/sh
# 58-early-reader: when the reader of grun's stdout goes away, grun does
# what `yes | head -1` does: the jobs writing its stdout (directly, as
# log lines, or through chan:stdout and what feeds it) are stopped, not
# restarted, with no error or lost-line report, and grun leaves by
# SIGPIPE (a shell shows 141).  Jobs that do not write its stdout go on.
. "$(dirname "$0")/lib.sh"
command -v bash >/dev/null 2>&1 || skip_all "no bash for PIPESTATUS"

plan 9

# ---- a filter between grun's stdin and stdout ------------------------------------------------
printf '[job:cat]\nstdin = chan:stdin\nstdout = chan:stdout\ncmd = cat\n' >"$T/cat.ini"
timeout -k 2 "$(secs 20)" bash -c 'seq 1000000 | "$0" "$1" 2>"$2" | head -n 1 >"$3"; echo "${PIPESTATUS[1]}" >"$4"' \
	"$GRUN" "$T/cat.ini" "$T/err" "$T/out" "$T/rc"
is "$(cat "$T/out")" 1 "seq | grun | head -1: head got the first line"
is "$(cat "$T/rc")" 141 "seq | grun | head -1: grun leaves by SIGPIPE (141)"
unlike "$(cat "$T/err")" 'lost|failed|could not' "seq | grun | head -1: no error or lost-line report"

# ---- a permanent producer into chan:stdout ---------------------------------------------------
printf '[job:yes]\nrestart = permanent\nbackoff = 0\nstdout = chan:stdout\ncmd = yes\n' >"$T/yes.ini"
timeout -k 2 "$(secs 20)" bash -c '"$0" "$1" 2>"$2" | head -n 1 >"$3"; echo "${PIPESTATUS[0]}" >"$4"' \
	"$GRUN" "$T/yes.ini" "$T/err" "$T/out" "$T/rc"
is "$(cat "$T/rc")" 141 "grun (yes, permanent) | head -1: grun ends, by SIGPIPE"
is "$(count '^grun: yes: started')" 1 "grun (yes, permanent) | head -1: yes was not restarted into the closed pipe"

# ---- log lines, and a job that does not write grun's stdout -----------------------------------
cat >"$T/log.ini" <<'EOF'
[job:talker]
restart = permanent
cmd = sh -c 'i=0; while :; do echo "line $$i"; i=$$((i + 1)); sleep 0.01; done'

[job:quiet]
restart = permanent
stdout = null
cmd = sh -c 'echo $$$$ >"$GRUN_TEST_TAG/quiet.pid"; exec sleep 1000'
EOF
bash -c '{ "$0" "$1" 2>"$2" & echo $! >"$4"; wait; } | head -n 2 >"$3"' \
	"$GRUN" "$T/log.ini" "$T/err" "$T/out" "$T/gpid" &
wait_log '^grun: talker: stopping' 20
ok $? "talker's log lines had no reader any more: it was stopped"
ok "$(kill -0 "$(cat "$T/quiet.pid")"; echo $?)" "quiet (stdout = null) keeps running"
kill -TERM "$(cat "$T/gpid")"
wait
is "$(count '^grun: talker: started')" 1 "talker was not restarted"
is "$(left)" 0 "no process left behind"
done_testing
