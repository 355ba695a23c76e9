#!/bin/sh
# 30-strategy: restart strategies with real processes.  one_for_one
# restarts only the job that ended; one_for_all stops every other child of
# that supervisor in reverse start order and restarts them all in start
# order; rest_for_one does the same for the ended child and those started
# after it.  A temporary child stopped by such a group restart is not
# restarted.  Checked from grun's log, from the pids the jobs record, and
# from the order in which the jobs see their TERM.
. "$(dirname "$0")/lib.sh"


plan 60

# job.sh NAME: appends its pid to $T/NAME.pids, then waits until
# $T/crash-NAME exists, removes it and exits with the status written in it
# (1 if empty).  On TERM it appends NAME to $T/stops and dies of the TERM.
cat >"$T/job.sh" <<'EOF'
#!/bin/sh
trap 'echo "$1" >>"$GRUN_TEST_TAG/stops"; trap - TERM; kill -TERM $$' TERM
echo $$ >>"$GRUN_TEST_TAG/$1.pids"
while [ ! -e "$GRUN_TEST_TAG/crash-$1" ]; do sleep 0.05; done
st=$(cat "$GRUN_TEST_TAG/crash-$1")
rm -f "$GRUN_TEST_TAG/crash-$1"
exit "${st:-1}"
EOF

