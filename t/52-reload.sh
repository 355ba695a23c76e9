#!/bin/sh
# 52-reload: SIGHUP re-reads the file.  Unchanged jobs keep running (same
# pids), changed jobs are restarted with their new settings, removed jobs
# are stopped, added jobs are started; a file with errors is rejected with
# FILE:LINE messages and changes nothing; the JOB selection of the command
# line still applies; SIGTERM afterwards ends with status 0.
. "$(dirname "$0")/lib.sh"

plan 52

# left [SECS]: 0 once no tagged process is left (for ok).
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
# pid_of NAME: the pid of NAME's latest start, from grun's log.
pid_of() { sed -n "s/^grun: $1: started (pid \([0-9]*\))\$/\1/p" "$T/err" | tail -n 1; }
starts() { grep -c "^grun: $1: started" "$T/err"; }
# settle: lets grun finish what a reload set off (stops and starts run
# after the "reloaded" line).
settle() { sleep 0.5; }

F=$T/r.ini
cat >"$F" <<'EOF'
[grun]
shutdown = sequential

[job:keep]
cmd = sleep 1000

[job:change]
env = V=1
cmd = sh -c 'echo "$$V" >${GRUN_TEST_TAG}/change.out; exec sleep 1000'

[job:gone]
cmd = sleep 1000
EOF
start_grun "$F"
wait_log '^grun: gone: started' 10
wait_file "$T/change.out" 10
keep0=$(pid_of keep) change0=$(pid_of change) gone0=$(pid_of gone)
is "$(cat "$T/change.out")" 1 "start: change runs with V=1"

# ---- added, removed, changed, unchanged ---------------------------------------
rm -f "$T/change.out"
cat >"$F" <<'EOF'
[job:keep]
cmd = sleep 1000

[job:change]
env = V=2
cmd = sh -c 'echo "$$V" >${GRUN_TEST_TAG}/change.out; exec sleep 1000'

[job:new]
needs = keep
cmd = sh -c 'touch ${GRUN_TEST_TAG}/new.ran; exec sleep 1000'
EOF
kill -HUP "$GRUN_PID"
wait_log '^grun: reloaded' 10
wait_log '^grun: new: started' 10
wait_file "$T/change.out" 10
settle
like "$(cat "$T/err")" "^grun: reloaded $F: 1 added, 1 removed, 1 changed, 1 unchanged\$" "reload: counts logged"
is "$(pid_of keep):$(starts keep)" "$keep0:1" "reload: keep was not restarted (same pid, started once)"
ok "$(alive "$keep0"; echo $?)" "reload: keep's process still runs"
change1=$(pid_of change)
ok "$( [ "$(starts change)" = 2 ] && [ "$change1" != "$change0" ] && alive "$change1" && ! alive "$change0"; echo $?)" \
	"reload: change was restarted (old pid $change0 gone, new pid $change1 runs)"
is "$(cat "$T/change.out" 2>/dev/null)" 2 "reload: change runs with its new setting V=2"
like "$(cat "$T/err")" '^grun: gone: removed$' "reload: gone is removed"
ok "$(! alive "$gone0" && [ "$(starts gone)" = 1 ]; echo $?)" "reload: gone's process was stopped and not started again"
new1=$(pid_of new)
ok "$(alive "$new1" && [ -e "$T/new.ran" ]; echo $?)" "reload: new was started (its need, keep, was ready)"
is "$(events '^grun: (change|gone): (stopping|killed)' | sed 's/ (.*//' | sort | tr '\n' '/')" \
	"change: killed by signal TERM/change: stopping/gone: killed by signal TERM/gone: stopping/" \
	"reload: the changed and removed jobs were stopped with their stop signal"

