#!/bin/sh
# 41-ready: every kind of readiness with real processes.  For each kind a
# job "a" says it is ready some time after it starts, and a job "b" that
# needs it records when it starts: b must start after a said so (by the
# timestamps both write, and by grun's log), and never when a cannot be
# ready (a need that is never ready fails, its dependents are skipped).
. "$(dirname "$0")/lib.sh"

plan 68

# left [SECS]: 0 once no tagged process is left (for ok).

export HELPERS

# mark TAG NAME: appends "TAG <ms> NAME" to $T/rec and creates $T/NAME.TAG.
cat >"$T/mark" <<'EOF'
#!/bin/sh
echo "$1 $(date +%s%3N) $2" >>"$GRUN_TEST_TAG/rec"
: >"$GRUN_TEST_TAG/$2.$1"
EOF
chmod +x "$T/mark"
ts() { awk -v k="$1" -v n="$2" '$1 == k && $3 == n { print $2 }' "$T/rec" 2>/dev/null; }
le() { [ -n "$1" ] && [ -n "$2" ] && [ "$1" -le "$2" ]; }
# flow ERE: grun's log lines matching ERE, "(pid N)" dropped, joined by "/".
flow() { events "$1" | sed 's/ (pid [0-9]*)//' | tr '\n' '/'; }
# started_ms PID: when PID started, in ms since the epoch (to a clock
# tick, rounded down), from /proc/PID/stat and /proc/uptime.
started_ms() {
	[ -r "/proc/$1/stat" ] || return 0
	_st=$(sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f20) _hz=$(getconf CLK_TCK)
	# the clock read first, the uptime just after: if anything, too early
	_now=$(date +%s%3N); read -r _up _rest </proc/uptime
	awk -v now="$_now" -v up="$_up" -v st="$_st" -v hz="$_hz" \
		'BEGIN { printf "%.0f\n", now - up * 1000 + st * 1000 / hz - 0.5 }'
}
fresh() { rm -f "$T"/rec "$T"/*.[SRE] "$T"/ready.flag; : >"$T/rec"; }

# The dependent of every case: records its start and exits.
B='[job:b]
needs = a
cmd = ${GRUN_TEST_TAG}/mark S b'

# long_case LABEL: runs $T/case.ini, where a stays up once ready and b
# needs it; checks b started after a's R mark and after "a: ready", then
# stops grun with SIGTERM.
long_case() {
	start_grun "$T/case.ini"
	wait_log '^grun: b: exited' 10
	kill -TERM "$GRUN_PID" 2>/dev/null
	wait_grun 10
	is "$rc" 143 "$1: exit status 143 after SIGTERM (a temporary job stopped)"
	ok "$(le "$(ts R a)" "$(ts S b)"; echo $?)" \
		"$1: b started after a said it was ready ($(ts R a) <= $(ts S b))"
	is "$(flow '^grun: (a: ready|b: started|b: exited)')" \
		"a: ready/b: started/b: exited with status 0/" "$1: log: a ready, then b started"
	ok "$(left)" "$1: no process left"
}

# fail_case LABEL WHY: a is never ready; b must be skipped.
fail_case() {
	run_grun 10 "$T/case.ini"
	is "$rc" 1 "$1: exit status 1"
	unlike "$(cat "$T/err")" 'grun: (a: ready|b: started)' "$1: a never ready, b never started"
	like "$(cat "$T/err")" "grun: b: skipped: needs a, which $2" "$1: b skipped ($2)"
	ok "$(left)" "$1: no process left"
}

# timeout_case LABEL: a with ready_timeout = 500ms is never ready.
timeout_case() {
	t0=$(date +%s%3N)
	run_grun 10 "$T/case.ini"
	t1=$(date +%s%3N)
	is "$rc" 1 "$1: exit status 1"
	is "$(flow '^grun: (a|b): ')" \
		"a: started/a: not ready after 500ms (ready_timeout)/a: stopping (TERM, KILL after 10s)/a: killed by signal TERM (not ready in time)/b: skipped: needs a, which failed/" \
		"$1: not ready after 500ms, stopped, b skipped"
	is "$(tail -n 1 "$T/err")" \
		"grun: 2 jobs ended: 0 succeeded, 1 failed, 1 skipped, 0 stopped (a failed, b skipped)" \
		"$1: a counted as failed, b as skipped"
	ok "$( [ $((t1 - t0)) -ge 500 ] && [ $((t1 - t0)) -lt $((5000 * MULT)) ]; echo $?)" \
		"$1: gave up after the 500ms, not before or much later ($((t1 - t0)) ms, bound $((5000 * MULT)) ms)"
	ok "$(left)" "$1: no process left"
}

# ---- started (the default) -----------------------------------------------
fresh
cat >"$T/case.ini" <<EOF
[job:a]
cmd = sh -c '\${GRUN_TEST_TAG}/mark R a; exec sleep 100'

$B
EOF
start_grun "$T/case.ini"
wait_log '^grun: b: exited' 10
is "$(flow '^grun: (a|b): (started|exited)')" "a: started/b: started/b: exited with status 0/" \
	"started: b runs as soon as a has started, while a runs"
kill -TERM "$GRUN_PID" 2>/dev/null
wait_grun 10
is "$rc" 143 "started: exit status 143 after SIGTERM"
ok "$(left)" "started: no process left"

# ---- exited ----------------------------------------------------------------
fresh
cat >"$T/case.ini" <<EOF
[job:a]
cmd = sh -c 'sleep 0.3; \${GRUN_TEST_TAG}/mark R a'
ready = exited

$B
EOF
run_grun 10 "$T/case.ini"
is "$rc" 0 "exited: exit status 0"
is "$(flow '^grun: (a|b): ')" \
	"a: started/a: exited with status 0/a: ready/b: started/b: exited with status 0/" \
	"exited: a exited (status 0) and was ready before b started"
ok "$(le "$(ts R a)" "$(ts S b)"; echo $?)" "exited: b started after a's last act"
ok "$(left)" "exited: no process left"

fresh
cat >"$T/case.ini" <<EOF
[job:a]
cmd = sh -c 'sleep 0.2; exit 1'
ready = exited

$B
EOF
fail_case "exited, status 1" "failed"
ok "$( [ ! -e "$T/b.S" ]; echo $?)" "exited, status 1: b never ran"

fresh
cat >"$T/case.ini" <<EOF
[job:a]
cmd = sleep 100
ready = exited
ready_timeout = 500ms

$B
EOF
timeout_case "exited, still running at ready_timeout"

# ---- notify ------------------------------------------------------------------
fresh
cat >"$T/case.ini" <<EOF
[job:a]
cmd = sh -c 'echo "ns=\$\${NOTIFY_SOCKET:-unset}"; sleep 0.3; \${GRUN_TEST_TAG}/mark R a; \${HELPERS}/notify STATUS=up READY=1; exec sleep 100'
ready = notify
ready_timeout = $(secs 5)s

[job:b]
needs = a
cmd = sh -c '\${GRUN_TEST_TAG}/mark S b; echo "ns=\$\${NOTIFY_SOCKET:-unset}"'

[job:c]
cmd = sh -c 'echo "ns=\$\${NOTIFY_SOCKET:-unset}"'
EOF
# as under systemd: grun's own NOTIFY_SOCKET must not leak into its jobs
NOTIFY_SOCKET=$T/no-such-socket
export NOTIFY_SOCKET
long_case "notify"
unset NOTIFY_SOCKET
like "$(grep '^a | ns=' "$T/out")" '^a \| ns=@grun/' "notify: the notify job has NOTIFY_SOCKET (an abstract socket of grun's)"
is "$(grep -E '^[bc] \| ns=' "$T/out" | sort | tr '\n' '/')" "b | ns=unset/c | ns=unset/" \
	"notify: other jobs have no NOTIFY_SOCKET, not even grun's own"
unlike "$(cat "$T/err")" 'not ready' "notify: ready_timeout = $(secs 5)s did not fire"

# READY=1 (or a newline on fd:N) just before a quick exit 0: the job did
# say it was ready, so its dependent must run; tried a few times, as the
# readiness message and the exit race inside grun.
cat >"$T/case.ini" <<EOF
[job:a]
cmd = \${HELPERS}/notify READY=1
ready = notify

[job:b]
needs = a
cmd = true

[job:c]
cmd = sh -c 'echo >&3'
ready = fd:3

[job:d]
needs = c
cmd = true
EOF
lost=0 rcs=
for i in 1 2 3 4 5 6; do
	run_grun 10 "$T/case.ini"
	rcs="$rcs$rc"
	lost=$((lost + $(grep -c 'skipped: needs [ac], which exited before it was ready' "$T/err")))
done
ok "$( [ "$rcs" = 000000 ] && [ $lost -eq 0 ]; echo $?)" \
	"ready then exit 0 at once: dependents always run (6 runs: statuses $rcs, $lost dependents skipped)"
ok "$(left)" "ready then exit: no process left"

fresh
cat >"$T/case.ini" <<EOF
[job:a]
cmd = sh -c '\${HELPERS}/notify STATUS=booting READYX=1; exec sleep 100'
ready = notify
ready_timeout = 500ms

$B
EOF
timeout_case "notify never sent"
ok "$( [ ! -e "$T/b.S" ]; echo $?)" "notify never sent: b never ran"

# ---- fd:N ------------------------------------------------------------------------
fresh
cat >"$T/case.ini" <<EOF
[job:a]
cmd = sh -c 'printf partial >&3; sleep 0.3; \${GRUN_TEST_TAG}/mark R a; echo >&3; exec sleep 100'
ready = fd:3

$B
EOF
long_case "fd:3 (a partial line first)"

fresh
cat >"$T/case.ini" <<EOF
[job:a]
cmd = sh -c 'printf "no newline" >&4; sleep 0.2'
ready = fd:4

$B
EOF
fail_case "fd:4, no newline before exit" "exited before it was ready"

fresh
cat >"$T/case.ini" <<EOF
[job:a]
cmd = sh -c 'printf "no newline" >&5; exec sleep 100'
ready = fd:5
ready_timeout = 500ms

$B
EOF
timeout_case "fd:5, no newline, ready_timeout"

# ---- tcp:HOST:PORT ------------------------------------------------------------------
# $T/listen PORT: listens on 127.0.0.1:PORT until killed.
listener=
if perl -MIO::Socket::INET -e 1 2>/dev/null; then
	listener=perl
	port=$(perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1:0")->sockport')
	cat >"$T/listen" <<'EOF'
#!/usr/bin/perl
use IO::Socket::INET;
my $s = IO::Socket::INET->new(Listen => 5, LocalAddr => "127.0.0.1:$ARGV[0]", ReuseAddr => 1)
	or die "listen: $!";
sleep 100;
EOF
elif command -v python3 >/dev/null 2>&1; then
	listener=python3
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	cat >"$T/listen" <<'EOF'
#!/usr/bin/env python3
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(5)
time.sleep(100)
EOF
fi
[ -n "$listener" ] && chmod +x "$T/listen"
if [ -n "$listener" ]; then
	fresh
	cat >"$T/case.ini" <<EOF
[job:a]
cmd = sh -c 'sleep 0.3; \${GRUN_TEST_TAG}/mark R a; exec \${GRUN_TEST_TAG}/listen $port'
ready = tcp:127.0.0.1:$port
ready_timeout = $(secs 10)s

$B
EOF
	long_case "tcp ($listener listener)"
else
	for d in "exit status 0 after SIGTERM" "b started after a listened" "log: a ready, then b started" "no process left"; do
		ok 0 "tcp: $d # SKIP no perl IO::Socket::INET or python3 for a listener"
	done
fi

# nobody listens on a port that was free a moment ago
port2=$(perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1:0")->sockport' 2>/dev/null ||
	echo 9)
fresh
cat >"$T/case.ini" <<EOF
[job:a]
cmd = sleep 100
ready = tcp:127.0.0.1:$port2
ready_timeout = 500ms

$B
EOF
timeout_case "tcp, nobody listening, ready_timeout"

# ---- file:PATH ------------------------------------------------------------------------
fresh
cat >"$T/case.ini" <<EOF
[job:a]
cmd = sh -c 'sleep 0.3; \${GRUN_TEST_TAG}/mark R a; touch \${GRUN_TEST_TAG}/ready.flag; exec sleep 100'
ready = file:\${GRUN_TEST_TAG}/ready.flag

[job:b]
needs = a
cmd = sh -c '\${GRUN_TEST_TAG}/mark S b; test -e \${GRUN_TEST_TAG}/ready.flag'
EOF
long_case "file:PATH"

fresh
cat >"$T/case.ini" <<EOF
[job:a]
cmd = sleep 100
ready = file:\${GRUN_TEST_TAG}/ready.flag
ready_timeout = 500ms

$B
EOF
timeout_case "file:PATH never created, ready_timeout"

# ---- delay:DURATION ---------------------------------------------------------------------
fresh
cat >"$T/case.ini" <<EOF
[job:a]
cmd = sh -c '\${GRUN_TEST_TAG}/mark R a; exec sleep 100'
ready = delay:300ms

$B
EOF
t0=$(date +%s%3N)
start_grun "$T/case.ini"
wait_log '^grun: b: exited' 10
sa=$(started_ms "$(sed -n 's/^grun: a: started (pid \([0-9]*\))$/\1/p' "$T/err")")
kill -TERM "$GRUN_PID" 2>/dev/null
wait_grun 10
is "$rc" 143 "delay:300ms: exit status 143 after SIGTERM"
sb=$(ts S b)
ok "$( [ -n "$sb" ] && [ $((sb - t0)) -ge 300 ]; echo $?)" "delay:300ms: b started at least 300ms after grun did ($((${sb:-0} - t0)) ms)"
# The delay counts from a's start: when the kernel started a's process,
# not when a's shell got to its mark (late on a loaded machine).
ok "$(le "$((${sa:-0} + 290))" "$sb"; echo $?)" \
	"delay:300ms: b started at least 300ms after a's process did (${sa:-?} + 300 <= $sb, within a clock tick)"
is "$(flow '^grun: (a: (started|ready)|b: started)')" "a: started/a: ready/b: started/" \
	"delay:300ms: log: a started, ready, then b started"
ok "$(left)" "delay:300ms: no process left"

done_testing
