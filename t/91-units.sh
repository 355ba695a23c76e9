#!/bin/sh
# 91-units: the systemd unit files in configs/ pass `systemd-analyze
# verify` with nothing to say (grun.service, and the template
# grun@.service as an instance), with grun's path rewritten to the built
# grun as `make install` rewrites it to the installed one.  Skipped when
# systemd-analyze is not installed.
. "$(dirname "$0")/lib.sh"

command -v systemd-analyze >/dev/null 2>&1 || skip_all "systemd-analyze not installed"

plan 6

# verify FILE DESC: copies configs/FILE to $T/units/UNIT (UNIT defaults to
# FILE) with grun's path rewritten, and verifies it.
mkdir -p "$T/units"
verify() {
	_unit=${2:-$1}
	sed "s|/usr/local/bin/grun|$GRUN|g" "$abs_top_srcdir/configs/$1" >"$T/units/$_unit"
	out=$(cd "$T/units" && timeout -k 2 "$(secs 30)" systemd-analyze verify --man=no \
		--recursive-errors=yes "$T/units/$_unit" 2>&1)
	rc=$?
	is "$rc" 0 "$_unit: systemd-analyze verify exits 0"
	is "$out" "" "$_unit: systemd-analyze verify says nothing"
}
verify grun.service
verify grun@.service grun@x.service

# the units run what the issue asks for: notify, reload by SIGHUP, mixed kill
for u in grun.service grun@.service; do
	f="$abs_top_srcdir/configs/$u"
	ok "$(grep -q '^Type=notify$' "$f" && grep -q '^ExecReload=/bin/kill -HUP \$MAINPID$' "$f" &&
		grep -q '^KillMode=mixed$' "$f"; echo $?)" "$u: Type=notify, ExecReload by SIGHUP, KillMode=mixed"
done