# ---- the same file again: nothing changes ------------------------------------------
kill -HUP "$GRUN_PID"
wait_count '^grun: reloaded' 2 10
settle
like "$(grep '^grun: reloaded' "$T/err" | tail -n 1)" "^grun: reloaded $F: 0 added, 0 removed, 0 changed, 3 unchanged\$" \
	"same file: 0 added, 0 removed, 0 changed, 3 unchanged"
is "$(pid_of keep):$(pid_of change):$(pid_of new)" "$keep0:$change1:$new1" "same file: same pids"
is "$(grep -c ': started' "$T/err")" 5 "same file: nothing started"

# ---- a file with errors is rejected, nothing changes ---------------------------------
cp "$F" "$T/good.ini"
cat >"$F" <<'EOF'
[job:keep]
cmd = sleep 999

[job:change]
env = V=3
cmd = sh -c 'echo "$$V" >${GRUN_TEST_TAG}/change.out; exec sleep 1000'

[job:new]
needs = keep
restart = sometimes
cmd = sh -c 'touch ${GRUN_TEST_TAG}/new.ran; exec sleep 1000'
EOF
nerr0=$(grep -c . "$T/err")
kill -HUP "$GRUN_PID"
wait_log '^grun: reload rejected' 10
settle
like "$(cat "$T/err")" "^grun: $F:10: restart = sometimes: " "rejected: the error is logged with FILE:LINE"
like "$(cat "$T/err")" "^grun: reload rejected: $F has errors; the running jobs are unchanged\$" "rejected: logged"
is "$(tail -n +$((nerr0 + 1)) "$T/err" | grep -Ec ': (started|stopping|removed|reloaded)')" 0 \
	"rejected: nothing was stopped, started or reloaded"
ok "$(alive "$keep0" && alive "$change1" && alive "$new1"; echo $?)" "rejected: the old processes still run"
is "$(pid_of keep):$(pid_of change):$(pid_of new)" "$keep0:$change1:$new1" "rejected: same pids"
is "$(cat "$T/change.out")" 2 "rejected: change still has V=2"

# a graph error (need of no job) is rejected the same way
sed 's/^needs = keep$/needs = nosuch/; s/^restart = sometimes$//' "$T/good.ini" >"$F"
line=$(grep -n '^needs = nosuch' "$F" | cut -d: -f1)
kill -HUP "$GRUN_PID"
wait_count '^grun: reload rejected' 2 10
settle
like "$(cat "$T/err")" "^grun: $F:$line: needs = nosuch: no job called nosuch\$" "rejected (graph): FILE:LINE of the bad need"
is "$(pid_of keep):$(pid_of change):$(pid_of new):$(grep -c ': started' "$T/err")" "$keep0:$change1:$new1:5" \
	"rejected (graph): same pids, nothing started"

# a file that cannot be read
mv "$F" "$T/moved.ini"
kill -HUP "$GRUN_PID"
wait_count '^grun: reload rejected' 3 10
settle
is "$(pid_of keep):$(pid_of change):$(pid_of new):$(grep -c ': started' "$T/err")" "$keep0:$change1:$new1:5" \
	"rejected (file missing): same pids, nothing started"

# and a good file is taken again afterwards
sed 's/^env = V=2$/env = V=4/' "$T/good.ini" >"$F"
rm -f "$T/change.out"
kill -HUP "$GRUN_PID"
wait_count '^grun: reloaded' 3 10
wait_file "$T/change.out" 10
settle
like "$(grep '^grun: reloaded' "$T/err" | tail -n 1)" "^grun: reloaded $F: 0 added, 0 removed, 1 changed, 2 unchanged\$" \
	"after rejections: a good file is applied"
is "$(cat "$T/change.out" 2>/dev/null):$(pid_of keep)" "4:$keep0" "after rejections: change restarted with V=4, keep untouched"

kill -TERM "$GRUN_PID"
wait_grun 15
is "$rc" 143 "SIGTERM after reloads: exit status 143"
is "$(sed -n 's/^grun: \([a-z]*\): stopping.*/\1/p' "$T/err" | tail -n 3 | tr '\n' ' ')" "new change keep " \
	"SIGTERM after reloads: an added job comes last in start order (stops first), a changed one keeps its place"
