#!/bin/sh
# 68-sockets: socket activation passed through.  A python3 wrapper binds
# two listening TCP sockets as fds 3 and 4 and execs grun with
# LISTEN_FDS=2, LISTEN_FDNAMES=a:b and LISTEN_PID set to its own pid
# (which exec keeps, so it is grun's), as systemd does.  Jobs that name
# sockets get them as 3, 4, ... with LISTEN_PID rewritten to their own
# pid; other jobs get neither the fds nor the variables.  Unknown names
# are a FILE:LINE: error when grun knows its names, else the job fails
# to start.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 not installed"

plan 25

# activate NAMES PIDMODE GRUN-ARGS...: runs grun with two sockets bound
# to free ports (written to $T/ports as "a b"); NAMES "-" leaves
# LISTEN_FDNAMES unset; PIDMODE "other" sets a LISTEN_PID that is not
# grun's.  Bounded and in the foreground, as run_grun.
cat >"$T/activate.py" <<'EOF'
import os, socket, sys
names, pidmode, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
socks, ports = [], []
for i in range(2):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    os.dup2(s.fileno(), 10 + i)      # out of the way of 3 and 4 first
    socks.append(s)                  # kept: closing one could close fd 3
    ports.append(s.getsockname()[1]) # now: s's own fd may become 3 or 4 below
for i in range(2):
    os.dup2(10 + i, 3 + i)           # inheritable by default
    os.close(10 + i)
with open(os.path.join(os.environ["GRUN_TEST_TAG"], "ports"), "w") as f:
    f.write("%d %d\n" % tuple(ports))
os.environ["LISTEN_FDS"] = "2"
if names != "-":
    os.environ["LISTEN_FDNAMES"] = names
os.environ["LISTEN_PID"] = str(os.getpid() if pidmode == "self" else 1)
os.execv(argv[0], argv)
EOF
activate() {
	_s=$(secs 20)
	timeout -k 2 "$_s" python3 "$T/activate.py" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	show_sanitizer_report
}

# The job: prints what it got, one line: LISTEN_PID=its pid?, LISTEN_FDS,
# LISTEN_FDNAMES, and the port of each descriptor from 3 on ("closed":
# not a socket).
cat >"$T/show.py" <<'EOF'
import os, socket, stat
env = os.environ
n = int(env.get("LISTEN_FDS", "0"))
ports = []
for fd in range(3, 3 + max(n, 2)):
    try:
        st = os.fstat(fd)
    except OSError:
        st = None
    if not st or not stat.S_ISSOCK(st.st_mode):
        ports.append("closed")
        continue
    s = socket.socket(fileno=fd)
    ports.append(str(s.getsockname()[1]))
    s.detach()
pid = env.get("LISTEN_PID")
print("pid=%s fds=%s names=%s ports=%s" % (
    "mine" if pid == str(os.getpid()) else pid, env.get("LISTEN_FDS"), env.get("LISTEN_FDNAMES"),
    ",".join(ports)))
EOF

cat >"$T/jobs.ini" <<EOF
[job:one]
cmd = python3 $T/show.py
sockets = b

[job:two]
cmd = python3 $T/show.py
sockets = a, b

[job:none]
cmd = python3 $T/show.py
EOF
activate a:b self "$GRUN" "$T/jobs.ini"
is "$rc" 0 "activated: exit status 0"
read -r pa pb <"$T/ports"
is "$(grep '^one ' "$T/out" | sed 's/^one *| //')" "pid=mine fds=1 names=b ports=$pb,closed" \
	"sockets = b: socket b as fd 3, LISTEN_FDS=1, LISTEN_FDNAMES=b, LISTEN_PID is the job's pid"
is "$(grep '^two ' "$T/out" | sed 's/^two *| //')" "pid=mine fds=2 names=a:b ports=$pa,$pb" \
	"sockets = a, b: a as fd 3, b as fd 4, in the order named"
