#!/bin/sh
# 72-summary: the end-of-run summary has one line per job: how it ended,
# its last exit status, how long it ran, its restarts; -q keeps the
# failures; beyond 100 jobs only failures are listed.  -v logs how long
# a job took to become ready.
. "$(dirname "$0")/lib.sh"

plan 12

cat >"$T/s.ini" <<'EOF'
[job:db]
restart = permanent
ready = delay:300ms
cmd = sleep 30
[job:crash]
restart = transient
backoff = 10ms
needs = db
cmd = sh -c 'sleep 0.1; exit 3'
[job:never]
ready = exited
needs = nothere
cmd = true
[job:nothere]
ready = exited
cmd = false
[job:ok]
cmd = sleep 0.4
EOF
run_grun 30 -v "$T/s.ini"
is "$rc" 1 "exit status 1 (a supervisor gave up)"
# -v: how long db took to be ready (ready = delay:300ms: at least 300 ms)
took=$(sed -n 's/^grun: db: ready after \([0-9]*\)ms$/\1/p' "$T/err")
ok "$([ -n "$took" ] && [ "$took" -ge 300 ]; echo $?)" "-v: 'db: ready after ${took}ms' (ready = delay:300ms)"
like "$(cat "$T/err")" '^grun: summary: db stopped, killed by signal TERM, ran [0-9.]+m?s, 0 restarts$' \
	"summary: a service stopped with everything"
like "$(cat "$T/err")" '^grun: summary: crash failed, exit status 3, ran [0-9.]+m?s, 5 restarts$' \
	"summary: a crash-looping job: failed, its status, 5 restarts"
ran=$(sed -n 's/^grun: summary: ok succeeded, exit status 0, ran \([0-9]*\)ms, 0 restarts$/\1/p' "$T/err")
ok "$([ -n "$ran" ] && [ "$ran" -ge 400 ]; echo $?)" "summary: 'ok succeeded, exit status 0, ran ${ran}ms' (sleep 0.4)"
like "$(cat "$T/err")" '^grun: summary: never skipped, never ran$' "summary: a skipped job never ran"
like "$(cat "$T/err")" '^grun: summary: nothere failed, exit status 1, ran [0-9.]+m?s, 0 restarts$' "summary: a failed task"
cran=$(sed -n 's/^grun: summary: crash failed, exit status 3, ran \([0-9]*\)ms, 5 restarts$/\1/p' "$T/err")
ok "$([ -n "$cran" ] && [ "$cran" -ge 600 ]; echo $?)" "summary: the run time is summed over the 6 runs of 100 ms (${cran}ms)"
is "$(grep -A1 'summary: ok' "$T/err" | tail -n 1 | sed 's/:.*//')" "grun" "summary: the per-job lines come before the outcome line"

run_grun 30 -q "$T/s.ini"
is "$(grep -c 'summary:' "$T/err")|$(grep -c 'summary: ok\|summary: db' "$T/err")" "3|0" "-q: the summary keeps the failed and skipped jobs only"

# more than 100 jobs: only the failures
{
	i=0
	while [ $i -lt 120 ]; do printf '[job:t%d]\ncmd = true\n' $i; i=$((i + 1)); done
	printf '[job:bad]\ncmd = false\n'
} >"$T/many.ini"
run_grun 60 "$T/many.ini"
is "$rc|$(grep -c 'summary:' "$T/err")" "1|1" "121 jobs: only the failed one is listed"
like "$(cat "$T/err")" '^grun: summary: bad failed, exit status 1' "121 jobs: the failed one"
done_testing
