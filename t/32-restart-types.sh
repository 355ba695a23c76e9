#!/bin/sh
# 32-restart-types: permanent, transient and temporary jobs with real
# processes: which ends are restarted (an exit with status 0 or a kill by
# the job's own stop_signal is a normal end; another status or signal is a
# failure), grun's exit status and summary, and the significant-job exit
# policies (exit = any_significant / all_significant).
. "$(dirname "$0")/lib.sh"


plan 54

# seq.sh NAME ACTION...: appends its pid to $T/NAME.pids; its K-th run
# does the K-th ACTION (the last one for every later run):
#   exit:N  exit with status N
#   hold    exec sleep 60 (the pid recorded is the sleep's)
#   wait    wait until $T/crash-NAME exists, remove it, exit with the
#           status written in it (1 if empty)
cat >"$T/seq.sh" <<'EOF'
#!/bin/sh
name=$1; shift
echo $$ >>"$GRUN_TEST_TAG/$name.pids"
run=$(wc -l <"$GRUN_TEST_TAG/$name.pids")
k=1 act=wait
for a in "$@"; do act=$a; [ "$k" -ge "$run" ] && break; k=$((k + 1)); done
case $act in
exit:*) exit "${act#exit:}" ;;
hold) exec sleep 60 ;;
esac
while [ ! -e "$GRUN_TEST_TAG/crash-$name" ]; do sleep 0.05; done
st=$(cat "$GRUN_TEST_TAG/crash-$name")
rm -f "$GRUN_TEST_TAG/crash-$name"
exit "${st:-1}"
EOF

