#!/bin/sh
. "$(dirname "$0")/lib.sh"
# 21-config-hostile: files a fuzzer or a careless generator would write
# (issue 17, "Config loading" and "Security").  Deep but valid graphs
# (100,000 jobs chained by needs, channels or parents) check without
# overflowing the stack, long cycles are reported as cycles, NUL bytes,
# endless env_files and lines past the limits are FILE:LINE errors, long
# lines up to 64 KiB work, 60,000 jobs check in bounded time, out-of-range
# ids are refused, and --check warns about programs and directories that
# are not there.  Every run is bounded by run_grun's timeout.

plan 40

# err_is NAME 'LINE: message': exit 2, nothing on stdout, exactly that error.
err_is() {
	is "$rc|$(cat "$T/out")|$(cat "$T/err")" "2||$T/$1.ini:$2" "$1: ${2#*: }"
}

# ==== deep graphs ===========================================================
# With a 1 MiB stack: the loader's walks must not depend on the stack's
# size (an -O2 build used to get through 100,000 frames in 8 MiB, a debug
# or sanitizer build did not; reloads run the loader on a green thread).
stack_was=$(ulimit -s)
ulimit -s 1024

# needs_chain N: job j0 ... jN-1, each needing the one after it, so that
# a depth-first search from j0 goes N deep.
needs_chain() {
	awk -v n="$1" 'BEGIN { print "[grun]\nready = exited"; for (i = 0; i < n; i++) {
		printf "[job:j%d]\ncmd = true\n", i
		if (i < n - 1) printf "needs = j%d\n", i + 1 } }'
}

needs_chain 100000 >"$T/chain.ini"
run_grun 60 --check "$T/chain.ini"
is "$rc|$(cat "$T/err")" "0|" "a needs chain of 100,000 jobs checks (no stack overflow)"
run_grun 60 --graph "$T/chain.ini"
is "$rc|$(wc -l <"$T/out")" "0|100001" "--graph prints a needs chain of 100,000 jobs"
run_grun 60 --check "$T/chain.ini" j0
is "$rc|$(cat "$T/err")" "0|" "selecting the first job of a 100,000-job chain (it needs all the others)"

# the same chain closed into a cycle: j99999 needs j0
{ needs_chain 100000; echo 'needs = j0'; } >"$T/cycle.ini"
run_grun 60 --check "$T/cycle.ini"
err_is cycle '5: dependency cycle of 100000 jobs: j0 -> j1 -> j2 -> j3 -> ... -> j99996 -> j99997 -> j99998 -> j99999 -> j0'

# a pipeline of 50,000 jobs: p_i reads c_i and writes c_{i+1}
awk 'BEGIN { n = 50000
	printf "[job:p0]\ncmd = true\nstdout = chan:c1\n"
	for (i = 1; i < n - 1; i++) printf "[job:p%d]\ncmd = cat\nstdin = chan:c%d\nstdout = chan:c%d\n", i, i, i + 1
	printf "[job:p%d]\ncmd = cat\nstdin = chan:c%d\n", n - 1, n - 1 }' >"$T/pipe.ini"
run_grun 60 --check "$T/pipe.ini"
is "$rc|$(cat "$T/err")" "0|" "a pipeline of 50,000 jobs checks (no stack overflow)"
run_grun 60 --check "$T/pipe.ini" p49999
is "$rc|$(cat "$T/err")" "0|" "selecting the end of a 50,000-job pipeline follows the channels back"

# the same pipeline closed into a ring: the last job writes c0, the first reads it
awk 'BEGIN { n = 50000
	for (i = 0; i < n; i++) printf "[job:p%d]\ncmd = cat\nstdin = chan:c%d\nstdout = chan:c%d\n", i, i, (i + 1) % n }' >"$T/ring.ini"
run_grun 60 --check "$T/ring.ini"
err_is ring '3: channels form a cycle of 50000 jobs: p0 -> p1 -> p2 -> p3 -> ... -> p49996 -> p49997 -> p49998 -> p49999 -> p0'

