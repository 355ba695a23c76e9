#!/bin/sh
# 31-intensity: restart intensity with real processes.  A supervisor
# allows `intensity` restarts within `period` (a sliding window); one
# more and it gives up: it stops its children and ends as failed, which
# its parent treats as a crash of that child, up to the root, whose giving
# up makes grun exit 1 naming the job that crash-looped.
. "$(dirname "$0")/lib.sh"


plan 68

# job.sh NAME: appends its pid to $T/NAME.pids, then waits until
# $T/crash-NAME exists, removes it and exits 1.
cat >"$T/job.sh" <<'EOF'
#!/bin/sh
echo $$ >>"$GRUN_TEST_TAG/$1.pids"
while [ ! -e "$GRUN_TEST_TAG/crash-$1" ]; do sleep 0.05; done
rm -f "$GRUN_TEST_TAG/crash-$1"
exit 1
EOF

runs() { if [ -e "$T/$1.pids" ]; then wc -l <"$T/$1.pids" | tr -d ' '; else echo 0; fi; }
# starts NAME: how many times grun started NAME, from its log.  A run that
# grun stops soon after starting it may not have written its pid yet, so
# a job that another's crash stops is counted by this, not by runs.
starts() { count "^grun: $1: started"; }
# has_runs NAME N: NAME has recorded at least N runs (for wait_for).
has_runs() { [ "$(runs "$1")" -ge "$2" ]; }
crash() { : >"$T/crash-$1"; }
reset() { rm -f "$T"/*.pids "$T"/crash-*; }
running() { kill -0 "$GRUN_PID" 2>/dev/null; echo $?; }
# stopped: the jobs grun stopped (sent their stop signal), in order.
stopped() { events '^grun: [^ ]+: stopping \(' | sed 's/:.*//' | tr '\n' ' ' | sed 's/ $//'; }
# restart_nums NAME: the N of NAME's "restarting in ... (restart N)" lines.
restart_nums() { events "^grun: $1: restarting in" | sed 's/.*(restart \([0-9]*\))$/\1/' | tr '\n' ' '; }

# ---- the root: intensity 3 allows 3 restarts; the 4th crash gives up --------
reset
cat >"$T/root.ini" <<'EOF'
[grun]
intensity = 3
period = 30s
restart = permanent
backoff = 0

[job:steady]
cmd = sh ${GRUN_TEST_TAG}/job.sh steady

[job:loop]
cmd = sh -c 'echo $$$$ >>${GRUN_TEST_TAG}/loop.pids; exit 2'
EOF
run_grun 15 "$T/root.ini"
is "$rc" 1 "root: grun exits 1"
is "$(restart_nums loop)" "1 2 3 " "root: loop restarted exactly 3 times"
is "$(runs loop) $(count '^grun: loop: exited with status 2$')" "4 4" "root: loop ran and crashed 4 times"
is "$(count 'giving up')" 1 "root: one giving up"
is "$(events '^grun: (loop|steady|supervisor|failed)' | sed 's/ (pid [0-9]*)//' | tail -n 5 | tr '\n' '/')" \
	"loop: exited with status 2/supervisor root: giving up: loop crash-looped (more than 3 restarts in 30s)/steady: stopping (TERM, KILL after 10s)/steady: killed by signal TERM/failed: loop crash-looped (more than 3 restarts in 30s)/" \
	"root: the 4th crash gave up, steady was stopped, grun failed naming loop"
is "$(starts steady) $(stopped)" "1 steady" "root: steady ran once and was stopped by the giving up"
is "$(tail -n 1 "$T/err")" "grun: failed: loop crash-looped (more than 3 restarts in 30s)" \
	"root: the last line names the job that crash-looped"
is "$(left)" 0 "root: no process left"

# ---- intensity = 0: the first crash gives up -------------------------------
reset
sed 's/^intensity = 3$/intensity = 0/' "$T/root.ini" >"$T/zero.ini"
run_grun 15 "$T/zero.ini"
is "$rc" 1 "intensity 0: grun exits 1"
is "$(runs loop) $(count 'restarting')" "1 0" "intensity 0: loop ran once, no restart"
is "$(tail -n 1 "$T/err")" "grun: failed: loop crash-looped (more than 0 restarts in 30s)" \
	"intensity 0: gave up at the first crash"
is "$(stopped)" "steady" "intensity 0: steady was stopped"
is "$(left)" 0 "intensity 0: no process left"

# ---- a job that cannot even start counts as crashing -----------------------
reset
cat >"$T/nostart.ini" <<'EOF'
[grun]
intensity = 2
period = 30s
backoff = 0

[job:steady]
restart = permanent
cmd = sh ${GRUN_TEST_TAG}/job.sh steady

[job:ghost]
restart = permanent
cmd = /nonexistent/prog
EOF
run_grun 15 "$T/nostart.ini"
is "$rc" 1 "failed start: grun exits 1"
is "$(count '^grun: ghost: cannot run /nonexistent/prog')" 3 "failed start: 3 attempts to run ghost"
is "$(restart_nums ghost)" "1 2 " "failed start: 2 restarts"
is "$(tail -n 1 "$T/err")" "grun: failed: ghost crash-looped (more than 2 restarts in 30s)" \
	"failed start: the root gave up naming ghost"
is "$(stopped)" "steady" "failed start: steady was stopped"
is "$(left)" 0 "failed start: no process left"

# ---- escalation: j in inner (parent outer) in the root ----------------------
# inner allows 2 restarts of j: the 3rd crash gives up; outer restarts
# inner (fresh intensity: j runs 3 more times); inner's 2nd giving up is
# outer's 2nd restart, more than its 1: outer gives up; the root restarts
# outer once, the same again, and the root gives up: 12 runs of j.
reset
cat >"$T/nested.ini" <<'EOF'
[grun]
intensity = 1
period = 60s
restart = permanent
backoff = 0

[job:steady]
cmd = sh ${GRUN_TEST_TAG}/job.sh steady

[supervisor:outer]
intensity = 1

[job:o1]
supervisor = outer
cmd = sh ${GRUN_TEST_TAG}/job.sh o1

[supervisor:inner]
parent = outer
intensity = 2

[job:j]
supervisor = inner
cmd = sh -c 'echo $$$$ >>${GRUN_TEST_TAG}/j.pids; exit 1'
EOF
run_grun 20 "$T/nested.ini"
is "$rc" 1 "escalation: grun exits 1"
is "$(events '^grun: (j: started|supervisor [a-z]*: giving up)' |
	sed 's/^j: started.*/J/; s/^supervisor \([a-z]\)[a-z]*: giving up.*/\1/' | tr -d '\n')" \
	"JJJiJJJioJJJiJJJior" \
	"escalation: j runs 3 times per life of inner, inner gives up twice per life of outer, outer twice, then the root"