runs() { if [ -e "$T/$1.pids" ]; then wc -l <"$T/$1.pids" | tr -d ' '; else echo 0; fi; }
run_pid() { sed -n "${2}p" "$T/$1.pids" 2>/dev/null; }
# wait_run NAME K: until NAME's K-th run has recorded its pid and grun
# has logged its start.
wait_run() {
	wait_count "^grun: $1: started" "$2"
	_end=$(( $(date +%s) + $(secs 10) ))
	while [ "$(runs "$1")" -lt "$2" ]; do
		[ "$(date +%s)" -ge "$_end" ] && { diag "$1 did not record run $2"; return 1; }
		sleep 0.02
	done
}
crash() { echo "${2:-1}" >"$T/crash-$1.tmp" && mv "$T/crash-$1.tmp" "$T/crash-$1"; }
reset() { rm -f "$T"/*.pids "$T"/crash-*; }
running() { kill -0 "$GRUN_PID" 2>/dev/null; echo $?; }
# of NAME: NAME's log lines (started, exited, killed, restarting,
# stopping), "NAME: " and pids stripped, joined with "/".
of() { events "^grun: $1: " | sed "s/^$1: //; s/ (pid [0-9]*)//" | tr '\n' '/'; }
stopped() { events '^grun: [^ ]+: stopping \(' | sed 's/:.*//' | tr '\n' ' ' | sed 's/ $//'; }

# ---- permanent: restarted after exit 0, a failure and a kill by TERM ---------
reset
cat >"$T/perm.ini" <<'EOF'
[grun]
backoff = 0

[job:p]
restart = permanent
cmd = sh ${GRUN_TEST_TAG}/seq.sh p exit:0 exit:3 hold
EOF
start_grun "$T/perm.ini"
wait_run p 3
is "$(of p)" "started/exited with status 0/restarting in 0s (restart 1)/started/exited with status 3/restarting in 0s (restart 2)/started/" \
	"permanent: restarted after exit 0 and after exit 3"
kill -TERM "$(run_pid p 3)"
wait_run p 4
like "$(of p)" "/started/killed by signal TERM/restarting in 0s \\(restart 3\\)/started/\$" \
	"permanent: restarted after a kill by its stop signal"
ok "$(running)" "permanent: grun is still running (a permanent job never ends for good)"
kill -TERM "$GRUN_PID"
wait_grun 10
is "$rc" 0 "permanent: exit 0 after SIGTERM"
is "$(tail -n 1 "$T/err")" "grun: 1 job ended: 0 succeeded, 1 stopped" "permanent: summary: the job was stopped"
is "$(left)" 0 "permanent: no process left"

# ---- transient: restarted after failures only -----------------------------
# tr: exit 1, then killed by KILL from outside (both failures: restarted),
# then killed by TERM, its stop signal (a normal end: not restarted).
# ti: stop_signal = INT: killed by TERM is a failure, by INT a normal end.
# t0: exit 0 at once: not restarted.
reset
cat >"$T/trans.ini" <<'EOF'
[grun]
backoff = 0
restart = transient

[job:tr]
cmd = sh ${GRUN_TEST_TAG}/seq.sh tr exit:1 hold

[job:ti]
stop_signal = INT
cmd = sh ${GRUN_TEST_TAG}/seq.sh ti hold

[job:t0]
cmd = sh ${GRUN_TEST_TAG}/seq.sh t0 exit:0
EOF
start_grun "$T/trans.ini"
wait_run tr 2
wait_run ti 1
wait_count '^grun: t0: exited' 1
is "$(of tr)" "started/exited with status 1/restarting in 0s (restart 1)/started/" "transient: restarted after exit 1"
kill -KILL "$(run_pid tr 2)"
wait_run tr 3
like "$(of tr)" "/started/killed by signal KILL/restarting in 0s \\(restart 2\\)/started/\$" \
	"transient: restarted after a kill by KILL"
kill -TERM "$(run_pid tr 3)"
wait_count '^grun: tr: killed by signal TERM$' 1
kill -TERM "$(run_pid ti 1)"
wait_run ti 2
is "$(of ti)" "started/killed by signal TERM/restarting in 0s (restart 1)/started/" \
	"transient, stop_signal = INT: restarted after a kill by TERM (not its stop signal)"
kill -INT "$(run_pid ti 2)"
wait_grun 10
is "$rc" 0 "transient: grun ended by itself once every job ended normally, exit 0"
is "$(of tr)" "started/exited with status 1/restarting in 0s (restart 1)/started/killed by signal KILL/restarting in 0s (restart 2)/started/killed by signal TERM/" \
	"transient: not restarted after a kill by its stop signal (TERM)"
is "$(of ti)" "started/killed by signal TERM/restarting in 0s (restart 1)/started/killed by signal INT/" \
	"transient, stop_signal = INT: not restarted after a kill by INT"
is "$(of t0)" "started/exited with status 0/" "transient: not restarted after exit 0"
is "$(runs tr) $(runs ti) $(runs t0)" "3 2 1" "transient: tr ran 3 times, ti twice, t0 once"
is "$(tail -n 1 "$T/err")" "grun: 3 jobs ended: 3 succeeded, 0 stopped" "transient: summary: 3 succeeded"
is "$(left)" 0 "transient: no process left"

# ---- temporary: never restarted; a failure makes grun exit 1 ------------------
# tf (temporary by default) exits 4, tok exits 0, tk is killed by KILL.
reset
cat >"$T/temp.ini" <<'EOF'
[grun]
backoff = 0

[job:tf]
cmd = sh ${GRUN_TEST_TAG}/seq.sh tf exit:4

[job:tok]
restart = temporary
cmd = sh ${GRUN_TEST_TAG}/seq.sh tok exit:0

[job:tk]
restart = temporary
cmd = sh ${GRUN_TEST_TAG}/seq.sh tk hold
EOF
start_grun "$T/temp.ini"
wait_run tk 1
wait_count '^grun: tf: exited' 1
wait_count '^grun: tok: exited' 1
kill -KILL "$(run_pid tk 1)"
wait_grun 10
is "$rc" 1 "temporary: exit 1 (two jobs failed)"
is "$(of tf)|$(of tok)|$(of tk)" "started/exited with status 4/|started/exited with status 0/|started/killed by signal KILL/" \
	"temporary: none restarted, after a failure, a success or a KILL (temporary is the default)"
is "$(runs tf) $(runs tok) $(runs tk)" "1 1 1" "temporary: each ran once"
is "$(tail -n 1 "$T/err")" "grun: 3 jobs ended: 1 succeeded, 2 failed, 0 skipped, 0 stopped (tf failed, tk failed)" \
	"temporary: summary names the failed jobs"
is "$(left)" 0 "temporary: no process left"

reset
cat >"$T/allok.ini" <<'EOF'
[job:a]
cmd = sh ${GRUN_TEST_TAG}/seq.sh a exit:0

[job:b]
restart = transient
cmd = sh -c 'sleep 0.2; exit 0'
EOF
run_grun 10 "$T/allok.ini"
is "$rc" 0 "success: exit 0 when every job succeeded"
is "$(tail -n 1 "$T/err")" "grun: 2 jobs ended: 2 succeeded, 0 stopped" "success: summary"
is "$(count 'restarting')" 0 "success: nothing restarted"
is "$(left)" 0 "success: no process left"

reset
cat >"$T/onefail.ini" <<'EOF'
[job:a]
cmd = sh ${GRUN_TEST_TAG}/seq.sh a exit:0

[job:bad]
cmd = sh -c 'sleep 0.2; exit 9'
EOF
run_grun 10 "$T/onefail.ini"
is "$rc" 1 "one failure: exit 1 when a temporary job failed"
is "$(tail -n 1 "$T/err")" "grun: 2 jobs ended: 1 succeeded, 1 failed, 0 skipped, 0 stopped (bad failed)" \
	"one failure: summary names bad"
is "$(left)" 0 "one failure: no process left"

# ---- exit = any_significant ----------------------------------------------------
# main (transient, significant): its failure is restarted and ends
# nothing; its normal end stops everything, permanent jobs included.
reset
cat >"$T/any.ini" <<'EOF'
[grun]
exit = any_significant
backoff = 0
shutdown = sequential

[job:svc]
restart = permanent
cmd = sh ${GRUN_TEST_TAG}/seq.sh svc hold

[job:main]
restart = transient
significant = yes
cmd = sh ${GRUN_TEST_TAG}/seq.sh main wait

[job:svc2]
restart = permanent
cmd = sh ${GRUN_TEST_TAG}/seq.sh svc2 hold
EOF
start_grun "$T/any.ini"
wait_run svc 1; wait_run main 1; wait_run svc2 1
crash main 1
wait_run main 2
ok "$(running)" "any_significant: a failure of main (restarted) does not end grun"
is "$(count 'significant job ended')" 0 "any_significant: no significant end logged after the failure"
crash main 0
wait_grun 10
is "$rc" 0 "any_significant: main ended normally: grun stops everything and exits 0"
is "$(events '^grun: (main|svc|svc2): (exited|stopping|killed)|significant' | sed 's/ (.*//' | tr '\n' '/')" \
	"main: exited with status 1/main: exited with status 0/main: significant job ended/svc2: stopping/svc2: killed by signal TERM/svc: stopping/svc: killed by signal TERM/" \
	"any_significant: after main's end, svc2 and svc (permanent) were stopped in reverse order"
like "$(cat "$T/err")" 'grun: main: significant job ended \(exit = any_significant\): stopping every job' \
	"any_significant: the log says why"
is "$(runs svc) $(runs main) $(runs svc2)" "1 2 1" "any_significant: svc and svc2 ran once, main twice"
is "$(tail -n 1 "$T/err")" "grun: 3 jobs ended: 1 succeeded, 2 stopped" "any_significant: summary: main succeeded, svc and svc2 stopped"
is "$(left)" 0 "any_significant: no process left"

# a temporary significant job that fails: everything stops, exit 1
reset
cat >"$T/anyfail.ini" <<'EOF'
[grun]
exit = any_significant

[job:svc]
restart = permanent
cmd = sh ${GRUN_TEST_TAG}/seq.sh svc hold

[job:main]
restart = temporary
significant = yes
cmd = sh ${GRUN_TEST_TAG}/seq.sh main wait
EOF
start_grun "$T/anyfail.ini"
wait_run svc 1; wait_run main 1
crash main 5
wait_grun 10
is "$rc" 1 "any_significant, main fails: exit 1"
is "$(stopped)" "svc" "any_significant, main fails: svc was stopped"
is "$(tail -n 1 "$T/err")" "grun: 2 jobs ended: 0 succeeded, 1 failed, 0 skipped, 1 stopped (main failed)" \
	"any_significant, main fails: summary names main"
is "$(runs svc) $(runs main)" "1 1" "any_significant, main fails: nothing restarted"
is "$(left)" 0 "any_significant, main fails: no process left"

# ---- exit = all_significant --------------------------------------------------
# s1 and s2 significant (temporary); grun goes on after s1 alone ends
# (a failure), and stops everything once s2 ends too.
reset
cat >"$T/all.ini" <<'EOF'
[grun]
exit = all_significant
backoff = 0

[job:svc]
restart = permanent
cmd = sh ${GRUN_TEST_TAG}/seq.sh svc hold

[job:s1]
restart = temporary
significant = yes
cmd = sh ${GRUN_TEST_TAG}/seq.sh s1 wait

[job:s2]
restart = transient
significant = yes
cmd = sh ${GRUN_TEST_TAG}/seq.sh s2 wait

[job:other]
restart = temporary
cmd = sh ${GRUN_TEST_TAG}/seq.sh other wait
EOF
start_grun "$T/all.ini"
wait_run svc 1; wait_run s1 1; wait_run s2 1; wait_run other 1
crash s1 0
wait_count '^grun: s1: exited' 1
crash other 0
wait_count '^grun: other: exited' 1
settle 500
ok "$(running)" "all_significant: grun goes on after s1 (one of two significant jobs) ended"
is "$(stopped)" "" "all_significant: nothing stopped yet"
crash s2 2
wait_run s2 2
ok "$(running)" "all_significant: s2 failed and was restarted (transient): grun goes on"
crash s2 0
wait_grun 10
is "$rc" 0 "all_significant: once s2 ended too, grun stopped everything, exit 0"
like "$(cat "$T/err")" 'grun: s2: significant job ended \(exit = all_significant\): stopping every job' \
	"all_significant: the log names s2, the last significant job to end"
is "$(stopped)" "svc" "all_significant: svc (permanent) was stopped"
is "$(count 'significant job ended')" 1 "all_significant: one significant-end line"
is "$(tail -n 1 "$T/err")" "grun: 4 jobs ended: 3 succeeded, 1 stopped" "all_significant: summary"
is "$(left)" 0 "all_significant: no process left"

# ---- a significant job stopped by its supervisor is not an end ---------------
# OTP's auto_shutdown applies only when a significant child terminates by
# itself, not when its supervisor terminates it: here s (temporary,
# significant) is stopped by the one_for_all restart that a's crash
# causes, and grun should go on running a.
reset
cat >"$T/sigstop.ini" <<'EOF'
[grun]
exit = any_significant
strategy = one_for_all
backoff = 0

[job:a]
restart = permanent
cmd = sh ${GRUN_TEST_TAG}/seq.sh a wait

[job:s]
restart = temporary
significant = yes
cmd = sh ${GRUN_TEST_TAG}/seq.sh s hold
EOF
start_grun "$T/sigstop.ini"
wait_run a 1; wait_run s 1
crash a
wait_count '^grun: a: started' 2
settle 500
like "$(cat "$T/err")" 'supervisor root \(one_for_all\): a ended; restarting a in 0s' \
	"significant stopped: a's crash stopped s and restarted a alone"
ok "$( [ "$(running)" = 0 ] && [ "$(count 'significant job ended')" = 0 ]; echo $?)" \
	"significant stopped: grun goes on after its supervisor stopped s (OTP auto_shutdown ignores it)"
[ -n "$GRUN_PID" ] && kill -TERM "$GRUN_PID" 2>/dev/null
wait_grun 10
is "$rc" 143 "significant stopped: s (temporary) was stopped before it finished: exit 143"
is "$(left)" 0 "significant stopped: no process left"

done_testing
