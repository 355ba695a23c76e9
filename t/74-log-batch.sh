#!/bin/sh
# 74-log-batch: what a pump does with one read of a job's pipe at once.
# The lines of one read share its time: one stamp on grun's output and
# one time in `grunctl logs`, the same instant (the time grun read them).
# A flood of short lines through the stamped path comes out whole, in
# order, each with its head, for every line length around the sizes the
# pump copies in fixed blocks (32-byte lines, 64-byte heads) and with a
# job name long enough to make the head longer than that.  The recent
# lines `grunctl logs` keeps after a flood are the newest ones, without
# a gap (the pump skips what the ring would forget at once).  A job
# flooding its stdout does not hold its stderr lines back.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 is needed"
plan 8

CTL=$abs_top_builddir/cmd/grunctl
S=$T/ctl.sock
c() { timeout -k 2 "$(secs 20)" "$CTL" -s "$S" "$@"; }

# ---- one read, one time --------------------------------------------------------
cat >"$T/one.ini" <<EOF2
[grun]
control = $S
[job:three]
cmd = sh -c 'printf "one\ntwo\nthree\n"; exec sleep 1000'
EOF2
start_grun --timestamps=tai64n "$T/one.ini"
wait_grep ' three \| three$' "$T/out"
stamps=$(sed -n 's/^\(@[0-9a-f]*\) three | .*/\1/p' "$T/out" | sort -u | wc -l)
is "$(grep -c ' three | ' "$T/out")|$stamps" "3|1" "three lines written at once: one stamp for the three"
times=$(c --json logs -n all three | python3 -c '
import json, sys
ts = [json.loads(l)["time"] for l in sys.stdin if l.startswith("{") and "\"line\"" in l]
print(len(ts), len(set(ts)))')
is "$times" "3 1" "grunctl logs: the three lines have one time"
# the stamp (tai64n, ns) and grunctl's time (ms, UTC) name the same instant
same=$(c --json logs -n 1 three | python3 -c '
import json, sys, datetime
t = [json.loads(l)["time"] for l in sys.stdin if l.startswith("{") and "\"line\"" in l][0]
stamp = sys.argv[1]
s = int(stamp[1:17], 16) - 2**62 - 10 + int(stamp[17:], 16) / 1e9
g = datetime.datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()
print("same" if abs(s - g) < 0.002 else "differ by %.3f s" % (s - g))' "$(sed -n 's/^\(@[0-9a-f]*\) three | three$/\1/p' "$T/out")")
is "$same" "same" "the stamp on the output and the time grunctl logs gives are the time of the read"
kill -TERM "$GRUN_PID"
wait_grun

# ---- a flood of lines of every length through the stamped path -------------------
name=a_job_name_long_enough_to_make_the_head_longer_than_64_bytes
cat >"$T/gen.py" <<'EOF2'
import sys
ch, mod, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sys.stdout.write("".join(ch * (i % mod) + str(i) + "\n" for i in range(n)))
EOF2
cat >"$T/flood.ini" <<EOF2
[job:short]
cmd = python3 $T/gen.py x 70 200000
[job:$name]
cmd = python3 $T/gen.py y 40 100000
EOF2
run_grun 60 --timestamps=iso "$T/flood.ini"
check=$(python3 - "$T/out" "$name" <<'PY'
import re, sys
path, long = sys.argv[1], sys.argv[2]
want = {"short": ("x", 70, 200000), long: ("y", 40, 100000)}
seen = {k: 0 for k in want}
pat = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d (\S+) *\| (.*)$")
for line in open(path):
    m = pat.fullmatch(line.rstrip("\n"))
    if not m or m.group(1) not in want:
        print("bad line %r" % line[:120]); sys.exit(0)
    ch, mod, n = want[m.group(1)]
    i = seen[m.group(1)]
    if m.group(2) != ch * (i % mod) + str(i):
        print("%s: line %d is %r" % (m.group(1)[:10], i, m.group(2)[:80])); sys.exit(0)
    seen[m.group(1)] = i + 1
print(" ".join(str(seen[k]) for k in want))
PY
)
is "$rc|$check" "0|200000 100000" "300,000 stamped lines of 1 to 75 bytes, two jobs (one head over 64 bytes): every one whole, in order, with its head"

# ---- a flood on stdout does not hold stderr back -------------------------------------
# (the pump reads a pipe that keeps giving data again and again before it
# waits; it still looks at the other one every few reads)
cat >"$T/both.ini" <<'EOF2'
[job:both]
cmd = sh -c 'yes flooding & sleep 0.3; echo "on stderr" >&2; wait'
EOF2
"$GRUN" "$T/both.ini" >/dev/null 2>"$T/err" &
GRUN_PID=$!
wait_grep '^both \| on stderr$' "$T/err" 10
ok $? "a job flooding its stdout: its stderr line still comes out"
kill -TERM "$GRUN_PID"
wait_grun

# ---- the recent lines after a flood ------------------------------------------------
cat >"$T/keep.ini" <<EOF2
[grun]
control = $S
[job:many]
cmd = sh -c 'seq 1 300000; echo done; exec sleep 1000'
EOF2
start_grun "$T/keep.ini"
wait_grep 'many \| done$' "$T/out" 30
c logs -n all many >"$T/kept"
kept=$(python3 - "$T/kept" <<'PY'
import sys
v = [l.rstrip("\n").split("| ", 1)[1] for l in open(sys.argv[1]) if "| " in l]
ok = v and v[-1] == "done" and all(int(a) + 1 == int(b) for a, b in zip(v[:-2], v[1:-1])) and v[-2] == "300000"
print("%d %s" % (len(v), "contiguous" if ok else "not contiguous: %r... %r" % (v[:3], v[-3:])))
PY
)
like "$kept" '^[0-9]{3,} contiguous$' "grunctl logs after 300,000 lines: the newest, ending with the last, none missing between ($kept)"
n=${kept%% *}
ok "$([ "$n" -ge 1000 ] && [ "$n" -le 2000 ]; echo $?)" "grunctl logs keeps about 32 KiB of them ($n lines of 7 bytes and a 16-byte header)"
kill -TERM "$GRUN_PID"
wait_grun
is "$(left)" 0 "no process left"
done_testing
