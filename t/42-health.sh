#!/bin/sh
# 42-health: liveness checks (health = ) with real processes.  A job's
# check starts once it is ready; health_failures failures in a row stop
# it as failed, so its supervisor restarts it and counts the restart
# toward its intensity (a supervisor that gives up); a check that passes
# again resets the count; http:// against python3's http.server, exec:
# with its timeout, tcp: against a closed port; bad keys are FILE:LINE:
# errors.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed"

plan 37

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---- http://: a 404 fails, two in a row stop it; the second time the
# ---- supervisor (intensity 1) gives up -------------------------------------
P=$(free_port)
cat >"$T/http.ini" <<EOF
[grun]
intensity = 1
period = 60s
backoff = 0

[job:web]
cmd = python3 -m http.server $P --bind 127.0.0.1 --directory $T
restart = permanent
ready = http://127.0.0.1:$P/
health = http://127.0.0.1:$P/missing
health_interval = 100ms
health_failures = 2
EOF
run_grun 60 "$T/http.ini"
is "$rc" 1 "http: grun exits 1 once the supervisor gives up"
is "$(count '^grun: web: health check failed \(1 of 2\): GET /missing: 404')" 2 \
	"http: the first failure of each run is logged with the status line"
is "$(count '^grun: web: unhealthy: 2 health checks failed in a row, the last: GET /missing: 404')" 2 \
	"http: 'web: unhealthy: ...' in each run"
is "$(count '^grun: web: killed by signal TERM \(unhealthy\)$')" 2 \
	"http: stopped with its stop signal and reported as unhealthy"
is "$(count '^grun: web: started')" 2 "http: restarted once (intensity 1)"
like "$(cat "$T/err")" 'grun: supervisor root: giving up: web crash-looped \(more than 1 restart' \
	"http: the unhealthy runs count toward intensity: the supervisor gives up"
is "$(events '^grun: web: (started|ready|health check failed \(1)' | sed 's/ (.*//' | tr '\n' '/')" \
	"web: started/web: ready/web: health check failed/web: started/web: ready/web: health check failed/" \
	"http: in each run the first check comes after readiness"
ok "$(left)" "http: no process left"

# ---- http:// that passes: checks keep coming, nothing is stopped ------------
P=$(free_port)
cat >"$T/httpok.ini" <<EOF
[job:web]
cmd = python3 -m http.server $P --bind 127.0.0.1 --directory $T
ready = http://127.0.0.1:$P/
health = http://127.0.0.1:$P/httpok.ini
health_interval = 50ms
EOF
start_grun "$T/httpok.ini"
wait_count 'GET /httpok.ini HTTP/1.1" 200' 3 20
ok $? "http ok: the server answers the checks (3 seen)"
unlike "$(cat "$T/err")" 'health check failed|unhealthy|stopping' "http ok: no failure, nothing stopped"
kill -TERM "$GRUN_PID"
wait_grun 20
is "$rc" 143 "http ok: grun ends on TERM"
ok "$(left)" "http ok: no process left"

# ---- exec:: failures logged, a pass resets the count -----------------------
: >"$T/alive"
cat >"$T/exec.ini" <<'EOF'
[job:svc]
cmd = sleep 1000
health = exec:test -e "$GRUN_TEST_TAG/alive" && echo "$GRUN_JOB" >"$GRUN_TEST_TAG/checked"
health_interval = 50ms
health_failures = 1000
EOF
start_grun "$T/exec.ini"
wait_file "$T/checked" 20
is "$(cat "$T/checked" 2>/dev/null)" svc "exec: the command runs with the job's environment (GRUN_JOB)"
rm -f "$T/alive"
wait_log '^grun: svc: health check failed \(2 of 1000\): test -e .*: exited with status 1' 20
ok $? "exec: a failing command is logged with its status"
: >"$T/alive"
wait_log '^grun: svc: health check passed again after [0-9]+ failures' 20
ok $? "exec: a pass after failures is logged"
unlike "$(cat "$T/err")" 'unhealthy|stopping' "exec: failures below health_failures stop nothing"
kill -TERM "$GRUN_PID"
wait_grun 20
is "$rc" 143 "exec: grun ends on TERM"
ok "$(left)" "exec: no process left"

# ---- exec: timeout: the command is killed, one failure is enough ---------
cat >"$T/slow.ini" <<'EOF'
[job:svc]
cmd = sleep 1000
health = exec:echo $$ >"$GRUN_TEST_TAG/slow.pid"; exec sleep 1000
health_interval = 50ms
health_timeout = 300ms
health_failures = 1
EOF
run_grun 30 "$T/slow.ini"
is "$rc" 1 "exec timeout: grun exits 1 (svc failed)"
like "$(cat "$T/err")" 'grun: svc: unhealthy: 1 health check failed in a row, the last: echo .*: no answer in 300ms \(health_timeout\)' \
	"exec timeout: the check that ran too long is the failure"
pid=$(cat "$T/slow.pid" 2>/dev/null)
ok "$( [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; echo $?)" "exec timeout: the check's process was killed"
ok "$(left)" "exec timeout: no process left"

# ---- tcp: a closed port; checks start only once the job is ready ----------
P=$(free_port)
cat >"$T/tcp.ini" <<EOF
[job:svc]
cmd = sleep 1000
ready = file:$T/ready.flag
health = tcp:127.0.0.1:$P
health_interval = 50ms
health_failures = 2
EOF
rm -f "$T/ready.flag"
start_grun "$T/tcp.ini"
wait_log '^grun: svc: started' 20
settle 500
unlike "$(cat "$T/err")" 'health check' "tcp: no check while the job is not ready"
: >"$T/ready.flag"
wait_grun 30
is "$rc" 1 "tcp: grun exits 1 (the temporary job failed)"
like "$(cat "$T/err")" "grun: svc: health check failed \\(1 of 2\\): cannot connect to 127.0.0.1:$P: Connection refused" \
	"tcp: a refused connection is a failure"
like "$(cat "$T/err")" 'grun: svc: unhealthy: 2 health checks failed in a row' "tcp: unhealthy after 2"
like "$(tail -n 1 "$T/err")" '1 failed, .*\(svc failed\)' "tcp: counted as failed in the summary"
ok "$(left)" "tcp: no process left"

# ---- bad keys: FILE:LINE: errors, exit 2, nothing started -------------------
bad() {
	printf '[job:a]\ncmd = sleep 1000\n%s\n' "$1" >"$T/bad.ini"
	run_grun 10 "$T/bad.ini"
	is "$rc" 2 "bad: '$1': exit status 2"
	like "$(cat "$T/err")" "^$T/bad.ini:3: $2" "bad: '$1': $2"
}
bad 'health = udp:x:1' 'health = udp:x:1: expected health = tcp:HOST:PORT, http://HOST:PORT/PATH or exec:COMMAND'
bad 'health = http://h:0/' 'health = http://h:0/: expected health = http://HOST:PORT/PATH'
bad 'health_interval = 1ms' 'health_interval = 1ms: health_interval is 10ms at least'
bad 'health_failures = 0' 'health_failures = 0: expected a whole number in range'
ok "$(left)" "bad: nothing started"
