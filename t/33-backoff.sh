#!/bin/sh
# 33-backoff: restart delays with real processes.  backoff = MIN..MAX waits
# MIN before the first restart and doubles up to MAX (less a jitter of up
# to a quarter of the excess over MIN, never below MIN); a run that lasted
# at least max(MAX, 1s) resets the delay to MIN; backoff = 0 restarts at
# once.  The jobs record when each run starts and ends; the delays grun
# logs ("restarting in D") are checked exactly, the measured ones against
# them: never shorter, and not much longer (SLACK).
. "$(dirname "$0")/lib.sh"


plan 36

# scheduling slack allowed on top of a delay, in ms (400 ms was seen on a
# loaded 2-core machine: a measured 1083 ms for a logged 683)
SLACK=$((600 * MULT))

# bo.sh NAME LAST [K SECS]: appends the start time (ns) of this run to
# $T/NAME.start; run number LAST exits 0, earlier runs exit 1 after
# appending their end time to $T/NAME.end; run number K first sleeps SECS.
cat >"$T/bo.sh" <<'EOF'
#!/bin/sh
date +%s%N >>"$GRUN_TEST_TAG/$1.start"
run=$(wc -l <"$GRUN_TEST_TAG/$1.start")
[ "$run" -ge "$2" ] && exit 0
[ "$run" = "${3:-0}" ] && sleep "$4"
date +%s%N >>"$GRUN_TEST_TAG/$1.end"
exit 1
EOF

