#!/bin/sh
# 62-output: what jobs print.  stdout lines go to grun's stdout as
# "NAME | line" with names padded to the longest, stderr lines to grun's
# stderr the same way; lines stay whole and in order even when two jobs
# print a lot at once; a last line without a newline still comes out;
# stdout/stderr = file:PATH, null, inherit, stderr = stdout; colors.
. "$(dirname "$0")/lib.sh"

plan 49

# left [SECS]: 0 once no tagged process is left (for ok).
ESC=$(printf '\033')

# spew TAG N LEN: N lines "TAG-<5 digits>-" followed by LEN copies of TAG,
# written by awk through stdio (blocks of 4 KiB, cut mid-line).
cat >"$T/spew" <<'EOF'
#!/bin/sh
exec awk -v tag="$1" -v n="$2" -v len="$3" 'BEGIN {
	s = sprintf("%" len "s", ""); gsub(/ /, tag, s)
	for (i = 1; i <= n; i++) printf "%s-%05d-%s\n", tag, i, s
}'
EOF
chmod +x "$T/spew"

# ---- prefixes, padding, stderr, the last line ---------------------------------
cat >"$T/basic.ini" <<'EOF'
[job:a]
cmd = sh -c 'echo hello; echo oops >&2; printf "\n\n"; printf "no newline"'

[job:longname]
cmd = sh -c 'echo x; printf "err, no newline" >&2'

[job:w]
instances = 10
cmd = sh -c 'echo "$$GRUN_INSTANCE"'
EOF
run_grun 10 "$T/basic.ini"
is "$rc" 0 "basic: exit status 0"
is "$(grep '^a ' "$T/out" | tr '\n' '/')" "a        | hello/a        | /a        | /a        | no newline/" \
	"basic: stdout lines prefixed \"a        | \" (padded to longname), empty lines kept, last line without newline emitted"
is "$(grep '^longname ' "$T/out")" "longname | x" "basic: the longest name is not padded"
is "$(grep -E '^(a|longname) ' "$T/err" | sort | tr '\n' '/')" "a        | oops/longname | err, no newline/" \
	"basic: stderr lines go to grun's stderr with the same prefix"
unlike "$(cat "$T/out")" 'oops|err, no' "basic: no stderr line on grun's stdout"
is "$(grep '^w' "$T/out" | sort -t'|' -k2n | tr '\n' '/')" \
	"w#1      | 1/w#2      | 2/w#3      | 3/w#4      | 4/w#5      | 5/w#6      | 6/w#7      | 7/w#8      | 8/w#9      | 9/w#10     | 10/" \
	"basic: instances are NAME#N, padded like the rest"
ok "$(left)" "basic: no process left"

# ---- a line is not cut where one read of the pipe ends --------------------------
# 300 lines of 300 bytes; the job writes the first 65536 bytes in one
# write (ending inside line 219), then the rest a moment later
"$T/spew" L 300 292 >"$T/lines"
cat >"$T/chunk.ini" <<'EOF'
[job:L]
cmd = sh -c 'dd if=${GRUN_TEST_TAG}/lines bs=65536 count=1 status=none; sleep 0.3; dd if=${GRUN_TEST_TAG}/lines bs=65536 skip=1 status=none'

[job:M]
cmd = sh -c 'exec >&2; dd if=${GRUN_TEST_TAG}/lines bs=65536 count=1 status=none; sleep 0.3; dd if=${GRUN_TEST_TAG}/lines bs=65536 skip=1 status=none'
EOF
run_grun 10 "$T/chunk.ini"
is "$rc" 0 "64 KiB write: exit status 0"
whole="$(grep -Ec '^L \| L-[0-9]{5}-L{292}$' "$T/out"):$(grep -c '^L | ' "$T/out") $(grep -Ec '^M \| L-[0-9]{5}-L{292}$' "$T/err"):$(grep -c '^M | ' "$T/err")"
is "$whole" "300:300 300:300" "64 KiB write: 300 whole lines on stdout and on stderr (whole:all)"
is "$(sed -n 's/^L | //p' "$T/out" | tr -d '\n' | cksum)" "$(tr -d '\n' <"$T/lines" | cksum)" \
	"64 KiB write: the text itself is complete and in order"
whole_ok() { ok "$1" "$2"; }

# ---- two jobs printing 2000 long lines each at once ------------------------------
cat >"$T/flood.ini" <<'EOF'
[job:A]
cmd = ${GRUN_TEST_TAG}/spew A 2000 290

[job:B]
cmd = ${GRUN_TEST_TAG}/spew B 2000 290

