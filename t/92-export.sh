#!/bin/sh
# 92-export: grun export systemd and kubernetes.  Golden files for
# configs/services.ini, configs/tasks.ini, configs/pipeline.ini, a nested
# one_for_all tree with a template job, a TCP-waiting stack and the
# checks grun makes itself (t/export/): units, objects, sub-files and
# every warning; kubernetes-models validates every object;
# systemd-analyze verify prints nothing on what export writes (templates
# verified as an instance); every sub-file passes grun --check; --strict
# exits 2 and writes nothing; a file export did not write is never
# overwritten; --only and --granularity supervisor; usage errors exit 2.
. "$(dirname "$0")/lib.sh"

plan 59

cd "$abs_top_srcdir" || exit 1
exp() { "$GRUN" export systemd "$@"; }

# ---- golden files ---------------------------------------------------------------
for c in configs/services configs/tasks configs/pipeline t/export/nested t/export/checks; do
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

out=$(exp configs/crashloop.ini -o - --systemd-version 254 2>"$T/v254.err")
like "$out" 'RestartSec=50ms' "--systemd-version 254: RestartSec= is the backoff's minimum"
like "$out" 'RestartSteps=5' "--systemd-version 254: RestartSteps= doubles it up to the maximum"
like "$out" 'RestartMaxDelaySec=1000ms' "--systemd-version 254: RestartMaxDelaySec= is the maximum"
unlike "$(cat "$T/v254.err")" 'backoff' "--systemd-version 254: no backoff warning"
unlike "$(exp configs/crashloop.ini -o - 2>/dev/null)" 'RestartSteps' "without it (systemd 252): no RestartSteps="
out=$(exp configs/tasks.ini -o - --bogus 2>&1); rc=$?
is "$rc" 2 "an unknown option: exit 2"
out=$("$GRUN" export nomad configs/tasks.ini 2>&1); rc=$?
is "$rc:$out" "2:grun: export nomad: unknown format (systemd or kubernetes)" "an unknown format: exit 2, said"
printf '[job:x]\ncmd = true\nbogus = 1\n' >"$T/bad.ini"
out=$(exp "$T/bad.ini" -o - 2>&1); rc=$?
is "$rc" 2 "a file with errors: exit 2, as --check"

# ---- Kubernetes ----------------------------------------------------------------------
k8s() { "$GRUN" export kubernetes "$@"; }
for c in configs/services configs/tasks configs/pipeline t/export/nested t/export/web t/export/checks; do
	n=$(basename "$c")
	k8s "$c.ini" --image registry.example/app:1 -n prod -o - >"$T/$n.k8s" 2>"$T/$n.k8s.err"
	if diff -u "t/export/$n.k8s.golden" "$T/$n.k8s" >"$T/$n.k8s.diff" &&
	   diff -u "t/export/$n.k8s.warnings" "$T/$n.k8s.err" >>"$T/$n.k8s.diff"; then
		ok 0 "kubernetes $n: the objects and warnings are the golden ones"
	else
		ok 1 "kubernetes $n: the objects and warnings are the golden ones"; diag "$(head -n 30 "$T/$n.k8s.diff")"
	fi
done
out=$(k8s configs/tasks.ini -o - 2>&1); rc=$?
is "$rc" 2 "kubernetes without an image: exit 2"
like "$out" '^configs/tasks.ini:[0-9]+: job prepare: no image: give --image IMG' "and says which job"
k8s t/export/web.ini --image r/app:1 -o "$T/k8s-web" 2>/dev/null
like "$(cat "$T/k8s-web/web-db.deployment.json")" '"image":"postgres:16"' "export.kubernetes.image wins over --image"
like "$(cat "$T/k8s-web/web-api.deployment.json")" '"initContainers":\[\{"name":"wait-db","image":"busybox:1.36","command":\["sh","-c","until nc -z web-db 5432; do sleep 1; done"\]' \
	"needs: an initContainer waits for the needed job's Service"
k8s t/export/web.ini --image r/app:1 -o "$T/k8s-web" 2>/dev/null
is "$?" 0 "kubernetes: exporting again over its own files"

# the validator: kubernetes-models' schemas, from the committed lockfile
V=$abs_top_builddir/t/export/k8s-validator
if [ ! -d "$V/node_modules/kubernetes-models" ] && command -v npm >/dev/null; then
	mkdir -p "$V" && cp t/export/k8s/package.json t/export/k8s/package-lock.json "$V"/ &&
		( cd "$V" && timeout 300 npm ci --no-audit --no-fund >"$V/npm.log" 2>&1 ) || diag "npm ci failed: $(tail -n 3 "$V/npm.log" 2>/dev/null)"
fi
if command -v node >/dev/null && [ -d "$V/node_modules/kubernetes-models" ]; then
	for c in configs/services configs/tasks configs/pipeline t/export/nested t/export/web t/export/checks; do
		n=$(basename "$c")
		k8s "$c.ini" --image registry.example/app:1 -o "$T/k8s-$n" 2>/dev/null
		out=$(cd "$V" && node "$abs_top_srcdir/t/export/k8s/validate.js" "$T/k8s-$n"/*.json); rc=$?
		is "$rc" 0 "kubernetes-models validates every object of $n"
		[ $rc -eq 0 ] || diag "$out"
	done
	# what the validator catches, and what it does not: golden files pin the rest
	printf '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},"spec":{"replicas":"3","selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}}\n' >"$T/type.json"
	printf '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},"spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"contianers":[{"name":"c","image":"i"}]}}}}\n' >"$T/required.json"
	printf '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},"spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"terminationGracePeriodSecond":3,"containers":[{"name":"c","image":"i"}]}}}}\n' >"$T/optional.json"
	out=$(cd "$V" && node "$abs_top_srcdir/t/export/k8s/validate.js" "$T/type.json" "$T/required.json" "$T/optional.json")
	like "$out" "^invalid $T/type.json: .*replicas must be integer" "the validator catches a value of the wrong type"
	like "$out" "^invalid $T/required.json: .*must have required property containers" "the validator catches a misspelt required field"
	like "$out" "^ok $T/optional.json\$" "the validator does not catch a misspelt optional field (so golden files check the fields)"
else
	i=0; while [ $i -lt 9 ]; do ok 0 "# SKIP node or npm (kubernetes-models) not available"; i=$((i + 1)); done
fi
done_testing
