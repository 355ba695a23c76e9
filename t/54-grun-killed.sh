#!/bin/sh
# 54-grun-killed: grun cannot catch SIGKILL, but each job's first process
# is told: it gets SIGKILL when grun dies (PR_SET_PDEATHSIG), so
# `kill -9 grun` leaves no job's main process running.  What that process
# started in the background is not told (grun(1) SIGNALS says so, and that
# systemd's KillMode=control-group covers it): checked here as documented.
. "$(dirname "$0")/lib.sh"

plan 5

pid_of() { sed -n "s/^grun: $1: started (pid \([0-9]*\))\$/\1/p" "$T/err" | tail -n 1; }
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

cat >"$T/k.ini" <<'EOF'
[job:plain]
cmd = sleep 1001

[job:ignores_term]
cmd = sh -c 'trap "" TERM; exec sleep 1002'

[job:nobody]
user = NOBODY
cmd = sleep 1003

[job:with_child]
cmd = sh -c 'sleep 1004 & echo $! >"$GRUN_TEST_TAG/child"; exec sleep 1005'
EOF
# the user switch needs root; otherwise the job runs as ourselves
if [ "$(id -u)" = 0 ]; then sed -i 's/^user = NOBODY$/user = nobody/' "$T/k.ini"
else sed -i '/^user = NOBODY$/d' "$T/k.ini"; fi
start_grun "$T/k.ini"
wait_count ': started' 4 10
wait_file "$T/child" 10
plain=$(pid_of plain) ign=$(pid_of ignores_term) nob=$(pid_of nobody) wc=$(pid_of with_child)
child=$(cat "$T/child")
ok "$(alive "$plain" && alive "$ign" && alive "$nob" && alive "$wc" && alive "$child"; echo $?)" "all four jobs run"
kill -KILL "$GRUN_PID"
wait "$GRUN_PID" 2>/dev/null
GRUN_PID=
gone() {
	end=$(( $(date +%s) + $(secs 5) ))
	while alive "$1" && [ "$(date +%s)" -lt "$end" ]; do sleep 0.02; done
	! alive "$1"
}
ok "$(gone "$plain" && gone "$ign"; echo $?)" "kill -9 grun: the jobs' processes die (even one that ignores TERM)"
ok "$(gone "$nob"; echo $?)" "kill -9 grun: a job run as another user dies too (set after the user switch)"
ok "$(gone "$wc"; echo $?)" "kill -9 grun: a job's main process dies"
ok "$(alive "$child"; echo $?)" "kill -9 grun: what it started in the background is not told (documented)"
kill -KILL "$child" 2>/dev/null
done_testing
