#!/bin/sh
# 66-notify-access: a job's NOTIFY_SOCKET (ready = notify) takes READY=1
# only from the job's own processes (its process group), as systemd's
# NotifyAccess: a process outside the job, of the same or another user,
# is ignored and logged; then the job's own READY=1 makes it ready.
. "$(dirname "$0")/lib.sh"
command -v perl >/dev/null 2>&1 || skip_all "no perl for the foreign sender"
plan 6

# send_from_outside SOCKET [SETPRIV...]: READY=1 from a process outside
# the job that stays alive while grun reads it (so it can be placed)
send_from_outside() {
	_sock=$1; shift
	"$@" perl -MSocket -e '
		my $p = $ARGV[0]; $p =~ s/^\@/\0/;
		socket(my $s, PF_UNIX, SOCK_DGRAM, 0) or die "socket: $!";
		send($s, "READY=1", 0, pack_sockaddr_un($p)) or die "send: $!";
		sleep 2;' "$_sock"
}

cat >"$T/n.ini" <<'EOF'
[job:svc]
ready = notify
ready_timeout = 60s
cmd = sh -c 'echo "$$NOTIFY_SOCKET" >"$GRUN_TEST_TAG/sock"; while [ ! -e "$GRUN_TEST_TAG/go" ]; do sleep 0.05; done; $GRUN_HELPERS/notify READY=1; exec sleep 1000'
EOF
GRUN_HELPERS=$HELPERS start_grun -v "$T/n.ini"
wait_file "$T/sock" 10
sock=$(cat "$T/sock")
send_from_outside "$sock"
wait_log '^grun: svc: ignored a notification from pid [0-9]+: not a process of the job' 10
ok $? "a READY=1 from a process outside the job (same user) is ignored and logged"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
	send_from_outside "$sock" setpriv --reuid=65534 --regid=65534 --clear-groups
	wait_count 'ignored a notification from pid' 2 10
	ok $? "a READY=1 from another user is ignored and logged"
else
	ok 0 "# SKIP not root, or no setpriv"
fi
settle 300
is "$(count '^grun: svc: ready')" 0 "svc is not ready on those"
touch "$T/go"
wait_log '^grun: svc: ready' 10
ok $? "the job's own READY=1 (from a child in its group, already gone) makes it ready"
kill -TERM "$GRUN_PID"
wait_grun 15
is "$rc" 143 "SIGTERM: exit 143 (a temporary job stopped)"
is "$(left)" 0 "no process left behind"
done_testing
