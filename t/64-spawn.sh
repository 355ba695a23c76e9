#!/bin/sh
# 64-spawn: how a job's process is made.  env and env_file, GRUN_JOB and
# GRUN_INSTANCE, dir, umask, user (as root), its own session and process
# group, default signal dispositions, argv splitting and shell = yes, and
# what happens when the command cannot be run.
. "$(dirname "$0")/lib.sh"

plan 44

# left [SECS]: 0 once no tagged process is left (for ok).
# lines NAME: what job NAME printed, joined by "/".
lines() { sed -n "s/^$1 *| //p" "$T/out" | tr '\n' '/'; }
pid_of() { sed -n "s/^grun: $1: started (pid \([0-9]*\))\$/\1/p" "$T/err" | tail -n 1; }

# ---- environment ------------------------------------------------------------------
cat >"$T/env.list" <<'EOF'
# a comment, then a blank line

X=from_file
export Y=exported
Z=a=b
W=from_file
EOF
cat >"$T/env.ini" <<'EOF'
[job:e]
env = A=1 "B=two words"
env_file = ${GRUN_TEST_TAG}/env.list
env = W=from_env HOME=/job/home
cmd = sh -c 'printf "%s|" "$$A" "$$B" "$$X" "$$Y" "$$Z" "$$W" "$$HOME" "$$INHERITED" "$${NOTSET-unset}"'

[job:expand]
env = GREETING=hello
cmd = echo ${GREETING} ${INHERITED}

[job:id]
cmd = sh -c 'echo "$$GRUN_JOB $$GRUN_INSTANCE"'

[job:w]
instances = 3
cmd = sh -c 'echo "$$GRUN_JOB $$GRUN_INSTANCE"'
EOF
INHERITED=from-grun GRUN_JOB=outer GRUN_INSTANCE=99
export INHERITED GRUN_JOB GRUN_INSTANCE
HOME=/grun/home run_grun 10 "$T/env.ini"
unset INHERITED GRUN_JOB GRUN_INSTANCE
is "$rc" 0 "env: exit status 0"
is "$(lines e)" "1|two words|from_file|exported|a=b|from_env|/job/home|from-grun|unset|/" \
	"env: env (quoted words), env_file (comments, export, = in values), later keys win, grun's environment inherited"
is "$(lines expand)" "hello from-grun/" "env: \${VAR} in cmd comes from env, then grun's environment"
is "$(lines id)" "id 1/" "env: GRUN_JOB and GRUN_INSTANCE (1 for a single instance), not grun's own"
is "$(sort "$T/out" | sed -n 's/^w#\([0-9]\) *| /\1:/p' | tr '\n' '/')" "1:w 1/2:w 2/3:w 3/" \
	"env: instances = 3: w#1..w#3 with GRUN_JOB=w and GRUN_INSTANCE 1..3"
ok "$(left)" "env: no process left"

# ---- dir, umask ------------------------------------------------------------------------
mkdir -p "$T/sub"
printf '#!/bin/sh\necho "relative script in $(pwd)"\n' >"$T/sub/here.sh"
chmod +x "$T/sub/here.sh"
cat >"$T/cwd.ini" <<'EOF'
[job:d]
dir = ${GRUN_TEST_TAG}/sub
cmd = pwd

[job:rel]
dir = ${GRUN_TEST_TAG}/sub
cmd = ./here.sh

[job:m]
umask = 027
cmd = sh -c 'umask; touch ${GRUN_TEST_TAG}/m.file; mkdir ${GRUN_TEST_TAG}/m.dir'

[job:inh]
cmd = sh -c umask
EOF
(umask 077 && "$GRUN" "$T/cwd.ini" >"$T/out" 2>"$T/err")
rc=$?
is "$rc" 0 "cwd: exit status 0"
is "$(lines d)" "$T/sub/" "dir: the job runs in dir"
is "$(lines rel)" "relative script in $T/sub/" "dir: a relative cmd is found in dir"
is "$(lines m)" "0027/" "umask = 027: applied"
is "$(stat -c %a "$T/m.file"):$(stat -c %a "$T/m.dir")" "640:750" "umask = 027: new files 640, directories 750"
is "$(lines inh)" "0077/" "no umask key: grun's umask is inherited"
ok "$(left)" "cwd: no process left"

