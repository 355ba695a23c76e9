#!/bin/sh
# 68-timestamps: --timestamps and [grun] timestamps.  Every format is
# parsed back (python3) and must name the time the line was read, on
# job lines and grun's own lines alike; a line written a second after
# another is stamped at least a second later; the default is no stamps;
# bad values are usage errors with nothing started.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 is needed to parse the stamps back"
plan 21

cat >"$T/t.ini" <<'EOF'
[job:a]
cmd = sh -c 'echo one; echo two >&2; echo started >"$GRUN_TEST_TAG/a.started"'
[job:longer]
cmd = echo three
EOF

# check FORMAT FILE: every line's stamp parses and is within a minute of
# now; prints "ok" or the first bad line
check() {
	python3 - "$1" "$2" <<'PY'
import sys, re, time, datetime
fmt, path = sys.argv[1], sys.argv[2]
now = time.time()
n = 0
for line in open(path, encoding="utf-8", errors="replace"):
    line = line.rstrip("\n")
    stamp, _, rest = line.partition(" ")
    n += 1
    try:
        if fmt == "tai64n":
            assert re.fullmatch(r"@[0-9a-f]{24}", stamp), "not @ and 24 hex digits"
            t = int(stamp[1:17], 16) - 2**62 - 10 + int(stamp[17:], 16) / 1e9
        else:
            pat = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}" + ("Z" if fmt == "utc" else r"[+-]\d\d:\d\d")
            assert re.fullmatch(pat, stamp), "not " + pat
            if stamp.endswith("Z"):
                stamp = stamp[:-1] + "+00:00"
            t = datetime.datetime.fromisoformat(stamp).timestamp()
        assert abs(t - now) < 60, "%.3f s from now" % (t - now)
        assert rest, "nothing after the stamp"
    except AssertionError as e:
        print("bad line %r: %s" % (line, e))
        sys.exit(0)
print("ok" if n else "no lines")
PY
}

for fmt in iso utc tai64n; do
	run_grun 10 --timestamps=$fmt "$T/t.ini"
	is "$rc" 0 "--timestamps=$fmt: exit status 0"
	is "$(check $fmt "$T/out")|$(check $fmt "$T/err")" "ok|ok" "--timestamps=$fmt: every line of stdout and stderr stamped, parsed back, now"
	like "$(cat "$T/out")" "^[^ ]+ a      \| one$" "--timestamps=$fmt: the stamp, then the line as without it"
	like "$(cat "$T/err")" "^[^ ]+ grun: a: started \(pid [0-9]+\)$" "--timestamps=$fmt: grun's own lines stamped too"
done

# the local offset is the one TZ gives (a POSIX TZ: no zone files needed)
TZ=XYZ-5:30 run_grun 10 --timestamps "$T/t.ini"
like "$(head -n 1 "$T/out")" '^[0-9-]{10}T[0-9:]{8}\.[0-9]{3}\+05:30 ' "--timestamps: ISO 8601 local time with milliseconds and the zone's offset (+05:30)"

# the stamp is the time grun read the line: line 2 is written a second
# after the test saw line 1 in grun's output
cat >"$T/gap.ini" <<'EOF'
[job:g]
cmd = sh -c 'echo first; while [ ! -e "$GRUN_TEST_TAG/go" ]; do sleep 0.02; done; echo second'
EOF
start_grun --timestamps=tai64n "$T/gap.ini"
wait_grep ' g \| first$' "$T/out"
sleep 1.1
touch "$T/go"
wait_grun
gap=$(python3 -c '
import sys
s = [l.split()[0] for l in open(sys.argv[1])]
t = [int(x[1:17], 16) - 2**62 + int(x[17:], 16) / 1e9 for x in s]
print("%d %s" % (len(t), "ge1" if len(t) == 2 and t[1] - t[0] >= 1.0 else "no"))' "$T/out")
is "$rc|$gap" "0|2 ge1" "a line read a second later is stamped a second later (the read time, not the end's)"

# the default: no stamps on grun's streams
run_grun 10 "$T/t.ini"
is "$(grep -c '^a      | one$' "$T/out")|$(grep -c '^grun: a: started' "$T/err")" "1|1" "default: no stamps"

# [grun] timestamps, and the command line over it
{ printf '[grun]\ntimestamps = utc\n'; cat "$T/t.ini"; } >"$T/f.ini"
run_grun 10 "$T/f.ini"
is "$(check utc "$T/out")" ok "[grun] timestamps = utc: stamped"
run_grun 10 --timestamps=off "$T/f.ini"
is "$(grep -c '^a      | one$' "$T/out")" 1 "--timestamps=off overrides [grun] timestamps"

# bad values: exit 2, FILE:LINE, nothing started
printf '[grun]\ntimestamps = rfc3339\n[job:a]\ncmd = sh -c "echo started >%s/bad.started"\n' "$T" >"$T/bad.ini"
run_grun 10 "$T/bad.ini"
is "$rc|$(cat "$T/err")" "2|$T/bad.ini:2: timestamps = rfc3339: expected iso, utc, tai64n, off or auto" \
	"[grun] timestamps = rfc3339: FILE:LINE and exit 2"
ok "$([ ! -e "$T/bad.started" ]; echo $?)" "[grun] timestamps = rfc3339: nothing started"
rm -f "$T/a.started"
run_grun 10 --timestamps=bogus "$T/t.ini"
is "$rc|$(cat "$T/err")" "2|grun: --timestamps=bogus: expected iso, utc, tai64n, off or auto" "--timestamps=bogus: exit 2"
ok "$([ ! -e "$T/a.started" ]; echo $?)" "--timestamps=bogus: nothing started"
done_testing