is "$(grep '^none ' "$T/out" | sed 's/^none *| //')" "pid=None fds=None names=None ports=closed,closed" \
	"no sockets = : neither the descriptors nor LISTEN_* reach the job"
ok "$(left)" "activated: no process left"

# order of the names in the key, not in grun's list
cat >"$T/rev.ini" <<EOF
[job:rev]
cmd = python3 $T/show.py
sockets = b a
EOF
activate a:b self "$GRUN" "$T/rev.ini"
read -r pa pb <"$T/ports"
is "$(grep '^rev ' "$T/out" | sed 's/^rev *| //')" "pid=mine fds=2 names=b:a ports=$pb,$pa" \
	"sockets = b a: b as fd 3, a as fd 4"

# restarted: each run gets the sockets again, with its own LISTEN_PID
cat >"$T/again.ini" <<EOF
[job:again]
cmd = sh -c 'python3 $T/show.py && test -e "\$GRUN_TEST_TAG/twice" || { : >"\$GRUN_TEST_TAG/twice"; exit 1; }'
restart = transient
backoff = 0
sockets = a
EOF
rm -f "$T/twice"
activate a:b self "$GRUN" "$T/again.ini"
is "$rc" 0 "restart: exit status 0"
read -r pa pb <"$T/ports"
is "$(grep -c "^again *| pid=[0-9]* fds=1 names=a ports=$pa" "$T/out")" 2 \
	"restart: both runs got socket a (LISTEN_PID of the shell that ran python)"
ok "$(left)" "restart: no process left"

# ---- unknown names --------------------------------------------------------------
cat >"$T/unknown.ini" <<EOF
[job:x]
cmd = true
sockets = a c
EOF
activate a:b self "$GRUN" "$T/unknown.ini"
is "$rc" 2 "unknown name with LISTEN_FDNAMES: exit status 2"
like "$(cat "$T/err")" "^$T/unknown.ini:3: sockets = c: no socket named c: grun's sockets are named a:b" \
	"unknown name with LISTEN_FDNAMES: FILE:LINE: error"
unlike "$(cat "$T/err")" 'started' "unknown name with LISTEN_FDNAMES: nothing started"

activate - self "$GRUN" "$T/unknown.ini"
is "$rc" 1 "without LISTEN_FDNAMES: loads, the job fails at start (exit 1)"
like "$(cat "$T/err")" "grun: x: sockets = a: no socket named a: grun's 2 sockets came without names \\(no LISTEN_FDNAMES\\)" \
	"without LISTEN_FDNAMES: a clear error at start"

activate a:b other "$GRUN" "$T/unknown.ini"
is "$rc" 1 "LISTEN_PID not grun's: the sockets are not grun's (exit 1)"
like "$(cat "$T/err")" "grun: x: sockets = a: no socket named a: grun was started without sockets \\(no LISTEN_FDS for its pid\\)" \
	"LISTEN_PID not grun's: a clear error at start"

run_grun 10 "$T/unknown.ini"
is "$rc" 1 "no activation at all: exit status 1"
like "$(cat "$T/err")" "grun: x: sockets = a: no socket named a: grun was started without sockets" \
	"no activation at all: a clear error at start"
ok "$(left)" "unknown: no process left"

# ---- bad values -----------------------------------------------------------------
bad() {
	printf '[job:a]\ncmd = true\n%s\n%s\n' "$1" "${3:-}" >"$T/bad.ini"
	run_grun 10 "$T/bad.ini"
	is "$rc" 2 "bad: '$1': exit status 2"
	like "$(cat "$T/err")" "^$T/bad.ini:3: $2" "bad: '$1': $2"
}
bad 'sockets = a:b' "sockets = a:b: a socket name is up to 255 printable characters without ':' or blanks"
bad 'sockets = a a' 'sockets = a a: a socket is named twice'
bad 'ready = fd:4' 'ready = fd:4 is one of the descriptors of sockets = \(3 to 4\)' 'sockets = a b'
