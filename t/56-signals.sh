#!/bin/sh
# 56-signals: every signal a user or a terminal may send grun has a
# meaning, and none leaves jobs behind.  A task run interrupted before its
# work was done leaves by that signal (exit 128+N in a shell), naming what
# was stopped and what never ran, so `grun tasks.ini && deploy` does not
# deploy; USR1, USR2, ALRM, PIPE, WINCH do not disturb anything; QUIT
# stops like TERM; TSTP suspends the jobs and grun, CONT resumes them.
. "$(dirname "$0")/lib.sh"

plan 16

state() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1; }
pid_of() { sed -n "s/^grun: $1: started (pid \([0-9]*\))\$/\1/p" "$T/err" | tail -n 1; }

cat >"$T/tasks.ini" <<'EOF'
[job:quick]
cmd = true

[job:long]
ready = exited
cmd = sleep 1000

[job:after]
needs = long
cmd = echo after ran
EOF

# ---- an interrupted task run ----------------------------------------------------------------
for sig in INT TERM QUIT; do
	start_grun "$T/tasks.ini"
	wait_log '^grun: long: started' 10
	wait_log '^grun: quick: exited' 10
	kill -$sig "$GRUN_PID"
	wait_grun 20
	n=$(kill -l "$sig")
	is "$rc" $((128 + n)) "SIG$sig before the work was done: grun leaves by it (status $((128 + n)))"
	like "$(cat "$T/err")" "^grun: interrupted by SIG$sig: 1 job stopped before finishing \\(long\\); 1 never ran \\(after\\)\$" \
		"SIG$sig: the summary names what was stopped and what never ran"
done

sh -c '"$0" "$1" >/dev/null 2>&1 && echo deployed' "$GRUN" "$T/tasks.ini" >"$T/deploy" &
shpid=$!
end=$(( $(date +%s) + $(secs 10) ))
until pgrep -f "sleep 1000" -P "$(pgrep -P $shpid -x grun | head -n 1)" >/dev/null 2>&1 || [ "$(date +%s)" -ge "$end" ]; do sleep 0.05; done
kill -INT "$(pgrep -P $shpid -x grun)"
wait $shpid
is "$(cat "$T/deploy")" "" "grun tasks.ini && deploy: Ctrl-C means no deploy"

# ---- signals that change nothing -------------------------------------------------------------
cat >"$T/svc.ini" <<'EOF'
[job:svc]
restart = permanent
cmd = sleep 1000
EOF
start_grun "$T/svc.ini"
wait_log '^grun: svc: started' 10
svc=$(pid_of svc)
for sig in USR1 USR2 ALRM PIPE WINCH; do
	kill -$sig "$GRUN_PID"
done
wait_log '^grun: SIGALRM ignored$' 10
settle 200
ok "$(kill -0 "$GRUN_PID" && kill -0 "$svc"; echo $?)" "USR1, USR2, ALRM, PIPE, WINCH: grun and its job still run"
is "$(pid_of svc):$(count ': started')" "$svc:1" "... and the job was not restarted"
like "$(cat "$T/err")" '^grun: SIGUSR1: no log files to reopen$' "SIGUSR1 is logged"
like "$(cat "$T/err")" '^grun: SIGUSR2 ignored$' "SIGUSR2 is logged as ignored"

# ---- Ctrl-Z and fg ---------------------------------------------------------------------------
kill -TSTP "$GRUN_PID"
end=$(( $(date +%s) + $(secs 10) ))
until [ "$(state "$svc")" = T ] && [ "$(state "$GRUN_PID")" = T ] || [ "$(date +%s)" -ge "$end" ]; do sleep 0.05; done
is "$(state "$svc"):$(state "$GRUN_PID")" "T:T" "SIGTSTP: the job and grun are stopped"
kill -CONT "$GRUN_PID"
end=$(( $(date +%s) + $(secs 10) ))
until [ "$(state "$svc")" = S ] || [ "$(date +%s)" -ge "$end" ]; do sleep 0.05; done
is "$(state "$svc")" S "SIGCONT: the job runs again"
ok "$([ "$(state "$GRUN_PID")" != T ]; echo $?)" "SIGCONT: grun runs again"
kill -TERM "$GRUN_PID"
wait_grun 20
is "$rc" 0 "a permanent service stopped by SIGTERM: exit 0"
is "$(left)" 0 "no process left behind"
done_testing
