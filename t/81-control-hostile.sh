#!/bin/sh
# 81-control-hostile: the control socket against clients that misbehave
# and users who may not steer grun.  Malformed, oversized, unended and
# half-finished requests get an error (and grun goes on serving others);
# a follower that never reads does not hold up grun's log or other
# clients; 100 clients at once are all answered; a peer that is not
# grun's user is refused and logged (SO_PEERCRED), a control_group member
# may read the status but not stop a job; the socket directory must be
# private.
. "$(dirname "$0")/lib.sh"

plan 31

command -v python3 >/dev/null || skip_all "python3 not installed"
CTL=$abs_top_builddir/cmd/grunctl
S=$T/ctl.sock
c() { timeout -k 2 "$(secs 20)" "$CTL" -s "$S" "$@"; }

# raw REQUEST-BYTES-AS-PYTHON-EXPR [SHUTDOWN]: sends the bytes, then reads
# the reply lines until EOF or 3 s of silence; prints them.
raw() {
	timeout -k 2 "$(secs 20)" python3 - "$S" "$1" "${2:-0}" <<'PYEOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
try:
    s.sendall(eval(sys.argv[2]))
except OSError as e:
    print("send:", e.strerror)
if sys.argv[3] == "1":
    s.shutdown(socket.SHUT_WR)
s.settimeout(3)
data = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
except OSError:
    pass
sys.stdout.write(data.decode())
PYEOF
}

F=$T/h.ini
cat >"$F" <<EOF
[grun]
control = $S
control_group = nogroup
intensity = 1000000

[job:chatty]
cmd = sh -c 'i=0; while :; do i=\$((i+1)); echo "line \$i"; sleep 0.01; done'
restart = permanent

[job:svc]
cmd = sleep 1000
restart = permanent

[job:crash]
cmd = sh -c 'sleep 0.2; exit 1'
restart = permanent
backoff = 0
EOF
chmod 0711 "$T"
start_grun "$F"
wait_for 10 test -S "$S"
wait_log '^grun: svc: started' 10