is "$(runs j)" 12 "escalation: j ran 12 times"
is "$(count '^grun: supervisor inner: giving up: j crash-looped \(more than 2 restarts in 60s\)$')" 4 \
	"escalation: inner gave up 4 times, blaming j"
is "$(count '^grun: supervisor outer: giving up: inner crash-looped \(more than 1 restarts in 60s\)$')" 2 \
	"escalation: outer gave up twice, blaming inner"
is "$(count '^grun: supervisor root: giving up: outer crash-looped \(more than 1 restarts in 60s\)$')" 1 \
	"escalation: the root gave up once, blaming outer"
is "$(count '^grun: inner: restarting in 0s') $(count '^grun: outer: restarting in 0s')" "2 1" \
	"escalation: outer restarted inner twice, the root restarted outer once"
is "$(count '^grun: j: restarting in 0s')" 8 "escalation: inner restarted j twice per life (8)"
is "$(starts o1) $(starts steady)" "2 1" "escalation: o1 ran once per life of outer, steady once"
is "$(stopped)" "o1 o1 steady" "escalation: o1 stopped by each giving up of outer, steady by the root's"
is "$(tail -n 1 "$T/err")" "grun: failed: outer crash-looped (more than 1 restarts in 60s)" \
	"escalation: grun failed naming outer"
is "$(left)" 0 "escalation: no process left"

# ---- the window is a period: the same crashes spread out do not give up ----
# runs of 1.2s: consecutive restarts are at least 1.2s apart, so with
# period = 1s the window never holds 2 (intensity 1 is enough); with a
# longer period the second restart gives up.  The 3rd run exits 0
# (transient: not restarted) and grun ends.
cat >"$T/slow.sh" <<'EOF'
#!/bin/sh
echo $$ >>"$GRUN_TEST_TAG/slow.pids"
sleep 1.2
[ "$(wc -l <"$GRUN_TEST_TAG/slow.pids")" -ge 3 ] && exit 0
exit 1
EOF
reset
cat >"$T/spread.ini" <<'EOF'
[grun]
intensity = 1
period = 1s

