#!/bin/sh
# 44-sd-notify: jobs written for systemd, speaking sd_notify through
# Debian's own systemd-notify: --ready returns at once (BARRIER=1 is
# answered) and makes the job ready; STATUS= shows in grunctl status;
# watchdog = D gives the job WATCHDOG_USEC and restarts it (through its
# supervisor, as a crash) when the pings stop or it sends
# WATCHDOG=trigger; EXTEND_TIMEOUT_USEC gives it more time to become
# ready; RELOADING=1 / ERRNO= show as its note, RELOADING=1 until the
# next READY=1, in the order the job sent them; MAINPID= is logged.
. "$(dirname "$0")/lib.sh"

plan 24

command -v systemd-notify >/dev/null || skip_all "systemd-notify not installed (apt-get install systemd)"
CTL=$abs_top_builddir/cmd/grunctl
S=$T/ctl.sock
c() { timeout -k 2 "$(secs 20)" "$CTL" -s "$S" "$@"; }
jget() { printf '%s\n' "$1" | python3 -c 'import json,sys; d=json.loads(sys.stdin.readline()); print(eval(sys.argv[1]))' "$2"; }

F=$T/n.ini
cat >"$F" <<EOF
[grun]
control = $S
intensity = 100

[job:ready]
cmd = sh -c 't0=\$(date +%s%N); systemd-notify --ready --status="serving 3 clients"; echo "rc=\$? ms=\$(( (\$(date +%s%N) - t0) / 1000000 ))" > \${GRUN_TEST_TAG}/ready.rc; exec sleep 1000'
ready = notify
ready_timeout = 20s
restart = permanent

[job:dog]
cmd = sh -c 'echo "\$WATCHDOG_USEC" > \${GRUN_TEST_TAG}/dog.usec; for i in 1 2 3 4 5 6; do systemd-notify WATCHDOG=1; sleep 0.1; done; exec sleep 1000'
watchdog = 400ms
restart = permanent
backoff = 0

[job:trig]
cmd = sh -c 'echo run >> \${GRUN_TEST_TAG}/trig.runs; if [ \$(wc -l < \${GRUN_TEST_TAG}/trig.runs) -lt 2 ]; then sleep 0.2; systemd-notify WATCHDOG=trigger; fi; exec sleep 1000'
watchdog = 1h
restart = permanent
backoff = 0

[job:slow]
cmd = sh -c 'systemd-notify EXTEND_TIMEOUT_USEC=10000000; sleep 1.5; systemd-notify --ready; exec sleep 1000'
ready = notify
ready_timeout = 500ms
restart = permanent

[job:chatty]
cmd = sh -c 'systemd-notify --ready; systemd-notify RELOADING=1; systemd-notify MAINPID=1; touch \${GRUN_TEST_TAG}/chatty.done; exec sleep 1000'
ready = notify
restart = permanent

[job:both]
cmd = sh -c 'systemd-notify --ready RELOADING=1; exec sleep 1000'
ready = notify
restart = permanent

[job:reload]
cmd = sh -c 'systemd-notify --ready; systemd-notify RELOADING=1; touch \${GRUN_TEST_TAG}/reload.begun; while [ ! -e \${GRUN_TEST_TAG}/reload.go ]; do sleep 0.05; done; systemd-notify --ready; touch \${GRUN_TEST_TAG}/reload.done; exec sleep 1000'
ready = notify
restart = permanent

[job:forker]
cmd = sh -c 'setsid sh -c "echo \\\$\\\$ > \${GRUN_TEST_TAG}/main.pid; systemd-notify --pid=\\\$\\\$ --ready; exec sleep 1000" & sleep 0.5; exit 0'
ready = notify
restart = permanent
backoff = 0
EOF
start_grun "$F"
wait_file "$T/ready.rc" 20
rc_line=$(cat "$T/ready.rc")
like "$rc_line" '^rc=0 ' "systemd-notify --ready succeeds: its BARRIER=1 was answered (unanswered, it gives up after 5 s with status 1)"
wait_log '^grun: ready: ready' 10
ok $? "READY=1 from systemd-notify makes the job ready"
wait_for 10 sh -c "'$CTL' -s '$S' --json status ready | grep -q 'serving 3 clients'"
is "$(jget "$(c --json status ready)" 'd["jobs"][0]["notify_status"]')" "serving 3 clients" "STATUS= is the job's notify_status in grunctl status"
like "$(c status ready)" 'serving 3 clients' "and shows in the status table"