cat >"$T/nodir.ini" <<'EOF'
[job:lost]
dir = ${GRUN_TEST_TAG}/no-such-dir
cmd = pwd

[job:after]
needs = lost
cmd = true
EOF
run_grun 10 "$T/nodir.ini"
is "$rc" 1 "dir missing: exit status 1"
like "$(grep '^grun: lost:' "$T/err")" 'lost: .*No such file or directory' "dir missing: the error is logged"
ok "$(grep -q '^grun: lost: cannot enter directory .*no-such-dir' "$T/err"; echo $?)" "dir missing: the message names the directory"
like "$(cat "$T/err")" '^grun: after: skipped: needs lost, which failed$' "dir missing: the job failed, its dependent skipped"

# ---- user = (as root) ----------------------------------------------------------------------
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	cat >"$T/user.ini" <<'EOF'
[job:u]
user = nobody
cmd = sh -c 'id -u; id -g; id -G; touch ${GRUN_TEST_TAG}/u.dir/file'
EOF
	chmod o+x "$T" # nobody must reach u.dir
	mkdir -p "$T/u.dir"
	chmod 777 "$T/u.dir"
	run_grun 10 "$T/user.ini"
	is "$rc" 0 "user = nobody: exit status 0"
	is "$(lines u)" "$(id -u nobody)/$(id -g nobody)/$(id -g nobody)/" \
		"user = nobody: uid, gid of nobody, no other groups"
	is "$(stat -c %U "$T/u.dir/file" 2>/dev/null)" nobody "user = nobody: files it makes belong to nobody"
	# a numeric uid with no passwd entry has no group: group = must say it
	# (keeping grun's would be root's); with it, that group and no other
	uid=4242
	while getent passwd $uid >/dev/null 2>&1; do uid=$((uid + 1)); done
	printf '[job:num]\nuser = %s\ncmd = sh -c "id -u; id -g; id -G"\n' $uid >"$T/user2.ini"
	run_grun 10 "$T/user2.ini"
	is "$rc|$(cat "$T/err")" "2|$T/user2.ini:2: user = $uid has no entry in the password database to take a group from: set group = as well" \
		"user = $uid (no passwd entry), no group: an error, nothing runs as root's group"
	printf 'group = %s\n' $uid >>"$T/user2.ini"
	run_grun 10 "$T/user2.ini"
	is "$rc:$(lines num)" "0:$uid/$uid/$uid/" "user = $uid, group = $uid: that uid and gid, no supplementary groups"
else
	for d in "exit status 0" "uid, gid, groups" "file owner" "numeric uid" "numeric uid and gid"; do
		ok 0 "user = nobody: $d # SKIP not root, or no user nobody"
	done
fi

# ---- session, process group, signals --------------------------------------------------
cat >"$T/proc.ini" <<'EOF'
[job:st]
cmd = cut -d" " -f1,5,6,7 /proc/self/stat

[job:sig]
cmd = grep -E "^Sig(Blk|Ign):" /proc/self/status
EOF
# started in the background by a non-interactive shell, grun itself has
# SIGINT and SIGQUIT ignored; its jobs must not inherit that
start_grun "$T/proc.ini"
wait_grun 10
is "$rc" 0 "proc: exit status 0"
st=$(pid_of st)
is "$(lines st)" "$st $st $st 0/" "proc: the job leads its own session and process group, with no terminal"
is "$(lines sig | tr -s '\t ' ' ')" "SigBlk: 0000000000000000/SigIgn: 0000000000000000/" \
	"proc: no signal blocked or ignored in the job"
ok "$(left)" "proc: no process left"

# the same with grun on a terminal: the job still has none
if command -v script >/dev/null 2>&1; then
	timeout "$(secs 10)" script -qec "$GRUN $T/proc.ini" /dev/null >"$T/tty.out" 2>&1
	like "$(grep '^st ' "$T/tty.out" | tr -d '\r')" '^st  \| ([0-9]+) \1 \1 0$' "proc, grun on a tty: the job has no controlling terminal"
