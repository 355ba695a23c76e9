/*
 * timestamp.h - the time stamps grun puts before log lines
 * (grun(1) --timestamps, grun.ini(5) timestamps).
 *
 * Pure functions of a wall-clock time, safe on any OS thread: no state
 * but a per-thread cache of the last formatted second (localtime_r is
 * the costly part, and a busy pump stamps many lines a second).
 */
#ifndef GRUN_SV_TIMESTAMP_H
#define GRUN_SV_TIMESTAMP_H
#include <stddef.h>
#include <stdint.h>

enum sv_ts {
	SV_TS_AUTO = -1, /* the default: off on grun's streams, iso in log directories */
	SV_TS_OFF = 0,
	SV_TS_ISO,       /* 2026-12-07T18:24:26.123+01:00: local time, milliseconds, UTC offset */
	SV_TS_UTC,       /* 2026-12-07T17:24:26.123Z */
	SV_TS_TAI64N,    /* @4000000065707a8a1d2c3b40 (daemontools, s6-log; tai64nlocal reads it) */
};

/* The longest stamp sv_ts_format() writes, its trailing blank included. */
#define SV_TS_MAX 40

/* sv_ts_parse() reads a format name: iso (or local, on, yes), utc,
 * tai64n, off (or no, none), auto.  0, or -1 with a message in *why. */
int sv_ts_parse(const char *s, enum sv_ts *ts, const char **why);
/* sv_ts_now() is CLOCK_REALTIME in nanoseconds. */
int64_t sv_ts_now(void);
/* sv_ts_format() writes the stamp of wall-clock time t (ns since the
 * epoch) in format ts, followed by one blank, into buf (SV_TS_MAX bytes)
 * and returns its length; 0 for SV_TS_OFF and SV_TS_AUTO. */
size_t sv_ts_format(enum sv_ts ts, int64_t t, char *buf);
/* sv_elapsed_str() writes a measured duration for people: "35ms",
 * "1.25s", "2m05s", "3h02m10s". */
const char *sv_elapsed_str(int64_t ns, char *buf, size_t len);
#endif
