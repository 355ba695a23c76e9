#!/bin/sh
# 43-ready-kinds: ready = http://, exec: and log:REGEX with real
# processes.  A job "a" becomes ready some time after it starts; a job
# "b" that needs it must start after grun logged "a: ready", and never
# when a cannot be ready (a 404, a command that fails or hangs past
# health_timeout, a line that does not match, a line of an earlier run).
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed"

plan 33

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# flow ERE: grun's log lines matching ERE, "(pid N)" dropped, joined by "/".
flow() { events "$1" | sed 's/ (pid [0-9]*)//' | tr '\n' '/'; }
B='[job:b]
needs = a
cmd = true'

# ---- http://: ready once the server answers 2xx -----------------------------
P=$(free_port)
cat >"$T/http.ini" <<EOF
[job:a]
cmd = sh -c 'while [ ! -e "\$GRUN_TEST_TAG/go" ]; do sleep 0.05; done; exec python3 -m http.server $P --bind 127.0.0.1 --directory "\$GRUN_TEST_TAG"'
ready = http://127.0.0.1:$P/http.ini
stderr = null

$B
EOF
start_grun "$T/http.ini"
wait_log '^grun: a: started' 20
settle 400
unlike "$(cat "$T/err")" 'grun: (a: ready|b: started)' "http: not ready while nothing listens"
: >"$T/go"
wait_log '^grun: b: exited' 30
is "$(flow '^grun: (a: ready|b: started|b: exited)')" "a: ready/b: started/b: exited with status 0/" \
	"http: a ready once the server answers, then b started"
kill -TERM "$GRUN_PID"
wait_grun 20
is "$rc" 143 "http: grun ends on TERM"
ok "$(left)" "http: no process left"
rm -f "$T/go"

# ---- http:// 404: never ready -----------------------------------------------
P=$(free_port)
cat >"$T/h404.ini" <<EOF
[job:a]
cmd = python3 -m http.server $P --bind 127.0.0.1 --directory $T
ready = http://127.0.0.1:$P/missing
ready_timeout = 1s
stderr = null

$B
EOF
run_grun 30 "$T/h404.ini"
is "$rc" 1 "http 404: exit status 1"
like "$(cat "$T/err")" 'grun: a: not ready after 1s \(ready_timeout\)' "http 404: a 404 is not ready"
like "$(cat "$T/err")" 'grun: b: skipped: needs a, which failed' "http 404: b skipped"
ok "$(left)" "http 404: no process left"

# ---- exec:: ready when the command exits 0 -----------------------------------
cat >"$T/exec.ini" <<'EOF'
[job:a]
cmd = sleep 1000
ready = exec:test -e "$GRUN_TEST_TAG/go" && test "$GRUN_JOB" = a

[job:b]
needs = a
cmd = true
EOF
start_grun "$T/exec.ini"
wait_log '^grun: a: started' 20
settle 400
unlike "$(cat "$T/err")" 'grun: (a: ready|b: started)' "exec: not ready while the command fails"
: >"$T/go"
wait_log '^grun: b: exited' 30
is "$(flow '^grun: (a: ready|b: started|b: exited)')" "a: ready/b: started/b: exited with status 0/" \
	"exec: a ready once the command succeeds (in the job's environment), then b started"
kill -TERM "$GRUN_PID"
wait_grun 20
is "$rc" 143 "exec: grun ends on TERM"
ok "$(left)" "exec: no process left"
rm -f "$T/go"

# ---- exec: that hangs: killed at health_timeout, tried again ---------------
cat >"$T/hang.ini" <<'EOF'
[job:a]
cmd = sleep 1000
ready = exec:echo $$ >>"$GRUN_TEST_TAG/hang.pids"; exec sleep 1000
health_timeout = 200ms
ready_timeout = 2s

[job:b]
needs = a
cmd = true
EOF
run_grun 30 "$T/hang.ini"
is "$rc" 1 "exec hang: exit status 1"
like "$(cat "$T/err")" 'grun: a: not ready after 2s \(ready_timeout\)' "exec hang: never ready"
ok "$( [ "$(wc -l <"$T/hang.pids")" -ge 2 ]; echo $?)" "exec hang: the command was tried again after its timeout"
gone=0
for p in $(cat "$T/hang.pids"); do kill -0 "$p" 2>/dev/null && gone=1; done
ok "$gone" "exec hang: every attempt was killed"
ok "$(left)" "exec hang: no process left"

# ---- log:REGEX: ready when a line matches, on stdout or stderr ------------
for stream in stdout stderr; do
	rm -f "$T/go"
	# (">&1" rather than nothing: " ;" would start a comment)
	redir='>&1'; [ "$stream" = stderr ] && redir='>&2'
	cat >"$T/log.ini" <<EOF
[job:a]
cmd = sh -c 'echo "listening soon" $redir; while [ ! -e "\$GRUN_TEST_TAG/go" ]; do sleep 0.05; done; echo "listening on port 42" $redir; exec sleep 1000'
ready = log:^listening on port [0-9]+\$

$B
EOF
	start_grun "$T/log.ini"
	wait_grep 'a +\| listening soon' "$T/$( [ "$stream" = stdout ] && echo out || echo err)" 20
	settle 300
	unlike "$(cat "$T/err")" 'grun: (a: ready|b: started)' "log ($stream): a line that does not match is not ready"
	: >"$T/go"
	wait_log '^grun: b: exited' 30
	is "$(flow '^grun: (a: ready|b: started|b: exited)')" "a: ready/b: started/b: exited with status 0/" \
		"log ($stream): ready at the matching line, then b started"
	kill -TERM "$GRUN_PID"
	wait_grun 20
	ok "$(left)" "log ($stream): no process left"
done

# ---- log: a line of an earlier run does not make the next one ready --------
cat >"$T/rerun.ini" <<'EOF'
[job:a]
cmd = sh -c 'if [ -e "$GRUN_TEST_TAG/ran" ]; then exec sleep 1000; fi; : >"$GRUN_TEST_TAG/ran"; echo up; sleep 0.2; exit 1'
restart = permanent
backoff = 0
ready = log:^up$
EOF
rm -f "$T/ran"
start_grun "$T/rerun.ini"
wait_count '^grun: a: started' 2 20
settle 500
is "$(count '^grun: a: ready')" 1 "log rerun: ready in the first run only"
kill -TERM "$GRUN_PID"
wait_grun 20
ok "$(left)" "log rerun: no process left"

# ---- bad values: FILE:LINE: errors ------------------------------------------
bad() {
	printf '[job:a]\ncmd = sleep 1000\n%s\n%s\n' "$1" "${3:-}" >"$T/bad.ini"
	run_grun 10 "$T/bad.ini"
	is "$rc" 2 "bad: '$1': exit status 2"
	like "$(cat "$T/err")" "^$T/bad.ini:3: $2" "bad: '$1': $2"
}
bad 'ready = log:(' 'ready = log:\(: '
bad 'ready = log:x' 'ready = log: needs stdout = log or stderr = log' "$(printf 'stdout = null\nstderr = file:/dev/null')"
bad 'ready = http://x:99999/' 'ready = http://x:99999/: expected ready = http://HOST:PORT/PATH'
bad 'ready = exec:' 'ready = exec:: expected ready = exec:COMMAND'
