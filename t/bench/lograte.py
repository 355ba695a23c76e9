#!/usr/bin/env python3
# t/bench/lograte.py - times one run of a log-throughput contender for
# t/bench/logs, and the CPU time of its own process (not its children's:
# the jobs writing the lines are not counted).
#
#   lograte.py run CMD...
#       runs CMD until it exits
#   lograte.py until BYTES FILE... -- CMD...
#       runs CMD until the FILEs hold BYTES bytes together, then ends it
#       with SIGTERM (a supervisor that does not exit by itself); the wall
#       time then runs from the first byte in the FILEs, not from the
#       start (supervisord spends a second before it spawns anything)
#
# Prints "WALL_SECONDS CPU_SECONDS" on stdout: the wall time from the
# start to the end (or to the last byte), and the user + system time of
# CMD's process, sampled from /proc/PID/stat every 5 ms up to that point
# (so at most 5 ms of it is missed).  Exit status 1 if CMD failed or the
# bytes never came (BENCH_TIMEOUT seconds, 300 by default).
import os
import signal
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return None


def main(argv):
    timeout = float(os.environ.get("BENCH_TIMEOUT", "300"))
    if argv[0] == "run":
        want, files, cmd = None, [], argv[1:]
    elif argv[0] == "until":
        want = int(argv[1])
        sep = argv.index("--")
        files, cmd = argv[2:sep], argv[sep + 1:]
    else:
        sys.exit("usage: lograte.py run CMD... | until BYTES FILE... -- CMD...")
    t0 = time.monotonic()
    p = subprocess.Popen(cmd)
    cpu, ok, first = 0.0, True, None
    while True:
        c = cpu_of(p.pid)
        if c is not None:
            cpu = c
        if want is None:
            if p.poll() is not None:
                ok = p.returncode == 0
                break
        else:
            have = sum(os.path.getsize(f) for f in files if os.path.exists(f))
            if have and first is None:
                first = time.monotonic()
            if have >= want:
                break
            if p.poll() is not None:
                ok = False
                break
        if time.monotonic() - t0 > timeout:
            ok = False
            break
        time.sleep(0.005)
    wall = time.monotonic() - (first if first is not None else t0)
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    print("%.3f %.3f" % (wall, cpu))
    return 0 if ok else 1


sys.exit(main(sys.argv[1:]))
