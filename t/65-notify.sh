#!/bin/sh
# grun as a systemd Type=notify service: READY=1 on $NOTIFY_SOCKET once
# every job is ready (not before), RELOADING=1 then READY=1 around a
# SIGHUP, STOPPING=1 at SIGTERM; the jobs never see grun's NOTIFY_SOCKET.
. "$(dirname "$0")/lib.sh"
command -v perl >/dev/null 2>&1 || skip_all "no perl for the notify listener"
plan 7

# the listener: one line per datagram (newlines inside become spaces), with
# the milliseconds since it started
cat >"$T/listen.pl" <<'PERL'
use strict; use Socket; use Time::HiRes qw(time);
my ($path, $out) = @ARGV;
socket(my $s, PF_UNIX, SOCK_DGRAM, 0) or die "socket: $!";
bind($s, pack_sockaddr_un($path)) or die "bind: $!";
open(my $f, ">", $out) or die; select((select($f), $| = 1)[0]);
my $t0 = time;
while (defined(recv($s, my $m, 4096, 0))) {
	$m =~ s/\n/ /g;
	printf $f "%d %s\n", (time - $t0) * 1000, $m;
}
PERL
perl "$T/listen.pl" "$T/notify.sock" "$T/notes" &
LISTENER=$!
wait_file "$T/notify.sock" 5

cat >"$T/svc.ini" <<'EOF2'
[job:slow]
cmd = sh -c 'echo "NOTIFY_SOCKET=$${NOTIFY_SOCKET:-unset}" > ${GRUN_TEST_TAG}/env; exec sleep 100'
restart = permanent
ready = delay:600ms
EOF2
start_ms=$(date +%s%3N)
NOTIFY_SOCKET=$T/notify.sock start_grun "$T/svc.ini"
wait_log 'slow: ready' 10
wait_file "$T/env" 5
wait_grep 'READY=1' "$T/notes" 5
ready_ms=$(awk '/READY=1/ { print $1; exit }' "$T/notes")
ok "$([ -n "$ready_ms" ] && [ "$ready_ms" -ge 500 ]; echo $?)" "READY=1 sent once the slow job is ready (after ${ready_ms:-never} ms, delay 600 ms)"
is "$(cat "$T/env")" "NOTIFY_SOCKET=unset" "the job does not get grun's NOTIFY_SOCKET"

kill -HUP "$GRUN_PID"
wait_log 'reloaded' 10
two_ready() { [ "$(grep -c 'READY=1' "$T/notes")" -ge 2 ]; }
wait_for 5 two_ready
is "$(sed 's/^[0-9]* //' "$T/notes" | grep -o 'READY=1\|RELOADING=1' | tr '\n' ' ')" "READY=1 RELOADING=1 READY=1 " \
	"SIGHUP: RELOADING=1, then READY=1"

kill -TERM "$GRUN_PID"
wait_grun 15
is "$rc" 0 "SIGTERM: exit status 0"
# sent before grun exited, but the listener may not have written it yet
wait_grep 'STOPPING=1' "$T/notes" 5
like "$(cat "$T/notes")" 'STOPPING=1' "SIGTERM: STOPPING=1 sent"

kill "$LISTENER" 2>/dev/null
wait "$LISTENER" 2>/dev/null
# without NOTIFY_SOCKET nothing is sent and nothing breaks
run_grun 10 --check "$T/svc.ini"
is "$rc" 0 "--check of the service file"
no_tagged_left 5; ok $? "no process left"
done_testing
