#!/bin/sh
# 92-export: grun export systemd.  Golden files for configs/services.ini,
# configs/tasks.ini, configs/pipeline.ini and a nested one_for_all tree
# with a template job (t/export/): units, sub-files and every warning;
# systemd-analyze verify prints nothing on what export writes (templates
# verified as an instance); every sub-file passes grun --check; --strict
# exits 2 and writes nothing; a file export did not write is never
# overwritten; --only and --granularity supervisor; usage errors exit 2.
. "$(dirname "$0")/lib.sh"

plan 31

cd "$abs_top_srcdir" || exit 1
exp() { "$GRUN" export systemd "$@"; }

# ---- golden files ---------------------------------------------------------------
for c in configs/services configs/tasks configs/pipeline t/export/nested; do
	n=$(basename "$c")
	exp "$c.ini" -o - --grun /usr/bin/grun --prefix /etc/grun >"$T/$n.out" 2>"$T/$n.err"
	rc=$?
	is "$rc" 0 "export $n: exit 0 (warnings only)"
	if diff -u "t/export/$n.golden" "$T/$n.out" >"$T/$n.diff"; then ok 0 "export $n: the units and sub-files are the golden ones"
	else ok 1 "export $n: the units and sub-files are the golden ones"; diag "$(head -n 40 "$T/$n.diff")"; fi
	if diff -u "t/export/$n.warnings" "$T/$n.err" >"$T/$n.wdiff"; then ok 0 "export $n: every lossy mapping is a FILE:LINE warning"
	else ok 1 "export $n: every lossy mapping is a FILE:LINE warning"; diag "$(cat "$T/$n.wdiff")"; fi
done

# ---- systemd's own checker, and grun --check on the sub-files ---------------------------
verify() { # verify DIR: systemd-analyze verify on every unit, templates as instance 1
	( cd "$1" && set -- && for u in *.service *.target; do
		case $u in *@.service) set -- "$@" "$PWD/$u:${u%@.service}@1.service" ;; *) set -- "$@" "$u" ;; esac
	done && systemd-analyze verify --man=no --recursive-errors=yes "$@" 2>&1 )
}
for c in configs/services t/export/nested; do
	n=$(basename "$c")
	exp "$c.ini" -o "$T/units-$n" --grun "$GRUN" 2>/dev/null
	if command -v systemd-analyze >/dev/null; then
		out=$(verify "$T/units-$n"); rc=$?
		is "$rc:$out" "0:" "systemd-analyze verify: nothing to say about $n's units"
	else
		ok 0 "# SKIP systemd-analyze not installed (apt-get install systemd)"
	fi
	bad=0
	for f in "$T/units-$n"/*.ini; do "$GRUN" --check "$f" >/dev/null 2>&1 || { bad=1; diag "grun --check $f failed"; }; done
	ok $bad "every sub-file of $n is a valid grun file"
done
like "$(cat "$T/units-nested/nested-front.service")" "^ExecStart=\"$GRUN\" \"$T/units-nested/nested-front.ini\"\$" \
	"an embedded unit runs grun on its sub-file where export wrote it"

# ---- --strict, overwriting, --only, --granularity -----------------------------------------
exp configs/services.ini -o "$T/strict" --strict >/dev/null 2>"$T/strict.err"
is "$?" 2 "--strict: a lossy mapping exits 2"
like "$(head -n 1 "$T/strict.err")" '^configs/services.ini:[0-9]+: error: ' "--strict: the mappings are errors"
[ ! -e "$T/strict/services.target" ]; ok $? "--strict: nothing written"
mkdir "$T/mine"
echo "my own unit" >"$T/mine/tasks-docs.service"
exp configs/tasks.ini -o "$T/mine" 2>"$T/mine.err"
is "$?" 1 "a file export did not write: exit 1"
like "$(cat "$T/mine.err")" 'tasks-docs.service exists and was not written by grun export: not overwritten' "and says which"
is "$(cat "$T/mine/tasks-docs.service")" "my own unit" "the file is untouched"
[ ! -e "$T/mine/tasks.target" ]; ok $? "and nothing else was written"
exp configs/tasks.ini -o "$T/again" 2>/dev/null && exp configs/tasks.ini -o "$T/again" 2>/dev/null
is "$?" 0 "exporting again over its own files: exit 0"
exp configs/tasks.ini -o - --only link 2>/dev/null >"$T/only"
is "$(sed -n 's/^# ---- \(.*\) ----$/\1/p' "$T/only" | tr '\n' ' ')" "tasks-compile-core.service tasks-compile-util.service tasks-link.service tasks-prepare.service tasks.target " \
	"--only link: link and what it needs"
printf '[supervisor:s]\n[job:a]\nsupervisor = s\ncmd = sleep 1\n[job:b]\nsupervisor = s\ncmd = sleep 1\n' >"$T/g.ini"
is "$(exp "$T/g.ini" -o - 2>/dev/null | sed -n 's/^# ---- \(.*\) ----$/\1/p' | tr '\n' ' ')" "g-a.service g-b.service g.target " \
	"a one_for_one supervisor: a unit per job"
is "$(exp "$T/g.ini" -o - --granularity supervisor 2>/dev/null | sed -n 's/^# ---- \(.*\) ----$/\1/p' | tr '\n' ' ')" "g-s.ini g-s.service g.target " \
	"--granularity supervisor: the supervisor is one unit running grun"

out=$(exp configs/tasks.ini -o - --bogus 2>&1); rc=$?
is "$rc" 2 "an unknown option: exit 2"
out=$("$GRUN" export kubernetes configs/tasks.ini 2>&1); rc=$?
is "$rc:$out" "2:grun: export kubernetes: unknown format (grun exports to systemd)" "an unknown format: exit 2, said"
printf '[job:x]\ncmd = true\nbogus = 1\n' >"$T/bad.ini"
out=$(exp "$T/bad.ini" -o - 2>&1); rc=$?
is "$rc" 2 "a file with errors: exit 2, as --check"
done_testing
