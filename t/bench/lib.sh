# t/bench/lib.sh - sourced by t/bench/run, t/bench/supervise and
# t/bench/pipeline, so that a benchmark ends only the processes it started.
#
#   bench_guard NAME "$@"   the first thing a script does.  The script runs
#                           itself again as a child with GRUN_BENCH_TAG (a
#                           value unique to this run) in its environment and
#                           waits for it.  Every process the child starts
#                           inherits the tag: grun and its jobs, the
#                           reference supervisors and their services, what
#                           daemonizes, and the child's own subshells.  When
#                           the child ends, or at once on SIGINT, SIGTERM or
#                           SIGHUP (sent to the whole group or to this process
#                           alone), this process kills every process that
#                           carries the tag, then removes $GRUN_BENCH_TMP.
#   GRUN_BENCH_TMP          a temporary directory for the child, removed by
#                           the guard.
#   tagged_pids             the live processes carrying the tag, except the
#                           calling shell and its ancestors.
#   end_tagged [SECS]       KILLs them until none is left (default 5 s);
#                           says on stderr what it ended; 1 if some remain.
#   bench_about SCRIPT      the command, date, CPU and kernel of this run,
#                           as markdown list items.
#
# Nothing is ended by name (pkill -x) or by session (pkill -s 0): a user's
# own supervisord or sleep is never touched.  The tag is found as t/lib.sh
# finds GRUN_TEST_TAG, in /proc/PID/environ, which holds the environment a
# process was started with (a forked subshell shows its parent's).

bench_guard() {
	local name=$1 st
	shift
	if [ -n "${GRUN_BENCH_TAG:-}" ] && [ "${_GRUN_BENCH_CHILD:-}" = "$GRUN_BENCH_TAG" ]; then
		unset _GRUN_BENCH_CHILD
		return 0
	fi
	GRUN_BENCH_TAG=$name.$$.$(date +%s%N)
	GRUN_BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/grun-bench-$name.XXXXXX") || exit 1
	export GRUN_BENCH_TAG GRUN_BENCH_TMP
	_GRUN_BENCH_CHILD=$GRUN_BENCH_TAG bash "$0" "$@" &
	_bench_child=$!
	trap '_bench_stop INT 130' INT
	trap '_bench_stop TERM 143' TERM
	trap '_bench_stop HUP 129' HUP
	wait "$_bench_child"
	st=$?
	end_tagged 10
	rm -rf "$GRUN_BENCH_TMP"
	exit "$st"
}

# _bench_stop SIG STATUS: the guard's signal handler.
_bench_stop() {
	trap '' INT TERM HUP
	printf 'bench: SIG%s: ending every process this benchmark started\n' "$1" >&2
	kill -KILL "$_bench_child" 2>/dev/null
	wait "$_bench_child" 2>/dev/null
	end_tagged 10
	rm -rf "$GRUN_BENCH_TMP"
	exit "$2"
}

tagged_pids() {
	local anc=" " p=$BASHPID st f list
	local -a fields
	while [ "${p:-0}" -gt 1 ]; do
		anc="$anc$p "
		st=$(cat "/proc/$p/stat" 2>/dev/null) || break
		read -ra fields <<<"${st##*) }"
		p=${fields[1]}
	done
	list=$(grep -lzxF "GRUN_BENCH_TAG=$GRUN_BENCH_TAG" /proc/[0-9]*/environ 2>/dev/null)
	for f in $list; do
		p=${f#/proc/}
		p=${p%/environ}
		case $anc in *" $p "*) continue ;; esac
		st=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		case ${st##*) } in ''|Z*|X*) continue ;; esac
		echo "$p"
	done
}

end_tagged() {
	local secs=${1:-5} i p pids n=0 seen=" " what=
	for ((i = 0; i < secs * 20; i++)); do
		pids=$(tagged_pids)
		[ -z "$pids" ] && break
		for p in $pids; do
			case $seen in *" $p "*) continue ;; esac
			seen="$seen$p "
			n=$((n + 1))
			[ $n -le 20 ] && what="$what $p($(cat "/proc/$p/comm" 2>/dev/null))"
		done
		kill -KILL $pids 2>/dev/null
		sleep 0.05
	done
	[ $n -gt 20 ] && what="$what ..."
	[ $n -gt 0 ] && printf 'bench: ended %d leftover process(es):%s\n' "$n" "$what" >&2
	pids=$(tagged_pids)
	[ -z "$pids" ] && return 0
	printf 'bench: still running after %ss: %s\n' "$secs" "$(echo $pids)" >&2
	return 1
}

# bench_about SCRIPT: markdown lines saying how, when and on what machine
# this run was made (for the .md file a script writes).
bench_about() {
	local cpu envs
	cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
	envs=$(env | grep -E '^BENCH_[A-Za-z0-9_]*=' | sort | tr '\n' ' ')
	echo "- command: \`${envs}make bench\` ($1)"
	echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "- nproc: $(nproc)"
	echo "- CPU: ${cpu:-unknown}"
	echo "- kernel: $(uname -sr)"
}
