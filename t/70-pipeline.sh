#!/bin/sh
# 70-pipeline: jobs wired by channels (stdout/stderr = chan:NAME producers,
# stdin = chan:NAME consumers).  With real processes and real volumes:
# share mode over worker instances (every line exactly once), fan-in of
# long lines (never split or mixed), broadcast (everyone gets everything),
# chunk framing (200 MB, 1:1 and broadcast, byte for byte), back-pressure
# (1 GiB with bounded RSS), EOF through three stages, workers killed
# mid-stream and restarted (losses bounded by what grun reports), consumers
# that fail for good, grun inside a shell pipeline (chan:stdin,
# chan:stdout), pipefail exit status, and the FILE:LINE messages of invalid
# channel settings.  Checks marked TODO describe bugs grun has today.
. "$(dirname "$0")/lib.sh"

plan 93

# left [SECS]: 0 once no tagged process is left (for ok).
now() { date +%s.%N; }
# elapsed START: seconds since START, 2 decimals
elapsed() { echo "$(now) $1" | awk '{ printf "%.2f", $1 - $2 }'; }
# rate N SECS: N/SECS, no decimals
rate() { echo "$1 $2" | awk '{ printf "%.0f", ($2 > 0 ? $1 / $2 : 0) }'; }
lines() { wc -l <"$1" | tr -d ' '; }
pid_of() { sed -n "s/^grun: $1: started (pid \\([0-9]*\\))\$/\\1/p" "$T/err" | tail -n 1; }

# ---- 1. share: 1,000,000 lines over 4 workers, each exactly once ---------------------
cat >"$T/share.ini" <<'EOF'
[job:gen]
cmd = seq 1 1000000
stdout = chan:nums

[job:work]
instances = 4
cmd = awk '{ print ENVIRON["GRUN_INSTANCE"], $$0 }'
stdin = chan:nums
stdout = chan:tagged

[job:sink]
cmd = sh -c 'exec cat >${GRUN_TEST_TAG}/share.out'
stdin = chan:tagged
EOF
t0=$(now)
run_grun 60 "$T/share.ini"
dt=$(elapsed "$t0")
is "$rc" 0 "share: exit status 0"
seq 1 1000000 >"$T/seq1M"
cut -d' ' -f2 "$T/share.out" | sort -n | cmp -s - "$T/seq1M"
ok $? "share: sorted output equals seq 1 1000000 (every line exactly once; $(lines "$T/share.out") lines)"
is "$(grep -Evc '^[1-4] [0-9]+$' "$T/share.out")" 0 "share: every output line is whole (INSTANCE NUMBER)"
dist=$(cut -d' ' -f1 "$T/share.out" | sort | uniq -c | awk '{ printf "%s#%s:%s ", "work", $2, $1 }')
is "$(cut -d' ' -f1 "$T/share.out" | sort -u | tr '\n' ' ')" "1 2 3 4 " "share: every one of the 4 instances got records ($dist)"
is "$(grep -c '^grun: 6 jobs ended: 6 succeeded, 0 stopped$' "$T/err")" 1 "share: summary: 6 jobs ended: 6 succeeded"
diag "share: 1000000 lines through 4 workers in ${dt}s: $(rate 1000000 "$dt") lines/s"
ok "$(left)" "share: no process left"
rm -f "$T/share.out"

# ---- 2. fan-in: two producers of long lines, one consumer -----------------------------
# spew TAG N LEN: N lines "TAG-<5 digits>-" then LEN copies of TAG, written
# by awk through stdio (4 KiB blocks cut mid-line).
cat >"$T/spew" <<'EOF'
#!/bin/sh
exec awk -v tag="$1" -v n="$2" -v len="$3" 'BEGIN {
	s = sprintf("%" len "s", ""); gsub(/ /, tag, s)
	for (i = 1; i <= n; i++) printf "%s-%05d-%s\n", tag, i, s
}'
EOF
chmod +x "$T/spew"
cat >"$T/fanin.ini" <<'EOF'
[chan:mix]
capacity = 4

[job:A]
cmd = ${GRUN_TEST_TAG}/spew A 20000 200
stdout = chan:mix

[job:B]
cmd = sh -c '${GRUN_TEST_TAG}/spew B 20000 200 >&2'
stderr = chan:mix

[job:C]
cmd = sh -c 'printf "C-first\nC-last-no-newline"'
stdout = chan:mix

