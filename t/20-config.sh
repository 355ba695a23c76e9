#!/bin/sh
. "$(dirname "$0")/lib.sh"
# 20-config: loading and checking grun.ini(5).  Every message the loader
# (supervise/config.c, keys.c, check.c, values.c) can give, with its exact
# text and line and exit status 2; every problem in a file reported, in
# line order; nothing started when the file is bad; the values that are
# valid (${VAR} expansion, continuation lines, quoting, durations,
# signals); --check, --graph, JOB selection and the usage errors.

plan 105


# ini NAME: writes stdin to $T/NAME.ini.
ini() { cat >"$T/$1.ini"; }

# bad NAME 'LINE: message'...: grun $T/NAME.ini exits 2, prints nothing on
# stdout and exactly these "$T/NAME.ini:LINE: message" lines on stderr.
bad() {
	_f=$1; shift
	_want=$(for _l in "$@"; do printf '%s\n' "$T/$_f.ini:$_l"; done)
	run_grun 10 "$T/$_f.ini"
	is "$rc|$(cat "$T/out")|$(cat "$T/err")" "2||$_want" "$_f: ${1#*: }"
}

# good NAME: grun --check $T/NAME.ini exits 0 and prints nothing.
good() {
	run_grun 10 --check "$T/$1.ini"
	is "$rc|$(cat "$T/out")|$(cat "$T/err")" "0||" "$1: $2"
}

# what the message about an unknown section lists
SECTIONS='(expected [grun], [job:NAME], [supervisor:NAME] or [chan:NAME])'

unset GRUN_T20_UNSET
GRUN_T20_EMPTY=
export GRUN_T20_EMPTY

# ==== sections and keys =====================================================

ini unknown_section <<'EOF'
[job:a]
cmd = true

[jobs:b]
cmd = true
EOF
bad unknown_section "4: unknown section [jobs:b] $SECTIONS"

ini unknown_key_grun <<'EOF'
[grun]
procs = 2
restarts = permanent
[job:a]
cmd = true
EOF
bad unknown_key_grun '3: unknown key restarts in [grun]'

ini unknown_key_job <<'EOF'
[job:a]
cmd = true
# a supervisor key in a job
period = 5s
EOF
bad unknown_key_job '4: unknown key period in [job:]'

ini unknown_key_sup <<'EOF'
[supervisor:s]
strategy = one_for_all
cmd = true
[job:a]
cmd = true
supervisor = s
EOF
bad unknown_key_sup '3: unknown key cmd in [supervisor:]'

ini outside <<'EOF'
; a comment
cmd = true
[job:a]
cmd = true
EOF
bad outside '2: cmd = ... outside of any section'

ini duplicate_key <<'EOF'
[job:a]
cmd = true
restart = transient
env = A=1
env = B=2
restart = temporary
EOF
bad duplicate_key '6: duplicate key restart (first at line 3)'

ini duplicate_job <<'EOF'
[job:a]
cmd = true

[job:b]
cmd = true

[job:a]
cmd = false
EOF
bad duplicate_job '7: duplicate job "a" (first at line 1)'

ini duplicate_sup <<'EOF'
[supervisor:s]
[job:a]
cmd = true
[supervisor:s]
strategy = one_for_all
EOF
bad duplicate_sup '4: duplicate supervisor "s" (first at line 1)'

ini duplicate_grun <<'EOF'
[grun]
procs = 2
[job:a]
cmd = true
[grun]
jobs = 2
EOF
bad duplicate_grun '5: duplicate section [grun] (first at line 1)'

ini bad_names <<'EOF'
[job:a b]
cmd = true
[job:]
cmd = true
[supervisor:x/y]
[job:ok_1-2.3]
cmd = true
[job:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]
cmd = true
EOF
bad bad_names \
	"1: bad name \"a b\" (letters, digits, '_', '-' and '.', at most 63)" \
	"3: bad name \"\" (letters, digits, '_', '-' and '.', at most 63)" \
	"5: bad name \"x/y\" (letters, digits, '_', '-' and '.', at most 63)" \
	"8: bad name \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" (letters, digits, '_', '-' and '.', at most 63)"