else
	ok 0 "proc, grun on a tty: no controlling terminal # SKIP no script(1)"
fi

# ---- argv, shell = yes ------------------------------------------------------------------------
cat >"$T/argv.ini" <<'EOF'
[job:words]
cmd = printf "<%s>" 'a b' "c d" e\ f plain

[job:noshell]
cmd = echo $$HOME && echo a | tr a b

[job:shell]
shell = yes
cmd = echo $$0 && echo a | tr a b
EOF
run_grun 10 "$T/argv.ini"
is "$rc" 0 "argv: exit status 0"
is "$(lines words)" "<a b><c d><e f><plain>/" "argv: quotes and backslashes split words like sh, no shell run"
is "$(lines noshell)" "\$HOME && echo a | tr a b/" "argv: without shell, \$, && and | are plain words"
is "$(lines shell)" "/bin/sh/b/" "shell = yes: run by /bin/sh -c"
ok "$(left)" "argv: no process left"

# ---- commands that cannot run ------------------------------------------------------------------
chmod -x "$T/sub/here.sh"
cat >"$T/bad.ini" <<'EOF'
[job:nf]
cmd = no-such-command-xyz --flag

[job:noexec]
cmd = ${GRUN_TEST_TAG}/sub/here.sh

[job:dependent]
needs = nf
cmd = true

[job:fine]
cmd = true
EOF
run_grun 10 "$T/bad.ini"
is "$rc" 1 "cannot run: exit status 1"
like "$(cat "$T/err")" '^grun: nf: cannot run no-such-command-xyz: command not found$' "cannot run: not found is logged"
like "$(cat "$T/err")" "^grun: noexec: cannot run $T/sub/here.sh: Permission denied\$" "cannot run: not executable is logged"
unlike "$(cat "$T/err")" 'grun: (nf|noexec|dependent): started' "cannot run: nothing was started for them"
like "$(cat "$T/err")" '^grun: dependent: skipped: needs nf, which failed$' "cannot run: the dependent is skipped"
is "$(tail -n 1 "$T/err")" \
	"grun: 4 jobs ended: 1 succeeded, 2 failed, 1 skipped, 0 stopped (nf failed, noexec failed, dependent skipped)" \
	"cannot run: counted as failed"
ok "$(left)" "cannot run: no process left"

# the executable is found along PATH when the config is loaded; a program
# missing then (installed by an earlier job) or moved since (removed from
# the directory it was found in) is looked for again at the spawn
mkdir -p "$T/bin1" "$T/bin2"
printf '#!/bin/sh\necho moved-from-bin1\n' >"$T/bin1/t64-moved"
printf '#!/bin/sh\necho moved-to-bin2\n' >"$T/bin2/t64-moved"
printf '#!/bin/sh\necho late-ok\n' >"$T/late-src"
chmod +x "$T/bin1/t64-moved" "$T/bin2/t64-moved" "$T/late-src"
cat >"$T/late.ini" <<EOF
[grun]
ready = exited
[job:install]
cmd = sh -c 'cp -p $T/late-src $T/bin1/t64-late && rm $T/bin1/t64-moved'
[job:late]
needs = install
env = PATH=$T/bin1:$T/bin2:/usr/bin:/bin
cmd = t64-late
[job:moved]
needs = install
env = PATH=$T/bin1:$T/bin2:/usr/bin:/bin
cmd = t64-moved
EOF
run_grun 10 "$T/late.ini"
is "$rc|$(lines late)" "0|late-ok/" "a program missing at load and installed by an earlier job runs"
is "$(lines moved)" "moved-to-bin2/" "a program removed since the load is found again along PATH"

# a permanent job that cannot run is not a reason to spin
cat >"$T/spin.ini" <<'EOF'
[grun]
intensity = 3
period = 10s

[job:nf]
cmd = no-such-command-xyz
restart = permanent
backoff = 10ms
EOF
run_grun 10 "$T/spin.ini"
is "$rc" 1 "cannot run, permanent: exit status 1"
like "$(tail -n 1 "$T/err")" '^grun: failed: nf crash-looped' "cannot run, permanent: the supervisor gives up"
ok "$(left)" "cannot run, permanent: no process left"

done_testing
