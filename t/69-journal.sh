#!/bin/sh
# 69-journal: syslog priorities for journald.  A socketpair stands in
# for journald's stream: grun's stdout and stderr are one end of it, and
# JOURNAL_STREAM names that end's device and inode, as systemd sets it.
# Then every line starts with "<N>": grun's errors 3, its events 5, its
# -v state changes 6, job stdout 6, job stderr stderr_priority (6 by
# default), a job's own "<N>" kept; no padding, no colors.  A
# JOURNAL_STREAM naming something else, or --log-format=text, changes
# nothing; --log-format=journal forces it.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 is needed for the stand-in journald"
plan 27

# journal OUT JS ARGS...: runs grun ARGS with stdout and stderr one end of
# a socketpair (JS: "match" sets JOURNAL_STREAM to it, else JS as is);
# what came through goes to OUT; rc is grun's status
journal() {
	_out=$1 _js=$2; shift 2
	python3 - "$_out" "$_js" "$(secs 20)" "$GRUN" "$@" <<'PY'
import os, select, socket, subprocess, sys, time
out, js, secs, argv = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4:]
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
st = os.fstat(b.fileno())
env = dict(os.environ)
env["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino) if js == "match" else js
p = subprocess.Popen(argv, stdout=b.fileno(), stderr=b.fileno(), env=env)
b.close()
data, end = b"", time.time() + secs
while time.time() < end:
    r, _, _ = select.select([a], [], [], 0.1)
    if r:
        chunk = a.recv(65536)
        if not chunk:
            break
        data += chunk
try:
    rc = p.wait(timeout=max(0.1, end - time.time()))
except subprocess.TimeoutExpired:
    p.kill()
    rc = p.wait()
open(out, "wb").write(data)
sys.exit(rc)
PY
	rc=$?
}

cat >"$T/j.ini" <<'EOF'
[job:a]
cmd = sh -c 'echo hello; echo err >&2; echo "<2>critical" >&2'
[job:longer]
stderr_priority = warning
cmd = sh -c 'echo out; echo oops >&2; exit 3'
EOF
journal "$T/j" match --color=always "$T/j.ini"
is "$rc" 1 "journal: exit status 1 (a job failed)"
like "$(cat "$T/j")" '^<5>grun: a: started \(pid [0-9]+\)$' "journal: grun's events at notice (<5>)"
like "$(cat "$T/j")" '^<6>a \| hello$' "journal: job stdout at info (<6>), the name not padded"
like "$(cat "$T/j")" '^<6>a \| err$' "journal: job stderr at info by default (<6>)"
like "$(cat "$T/j")" '^<2>a \| critical$' "journal: a job's own <N> prefix is its line's priority"
like "$(cat "$T/j")" '^<4>longer \| oops$' "journal: stderr_priority = warning: <4>"
like "$(cat "$T/j")" '^<6>longer \| out$' "journal: stderr_priority leaves stdout at <6>"
like "$(cat "$T/j")" '^<3>grun: 2 jobs ended: 1 succeeded, 1 failed' "journal: grun's errors at err (<3>)"
is "$(grep -cv '^<[0-7]>' "$T/j")|$(grep -c "$(printf '\033')" "$T/j")" "0|0" \
	"journal: every line has a priority; no colors, even with --color=always"

journal "$T/v" match -v "$T/j.ini"
like "$(cat "$T/v")" '^<6>grun: a: running$' "journal -v: state changes at info (<6>)"

# JOURNAL_STREAM naming another file, or --log-format=text: plain text
journal "$T/other" 1:1 "$T/j.ini"
is "$(grep -c '^<' "$T/other")|$(grep -c '^a      | hello$' "$T/other")" "0|1" \
	"JOURNAL_STREAM of another stream: text, padded, no priorities"
journal "$T/text" match --log-format=text "$T/j.ini"
is "$(grep -c '^<' "$T/text")|$(grep -c '^a      | hello$' "$T/text")" "0|1" "--log-format=text: no priorities"

# --log-format=journal, and [grun] log_format, without journald
unset JOURNAL_STREAM
run_grun 10 --log-format=journal "$T/j.ini"
is "$(grep -c '^<6>a | hello$' "$T/out")|$(grep -c '^<5>grun: a: started' "$T/err")" "1|1" \
	"--log-format=journal: priorities on plain files"
{ printf '[grun]\nlog_format = journal\n'; cat "$T/j.ini"; } >"$T/f.ini"
run_grun 10 "$T/f.ini"
is "$(grep -c '^<6>a | hello$' "$T/out")" 1 "[grun] log_format = journal"
run_grun 10 --log-format=text "$T/f.ini"
is "$(grep -c '^a      | hello$' "$T/out")" 1 "--log-format=text overrides [grun] log_format"