# Names up to 63 characters (inih itself keeps only 49 of a section's).
n63=$(awk 'BEGIN { while (length(s) < 63) s = s "n"; print s }')
cat >"$T/long_name.ini" <<EOF
[job:$n63]
cmd = true
ready = exited
[job:b]
cmd = true
needs = $n63
EOF
run_grun 10 --graph "$T/long_name.ini"
is "$rc|$(cat "$T/out")|$(cat "$T/err")" "0|supervisor (root) (one_for_one, intensity 5 in 30s)
  job $n63 (temporary)
  job b (temporary) needs $n63|" "a name of 63 characters"

ini syntax <<'EOF'
[job:a]
cmd = true
this line has no equals sign
EOF
bad syntax '3: syntax error (expected [section], key = value, or a comment)'

# every syntax error, not only the first (inih itself returns one)
ini syntax2 <<'EOF'
[job:a]
cmd = true
first bad line
# a comment
	indented = continuation
[job:b
EOF
bad syntax2 \
	'3: syntax error (expected [section], key = value, or a comment)' \
	'6: syntax error (expected [section], key = value, or a comment)'

# Debian's inih reads into a 200-byte buffer (198 characters and the
# newline); the loader hands it longer lines cut, and takes their values
# whole.  The 64 KiB limit is tested in 21-config-hostile.sh.
long_env() { awk -v n="$1" 'BEGIN { s = "env = X="; while (length(s) < n) s = s "x"; print s }'; }
{ echo '[job:a]'; echo 'cmd = true'; long_env 199; echo 'env = Y=1'; } >"$T/long.ini"
good long "a line of 199 characters is accepted"
{ echo '[job:a]'; echo 'cmd = true'; long_env 198; } >"$T/long_ok.ini"
good long_ok "a line of 198 characters is accepted"

# ==== cmd ===================================================================

ini no_cmd <<'EOF'
[job:a]
cmd = true
[job:b]
restart = transient
EOF
bad no_cmd '3: job b has no cmd'

ini empty_cmd <<'EOF'
[job:a]
cmd =
EOF
bad empty_cmd '2: cmd = : cmd is empty'

ini blank_cmd <<'EOF'
[job:a]
cmd = ${GRUN_T20_UNSET:- }
EOF
bad blank_cmd '2: cmd =  : no command in it'

ini quote_cmd <<'EOF'
[job:a]
cmd = echo "abc
[job:b]
cmd = echo 'abc
EOF
bad quote_cmd \
	'2: cmd = echo "abc: unbalanced quote in cmd' \
	"4: cmd = echo 'abc: unbalanced quote in cmd"

# ==== values ================================================================

ini durations <<'EOF'
[job:a]
cmd = true
stop_timeout = 5
ready = delay:10x
backoff = soon
ready_timeout = 1.5
[supervisor:s]
period = 999999999h
EOF
bad durations \
	'3: stop_timeout = 5: a duration needs a unit (ms, s, m or h)' \
	'4: ready = delay:10x: unknown unit in duration (use ms, s, m or h)' \
	'5: backoff = soon: expected a duration such as 250ms, 10s, 2m or 1h' \
	'6: ready_timeout = 1.5: a duration needs a unit (ms, s, m or h)' \
	'8: period = 999999999h: duration too long'

ini bool <<'EOF'
[job:a]
cmd = true
shell = maybe
EOF
bad bool '3: shell = maybe: expected yes or no'

ini signal <<'EOF'
[grun]
stop_signal = SIGFOO
[job:a]
cmd = true
stop_signal = 0
[job:b]
cmd = true
stop_signal = 65
EOF
bad signal \
	'2: stop_signal = SIGFOO: unknown signal (use a name such as TERM, INT, HUP, QUIT, KILL, USR1 or a number)' \
	'5: stop_signal = 0: unknown signal (use a name such as TERM, INT, HUP, QUIT, KILL, USR1 or a number)' \
	'8: stop_signal = 65: unknown signal (use a name such as TERM, INT, HUP, QUIT, KILL, USR1 or a number)'

ini enums <<'EOF'
[grun]
exit = sometimes
strategy = one_for_some
restart = always
[job:a]
cmd = true
restart = sometimes
EOF
bad enums \
	'2: exit = sometimes: expected auto, any_significant or all_significant' \
	'3: strategy = one_for_some: expected one_for_one, one_for_all or rest_for_one' \
	'7: restart = sometimes: expected permanent, transient or temporary'

ini color <<'EOF'
[grun]
color = purple
[job:a]
cmd = true
EOF
bad color '2: color = purple: expected yes or no'

ini ranges <<'EOF'
[grun]
procs = 0
jobs = 0
intensity = -1
[supervisor:s]
intensity = 1000001
[job:a]
cmd = true
instances = 0
[job:b]
cmd = true
instances = 100001
[job:c]
cmd = true
instances = 2x
EOF
bad ranges \
	'2: procs = 0: expected a whole number in range' \
	'3: jobs = 0: expected a whole number in range' \
	'4: intensity = -1: expected a whole number in range' \
	'6: intensity = 1000001: expected a whole number in range' \
	'9: instances = 0: expected a whole number in range' \
	'12: instances = 100001: expected a whole number in range' \
	'15: instances = 2x: expected a whole number in range'

ini procs_max <<'EOF'
[grun]
procs = 1025
[job:a]
cmd = true
EOF
bad procs_max '2: procs = 1025: expected a whole number in range'

ini period <<'EOF'
[grun]
period = 0
[supervisor:s]
period = 0ms
[job:a]
cmd = true
EOF
bad period \
	'2: period = 0: period must be above 0' \
	'4: period = 0ms: period must be above 0'

ini backoff <<'EOF'
[grun]
backoff = 5s..1s
[job:a]
cmd = true
backoff = 0..5s
EOF
bad backoff \
	'2: backoff = 5s..1s: backoff MIN..MAX with MIN greater than MAX' \
	'5: backoff = 0..5s: backoff MIN..MAX needs MIN above 0 (it doubles from MIN); write backoff = 0 to restart at once'

ini umask <<'EOF'
[job:a]
cmd = true
umask = 999
[job:b]
cmd = true
umask = 1000
EOF
bad umask \
	'3: umask = 999: expected an octal mask such as 022' \
	'6: umask = 1000: expected an octal mask such as 022'

ini env <<'EOF'
[job:a]
cmd = true
env = NOEQUALS
env = =value
env = 1X=2
env = X-Y=1
env = OK=1 "Q=unbalanced
EOF
bad env \
	'3: env = NOEQUALS: expected NAME=VALUE' \
	'4: env = =value: expected NAME=VALUE' \
	'5: env = 1X=2: bad variable name (letters, digits and _)' \
	'6: env = X-Y=1: bad variable name (letters, digits and _)' \
	'7: env = OK=1 "Q=unbalanced: unbalanced quote'

ini env_file_missing <<EOF
[job:a]
cmd = true
env_file = $T/no-such.env
EOF
bad env_file_missing "3: env_file = $T/no-such.env: env_file $T/no-such.env: No such file or directory"

printf '# settings\nA=1\n\nexport B=2\nC D\n' >"$T/bad.env"
ini env_file_line <<EOF
[job:a]
cmd = true
env_file = $T/bad.env
EOF
bad env_file_line "3: env_file = $T/bad.env: env_file $T/bad.env line 5: expected NAME=VALUE"

ini user <<'EOF'
[job:a]
cmd = true
user = no-such-user-grun-t20
group = no-such-group-grun-t20
EOF
bad user \
	'3: user = no-such-user-grun-t20: no such user' \
	'4: group = no-such-group-grun-t20: no such group'

ini user_root <<'EOF'
[job:a]
cmd = true
user = root
EOF
if [ "$(id -u)" -eq 0 ]; then
	good user_root "user = root is accepted when grun runs as root"
else
	bad user_root '3: user = root: user = needs grun to run as root'
fi

# ==== ready =================================================================

ini ready <<'EOF'
[job:a]
cmd = true
ready = fd:2
[job:b]
cmd = true
ready = fd:x
[job:c]
cmd = true
ready = tcp:localhost
[job:d]
cmd = true
ready = tcp::80
[job:e]
cmd = true
ready = file:
[job:f]
cmd = true
ready = delay:bad
[job:g]
cmd = true
ready = socket
[job:h]
cmd = true
ready = tcp:localhost:65536
EOF
bad ready \
	'3: ready = fd:2: ready = fd:N needs N from 3 to 1023 (0, 1 and 2 are the standard streams)' \
	'6: ready = fd:x: ready = fd:N needs N from 3 to 1023 (0, 1 and 2 are the standard streams)' \
	'9: ready = tcp:localhost: expected ready = tcp:HOST:PORT' \
	'12: ready = tcp::80: expected ready = tcp:HOST:PORT' \
	'15: ready = file:: expected ready = file:PATH' \
	'18: ready = delay:bad: expected a duration such as 250ms, 10s, 2m or 1h' \
	'21: ready = socket: expected started, exited, notify, fd:N, tcp:HOST:PORT, http://HOST:PORT/PATH, exec:COMMAND, log:REGEX, file:PATH or delay:DURATION' \
	'24: ready = tcp:localhost:65536: expected ready = tcp:HOST:PORT'

ini ready_timeout <<'EOF'
[job:a]
cmd = true
ready_timeout = 5s
[job:b]
cmd = true
ready = started
ready_timeout = 1s
EOF
bad ready_timeout \
	'3: ready_timeout needs a ready = condition other than started' \
	'7: ready_timeout needs a ready = condition other than started'

ini exited_permanent <<'EOF'
[grun]
restart = permanent
[job:a]
cmd = true
ready = exited
EOF
bad exited_permanent '5: ready = exited cannot work with restart = permanent (a permanent job is restarted whenever it exits)'

ini significant_permanent <<'EOF'
[grun]
exit = any_significant
[job:a]
cmd = true
significant = yes
restart = permanent
EOF
bad significant_permanent '5: significant = yes needs restart = transient or temporary (a permanent job never ends for good)'

ini no_significant <<'EOF'
# no job is significant
[grun]
exit = any_significant
[job:a]
cmd = true
significant = no
EOF
bad no_significant '2: exit = any_significant but no job has significant = yes'

ini no_significant_all <<'EOF'
[grun]
exit = all_significant
[job:a]
cmd = true
EOF
bad no_significant_all '1: exit = all_significant but no job has significant = yes'

# ==== standard streams ======================================================

ini io <<'EOF'
[job:a]
cmd = true
stdin = log
[job:b]
cmd = true
stdout = stdout
[job:c]
cmd = true
stderr = file:
EOF
bad io \
	'3: stdin = log: expected null, inherit, file:PATH or chan:NAME' \
	'6: stdout = stdout: expected log, null, inherit, file:PATH or chan:NAME' \
	'9: stderr = file:: expected log, stdout, null, inherit, file:PATH or chan:NAME'

ini stdin_instances <<'EOF'
[job:a]
cmd = true

[job:b]
cmd = true
stdin = inherit
instances = 2
EOF
bad stdin_instances "4: job b: stdin = inherit with instances = 2 (the instances would race for grun's stdin)"

# ==== references ============================================================

ini unknown_sup <<'EOF'
[job:a]
cmd = true
supervisor = web
EOF
bad unknown_sup '3: supervisor = web: no such supervisor (define it with [supervisor:NAME])'

ini unknown_parent <<'EOF'
[supervisor:s]
parent = nosuch
[job:a]
cmd = true
supervisor = s
EOF
bad unknown_parent '2: parent = nosuch: no such supervisor'

# a cycle of three, reported once; t hangs off it without being part of it
ini sup_cycle <<'EOF'
[supervisor:s1]
parent = s2
[supervisor:s2]
parent = s3
[supervisor:s3]
parent = s1
[supervisor:t]
parent = s3
[job:a]
cmd = true
EOF
bad sup_cycle '2: supervisor parents form a cycle: s1 -> s2 -> s3 -> s1'

ini needs_unknown <<'EOF'
[job:a]
cmd = true
[job:b]
cmd = true
needs = a, nosuch
EOF
bad needs_unknown '5: needs = nosuch: no job called nosuch'

ini needs_itself <<'EOF'
[job:a]
cmd = true
needs = a
EOF
bad needs_itself '3: job a needs itself'

ini needs_cycle <<'EOF'
[job:a]
cmd = true
needs = c
[job:b]
cmd = true
needs = a
[job:c]
cmd = true
needs = b
[job:d]
cmd = true
needs = a
EOF
bad needs_cycle '3: dependency cycle: a -> c -> b -> a'

# ==== ${VAR} ================================================================

ini var_unset <<'EOF'
[job:a]
cmd = echo ${GRUN_T20_UNSET}
EOF
bad var_unset '2: cmd: ${GRUN_T20_UNSET} is not set (give a default with ${GRUN_T20_UNSET:-value})'

ini var_bad <<'EOF'
[job:a]
cmd = echo ${HOME
[job:b]
cmd = echo ${1X}
[job:c]
cmd = echo ${HOME:=x}
[job:d]
cmd = true
dir = ${}
EOF
bad var_bad \
	'2: cmd: bad variable reference (write ${NAME}, ${NAME:-default} or $$ for a $)' \
	'4: cmd: bad variable reference (write ${NAME}, ${NAME:-default} or $$ for a $)' \
	'6: cmd: bad variable reference (write ${NAME}, ${NAME:-default} or $$ for a $)' \
	'9: dir: bad variable reference (write ${NAME}, ${NAME:-default} or $$ for a $)'

# ==== files =================================================================

ini no_jobs <<'EOF'
# nothing to run
[grun]
procs = 2

[supervisor:s]
EOF
bad no_jobs '5: no jobs (add a [job:NAME] section with a cmd)'

run_grun 10 "$T/does-not-exist.ini"
is "$rc|$(cat "$T/out")|$(cat "$T/err")" "2||$T/does-not-exist.ini: No such file or directory" \
	"a file that does not exist: exit 2 and its name"

# ==== every problem, in line order ==========================================

# Found in different passes (syntax while reading, sections, keys, graph):
# printed sorted by line.
ini five <<'EOF'
[job:a]
cmd = true
needs = nosuch
stop_timeout = 5
[bogus]
[job:b]
cmd = true
restart = sometimes
this is not a key
EOF
run_grun 10 "$T/five.ini"
is "$rc" 2 "five errors: exit status 2"
is "$(cat "$T/err")" "$T/five.ini:3: needs = nosuch: no job called nosuch
$T/five.ini:4: stop_timeout = 5: a duration needs a unit (ms, s, m or h)
$T/five.ini:5: unknown section [bogus] $SECTIONS
$T/five.ini:8: restart = sometimes: expected permanent, transient or temporary
$T/five.ini:9: syntax error (expected [section], key = value, or a comment)" \
	"five errors: five lines, in line order"
is "$(wc -l <"$T/err" | tr -d ' ')" 5 "five errors: no other line"

# ==== nothing starts when the file is bad ===================================

ini starts <<'EOF'
[job:first]
cmd = touch ${GRUN_TEST_TAG}/started
EOF
run_grun 10 "$T/starts.ini"
is "$rc" 0 "control: the valid file runs its job"
ok "$([ -e "$T/started" ]; echo $?)" "control: the job made $T/started"
rm -f "$T/started"

ini nostart <<'EOF'
[job:first]
cmd = touch ${GRUN_TEST_TAG}/started

[job:second]
cmd = true
stop_timeout = forever
EOF
run_grun 10 "$T/nostart.ini"
is "$rc|$(cat "$T/err")" "2|$T/nostart.ini:6: stop_timeout = forever: expected a duration such as 250ms, 10s, 2m or 1h" \
	"bad file: exit 2 with its error"
sleep 0.2
ok "$([ ! -e "$T/started" ]; echo $?)" "bad file: no job was started (no $T/started)"
is "$(cat "$T/out")" "" "bad file: no job output"

# ==== valid values, run for real ============================================

# ${VAR:-default} when unset and when empty, ${VAR} from the job's own env
# written below cmd, $$, quoting, and a continuation joined with one blank.
ini expand <<'EOF'
[job:p]
cmd = printf '%s\n' ${GRUN_T20_UNSET:-unset-default} ${GRUN_T20_EMPTY:-empty-default}
    ${MINE} $$HOME 'a b' "x\"y" 'one
	two' z
env = MINE=from-env-below
EOF
run_grun 10 "$T/expand.ini"
is "$rc" 0 "expand: exit status 0"
is "$(cat "$T/out")" "p | unset-default
p | empty-default
p | from-env-below
p | \$HOME
p | a b
p | x\"y
p | one two
p | z" "expand: defaults, own env, \$\$, quotes, continuation joined with one blank"

ini args <<'EOF'
[job:args]
cmd = printf '%s\n' a b
EOF
run_grun 10 "$T/args.ini"
is "$rc|$(cat "$T/out")" "0|args | a
args | b" "printf job: each word on its own prefixed line"

printf '# from a file\nexport FROM_FILE=ff\n\n  OTHER="as is"\n' >"$T/ok.env"
ini env_file_ok <<EOF
[job:e]
cmd = sh -c 'printf "%s\n" "\$FROM_FILE" "\$OTHER"'
env_file = $T/ok.env
EOF
run_grun 10 "$T/env_file_ok.ini"
is "$rc|$(cat "$T/out")" "0|e | ff
e | \"as is\"" "env_file: export, comments and blanks; values as written, in the job's environment"

# BOM at the start of a file (inih skips it)
printf '\357\273\277[job:bom]\ncmd = true\n' >"$T/bom.ini"
good bom "a UTF-8 BOM before the first header"

# ==== valid values, checked =================================================

ini durations_ok <<'EOF'
[grun]
period = 1.5s
stop_timeout = 0
backoff = 250ms..2m
[supervisor:s]
period = 250ms
[supervisor:t]
period = 2m
[job:a]
cmd = true
stop_timeout = 1.5s
ready = delay:250ms
ready_timeout = 2m
backoff = 0
supervisor = s
[job:b]
cmd = true
backoff = 1h
supervisor = t
EOF
good durations_ok "durations 1.5s, 250ms, 2m, 1h and 0 accepted"
run_grun 10 --graph "$T/durations_ok.ini"
is "$rc|$(cat "$T/out")" "0|supervisor (root) (one_for_one, intensity 5 in 1500ms)
  supervisor s (one_for_one, intensity 5 in 250ms)
    job a (temporary)
  supervisor t (one_for_one, intensity 5 in 120s)
    job b (temporary)" "durations: 1.5s is 1500ms, 2m is 120s"

ini signals_ok <<'EOF'
[grun]
stop_signal = SIGTERM
[job:a]
cmd = true
stop_signal = TERM
[job:b]
cmd = true
stop_signal = 15
[job:c]
cmd = true
stop_signal = sigkill
EOF
good signals_ok "signals SIGTERM, TERM, 15 and sigkill accepted"

ini misc_ok <<'EOF'
[grun]
procs = auto
jobs = unlimited
exit = all_significant
color = auto
[job:a]
cmd = true
significant = yes
restart = transient
ready = tcp:localhost:65535
stdin = file:/dev/null
stdout = null
stderr = stdout
umask = 022
[job:b]
cmd = true
ready = fd:3
instances = 3
stdin = null
env = A=1 "B=two words"
env = A=2
[job:c]
cmd = sleep 1; echo done
shell = yes
ready = file:/tmp/x
EOF
good misc_ok "other valid values accepted"

# ==== --check ===============================================================

run_grun 10 --check "$T/args.ini"
is "$rc|$(cat "$T/out")|$(cat "$T/err")" "0||" "--check: a valid file: exit 0, no output"
run_grun 10 -c "$T/five.ini"
is "$rc" 2 "-c: an invalid file: exit 2"
is "$(wc -l <"$T/err" | tr -d ' ')|$(head -n 1 "$T/err")" \
	"5|$T/five.ini:3: needs = nosuch: no job called nosuch" "-c: its errors on stderr"
is "$(cat "$T/out")" "" "-c: nothing on stdout"

# ==== --graph ===============================================================

ini graph <<'EOF'
[grun]
strategy = one_for_all

[supervisor:web]
strategy = rest_for_one
intensity = 3
period = 10s

[supervisor:inner]
parent = web

[job:a]
cmd = true
ready = exited

[job:b]
cmd = true
needs = a
supervisor = web
restart = permanent

[job:c]
cmd = true
needs = b
supervisor = inner
instances = 2

[job:d]
cmd = true
needs = a
EOF
run_grun 10 --graph "$T/graph.ini"
is "$rc|$(cat "$T/err")" "0|" "--graph: exit 0, nothing on stderr"
is "$(cat "$T/out")" "supervisor (root) (one_for_all, intensity 5 in 30s)
  job a (temporary)
  job d (temporary) needs a
  supervisor web (rest_for_one, intensity 3 in 10s)
    job b (permanent) needs a
    supervisor inner (one_for_one, intensity 5 in 30s)
      job c (temporary, 2 instances) needs b" "--graph: the tree as text"

run_grun 10 --graph=text "$T/graph.ini"
is "$rc|$(head -n 1 "$T/out")|$(wc -l <"$T/out" | tr -d ' ')" \
	"0|supervisor (root) (one_for_all, intensity 5 in 30s)|7" "--graph=text: the same"

run_grun 10 --graph=dot "$T/graph.ini"
is "$rc|$(cat "$T/err")" "0|" "--graph=dot: exit 0"
is "$(cat "$T/out")" 'digraph grun {
  rankdir=LR;
  subgraph "cluster_root" {
    label="root (one_for_all)";
    "a";
    "d";
    subgraph "cluster_web" {
      label="web (rest_for_one)";
      "b";
      subgraph "cluster_inner" {
        label="inner (one_for_one)";
        "c";
      }
    }
  }
  "a" -> "b";
  "b" -> "c";
  "a" -> "d";
}' "--graph=dot: clusters for supervisors, edges for needs"

run_grun 10 --graph=bad "$T/graph.ini"
is "$rc|$(cat "$T/out")|$(cat "$T/err")" "2||grun: --graph=bad: expected text or dot" "--graph=bad: exit 2"

run_grun 10 --graph "$T/five.ini"
is "$rc|$(cat "$T/out")|$(wc -l <"$T/err" | tr -d ' ')" "2||5" "--graph of an invalid file: exit 2, errors only"

# ==== JOB selection =========================================================

run_grun 10 --graph "$T/graph.ini" c
is "$rc|$(cat "$T/out")" "0|supervisor (root) (one_for_all, intensity 5 in 30s)
  job a (temporary)
  supervisor web (rest_for_one, intensity 3 in 10s)
    job b (permanent) needs a
    supervisor inner (one_for_one, intensity 5 in 30s)
      job c (temporary, 2 instances) needs b" "--graph FILE c: c and what it needs, transitively (not d)"

run_grun 10 --graph=dot "$T/graph.ini" d
is "$(grep -- '->' "$T/out")" '  "a" -> "d";' "--graph=dot FILE d: only d's edge"

run_grun 10 "$T/graph.ini" nosuchjob
is "$rc|$(cat "$T/out")|$(cat "$T/err")" "2||grun: $T/graph.ini: no job called nosuchjob" \
	"FILE nosuchjob: exit 2, no job called nosuchjob"

run_grun 10 --check "$T/graph.ini" a nosuch1 nosuch2
is "$rc|$(cat "$T/err")" "2|grun: $T/graph.ini: no job called nosuch1
grun: $T/graph.ini: no job called nosuch2" "--check FILE a x y: every unknown job named"

# ==== usage =================================================================

run_grun 10
is "$rc|$(cat "$T/out")" "2|" "no FILE: exit 2, nothing on stdout"
is "$(head -n 1 "$T/err")" "usage: grun [options] FILE [JOB...]" "no FILE: usage on stderr"

run_grun 10 --bogus "$T/args.ini"
is "$rc|$(cat "$T/out")" "2|" "unknown option: exit 2"
like "$(head -n 1 "$T/err")" "unrecognized option '--bogus'" "unknown option: named"
is "$(sed -n 2p "$T/err")" "usage: grun [options] FILE [JOB...]" "unknown option: usage on stderr"

run_grun 10 -x "$T/args.ini"
is "$rc|$(sed -n 2p "$T/err")" "2|usage: grun [options] FILE [JOB...]" "unknown short option: exit 2, usage"

run_grun 10 -j 0 "$T/args.ini"
is "$rc|$(cat "$T/out")|$(cat "$T/err")" "2||grun: -j 0: expected a number from 1 to 1000000" "-j 0: exit 2"

run_grun 10 -P x "$T/args.ini"
is "$rc|$(cat "$T/out")|$(cat "$T/err")" "2||grun: -P x: expected a number from 1 to 1024" "-P x: exit 2"

run_grun 10 -P 1025 "$T/args.ini"
is "$rc|$(cat "$T/out")|$(cat "$T/err")" "2||grun: -P 1025: expected a number from 1 to 1024" "-P 1025: exit 2, as grun(1) says"

run_grun 10 --jobs=1000001 "$T/args.ini"
is "$rc|$(cat "$T/err")" "2|grun: -j 1000001: expected a number from 1 to 1000000" "--jobs=1000001: exit 2"

run_grun 10 --color bad "$T/args.ini"
is "$rc|$(cat "$T/out")|$(cat "$T/err")" "2||grun: --color bad: expected auto, always or never" "--color bad: exit 2"

run_grun 10 -j
is "$rc|$(sed -n 2p "$T/err")" "2|usage: grun [options] FILE [JOB...]" "-j without N: exit 2, usage"

run_grun 10 --help
is "$rc|$(cat "$T/err")" "0|" "--help: exit 0, nothing on stderr"
is "$(head -n 1 "$T/out")" "usage: grun [options] FILE [JOB...]" "--help: usage on stdout"
like "$(cat "$T/out")" '^  -c, --check' "--help: lists the options"

run_grun 10 -h
is "$rc|$(head -n 1 "$T/out")" "0|usage: grun [options] FILE [JOB...]" "-h: the same"

run_grun 10 --version
is "$rc|$(cat "$T/out")|$(cat "$T/err")" "0|grun 0.1|" "--version: grun 0.1"

run_grun 10 -V
is "$rc|$(cat "$T/out")" "0|grun 0.1" "-V: the same"

# Options after FILE are JOB names, not options.
run_grun 10 --check "$T/args.ini" --version
is "$rc|$(cat "$T/out")|$(cat "$T/err")" "2||grun: $T/args.ini: no job called --version" \
	"an option after FILE is a JOB name"

# inih takes " ;" for the start of a comment: in a cmd, grun warns
cat >"$T/semi.ini" <<'EOF'
[job:a]
cmd = echo a ; echo b

[job:b]
cmd = sh -c 'echo a; echo b'
EOF
run_grun 10 --check "$T/semi.ini"
is "$rc|$(cat "$T/err")" "0|$T/semi.ini:2: warning: cmd: the text from ' ;' on is a comment, not part of the command (write the ';' right after a word, or put the command in a script)" \
	"cmd with ' ;': a warning naming the line; a ';' right after a word: none"

ok "$(no_tagged_left; echo $?)" "no process left behind"

done_testing
