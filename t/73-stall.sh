#!/bin/sh
# 73-stall: a log nobody reads never slows supervision.  A crash-looping
# job that writes to stderr is restarted as often with grun's stderr a
# pipe nobody reads (and a noisy job keeping it full) as with stderr
# drained: the restart count over the same window stays within 2x of the
# baseline measured in the same test.  With log_overflow = drop a job
# never waits for a stalled log: its lines are dropped, counted and
# reported once stderr is read again; the lines that got through are
# whole and in order.
. "$(dirname "$0")/lib.sh"

plan 8

WINDOW=3   # seconds each run is measured

cat >"$T/loop.ini" <<'EOF'
[supervisor:loop]
intensity = 1000000
period = 1s

[job:crash]
supervisor = loop
restart = permanent
backoff = 0
# its exit is a normal end: one that lands just after SIGTERM (a restart
# already under way) is not a failure either
success = 3
cmd = sh -c 'echo run >>"$GRUN_TEST_TAG/runs"; echo "crash output, a line for the log" >&2; exit 3'

[job:noise]
restart = permanent
cmd = sh -c 'echo $$ >"$GRUN_TEST_TAG/noise.pid"; exec awk "BEGIN { s = sprintf(\"%99s\", \"\"); while (1) { for (i = 0; i < 200; i++) print s > \"/dev/stderr\"; fflush(\"/dev/stderr\"); system(\"sleep 0.01\") } }"'
EOF

runs() { wc -l <"$T/runs" 2>/dev/null || echo 0; }
# measure: restarts of the crashing job during WINDOW seconds, after a
# warm-up that fills a stalled stderr (2 MB/s of noise against 1 MiB of
# queue and 64 KiB of pipe)
measure() {
	wait_file "$T/noise.pid"
	sleep 1.5
	_r0=$(runs)
	sleep "$WINDOW"
	echo $(( $(runs) - _r0 ))
}

# ---- baseline: stderr drained into a file ----------------------------------------------
start_grun "$T/loop.ini"
base=$(measure)
kill -TERM "$GRUN_PID"
wait_grun
is "$rc" 0 "baseline: grun stops on SIGTERM"
rm -f "$T/runs" "$T/noise.pid"

# ---- stderr a pipe nobody reads -----------------------------------------------------------
mkfifo "$T/errp"
sleep 100000 <"$T/errp" &
reader=$!
"$GRUN" "$T/loop.ini" >"$T/out" 2>"$T/errp" &
GRUN_PID=$!
stalled=$(measure)
# stderr really is full: its pipe holds 64 KiB nobody read
unread=$(python3 -c '
import fcntl, os, struct, sys, termios
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
print(struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0])' "$T/errp")
ok "$([ "${unread:-0}" -ge 32768 ]; echo $?)" "stalled: grun's stderr pipe is full ($unread bytes unread)"
diag "restarts in ${WINDOW}s: $base with stderr drained, $stalled with stderr stalled"
t0=$(now_ms)
kill -TERM "$GRUN_PID"
wait_grun
kill "$reader" 2>/dev/null
wait "$reader" 2>/dev/null
is "$rc" 0 "stalled stderr: grun still stops on SIGTERM, and exits"
# a machine shared with other work can slow one window: when the stalled
# run looks slow, the baseline is measured again right after it, and the
# slower baseline counts
if [ $((stalled * 2)) -lt "$base" ]; then
	rm -f "$T/runs" "$T/noise.pid"
	start_grun "$T/loop.ini"
	base2=$(measure)
	kill -TERM "$GRUN_PID"
	wait_grun
	diag "baseline again: $base2"
	[ "$base2" -lt "$base" ] && base=$base2
fi
ok "$([ "$base" -ge 10 ]; echo $?)" "baseline: the job was restarted ($base times in ${WINDOW}s)"
ok "$([ $((stalled * 2)) -ge "$base" ]; echo $?)" \
	"stalled stderr: restarts within 2x of the baseline ($stalled against $base in ${WINDOW}s)"

# ---- log_overflow = drop ---------------------------------------------------------------------
cat >"$T/drop.ini" <<'EOF'
[job:flood]
log_overflow = drop
cmd = sh -c 'seq 1 500000 >&2; touch "$GRUN_TEST_TAG/flood.done"; exec sleep 100000'
EOF
rm -f "$T/errp"
mkfifo "$T/errp"
sleep 100000 <"$T/errp" &
reader=$!
"$GRUN" "$T/drop.ini" >"$T/out" 2>"$T/errp" &
GRUN_PID=$!
# 3.4 MB of lines against 1 MiB of queue: with block it would wait for a reader
wait_file "$T/flood.done" 20
ok $? "log_overflow = drop: the job wrote all its lines and went on while stderr was not read"
# now read stderr: the drop is reported when lines get through again
exec 3<"$T/errp"   # a reader all along: grun's stderr never sees EPIPE
kill "$reader"
wait "$reader" 2>/dev/null
cat <&3 >"$T/err" &
catpid=$!
exec 3<&-
# every line is accounted for while the job still runs: got through, or
# counted in a report (the last count, once stderr has room again, though
# the job writes nothing more)
accounted() {
	kept=$(grep -c '^flood | ' "$T/err")
	dropped=$(sed -n 's/^grun: flood: \([0-9]*\) lines of its stderr dropped.*/\1/p' "$T/err" | awk '{ s += $1 } END { print s + 0 }')
	[ $((kept + dropped)) -eq 500000 ]
}
wait_for 20 accounted
ok $? "log_overflow = drop: the count of dropped lines is logged when stderr is read again, the job quiet ($kept + $dropped)"
kill -TERM "$GRUN_PID"
wait_grun
wait "$catpid" 2>/dev/null
got=$(sed -n 's/^flood | //p' "$T/err")
order=$(printf '%s\n' "$got" | awk '$0 !~ /^[0-9]+$/ || $0 + 0 <= prev { bad = 1 } { prev = $0 + 0 } END { print bad ? "bad" : "whole" }')
dropped=$(sed -n 's/^grun: flood: \([0-9]*\) lines of its stderr dropped.*/\1/p' "$T/err" | awk '{ s += $1 } END { print s + 0 }')
kept=$(printf '%s\n' "$got" | grep -c .)
is "$order|$((kept + dropped))" "whole|500000" \
	"log_overflow = drop: the lines that got through are whole and in order; with the dropped ones, 500000 ($kept + $dropped)"
done_testing