[job:D]
cmd = sh -c 'printf "D-first\nD-last-no-newline"'
stdout = chan:mix

[job:sink]
cmd = sh -c 'exec cat >${GRUN_TEST_TAG}/fanin.out'
stdin = chan:mix
EOF
run_grun 60 "$T/fanin.ini"
is "$rc" 0 "fan-in: exit status 0"
is "$(grep -Evc '^(A-[0-9]{5}-A{200}|B-[0-9]{5}-B{200}|[CD]-first|[CD]-last-no-newline)$' "$T/fanin.out")" 0 \
	"fan-in: every line whole, none mixed with another producer's ($(lines "$T/fanin.out") lines)"
is "$(grep -Ec '^A-[0-9]{5}-A{200}$' "$T/fanin.out"):$(grep -Ec '^B-[0-9]{5}-B{200}$' "$T/fanin.out")" "20000:20000" \
	"fan-in: exactly 20000 lines of A (stdout) and of B (stderr)"
for j in A B; do
	is "$(grep "^$j-" "$T/fanin.out" | cksum)" "$("$T/spew" $j 20000 200 | cksum)" \
		"fan-in: $j's lines complete, each once, in order"
done
is "$(grep -E '^[CD]-' "$T/fanin.out" | sort | tr '\n' '/')" "C-first/C-last-no-newline/D-first/D-last-no-newline/" \
	"fan-in: a last line without a newline gets one, not joined to another producer's"
is "$(tail -c 1 "$T/fanin.out" | od -An -c | tr -d ' ')" '\n' "fan-in: the output ends with a newline"
ok "$(left)" "fan-in: no process left"

# ---- 3. broadcast: one producer, three consumers, each gets everything -----------------
cat >"$T/bcast.ini" <<'EOF'
[chan:all]
mode = broadcast
capacity = 2

[job:gen]
cmd = seq 1 300000
stdout = chan:all

[job:copy]
instances = 2
cmd = sh -c 'exec cat >${GRUN_TEST_TAG}/bcast.$$GRUN_INSTANCE'
stdin = chan:all

[job:slow]
cmd = sh -c 'exec awk "{ print; fflush() }" >${GRUN_TEST_TAG}/bcast.3'
stdin = chan:all
EOF
run_grun 60 "$T/bcast.ini"
is "$rc" 0 "broadcast: exit status 0"
seq 1 300000 >"$T/seq300k"
for i in 1 2 3; do
	cmp -s "$T/bcast.$i" "$T/seq300k"
	ok $? "broadcast: consumer $i's output equals the whole input, in order ($(lines "$T/bcast.$i" 2>/dev/null) lines)"
done
ok "$(left)" "broadcast: no process left"

# ---- 4. chunk framing: 200 MB of random bytes ---------------------------------------
head -c 200M /dev/urandom >"$T/rand"
want=$(sha256sum <"$T/rand")
cat >"$T/chunk.ini" <<'EOF'
[chan:raw]
framing = chunk

[job:src]
cmd = cat ${GRUN_TEST_TAG}/rand
stdout = chan:raw

[job:dst]
cmd = sha256sum
stdin = chan:raw
stdout = file:${GRUN_TEST_TAG}/chunk.sum
EOF
t0=$(now)
run_grun 60 "$T/chunk.ini"
dt=$(elapsed "$t0")
is "$rc" 0 "chunk 1:1: exit status 0"
is "$(cat "$T/chunk.sum")" "$want" "chunk 1:1: sha256 of 200 MB equal"
diag "chunk 1:1: 200 MB into sha256sum in ${dt}s: $(rate 200 "$dt") MB/s"
# two consumers: the records go through the channel and grun's green threads

cat >"$T/chunk2.ini" <<'EOF'
[chan:raw]
framing = chunk
mode = broadcast

[job:src]
cmd = cat ${GRUN_TEST_TAG}/rand
stdout = chan:raw

[job:dst]
instances = 2
cmd = sh -c 'exec sha256sum >${GRUN_TEST_TAG}/chunk2.$$GRUN_INSTANCE'
stdin = chan:raw
EOF
t0=$(now)
run_grun 60 "$T/chunk2.ini"
dt=$(elapsed "$t0")
is "$rc" 0 "chunk broadcast: exit status 0"
is "$(cat "$T/chunk2.1"):$(cat "$T/chunk2.2")" "$want:$want" "chunk broadcast: both consumers' sha256 of 200 MB equal"
diag "chunk broadcast to 2 consumers: 200 MB in ${dt}s: $(rate 200 "$dt") MB/s"
rm -f "$T/rand"
ok "$(left)" "chunk: no process left"