[job:slow]
restart = transient
backoff = 0
cmd = sh ${GRUN_TEST_TAG}/slow.sh
EOF
run_grun 15 "$T/spread.ini"
is "$rc" 0 "period 1s: grun exits 0"
is "$(restart_nums slow)" "1 2 " "period 1s: slow restarted twice"
is "$(runs slow)" 3 "period 1s: slow ran 3 times"
is "$(count 'giving up')" 0 "period 1s: no giving up (restarts 1.2s apart)"
is "$(tail -n 1 "$T/err")" "grun: 1 job ended: 1 succeeded, 0 stopped" "period 1s: summary"
is "$(left)" 0 "period 1s: no process left"
reset
sed "s/^period = 1s\$/period = $(secs 6)s/" "$T/spread.ini" >"$T/spread6.ini"
run_grun 15 "$T/spread6.ini"
is "$rc" 1 "period $(secs 6)s: grun exits 1"
is "$(restart_nums slow)" "1 " "period $(secs 6)s: slow restarted once"
is "$(runs slow)" 2 "period $(secs 6)s: slow ran twice"
is "$(tail -n 1 "$T/err")" "grun: failed: slow crash-looped (more than 1 restarts in $(secs 6)s)" \
	"period $(secs 6)s: the second restart within the period gave up"
is "$(left)" 0 "period $(secs 6)s: no process left"

# ---- the window slides: old restarts expire ---------------------------------
# intensity 2 in P: two quick crashes, a pause longer than P, two more
# (the first two have expired: no giving up), then a fifth crash soon
# after: 3 restarts within P, giving up.  P is 3 s (x MULT): the last three
# crash-restart rounds must fit in it, which takes a moment on a loaded machine.
P=$(secs 3)
reset
cat >"$T/slide.ini" <<EOF
[grun]
intensity = 2
period = ${P}s

[job:w]
restart = permanent
backoff = 0
cmd = sh \${GRUN_TEST_TAG}/job.sh w
EOF
start_grun "$T/slide.ini"
wait_file "$T/w.pids"
crash w; wait_count '^grun: w: started' 2
crash w; wait_count '^grun: w: started' 3
is "$(restart_nums w)" "1 2 " "slide: 2 quick restarts"
sleep $((P + 1))
crash w; wait_count '^grun: w: started' 4
crash w; wait_count '^grun: w: started' 5
is "$(restart_nums w)" "1 2 3 4 " "slide: after a pause longer than the period, 2 more restarts"
is "$(count 'giving up')" 0 "slide: 4 restarts, but never 3 within the period: no giving up"
ok "$(kill -0 "$GRUN_PID" 2>/dev/null; echo $?)" "slide: grun still running"
crash w
wait_grun 10
is "$rc" 1 "slide: the 5th crash (3 restarts within the period) makes grun exit 1"
is "$(restart_nums w)" "1 2 3 4 " "slide: no 5th restart"
is "$(tail -n 1 "$T/err")" "grun: failed: w crash-looped (more than 2 restarts in ${P}s)" "slide: gave up naming w"
is "$(runs w)" 5 "slide: w ran 5 times"
is "$(left)" 0 "slide: no process left"

# ---- a group restart is one restart --------------------------------------------
# one_for_all with intensity 1: b's crash stops a and c and restarts all
# three: one restart, not three; the next crash is the second: giving up.
reset
cat >"$T/group.ini" <<'EOF'
[grun]
strategy = one_for_all
intensity = 1
period = 60s
restart = permanent
backoff = 0

[job:a]
cmd = sh ${GRUN_TEST_TAG}/job.sh a

[job:b]
cmd = sh ${GRUN_TEST_TAG}/job.sh b

[job:c]
cmd = sh ${GRUN_TEST_TAG}/job.sh c
EOF
start_grun "$T/group.ini"
wait_count '^grun: [abc]: started' 3
crash b
wait_count '^grun: c: started' 2
wait_for 10 has_runs a 2; wait_for 10 has_runs b 2; wait_for 10 has_runs c 2
like "$(cat "$T/err")" 'supervisor root \(one_for_all\): b ended; restarting a, b, c in 0s' "group: b's crash restarted a, b, c"
is "$(count 'giving up')" 0 "group: one group restart is within intensity 1"
ok "$(running)" "group: grun still running"
crash b
wait_grun 10
is "$rc" 1 "group: the second crash gives up, exit 1"
is "$(tail -n 1 "$T/err")" "grun: failed: b crash-looped (more than 1 restarts in 60s)" "group: gave up naming b"
is "$(runs a) $(runs b) $(runs c)" "2 2 2" "group: each job ran twice"
is "$(left)" 0 "group: no process left"

# ---- a supervisor is restarted without delay, by its parent's strategy ------------
# inner (intensity 0) gives up at j's first crash; outer (one_for_all)
# stops o1 and restarts o1 and inner at once, although every job has
# backoff = 2s.
reset
cat >"$T/supall.ini" <<'EOF'
[grun]
restart = permanent
backoff = 2s

