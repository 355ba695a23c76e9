#!/bin/sh
# 60-many: scale.  500 permanent jobs all start within a bounded time and
# SIGTERM stops every one of them cleanly; 500 one-shot jobs under -j 4 all
# succeed; a 100-long chain of ready = exited jobs runs in order.
. "$(dirname "$0")/lib.sh"

plan 19

# left [SECS]: 0 once no tagged process is left (for ok).

# ---- 500 permanent jobs ------------------------------------------------------
# (stopped one at a time, shutdown = sequential, to check the order)
i=1
{ printf '[grun]\nshutdown = sequential\n\n'
while [ $i -le 500 ]; do
	printf '[job:s%03d]\ncmd = sleep 1000\nrestart = permanent\n\n' $i
	i=$((i + 1))
done; } >"$T/perm.ini"
t0=$(now_ms)
start_grun "$T/perm.ini"
wait_count ': started \(pid' 500 30
t1=$(now_ms)
is "$(grep -c ': started (pid' "$T/err")" 500 "500 permanent: all 500 started"
ok "$( [ $((t1 - t0)) -lt $(secs 20)000 ]; echo $?)" "500 permanent: within $(secs 20)s ($((t1 - t0)) ms)"
is "$(sed -n 's/^grun: s[0-9]*: started (pid \([0-9]*\))$/\1/p' "$T/err" | sort -u | wc -l | tr -d ' ')" 500 \
	"500 permanent: 500 distinct pids"
# sleeping: how many of the logged pids are a running sleep (the last
# ones started may still be on their way to exec it)
sleeping() {
	running=0
	for p in $(sed -n 's/^grun: s[0-9]*: started (pid \([0-9]*\))$/\1/p' "$T/err"); do
		c=
		{ read -r c <"/proc/$p/comm"; } 2>/dev/null
		[ "$c" = sleep ] && running=$((running + 1))
	done
}
all_sleeping() { sleeping; [ "$running" -ge 500 ]; }
wait_for 10 all_sleeping
is "$running" 500 "500 permanent: 500 sleep processes running"
t2=$(now_ms)
kill -TERM "$GRUN_PID"
wait_grun 60
t3=$(now_ms)
is "$rc" 0 "500 permanent: exit status 0 after SIGTERM"
ok "$( [ $((t3 - t2)) -lt $(secs 20)000 ]; echo $?)" "500 permanent: stopped within $(secs 20)s ($((t3 - t2)) ms)"
is "$(grep -c ': stopping (TERM' "$T/err"):$(grep -c ': killed by signal TERM$' "$T/err")" 500:500 \
	"500 permanent: 500 stopped, each killed by TERM"
is "$(grep -c ': started (pid' "$T/err")" 500 "500 permanent: none restarted while stopping"
is "$(events '^grun: s[0-9]*: stopping' | sed 's/:.*//' | head -n 3 | tr '\n' ' ')" "s500 s499 s498 " \
	"500 permanent: stopped in reverse order"
unlike "$(cat "$T/err")" 'failed|leftover' "500 permanent: nothing failed, nothing left over"
ok "$(left 10)" "500 permanent: no process left"

# ---- 500 one-shot jobs with -j 4 ---------------------------------------------------
i=1
while [ $i -le 500 ]; do
	printf '[job:t%03d]\ncmd = printenv GRUN_JOB\n\n' $i
	i=$((i + 1))
done >"$T/once.ini"
run_grun 60 -j 4 "$T/once.ini"
is "$rc" 0 "500 one-shot -j 4: exit status 0"
is "$(tail -n 1 "$T/err")" "grun: 500 jobs ended: 500 succeeded, 0 stopped" "500 one-shot -j 4: 500 succeeded"
is "$(grep -c 'exited with status 0$' "$T/err")" 500 "500 one-shot -j 4: 500 exits with status 0"
is "$(awk -F' [|] ' '$1 == $2' "$T/out" | sort -u | wc -l | tr -d ' '):$(wc -l <"$T/out" | tr -d ' ')" 500:500 \
	"500 one-shot -j 4: each printed its own name, once"
ok "$(left)" "500 one-shot -j 4: no process left"

# ---- a chain of 100 ready = exited jobs ----------------------------------------------
{
	printf '[job:c001]\ncmd = printenv GRUN_JOB\nready = exited\n\n'
	i=2
	while [ $i -le 100 ]; do
		printf '[job:c%03d]\nneeds = c%03d\ncmd = printenv GRUN_JOB\nready = exited\n\n' $i $((i - 1))
		i=$((i + 1))
	done
} >"$T/chain.ini"
# the file lists them last first, so file order cannot be what orders them
awk 'BEGIN { RS = ""; ORS = "\n\n" } { s[NR] = $0 } END { for (i = NR; i >= 1; i--) print s[i] }' \
	"$T/chain.ini" >"$T/chain-rev.ini"
run_grun 60 "$T/chain-rev.ini"
is "$rc" 0 "chain of 100: exit status 0"
is "$(sed 's/ .*//' "$T/out" | tr '\n' ' ')" "$(i=1; while [ $i -le 100 ]; do printf 'c%03d ' $i; i=$((i + 1)); done)" \
	"chain of 100: ran in chain order"
ok "$(left)" "chain of 100: no process left"

done_testing
