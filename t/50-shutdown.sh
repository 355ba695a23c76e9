#!/bin/sh
# 50-shutdown: stopping with real processes.  SIGTERM and SIGINT stop every
# job (here with shutdown = sequential: in reverse start order across the
# supervision tree); jobs that are not permanent were stopped before they
# finished, so grun leaves by that signal (status 128+N);
# stop_signal is the signal the job really gets; stop_timeout escalates to
# KILL; a second SIGINT kills everything at once (exit 130); the stop
# signal goes to the job's whole process group.  No process is left after
# any of it.
. "$(dirname "$0")/lib.sh"

plan 39

# left [SECS]: 0 once no tagged process is left (for ok).
# trapped NAME...: until each job NAME has set its traps.
trapped() { for _j in "$@"; do wait_file "$T/trapped.$_j" 10 || return 1; done; }
flow() { events "$1" | sed 's/ (pid [0-9]*)//' | tr '\n' '/'; }
alive() { kill -0 "$1" 2>/dev/null; }

# job NAME: runs until TERM or INT, then appends "NAME SIGNAL" to $T/got
# and exits 0.  Creates $T/trapped.NAME once its traps are set.
cat >"$T/job" <<'EOF'
#!/bin/sh
trap 'echo "$1 TERM" >>"$GRUN_TEST_TAG/got"; exit 0' TERM
trap 'echo "$1 INT" >>"$GRUN_TEST_TAG/got"; exit 0' INT
trap 'echo "$1 USR1" >>"$GRUN_TEST_TAG/got"; exit 0' USR1
: >"$GRUN_TEST_TAG/trapped.$1"
sleep 100 &
wait
EOF
chmod +x "$T/job"

cat >"$T/tree.ini" <<'EOF'
[grun]
shutdown = sequential

[job:a]
cmd = ${GRUN_TEST_TAG}/job a

[job:b]
cmd = ${GRUN_TEST_TAG}/job b

[supervisor:sub]
strategy = one_for_all
shutdown = sequential

[job:s1]
supervisor = sub
cmd = ${GRUN_TEST_TAG}/job s1

[job:s2]
supervisor = sub
cmd = ${GRUN_TEST_TAG}/job s2

[job:c]
cmd = sleep 100

[job:waits]
needs = c
cmd = touch ${GRUN_TEST_TAG}/waits.ran
EOF
# c is ready only when it exits, so "waits" is still waiting when the stop comes
sed -i 's/^cmd = sleep 100$/&\nready = exited/' "$T/tree.ini"

# ---- SIGTERM and SIGINT: reverse start order across the tree --------------
for sig in TERM INT; do
	: >"$T/got"
	rm -f "$T"/trapped.*
	start_grun "$T/tree.ini"
	wait_log '^grun: c: started' 10
	trapped a b s1 s2
	kill -$sig "$GRUN_PID"
	wait_grun 15
	is "$rc" $((128 + $(kill -l $sig))) "SIG$sig: exit status $((128 + $(kill -l $sig))) (work interrupted)"
	is "$(flow ': started')" "a: started/b: started/s1: started/s2: started/c: started/" \
		"SIG$sig: started in file order, the nested supervisor's jobs in place"
	is "$(flow '^grun: [a-z0-9]+: (stopping|exited|killed)')" \
		"c: stopping (TERM, KILL after 10s)/c: killed by signal TERM/s2: stopping (TERM, KILL after 10s)/s2: exited with status 0/s1: stopping (TERM, KILL after 10s)/s1: exited with status 0/b: stopping (TERM, KILL after 10s)/b: exited with status 0/a: stopping (TERM, KILL after 10s)/a: exited with status 0/" \
		"SIG$sig: stopped one by one in reverse start order (c, s2, s1, b, a)"
	is "$(tr '\n' '/' <"$T/got")" "s2 TERM/s1 TERM/b TERM/a TERM/" \
		"SIG$sig: the jobs received TERM in that order"
	ok "$( [ ! -e "$T/waits.ran" ] && ! grep -q 'waits: started' "$T/err"; echo $?)" \
		"SIG$sig: a job still waiting for its needs never starts"
	unlike "$(cat "$T/err")" 'failed|skipped' "SIG$sig: nothing counted as failed or skipped"
	ok "$(left)" "SIG$sig: no process left"
done

# ---- stop_signal is the signal the job gets ----------------------------------
: >"$T/got"
cat >"$T/sig.ini" <<'EOF'
[grun]
shutdown = sequential

[job:i]
cmd = ${GRUN_TEST_TAG}/job i
stop_signal = INT

[job:u]
cmd = ${GRUN_TEST_TAG}/job u
stop_signal = USR1

[job:plain]
cmd = sleep 100
stop_signal = USR1
EOF
start_grun "$T/sig.ini"
wait_log '^grun: plain: started' 10
trapped i u
kill -TERM "$GRUN_PID"
wait_grun 15
is "$rc" 143 "stop_signal: exit status 143"
is "$(sort "$T/got" | tr '\n' '/')" "i INT/u USR1/" "stop_signal: INT and USR1 were what the jobs received"
is "$(flow '^grun: [a-z0-9]+: (stopping|exited|killed)')" \
	"plain: stopping (USR1, KILL after 10s)/plain: killed by signal USR1/u: stopping (USR1, KILL after 10s)/u: exited with status 0/i: stopping (INT, KILL after 10s)/i: exited with status 0/" \
	"stop_signal: logged with the right signal, in reverse order"
ok "$(left)" "stop_signal: no process left"