# bad values
printf '[grun]\nlog_format = xml\n[job:a]\nstderr_priority = loud\ncmd = true\n' >"$T/bad.ini"
run_grun 10 "$T/bad.ini"
is "$rc" 2 "bad log_format and stderr_priority: exit 2"
like "$(cat "$T/err")" "^$T/bad.ini:2: log_format = xml: expected auto, text, journal or native$" "log_format = xml: FILE:LINE"
like "$(cat "$T/err")" "^$T/bad.ini:4: stderr_priority = loud: expected a syslog priority" "stderr_priority = loud: FILE:LINE"
run_grun 10 --log-format=xml "$T/j.ini"
is "$rc|$(cat "$T/err")" "2|grun: --log-format xml: expected auto, text, journal or native" "--log-format=xml: exit 2"
# ---- --log-format=native: journald's own protocol, to a stand-in socket -----------------
# the stand-in journald: a datagram socket; each entry is written out
# followed by an RS character (\036); it ends when $T/jd.stop appears
python3 - "$T/jd.sock" "$T/jd" "$(secs 30)" <<'PY' &
import os, socket, sys, time
path, out, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(0.1)
end = time.time() + secs
with open(out, "wb") as f:
    while time.time() < end and not os.path.exists(out + ".stop"):
        try:
            f.write(s.recv(1 << 20) + b"\036")
            f.flush()
        except socket.timeout:
            pass
PY
jd=$!
wait_file "$T/jd.sock"
cat >"$T/n.ini" <<'EOF'
[job:api]
instances = 2
stderr_priority = warning
cmd = sh -c 'echo "listening $GRUN_INSTANCE"; echo "slow $GRUN_INSTANCE" >&2; echo "<2>down $GRUN_INSTANCE" >&2'
EOF
GRUN_JOURNAL_SOCKET=$T/jd.sock run_grun 10 --log-format=native "$T/n.ini"
touch "$T/jd.stop"
wait "$jd"
# entries, one per line, fields joined by "|"
entries=$(tr '\n\036' '|\n' <"$T/jd")
pid2=$(sed -n 's/^<5>grun: api#2: started (pid \([0-9]*\))$/\1/p' "$T/err")
is "$rc|$(printf '%s\n' "$entries" | grep -c .)" "0|6" "native: exit 0; one entry per job line (6)"
like "$entries" "^PRIORITY=6\|SYSLOG_IDENTIFIER=api#2\|GRUN_JOB=api\|GRUN_INSTANCE=2\|GRUN_PID=$pid2\|GRUN_STREAM=stdout\|MESSAGE=listening 2\|$" \
	"native: a stdout line: PRIORITY=6, the instance's name, GRUN_JOB, GRUN_INSTANCE, GRUN_PID (its process), GRUN_STREAM"
like "$entries" "^PRIORITY=4\|SYSLOG_IDENTIFIER=api#1\|GRUN_JOB=api\|GRUN_INSTANCE=1\|GRUN_PID=[0-9]+\|GRUN_STREAM=stderr\|MESSAGE=slow 1\|$" \
	"native: a stderr line at stderr_priority (warning: 4)"
like "$entries" "^PRIORITY=2\|.*GRUN_STREAM=stderr\|MESSAGE=down 1\|$" "native: a job's own <2> is its PRIORITY, taken off the message"
is "$(grep -c ' | ' "$T/out" "$T/err" | cut -d: -f2 | tr '\n' ' ')" "0 0 " "native: no job line on stdout or stderr"
like "$(cat "$T/err")" '^<5>grun: api#1: started' "native: grun's own lines on stderr with <N> priorities"
# no journald: said once, and the lines go to stdout and stderr
GRUN_JOURNAL_SOCKET=$T/nothere.sock run_grun 10 --log-format=native "$T/n.ini"
like "$(cat "$T/err")" "^<3>grun: --log-format=native: cannot connect to journald $T/nothere.sock: No such file or directory; job lines go to stdout and stderr$" \
	"native without journald: one error line"
is "$rc|$(grep -c '^<6>api#1 | listening 1$' "$T/out")" "0|1" "native without journald: job lines with <N> on stdout and stderr instead"
done_testing
