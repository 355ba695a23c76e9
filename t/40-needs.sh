#!/bin/sh
# 40-needs: `needs` ordering with real processes: a job starts only once
# what it needs is ready, chains of ready = exited run strictly one after
# another, fan-out/fan-in DAGs, transitive skipping when a need fails,
# JOB selection on the command line, and -j N as a bound on how many jobs
# run at once.
. "$(dirname "$0")/lib.sh"

plan 56

# left [SECS]: 0 once no tagged process is left (for ok).

# rec.sh NAME SECS [STATUS [N]]: appends "S <ms> NAME" when it starts and
# "E <ms> NAME" when it is done to $T/rec, then exits with STATUS.  With
# N, it first waits until $REC_W (default 1) recorded runs are in progress
# at once, or N runs have started: a run that should overlap others does,
# however slowly the machine starts them (a bound above, -j, still shows).
cat >"$T/rec.sh" <<'EOF'
#!/bin/sh
echo "S $(date +%s%3N) $1" >>"$GRUN_TEST_TAG/rec"
if [ -n "${4:-}" ]; then
	end=$(( $(date +%s) + 20 * ${GRUN_TEST_TIMEOUT_MULT:-1} ))
	until awk -v w="${REC_W:-1}" -v n="$4" '$1 == "S" { s++ } $1 == "E" { e++ }
		END { exit !(s - e >= w || s >= n) }' "$GRUN_TEST_TAG/rec"; do
		[ "$(date +%s)" -ge "$end" ] && break
		sleep 0.02
	done
fi
sleep "$2"
echo "E $(date +%s%3N) $1" >>"$GRUN_TEST_TAG/rec"
exit "${3:-0}"
EOF
chmod +x "$T/rec.sh"

# ts S|E NAME: the recorded time of NAME's start or end (ms), or empty.
ts() { awk -v k="$1" -v n="$2" '$1 == k && $3 == n { print $2 }' "$T/rec"; }
# max_overlap: the largest number of recorded runs in progress at once
# (an end and a start in the same millisecond do not overlap).
max_overlap() {
	sort -k2,2n -k1,1 "$T/rec" |
		awk '$1 == "S" { c++; if (c > m) m = c } $1 == "E" { c-- } END { print m + 0 }'
}
# le A B: 0 if both are numbers and A <= B.
le() { [ -n "$1" ] && [ -n "$2" ] && [ "$1" -le "$2" ]; }
started_names() { events ': started \(pid' | sed 's/: started.*//' | tr '\n' ' '; }

# ---- a dependent starts only once its need is ready (ready = exited) -----
cat >"$T/order.ini" <<'EOF'
[job:a]
cmd = sh -c 'sleep 0.3; touch ${GRUN_TEST_TAG}/a.made'
ready = exited

[job:b]
needs = a
cmd = test -e ${GRUN_TEST_TAG}/a.made
EOF
run_grun 10 "$T/order.ini"
is "$rc" 0 "order: exit status 0"
like "$(cat "$T/err")" 'grun: b: exited with status 0' "order: b found the file a made (it ran after a)"
is "$(events '^grun: [ab]: (started|exited)' | sed 's/ (pid [0-9]*)//' | tr '\n' '/')" \
	"a: started/a: exited with status 0/b: started/b: exited with status 0/" \
	"order: b started after a exited"
ok "$(left)" "order: no process left"

# ---- ready = started: the dependent does not wait for the exit ----------
# a ends only once grun has logged b's end (if b waited for a's exit,
# nothing would end: run_grun's bound fails the checks)
cat >"$T/started.ini" <<'EOF'
[job:a]
cmd = sh -c 'until grep -q "^grun: b: exited" ${GRUN_TEST_TAG}/err; do sleep 0.02; done'

[job:b]
needs = a
cmd = true
EOF
run_grun 10 "$T/started.ini"
is "$rc" 0 "started: exit status 0"
is "$(events '^grun: [ab]: (started|exited)' | sed 's/ (pid [0-9]*)//' | tr '\n' '/')" \
	"a: started/b: started/b: exited with status 0/a: exited with status 0/" \
	"started: b ran while a was still running"
ok "$(left)" "started: no process left"

# ---- a -> b -> c with ready = exited: strictly in sequence ---------------
: >"$T/rec"
cat >"$T/chain.ini" <<'EOF'
[job:c]
needs = b
cmd = ${GRUN_TEST_TAG}/rec.sh c 0.2
ready = exited

[job:b]
needs = a
cmd = ${GRUN_TEST_TAG}/rec.sh b 0.2
ready = exited

