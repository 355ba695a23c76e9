#!/bin/sh
# 67-limits: grun out of descriptors (RLIMIT_NOFILE) or processes
# (RLIMIT_NPROC): each job that cannot start says why, permanent ones are
# restarted with their backoff (no hot loop) until their supervisor gives
# up, grun never crashes, and the exit status is 1.
. "$(dirname "$0")/lib.sh"
command -v bash >/dev/null 2>&1 || skip_all "no bash for ulimit -u"
plan 13

# ---- one-shot jobs, too few descriptors -------------------------------------------------
i=1; : >"$T/oneshot.ini"
while [ $i -le 40 ]; do printf '[job:j%d]\ncmd = sleep 0.2\n\n' $i >>"$T/oneshot.ini"; i=$((i + 1)); done
timeout -k 2 "$(secs 20)" bash -c 'ulimit -n 30; exec "$0" "$1"' "$GRUN" "$T/oneshot.ini" >"$T/out" 2>"$T/err"
rc=$?
is "$rc" 1 "NOFILE, one-shot jobs: exit status 1, not a crash"
# the descriptors run out making the job's pipes, the spawn's error pipe
# (under TSan), or in the child: each says so
failed=$(count '^grun: j[0-9]+: cannot [^:]*: Too many open files$')
ok "$([ "$failed" -gt 0 ]; echo $?)" "NOFILE: each job that could not start says why ($failed of them)"
like "$(grep 'jobs ended' "$T/err")" "failed, 0 skipped" "NOFILE: the summary counts them as failed"
is "$(left)" 0 "NOFILE: no process left behind"

# ---- permanent jobs: backoff, then the supervisor gives up -------------------------------
i=1; : >"$T/perm.ini"
while [ $i -le 40 ]; do printf '[job:p%d]\nrestart = permanent\nbackoff = 200ms..200ms\ncmd = sleep 100\n\n' $i >>"$T/perm.ini"; i=$((i + 1)); done
timeout -k 2 "$(secs 30)" bash -c 'ulimit -n 30; exec "$0" "$1"' "$GRUN" "$T/perm.ini" >"$T/out" 2>"$T/err"
rc=$?
is "$rc" 1 "NOFILE, permanent jobs: exit status 1 once the supervisor gave up"
like "$(cat "$T/err")" '^grun: supervisor root: giving up: p[0-9]+ crash-looped' "NOFILE: the root supervisor gives up"
like "$(cat "$T/err")" '^grun: p[0-9]+: restarting in 200ms' "NOFILE: restarts wait for the backoff"
# intensity 5 in 30 s for the whole root supervisor: at most 6 restarts
# in all, each after its backoff; no hot loop of failing spawns
restarts=$(count '^grun: p[0-9]+: restarting in 200ms')
tries=$(count '^grun: p[0-9]+: cannot [^:]*: Too many open files$')
ok "$([ "$restarts" -ge 1 ] && [ "$restarts" -le 6 ] && [ "$tries" -le 46 ]; echo $?)" \
	"NOFILE: $restarts restarts (1..6) and $tries failed starts (at most 40 + 6): no hot loop"
is "$(left)" 0 "NOFILE, permanent: no process left behind"

# ---- a pipeline whose pipes cannot be made -----------------------------------------------
i=1; : >"$T/pipe.ini"
while [ $i -le 20 ]; do printf '[job:prod%d]\ncmd = seq 3\nstdout = chan:c%d\n[job:cons%d]\ncmd = cat\nstdin = chan:c%d\n\n' $i $i $i $i >>"$T/pipe.ini"; i=$((i + 1)); done
timeout -k 2 "$(secs 20)" bash -c 'ulimit -n 30; exec "$0" "$1"' "$GRUN" "$T/pipe.ini" >"$T/out" 2>"$T/err"
rc=$?
is "$rc" 1 "NOFILE, pipeline: exit status 1"
like "$(cat "$T/err")" '^grun: [a-z0-9]+: cannot make its channel pipes: Too many open files$' "NOFILE, pipeline: says which job and why"

# ---- too few processes (as an unprivileged user: root has no RLIMIT_NPROC) ---------------
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
	D=$(mktemp -d "${TMPDIR:-/tmp}/grun-nproc.XXXXXX")
	chmod 755 "$D"
	i=1; : >"$D/n.ini"
	while [ $i -le 10 ]; do printf '[job:n%d]\ncmd = sleep 0.3\n\n' $i >>"$D/n.ini"; i=$((i + 1)); done
	chmod 644 "$D/n.ini"
	timeout -k 2 "$(secs 20)" setpriv --reuid=65534 --regid=65534 --clear-groups \
		bash -c 'ulimit -u 6; exec "$0" -P 2 "$1"' "$GRUN" "$D/n.ini" >"$T/out" 2>"$T/err"
	rc=$?
	rm -rf "$D"
	is "$rc" 1 "NPROC: exit status 1, not a crash"
	like "$(cat "$T/err")" '^grun: n[0-9]+: cannot create a process for sleep: Resource temporarily unavailable \(the user.s process limit, RLIMIT_NPROC, or memory\)$' \
		"NPROC: each job that could not start says why"
else
	ok 0 "# SKIP not root, or no setpriv"
	ok 0 "# SKIP not root, or no setpriv"
fi
done_testing