# supervisors nested 100,000 deep, and a cycle of 5,000 parents (its text
# was cut at 1 KiB and the cycle then passed --check)
awk 'BEGIN { n = 100000
	for (i = 0; i < n; i++) { printf "[supervisor:s%d]\n", i; if (i) printf "parent = s%d\n", i - 1 }
	printf "[job:a]\ncmd = true\nsupervisor = s%d\n", n - 1 }' >"$T/deep_sup.ini"
run_grun 60 --graph "$T/deep_sup.ini"
is "$rc|$(wc -l <"$T/out")|$(tail -n 1 "$T/out" | sed 's/^ *//')" "0|100002|job a (temporary)" \
	"--graph prints supervisors nested 100,000 deep"
awk 'BEGIN { n = 5000
	for (i = 0; i < n; i++) printf "[supervisor:s%d]\nparent = s%d\n", i, (i + 1) % n
	printf "[job:a]\ncmd = true\nsupervisor = s0\n" }' >"$T/sup_cycle.ini"
run_grun 60 --check "$T/sup_cycle.ini"
err_is sup_cycle '2: supervisor parents form a cycle of 5000 supervisors: s0 -> s1 -> s2 -> s3 -> ... -> s4996 -> s4997 -> s4998 -> s4999 -> s0'
run_grun 60 "$T/sup_cycle.ini"
is "$rc|$(cat "$T/out")" "2|" "a long parent cycle: grun starts nothing, exit 2"

ulimit -s "$stack_was"

# ==== 60,000 jobs in bounded time =========================================
# Every job needs the one before and writes a channel the next one reads
# (names looked up by hash, not by scanning): --check must finish within
# the timeout, which is generous; this asserts completion, not a rate.
awk 'BEGIN { n = 60000; print "[grun]\nready = exited"
	for (i = 0; i < n; i++) {
		printf "[job:w%d]\ncmd = true\n", i
		if (i) printf "needs = w%d\nstdin = chan:k%d\n", i - 1, i
		if (i < n - 1) printf "stdout = chan:k%d\n", i + 1
		printf "[supervisor:v%d]\n", i } }' >"$T/many.ini"
run_grun 60 --check "$T/many.ini"
is "$rc|$(cat "$T/err")" "0|" "60,000 jobs, needs, channels and supervisors: --check completes in time"
run_grun 60 --check "$T/many.ini" w59999 w0
is "$rc|$(cat "$T/err")" "0|" "60,000 jobs: selecting by name completes in time"

# ==== bytes the loader must not take as they come ==============================

printf '[job:a]\ncmd = echo a\000b\nenv = X=1\n' >"$T/nul.ini"
run_grun 10 --check "$T/nul.ini"
is "$rc|$(cat "$T/err")" "2|$T/nul.ini:1: job a has no cmd
$T/nul.ini:2: NUL byte in the line (at byte 13)" "cmd = echo a<NUL>b: an error at its line (the line is dropped, not cut)"
printf '[job:a]\ncmd = true\n\000\n' >"$T/nul2.ini"
run_grun 10 "$T/nul2.ini"
err_is nul2 '3: NUL byte in the line (at byte 1)'

# env_file = /dev/zero read for ever at 100% CPU; a directory was empty
printf '[job:a]\ncmd = true\nenv_file = /dev/zero\n' >"$T/zero.ini"
run_grun 10 --check "$T/zero.ini"
err_is zero '3: env_file = /dev/zero: env_file /dev/zero: longer than 1048576 bytes'
mkdir "$T/envdir"
printf '[job:a]\ncmd = true\nenv_file = %s\n' "$T/envdir" >"$T/envdir.ini"
run_grun 10 --check "$T/envdir.ini"
err_is envdir "3: env_file = $T/envdir: env_file $T/envdir: Is a directory"
awk 'BEGIN { for (i = 0; i < 1048576 / 16; i++) printf "X%014d\n", i }' | sed 's/^X/X=/;s/=\(.*\)$/=\1/' >"$T/big.env"
truncate -s 1048576 "$T/big.env"
printf '[job:a]\ncmd = true\nenv_file = %s\n' "$T/big.env" >"$T/bigenv.ini"
run_grun 10 --check "$T/bigenv.ini"
is "$rc|$(cat "$T/err")" "0|" "env_file of exactly 1 MiB is read"
printf 'A=1\nB=x\000y\n' >"$T/nul.env"
printf '[job:a]\ncmd = true\nenv_file = %s\n' "$T/nul.env" >"$T/nulenv.ini"
run_grun 10 --check "$T/nulenv.ini"
err_is nulenv "3: env_file = $T/nul.env: env_file $T/nul.env line 2: NUL byte in the line"
mkfifo "$T/fifo.env"
printf '[job:a]\ncmd = true\nenv_file = %s\n' "$T/fifo.env" >"$T/fifo.ini"
run_grun 10 --check "$T/fifo.ini"
is "$rc|$(cat "$T/err")" "0|" "env_file = a FIFO nobody writes: empty, no hang"