[job:E]
cmd = sh -c '${GRUN_TEST_TAG}/spew E 2000 290 >&2'
EOF
# grun's stdout and stderr are pipes read only after a second (as when
# piped into a pager or a slow log collector): every buffer fills up
mkfifo "$T/out.fifo" "$T/err.fifo"
(sleep 1 && cat "$T/out.fifo" >"$T/out") &
outcat=$!
(sleep 1 && cat "$T/err.fifo" >"$T/err") &
errcat=$!
timeout -k 2 "$(secs 30)" "$GRUN" "$T/flood.ini" >"$T/out.fifo" 2>"$T/err.fifo"
rc=$?
wait $outcat $errcat
is "$rc" 0 "flood: exit status 0"
is "$(grep -Evc '^(A \| [-0-9A]*|B \| [-0-9B]*)$' "$T/out")" 0 \
	"flood: no line of grun's stdout mixes two jobs"
cut=$(grep -Evc '^(A \| A-[0-9]{5}-A{290}|B \| B-[0-9]{5}-B{290})$' "$T/out")
whole_ok "$cut" "flood: every line of grun's stdout is whole ($cut cut)"
whole_ok "$( [ "$(grep -c '^A | ' "$T/out"):$(grep -c '^B | ' "$T/out")" = 2000:2000 ]; echo $?)" \
	"flood: exactly 2000 lines of each job ($(grep -c '^A | ' "$T/out") A, $(grep -c '^B | ' "$T/out") B)"
# joined, each job's text is exactly what it wrote: nothing lost, in order
for j in A B; do
	is "$(sed -n "s/^$j | //p" "$T/out" | tr -d '\n' | cksum)" "$("$T/spew" $j 2000 290 | tr -d '\n' | cksum)" \
		"flood: job $j's text complete and in order"
done
is "$(grep -Evc '^grun: |^E \| [-0-9E]*$' "$T/err")" 0 "flood: stderr lines never mix with grun's own log lines"
is "$(sed -n 's/^E | //p' "$T/err" | tr -d '\n' | cksum)" "$("$T/spew" E 2000 290 | tr -d '\n' | cksum)" \
	"flood: job E's stderr text complete and in order"
whole_ok "$( [ "$(grep -Ec '^E \| E-[0-9]{5}-E{290}$' "$T/err"):$(grep -c '^E | ' "$T/err")" = 2000:2000 ]; echo $?)" \
	"flood: exactly 2000 whole stderr lines ($(grep -Ec '^E \| E-[0-9]{5}-E{290}$' "$T/err") whole of $(grep -c '^E | ' "$T/err"))"
ok "$(left)" "flood: no process left"

# a line longer than the pump's 64 KiB buffer is cut into 64 KiB pieces,
# the pieces after the first marked "L + " rather than "L | "
cat >"$T/long.ini" <<'EOF'
[job:L]
cmd = sh -c 'head -c 100000 /dev/zero | tr "\\0" L; echo; echo next'
EOF
run_grun 10 "$T/long.ini"
is "$rc:$(grep -c '^L | ' "$T/out"):$(grep -c '^L + ' "$T/out"):$(grep -v next "$T/out" | sed 's/^L [|+] //' | tr -d '\n' | wc -c | tr -d ' ')" "0:2:1:100000" \
	"long line: 100000 characters come out whole, in 2 pieces, the second marked L +"
is "$(sed -n 1p "$T/out" | wc -c | tr -d ' '):$(tail -n 1 "$T/out")" "65541:L | next" \
	"long line: the first piece is 65536 bytes; the next line is a line of its own"

# ---- stdout and stderr settings ------------------------------------------------------
printf 'old\n' >"$T/appended"
cat >"$T/io.ini" <<'EOF'
[job:tofile]
cmd = sh -c 'echo new; echo tofile-err >&2'
stdout = file:${GRUN_TEST_TAG}/appended

[job:errfile]
cmd = sh -c 'echo errfile-out; echo errfile-err >&2'
stderr = file:${GRUN_TEST_TAG}/errfile

[job:quiet]
cmd = sh -c 'echo secret-out; echo quiet-err >&2'
stdout = null

[job:mute]
cmd = sh -c 'echo mute-out; echo secret-err >&2'
stderr = null

[job:merge]
cmd = sh -c 'echo o1; echo e1 >&2; echo o2; echo e2 >&2'
stderr = stdout

[job:raw]
cmd = sh -c 'echo raw-out; echo raw-err >&2'
stdout = inherit
stderr = inherit
EOF
run_grun 10 "$T/io.ini"
is "$rc" 0 "io: exit status 0"
is "$(tr '\n' '/' <"$T/appended")" "old/new/" "stdout = file:PATH: appended to the file, unprefixed"
run_grun 10 "$T/io.ini" tofile
is "$(tr '\n' '/' <"$T/appended")" "old/new/new/" "stdout = file:PATH: a second run appends again"
run_grun 10 "$T/io.ini"
unlike "$(cat "$T/out")" '^tofile|new' "stdout = file:PATH: nothing on grun's stdout"
like "$(cat "$T/err")" '^tofile  \| tofile-err$' "stdout = file:PATH: stderr still logged"
is "$(cat "$T/errfile" | tr '\n' '/'):$(grep -c 'errfile-err' "$T/err")" "errfile-err/errfile-err/:0" \
	"stderr = file:PATH: stderr goes to the file (appended), not to grun's stderr"