reset() { rm -f "$T"/*.start "$T"/*.end; }
# logged NAME: the delays of NAME's "restarting in D" lines, in ms, on one line.
logged() {
	events "^grun: $1: restarting in " | sed 's/.*restarting in \([^ ]*\) .*/\1/' |
		awk '/ms$/ { sub(/ms$/, ""); printf "%d ", $0 + 0.5; next }
		     /s$/  { sub(/s$/, ""); printf "%d ", $0 * 1000 }' | sed 's/ $//'
}
# gaps NAME: for each restart, ms from the end of a run to the start of the next.
gaps() {
	sed 1d "$T/$1.start" | paste "$T/$1.end" - |
		awk '{ printf "%d ", ($2 - $1) / 1000000 }' | sed 's/ $//'
}
# within LIST LO HI...: 0 if the K-th number of LIST is within [LO_K, HI_K]
# for every K (LIST and the bounds in the same number), else 1 with a diag.
within() {
	_list=$1; shift
	set -- $_list -- "$@"
	_vals=
	while [ "$1" != -- ]; do _vals="$_vals $1"; shift; done
	shift
	_k=0
	for _v in $_vals; do
		_k=$((_k + 1))
		[ $# -ge 2 ] || { diag "value $_k ($_v) has no bounds"; return 1; }
		if [ "$_v" -lt "$1" ] || [ "$_v" -gt "$2" ]; then
			diag "value $_k is $_v, not within [$1, $2]"
			return 1
		fi
		shift 2
	done
	[ $# -eq 0 ] || { diag "only $_k values for $(( _k + $# / 2 )) bounds"; return 1; }
	return 0
}
# measured_vs_logged NAME: every measured gap is at least the logged delay
# and at most the logged delay + SLACK.
measured_vs_logged() {
	_b=
	for _d in $(logged "$1"); do _b="$_b $_d $((_d + SLACK))"; done
	within "$(gaps "$1")" $_b
	echo $?
}

# ---- 200ms..800ms: 200, then about 400, then about 800 (the maximum) -----------
reset
cat >"$T/grow.ini" <<'EOF'
[grun]
intensity = 100
period = 60s

[job:g]
restart = transient
backoff = 200ms..800ms
cmd = sh ${GRUN_TEST_TAG}/bo.sh g 5
EOF
run_grun 20 "$T/grow.ini"
is "$rc" 0 "grow: exit 0 (the 5th run exits 0)"
is "$(count '^grun: g: restarting in ')" 4 "grow: 4 restarts"
diag "grow: logged delays (ms): $(logged g); measured: $(gaps g)"
is "$(logged g | awk '{ print $1 }')" 200 "grow: the first restart waits exactly the minimum (200ms)"
ok "$(within "$(logged g)" 200 200 350 400 650 800 650 800; echo $?)" \
	"grow: logged delays 200, 350..400, then 650..800 twice (doubling, capped at 800ms)"
ok "$(within "$(logged g)" 200 800 200 800 200 800 200 800; echo $?)" \
	"grow: every logged delay within [min, max]"
is "$(events '^grun: g: restarting in ' | sed 's/.*(restart \([0-9]*\))$/\1/' | tr '\n' ' ')" "1 2 3 4 " \
	"grow: restart numbers 1 to 4"
ok "$(within "$(gaps g)" 200 $((200 + SLACK)) 350 $((400 + SLACK)) 650 $((800 + SLACK)) 650 $((800 + SLACK)); echo $?)" \
	"grow: measured delays: at least 200, 350, 650, 650ms; at most the maximum + ${SLACK}ms"
is "$(measured_vs_logged g)" 0 "grow: each measured delay is at least its logged delay, at most ${SLACK}ms more"
# (against the first logged delay: the first measured one may be up to
# SLACK longer on a loaded machine)
ok "$(first=$(logged g | awk '{ print $1 }'); set -- $(gaps g); [ "$2" -gt "$first" ] && [ "$3" -gt "$first" ]; echo $?)" \
	"grow: the later measured delays are longer than the first ($(logged g | awk '{ print $1 }')ms)"
is "$(left)" 0 "grow: no process left"

# ---- a fixed backoff: always the same delay ------------------------------
reset
cat >"$T/fixed.ini" <<'EOF'
[grun]
intensity = 100
period = 60s

[job:f]
restart = transient
backoff = 300ms
cmd = sh ${GRUN_TEST_TAG}/bo.sh f 3
EOF
run_grun 20 "$T/fixed.ini"
is "$rc" 0 "fixed: exit 0"
is "$(logged f)" "300 300" "fixed: backoff = 300ms: 2 restarts, each in 300ms"
is "$(measured_vs_logged f)" 0 "fixed: measured delays between 300ms and 300ms + ${SLACK}ms"
is "$(left)" 0 "fixed: no process left"

# ---- backoff = 0: at once ----------------------------------------------------
reset
cat >"$T/zero.ini" <<'EOF'
[grun]
intensity = 100
period = 60s

[job:z]
restart = transient
backoff = 0
cmd = sh ${GRUN_TEST_TAG}/bo.sh z 5
EOF
run_grun 20 "$T/zero.ini"
is "$rc" 0 "zero: exit 0"
is "$(logged z)" "0 0 0 0" "zero: 4 restarts, each logged as 0s"
diag "zero: measured: $(gaps z)"
ok "$(within "$(gaps z)" 0 $((500 * MULT)) 0 $((500 * MULT)) 0 $((500 * MULT)) 0 $((500 * MULT)); echo $?)" \
	"zero: every restart within $((500 * MULT))ms"
is "$(left)" 0 "zero: no process left"

# ---- the delay resets after a run of at least max(MAX, 1s) = 1s ---------------
# runs 1-3 crash at once (200, ~400, ~800), run 4 lasts 1.05s (reset:
# 200), run 5 crashes at once (~400 again), run 6 exits 0.
reset
cat >"$T/reset.ini" <<'EOF'
[grun]
intensity = 100
period = 60s

[job:r]
restart = transient
backoff = 200ms..800ms
cmd = sh ${GRUN_TEST_TAG}/bo.sh r 6 4 1.05
EOF
run_grun 20 "$T/reset.ini"
is "$rc" 0 "reset: exit 0"
diag "reset: logged delays (ms): $(logged r); measured: $(gaps r)"
ok "$(within "$(logged r)" 200 200 350 400 650 800 200 200 350 400; echo $?)" \
	"reset: logged delays 200, ~400, ~800, then 200 after the 1.05s run, then ~400"
is "$(measured_vs_logged r)" 0 "reset: measured delays match the logged ones (+ up to ${SLACK}ms)"
ok "$(within "$(gaps r | awk '{ print $4 }')" 200 $((200 + SLACK)); echo $?)" \
	"reset: measured delay after the long run: 200..$((200 + SLACK))ms"
is "$(left)" 0 "reset: no process left"

# ---- MAX above 1s: a run must last MAX to reset --------------------------------
# backoff = 100ms..2s: runs 1-3 crash at once (100, ~200, ~400); run 4
# lasts 1.1s, less than MAX: no reset (~800); run 5 lasts 2.05s: reset
# (100); run 6 crashes at once (~200); run 7 exits 0.
cat >"$T/bo2.sh" <<'EOF'
#!/bin/sh
date +%s%N >>"$GRUN_TEST_TAG/$1.start"
run=$(wc -l <"$GRUN_TEST_TAG/$1.start")
case $run in 4) sleep 1.1 ;; 5) sleep 2.05 ;; 7) exit 0 ;; esac
date +%s%N >>"$GRUN_TEST_TAG/$1.end"
exit 1
EOF
reset
cat >"$T/longmax.ini" <<'EOF'
[grun]
intensity = 100
period = 60s