# ---- 5. back-pressure: 1 GiB, a consumer that stops for a while, bounded RSS -------------
# 64-byte lines, 16777216 of them; the consumer reads 256 MiB (dd: exactly
# 256 full blocks of 1 MiB) and pauses 0.5 s, four times: while it pauses,
# only back-pressure keeps grun from buffering what the producer writes.
cat >"$T/bp.ini" <<'EOF'
[job:fast]
cmd = sh -c 'yes 0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_ | head -c 1073741824'
stdout = chan:big

[job:slow]
cmd = sh -c 'for i in 1 2 3 4; do dd bs=1M count=256 iflag=fullblock of=/dev/null status=noxfer 2>&1 | head -n 1; sleep 0.5; done; wc -c'
stdin = chan:big
stdout = file:${GRUN_TEST_TAG}/bp.counts
EOF
t0=$(now)
# in an ASan build, freed records wait in ASan's quarantine (256 MB by
# default) and would count as RSS: keep it small for this run
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4" start_grun "$T/bp.ini"
# Samples grun's VmRSS, and the wait channel of the producer's head: in
# pipe_write when grun does not read (the channel is full).
maxrss=0 samples=0 blocked=0 wchan_seen=0 fastpid=
_end=$(( $(date +%s) + $(secs 100) ))
while kill -0 "$GRUN_PID" 2>/dev/null && [ "$(date +%s)" -lt "$_end" ]; do
	r=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB$/\1/p' "/proc/$GRUN_PID/status" 2>/dev/null)
	[ -n "$r" ] && [ "$r" -gt "$maxrss" ] && maxrss=$r
	[ -n "$fastpid" ] || fastpid=$(pid_of fast)
	for hp in $([ -n "$fastpid" ] && pgrep -P "$fastpid" -x head); do
		w=$(cat "/proc/$hp/wchan" 2>/dev/null)
		case $w in ''|0) ;; *) wchan_seen=1 ;; esac
		case $w in *pipe_write*) blocked=$((blocked + 1)) ;; esac
	done
	samples=$((samples + 1))
	sleep 0.1
done
wait_grun 5
dt=$(elapsed "$t0")
is "$rc" 0 "back-pressure: exit status 0"
is "$(tr -d ' ' <"$T/bp.counts" | tr '\n' '/')" "256+0recordsin/256+0recordsin/256+0recordsin/256+0recordsin/0/" \
	"back-pressure: the consumer got exactly 1 GiB (4 x 256 full MiB blocks, then EOF)"
ok "$([ "$maxrss" -gt 0 ] && [ "$maxrss" -lt 65536 ]; echo $?)" "back-pressure: grun's VmRSS stayed under 64 MiB (max ${maxrss} kB, $samples samples)"
if [ $wchan_seen = 1 ]; then
	ok "$([ $blocked -gt 0 ]; echo $?)" "back-pressure: the producer was seen blocked writing its pipe ($blocked of $samples samples)"
else
	ok 0 "back-pressure: the producer was seen blocked writing its pipe # SKIP /proc/PID/wchan not available"
fi
ok "$(echo "$dt $(secs 90)" | awk '{ exit !($1 < $2) }'; echo $?)" "back-pressure: 1 GiB took ${dt}s (bound $(secs 90)s)"
diag "back-pressure: 1 GiB (with 2 s of pauses) in ${dt}s, max VmRSS ${maxrss} kB"
ok "$(left)" "back-pressure: no process left"

# ---- 6. EOF through three stages ---------------------------------------------------
cat >"$T/three.ini" <<'EOF'
[job:gen]
cmd = seq 1 100000
stdout = chan:a

[job:transform]
cmd = awk '{ print $$1 * 2 }'
stdin = chan:a
stdout = chan:b

