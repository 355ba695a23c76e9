#!/bin/sh
# 59-systemd: grun as a systemd service, heard through a NOTIFY_SOCKET
# listener standing in for systemd: READY=1, STATUS= with the counts of
# jobs by state (rate-limited, updated on change), WATCHDOG=1 at half of
# WATCHDOG_USEC while the main loop answers (and none while a test hook
# stalls it), none when WATCHDOG_PID is another process's, RELOADING=1
# with MONOTONIC_USEC then READY=1 around a reload (STATUS= says when it
# was rejected), STOPPING=1 and EXIT_STATUS= at the end; jobs inherit
# none of NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID.
. "$(dirname "$0")/lib.sh"

plan 19

command -v python3 >/dev/null || skip_all "python3 not installed"
N=$T/notify.sock
# the listener: one line per datagram (newlines inside become |)
python3 - "$N" "$T/heard" <<'PYEOF' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        d = s.recv(4096).decode()
        out.write(d.replace("\n", "|") + "\n")
PYEOF
LISTENER=$!
wait_for 10 test -S "$N"
# what grun said, without the pings and the STATUS= counts that come
# between the datagrams a check looks at
heard() { grep -v '^WATCHDOG=1$' "$T/heard" 2>/dev/null | grep -v '^STATUS=' ; }
count_heard() { grep -c -- "$1" "$T/heard" 2>/dev/null; }

F=$T/s.ini
cat >"$F" <<'EOF'
[job:svc]
cmd = sh -c 'env > ${GRUN_TEST_TAG}/svc.env; exec sleep 1000'
restart = permanent

[job:crashy]
cmd = sh -c 'sleep 0.3; exit 1'
restart = temporary

[job:once]
cmd = true
EOF
NOTIFY_SOCKET=$N WATCHDOG_USEC=300000 GRUN_TEST_STALL_MAIN=$((3000 * MULT)) start_grun "$F"
wait_grep '^READY=1$' "$T/heard" 10
ok $? "READY=1 once every job is ready"
wait_grep '^STATUS=.*running' "$T/heard" 10
ok $? "STATUS= counts the jobs by state"
wait_grep '^STATUS=1 running, 1 done, 1 failed$' "$T/heard" 20
ok $? "STATUS= follows the changes: crashy failed, once done"
wait_file "$T/svc.env" 10
unlike "$(cat "$T/svc.env")" '^(NOTIFY_SOCKET|WATCHDOG_USEC|WATCHDOG_PID)=' "jobs inherit neither NOTIFY_SOCKET nor the watchdog variables"

# ---- the watchdog -----------------------------------------------------------------
wait_for 10 sh -c "[ \$(grep -c '^WATCHDOG=1$' '$T/heard') -ge 3 ]"
ok $? "WATCHDOG=1 sent again and again (every 150 ms)"
kill -USR2 "$GRUN_PID"
wait_log '^grun: SIGUSR2: stalling the main loop' 10
wait_log '^grun: watchdog: the main loop has not answered for 150ms: WATCHDOG=1 withheld' 10
ok $? "a stalled main loop: the watchdog says it withholds the pings"
w0=$(count_heard '^WATCHDOG=1$')
settle 500 # well within the stall (GRUN_TEST_STALL_MAIN, scaled as settle is)
is "$(count_heard '^WATCHDOG=1$')" "$w0" "a stalled main loop: no WATCHDOG=1 while it is stuck"
wait_for 20 sh -c "[ \$(grep -c '^WATCHDOG=1$' '$T/heard') -ge $((w0 + 2)) ]"
ok $? "the main loop answers again: WATCHDOG=1 resumes"

# ---- reload ------------------------------------------------------------------------
: >"$T/heard"
kill -HUP "$GRUN_PID"
wait_grep '^READY=1$' "$T/heard" 10
like "$(heard | head -n 1)" '^RELOADING=1\|MONOTONIC_USEC=[0-9]+$' "reload: RELOADING=1 with MONOTONIC_USEC first"
mono=$(heard | head -n 1 | sed 's/.*MONOTONIC_USEC=//')
now_mono=$(python3 -c 'import time; print(int(time.monotonic() * 1e6))')
[ "$mono" -le "$now_mono" ] && [ "$mono" -gt $((now_mono - 60000000)) ]
ok $? "reload: MONOTONIC_USEC is CLOCK_MONOTONIC in microseconds"
like "$(heard | sed -n 2p)" '^READY=1$' "reload: then READY=1"
: >"$T/heard"
echo 'garbage here' >>"$F"
kill -HUP "$GRUN_PID"
wait_grep '^READY=1' "$T/heard" 10
like "$(heard | tail -n 1)" '^READY=1\|STATUS=reload rejected' "a rejected reload: READY=1 with a STATUS= that says so"

# ---- the end ---------------------------------------------------------------------------
: >"$T/heard"
kill -TERM "$GRUN_PID"
wait_grun 10
is "$rc" 1 "SIGTERM: exit 1 (crashy failed)"
wait_grep '^EXIT_STATUS=1$' "$T/heard" 5
ok $? "EXIT_STATUS=1 at the end"
like "$(heard | head -n 1)" '^STOPPING=1$' "STOPPING=1 first"

# ---- WATCHDOG_PID of another process; no NOTIFY_SOCKET --------------------------------
printf '[job:s]\ncmd = sleep 1000\nrestart = permanent\n' >"$F"
: >"$T/heard"
NOTIFY_SOCKET=$N WATCHDOG_USEC=100000 WATCHDOG_PID=1 start_grun "$F"
wait_grep '^READY=1$' "$T/heard" 10
settle 500
is "$(count_heard '^WATCHDOG=1$')" 0 "WATCHDOG_PID of another process: no pings"
kill -TERM "$GRUN_PID"
wait_grun 10
is "$rc" 0 "and a clean stop"
WATCHDOG_USEC=100000 start_grun "$F"
wait_log '^grun: s: started' 10
kill -TERM "$GRUN_PID"
wait_grun 10
is "$rc" 0 "WATCHDOG_USEC without NOTIFY_SOCKET: runs and stops as usual"

kill "$LISTENER" 2>/dev/null; wait "$LISTENER" 2>/dev/null
is "$(left)" 0 "no process left"
done_testing
