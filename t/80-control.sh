#!/bin/sh
# 80-control: grunctl against a running grun, every command through the
# real socket: status/tree (table and JSON checked with python3),
# start/stop/restart through the supervisor (one_for_all restarts the
# group, held jobs stay held, autostart = no waits for start, needs still
# gates it), signal, logs and logs -f, wait (ready, exited, timeout, a job
# that cannot become ready), events, reload applied and reload rejected
# with its FILE:LINE errors, stop-all; the default socket found by
# `grunctl -f FILE`, and none with control = off.
. "$(dirname "$0")/lib.sh"

plan 74

CTL=$abs_top_builddir/cmd/grunctl
S=$T/ctl.sock
c() { timeout -k 2 "$(secs 20)" "$CTL" -s "$S" "$@"; }
# jq-like: jget JSON PYEXPR (d is the parsed object)
jget() { printf '%s\n' "$1" | python3 -c 'import json,sys; d=json.loads(sys.stdin.readline()); print(eval(sys.argv[1]))' "$2"; }
pid_of() { sed -n "s/^grun: $1: started (pid \([0-9]*\))\$/\1/p" "$T/err" | tail -n 1; }

F=$T/c.ini
cat >"$F" <<'EOF'
[grun]
control = SOCKET

[supervisor:grp]
strategy = one_for_all
intensity = 10

[job:db]
cmd = sh -c 'echo db says hi; echo db warns >&2; exec sleep 1000'
restart = permanent

[job:web]
cmd = sh -c 'echo "web $$$$ up"; exec sleep 1000'
restart = permanent
instances = 2
needs = db

[job:a]
supervisor = grp
cmd = sleep 1000
restart = permanent

[job:b]
supervisor = grp
cmd = sleep 1000
restart = permanent

[job:once]
cmd = echo once done

[job:late]
cmd = sh -c 'echo late ran; exec sleep 1000'
autostart = no
restart = permanent

[job:after]
cmd = sh -c 'echo after ran; exec sleep 1000'
needs = late
restart = permanent

[job:bad]
cmd = sh -c 'exit 3'
EOF
sed -i "s|SOCKET|$S|" "$F"
start_grun "$F"
wait_for 10 test -S "$S"
wait_log '^grun: b: started' 10
wait_log '^grun: once: exited with status 0' 10
wait_log '^grun: bad: exited with status 3' 10
wait_log '^grun: web#2: started' 10

# ---- status -----------------------------------------------------------------
out=$(c status)
ok $? "status: exit 0"
like "$(printf '%s\n' "$out" | head -n 1)" '^NAME +STATE +PID +UPTIME +RESTARTS +READY +LAST EXIT +SUPERVISOR +NOTE$' "status: a table with its header"
like "$out" '^db +running +[0-9]+ ' "status: db running with its pid"
like "$out" '^late +stopped +- .*autostart = no' "status: late is held (autostart = no)"
like "$out" '^after +waiting .*needs late' "status: after waits for late, and says so"
like "$out" '^bad +failed .*status 3' "status: bad failed with status 3"
unlike "$out" ' $' "status: no blanks at the ends of lines"
j=$(c --json status)
is "$(jget "$j" 'len(d["jobs"])')" 9 "status --json: nine instances"
is "$(jget "$j" '[x["state"] for x in d["jobs"] if x["name"]=="once"][0]')" exited "status --json: once exited"
is "$(jget "$j" '[x["pid"] for x in d["jobs"] if x["name"]=="db"][0]')" "$(pid_of db)" "status --json: db's pid is the one grun started"
is "$(jget "$j" '[x["last_exit"]["code"] for x in d["jobs"] if x["name"]=="bad"][0]')" 3 "status --json: bad's exit code"
is "$(jget "$j" '[x["supervisor"] for x in d["jobs"] if x["name"]=="a"][0]')" grp "status --json: a's supervisor"
is "$(jget "$(c status web --json)" '",".join(x["name"] for x in d["jobs"])')" "web#1,web#2" "status JOB --json: a job's name selects its instances"
out=$(c status nosuch 2>&1); rc=$?
is "$rc" 1 "status of an unknown job: exit 1"
like "$out" 'no such job: nosuch' "status of an unknown job: says which"

# ---- tree ---------------------------------------------------------------------
out=$(c tree)
like "$out" '^root \(one_for_one' "tree: the root first"
like "$out" '^  supervisor grp \(one_for_all, intensity 10' "tree: the nested supervisor, indented"
like "$out" '^    a: running \(pid [0-9]+\)' "tree: its children below it"
j=$(c --json tree)
is "$(jget "$j" '[x["depth"] for x in d["tree"] if x["name"]=="b"][0]')" 2 "tree --json: depth of b"