[job:sink]
cmd = sh -c 'exec cat >${GRUN_TEST_TAG}/three.out'
stdin = chan:b
EOF
run_grun 30 "$T/three.ini"
is "$rc" 0 "three stages: grun exits 0 by itself"
seq 2 2 200000 >"$T/seq2x"
cmp -s "$T/three.out" "$T/seq2x"
ok $? "three stages: the sink got every transformed line, in order"
is "$(events '^grun: [a-z]+: exited' | tr '\n' '/')" \
	"gen: exited with status 0/transform: exited with status 0/sink: exited with status 0/" \
	"three stages: EOF reaches each stage after the one before it ended"
is "$(events '^grun: [0-9]+ jobs? ended')" "3 jobs ended: 3 succeeded, 0 stopped" "three stages: summary counts"
rm -f "$T/three.out"
run_grun 30 "$T/three.ini" sink
ok "$([ "$rc" = 0 ] && [ "$(grep -c ': started' "$T/err")" = 3 ] && cmp -s "$T/three.out" "$T/seq2x"; echo $?)" \
	"three stages: selecting only sink runs the jobs at the other end of its channels too"
ok "$(left)" "three stages: no process left"

# ---- 7. a worker killed mid-stream is restarted, nothing in the channel is lost --------
# gen writes 100000 fixed-width numbers, 1000 at a time every 20 ms, and
# after the first 50000 waits until the test has killed the worker ($T/go;
# at most 60 s x MULT), so the kill always lands while gen still writes;
# the workers write each line whole (fflush per line).
cat >"$T/genk" <<'EOF'
#!/bin/sh
exec awk 'BEGIN {
	for (i = 1; i <= 100000; i++) {
		printf "%08d\n", i
		if (i % 1000 == 0) { fflush(); system("sleep 0.02") }
		if (i == 50000)
			system("n=0; while [ ! -e \"$GRUN_TEST_TAG/go\" ] && [ $n -lt $((3000 * ${GRUN_TEST_TIMEOUT_MULT:-1})) ]; do sleep 0.02; n=$((n + 1)); done")
	}
}'
EOF
chmod +x "$T/genk"
cat >"$T/kill.ini" <<'EOF'
[job:gen]
cmd = ${GRUN_TEST_TAG}/genk
stdout = chan:nums

[job:work]
instances = 3
restart = transient
cmd = awk '{ print "w" ENVIRON["GRUN_INSTANCE"], $$0; fflush() }'
stdin = chan:nums
stdout = chan:res

[job:sink]
cmd = sh -c 'exec cat >${GRUN_TEST_TAG}/kill.out'
stdin = chan:res
EOF
start_grun "$T/kill.ini"
wait_file "$T/kill.out" 10
_end=$(( $(date +%s) + $(secs 20) ))
while [ "$(lines "$T/kill.out" 2>/dev/null || echo 0)" -lt 20000 ] && [ "$(date +%s)" -lt "$_end" ]; do
	sleep 0.02
done
victim=$(pid_of 'work#2')
midstream=1
grep -q '^grun: gen: exited' "$T/err" && midstream=0
before=$(lines "$T/kill.out")
[ -n "$victim" ] && kill -KILL "$victim"
: >"$T/go"
wait_grun 60
ok "$([ -n "$victim" ] && [ $midstream = 1 ]; echo $?)" \
	"kill: work#2 (pid $victim) killed while gen still wrote ($before lines out)"
is "$rc" 0 "kill: exit status 0 (the worker was restarted and ended well)"
is "$(grep -c '^grun: work#2: started' "$T/err")" 2 "kill: work#2 started a second time"
like "$(cat "$T/err")" '^grun: work#2: killed by signal KILL$' "kill: the kill is logged"
lostline=$(grep -E '^grun: work#2: ended abnormally; up to [0-9]+ lines \([0-9]+ bytes\) it had read from chan:nums may be lost$' "$T/err")
ok "$([ -n "$lostline" ]; echo $?)" "kill: 'work#2: ended abnormally; up to N lines (B bytes) it had read from chan:nums may be lost' logged"
N=$(echo "$lostline" | sed -n 's/.* up to \([0-9]*\) lines .*/\1/p')
: "${N:=0}"
is "$(events '^grun: possibly lost')" "possibly lost: up to $N lines read by consumers that ended abnormally" \
	"kill: the summary reports the same $N possibly lost lines"
