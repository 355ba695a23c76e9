#!/bin/sh
# 71-logfiles: a job's log = DIR directory and its file: outputs.
# Rotation at log_max_size accounts for every one of a million numbered
# lines across the files (none lost, split or duplicated, in order);
# log_keep keeps that many rotated files; lines are stamped by default;
# instances are named.  SIGUSR1 reopens file: outputs and current after
# a mv.  A directory that cannot be made, and a full tmpfs, give one
# error line with a count, the exit status 1, and whole lines only; the
# other jobs go on.
. "$(dirname "$0")/lib.sh"

plan 29

# ---- rotation: 1,000,000 numbered lines ----------------------------------------------
cat >"$T/rot.ini" <<EOF
[grun]
timestamps = off
[job:count]
log = $T/rot
log_max_size = 1M
log_keep = 1000
cmd = seq 1 1000000
EOF
run_grun 60 "$T/rot.ini"
is "$rc" 0 "rotation: exit status 0"
# the rotated files sort by name (TAI64N) in time order; current is last
all() { for f in $(ls "$1" | grep '^@.*\.s$' | sort) current; do cat "$1/$f"; done; }
is "$(all "$T/rot" | cksum)" "$(seq 1 1000000 | cksum)" \
	"rotation: the files, in order, hold exactly lines 1 to 1000000 (none lost, split or duplicated)"