# the file itself: a directory, /dev/zero
run_grun 10 --check "$T/envdir"
is "$rc|$(cat "$T/err")" "2|$T/envdir:1: cannot read: Is a directory" "FILE is a directory: a read error, exit 2"
run_grun 10 --check /dev/zero
is "$rc|$(cat "$T/err")" "2|/dev/zero:1: line longer than 65536 bytes (the rest of the file was not read)" \
	"FILE is /dev/zero: one error, no endless read"

# ==== line lengths ===========================================================

# line N [TAIL]: "env = X=xxx...TAIL" of exactly N bytes before TAIL
line() { awk -v n="$1" -v tail="${2-}" 'BEGIN { s = "env = X="; while (length(s) < n) s = s "x"; print s tail }'; }
# the value reaches the job whole: it prints the length of $X
{ echo '[job:a]'; echo 'cmd = sh -c "echo $${#X}"'; line 199; } >"$T/l199.ini"
run_grun 10 "$T/l199.ini"
is "$rc|$(sed -n 's/^a *| *//p' "$T/out")" "0|191" "a line of 199 characters (past Debian inih's 198) is read whole"
{ echo '[job:a]'; echo 'cmd = sh -c "echo $${#X}"'; line 65536; } >"$T/l64k.ini"
run_grun 10 "$T/l64k.ini"
is "$rc|$(sed -n 's/^a *| *//p' "$T/out")" "0|65528" "a line of 65536 bytes is read whole"
{ echo '[job:a]'; echo 'cmd = sh -c "echo $${#X}"'; line 300 ' ; a comment'; } >"$T/lcomment.ini"
run_grun 10 "$T/lcomment.ini"
is "$rc|$(sed -n 's/^a *| *//p' "$T/out")" "0|292" \
	"a long line: its inline comment is cut as inih does"
{ echo '[job:a]'; echo 'cmd = sh -c "echo \$X"'; echo 'env = X=a'; printf '  '; line 400 | sed 's/^env = X=//'; } >"$T/lcont.ini"
run_grun 10 --check "$T/lcont.ini"
like "$(cat "$T/err")" "^$T/lcont.ini:3: env = X=a x{392}: bad variable name|^$T/lcont.ini:3: env = X=a x{392}: expected NAME=VALUE" \
	"a long continuation line is appended whole, after one blank"
{ echo '[job:a]'; echo 'cmd = true'; line 65537; echo 'env = Y=1'; } >"$T/l64k1.ini"
run_grun 10 --check "$T/l64k1.ini"
err_is l64k1 '3: line longer than 65536 bytes (the rest of the file was not read)'
{ echo '[job:a]'; echo 'cmd = true'; line 40000; printf '  '; line 40000 | sed 's/^env = //'; } >"$T/lsum.ini"
run_grun 10 --check "$T/lsum.ini"
err_is lsum '4: env = ...: the value and its continuation lines are longer than 65536 bytes'

# ==== duplicate keys: an error, and nothing leaks =============================