# pids NAME: the pids NAME's runs recorded, in order, on one line.
pids() { if [ -e "$T/$1.pids" ]; then tr '\n' ' ' <"$T/$1.pids" | sed 's/ $//'; fi; }
# run_pid NAME K: the pid of NAME's K-th run.
run_pid() { sed -n "${2}p" "$T/$1.pids" 2>/dev/null; }
# log_pids NAME: the pids grun logged for NAME's starts, on one line.
log_pids() { events "^grun: $1: started \\(pid" | sed 's/.*(pid \([0-9]*\))/\1/' | tr '\n' ' ' | sed 's/ $//'; }
stops() { if [ -e "$T/stops" ]; then tr '\n' ' ' <"$T/stops" | sed 's/ $//'; fi; }
runs() { if [ -e "$T/$1.pids" ]; then wc -l <"$T/$1.pids" | tr -d ' '; else echo 0; fi; }
# wait_runs N NAME...: until each NAME has recorded N runs (its TERM trap
# is set by then).
wait_runs() {
	_want=$1; shift
	_end=$(( $(date +%s) + $(secs 10) ))
	for _j in "$@"; do
		while [ "$(runs "$_j")" -lt "$_want" ]; do
			if [ "$(date +%s)" -ge "$_end" ]; then
				diag "$_j did not record $_want runs within $(secs 10)s"
				return 1
			fi
			sleep 0.02
		done
	done
}
crash() { echo "${2:-1}" >"$T/crash-$1.tmp" && mv "$T/crash-$1.tmp" "$T/crash-$1"; }
# since N ERE: grun's log lines after the first N, matching ERE, "grun: "
# and pids stripped, joined with "/".
since() {
	sed -n "$(( $1 + 1 )),\$p" "$T/err" | grep -E -- "$2" | sed 's/^grun: //; s/ (pid [0-9]*)//' |
		tr '\n' '/'
}
lines() { wc -l <"$T/err" | tr -d ' '; }
reset() { rm -f "$T"/*.pids "$T"/stops "$T"/crash-*; }
# stop_grun LABEL [STATUS]: SIGTERM to grun, which must exit STATUS
# (default 0: only permanent jobs were running; 143 when a temporary job
# had been stopped by a group restart, so its work was never done)
# leaving nothing.
stop_grun() {
	kill -TERM "$GRUN_PID"
	wait_grun 20
	is "$rc" "${2:-0}" "$1: grun exits ${2:-0} on SIGTERM"
	ok "$(no_tagged_left; echo $?)" "$1: no process left"
}

# ---- one_for_one (root): only the job that ended is restarted -------------
reset
cat >"$T/ofo.ini" <<'EOF'
[grun]
strategy = one_for_one
restart = permanent
backoff = 0
shutdown = sequential

[job:a]
cmd = sh ${GRUN_TEST_TAG}/job.sh a

[job:b]
cmd = sh ${GRUN_TEST_TAG}/job.sh b

[job:c]
cmd = sh ${GRUN_TEST_TAG}/job.sh c
EOF
start_grun "$T/ofo.ini"
wait_count '^grun: [abc]: started' 3
wait_runs 1 a b c
is "$(log_pids a) $(log_pids b) $(log_pids c)" "$(pids a) $(pids b) $(pids c)" \
	"one_for_one: the pids the jobs recorded are those grun logged"
a1=$(pids a) c1=$(pids c) n=$(lines)
crash b
wait_count '^grun: b: started' 2
wait_runs 2 b
is "$(since "$n" '^grun: [abc]: ')" "b: exited with status 1/b: restarting in 0s (restart 1)/b: started/" \
	"one_for_one: b crashed and only b was restarted"
is "$(pids a)" "$a1" "one_for_one: a kept its pid"
is "$(pids c)" "$c1" "one_for_one: c kept its pid"
is "$(pids b | wc -w | tr -d ' ')" 2 "one_for_one: b ran twice"
ok "$([ "$(run_pid b 1)" != "$(run_pid b 2)" ]; echo $?)" "one_for_one: b runs with a new pid"
is "$(stops)" "" "one_for_one: nobody got a TERM"
n=$(lines)
crash a 7
wait_count '^grun: a: started' 2
wait_runs 2 a
is "$(since "$n" '^grun: [abc]: ')" "a: exited with status 7/a: restarting in 0s (restart 1)/a: started/" \
	"one_for_one: a (the first child) crashed and only a was restarted"
is "$(pids b | wc -w | tr -d ' ') $(pids c)" "2 $c1" "one_for_one: b and c kept their pids"
unlike "$(cat "$T/err")" 'stopping|supervisor root' "one_for_one: nothing was stopped, no group restart"
stop_grun one_for_one
is "$(stops)" "c b a" "one_for_one: SIGTERM stops c, b, a (reverse start order)"

# ---- one_for_all (explicit supervisor) -------------------------------------
# grp's children in start order: a, b, t (temporary), c; solo is the root's.
reset
cat >"$T/ofa.ini" <<'EOF'
[grun]
restart = permanent
backoff = 0
shutdown = sequential

[job:solo]
cmd = sh ${GRUN_TEST_TAG}/job.sh solo

[supervisor:grp]
strategy = one_for_all
shutdown = sequential

[job:a]
supervisor = grp
cmd = sh ${GRUN_TEST_TAG}/job.sh a

[job:b]
supervisor = grp
cmd = sh ${GRUN_TEST_TAG}/job.sh b

[job:t]
supervisor = grp
restart = temporary
cmd = sh ${GRUN_TEST_TAG}/job.sh t

[job:c]
supervisor = grp
cmd = sh ${GRUN_TEST_TAG}/job.sh c
EOF
start_grun "$T/ofa.ini"
wait_count '^grun: (solo|a|b|t|c): started' 5
wait_runs 1 solo a b t c
is "$(events '^grun: (solo|a|b|t|c): started' | sed 's/: started.*//' | tr '\n' ' ')" "solo a b t c " \
	"one_for_all: started in file order"
solo1=$(pids solo) t1=$(pids t) n=$(lines)
crash b
wait_count '^grun: c: started' 2
wait_runs 2 a b c
is "$(since "$n" '^grun: ')" \
	"b: exited with status 1/c: stopping (TERM, KILL after 10s)/c: killed by signal TERM/t: stopping (TERM, KILL after 10s)/t: killed by signal TERM/a: stopping (TERM, KILL after 10s)/a: killed by signal TERM/supervisor grp (one_for_all): b ended; restarting a, b, c in 0s/a: started/b: started/c: started/" \
	"one_for_all: b crashed: c, t, a stopped in reverse order, then a, b, c started in order"
is "$(stops)" "c t a" "one_for_all: the jobs got their TERM in the order c, t, a"
is "$(pids a | wc -w) $(pids b | wc -w) $(pids c | wc -w)" "2 2 2" "one_for_all: a, b and c ran twice"
is "$(log_pids a) $(log_pids b) $(log_pids c)" "$(pids a) $(pids b) $(pids c)" \
	"one_for_all: the new pids are those grun logged"
is "$(pids t)" "$t1" "one_for_all: the temporary t was not restarted"
is "$(pids solo)" "$solo1" "one_for_all: solo (another supervisor's) kept its pid"
# the last child crashes: the others stopped (b, a), t is not named
rm -f "$T/stops"
n=$(lines)
crash c 3
wait_count '^grun: c: started' 3
wait_runs 3 a b c
is "$(since "$n" '^grun: ')" \
	"c: exited with status 3/b: stopping (TERM, KILL after 10s)/b: killed by signal TERM/a: stopping (TERM, KILL after 10s)/a: killed by signal TERM/supervisor grp (one_for_all): c ended; restarting a, b, c in 0s/a: started/b: started/c: started/" \
	"one_for_all: c (the last) crashed: b, a stopped, a, b, c restarted; t is gone"
is "$(stops)" "b a" "one_for_all: TERM order b, a"
is "$(pids a | wc -w) $(pids b | wc -w) $(pids c | wc -w) $(pids t | wc -w)" "3 3 3 1" \
	"one_for_all: a, b, c ran three times, t once"
# a crash of solo, a child of the one_for_one root, does not touch grp
a3=$(pids a) b3=$(pids b) c3=$(pids c)
rm -f "$T/stops"
n=$(lines)
crash solo
wait_count '^grun: solo: started' 2
wait_runs 2 solo
is "$(since "$n" '^grun: ')" "solo: exited with status 1/solo: restarting in 0s (restart 1)/solo: started/" \
	"one_for_all: solo crashed: the root (one_for_one) restarted only solo"
is "$(pids a)/$(pids b)/$(pids c)" "$a3/$b3/$c3" "one_for_all: grp's jobs kept their pids"
stop_grun one_for_all 143
is "$(stops)" "c b a solo" "one_for_all: SIGTERM stops grp's c, b, a, then solo"

# ---- one_for_all at the root, with a supervisor among its children ----------
reset
cat >"$T/rootall.ini" <<'EOF'
[grun]
strategy = one_for_all
restart = permanent
backoff = 0
shutdown = sequential

[job:x]
cmd = sh ${GRUN_TEST_TAG}/job.sh x

[supervisor:sub]
shutdown = sequential

[job:s1]
supervisor = sub
cmd = sh ${GRUN_TEST_TAG}/job.sh s1

[job:s2]
supervisor = sub
cmd = sh ${GRUN_TEST_TAG}/job.sh s2

[job:y]
cmd = sh ${GRUN_TEST_TAG}/job.sh y
EOF
start_grun "$T/rootall.ini"
wait_count '^grun: (x|s1|s2|y): started' 4
wait_runs 1 x s1 s2 y
n=$(lines)
crash y
wait_count '^grun: y: started' 2
wait_runs 2 x s1 s2 y
is "$(since "$n" '^grun: ')" \
	"y: exited with status 1/s2: stopping (TERM, KILL after 10s)/s2: killed by signal TERM/s1: stopping (TERM, KILL after 10s)/s1: killed by signal TERM/x: stopping (TERM, KILL after 10s)/x: killed by signal TERM/supervisor root (one_for_all): y ended; restarting x, sub, y in 0s/x: started/s1: started/s2: started/y: started/" \
	"root one_for_all: y crashed: sub's jobs then x stopped, x, sub (s1, s2), y restarted in order"
is "$(stops)" "s2 s1 x" "root one_for_all: TERM order s2, s1, x"
is "$(pids x | wc -w) $(pids s1 | wc -w) $(pids s2 | wc -w) $(pids y | wc -w)" "2 2 2 2" \
	"root one_for_all: every job ran twice"
# a crash inside sub (one_for_one) stays inside sub
x2=$(pids x) y2=$(pids y) s22=$(pids s2)
rm -f "$T/stops"
n=$(lines)
crash s1
wait_count '^grun: s1: started' 3
wait_runs 3 s1
is "$(since "$n" '^grun: ')" "s1: exited with status 1/s1: restarting in 0s (restart 1)/s1: started/" \
	"root one_for_all: s1's crash is handled by sub (one_for_one) alone"
is "$(pids x)/$(pids y)/$(pids s2)" "$x2/$y2/$s22" "root one_for_all: x, y, s2 kept their pids"
stop_grun "root one_for_all"
is "$(stops)" "y s2 s1 x" "root one_for_all: SIGTERM stops y, s2, s1, x"

# ---- rest_for_one (explicit supervisor) ----------------------------------
# chain's children in start order: a, b, t (temporary), c, d
reset
cat >"$T/rfo.ini" <<'EOF'
[grun]
restart = permanent
backoff = 0

[supervisor:chain]
strategy = rest_for_one

[job:a]
supervisor = chain
cmd = sh ${GRUN_TEST_TAG}/job.sh a

[job:b]
supervisor = chain
cmd = sh ${GRUN_TEST_TAG}/job.sh b

[job:t]
supervisor = chain
restart = temporary
cmd = sh ${GRUN_TEST_TAG}/job.sh t

[job:c]
supervisor = chain
cmd = sh ${GRUN_TEST_TAG}/job.sh c

[job:d]
supervisor = chain
cmd = sh ${GRUN_TEST_TAG}/job.sh d
EOF
start_grun "$T/rfo.ini"
wait_count '^grun: [abtcd]: started' 5
wait_runs 1 a b t c d
a1=$(pids a) t1=$(pids t) n=$(lines)
crash b
wait_count '^grun: d: started' 2
wait_runs 2 b c d
is "$(since "$n" '^grun: ')" \
	"b: exited with status 1/d: stopping (TERM, KILL after 10s)/d: killed by signal TERM/c: stopping (TERM, KILL after 10s)/c: killed by signal TERM/t: stopping (TERM, KILL after 10s)/t: killed by signal TERM/supervisor chain (rest_for_one): b ended; restarting b, c, d in 0s/b: started/c: started/d: started/" \
	"rest_for_one: b crashed: d, c, t stopped in reverse order, b, c, d restarted in order"
is "$(stops)" "d c t" "rest_for_one: TERM order d, c, t"
is "$(pids a)" "$a1" "rest_for_one: a (before b) kept its pid"
is "$(pids t)" "$t1" "rest_for_one: the temporary t was not restarted"
is "$(pids b | wc -w) $(pids c | wc -w) $(pids d | wc -w)" "2 2 2" "rest_for_one: b, c, d ran twice"
is "$(log_pids b) $(log_pids c) $(log_pids d)" "$(pids b) $(pids c) $(pids d)" \
	"rest_for_one: the new pids are those grun logged"
# the last child: only it
b2=$(pids b) c2=$(pids c)
rm -f "$T/stops"
n=$(lines)
crash d
wait_count '^grun: d: started' 3
wait_runs 3 d
is "$(since "$n" '^grun: ')" \
	"d: exited with status 1/supervisor chain (rest_for_one): d ended; restarting d in 0s/d: started/" \
	"rest_for_one: d (the last) crashed: only d restarted"
is "$(pids a)/$(pids b)/$(pids c)/$(stops)" "$a1/$b2/$c2/" "rest_for_one: a, b, c kept their pids, no TERM"
# the first child: all of them
n=$(lines)
crash a
wait_count '^grun: d: started' 4
wait_runs 4 d
wait_runs 3 b c
wait_runs 2 a
is "$(since "$n" '^grun: ')" \
	"a: exited with status 1/d: stopping (TERM, KILL after 10s)/d: killed by signal TERM/c: stopping (TERM, KILL after 10s)/c: killed by signal TERM/b: stopping (TERM, KILL after 10s)/b: killed by signal TERM/supervisor chain (rest_for_one): a ended; restarting a, b, c, d in 0s/a: started/b: started/c: started/d: started/" \
	"rest_for_one: a (the first) crashed: d, c, b stopped, a, b, c, d restarted"
is "$(stops)" "d c b" "rest_for_one: TERM order d, c, b"
is "$(pids a | wc -w) $(pids b | wc -w) $(pids c | wc -w) $(pids d | wc -w) $(pids t | wc -w)" "2 3 3 4 1" \
	"rest_for_one: run counts a 2, b 3, c 3, d 4, t 1"
stop_grun rest_for_one 143

# ---- rest_for_one restarts a later child that had ended normally -----------
# Children of chain: a, b, tr (transient, exits 0 at once), tmp (temporary,
# exits 0 at once), c.  When b crashes, tr is started again with b and c
# (as in OTP: only temporary children are forgotten); tmp is not.
reset
cat >"$T/rfodone.ini" <<'EOF'
[grun]
restart = permanent
backoff = 0

[supervisor:chain]
strategy = rest_for_one

[job:a]
supervisor = chain
cmd = sh ${GRUN_TEST_TAG}/job.sh a

[job:b]
supervisor = chain
cmd = sh ${GRUN_TEST_TAG}/job.sh b

[job:tr]
supervisor = chain
restart = transient
cmd = sh -c 'echo $$$$ >>${GRUN_TEST_TAG}/tr.pids; exit 0'

[job:tmp]
supervisor = chain
restart = temporary
cmd = sh -c 'echo $$$$ >>${GRUN_TEST_TAG}/tmp.pids; exit 0'

[job:c]
supervisor = chain
cmd = sh ${GRUN_TEST_TAG}/job.sh c
EOF
start_grun "$T/rfodone.ini"
wait_count '^grun: (tr|tmp): exited with status 0$' 2
wait_runs 1 a b c
n=$(lines)
crash b
wait_count '^grun: c: started' 2
wait_count '^grun: tr: exited' 2
wait_runs 2 b c
is "$(since "$n" '^grun: supervisor|^grun: [a-z]+: (started|stopping)')" \
	"c: stopping (TERM, KILL after 10s)/supervisor chain (rest_for_one): b ended; restarting b, tr, c in 0s/b: started/tr: started/c: started/" \
	"rest_for_one: b crashed: c stopped; b, tr (ended normally before) and c restarted; tmp not"
is "$(pids a | wc -w) $(pids b | wc -w) $(pids tr | wc -w) $(pids tmp | wc -w) $(pids c | wc -w)" "1 2 2 1 2" \
	"rest_for_one: runs a 1, b 2, tr 2, tmp 1, c 2"
stop_grun "rest_for_one, ended children"

# ---- rest_for_one at the root, with a backoff -----------------------------
# The group waits for the ended child's backoff (300ms) before starting.
reset
cat >"$T/rootrest.ini" <<'EOF'
[grun]
strategy = rest_for_one
restart = permanent
backoff = 300ms
shutdown = sequential

[job:p]
cmd = sh ${GRUN_TEST_TAG}/job.sh p

[job:q]
cmd = sh ${GRUN_TEST_TAG}/job.sh q

[job:r]
cmd = sh ${GRUN_TEST_TAG}/job.sh r
EOF
start_grun "$T/rootrest.ini"
wait_count '^grun: [pqr]: started' 3
wait_runs 1 p q r
p1=$(pids p) n=$(lines)
t0=$(date +%s%N)
crash q
wait_count '^grun: r: started' 2
wait_runs 2 q r
t1=$(date +%s%N)
is "$(since "$n" '^grun: ')" \
	"q: exited with status 1/r: stopping (TERM, KILL after 10s)/r: killed by signal TERM/supervisor root (rest_for_one): q ended; restarting q, r in 300ms/q: started/r: started/" \
	"root rest_for_one: q crashed: r stopped, q, r restarted after 300ms"
ok "$([ $(( (t1 - t0) / 1000000 )) -ge 300 ]; echo $?)" \
	"root rest_for_one: the restart took at least the backoff ($(( (t1 - t0) / 1000000 ))ms)"
is "$(pids p)" "$p1" "root rest_for_one: p kept its pid"
is "$(stops)" "r" "root rest_for_one: only r got a TERM"
stop_grun "root rest_for_one"
is "$(stops)" "r r q p" "root rest_for_one: SIGTERM stops r, q, p (after the r of the group restart)"

done_testing