nfiles=$(ls "$T/rot" | grep -c '^@[0-9a-f]\{24\}\.s$')
ok "$([ "$nfiles" -ge 5 ]; echo $?)" "rotation: 6.9 MB in 1 MiB files: $nfiles rotated files named @TAI64N.s"
big=$(for f in "$T/rot"/*; do [ "$(wc -c <"$f")" -gt 1048576 ] && echo "$f"; done)
is "$big" "" "rotation: no file is larger than log_max_size"
bad=$(for f in "$T/rot"/*; do [ -s "$f" ] && [ "$(tail -c 1 "$f" | od -An -c | tr -d ' ')" != '\n' ] && echo "$f"; done)
is "$bad" "" "rotation: every file ends with a whole line"
is "$(stat -c %a "$T/rot" "$T/rot/current" | tr '\n' ' ')" "755 644 " "rotation: directory 0755, files 0644 (less grun's umask)"

# log_keep: the oldest rotated files go
sed -e 's/log_keep = 1000/log_keep = 2/' -e "s|$T/rot|$T/keep|" "$T/rot.ini" >"$T/keep.ini"
run_grun 60 "$T/keep.ini"
is "$rc|$(ls "$T/keep" | grep -c '^@')|$(ls "$T/keep" | grep -c '^current$')" "0|2|1" "log_keep = 2: two rotated files and current"
is "$(all "$T/keep" | tail -n 1)" 1000000 "log_keep = 2: the newest lines are kept"

# ---- stamps by default, instances named, stderr too -------------------------------------
cat >"$T/inst.ini" <<EOF
[job:w]
instances = 2
log = $T/inst
cmd = sh -c 'echo "out \$GRUN_INSTANCE"; echo "err \$GRUN_INSTANCE" >&2'
EOF
run_grun 10 "$T/inst.ini"
is "$rc" 0 "instances: exit status 0"
is "$(sed -E 's/^[0-9-]{10}T[0-9:]{8}\.[0-9]{3}[+-][0-9:]{5} //' "$T/inst/current" | sort | tr '\n' '/')" \
	"w#1 | err 1/w#1 | out 1/w#2 | err 2/w#2 | out 2/" \
	"log = DIR: stdout and stderr of every instance, stamped (iso by default), named NAME#N"
is "$(grep -c ' | ' "$T/out")" 0 "log = DIR: nothing of the job on grun's stdout"

# ---- file: outputs are the bytes as written ---------------------------------------------
head -c 300000 /dev/urandom >"$T/bin"
printf 'tail without a newline\r\0' >>"$T/bin"
cat >"$T/raw.ini" <<EOF
[job:bin]
stdout = file:$T/bin.out
cmd = cat $T/bin
[job:long]
stdout = file:$T/long.out
cmd = sh -c 'head -c 200000 /dev/zero | tr "\\\\0" x'
EOF
run_grun 10 "$T/raw.ini"
cmp -s "$T/bin" "$T/bin.out"
ok $? "file: output: 300 KB of binary and a last line without a newline, byte for byte"
is "$rc|$(wc -c <"$T/long.out" | tr -d ' ')|$(tr -d x <"$T/long.out" | wc -c | tr -d ' ')" "0|200000|0" \
	"file: output: a 200000-byte line without a newline is neither cut nor marked nor ended"

# ---- SIGUSR1: reopen after mv ---------------------------------------------------------
cat >"$T/usr1.ini" <<EOF
[job:f]
stdout = file:$T/app.log
log = $T/dir
stderr = log
cmd = sh -c 'echo one; echo one >&2; while [ ! -e "$T/go" ]; do sleep 0.02; done; echo two; echo two >&2'
EOF
start_grun "$T/usr1.ini"
wait_grep '^one$' "$T/app.log"
wait_grep ' one$' "$T/dir/current"
mv "$T/app.log" "$T/app.log.1"
mv "$T/dir/current" "$T/dir/old"
kill -USR1 "$GRUN_PID"
wait_log 'SIGUSR1: reopening 2 log files'
touch "$T/go"
wait_grun
is "$rc" 0 "SIGUSR1: exit status 0"
is "$(cat "$T/app.log.1")|$(cat "$T/app.log")" "one|two" "SIGUSR1: file: output reopened after mv (one in the moved file, two in the new one)"
is "$(sed 's/.* //' "$T/dir/old")|$(sed 's/.* //' "$T/dir/current")" "one|two" "SIGUSR1: the log directory's current reopened after mv"
printf '[job:a]\nrestart = permanent\ncmd = sleep 30\n' >"$T/none.ini"
start_grun "$T/none.ini"
wait_log 'a: started'
kill -USR1 "$GRUN_PID"
wait_log 'SIGUSR1: no log files to reopen'
kill -TERM "$GRUN_PID"
wait_grun
is "$rc" 0 "SIGUSR1 with no log files: said, and nothing else happens"

# ---- a directory that cannot be made ----------------------------------------------------
: >"$T/afile"
cat >"$T/bad.ini" <<EOF
[job:lost]
log = $T/afile/logs
cmd = sh -c 'i=0; while [ \$i -lt 30 ]; do echo "line \$i"; i=\$((i+1)); sleep 0.05; done'
[job:other]
cmd = sh -c 'sleep 0.5; echo still here'
EOF
run_grun 20 "$T/bad.ini"
is "$rc" 1 "unwritable directory: exit status 1 (output was lost)"
is "$(grep -c "cannot open: Not a directory; [0-9]* lines\{0,1\} lost so far" "$T/err")" 1 \
	"unwritable directory: one error line for 1.5 s of lines (rate-limited)"
like "$(cat "$T/err")" "log $T/afile/logs: 30 lines lost in all" "unwritable directory: every line counted at the end"
is "$(cat "$T/out")|$(grep -c 'lost: exited with status 0' "$T/err")" "other | still here|1" \
	"unwritable directory: the job and the other jobs go on"

# ---- a full disk ------------------------------------------------------------------------
mkdir "$T/full"
if mount -t tmpfs -o size=64k tmpfs "$T/full" 2>/dev/null; then
	cat >"$T/full.ini" <<EOF
[grun]
timestamps = off
[job:filler]
log = $T/full/logs
cmd = seq 1 100000
[job:other]
cmd = sh -c 'sleep 0.3; echo still here'
EOF
	run_grun 30 "$T/full.ini"
	is "$rc" 1 "full tmpfs: exit status 1"
	like "$(cat "$T/err")" "log $T/full/logs: cannot write: No space left on device; [0-9]+ lines? lost so far" \
		"full tmpfs: the error is said"
	lost=$(sed -n 's/.*logs: \([0-9]*\) lines lost in all$/\1/p' "$T/err")
	kept=$(wc -l <"$T/full/logs/current")
	order=$(awk '$0 !~ /^[0-9]+$/ || $0 + 0 <= prev { bad = 1 } { prev = $0 + 0 } END { print bad ? "bad" : "whole" }' "$T/full/logs/current")
	is "$((kept + ${lost:-0}))|$order" "100000|whole" \
		"full tmpfs: lines written ($kept) + lines counted lost (${lost:-?}) = every line; the file holds whole lines, in order, none twice"
	is "$(cat "$T/out")" "other  | still here" "full tmpfs: the other job goes on"
	umount "$T/full"
else
	for i in 1 2 3 4; do ok 0 "# SKIP cannot mount a tmpfs (not root, or no permission)"; done
fi

# ---- bad values -------------------------------------------------------------------------
printf '[grun]\nlog_keep = -1\n[job:a]\ncmd = true\nlog_max_size = 1k\nlog_overflow = sometimes\nlog =\n' >"$T/badv.ini"
run_grun 10 "$T/badv.ini"
is "$rc" 2 "bad log values: exit 2"
is "$(cat "$T/err")" "$T/badv.ini:2: log_keep = -1: expected a whole number in range
$T/badv.ini:5: log_max_size = 1k: log_max_size must be at least 4K
$T/badv.ini:6: log_overflow = sometimes: expected block or drop
$T/badv.ini:7: log = : expected a directory" "bad log values: FILE:LINE for each"
# a log directory nothing goes to: a warning, and the file still runs
printf '[job:a]\nstdout = null\nstderr = file:%s/a.err\nlog = %s/nowhere\ncmd = true\n' "$T" "$T" >"$T/warn.ini"
run_grun 10 --check "$T/warn.ini"
is "$rc|$(cat "$T/err")" "0|$T/warn.ini:4: warning: log = $T/nowhere: neither stdout nor stderr is log: nothing is written there" \
	"log = DIR with neither stream log: a warning"
run_grun 10 "$T/warn.ini"
is "$rc" 0 "log = DIR with neither stream log: still runs"
done_testing