# The replacement may begin with the tail of a line whose head the killed
# worker had read (a split line: the TODO "split" below shows it every time;
# here the kill seldom lands mid-record).  Anything else is garbage.
split=$(grep -Evc '^w[123] [0-9]{8}$' "$T/kill.out")
is "$(grep -Ev '^w[123] [0-9]{8}$' "$T/kill.out" | grep -Evc '^w2 [0-9]{0,7}$')" 0 \
	"kill: every output line is whole (or, see below, the tail of the line work#2 was reading: $split)"
grep -E '^w[123] [0-9]{8}$' "$T/kill.out" | cut -d' ' -f2 | sort >"$T/kill.got"
is "$(uniq -d "$T/kill.got" | wc -l | tr -d ' ')" 0 "kill: no line duplicated"
missing=$(seq -f %08g 1 100000 | comm -23 - "$T/kill.got" | wc -l | tr -d ' ')
extra=$(seq -f %08g 1 100000 | comm -13 - "$T/kill.got" | wc -l | tr -d ' ')
ok "$([ "$extra" = 0 ] && [ "$missing" -le "$N" ]; echo $?)" \
	"kill: $missing input lines missing, at most the $N reported, none made up"
is "$(events '^grun: [0-9]+ jobs? ended')" "5 jobs ended: 5 succeeded, 0 stopped" "kill: summary counts"
diag "kill: $missing lines lost by the killed worker; grun reported up to $N"
ok "$(left)" "kill: no process left"

# Split lines: gen fills every pipe with 100-byte lines, two slow workers
# are killed while reading (awk reads 4 KiB, so it stops mid-line 24 times
# in 25).  Line framing promises lines are never split: what the killed
# worker left of a line must not reach its replacement as a line.
cat >"$T/split.ini" <<'EOF'
[job:gen]
cmd = awk 'BEGIN { x = sprintf("%91s", ""); gsub(/ /, "x", x); for (i = 1; i <= 50000; i++) printf "%08d%s\n", i, x }'
stdout = chan:nums

[job:work]
instances = 2
restart = transient
cmd = awk '{ for (k = 0; k < 1000; k++) x++; print "w" ENVIRON["GRUN_INSTANCE"], $$0; fflush() }'
stdin = chan:nums
stdout = chan:res

[job:sink]
cmd = sh -c 'exec cat >${GRUN_TEST_TAG}/split.out'
stdin = chan:res
EOF
start_grun "$T/split.ini"
wait_file "$T/split.out" 10
_end=$(( $(date +%s) + $(secs 20) ))
while [ "$(lines "$T/split.out" 2>/dev/null || echo 0)" -lt 2000 ] && [ "$(date +%s)" -lt "$_end" ]; do
	sleep 0.02
done
v1=$(pid_of 'work#1') v2=$(pid_of 'work#2')
[ -n "$v1" ] && kill -KILL "$v1"
[ -n "$v2" ] && kill -KILL "$v2"
wait_grun 60
is "$rc:$(grep -c '^grun: work#[12]: killed by signal KILL$' "$T/err"):$(grep -c '^grun: work#[12]: started' "$T/err")" "0:2:4" \
	"split: both workers killed mid-stream and restarted, exit status 0"
N=$(events '^grun: possibly lost' | sed -n 's/.* up to \([0-9]*\) lines .*/\1/p')
: "${N:=0}"
grep -E '^w[12] [0-9]{8}x{91}$' "$T/split.out" | cut -c4-11 | sort >"$T/split.got"
missing=$(seq -f %08g 1 50000 | comm -23 - "$T/split.got" | wc -l | tr -d ' ')
ok "$([ "$(uniq -d "$T/split.got" | wc -l)" -eq 0 ] && [ "$missing" -le "$N" ]; echo $?)" \
	"split: no line duplicated, $missing missing, at most the $N reported"
split=$(grep -Evc '^w[12] [0-9]{8}x{91}$' "$T/split.out")
ok "$split" "split: no line reaches a restarted consumer split ($split split lines, e.g. '$(grep -Ev '^w[12] [0-9]{8}x{91}$' "$T/split.out" | head -n 1 | cut -c 1-24)')"
ok "$(left)" "split: no process left"

# a share worker that fails for good without reading: what the feeder had
# already put in its pipe is read by nobody
cat >"$T/dead.ini" <<'EOF'
[job:gen]
cmd = seq 1 1000000
stdout = chan:a

[job:good]
cmd = sh -c 'exec cat >${GRUN_TEST_TAG}/dead.out'
stdin = chan:a