# ---- logs ------------------------------------------------------------------------
out=$(c logs db)
is "$out" "db | db says hi
db | db warns" "logs db: its stdout and stderr lines"
j=$(c --json logs -n 1 db | sed -n 2p)
is "$(jget "$j" 'd["stream"]+" "+d["line"]')" "stderr db warns" "logs --json: the stream of each line"
like "$(jget "$j" 'd["time"]')" '^20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-9:]{8}\.[0-9]{3}Z$' "logs --json: an ISO-8601 UTC time"
out=$(c logs)
like "$out" 'once \| once done' "logs: every job, ended ones included"

# ---- start, stop, restart ------------------------------------------------------------
db0=$(pid_of db)
out=$(c stop db); rc=$?
is "$rc" 0 "stop db: exit 0"
is "$out" "db: stopped" "stop db: says so"
wait_log '^grun: db: stopped by grunctl' 10
is "$(jget "$(c --json status db)" 'd["jobs"][0]["state"]+" "+str(d["jobs"][0]["ready"])')" "stopped False" "stop: db held stopped, not ready"
settle 300
is "$(count '^grun: db: started')" 1 "stop: a permanent job held stopped is not restarted"
is "$(c stop db)" "db: already stopped" "stop again: already stopped"
c start db >/dev/null
wait_for 10 sh -c "[ \$(grep -c '^grun: db: started' '$T/err') -ge 2 ]"
ok $? "start db: started again"
isnt_db=$(pid_of db); [ "$isnt_db" != "$db0" ]; ok $? "start db: a new process"
is "$(c start db)" "db: already running" "start a running job: already running"

c start late >/dev/null
wait_log '^grun: after: started' 10
ok $? "start late (autostart = no): the job that needs it starts once it is ready"

a0=$(pid_of a) b0=$(pid_of b)
out=$(c restart a); rc=$?
is "$rc" 0 "restart a: exit 0"
like "$out" 'restarted a, b' "restart a under one_for_all: the whole group"
wait_for 10 sh -c "[ \$(grep -c '^grun: b: started' '$T/err') -ge 2 ]"
[ "$(pid_of a)" != "$a0" ] && [ "$(pid_of b)" != "$b0" ]
ok $? "restart: a and b have new processes"
is "$(jget "$(c --json status a)" 'd["jobs"][0]["restarts"]')" 0 "restart by grunctl is not counted as a crash restart"
out=$(c restart nosuch 2>&1); rc=$?
is "$rc" 1 "restart an unknown job: exit 1"
c start once >/dev/null
wait_for 10 sh -c "[ \$(grep -c '^grun: once: exited with status 0' '$T/err') -ge 2 ]"
ok $? "start a one-shot job that has exited: it runs again"

# ---- signal -------------------------------------------------------------------------
w1=$(pid_of 'web#1')
out=$(c signal USR1 'web#1'); rc=$?
is "$rc" 0 "signal USR1 web#1: exit 0"
wait_log '^grun: web#1: killed by signal USR1' 10
ok $? "signal: web#1 got SIGUSR1"
wait_for 10 sh -c "[ \$(grep -c '^grun: web#1: started' '$T/err') -ge 2 ]"
is "$(jget "$(c --json status 'web#1')" 'd["jobs"][0]["restarts"]')" 1 "signal: the crash restart is counted"
out=$(c signal NOPE db 2>&1); rc=$?
is "$rc" 1 "signal with a bad name: exit 1"

# ---- wait --------------------------------------------------------------------------
c wait --ready --timeout 10s db web
is "$?" 0 "wait --ready: jobs already ready: exit 0"
c wait --exited --timeout 10s once
is "$?" 0 "wait --exited: a job that exited: exit 0"
c wait --exited --timeout 300ms db 2>/dev/null
is "$?" 124 "wait --exited on a running job: times out with 124"
out=$(c wait --ready --timeout 10s bad 2>&1); rc=$?
is "$rc" 1 "wait --ready on a job that failed: exit 1 at once"
like "$out" 'bad failed without becoming ready' "wait: says why"
c wait --exited --timeout 10s bad 2>/dev/null
is "$?" 1 "wait --exited on a failed job: exit 1"
c stop late >/dev/null
( c wait --ready --timeout 20s late; echo "rc=$?" >"$T/wait.rc" ) &
settle 200
[ ! -e "$T/wait.rc" ]; ok $? "wait --ready on a held job: still waiting"
c start late >/dev/null
wait_file "$T/wait.rc" 20
is "$(cat "$T/wait.rc")" "rc=0" "wait --ready: returns 0 once the job is started and ready"