unlike "$(cat "$T/err")" 'failed|skipped' "SIGTERM after reloads: nothing failed or skipped"
ok "$(left)" "reloads: no process left"

# ---- a changed one-shot job, a restart = permanent one, a changed need ---------------------
cat >"$F" <<'EOF'
[job:base]
cmd = sh -c 'echo base1 >>${GRUN_TEST_TAG}/base.log; exec sleep 1000'
ready = file:${GRUN_TEST_TAG}/base.ready

[job:user]
needs = base
restart = permanent
cmd = sh -c 'echo user >>${GRUN_TEST_TAG}/user.log; exec sleep 1000'
EOF
: >"$T/base.ready"
start_grun "$F"
wait_log '^grun: user: started' 10
user0=$(pid_of user)
sed -i 's/base1/base2/' "$F"
kill -HUP "$GRUN_PID"
wait_log '^grun: reloaded' 10
wait_count '^grun: base: started' 2 10
settle
like "$(cat "$T/err")" "^grun: reloaded $F: 0 added, 0 removed, 1 changed, 1 unchanged\$" "changed need: counts"
is "$(tr '\n' ' ' <"$T/base.log")" "base1 base2 " "changed need: base restarted with its new cmd"
is "$(pid_of user):$(starts user)" "$user0:1" "changed need: the unchanged dependent keeps running"
kill -TERM "$GRUN_PID"
wait_grun 15
is "$rc" 143 "changed need: exit status 143 after SIGTERM"
ok "$(left)" "changed need: no process left"

# ---- a dependent already waiting when its need is replaced ----------------------------
# dep waits for slow (not ready); a reload replaces slow; once the new
# slow is ready, dep starts (it waited on the replaced one's latch, which
# nothing would ever settle)
rm -f "$T/slow.ready"
cat >"$F" <<'EOF'
[job:slow]
env = V=1
ready = file:${GRUN_TEST_TAG}/slow.ready
cmd = sleep 1000

[job:dep]
needs = slow
cmd = sh -c 'touch ${GRUN_TEST_TAG}/dep.ran; exec sleep 1000'
EOF
start_grun "$F"
wait_log '^grun: slow: started' 10
sed -i 's/^env = V=1$/env = V=2/' "$F"
kill -HUP "$GRUN_PID"
wait_log '^grun: reloaded' 10
wait_count '^grun: slow: started' 2 10
: >"$T/slow.ready"
wait_file "$T/dep.ran" 10
ok $? "waiting dependent: starts once the replacement of its need is ready"
kill -TERM "$GRUN_PID"
wait_grun 15
ok "$(left)" "waiting dependent: no process left"

# ---- a changed need that is not ready yet; instances 2 -> 3 ---------------------------
cat >"$F" <<'EOF'
[job:keep]
cmd = sleep 1000

[job:base]
cmd = sleep 1000

[job:w]
instances = 2
cmd = sleep 1000
EOF
rm -f "$T/base2.ready"
start_grun "$F"
wait_log '^grun: w#2: started' 10
cat >"$F" <<'EOF'
[job:keep]
cmd = sleep 1000

[job:base]
cmd = sleep 999
ready = file:${GRUN_TEST_TAG}/base2.ready

[job:late]
needs = base
cmd = touch ${GRUN_TEST_TAG}/late.ran

[job:w]
instances = 3
cmd = sleep 1000
EOF
kill -HUP "$GRUN_PID"
wait_log '^grun: w#3: started' 10
sleep 0.5
like "$(cat "$T/err")" "^grun: reloaded $F: 1 added, 0 removed, 2 changed, 1 unchanged\$" "late need: counts (instances count once)"
ok "$( [ ! -e "$T/late.ran" ] && ! grep -q 'late: started' "$T/err"; echo $?)" \
	"late need: the added job waits for the new base, not ready yet"