[job:a]
cmd = ${GRUN_TEST_TAG}/rec.sh a 0.2
ready = exited
EOF
run_grun 10 "$T/chain.ini"
is "$rc" 0 "chain: exit status 0"
is "$(events '^grun: [abc]: (started|exited)' | sed 's/ (pid [0-9]*)//' | tr '\n' '/')" \
	"a: started/a: exited with status 0/b: started/b: exited with status 0/c: started/c: exited with status 0/" \
	"chain: log shows a, b, c one after another"
ok "$(le "$(ts E a)" "$(ts S b)"; echo $?)" "chain: b started after a ended ($(ts E a) <= $(ts S b))"
ok "$(le "$(ts E b)" "$(ts S c)"; echo $?)" "chain: c started after b ended ($(ts E b) <= $(ts S c))"
is "$(max_overlap)" 1 "chain: never two at once"
like "$(tail -n 1 "$T/err")" '^grun: 3 jobs ended: 3 succeeded, 0 stopped$' "chain: summary"
ok "$(left)" "chain: no process left"

# ---- fan-out and fan-in: p -> x, y, z -> j -------------------------------
cat >"$T/dag.ini" <<'EOF'
[job:p]
cmd = ${GRUN_TEST_TAG}/rec.sh p 0.1
ready = exited

[job:x]
needs = p
cmd = ${GRUN_TEST_TAG}/rec.sh x 0.5 0 4
ready = exited

[job:y]
needs = p
cmd = ${GRUN_TEST_TAG}/rec.sh y 0.3 0 4
ready = exited

[job:z]
needs = p
cmd = ${GRUN_TEST_TAG}/rec.sh z 0.4 0 4
ready = exited

[job:j]
needs = x, y, z
cmd = ${GRUN_TEST_TAG}/rec.sh j 0.1
ready = exited
EOF
# x, y and z wait for each other (REC_W of them at once, or all started)
# dag_checks LABEL: the ordering every run of dag.ini must respect.
dag_checks() {
	_bad=
	for _x in x y z; do
		le "$(ts E p)" "$(ts S $_x)" || _bad="$_bad $_x-before-p"
		le "$(ts E $_x)" "$(ts S j)" || _bad="$_bad j-before-$_x"
	done
	is "$_bad" "" "$1: x, y, z start after p ends, j after all of x, y, z"
	is "$(awk '$1 == "S"' "$T/rec" | wc -l | tr -d ' ')" 5 "$1: each job ran once"
}
: >"$T/rec"
export REC_W=3
run_grun 10 "$T/dag.ini"
is "$rc" 0 "dag: exit status 0"
dag_checks dag
is "$(max_overlap)" 3 "dag: x, y and z ran at the same time"
like "$(tail -n 1 "$T/err")" '^grun: 5 jobs ended: 5 succeeded, 0 stopped$' "dag: summary"
ok "$(left)" "dag: no process left"

: >"$T/rec"
REC_W=2
run_grun 10 -j 2 "$T/dag.ini"
is "$rc" 0 "dag -j 2: exit status 0"
dag_checks "dag -j 2"
is "$(max_overlap)" 2 "dag -j 2: at most (and here exactly) 2 at once"
like "$(tail -n 1 "$T/err")" '^grun: 5 jobs ended: 5 succeeded, 0 stopped$' "dag -j 2: summary"
ok "$(left)" "dag -j 2: no process left"

# ---- a need with instances: ready when every instance is ----------------------
: >"$T/rec"
cat >"$T/inst.ini" <<'EOF'
[job:w]
instances = 3
cmd = sh -c '${GRUN_TEST_TAG}/rec.sh w$$GRUN_INSTANCE 0.$$GRUN_INSTANCE'
ready = exited

[job:after]
needs = w
cmd = ${GRUN_TEST_TAG}/rec.sh after 0
EOF
run_grun 10 "$T/inst.ini"
is "$rc" 0 "instances: exit status 0"
ok "$(le "$(ts E w1)" "$(ts S after)" && le "$(ts E w2)" "$(ts S after)" && le "$(ts E w3)" "$(ts S after)"; echo $?)" \
	"instances: the dependent started after all 3 instances ended"
like "$(tail -n 1 "$T/err")" '^grun: 4 jobs ended: 4 succeeded, 0 stopped$' "instances: summary counts each instance"
ok "$(left)" "instances: no process left"

# ---- a failed need skips its dependents, transitively --------------------
cat >"$T/skip.ini" <<'EOF'
[job:a]
cmd = sh -c 'sleep 0.2; exit 1'
ready = exited