# ---- the watchdog ---------------------------------------------------------------
wait_file "$T/dog.usec" 10
is "$(cat "$T/dog.usec")" 400000 "watchdog = 400ms: the job gets WATCHDOG_USEC=400000"
wait_log '^grun: dog: no WATCHDOG=1 for 400ms \(watchdog\): stopping it as hung' 20
ok $? "the pings stop: the job is stopped as hung"
wait_log '^grun: dog: killed by signal TERM \(watchdog\)' 10
ok $? "its end says why"
wait_for 20 sh -c "[ \$(grep -c '^grun: dog: started' '$T/err') -ge 2 ]"
ok $? "its supervisor restarts it"
like "$(grep '^grun: dog: restarting' "$T/err" | head -n 1)" 'restart 1' "as a crash (restart 1)"
wait_log '^grun: trig: WATCHDOG=trigger: stopping it as hung' 10
ok $? "WATCHDOG=trigger: stopped as hung at once"
wait_for 20 sh -c "[ \$(grep -c '^grun: trig: started' '$T/err') -ge 2 ]"
ok $? "WATCHDOG=trigger: restarted"

# ---- EXTEND_TIMEOUT_USEC --------------------------------------------------------------
wait_log '^grun: slow: ready' 20
ok $? "EXTEND_TIMEOUT_USEC: ready after 1.5 s despite ready_timeout = 500ms"
is "$(count '^grun: slow: not ready after')" 0 "EXTEND_TIMEOUT_USEC: no ready_timeout"

# ---- notes, MAINPID --------------------------------------------------------------------
wait_file "$T/chatty.done" 10
wait_for 10 sh -c "'$CTL' -s '$S' --json status chatty | grep -q 'RELOADING=1'"
ok $? "RELOADING=1 shows as the job's note"
wait_log '^grun: both: ready' 10
wait_for 10 sh -c "'$CTL' -s '$S' --json status both | grep -q 'RELOADING=1'"
ok $? "READY=1 and RELOADING=1 in one datagram: the note says reloading (they count in the order sent)"
wait_file "$T/reload.begun" 10
wait_for 10 sh -c "'$CTL' -s '$S' --json status reload | grep -q 'RELOADING=1'"
ok $? "a reload: RELOADING=1 after the job was ready shows as its note"
touch "$T/reload.go"
wait_file "$T/reload.done" 10
reload_note_gone() { [ -z "$(jget "$(c --json status reload)" 'd["jobs"][0]["note"]')" ]; }
wait_for 10 reload_note_gone
ok $? "the next READY=1 ends the reload: the note is gone ($(jget "$(c --json status reload)" 'd["jobs"][0]["note"]'))"
wait_log '^grun: chatty: MAINPID=1 ignored: not a process of the job' 10
ok $? "MAINPID=1: ignored, and said"

# ---- MAINPID: a daemon that forks -------------------------------------------------------
wait_log '^grun: forker: pid [0-9]+ exited; its main process is now pid [0-9]+ \(MAINPID\)' 20
ok $? "MAINPID=: when the first process exits, the job follows its main process"
main=$(cat "$T/main.pid")
is "$(jget "$(c --json status forker)" 'str(d["jobs"][0]["pid"])+" "+d["jobs"][0]["state"]')" "$main running" \
	"grunctl status: the main process's pid, still running"
kill -KILL "$main"
wait_log "^grun: forker: killed by signal KILL" 10
ok $? "the main process killed: the job's run ends with its status"
wait_for 20 sh -c "[ \$(grep -c '^grun: forker: started' '$T/err') -ge 2 ]"
ok $? "and its supervisor restarts it"
wait_for 20 sh -c "[ \$(grep -c 'its main process is now pid' '$T/err') -ge 2 ]"
main2=$(cat "$T/main.pid")
[ "$main2" != "$main" ]; ok $? "the new run follows its new main process"

kill -TERM "$GRUN_PID"
wait_grun 10
is "$(left)" 0 "no process left" 2>/dev/null
done_testing