printf '[job:a]\ncmd = echo one\ncmd = echo two\nready = tcp:localhost:80\nready = file:/x\ndir = /\ndir = /tmp\n' >"$T/dup.ini"
run_grun 10 --check "$T/dup.ini"
is "$rc|$(cat "$T/err")" "2|$T/dup.ini:3: duplicate key cmd (first at line 2)
$T/dup.ini:5: duplicate key ready (first at line 4)
$T/dup.ini:7: duplicate key dir (first at line 6)" "keys given twice: errors in line order"
if command -v valgrind >/dev/null 2>&1 && [ "${GRUN_VALGRIND:-0}" = 0 ] && ! grep -q '^SAN_CFLAGS = .*-fsanitize' "$abs_top_builddir/Makefile" 2>/dev/null; then
	timeout -k 2 "$(secs 60)" valgrind -q --leak-check=full --errors-for-leak-kinds=definite \
		--error-exitcode=99 "$GRUN" --check "$T/dup.ini" >/dev/null 2>"$T/vg"
	vrc=$?
	is "$vrc|$(grep -c 'definitely lost' "$T/vg")" "2|0" "keys given twice: nothing definitely lost (Valgrind)"
	[ "$vrc" = 2 ] || sed 's/^/#   /' "$T/vg" | head -40
else
	ok 0 "keys given twice: nothing lost # SKIP no valgrind, or a sanitizer build (LeakSanitizer checks it)"
fi

# ==== user and group ids =======================================================

for v in -1 4294967295 4294967296 99999999999 +5; do
	printf '[job:a]\ncmd = true\nuser = %s\n' "$v" >"$T/uid.ini"
	run_grun 10 --check "$T/uid.ini"
	is "$rc|$(cat "$T/err")" "2|$T/uid.ini:3: user = $v: a uid is a number from 0 to 4294967294" "user = $v is refused"
done
for v in -1 4294967295; do
	printf '[job:a]\ncmd = true\ngroup = %s\n' "$v" >"$T/gid.ini"
	run_grun 10 --check "$T/gid.ini"
	is "$rc|$(cat "$T/err")" "2|$T/gid.ini:3: group = $v: a gid is a number from 0 to 4294967294" "group = $v is refused"
done
if [ "$(id -u)" = 0 ]; then
	printf '[job:a]\ncmd = true\nuser = 4294967294\ngroup = 4294967294\n' >"$T/idmax.ini"
	run_grun 10 --check "$T/idmax.ini"
	is "$rc|$(cat "$T/err")" "0|" "user and group = 4294967294 (the largest) are accepted"
else
	ok 0 "user = 4294967294 # SKIP not root"
fi

# ==== --check: programs and directories that are not there (warnings) ===========

cat >"$T/files.ini" <<EOF
[job:a]
cmd = no-such-program-grun-t21 --flag
[job:b]
cmd = true
dir = $T/no-such-dir
[job:c]
shell = yes
cmd = no-such-program-grun-t21 | cat
[job:d]
shell = yes
cmd = cd / && no-such-program-grun-t21; X=1 exec true
[job:e]
cmd = ./no-such-program
dir = /
[job:f]
cmd = ./t21-prog
dir = $T
[job:g]
cmd = t21-prog
env = PATH=$T
[job:h]
cmd = /etc/passwd
EOF
printf '#!/bin/sh\n' >"$T/t21-prog"
chmod +x "$T/t21-prog"
run_grun 10 --check "$T/files.ini"
is "$rc|$(cat "$T/out")|$(cat "$T/err")" "0||$T/files.ini:2: warning: cmd: no-such-program-grun-t21 is not on PATH
$T/files.ini:5: warning: dir = $T/no-such-dir: No such file or directory
$T/files.ini:8: warning: cmd: no-such-program-grun-t21 is not on PATH
$T/files.ini:13: warning: cmd: cannot run ./no-such-program: No such file or directory
$T/files.ini:22: warning: cmd: cannot run /etc/passwd: Permission denied" \
	"--check warns (exit 0) about missing programs and dirs; shell builtins, dir and the job's PATH understood"
printf '[job:a]\ncmd = true\n[job:b]\ncmd = no-such-program-grun-t21\n' >"$T/files3.ini"
run_grun 10 "$T/files3.ini"
is "$rc|$(grep -c '^grun: a: exited with status 0$' "$T/err")|$(head -n 1 "$T/err")" \
	"1|1|$T/files3.ini:4: warning: cmd: no-such-program-grun-t21 is not on PATH" \
	"a warning does not stop grun: a runs, b fails to start (exit 1)"
printf '[job:a]\ncmd = no-such-program-grun-t21\nneeds = zz\n' >"$T/files2.ini"
run_grun 10 --check "$T/files2.ini"
err_is files2 '3: needs = zz: no job called zz'