[job:b]
needs = a
cmd = touch ${GRUN_TEST_TAG}/b.ran
ready = exited

[job:c]
needs = b
cmd = touch ${GRUN_TEST_TAG}/c.ran

[job:d]
cmd = true
EOF
run_grun 10 "$T/skip.ini"
is "$rc" 1 "skip: exit status 1"
is "$(started_names)" "a d " "skip: only a and d were started"
ok "$( [ ! -e "$T/b.ran" ] && [ ! -e "$T/c.ran" ]; echo $?)" "skip: b and c never ran"
is "$(events ': skipped:')" "b: skipped: needs a, which failed
c: skipped: needs b, which was skipped" "skip: b and c skipped, with the reason"
is "$(tail -n 1 "$T/err")" \
	"grun: 4 jobs ended: 1 succeeded, 1 failed, 2 skipped, 0 stopped (a failed, b skipped, c skipped)" \
	"skip: summary counts"
ok "$(left)" "skip: no process left"

# ---- JOB selection: c and what it needs, nothing else --------------------
cat >"$T/select.ini" <<'EOF'
[job:a]
cmd = touch ${GRUN_TEST_TAG}/sel.a
ready = exited

[job:b]
needs = a
cmd = touch ${GRUN_TEST_TAG}/sel.b
ready = exited

[job:c]
needs = b
cmd = touch ${GRUN_TEST_TAG}/sel.c
ready = exited

[job:d]
cmd = touch ${GRUN_TEST_TAG}/sel.d

[job:e]
needs = c
cmd = touch ${GRUN_TEST_TAG}/sel.e
EOF
run_grun 10 "$T/select.ini" c
is "$rc" 0 "select: exit status 0"
is "$(cd "$T" && ls sel.* | tr '\n' ' ')" "sel.a sel.b sel.c " "select: a, b and c ran; d and e did not"
is "$(started_names)" "a b c " "select: only a, b, c were started"
unlike "$(cat "$T/err")" 'grun: [de]:' "select: d and e are never mentioned"
like "$(tail -n 1 "$T/err")" '^grun: 3 jobs ended: 3 succeeded, 0 stopped$' "select: summary counts 3 jobs"
ok "$(left)" "select: no process left"

# ---- -j N bounds the number of running jobs ------------------------------
{
	for i in 1 2 3 4 5 6; do
		printf '[job:w%s]\ncmd = ${GRUN_TEST_TAG}/rec.sh w%s 0.4 0 6\n\n' "$i" "$i"
	done
} >"$T/par.ini"

# each w waits for REC_W running at once (or all 6 started) before its 0.4 s
: >"$T/rec"
REC_W=1
t0=$(date +%s%3N)
run_grun 15 -j 1 "$T/par.ini"
t1=$(date +%s%3N)
is "$rc" 0 "-j 1: exit status 0"
is "$(awk '$1 == "E"' "$T/rec" | wc -l | tr -d ' ')" 6 "-j 1: all 6 jobs ran to the end"
is "$(max_overlap)" 1 "-j 1: never 2 at once"
ok "$( [ $((t1 - t0)) -ge 2400 ]; echo $?)" "-j 1: took at least 6 x 0.4s ($((t1 - t0)) ms)"
ok "$(left)" "-j 1: no process left"

: >"$T/rec"
REC_W=2
run_grun 15 -j 2 "$T/par.ini"
is "$rc" 0 "-j 2: exit status 0"
is "$(awk '$1 == "E"' "$T/rec" | wc -l | tr -d ' ')" 6 "-j 2: all 6 jobs ran to the end"
is "$(max_overlap)" 2 "-j 2: at most (and here exactly) 2 at once"
ok "$(left)" "-j 2: no process left"

# the same limit from [grun] jobs = 2
: >"$T/rec"
REC_W=2
{ printf '[grun]\njobs = 2\n\n'; cat "$T/par.ini"; } >"$T/par2.ini"
run_grun 15 "$T/par2.ini"
is "$rc" 0 "jobs = 2: exit status 0"
is "$(max_overlap)" 2 "jobs = 2: at most (and here exactly) 2 at once"

# and without a limit all 6 overlap (the measure can see it)
: >"$T/rec"
REC_W=6
run_grun 15 "$T/par.ini"
is "$rc" 0 "no -j: exit status 0"
is "$(max_overlap)" 6 "no -j: all 6 at once"
ok "$(left)" "no -j: no process left"

done_testing