is "$(events '^grun: w#[0-9]: started' | sed 's/ (pid.*//' | tr '\n' ' ')" \
	"w#1: started w#2: started w#1: started w#2: started w#3: started " "late need: w restarted as 3 instances"
: >"$T/base2.ready"
wait_log '^grun: late: exited' 10
like "$(cat "$T/err")" '^grun: late: exited with status 0$' "late need: it runs once base is ready"
kill -TERM "$GRUN_PID"
wait_grun 15
is "$rc" 143 "late need: exit status 143 after SIGTERM"
ok "$(left)" "late need: no process left"

# ---- a reload that changes every job -------------------------------------------------------
printf '[job:only]\ncmd = sleep 1000\n' >"$F"
start_grun "$F"
wait_log '^grun: only: started' 10
only0=$(pid_of only)
printf '[job:only]\ncmd = sleep 999\n' >"$F"
kill -HUP "$GRUN_PID"
wait_log '^grun: reloaded' 10
wait_count '^grun: only: started' 2 3
sleep 0.3
only1=$(pid_of only)
ok "$(kill -0 "$GRUN_PID" 2>/dev/null && [ "$only1" != "$only0" ] && alive "$only1"; echo $?)" \
	"every job changed: grun keeps running and starts the new version"
kill -TERM "$GRUN_PID" 2>/dev/null
wait_grun 15
is "$rc" 143 "every job changed: exit status 143 (after SIGTERM)"
ok "$(left)" "every job changed: no process left"

# the same inside a nested supervisor: its only job changed, another job
# keeps the root busy
cat >"$F" <<'EOF'
[job:keep]
cmd = sleep 1000

[supervisor:sub]

[job:inner]
supervisor = sub
cmd = sleep 1000
EOF
start_grun "$F"
wait_log '^grun: inner: started' 10
sed -i '/^supervisor = sub$/{n;s/sleep 1000/sleep 999/}' "$F"
kill -HUP "$GRUN_PID"
wait_log '^grun: reloaded' 10
wait_count '^grun: inner: started' 2 3
sleep 0.3
ok "$( [ "$(starts inner)" = 2 ] && alive "$(pid_of inner)"; echo $?)" \
	"every job of a nested supervisor changed: the new version starts"
kill -TERM "$GRUN_PID" 2>/dev/null
wait_grun 15
is "$rc" 143 "nested, every job changed: exit status 143 after SIGTERM"
ok "$(left)" "nested, every job changed: no process left"

# ---- the JOB selection of the command line holds across a reload -----------------------
cat >"$F" <<'EOF'
[job:a]
needs = b
cmd = sleep 1000

[job:b]
cmd = sh -c 'echo b1; exec sleep 1000'

[job:other]
cmd = sleep 1000
EOF
start_grun "$F" a
wait_log '^grun: a: started' 10
a0=$(pid_of a)
cat >"$F" <<'EOF'
[job:a]
needs = b
cmd = sleep 1000

[job:b]
cmd = sh -c 'echo b2; exec sleep 1000'

[job:other]
cmd = sleep 1000

[job:extra]
cmd = sleep 1000
EOF
kill -HUP "$GRUN_PID"
wait_log '^grun: reloaded' 10
wait_count '^grun: b: started' 2 10
settle
like "$(cat "$T/err")" "^grun: reloaded $F: 0 added, 0 removed, 1 changed, 1 unchanged\$" "selection: only a and b count"
unlike "$(cat "$T/err")" 'grun: (other|extra):' "selection: other and extra are never started"
is "$(pid_of a)" "$a0" "selection: a keeps its pid"
kill -TERM "$GRUN_PID"
wait_grun 15
is "$rc" 143 "selection: exit status 143 after SIGTERM"
ok "$(left)" "selection: no process left"

done_testing
