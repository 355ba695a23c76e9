#!/bin/sh
# 51-orphans: grun is a subreaper.  Processes left behind by daemonizing
# jobs (a background child, a setsid double fork) become grun's children,
# are reaped as soon as they exit (no zombies while grun runs), and are
# stopped when grun ends, whether the graph finished by itself or grun got
# SIGTERM; one that ignores TERM is KILLed after a grace period.
. "$(dirname "$0")/lib.sh"

plan 29

# left [SECS]: 0 once no tagged process is left (for ok).
alive() { kill -0 "$1" 2>/dev/null; }
# ppid PID: the parent of PID (empty if PID is gone).
ppid() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f2; }
# children PID: "CHILD:STATE" for every child of PID, zombies included,
# from every /proc/N/stat (builtins only; /proc/PID/task/*/children may
# miss entries while they change).
children() {
	_parent=$1
	for _f in /proc/[0-9]*/stat; do
		_l=
		{ read -r _l <"$_f"; } 2>/dev/null || continue
		_c=${_f#/proc/}
		_c=${_c%/stat}
		set -- ${_l##*) }
		[ "${2:-}" = "$_parent" ] && echo "$_c:$1"
	done
}
# grun_has PID...: each PID is a child of grun (for wait_for).
grun_has() { for _p in "$@"; do [ "$(ppid "$_p")" = "$GRUN_PID" ] || return 1; done; }
# only_child PID: grun's only child is PID, sleeping (for wait_for).
only_child() { [ "$(echo $(children "$GRUN_PID"))" = "$1:S" ]; }
# lines_in FILE N: FILE has at least N lines (for wait_for).
lines_in() { [ "$(cat "$1" 2>/dev/null | wc -l)" -ge "$2" ]; }

# ---- a one-shot graph whose jobs daemonize ------------------------------------
cat >"$T/daemons.ini" <<'EOF'
[job:bg]
cmd = sh -c 'sleep 1000 & echo $$! >${GRUN_TEST_TAG}/bg.pid; exit 0'

[job:dbl]
cmd = sh -c '(setsid sleep 1000 & echo $$! >${GRUN_TEST_TAG}/dbl.pid); exit 0'

[job:keeper]
cmd = sh -c 'while [ ! -e ${GRUN_TEST_TAG}/release ]; do sleep 0.05; done'
EOF
start_grun "$T/daemons.ini"
wait_log '^grun: bg: exited' 10
wait_log '^grun: dbl: exited' 10
wait_file "$T/dbl.pid" 5
bg=$(cat "$T/bg.pid")
dbl=$(cat "$T/dbl.pid")
is "$(ppid "$bg")" "$GRUN_PID" "one-shot: the background child of an exited job is grun's child now"
is "$(ppid "$dbl")" "$GRUN_PID" "one-shot: so is the double-forked, setsid one"
# keeper, the last job, ends only now: then the graph is done
: >"$T/release"
wait_grun 15
is "$rc" 0 "one-shot: exit status 0"
like "$(cat "$T/err")" '^grun: stopping 2 leftover processes of daemonizing jobs$' "one-shot: the sweep is logged"
is "$(tail -n 1 "$T/err")" "grun: 3 jobs ended: 3 succeeded, 0 stopped" "one-shot: summary"
ok "$(! alive "$bg" && ! alive "$dbl"; echo $?)" "one-shot: both daemons are gone once grun has exited"
ok "$(left)" "one-shot: no process left"

# ---- SIGTERM: orphans go too, even one that ignores TERM ----------------------------
cat >"$T/deafd" <<'EOF'
#!/bin/sh
trap '' TERM
echo $$ >"$GRUN_TEST_TAG/deafd.pid"
exec sleep 1000
EOF
chmod +x "$T/deafd"
cat >"$T/term.ini" <<'EOF'
[job:svc]
cmd = sh -c '(setsid ${GRUN_TEST_TAG}/deafd &); (setsid sleep 1000 & echo $$! >${GRUN_TEST_TAG}/orphan.pid); exec sleep 1000'
EOF
start_grun "$T/term.ini"
wait_file "$T/orphan.pid" 10
wait_file "$T/deafd.pid" 10
orphan=$(cat "$T/orphan.pid")
deafd=$(cat "$T/deafd.pid")
# they are grun's once the subshells that forked them have exited
wait_for 10 grun_has "$orphan" "$deafd"
is "$(ppid "$orphan"):$(ppid "$deafd")" "$GRUN_PID:$GRUN_PID" "SIGTERM: both daemons of the running job are grun's children"
t0=$(now_ms)
kill -TERM "$GRUN_PID"
wait_grun 15
t1=$(now_ms)
is "$rc" 143 "SIGTERM: exit status 143"
like "$(cat "$T/err")" '^grun: stopping 2 leftover processes of daemonizing jobs$' "SIGTERM: the sweep is logged"
ok "$( [ $((t1 - t0)) -ge 1500 ] && [ $((t1 - t0)) -lt $((8000 * MULT)) ]; echo $?)" \
	"SIGTERM: the daemon ignoring TERM had a grace period, then KILL ($((t1 - t0)) ms, bound $((8000 * MULT)) ms)"
ok "$(! alive "$orphan" && ! alive "$deafd"; echo $?)" "SIGTERM: both daemons are gone"
ok "$(left)" "SIGTERM: no process left"

# ---- no zombies: orphans that exit are reaped while grun runs ------------------------
cat >"$T/zombies.ini" <<'EOF'
[job:spawner]
cmd = sh -c 'for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do (sleep 0.1 &); (setsid sleep 0.2 &); done; touch ${GRUN_TEST_TAG}/spawned; exec sleep 100'

[job:oneshot]
cmd = sh -c 'sleep 0.2 & exit 0'
EOF
start_grun "$T/zombies.ini"
wait_file "$T/spawned" 10
spawner=$(sed -n 's/^grun: spawner: started (pid \([0-9]*\))$/\1/p' "$T/err")
# the 40 orphans live 0.1 or 0.2 s once they run; on a loaded machine
# they may start late: wait (bounded) until they are gone, reaped
wait_for 10 only_child "$spawner"
z1=$(children "$GRUN_PID")
settle 500
z2=$(children "$GRUN_PID")
is "$(echo $z1)" "$spawner:S" "zombies: once the orphans exited, grun's only child is the job itself (no zombie, no orphan)"
is "$(echo $z2)" "$spawner:S" "zombies: and still so $((500 * MULT)) ms later"
kill -TERM "$GRUN_PID"
wait_grun 15
is "$rc" 143 "zombies: exit status 143"
unlike "$(cat "$T/err")" 'leftover' "zombies: nothing left to sweep (the orphans had exited and were reaped)"
ok "$(left)" "zombies: no process left"

# many zombies at once: 200 orphans (double forks, by perl: quicker than
# sh), all blocked on one pipe, exit together when it is closed
cat >"$T/burst" <<'EOF'
#!/usr/bin/perl
pipe(my $r, my $w) or die "pipe: $!";
for (1 .. 200) {
	my $p = fork() // die "fork: $!";
	if ($p == 0) {
		my $g = fork() // die "fork: $!";
		if ($g == 0) { close $w; my $b; sysread($r, $b, 1) }
		exit 0;
	}
	waitpid($p, 0);
}
close $w;
open(my $f, ">", "$ENV{GRUN_TEST_TAG}/burst.done") or die;
close $f;
sleep 100;
EOF
chmod +x "$T/burst"
cat >"$T/burst.ini" <<'EOF'
[job:burst]
cmd = ${GRUN_TEST_TAG}/burst
EOF
start_grun "$T/burst.ini"
wait_file "$T/burst.done" 15
burst=$(sed -n 's/^grun: burst: started (pid \([0-9]*\))$/\1/p' "$T/err")
t0=$(now_ms)
wait_for 5 only_child "$burst"
is "$(echo $(children "$GRUN_PID"))" "$burst:S" "burst: 200 exiting orphans were all reaped (within $(( $(now_ms) - t0 )) ms)"
kill -TERM "$GRUN_PID"
wait_grun 15
is "$rc" 143 "burst: exit status 143"
ok "$(left)" "burst: no process left"

# ---- a job's own group KILLed at stop is not a "leftover of a daemonizing job" -----------
# The job's 200 children ignore INT, so the INT stop leaves them to the
# KILL that finishes off the job's group once its leader has exited; grun
# must not then count them, still dying, as daemons to sweep.
cat >"$T/herd" <<'EOF'
#!/usr/bin/perl
pipe(my $r, my $w) or die "pipe: $!";
for (1 .. 200) {
	my $p = fork() // die "fork: $!";
	if ($p == 0) { $SIG{INT} = 'IGNORE'; syswrite($w, "x"); sleep 100; exit 0 }
}
$SIG{INT} = sub { exit 0 };
# every child ignores INT before the test stops the job
my $got = 0;
while ($got < 200) { my $n = sysread($r, my $b, 200 - $got) or die "read: $!"; $got += $n }
open(my $f, '>', "$ENV{GRUN_TEST_TAG}/grp") or die;
close $f;
sleep 100 while 1;
EOF
chmod +x "$T/herd"
cat >"$T/group.ini" <<'EOF'
[job:grp]
cmd = ${GRUN_TEST_TAG}/herd
stop_signal = INT
EOF
# twice: the dying members are seen or not by a race
rcs= ended= swept=0
for run in 1 2; do
	rm -f "$T/grp"
	start_grun "$T/group.ini"
	wait_file "$T/grp" 10
	kill -TERM "$GRUN_PID"
	wait_grun 15
	rcs=$rcs$rc
	grep -q '^grun: grp: exited with status 0$' "$T/err" && ended=$ended.
	grep -q leftover "$T/err" && swept=$((swept + 1))
done
is "$rcs" 143143 "group KILL: exit status 143 (2 runs)"
is "$ended" .. "group KILL: the job ended by its INT handler (2 runs)"
ok "$swept" "group KILL: no \"leftover processes of daemonizing jobs\" for the job's own killed group ($swept of 2 runs had one)"
ok "$(left)" "group KILL: no process left"

# ---- a daemon outliving a job that is restarted ----------------------------------------
cat >"$T/restart.ini" <<'EOF'
[grun]
intensity = 100

[job:flappy]
cmd = sh -c '(setsid sleep 1000 & echo $$! >>${GRUN_TEST_TAG}/flappy.pids); [ $$(wc -l <${GRUN_TEST_TAG}/flappy.pids) -ge 3 ] && exec sleep 1000; sleep 0.2; exit 1'
restart = permanent
backoff = 50ms
EOF
# the 3rd run stays up: SIGTERM comes once it has recorded its daemon
start_grun "$T/restart.ini"
wait_for 10 lines_in "$T/flappy.pids" 3
wait_count '^grun: flappy: started' 3
kill -TERM "$GRUN_PID"
wait_grun 15
is "$rc" 0 "restarts: exit status 0 after SIGTERM"
is "$(wc -l <"$T/flappy.pids" | tr -d ' ')" "$(grep -c 'flappy: started' "$T/err")" "restarts: one daemon per run"
dead=0
for p in $(cat "$T/flappy.pids"); do alive "$p" || dead=$((dead + 1)); done
is "$dead" "$(wc -l <"$T/flappy.pids" | tr -d ' ')" "restarts: every run's daemon is gone"
ok "$(left)" "restarts: no process left"

done_testing