[job:m]
restart = transient
backoff = 100ms..2s
cmd = sh ${GRUN_TEST_TAG}/bo2.sh m
EOF
run_grun 20 "$T/longmax.ini"
is "$rc" 0 "max 2s: exit 0"
diag "max 2s: logged delays (ms): $(logged m); measured: $(gaps m)"
ok "$(within "$(logged m)" 100 100 175 200 325 400 625 800 100 100 175 200; echo $?)" \
	"max 2s: a 1.1s run does not reset (~800ms next), a 2.05s run does (100ms next)"
is "$(measured_vs_logged m)" 0 "max 2s: measured delays match the logged ones (+ up to ${SLACK}ms)"
is "$(left)" 0 "max 2s: no process left"

# ---- one_for_all: the group waits for the ended child's backoff ------------------
# a (backoff 0) and b (backoff 600ms) under one_for_all: b's crash restarts
# both after 600ms; a's crash restarts both at once.
cat >"$T/grp.sh" <<'EOF'
#!/bin/sh
date +%s%N >>"$GRUN_TEST_TAG/$1.start"
while [ ! -e "$GRUN_TEST_TAG/crash-$1" ]; do sleep 0.05; done
rm -f "$GRUN_TEST_TAG/crash-$1"
date +%s%N >>"$GRUN_TEST_TAG/$1.end"
exit 1
EOF
reset
cat >"$T/grp.ini" <<'EOF'
[grun]
strategy = one_for_all
restart = permanent

[job:a]
backoff = 0
cmd = sh ${GRUN_TEST_TAG}/grp.sh a

[job:b]
backoff = 600ms
cmd = sh ${GRUN_TEST_TAG}/grp.sh b
EOF
runs() { if [ -e "$T/$1.start" ]; then wc -l <"$T/$1.start" | tr -d ' '; else echo 0; fi; }
wait_runs() {
	_end=$(( $(date +%s) + $(secs 10) ))
	while [ "$(runs "$1")" -lt "$2" ]; do
		[ "$(date +%s)" -ge "$_end" ] && { diag "$1 did not start $2 times"; return 1; }
		sleep 0.02
	done
}
start_grun "$T/grp.ini"
wait_runs a 1; wait_runs b 1
: >"$T/crash-b"
wait_runs a 2; wait_runs b 2
like "$(cat "$T/err")" 'supervisor root \(one_for_all\): b ended; restarting a, b in 600ms' \
	"one_for_all: b's crash restarts a and b in 600ms (b's backoff)"
d=$(( ($(sed -n 2p "$T/a.start") - $(sed -n 1p "$T/b.end")) / 1000000 ))
ok "$([ "$d" -ge 600 ] && [ "$d" -le $((600 + SLACK)) ]; echo $?)" \
	"one_for_all: a (backoff 0) restarted ${d}ms after b's crash: 600..$((600 + SLACK))"
: >"$T/crash-a"
wait_runs a 3; wait_runs b 3
like "$(cat "$T/err")" 'supervisor root \(one_for_all\): a ended; restarting a, b in 0s' \
	"one_for_all: a's crash restarts a and b at once (a's backoff)"
kill -TERM "$GRUN_PID"
wait_grun 10
is "$rc" 0 "one_for_all: exit 0 after SIGTERM"
is "$(left)" 0 "one_for_all: no process left"

# ---- a stop during the delay: no restart, no waiting --------------------------
reset
cat >"$T/stopwait.ini" <<'EOF'
[grun]
restart = permanent

[job:w]
backoff = 5s
cmd = sh -c 'date +%s%N >>${GRUN_TEST_TAG}/w.start; exit 1'

[job:steady]
cmd = sleep 60
EOF
start_grun "$T/stopwait.ini"
wait_log '^grun: w: restarting in 5s \(restart 1\)$'
t0=$(date +%s%N)
kill -TERM "$GRUN_PID"
wait_grun 10
t1=$(date +%s%N)
is "$rc" 0 "stop in backoff: exit 0"
ok "$([ $(( (t1 - t0) / 1000000 )) -lt $((2500 * MULT)) ]; echo $?)" \
	"stop in backoff: grun ended without waiting for the 5s delay ($(( (t1 - t0) / 1000000 ))ms)"
is "$(runs w) $(count '^grun: w: started')" "1 1" "stop in backoff: w was not restarted"
is "$(left)" 0 "stop in backoff: no process left"

done_testing