[job:bad]
restart = temporary
cmd = sh -c 'sleep 1; exit 1'
stdin = chan:a
EOF
run_grun 30 "$T/dead.ini"
is "$rc:$(events '^grun: [0-9]+ jobs? ended')" "1:3 jobs ended: 2 succeeded, 1 failed, 0 skipped, 0 stopped (bad failed)" \
	"dead worker: exit status 1, the summary names bad"
N=$(events '^grun: possibly lost' | sed -n 's/.* up to \([0-9]*\) lines .*/\1/p')
: "${N:=0}"
got=$(sort -u "$T/dead.out" | wc -l | tr -d ' ')
ok "$([ $((1000000 - got)) -le "$N" ]; echo $?)" \
	"dead worker: every line was either processed or counted as possibly lost ($((1000000 - got)) missing, $N reported)"

# A consumer that fails without reading a byte has lost nothing it read.
# gen writes 40000-byte lines (10 pages of a pipe): the 26th does not fit
# whole in the consumer's 1 MiB pipe and is being written when bad exits.
cat >"$T/unread.ini" <<'EOF'
[chan:a]
mode = broadcast

[job:gen]
cmd = sh -c 'l=$$(head -c 39999 /dev/zero | tr "\\0" x); for i in $$(seq 40); do echo "$$l"; sleep 0.01; done'
stdout = chan:a

[job:bad]
restart = temporary
cmd = sh -c 'sleep 1.5; exit 1'
stdin = chan:a
EOF
run_grun 30 "$T/unread.ini"
is "$rc" 1 "unread: a consumer that exits 1: exit status 1"
ok "$(grep -c 'bad: ended abnormally' "$T/err")" \
	"unread: a consumer that never read is not said to have read anything (got: $(events 'bad: ended abnormally' | sed 's/.*; //'))"
ok "$(left)" "dead worker, unread: no process left"

# ---- 8. grun inside a shell pipeline: chan:stdin, chan:stdout -------------------------
cat >"$T/shpipe.ini" <<'EOF'
[job:w]
instances = 2
cmd = awk '{ print $$0 }'
stdin = chan:stdin
stdout = chan:stdout

[job:chatty]
cmd = sh -c 'echo hello from chatty; echo oops from chatty >&2'
EOF
seq 1 100000 >"$T/seq100k"
seq 1 100000 | { timeout -k 2 "$(secs 30)" "$GRUN" "$T/shpipe.ini" 2>"$T/err"; echo $? >"$T/rc"; } |
	sort -n >"$T/shpipe.out"
is "$(cat "$T/rc")" 0 "shell pipeline: grun exits 0"
cmp -s "$T/shpipe.out" "$T/seq100k"
same1=$? got1=$(lines "$T/shpipe.out")
is "$(grep -vc '^[0-9][0-9]*$' "$T/shpipe.out")" 0 "shell pipeline: nothing but the data on grun's stdout (no prefixed or log lines)"
is "$(grep -E '^chatty *\| ' "$T/err" | sort | tr '\n' '/')" "chatty | hello from chatty/chatty | oops from chatty/" \
	"shell pipeline: other jobs' prefixed stdout and stderr go to grun's stderr"
like "$(cat "$T/err")" '^grun: w#1: started' "shell pipeline: grun's log on stderr"
# a reader that starts late (a pager, a slow log collector): every buffer fills
seq 1 100000 | { timeout -k 2 "$(secs 30)" "$GRUN" "$T/shpipe.ini" 2>"$T/err"; echo $? >"$T/rc"; } |
	{ sleep 1; sort -n; } >"$T/shpipe.out"
is "$(cat "$T/rc")" 0 "shell pipeline, slow reader: grun exits 0"
cmp -s "$T/shpipe.out" "$T/seq100k"
same2=$? got2=$(lines "$T/shpipe.out")
# grun's stdin a file, not a pipe
{ timeout -k 2 "$(secs 30)" "$GRUN" "$T/shpipe.ini" <"$T/seq100k" 2>"$T/err"; echo $? >"$T/rc"; } | sort -n >"$T/shpipe.out"
is "$(cat "$T/rc")" 0 "shell pipeline, stdin a file: grun exits 0"
cmp -s "$T/shpipe.out" "$T/seq100k"
same3=$? got3=$(lines "$T/shpipe.out")
# one check for the three runs: the loss depends on how fast the reader is
# (sort at once loses most times, the late reader every time)
ok "$([ $same1 = 0 ] && [ $same2 = 0 ] && [ $same3 = 0 ]; echo $?)" \
	"shell pipeline: output equals the input (lines out of 100000: sort at once $got1, reader 1 s late $got2, stdin a file $got3)"