# ---- events ---------------------------------------------------------------------------
c events >"$T/events" 2>&1 &
EV=$!
wait_file "$T/events" 10
settle 100
c restart db >/dev/null
wait_grep ' db running pid [0-9]+' "$T/events" 10
ok $? "events: db's restart seen, up to running"
is "$(awk '$2 == "db" { print $3 }' "$T/events" | tr '\n' ' ')" "stopping stopped waiting starting running " "events: stopping, stopped, waiting, starting, running, in order"
kill "$EV" 2>/dev/null; wait "$EV" 2>/dev/null
c --json events --snapshot >"$T/snap" 2>&1 &
EV=$!
wait_grep '"name":"bad"' "$T/snap" 10
is "$(grep -c '"seq":0' "$T/snap")" 9 "events --snapshot: first the current state of each of the 9 instances"
like "$(grep '"name":"bad"' "$T/snap")" '"state":"failed"' "events --snapshot: bad as it is now, failed"
kill "$EV" 2>/dev/null; wait "$EV" 2>/dev/null

# ---- logs -f --------------------------------------------------------------------------
c logs -f -n 0 late >"$T/follow" 2>&1 &
LF=$!
settle 200
c restart late >/dev/null
wait_grep '^late \| late ran$' "$T/follow" 10
ok $? "logs -f: a new line of the job arrives"
kill "$LF" 2>/dev/null; wait "$LF" 2>/dev/null

# ---- reload ----------------------------------------------------------------------------
cat >>"$F" <<'EOF'

[job:added]
cmd = sleep 1000
EOF
out=$(c reload); rc=$?
is "$rc" 0 "reload: exit 0"
like "$out" 'reloaded .*: 1 added, 0 removed, 0 changed' "reload: says what changed"
wait_log '^grun: added: started' 10
ok $? "reload: the added job started"
echo 'broken line' >>"$F"
line=$(wc -l <"$F")
out=$(c reload 2>&1); rc=$?
is "$rc" 1 "reload of a broken file: exit 1"
like "$out" "c\\.ini:$line: syntax error" "reload rejected: the FILE:LINE error comes back to the caller"
like "$out" 'running jobs are unchanged' "reload rejected: says nothing changed"
sed -i '$d' "$F"

# ---- ping, protocol --------------------------------------------------------------------
like "$(c ping)" "^grun [0-9.]+, pid $GRUN_PID, " "ping: grun's version and pid"

# ---- stop-all ---------------------------------------------------------------------------
out=$(c stop-all); rc=$?
is "$rc" 0 "stop-all: exit 0"
is "$out" "stopping every job
every job has ended" "stop-all: returns once every job has ended"
wait_grun 10
is "$rc" 1 "stop-all: grun exits 1, as bad failed during the run"
[ ! -e "$S" ]; ok $? "the socket is removed at the end"
[ ! -e "$S.lock" ]; ok $? "and its lock file"

# ---- the default socket; control = off -------------------------------------------------
G=$T/g.ini
printf '[job:s]\ncmd = sleep 1000\nrestart = permanent\n' >"$G"
start_grun "$G"
wait_log '^grun: s: started' 10
out=$(timeout "$(secs 10)" "$CTL" -f "$G" status s); rc=$?
is "$rc" 0 "grunctl -f FILE finds the default socket"
like "$out" '^s +running' "grunctl -f FILE: the status of that grun"
out=$("$GRUN" "$G" 2>&1 </dev/null); rc=$?
is "$rc" 2 "a second grun on the same file: exit 2"
like "$out" 'another grun \(pid [0-9]+\) is running this file' "a second grun: says which"
is "$(count '^grun: s: started')" 1 "a second grun started nothing"
kill -TERM "$GRUN_PID"; wait_grun 10

printf '[grun]\ncontrol = off\n[job:s]\ncmd = sleep 1000\nrestart = permanent\n' >"$G"
start_grun "$G"
wait_log '^grun: s: started' 10
out=$(timeout "$(secs 10)" "$CTL" -f "$G" status 2>&1); rc=$?
is "$rc" 3 "control = off: grunctl finds no grun (exit 3)"
kill -TERM "$GRUN_PID"; wait_grun 10
is "$(left)" 0 "no process left"
done_testing
