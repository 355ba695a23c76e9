#!/bin/sh
# 55-stop-order: stopping everything follows needs (a job stops before
# every job it needs, whatever the order in the file or the supervisors)
# and runs in parallel where needs allows; `shutdown = sequential` keeps
# OTP's one-at-a-time reverse order for a supervisor's children, and needs
# wins where the two disagree.  A long needs chain stops in order.
. "$(dirname "$0")/lib.sh"

plan 12

# line ERE: the number of the first line of grun's log matching ERE (0 if none)
line() { grep -nE -- "$1" "$T/err" | head -n 1 | cut -d: -f1 | sed 's/^$/0/'; }
before() { [ "$(line "$1")" -gt 0 ] && [ "$(line "$2")" -gt 0 ] && [ "$(line "$1")" -lt "$(line "$2")" ]; }

# ---- needs across supervisors, parallel elsewhere -----------------------------------------
cat >"$T/p.ini" <<'EOF'
[grun]
stop_timeout = 1s
restart = permanent

[job:api]
supervisor = web
needs = db
cmd = sh -c 'trap "" TERM; echo up; while :; do sleep 0.05; done'

[supervisor:web]

[job:cache]
cmd = sh -c 'trap "" TERM; echo up; while :; do sleep 0.05; done'

[job:db]
cmd = sh -c 'trap "" TERM; echo up; while :; do sleep 0.05; done'
EOF
start_grun "$T/p.ini"
# each job says "up" once it ignores TERM: a TERM that came sooner would
# end it at once, and no "still running" would be logged
ups() { [ "$(grep -c ' | up$' "$T/out")" -ge 3 ]; }
wait_for 10 ups
kill -TERM "$GRUN_PID"
wait_grun 30
is "$rc" 0 "permanent services stopped by SIGTERM: exit 0"
ok "$(before '^grun: api: killed' '^grun: db: stopping'; echo $?)" \
	"api (needs db, written above it, in another supervisor) is gone before db is stopped"
ok "$(before '^grun: cache: stopping' '^grun: api: still running'; echo $?)" \
	"cache (needs nothing) is stopped at the same time as api, not after it"
ok "$(before '^grun: db: stopping' '^grun: cache: killed' || before '^grun: cache: stopping' '^grun: db: stopping'; echo $?)" \
	"cache did not wait for db"

# ---- shutdown = sequential ------------------------------------------------------------------
cat >"$T/s.ini" <<'EOF'
[grun]
restart = permanent

[supervisor:seq]
shutdown = sequential

[job:a]
supervisor = seq
cmd = sleep 1000

[job:b]
supervisor = seq
cmd = sleep 1000

[job:c]
supervisor = seq
cmd = sleep 1000
EOF
start_grun "$T/s.ini"
wait_count ': started' 3 10
kill -TERM "$GRUN_PID"
wait_grun 20
is "$(events '^grun: (a|b|c): (stopping|killed)' | sed 's/ (.*//; s/ by signal TERM//' | tr '\n' '/')" \
	"c: stopping/c: killed/b: stopping/b: killed/a: stopping/a: killed/" \
	"sequential: c, b, a one at a time, each gone before the next is stopped"
is "$rc" 0 "sequential: exit 0"

# ---- sequential against needs: needs wins --------------------------------------------------
cat >"$T/c.ini" <<'EOF'
[grun]
restart = permanent
shutdown = sequential

[job:a]
needs = b
cmd = sleep 1000

[job:b]
cmd = sleep 1000
EOF
start_grun "$T/c.ini"
wait_count ': started' 2 10
kill -TERM "$GRUN_PID"
wait_grun 20
like "$(cat "$T/err")" '^grun: shutdown = sequential contradicts needs: stopping in the order needs asks for$' \
	"sequential against needs: logged"
ok "$(before '^grun: a: killed' '^grun: b: stopping'; echo $?)" "sequential against needs: a (needs b) is stopped first"

# ---- a long needs chain --------------------------------------------------------------------
: >"$T/chain.ini"
printf '[grun]\nrestart = permanent\n\n' >>"$T/chain.ini"
i=0
while [ $i -lt 150 ]; do
	printf '[job:j%d]\n' $i >>"$T/chain.ini"
	[ $i -gt 0 ] && printf 'needs = j%d\n' $((i - 1)) >>"$T/chain.ini"
	printf 'cmd = sleep 1000\n\n' >>"$T/chain.ini"
	i=$((i + 1))
done
start_grun "$T/chain.ini"
wait_count ': started' 150 30
kill -TERM "$GRUN_PID"
wait_grun 60
is "$rc" 0 "chain of 150: exit 0"
order=$(events '^grun: j[0-9]+: stopping' | sed 's/^j\([0-9]*\):.*/\1/' | tr '\n' ' ')
want=$(i=149; while [ $i -ge 0 ]; do printf '%d ' $i; i=$((i - 1)); done)
is "$order" "$want" "chain of 150: stopped from the last dependent to the first job"
is "$(count ': killed by signal TERM')" 150 "chain of 150: every job stopped once"
is "$(left)" 0 "no process left behind"
done_testing