# ---- stop_timeout: a job that ignores TERM gets KILL ------------------------------
cat >"$T/deaf.ini" <<'EOF'
[job:deaf]
cmd = sh -c 'trap "" TERM; echo $$$$ >${GRUN_TEST_TAG}/deaf.pid; while :; do sleep 0.1; done'
stop_timeout = 500ms
EOF
start_grun "$T/deaf.ini"
wait_file "$T/deaf.pid" 10
wait_log '^grun: deaf: started' 10
deaf=$(cat "$T/deaf.pid")
t0=$(now_ms)
kill -TERM "$GRUN_PID"
wait_grun 15
t1=$(now_ms)
is "$rc" 143 "stop_timeout: exit status 143"
is "$(flow '^grun: deaf: (stopping|still|exited|killed)')" \
	"deaf: stopping (TERM, KILL after 500ms)/deaf: still running 500ms after TERM; sending KILL/deaf: killed by signal KILL/" \
	"stop_timeout: TERM, then KILL after 500ms"
ok "$( [ $((t1 - t0)) -ge 500 ] && [ $((t1 - t0)) -lt $((5000 * MULT)) ]; echo $?)" \
	"stop_timeout: grun took 500ms or a little more ($((t1 - t0)) ms, bound $((5000 * MULT)) ms)"
ok "$(! alive "$deaf"; echo $?)" "stop_timeout: the job is dead"
ok "$(left)" "stop_timeout: no process left"

# ---- a second SIGINT kills everything at once --------------------------------------
cat >"$T/int2.ini" <<'EOF'
[job:calm]
cmd = sleep 100

[job:deaf]
cmd = sh -c 'trap "" TERM INT; echo $$$$ >${GRUN_TEST_TAG}/deaf2.pid; while :; do sleep 0.1; done'
stop_timeout = 60s
EOF
start_grun "$T/int2.ini"
wait_file "$T/deaf2.pid" 10
wait_log '^grun: deaf: started' 10
wait_log '^grun: calm: started' 10
kill -INT "$GRUN_PID"
wait_log '^grun: deaf: stopping' 10
settle 300
ok "$(alive "$(cat "$T/deaf2.pid")"; echo $?)" "second SIGINT: the job ignoring TERM still runs after the first"
t0=$(now_ms)
kill -INT "$GRUN_PID"
wait_grun 10
t1=$(now_ms)
is "$rc" 130 "second SIGINT: exit status 130"
ok "$( [ $((t1 - t0)) -lt $((3000 * MULT)) ]; echo $?)" \
	"second SIGINT: grun exits at once ($((t1 - t0)) ms, bound $((3000 * MULT)) ms), not after stop_timeout"
like "$(cat "$T/err")" '^grun: second SIGINT: killing every job$' "second SIGINT: logged"
ok "$(left)" "second SIGINT: no process left (calm and deaf both killed)"

# ---- the stop signal goes to the job's whole process group -------------------------------
# The job's own child traps TERM and records it; the job waits for it.
cat >"$T/kid" <<'EOF'
#!/bin/sh
trap 'echo TERM >"$GRUN_TEST_TAG/kid.got"; exit 0' TERM
echo $$ >"$GRUN_TEST_TAG/kid.pid"
sleep 100 &
echo $! >"$GRUN_TEST_TAG/grandkid.pid"
wait
EOF
chmod +x "$T/kid"
cat >"$T/group.ini" <<'EOF'
[job:parent]
cmd = sh -c '${GRUN_TEST_TAG}/kid & trap "wait; exit 0" TERM; touch ${GRUN_TEST_TAG}/parent.trapped; wait'
EOF
start_grun "$T/group.ini"
wait_file "$T/grandkid.pid" 10
wait_file "$T/parent.trapped" 10
kid=$(cat "$T/kid.pid")
grandkid=$(cat "$T/grandkid.pid")
kill -TERM "$GRUN_PID"
wait_grun 15
is "$rc" 143 "group: exit status 143"
is "$(cat "$T/kid.got" 2>/dev/null)" TERM "group: the job's child received TERM itself"
ok "$(! alive "$kid" && ! alive "$grandkid"; echo $?)" "group: the child and its own sleep are dead"
ok "$(left)" "group: no process left"

# A job whose child ignores TERM: the group is KILLed when the leader exits
cat >"$T/group2.ini" <<'EOF'
[job:leader]
cmd = sh -c '(trap "" TERM; exec sleep 100) & echo $$! >${GRUN_TEST_TAG}/stray.pid; wait'
EOF
start_grun "$T/group2.ini"
wait_file "$T/stray.pid" 10
stray=$(cat "$T/stray.pid")
# the pid is written at the fork: wait until the child has set its trap
# and become the sleep (which keeps ignoring TERM)
is_sleep() { [ "$(cat "/proc/$1/comm" 2>/dev/null)" = sleep ]; }
wait_for 10 is_sleep "$stray"
ok "$(alive "$stray"; echo $?)" "group: the TERM-ignoring child runs"
kill -TERM "$GRUN_PID"
wait_grun 15
is "$rc" 143 "group, stray: exit status 143"
like "$(cat "$T/err")" 'grun: leader: killed by signal TERM' "group, stray: the leader died of TERM"
ok "$(! alive "$stray"; echo $?)" "group, stray: the child ignoring TERM was killed with its group"
ok "$(left)" "group, stray: no process left"

# ---- a one-shot graph that finishes by itself, then SIGTERM changes nothing ----------
cat >"$T/done.ini" <<'EOF'
[job:quick]
cmd = true
EOF
run_grun 10 "$T/done.ini"
is "$rc" 0 "one-shot: exit status 0"
is "$(tail -n 1 "$T/err")" "grun: 1 job ended: 1 succeeded, 0 stopped" "one-shot: summary"

done_testing