like "$(cat "$T/out")" '^errfile \| errfile-out$' "stderr = file:PATH: stdout still logged"
unlike "$(cat "$T/out" "$T/err")" 'secret' "stdout = null, stderr = null: discarded"
like "$(cat "$T/err")" '^quiet   \| quiet-err$' "stdout = null: stderr still logged"
like "$(cat "$T/out")" '^mute    \| mute-out$' "stderr = null: stdout still logged"
is "$(grep '^merge' "$T/out" | tr '\n' '/'):$(grep -c '^merge ' "$T/err")" \
	"merge   | o1/merge   | e1/merge   | o2/merge   | e2/:0" "stderr = stdout: one stream, in order, on grun's stdout"
is "$(grep -c '^raw-out$' "$T/out"):$(grep -c '^raw-err$' "$T/err"):$(grep -c 'raw  *|' "$T/out" "$T/err" | awk -F: '{ s += $2 } END { print s }')" \
	"1:1:0" "inherit: unprefixed on grun's own stdout and stderr"
ok "$(left)" "io: no process left"

# ---- color ------------------------------------------------------------------------------
cat >"$T/color.ini" <<'EOF'
[job:a]
cmd = sh -c 'echo out-a; echo err-a >&2'

[job:bb]
cmd = echo out-bb
EOF
run_grun 10 --color always "$T/color.ini"
like "$(grep 'out-a' "$T/out")" "^$ESC\\[[0-9;]*ma  \\|$ESC\\[0m out-a\$" "--color always: stdout prefix in color"
like "$(grep 'err-a' "$T/err")" "^$ESC\\[[0-9;]*ma  \\|$ESC\\[0m err-a\$" "--color always: stderr prefix in color"
ca=$(grep 'out-a' "$T/out" | sed "s/^$ESC\\[\\([0-9;]*\\)m.*/\\1/")
cb=$(grep 'out-bb' "$T/out" | sed "s/^$ESC\\[\\([0-9;]*\\)m.*/\\1/")
ok "$( [ -n "$ca" ] && [ -n "$cb" ] && [ "$ca" != "$cb" ]; echo $?)" "--color always: two jobs, two colors ($ca, $cb)"
unlike "$(grep '^grun:' "$T/err")" "$ESC" "--color always: grun's own log lines stay plain"

run_grun 10 --color never "$T/color.ini"
unlike "$(cat "$T/out" "$T/err")" "$ESC" "--color never: no escape anywhere"
run_grun 10 "$T/color.ini"
unlike "$(cat "$T/out" "$T/err")" "$ESC" "auto, not a tty: no escape"
{ printf '[grun]\ncolor = yes\n\n'; cat "$T/color.ini"; } >"$T/color-yes.ini"
run_grun 10 "$T/color-yes.ini"
like "$(cat "$T/out")" "$ESC\\[" "[grun] color = yes: colors even without a tty"
run_grun 10 --color never "$T/color-yes.ini"
unlike "$(cat "$T/out" "$T/err")" "$ESC" "--color never overrides [grun] color = yes"

if command -v script >/dev/null 2>&1; then
	# on a terminal: colors unless NO_COLOR is set (and not empty)
	timeout "$(secs 10)" script -qec "$GRUN $T/color.ini" /dev/null >"$T/tty1" 2>&1
	like "$(cat "$T/tty1")" 'out-a' "tty, NO_COLOR=1: ran"
	unlike "$(cat "$T/tty1")" "$ESC" "tty, NO_COLOR=1: no escape"
	env -u NO_COLOR timeout "$(secs 10)" script -qec "$GRUN $T/color.ini" /dev/null >"$T/tty2" 2>&1
	like "$(cat "$T/tty2")" "$ESC\\[[0-9;]*ma  \\|$ESC\\[0m out-a" "tty, no NO_COLOR: colors"
	NO_COLOR= timeout "$(secs 10)" script -qec "$GRUN $T/color.ini" /dev/null >"$T/tty3" 2>&1
	like "$(cat "$T/tty3")" "$ESC\\[" "tty, NO_COLOR empty: colors"
	timeout "$(secs 10)" script -qec "$GRUN --color always $T/color.ini" /dev/null >"$T/tty4" 2>&1
	like "$(cat "$T/tty4")" "$ESC\\[" "tty, NO_COLOR=1, --color always: colors"
else
	for d in "ran" "no escape" "colors" "NO_COLOR empty: colors" "--color always: colors"; do
		ok 0 "tty: $d # SKIP no script(1) to make a terminal"
	done
fi
ok "$(left)" "color: no process left"

done_testing
