#!/bin/sh
# 53-reload-storm: SIGHUPs in quick succession, each with another file,
# leave exactly the jobs of the last file running, each once (a reload
# that read the tree before the supervisors had applied the previous one
# started a job twice); SIGHUPs while grun is finishing neither kill it
# nor lose its summary.
. "$(dirname "$0")/lib.sh"

plan 13

F=$T/s.ini
# count_cmd WORD: tagged processes whose command line ends in WORD.
count_cmd() {
	n=0
	for p in $(tagged_pids); do
		case $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) in
		"sleep $1 ") n=$((n + 1)) ;;
		esac
	done
	echo $n
}

write_a() {
	cat >"$F" <<EOF2
[job:a]
cmd = sleep 1001

[job:c]
env = V=$1
cmd = sleep 1003
EOF2
}
write_b() {
	cat >"$F" <<EOF2
[job:a]
cmd = sleep 1001

[job:b]
instances = 2
cmd = sleep 1002

[job:c]
env = V=$1
cmd = sleep 1003
EOF2
}

write_b 0
start_grun "$F"
wait_count '^grun: (a|b#1|b#2|c): started' 4 10

# ---- a storm of reloads, alternating two files ------------------------------------
i=1
while [ $i -le 40 ]; do
	if [ $((i % 2)) = 1 ]; then write_a $i; else write_b $i; fi
	kill -HUP "$GRUN_PID"
	i=$((i + 1))
	sleep 0.005
done
# the last file: b present; one more reload after every earlier one has
# been taken (signals of one kind coalesce), then wait for it
write_b final
settle 300
n=$(count '^grun: reloaded')
kill -HUP "$GRUN_PID"
wait_count '^grun: reloaded' $((n + 1)) 20
# wait until the supervisors have applied it: three jobs' worth of
# processes, then a moment for any extra start to show
end=$(( $(date +%s) + $(secs 10) ))
while [ "$(count_cmd 1001):$(count_cmd 1002):$(count_cmd 1003)" != 1:2:1 ] && [ "$(date +%s)" -lt "$end" ]; do
	sleep 0.05
done
settle 1000
is "$(count_cmd 1001)" 1 "storm: a runs once"
is "$(count_cmd 1002)" 2 "storm: b's two instances run, once each"
is "$(count_cmd 1003)" 1 "storm: c (changed by every reload) runs once"
ok "$(kill -0 "$GRUN_PID" 2>/dev/null; echo $?)" "storm: grun still runs"

kill -TERM "$GRUN_PID"
wait_grun 20
is "$rc" 143 "storm: SIGTERM afterwards: exit 143 (temporary jobs stopped)"
is "$(left)" 0 "storm: no process left behind"

# ---- reloads of an unchanged file cost no memory ------------------------------------------
printf '[job:a]\ncmd = sleep 1001\n\n[job:b]\ncmd = sleep 1002\n' >"$F"
start_grun "$F"
wait_count ': started' 2 10
rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$GRUN_PID/status"; }
hups() { i=0; while [ $i -lt "$1" ]; do kill -HUP "$GRUN_PID"; sleep 0.01; i=$((i + 1)); done; }
hups 100
wait_count '^grun: reloaded' 50 20
settle 500
rss1=$(rss) n1=$(count '^grun: reloaded')
hups 500
wait_count '^grun: reloaded' $((n1 + 300)) 30
settle 500
rss2=$(rss) n2=$(count '^grun: reloaded')
kill -0 "$GRUN_PID" 2>/dev/null || { diag "grun is gone; its log ends with:"; diag "$(tail -n 5 "$T/err")"; }
# each kept config cost ~1.7 kB (850 kB over 500 reloads on the previous main)
if grep -q '__asan_\|__tsan_' "$GRUN"; then
	ok 0 "# SKIP a sanitizer's allocator keeps freed memory (LeakSanitizer checks for leaks)"
else
	ok "$([ $((n2 - n1)) -ge 300 ] && [ $((rss2 - rss1)) -lt 200 ]; echo $?)" \
		"unchanged file: $((n2 - n1)) more reloads, RSS $rss1 -> $rss2 kB (under 200 kB growth)"
fi
kill -TERM "$GRUN_PID"
wait_grun 20
is "$rc:$(left)" "143:0" "unchanged file: SIGTERM: exit 143, nothing left"

# ---- reloads that change a job free the configs nothing runs from ------------------------
# 300 jobs with long settings, one of which changes at every reload: the
# previous main kept the whole replaced config each time (~230 kB here)
big() {
	i=1
	while [ $i -le 300 ]; do
		printf '[job:j%d]\nrestart = permanent\ncmd = sleep 1000\nenv = SETTING_%d=%s\n\n' $i $i \
			aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
		i=$((i + 1))
	done
	printf '[job:chg]\nrestart = permanent\nenv = V=%s\ncmd = sleep 1000\n' "$1"
}
big 0 >"$F"
start_grun "$F"
wait_count ': started' 301 30
changes() {
	k=$1
	while [ $k -lt "$2" ]; do
		k=$((k + 1))
		big $k >"$F"
		kill -HUP "$GRUN_PID"
		wait_count '^grun: reloaded' $k 20 || break
	done
}
changes 0 40
rss1=$(rss)
changes 40 140
rss2=$(rss)
if grep -q '__asan_\|__tsan_' "$GRUN"; then
	ok 0 "# SKIP a sanitizer's allocator keeps freed memory (LeakSanitizer checks for leaks)"
else
	ok "$([ "$(count '^grun: reloaded')" -ge 140 ] && [ $((rss2 - rss1)) -lt 4000 ]; echo $?)" \
		"100 reloads changing one job of 301: RSS $rss1 -> $rss2 kB (under 4 MB; the replaced configs are freed)"
fi
kill -TERM "$GRUN_PID"
wait_grun 60
is "$rc:$(left)" "0:0" "changing reloads: SIGTERM: exit 0, nothing left"

# ---- SIGHUPs while grun is finishing --------------------------------------------------
printf '[job:short]\ncmd = sleep 0.5\n' >"$F"
start_grun "$F"
wait_log '^grun: short: started' 10
# SIGHUP every 5 ms until grun has exited
( while kill -HUP "$GRUN_PID" 2>/dev/null; do sleep 0.005; done ) &
hupper=$!
wait_grun 20
kill "$hupper" 2>/dev/null
wait "$hupper" 2>/dev/null
is "$rc" 0 "SIGHUPs while finishing: exit 0, not killed by SIGHUP"
like "$(cat "$T/err")" '^grun: 1 job ended: 1 succeeded' "SIGHUPs while finishing: the summary is there"
is "$(left)" 0 "SIGHUPs while finishing: no process left behind"
done_testing