# ---- malformed requests ---------------------------------------------------------
like "$(raw 'b"this is not json\n"')" '"ok":false,"error":"malformed request' "not JSON: an error"
like "$(raw 'b"[1,2]\n"')" 'not a JSON object' "not an object: an error"
like "$(raw 'b"{\"v\":1,\"cmd\":\"fly\"}\n"')" 'unknown command: fly' "unknown command: an error"
like "$(raw 'b"{\"v\":2,\"cmd\":\"status\"}\n"')" 'protocol version 2 is not supported \(this grun speaks 1\)' "protocol version 2: an error naming 1"
like "$(raw 'b"{\"v\":1,\"cmd\":\"status\",\"jobs\":\"svc\"}\n"')" '"jobs\\" must be an array' "jobs not an array: an error"
like "$(raw 'b"{\"v\":1,\"cmd\":\"status\"}\n{\"v\":1,\"cmd\":\"hello\"}\n"' 1)" '"protocol":1' "two requests on one connection: both answered"
out=$(raw 'b"{\"v\":1,\"cmd\":\"logs\",\"jobs\":[\"nosuch\"]}\n{\"v\":1,\"cmd\":\"hello\"}\n"' 1)
is "$(printf '%s\n' "$out" | sed -n 's/.*"error":"\(no such job: nosuch\)".*/\1/p; s/.*"protocol":\(1\).*/protocol \1/p' | tr '\n' ' ')" \
	"no such job: nosuch protocol 1 " "an error reply keeps the connection: the next request is answered"
like "$(raw 'b"{\"v\":1,\"cmd\":\"sta"' 1)" 'request not ended by a newline' "half-closed in the middle of a request: an error"
like "$(raw 'b"x" * (10 << 20)')" 'request longer than 65536 bytes' "10 MB without a newline: refused after 64 KiB"
like "$(raw 'b"{\"cmd\":\"status\",\"jobs\":[" + b"[" * 1000 + b"\n"')" 'nested too deeply' "deeply nested JSON: an error, no crash"

# ---- a slow client and a client that never reads ------------------------------------
# a request begun and never finished: other clients are served meanwhile
python3 - "$S" <<'PYEOF' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b'{"v":1,"cmd":'); time.sleep(4)
PYEOF
SLOW=$!
settle 100
c status svc >/dev/null
is "$?" 0 "a half-sent request of another client does not hold up status"

# a follower that never reads while chatty writes 100 lines a second
python3 - "$S" <<'PYEOF' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(sys.argv[1]); s.sendall(b'{"v":1,"cmd":"logs","follow":true,"lines":-1}\n'); time.sleep(6)
PYEOF
STUCK=$!
settle 200
n0=$(grep -c '^chatty *| line' "$T/out")
wait_for 10 sh -c "[ \$(grep -c '^chatty *| line' '$T/out') -ge \$(( $n0 + 100 )) ]"
ok $? "a follower that never reads: the job's lines still reach grun's output"
c status svc >/dev/null
is "$?" 0 "a follower that never reads: status still answered"
crash0=$(count '^grun: crash: started')
wait_for 10 sh -c "[ \$(grep -c '^grun: crash: started' '$T/err') -ge \$(( $crash0 + 3 )) ]"
ok $? "a follower that never reads: restarts go on"
kill "$STUCK" "$SLOW" 2>/dev/null; wait "$STUCK" "$SLOW" 2>/dev/null

# ---- 100 clients at once ------------------------------------------------------------
i=0
while [ $i -lt 100 ]; do
	( c --json status svc >"$T/many.$i" 2>&1 ) &
	i=$((i + 1))
done
wait_for 30 sh -c "[ \$(cat '$T'/many.* 2>/dev/null | grep -c '\"ok\":true') -ge 100 ]"
ok $? "100 clients at once: every one answered"
# and 20 followers that end when grun does
i=0
while [ $i -lt 20 ]; do
	( c logs -f -n 1 chatty >"$T/fol.$i" 2>&1; echo "rc=$?" >>"$T/fol.$i" ) &
	i=$((i + 1))
done
wait_for 10 sh -c "[ \$(grep -l '^chatty | line' '$T'/fol.* 2>/dev/null | wc -l) -ge 20 ]"
ok $? "20 followers at once: each gets lines"

# ---- who may connect ------------------------------------------------------------------
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && getent group nogroup >/dev/null; then
	asnobody() { setpriv --reuid nobody --regid nogroup --clear-groups "$@"; }
	out=$(asnobody "$CTL" -s "$S" status svc 2>&1); rc=$?
	is "$rc" 0 "a control_group member may read the status"
	like "$out" '^svc +running' "control_group member: the status"
	out=$(asnobody "$CTL" -s "$S" stop svc 2>&1); rc=$?
	is "$rc" 1 "a control_group member may not stop a job"
	like "$out" 'permission denied: stop is for grun.s user only' "control_group member: told why"
	out=$(asnobody "$CTL" -s "$S" logs svc 2>&1); rc=$?
	is "$rc" 1 "a control_group member may not read job output"
	out=$(setpriv --reuid 4242 --regid 4242 --clear-groups "$CTL" -s "$S" status 2>&1); rc=$?
	is "$rc" 3 "anyone else cannot even connect (mode 0660)"
	chmod 0666 "$S" # as if someone loosened it: SO_PEERCRED still refuses
	out=$(setpriv --reuid 4242 --regid 4242 --clear-groups "$CTL" -s "$S" status 2>&1); rc=$?
	is "$rc" 1 "a stranger on a loosened socket: refused"
	like "$out" "permission denied: not grun's user" "a stranger: told why"
	wait_log '^grun: control: refused uid 4242 \(pid [0-9]+\)' 10
	ok $? "the refusal is logged"
else
	i=0; while [ $i -lt 9 ]; do ok 0 "# SKIP needs root, setpriv and a nogroup group"; i=$((i + 1)); done
fi
is "$(c status svc | sed -n 2p | awk '{print $2}')" running "after all that, svc still runs"

kill -TERM "$GRUN_PID"; wait_grun 10
is "$rc" 0 "SIGTERM: services stopped cleanly, exit 0"
wait_for 10 sh -c "[ \$(grep -l '^rc=' '$T'/fol.* 2>/dev/null | wc -l) -ge 20 ]"
ok $? "the followers end when grun does"

# ---- the directory must be private --------------------------------------------------------
D=$T/open
mkdir -m 0777 "$D"
out=$("$GRUN" --control "$D/x.sock" "$F" 2>&1 </dev/null); rc=$?
is "$rc" 2 "a socket in a directory others may write: exit 2"
like "$out" "must be a directory of uid [0-9]+ that only it can write" "and says why"
is "$(left)" 0 "no process left"
done_testing
