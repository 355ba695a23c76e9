#!/bin/sh
# 57-exit-status: success = lists the exit statuses and signals that are a
# normal end (restart types, readiness and the summary follow it);
# [grun] exit_status = job passes the significant job's own status
# through; fail_fast (or -F) stops everything at the first failure, -k
# keeps going.
. "$(dirname "$0")/lib.sh"

plan 14

# ---- success = ------------------------------------------------------------------------------
cat >"$T/s.ini" <<'EOF'
[job:three]
success = 0 3
ready = exited
cmd = sh -c 'exit 3'

[job:after_three]
needs = three
cmd = true

[job:hup]
success = 0, SIGHUP
cmd = sh -c 'kill -HUP $$$$'

[job:again]
restart = transient
success = 7
cmd = sh -c 'echo run >>"$GRUN_TEST_TAG/again.runs"; exit 7'
EOF
run_grun 20 "$T/s.ini"
is "$rc" 0 "success = 0 3: exit 3 and a kill by a listed signal are normal ends: grun exits 0"
like "$(cat "$T/err")" '^grun: after_three: started' "success: a job exiting 3 is ready (ready = exited) for the job that needs it"
is "$(wc -l <"$T/again.runs" | tr -d ' ')" 1 "success: a transient job ending with a listed status is not restarted"
like "$(cat "$T/err")" '^grun: 4 jobs ended: 4 succeeded, 0 stopped$' "success: the summary counts them as succeeded"

printf '[job:four]\nsuccess = 0 3\ncmd = sh -c "exit 4"\n' >"$T/f.ini"
run_grun 10 "$T/f.ini"
is "$rc" 1 "success = 0 3: exit 4 is still a failure"

printf '[job:bad]\nsuccess = 0 300\ncmd = true\n' >"$T/b.ini"
run_grun 10 --check "$T/b.ini"
is "$rc|$(cat "$T/err")" "2|$T/b.ini:2: success = 0 300: an exit status is 0 to 255" "success = 300: FILE:LINE error, exit 2"

# ---- exit_status = job ------------------------------------------------------------------------
cat >"$T/j.ini" <<'EOF'
[grun]
exit = any_significant
exit_status = job

[job:svc]
restart = permanent
cmd = sleep 1000

[job:main]
significant = yes
cmd = sh -c 'sleep 0.2; exit 42'
EOF
run_grun 20 "$T/j.ini"
is "$rc" 42 "exit_status = job: the significant job's exit 42 is grun's"
like "$(cat "$T/err")" '^grun: svc: stopping' "exit_status = job: the service was stopped"
sed -i 's/^exit_status = job$//' "$T/j.ini"
run_grun 20 "$T/j.ini"
is "$rc" 1 "without it: a failed significant job makes grun exit 1"

# ---- fail fast ---------------------------------------------------------------------------------
cat >"$T/ff.ini" <<'EOF'
[job:broken]
cmd = sh -c 'sleep 0.2; exit 1'

[job:slow]
cmd = sh -c 'echo started >"$GRUN_TEST_TAG/slow.started"; sleep 2; echo done >"$GRUN_TEST_TAG/slow.done"'
EOF
run_grun 20 "$T/ff.ini"
ok "$([ "$rc" = 1 ] && [ -e "$T/slow.done" ]; echo $?)" "keep going (the default): slow finishes after broken failed, exit 1"
rm -f "$T/slow.done"
run_grun 20 -F "$T/ff.ini"
ok "$([ "$rc" = 1 ] && [ ! -e "$T/slow.done" ]; echo $?)" "-F: broken's failure stops slow, exit 1"
like "$(cat "$T/err")" '^grun: broken failed \(fail_fast\): stopping every job$' "-F: the log says why"
sed -i '1i [grun]\nfail_fast = yes\n' "$T/ff.ini"
run_grun 20 -k "$T/ff.ini"
ok "$([ "$rc" = 1 ] && [ -e "$T/slow.done" ]; echo $?)" "-k overrides [grun] fail_fast = yes"
is "$(left)" 0 "no process left behind"
done_testing
