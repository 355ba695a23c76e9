#!/bin/sh
# 63-blocked-log: a supervisor keeps supervising when its log is not being
# read.  With grun's stderr a pipe nobody reads, a crashing job keeps
# being restarted, a consumer that ends with unread input is reported
# (its log line dropped, not waited for), and SIGTERM stops every job and
# grun within the stop timeouts.  With stdout paused, a job printing short
# lines under a long name holds grun's memory to the queue's byte bound.
# Output to a full device is reported and shows in the exit status.
. "$(dirname "$0")/lib.sh"

plan 11

# blocked_pipe NAME: a fifo whose reader holds it open and never reads.
blocked_pipe() {
	mkfifo "$T/$1"
	sleep 100000 <"$T/$1" &
	eval "${1}_reader=\$!"
}

# ---- stderr nobody reads ------------------------------------------------------------
blocked_pipe errp
cat >"$T/b.ini" <<'EOF'
[supervisor:busy]
intensity = 100000
period = 1s

[job:noisy]
cmd = sh -c 'while :; do echo "noise noise noise noise noise noise noise noise" >&2; done'

[job:crasher]
supervisor = busy
restart = permanent
backoff = 10ms..10ms
cmd = sh -c 'echo run >>"$GRUN_TEST_TAG/runs"; exit 3'

[job:producer]
restart = temporary
stdout = chan:lines
cmd = sh -c 'i=0; while [ $i -lt 20000 ]; do echo "line $i"; i=$((i+1)); done; exec sleep 100000'

[job:consumer]
restart = temporary
stdin = chan:lines
cmd = sleep 0.5
EOF
"$GRUN" "$T/b.ini" >"$T/out" 2>"$T/errp" &
GRUN_PID=$!
# supervision goes on: the crasher is restarted again and again, long
# after stderr filled up (the noisy job fills it in milliseconds)
end=$(( $(date +%s) + $(secs 20) ))
while [ "$(wc -l <"$T/runs" 2>/dev/null || echo 0)" -lt 100 ] && [ "$(date +%s)" -lt "$end" ]; do sleep 0.05; done
runs1=$(wc -l <"$T/runs")
ok "$([ "$runs1" -ge 100 ]; echo $?)" "stderr blocked: the crashing job is restarted (100 runs; got $runs1)"
# the consumer ended for good with unread input long ago: still going
more_runs() { [ "$(wc -l <"$T/runs")" -gt "$1" ]; }
wait_for 10 more_runs "$runs1"
runs2=$(wc -l <"$T/runs")
ok "$([ "$runs2" -gt "$runs1" ]; echo $?)" "stderr blocked: restarts go on after the consumer left input unread ($runs1 -> $runs2)"
t0=$(now_ms)
kill -TERM "$GRUN_PID"
wait_grun 20
t1=$(now_ms)
ok "$([ "$rc" != 124 ] && [ $((t1 - t0)) -lt $((15000 * MULT)) ]; echo $?)" \
	"stderr blocked: SIGTERM stops grun (status $rc, $((t1 - t0)) ms; stop_timeout is 10 s)"
kill "$errp_reader" 2>/dev/null
wait "$errp_reader" 2>/dev/null
is "$(left)" 0 "stderr blocked: no job left running"

# ---- stdout paused: memory stays bounded -------------------------------------------------
blocked_pipe outp
cat >"$T/m.ini" <<'EOF'
[job:a_job_with_a_rather_long_name_that_makes_every_prefix_long_x]
cmd = yes
EOF
"$GRUN" "$T/m.ini" >"$T/outp" 2>"$T/err" &
GRUN_PID=$!
wait_log '^grun: a_job.*: started' 10
# yes fills its pipe and the queue within a fraction of a second; the
# largest RSS over two seconds must stay near the byte bound (1 MiB a
# stream, a few 64 KiB reads in flight), not the hundreds of MB that 4096
# buffers of expanded one-byte lines would take
max=0
i=0
while [ $i -lt 20 ]; do
	rss=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/$GRUN_PID/status 2>/dev/null)
	[ -n "$rss" ] && [ "$rss" -gt "$max" ] && max=$rss
	sleep 0.1
	i=$((i + 1))
done
ok "$([ "$max" -gt 0 ] && [ "$max" -lt 40000 ]; echo $?)" "stdout paused: grun's RSS stays under 40 MB (max $max kB)"
kill -TERM "$GRUN_PID"
wait_grun 20
ok "$([ "$rc" != 124 ]; echo $?)" "stdout paused: SIGTERM stops grun (status $rc)"
kill "$outp_reader" 2>/dev/null
wait "$outp_reader" 2>/dev/null
is "$(left)" 0 "stdout paused: no job left running"

# ---- a full device -------------------------------------------------------------------------
if [ -w /dev/full ]; then
	printf '[job:talk]\ncmd = sh -c "echo one; echo two"\n' >"$T/f.ini"
	timeout -k 2 "$(secs 10)" "$GRUN" "$T/f.ini" >/dev/full 2>"$T/err"
	rc=$?
	is "$rc" 1 "stdout on a full device: exit status 1"
	like "$(cat "$T/err")" '^grun: cannot write to stdout: No space left on device' "stdout on a full device: said on stderr"
	is "$(grep -c 'cannot write to stdout' "$T/err")" 1 "stdout on a full device: said once"
	is "$(left)" 0 "stdout on a full device: no job left running"
else
	for i in 1 2 3 4; do ok 0 "# SKIP no /dev/full"; done
fi
done_testing