# a 1:1 chunk channel from grun's stdin and one to grun's stdout
cat >"$T/direct.ini" <<'EOF'
[chan:stdin]
framing = chunk

[chan:stdout]
framing = chunk

[job:c]
cmd = cat
stdin = chan:stdin
stdout = chan:stdout
EOF
head -c 20M /dev/urandom >"$T/rand20"
{ timeout -k 2 "$(secs 30)" "$GRUN" "$T/direct.ini" <"$T/rand20" 2>"$T/err"; echo $? >"$T/rc"; } |
	{ sleep 1; sha256sum; } >"$T/direct.sum"
is "$(cat "$T/rc"):$(cat "$T/direct.sum")" "0:$(sha256sum <"$T/rand20")" \
	"shell pipeline, chunk: 20 MB from grun's stdin to its stdout through cat, byte for byte (slow reader)"
ok "$(left)" "shell pipeline: no process left"

# ---- 9. pipefail ----------------------------------------------------------------------
cat >"$T/midfail.ini" <<'EOF'
[job:gen]
cmd = seq 1 1000
stdout = chan:a

[job:mid]
restart = temporary
cmd = sh -c 'cat; exit 1'
stdin = chan:a
stdout = chan:b

[job:sink]
cmd = sh -c 'exec cat >${GRUN_TEST_TAG}/midfail.out'
stdin = chan:b
EOF
run_grun 30 "$T/midfail.ini"
is "$rc" 1 "pipefail: the middle stage exits 1: grun exits 1"
is "$(events '^grun: [0-9]+ jobs? ended')" "3 jobs ended: 2 succeeded, 1 failed, 0 skipped, 0 stopped (mid failed)" \
	"pipefail: the summary names mid"
seq 1 1000 | cmp -s - "$T/midfail.out"
ok $? "pipefail: the sink still got every line and EOF"
cat >"$T/sinkfail.ini" <<'EOF'
[job:gen]
cmd = seq 1 1000
stdout = chan:a

[job:sink]
restart = temporary
cmd = sh -c 'cat >/dev/null; exit 3'
stdin = chan:a
EOF
run_grun 30 "$T/sinkfail.ini"
is "$rc" 1 "pipefail: a consumer that fails: grun exits 1"
is "$(events '^grun: [0-9]+ jobs? ended')" "2 jobs ended: 1 succeeded, 1 failed, 0 skipped, 0 stopped (sink failed)" \
	"pipefail: the summary names sink"
# the middle stage gives up early while gen still has a lot to write: as in
# a shell pipeline, gen must not block forever on a channel nobody reads
cat >"$T/early.ini" <<'EOF'
[job:gen]
cmd = seq 1 10000000
stdout = chan:a

[job:mid]
restart = temporary
cmd = sh -c 'head -n 5; exit 1'
stdin = chan:a
stdout = chan:b

[job:sink]
cmd = sh -c 'exec cat >${GRUN_TEST_TAG}/early.out'
stdin = chan:b
EOF
run_grun 3 "$T/early.ini"
is "$(cat "$T/early.out" | tr '\n' ' ')" "1 2 3 4 5 " "pipefail, early exit: the sink got mid's 5 lines"
ok "$([ "$rc" = 1 ]; echo $?)" "pipefail, early exit: grun ends by itself with status 1 (got $rc)"
ok "$([ -n "$(events '^grun: [0-9]+ jobs ended: .*mid failed')" ] && [ "$rc" != 124 ]; echo $?)" \
	"pipefail, early exit: the summary names mid"
# the same through a 1:1 chunk channel (one pipe): gen gets SIGPIPE
printf '[chan:a]\nframing = chunk\n' >"$T/early2.ini"
sed -n '/^\[job:gen\]/,/^stdout = chan:a/p; /^\[job:mid\]/,/^stdin = chan:a/p' "$T/early.ini" >>"$T/early2.ini"
run_grun 10 "$T/early2.ini"
is "$rc:$(events '^grun: [0-9]+ jobs? ended' | grep -c 'mid failed')" "1:1" \
	"pipefail, early exit, 1:1 chunk channel: grun ends by itself with status 1, the summary names mid"
