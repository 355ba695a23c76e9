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
# start to the end (or from the first byte to the last), and the user +
# system time of CMD's process up to that point, read from
# /proc/PID/stat (in clock ticks, 10 ms) every 5 ms and once more at the
# end (from the zombie, before it is reaped, when CMD exits by itself).  Exit status 1 if CMD failed or the bytes never came
# (BENCH_TIMEOUT seconds, 300 by default).
#
# Precision: the FILEs are looked at every POLL (1 ms), so each end of
# the interval is seen up to 1 ms late, plus the time this process waits
# for a CPU on a busy machine (it sleeps between looks, and Linux runs a
# waking sleeper soon).  Measured against a writer that puts its first
# byte and its last exactly 50.0 ms apart, on the idle 2-vCPU VM: 49.1 to
# 50.9 ms over 12 runs (a 5 ms poll, as before: 46.0 to 51.8 ms), so
# within 2 % of the 40-150 ms the fast contenders take.  A look at 8
# files costs 25 us of one CPU, 2.5 % of one of the two the contenders
# run on, the same for each; a read of the CPU time 14 us, every 5th
# look.  CPU time is counted in clock ticks: 10 ms granularity per read,
# so compare it over medians of several runs.
import os
import signal
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")
POLL = 0.001   # seconds between looks at the FILEs or the process
CPU_EVERY = 5  # looks between reads of /proc/PID/stat


def cpu_of(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return None


def exited(p):
    """Has p exited?  Without reaping it: a zombie's /proc/PID/stat still
    holds its final CPU time."""
    try:
        return os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


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
    cpu, ok, first, last, looks = 0.0, True, None, None, 0
    while True:
        if looks % CPU_EVERY == 0:
            c = cpu_of(p.pid)
            if c is not None:
                cpu = c
        looks += 1
        if want is None:
            if exited(p):
                last = time.monotonic()
                c = cpu_of(p.pid)
                if c is not None:
                    cpu = c
                ok = p.wait() == 0
                break
        else:
            gone = exited(p)  # before the sizes: its last bytes are in them
            have = sum(os.path.getsize(f) for f in files if os.path.exists(f))
            if have and first is None:
                first = time.monotonic()
            if have >= want:
                last = time.monotonic()
                c = cpu_of(p.pid)
                if c is not None:
                    cpu = c
                break
            if gone:
                ok = False
                break
        if time.monotonic() - t0 > timeout:
            ok = False
            break
        time.sleep(POLL)
    if last is None:
        last = time.monotonic()
    wall = last - (first if first is not None else t0)
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    print("%.4f %.3f" % (wall, cpu))
    return 0 if ok else 1


sys.exit(main(sys.argv[1:]))
