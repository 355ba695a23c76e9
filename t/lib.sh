# t/lib.sh - shared by the shell tests (. "$srcdir/t/lib.sh" or "$(dirname "$0")/lib.sh").
#
# TAP:      plan N; ok STATUS DESC; todo STATUS DESC WHY; is GOT WANT DESC; like GOT ERE DESC;
#           unlike GOT ERE DESC; skip_all WHY; diag TEXT; done_testing
# grun:     run_grun SECS ARGS...     run grun in the foreground, bounded; sets
#                                     $rc, output in $T/out and $T/err
#           start_grun ARGS...        start grun in the background ($GRUN_PID)
#           wait_log ERE [SECS]       wait until $T/err has a matching line
#           wait_grun [SECS]          wait for the background grun; sets $rc
#           wait_file PATH [SECS]     wait until PATH exists
#           wait_count ERE N [SECS]   wait until N log lines match ERE; count ERE
#           wait_grep ERE FILE [SECS] wait until FILE has a line matching ERE
#           wait_for SECS CMD...      wait until CMD succeeds
#           settle MS                 sleep MS x GRUN_TEST_TIMEOUT_MULT ms: the window
#                                     of a "nothing more happens" check
# cleanup:  every process a test starts carries GRUN_TEST_TAG in its
#           environment; tagged_pids lists those still alive, and the EXIT
#           trap kills them all (and says so: a leak fails the test).
# Every wait is bounded: SECS (default 10) times GRUN_TEST_TIMEOUT_MULT.

set -u
: "${abs_top_builddir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${abs_top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
GRUN=$abs_top_builddir/cmd/grun
HELPERS=$abs_top_builddir/t/helpers
MULT=${GRUN_TEST_TIMEOUT_MULT:-1}
T=$(mktemp -d "${TMPDIR:-/tmp}/grun-test.XXXXXX")
GRUN_TEST_TAG=$T
export GRUN_TEST_TAG NO_COLOR=1
_n=0
_failed=0
_planned=0
GRUN_PID=

plan() { _planned=$1; echo "1..$1"; }
diag() { printf '# %s\n' "$*" | sed '2,$s/^/# /'; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }

ok() {
	_n=$((_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $_n - $2"
	else
		echo "not ok $_n - $2"
		_failed=$((_failed + 1))
	fi
}

# todo STATUS DESC WHY: a TAP TODO check, for behaviour grun gets wrong
# today (automake counts it as XFAIL; passing is XPASS, a failure).
todo() {
	_n=$((_n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $_n - $2 # TODO $3"; else echo "not ok $_n - $2 # TODO $3"; fi
}

is() {
	if [ "$1" = "$2" ]; then ok 0 "$3"; else
		ok 1 "$3"; diag "got:  '$1'"; diag "want: '$2'"; fi
}

like() {
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then ok 0 "$3"; else
		ok 1 "$3"; diag "got: $1"; diag "want match: $2"; fi
}

unlike() {
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then
		ok 1 "$3"; diag "got: $1"; diag "want no match: $2"; else ok 0 "$3"; fi
}

secs() { echo $(( ${1:-10} * MULT )); }

# A sanitizer's report in grun's stderr goes into the test's log (the
# assertion that fails on it shows only its first line).
show_sanitizer_report() {
	if grep -q 'Sanitizer\|runtime error:' "$T/err" 2>/dev/null; then
		diag "sanitizer report from grun:"
		sed 's/^/#   /' "$T/err"
	fi
}

run_grun() {
	_s=$(secs "$1"); shift
	timeout -k 2 "$_s" "$GRUN" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	[ $rc -eq 124 ] && diag "grun $* timed out after ${_s}s"
	show_sanitizer_report
	return 0
}

start_grun() {
	"$GRUN" "$@" >"$T/out" 2>"$T/err" &
	GRUN_PID=$!
}

# wait_grun [SECS]: rc is grun's status, or 124 if it had to be killed.
wait_grun() {
	_end=$(( $(date +%s) + $(secs "${1:-10}") ))
	while kill -0 "$GRUN_PID" 2>/dev/null; do
		if [ "$(date +%s)" -ge "$_end" ]; then
			diag "grun (pid $GRUN_PID) still running: killing it"
			kill -KILL "$GRUN_PID" 2>/dev/null
			wait "$GRUN_PID" 2>/dev/null
			rc=124
			GRUN_PID=
			return 0
		fi
		sleep 0.02
	done
	wait "$GRUN_PID"
	rc=$?
	GRUN_PID=
	show_sanitizer_report
	return 0
}

wait_log() { wait_grep "$1" "$T/err" "${2:-10}"; }

wait_file() {
	_end=$(( $(date +%s) + $(secs "${2:-10}") ))
	until [ -e "$1" ]; do
		if [ "$(date +%s)" -ge "$_end" ]; then
			diag "$1 did not appear within $(secs "${2:-10}")s"
			return 1
		fi
		sleep 0.02
	done
	return 0
}

# Processes (other than this shell and its subshells) whose environment
# has our tag, zombies excepted.  One grep over every environ file.
tagged_pids() {
	# the whole list first: the loop's own commands (sed, cut, their
	# subshells, children of the loop and not of this shell) must not
	# be in it, as they were when grep ran alongside the loop
	_tp_list=$(grep -lzxF "GRUN_TEST_TAG=$T" /proc/[0-9]*/environ 2>/dev/null)
	[ -n "$_tp_list" ] || return 0
	printf '%s\n' "$_tp_list" |
	while IFS= read -r _e; do
		_p=${_e#/proc/}; _p=${_p%/environ}
		[ "$_p" = $$ ] && continue
		# skip our own subshells and the grep itself: they are gone or ours
		_st=$(sed 's/.*) //' "/proc/$_p/stat" 2>/dev/null | cut -d' ' -f1,2)
		case $_st in ''|Z*) continue ;; esac
		if [ "${_st#* }" = $$ ]; then
			# this function's own pipeline (grep, the subshell, sed, cut)
			case $(cat "/proc/$_p/comm" 2>/dev/null) in
			grep|sed|cut|cat|sh|bash|dash) continue ;;
			esac
		fi
		echo "$_p"
	done
}

# Waits until no tagged process is left: 0, or 1 after SECS (default 5).
no_tagged_left() {
	_end=$(( $(date +%s) + $(secs "${1:-5}") ))
	while [ -n "$(tagged_pids)" ]; do
		[ "$(date +%s)" -ge "$_end" ] && return 1
		sleep 0.05
	done
	return 0
}

# count ERE: lines of grun's log matching ERE.
count() { grep -Ec -- "$1" "$T/err"; }

# wait_count ERE N [SECS]: until grun's log has N lines matching ERE.
wait_count() {
	_end=$(( $(date +%s) + $(secs "${3:-10}") ))
	until [ "$(count "$1")" -ge "$2" ]; do
		if [ "$(date +%s)" -ge "$_end" ]; then
			diag "fewer than $2 lines matching '$1' in grun's log within $(secs "${3:-10}")s"
			return 1
		fi
		sleep 0.02
	done
}

# wait_grep ERE FILE [SECS]: until FILE (not grun's log) has a line matching ERE.
wait_grep() {
	_end=$(( $(date +%s) + $(secs "${3:-10}") ))
	until grep -Eq -- "$1" "$2" 2>/dev/null; do
		if [ "$(date +%s)" -ge "$_end" ]; then
			diag "no line matching '$1' in $2 within $(secs "${3:-10}")s"
			return 1
		fi
		sleep 0.02
	done
	return 0
}

# wait_for SECS CMD [ARGS...]: until CMD succeeds (0), or 1 after SECS
# (times GRUN_TEST_TIMEOUT_MULT), with a diag naming CMD.
wait_for() {
	_wf_end=$(( $(date +%s) + $(secs "$1") )); _wf_s=$1; shift
	until "$@"; do
		if [ "$(date +%s)" -ge "$_wf_end" ]; then
			diag "still not true after $(secs "$_wf_s")s: $*"
			return 1
		fi
		sleep 0.02
	done
	return 0
}

# settle MS: sleeps MS x GRUN_TEST_TIMEOUT_MULT milliseconds, the window
# in which a "nothing more happens" check gives grun time to (wrongly)
# react; never a way to wait for something that should happen.
settle() { sleep "$(awk -v m="$1" -v k="$MULT" 'BEGIN { printf "%.3f", m * k / 1000 }')"; }

# left [SECS]: 0 if no tagged process is left (as a status for ok), else 1.
left() { no_tagged_left "$@"; echo $?; }

now_ms() { date +%s%3N; }

# Lines of $T/err matching ERE, in order, with "grun: " stripped.
events() { grep -E -- "$1" "$T/err" | sed 's/^grun: //'; }

_cleanup() {
	[ -n "$GRUN_PID" ] && kill -KILL "$GRUN_PID" 2>/dev/null
	_left=$(tagged_pids)
	if [ -n "$_left" ]; then
		echo "# cleanup: killing leftover processes: $(echo $_left)"
		kill -KILL $_left 2>/dev/null
	fi
	if [ "${KEEP_T:-0}" = 1 ]; then echo "# kept $T"; else rm -rf "$T"; fi
}
trap _cleanup EXIT

done_testing() {
	if [ "$_planned" -ne "$_n" ]; then
		echo "# planned $_planned tests but ran $_n"
		exit 1
	fi
	[ "$_failed" -eq 0 ]
	exit $?
}
