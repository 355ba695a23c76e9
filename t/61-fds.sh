#!/bin/sh
# 61-fds: no descriptor leaks into jobs.  A job's shell lists its own open
# descriptors: exactly 0 1 2 (plus N for ready = fd:N), whatever grun had
# open (its own inherited extra fds, its pipes and sockets for other jobs);
# stdin is /dev/null unless told otherwise.
. "$(dirname "$0")/lib.sh"

plan 28

# left [SECS]: 0 once no tagged process is left (for ok).
# lines NAME: what job NAME printed, one line each, joined by spaces.
lines() { sed -n "s/^$1 *| //p" "$T/out" | tr '\n' ' ' | sed 's/ $//'; }

# `ls /proc/$$/fd; true`: the shell (not ls, which opens the directory)
# lists its descriptors; "; true" keeps sh from exec'ing ls.  The jobs
# that say they are ready stay up a moment after (see 41-ready).
cat >"$T/fds.ini" <<'EOF'
[job:plain]
cmd = sh -c 'ls /proc/$$$$/fd; true'

[job:ready3]
cmd = sh -c 'ls /proc/$$$$/fd; echo >&3; exec sleep 0.3'
ready = fd:3

[job:ready7]
cmd = sh -c 'ls /proc/$$$$/fd; echo >&7; exec sleep 0.3'
ready = fd:7

[job:notify]
cmd = sh -c 'ls /proc/$$$$/fd; $${HELPERS}/notify READY=1; exec sleep 0.3'
ready = notify

[job:late]
needs = ready3, ready7, notify
cmd = sh -c 'ls /proc/$$$$/fd; true'

[job:busy]
cmd = sh -c 'sleep 0.5; ls /proc/$$$$/fd; true'

[job:tofile]
cmd = sh -c 'exec >&2; ls /proc/$$$$/fd; true'
stderr = file:${GRUN_TEST_TAG}/tofile.err

[job:stdin]
cmd = readlink /proc/self/fd/0

[job:stdin2]
cmd = sh -c 'readlink /proc/$$$$/fd/0; true'

[job:fromfile]
cmd = sh -c 'readlink /proc/$$$$/fd/0; cat'
stdin = file:${GRUN_TEST_TAG}/input
EOF
echo "from the input file" >"$T/input"
export HELPERS

# fd_checks LABEL
fd_checks() {
	is "$rc" 0 "$1: exit status 0"
	is "$(lines plain)" "0 1 2" "$1: a plain job has exactly 0 1 2"
	is "$(lines ready3)" "0 1 2 3" "$1: ready = fd:3 adds exactly 3"
	is "$(lines ready7)" "0 1 2 7" "$1: ready = fd:7 adds exactly 7"
	is "$(lines notify)" "0 1 2" "$1: ready = notify adds no descriptor (the socket is grun's)"
	is "$(lines late)" "0 1 2" "$1: a job started after others were ready has exactly 0 1 2"
	is "$(lines busy)" "0 1 2" "$1: a job started alongside 9 others has exactly 0 1 2"
	is "$(tr '\n' ' ' <"$T/tofile.err" | sed 's/ $//')" "0 1 2" "$1: stderr = file:PATH: still exactly 0 1 2"
	is "$(lines stdin):$(lines stdin2)" "/dev/null:/dev/null" "$1: stdin is /dev/null by default"
	is "$(lines fromfile)" "$T/input from the input file" "$1: stdin = file:PATH is that file"
}

run_grun 15 "$T/fds.ini"
fd_checks "plain"
ok "$(left)" "plain: no process left"

# grun started with extra descriptors open: 5 and 7 (7 is also a ready fd)
rm -f "$T/tofile.err"
exec 5>"$T/leak5" 7>"$T/leak7" 9<"$T/input"
start_grun "$T/fds.ini"
exec 5>&- 7>&- 9<&-
wait_grun 15
fd_checks "grun with fds 5, 7, 9 open"
ok "$(left)" "extra fds: no process left"

# a pipe as grun's stdin: jobs still get /dev/null, not grun's stdin
rm -f "$T/tofile.err"
echo "grun's own stdin" | "$GRUN" "$T/fds.ini" >"$T/out" 2>"$T/err"
rc=$?
is "$rc:$(lines stdin)" "0:/dev/null" "piped stdin: jobs still read /dev/null"
ok "$(left)" "piped stdin: no process left"

# grun itself does not leak: jobs of every ready kind restarted hundreds of
# times leave grun with about as many descriptors as it started with.  The
# checks wait for a number of runs (bounded, scaled like every wait) and
# never count runs in a fixed time: a slow build (TSan, valgrind) restarts
# less often, not differently.
cat >"$T/churn.ini" <<'EOF'
[grun]
intensity = 1000000
period = 1s

[job:n]
cmd = sh -c '${HELPERS}/notify READY=1; sleep 0.01'
ready = notify
restart = permanent
backoff = 0

[job:f]
cmd = sh -c 'echo >&3; sleep 0.01'
ready = fd:3
restart = permanent
backoff = 0

[job:t]
cmd = sh -c 'echo out; echo err >&2'
ready = file:${GRUN_TEST_TAG}/never
ready_timeout = 1s
restart = permanent
backoff = 0
EOF
# runs JOB: how many times grun has started JOB so far.
runs() { count "^grun: $1: started \\(pid"; }
# fds: the fewest descriptors grun had open in 10 looks 20 ms apart (the
# pipes of the runs starting at that moment are not a leak).
fds() {
	_min=
	for _i in 1 2 3 4 5 6 7 8 9 10; do
		_c=$(ls /proc/"$GRUN_PID"/fd | wc -l)
		[ -z "$_min" ] || [ "$_c" -lt "$_min" ] && _min=$_c
		sleep 0.02
	done
	echo "$_min"
}
start_grun "$T/churn.ini"
wait_count '^grun: n: started' 5 && wait_count '^grun: f: started' 5 && wait_count '^grun: t: started' 5
ok $? "churn: n, f and t (ready = notify, fd:3, file:) restarted at once, 5 runs each"
fd0=$(fds)
n0=$(runs n) f0=$(runs f) t0=$(runs t)
wait_count '^grun: n: started' $((n0 + 100)) 60 &&
	wait_count '^grun: f: started' $((f0 + 100)) 60 &&
	wait_count '^grun: t: started' $((t0 + 100)) 60
churned=$?
fd1=$(fds)
r1="$(runs n)/$(runs f)/$(runs t)"
kill -TERM "$GRUN_PID"
wait_grun 15
ok "$( [ "$churned" -eq 0 ] && [ "$fd1" -le $((fd0 + 10)) ]; echo $?)" \
	"churn: from $n0/$f0/$t0 to $r1 runs of n/f/t (100 more each), grun's descriptors went from $fd0 to $fd1 (at most 10 more)"
is "$rc" 0 "churn: exit status 0 after SIGTERM"
ok "$(left)" "churn: no process left"

done_testing
