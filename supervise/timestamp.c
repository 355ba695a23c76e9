/*
 * timestamp.c - see timestamp.h.  Owns nothing shared: the cache of the
 * last formatted second is per OS thread (__thread), used by whichever
 * green thread runs there, which does not park in between.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "supervise/timestamp.h"

int sv_ts_parse(const char *s, enum sv_ts *ts, const char **why)
{
	static const struct { const char *name; enum sv_ts ts; } names[] = {
		{ "auto", SV_TS_AUTO }, { "off", SV_TS_OFF }, { "no", SV_TS_OFF }, { "none", SV_TS_OFF },
		{ "iso", SV_TS_ISO }, { "local", SV_TS_ISO }, { "yes", SV_TS_ISO }, { "on", SV_TS_ISO },
		{ "utc", SV_TS_UTC }, { "tai64n", SV_TS_TAI64N },
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strcmp(s, names[i].name) == 0) {
			*ts = names[i].ts;
			return 0;
		}
	}
	*why = "expected iso, utc, tai64n, off or auto";
	return -1;
}

int64_t sv_ts_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The part of a stamp that changes once a second, for one format. */
static __thread struct {
	time_t sec;
	enum sv_ts ts;
	char date[32];     /* "2026-12-07T18:24:26" */
	char zone[8];      /* "+01:00" or "Z" */
} cache = { .sec = -1 };

static void fill_cache(enum sv_ts ts, time_t sec)
{
	struct tm tm;
	if (ts == SV_TS_UTC)
		gmtime_r(&sec, &tm);
	else
		localtime_r(&sec, &tm);
	strftime(cache.date, sizeof cache.date, "%Y-%m-%dT%H:%M:%S", &tm);
	if (ts == SV_TS_UTC) {
		strcpy(cache.zone, "Z");
	} else {
		long off = tm.tm_gmtoff / 60;
		cache.zone[0] = off < 0 ? '-' : '+';
		if (off < 0)
			off = -off;
		cache.zone[1] = (char)('0' + off / 600 % 10);
		cache.zone[2] = (char)('0' + off / 60 % 10);
		cache.zone[3] = ':';
		cache.zone[4] = (char)('0' + off % 60 / 10);
		cache.zone[5] = (char)('0' + off % 10);
		cache.zone[6] = 0;
	}
	cache.sec = sec;
	cache.ts = ts;
}

static size_t put_hex(char *p, uint64_t v, int digits)
{
	static const char hex[] = "0123456789abcdef";
	for (int i = digits - 1; i >= 0; i--, v >>= 4)
		p[i] = hex[v & 15];
	return (size_t)digits;
}

size_t sv_ts_format(enum sv_ts ts, int64_t t, char *buf)
{
	if (ts <= SV_TS_OFF)
		return 0;
	time_t sec = (time_t)(t / 1000000000LL);
	long ns = (long)(t % 1000000000LL);
	if (ts == SV_TS_TAI64N) {
		/* TAI64 label: 2^62 + TAI seconds; TAI was 10 s ahead of UTC in
		 * 1970, which is what daemontools' tai64n and tai64nlocal assume */
		size_t n = 0;
		buf[n++] = '@';
		n += put_hex(buf + n, (1ULL << 62) + 10 + (uint64_t)sec, 16);
		n += put_hex(buf + n, (uint64_t)ns, 8);
		buf[n++] = ' ';
		return n;
	}
	if (cache.sec != sec || cache.ts != ts)
		fill_cache(ts, sec);
	size_t n = strlen(cache.date);
	memcpy(buf, cache.date, n);
	int ms = (int)(ns / 1000000);
	buf[n++] = '.';
	buf[n++] = (char)('0' + ms / 100);
	buf[n++] = (char)('0' + ms / 10 % 10);
	buf[n++] = (char)('0' + ms % 10);
	size_t z = strlen(cache.zone);
	memcpy(buf + n, cache.zone, z);
	n += z;
	buf[n++] = ' ';
	return n;
}

const char *sv_elapsed_str(int64_t ns, char *buf, size_t len)
{
	long long ms = ns / 1000000LL, s = ms / 1000;
	if (ms < 1000)
		snprintf(buf, len, "%lldms", ms < 0 ? 0 : ms);
	else if (s < 60)
		snprintf(buf, len, "%lld.%02llds", s, ms % 1000 / 10);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", s / 60, s % 60);
	else
		snprintf(buf, len, "%lldh%02lldm%02llds", s / 3600, s / 60 % 60, s % 60);
	return buf;
}