[supervisor:outer]
strategy = one_for_all

[job:o1]
supervisor = outer
cmd = sh ${GRUN_TEST_TAG}/job.sh o1

[supervisor:inner]
parent = outer
intensity = 0

[job:j]
supervisor = inner
cmd = sh ${GRUN_TEST_TAG}/job.sh j
EOF
start_grun "$T/supall.ini"
wait_count '^grun: (o1|j): started' 2
wait_file "$T/j.pids"
n=$(wc -l <"$T/err")
crash j
wait_count '^grun: j: started' 2
wait_for 10 has_runs o1 2; wait_for 10 has_runs j 2
is "$(sed -n "$((n + 1)),\$p" "$T/err" | sed 's/^grun: //; s/ (pid [0-9]*)//' | tr '\n' '/')" \
	"j: exited with status 1/supervisor inner: giving up: j crash-looped (more than 0 restarts in 30s)/o1: stopping (TERM, KILL after 10s)/o1: killed by signal TERM/supervisor outer (one_for_all): inner ended; restarting o1, inner in 0s/o1: started/j: started/" \
	"supervisor child: inner gave up; outer stopped o1 and restarted o1 and inner in 0s"
is "$(runs o1) $(runs j)" "2 2" "supervisor child: o1 and j ran twice"
kill -TERM "$GRUN_PID"
wait_grun 10
is "$rc" 0 "supervisor child: exit 0 after SIGTERM"
is "$(left)" 0 "supervisor child: no process left"

# ---- an explicit supervisor's giving up is a crash for the root -------------
# sub (intensity 1) gives up when c crash-loops; the root (default
# intensity 5) restarts sub: c and d run again, and e (the root's) keeps
# running.  c's 3rd run exits 0 (transient), so sub is done and only e
# is left: SIGTERM ends grun.  c's 1st and 3rd runs end only once grun
# has logged the start of d beside them (d's 1st and 2nd start).
cat >"$T/c.sh" <<'EOF'
#!/bin/sh
echo $$ >>"$GRUN_TEST_TAG/c.pids"
run=$(wc -l <"$GRUN_TEST_TAG/c.pids")
d=$(( run >= 3 ? 2 : 1 ))
until [ "$(grep -c '^grun: d: started' "$GRUN_TEST_TAG/err")" -ge $d ]; do sleep 0.02; done
[ "$run" -ge 3 ] && exit 0
exit 1
EOF
reset
cat >"$T/sub.ini" <<'EOF'
[grun]
backoff = 0
shutdown = sequential

[supervisor:sub]
intensity = 1
shutdown = sequential

[job:c]
supervisor = sub
restart = transient
cmd = sh ${GRUN_TEST_TAG}/c.sh

[job:d]
supervisor = sub
restart = transient
cmd = sh ${GRUN_TEST_TAG}/job.sh d

[job:e]
restart = permanent
cmd = sh ${GRUN_TEST_TAG}/job.sh e
EOF
start_grun "$T/sub.ini"
wait_log '^grun: sub: restarting in 0s \(restart 1\)$'
wait_count '^grun: c: exited with status 0$' 1
wait_count '^grun: d: started' 2
wait_for 10 has_runs d 2; wait_for 10 has_runs e 1
is "$(events '^grun: (c|d|sub|supervisor)' | sed 's/ (pid [0-9]*)//' | tr '\n' '/')" \
	"c: started/d: started/c: exited with status 1/c: restarting in 0s (restart 1)/c: started/c: exited with status 1/supervisor sub: giving up: c crash-looped (more than 1 restarts in 30s)/d: stopping (TERM, KILL after 10s)/d: killed by signal TERM/sub: restarting in 0s (restart 1)/c: started/d: started/c: exited with status 0/" \
	"sub: c crash-looped, sub stopped d and gave up, the root restarted sub (c and d)"
is "$(runs c) $(runs d) $(runs e) $(stopped)" "3 2 1 d" "sub: c ran 3 times, d twice, e once; d was stopped once"
ok "$(kill -0 "$GRUN_PID" 2>/dev/null; echo $?)" "sub: grun still running"
kill -TERM "$GRUN_PID"
wait_grun 10
is "$rc" 143 "sub: d (transient) stopped before finishing: grun leaves by SIGTERM"
is "$(stopped)" "d e d" "sub: SIGTERM stopped e, then sub's d (reverse start order)"
is "$(left)" 0 "sub: no process left"

done_testing