ok "$(left)" "pipefail: no process left"

# ---- 10. invalid channel settings: exit 2, FILE:LINE: message ---------------------------
F=$T/bad.ini
# bad NAME WANT: $F (written just before) is rejected with exactly WANT
bad() {
	run_grun 10 "$F"
	is "$rc:$(cat "$T/err")" "2:$F:$2" "invalid: $1"
}
cat >"$F" <<'EOF'
[job:c]
cmd = cat
stdin = chan:nothing
EOF
bad "consumer without producer" \
	"3: channel nothing has consumers but no producer (no job has stdout or stderr = chan:nothing)"
cat >"$F" <<'EOF'
[job:p]
cmd = echo hi

stdout = chan:nobody
EOF
bad "producer without consumer" \
	"4: channel nobody has producers but no consumer (no job has stdin = chan:nobody)"
cat >"$F" <<'EOF'
[job:p]
cmd = echo hi

[chan:unused]
capacity = 4
EOF
bad "unused [chan:unused]" "4: channel unused is not used by any job"
cat >"$F" <<'EOF'
[job:a]
cmd = cat
stdin = chan:x
stdout = chan:y

[job:b]
cmd = cat
stdin = chan:y
stdout = chan:x
EOF
bad "cycle through channels" "3: channels form a cycle: a -> b -> a"
cat >"$F" <<'EOF'
[chan:raw]
framing = chunk

[job:p]
cmd = cat /dev/null
stdout = chan:raw

[job:w]
instances = 2
cmd = cat
stdin = chan:raw
EOF
bad "chunk + share with 2 consumers" \
	"1: channel raw: framing = chunk with mode = share needs exactly one consumer (raw bytes cannot be divided between 2 consumers; use framing = line or mode = broadcast)"
cat >"$F" <<'EOF'
[job:p]
cmd = echo
stdout = chan:stdin
EOF
bad "stdout = chan:stdin" \
	"3: stdout = chan:stdin: chan:stdin is grun's standard input: jobs read it (stdin = chan:stdin), never write it"
cat >"$F" <<'EOF'
[job:p]
cmd = echo
stderr = chan:stdin
EOF
bad "stderr = chan:stdin" \
	"3: stderr = chan:stdin: chan:stdin is grun's standard input: jobs read it (stdin = chan:stdin), never write it"
cat >"$F" <<'EOF'
[job:p]
cmd = cat
stdin = chan:stdout
EOF
bad "stdin = chan:stdout" \
	"3: stdin = chan:stdout: chan:stdout is grun's standard output: jobs write it (stdout = chan:stdout), never read it"
for kv in "framing = lines:expected line or chunk" "framing = :expected line or chunk" \
	"mode = shared:expected share or broadcast" "capacity = 0:expected a whole number in range" \
	"capacity = 1000001:expected a whole number in range" "capacity = 12x:expected a whole number in range"; do
	printf '[chan:c]\n%s\n[job:p]\ncmd = echo\nstdout = chan:c\n[job:q]\ncmd = cat\nstdin = chan:c\n' "${kv%%:*}" >"$F"
	bad "${kv%%:*}" "2: ${kv%%:*}: ${kv#*:}"
done
cat >"$F" <<'EOF'
[job:p]
cmd = echo
stdout = chan:a/b
EOF
bad "bad channel name" "3: stdout = chan:a/b: bad channel name (letters, digits, '_', '-' and '.')"
cat >"$F" <<'EOF'
[chan:c]
size = 3

[job:p]
cmd = echo
stdout = chan:c

[job:q]
cmd = cat
stdin = chan:c
EOF
bad "unknown key in [chan:]" "2: unknown key size in [chan:]"
printf '[chan:c]\ncapacity = 1000000\nframing = chunk\nmode = broadcast\n[job:p]\ncmd = echo\nstdout = chan:c\n[job:q]\ninstances = 2\ncmd = cat\nstdin = chan:c\n' >"$F"
run_grun 10 --check "$F"
is "$rc:$(cat "$T/err")" "0:" "valid: capacity = 1000000, chunk broadcast to 2 consumers passes --check"
ok "$(left)" "invalid: no process left"

done_testing
