/*
 * joblog.c - see joblog.h.
 *
 * Both the joblog and a follower keep lines in a `struct ring`: a byte
 * ring of records, each a header, the job's name (followers only) and
 * the line.  A joblog's ring forgets its oldest records to make room; a
 * follower's ring refuses new ones when full (its reader is behind: the
 * lines are counted as skipped).  Lock order: joblog mu -> follower mu.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memrchr */
#endif
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "rt.h"
#include "supervise/joblog.h"
#include "supervise/lock.h"
#include "supervise/status.h"
#include "supervise/xalloc.h"

/* A joblog starts this small and doubles up to SV_JOBLOG_BYTES: most
 * jobs write a few lines, and thousands of them may run. */
#define JOBLOG_FIRST 1024u
/* A joblog's name, with its NUL, is at most this long (a node's name). */
#define JOBLOG_NAME_MAX 80u

struct rec {
	uint32_t len;          /* of the line */
	uint16_t namelen;
	uint8_t stream;
	uint8_t pad;
	int64_t wall_ns;
};

/* head is the offset of the oldest record; records are contiguous
 * modulo cap; used counts their bytes. */
struct ring {
	char *buf;
	size_t cap, head, used, nrec;
};

struct sv_joblog {
	pthread_mutex_t mu;
	int refs;                      /* atomic */
	struct ring ring;              /* buf NULL until the first line */
	struct sv_follower **fol;      /* under mu */
	size_t nfol;
	char name[];                   /* the job instance's, up to JOBLOG_NAME_MAX - 1
	                                  bytes: allocated at its length with the joblog */
};

struct sv_follower {
	pthread_mutex_t mu;
	struct ring ring;              /* under mu */
	uint64_t skipped;              /* under mu */
	int wake_fd;
	int armed;                     /* under mu: wake_fd written, ring not yet emptied */
	struct sv_joblog **logs;       /* owner only: attached joblogs (a reference each) */
	size_t nlogs;
};

/* ---- the ring ------------------------------------------------------------ */

static void ring_write(struct ring *r, size_t off, const void *src, size_t n)
{
	off %= r->cap;
	size_t first = r->cap - off < n ? r->cap - off : n;
	memcpy(r->buf + off, src, first);
	memcpy(r->buf, (const char *)src + first, n - first);
}

static void ring_read(const struct ring *r, size_t off, void *dst, size_t n)
{
	off %= r->cap;
	size_t first = r->cap - off < n ? r->cap - off : n;
	memcpy(dst, r->buf + off, first);
	memcpy((char *)dst + first, r->buf, n - first);
}

static size_t rec_size(const struct rec *h)
{
	return sizeof *h + h->namelen + h->len;
}

static void ring_drop_oldest(struct ring *r)
{
	struct rec h;
	if (r->head + sizeof h <= r->cap)
		memcpy(&h, r->buf + r->head, sizeof h); /* most headers do not wrap */
	else
		ring_read(r, r->head, &h, sizeof h);
	r->head += rec_size(&h);
	if (r->head >= r->cap)
		r->head -= r->cap;
	r->used -= rec_size(&h);
	r->nrec--;
}

/* Appends a record; evict: make room by forgetting the oldest, else
 * refuse (0) when it does not fit.  A line too long for the ring is cut
 * to half of it. */
static int ring_put(struct ring *r, struct rec h, const char *name, const char *text, int evict)
{
	if (sizeof h + h.namelen + h.len > r->cap / 2)
		h.len = (uint32_t)(r->cap / 2 - sizeof h - h.namelen);
	size_t need = rec_size(&h);
	if (!evict && r->cap - r->used < need)
		return 0;
	while (r->cap - r->used < need)
		ring_drop_oldest(r);
	size_t at = r->head + r->used;
	if (at >= r->cap)
		at -= r->cap;
	if (at + need <= r->cap) { /* most records do not wrap */
		char *d = r->buf + at;
		memcpy(d, &h, sizeof h);
		memcpy(d + sizeof h, name, h.namelen);
		memcpy(d + sizeof h + h.namelen, text, h.len);
	} else {
		ring_write(r, at, &h, sizeof h);
		ring_write(r, at + sizeof h, name, h.namelen);
		ring_write(r, at + sizeof h + h.namelen, text, h.len);
	}
	r->used += need;
	r->nrec++;
	return 1;
}

/* Doubles the ring (up to max bytes), keeping its records: 0, or -1
 * when it is at max or memory is short. */
static int ring_grow(struct ring *r, size_t max)
{
	if (r->cap >= max)
		return -1;
	size_t cap = r->cap * 2 < max ? r->cap * 2 : max;
	char *buf = malloc(cap);
	if (!buf)
		return -1;
	ring_read(r, r->head, buf, r->used);
	free(r->buf);
	r->buf = buf;
	r->cap = cap;
	r->head = 0;
	return 0;
}

/* The records in order, in one malloc'd block of r->used bytes. */
static char *ring_copy(const struct ring *r)
{
	char *p = malloc(r->used ? r->used : 1);
	if (p && r->used)
		ring_read(r, r->head, p, r->used);
	return p;
}

/* Calls fn for records skip.. of a copy; name used when they have none. */
static size_t replay(const char *p, size_t used, size_t skip, const char *name,
                     void (*fn)(const struct sv_logline *, void *), void *arg)
{
	size_t n = 0;
	char namebuf[80];
	for (size_t off = 0, i = 0; off < used; i++) {
		struct rec h;
		memcpy(&h, p + off, sizeof h);
		if (i >= skip) {
			struct sv_logline line = { .wall_ns = h.wall_ns, .stream = h.stream, .name = name,
			                           .text = p + off + sizeof h + h.namelen, .len = h.len };
			if (h.namelen) {
				size_t nl = h.namelen < sizeof namebuf ? h.namelen : sizeof namebuf - 1;
				memcpy(namebuf, p + off + sizeof h, nl);
				namebuf[nl] = '\0';
				line.name = namebuf;
			}
			fn(&line, arg);
			n++;
		}
		off += rec_size(&h);
	}
	return n;
}

/* ---- joblogs -------------------------------------------------------------- */

struct sv_joblog *sv_joblog_new(const char *name)
{
	size_t len = strnlen(name, JOBLOG_NAME_MAX - 1);
	struct sv_joblog *l = sv_xcalloc(1, sizeof *l + len + 1, "a job's log");
	pthread_mutex_init(&l->mu, NULL);
	l->refs = 1;
	memcpy(l->name, name, len);
	return l;
}

void sv_joblog_ref(struct sv_joblog *l)
{
	if (l)
		__atomic_add_fetch(&l->refs, 1, __ATOMIC_RELAXED);
}

void sv_joblog_unref(struct sv_joblog *l)
{
	if (!l || __atomic_sub_fetch(&l->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	pthread_mutex_destroy(&l->mu);
	free(l->ring.buf);
	free(l->fol);
	free(l);
}

/* A copy of one line to follower f (l->mu held). */
static void follower_put(struct sv_follower *f, const struct sv_joblog *l, struct rec h,
                         const char *text)
{
	h.namelen = (uint16_t)strlen(l->name);
	sv_lock(&f->mu);
	if (!ring_put(&f->ring, h, l->name, text, 0))
		f->skipped++;
	else if (!f->armed) {
		f->armed = 1;
		sv_wake_fd(f->wake_fd);
	}
	sv_unlock(&f->mu);
}

/* One line into l's ring and to its followers (l->mu held). */
static void put_line(struct sv_joblog *l, struct rec h, const char *text)
{
	/* grow rather than forget or cut, while the ring may */
	while (l->ring.buf &&
	       (l->ring.cap - l->ring.used < sizeof h + h.len || l->ring.cap / 2 < sizeof h + h.len) &&
	       ring_grow(&l->ring, SV_JOBLOG_BYTES) == 0)
		;
	if (l->ring.buf)
		ring_put(&l->ring, h, "", text, 1);
	for (size_t i = 0; i < l->nfol; i++)
		follower_put(l->fol[i], l, h, text);
}

/* Where the lines of data[0..len) that a ring of SV_JOBLOG_BYTES would
 * still hold after taking them all begin: the ring keeps the longest run
 * of newest records that fits (each at most half of it, and an empty
 * line is not recorded), so with no follower the lines before that run
 * need not be copied at all.  0 when every line would stay. */
static size_t first_kept(const char *data, size_t len)
{
	size_t total = 0, end = len;
	if (end && data[end - 1] == '\n')
		end--;
	for (;;) {
		const char *nl = memrchr(data, '\n', end);
		size_t start = nl ? (size_t)(nl - data) + 1 : 0, n = end - start;
		if (n) {
			size_t rec = sizeof(struct rec) + n;
			total += rec < SV_JOBLOG_BYTES / 2 ? rec : SV_JOBLOG_BYTES / 2;
			if (total > SV_JOBLOG_BYTES)
				return end + 1;
		}
		if (!nl)
			return 0;
		end = start - 1;
	}
}

void sv_joblog_add(struct sv_joblog *l, int stream, int64_t wall_ns, const char *data, size_t len)
{
	if (!l || !len)
		return;
	struct rec h = { .stream = (uint8_t)stream, .wall_ns = wall_ns };
	sv_lock(&l->mu);
	if (!l->nfol) {
		/* what the ring would take and forget within this call is not
		 * copied; what it held before would be forgotten too */
		size_t skip = first_kept(data, len);
		if (skip) {
			data += skip, len -= skip;
			l->ring.head = l->ring.used = l->ring.nrec = 0;
		}
	}
	if (!l->ring.buf) {
		l->ring.buf = malloc(JOBLOG_FIRST);
		l->ring.cap = l->ring.buf ? JOBLOG_FIRST : 0;
	}
	for (size_t start = 0; start < len;) {
		const char *nl = memchr(data + start, '\n', len - start);
		size_t end = nl ? (size_t)(nl - data) : len;
		h.len = (uint32_t)(end - start);
		if (h.len) /* an empty line is not recorded */
			put_line(l, h, data + start);
		start = end + 1;
	}
	sv_unlock(&l->mu);
}

size_t sv_joblog_tail(struct sv_joblog *l, long n, void (*fn)(const struct sv_logline *, void *),
                      void *arg)
{
	sv_lock(&l->mu);
	size_t used = l->ring.buf ? l->ring.used : 0, nrec = l->ring.buf ? l->ring.nrec : 0;
	char *copy = used ? ring_copy(&l->ring) : NULL;
	sv_unlock(&l->mu);
	if (!copy)
		return 0;
	size_t skip = n < 0 || (size_t)n >= nrec ? 0 : nrec - (size_t)n;
	size_t got = replay(copy, used, skip, l->name, fn, arg);
	free(copy);
	return got;
}

/* ---- followers ----------------------------------------------------------- */

struct sv_follower *sv_follower_new(size_t bytes, int wake_fd)
{
	struct sv_follower *f = calloc(1, sizeof *f);
	if (!f || !(f->ring.buf = malloc(bytes))) {
		free(f);
		return NULL;
	}
	pthread_mutex_init(&f->mu, NULL);
	f->ring.cap = bytes;
	f->wake_fd = wake_fd;
	return f;
}

/* Copies l's last `backlog` records to f (l->mu held). */
static void copy_backlog(struct sv_follower *f, struct sv_joblog *l, long backlog)
{
	const struct ring *r = &l->ring;
	if (!r->buf || backlog == 0)
		return;
	size_t skip = backlog < 0 || (size_t)backlog >= r->nrec ? 0 : r->nrec - (size_t)backlog;
	char *text = malloc(r->cap);
	if (!text)
		return;
	for (size_t off = r->head, i = 0; i < r->nrec; i++) {
		struct rec h;
		ring_read(r, off, &h, sizeof h);
		if (i >= skip) {
			ring_read(r, off + sizeof h, text, h.len);
			follower_put(f, l, h, text);
		}
		off += rec_size(&h);
	}
	free(text);
}

void sv_follower_attach(struct sv_follower *f, struct sv_joblog *l, long backlog)
{
	struct sv_joblog **logs = realloc(f->logs, (f->nlogs + 1) * sizeof *logs);
	if (!logs)
		return;
	f->logs = logs;
	sv_lock(&l->mu);
	struct sv_follower **fol = realloc(l->fol, (l->nfol + 1) * sizeof *fol);
	if (fol) {
		l->fol = fol;
		l->fol[l->nfol++] = f;
		copy_backlog(f, l, backlog);
	}
	sv_unlock(&l->mu);
	if (fol) {
		sv_joblog_ref(l);
		f->logs[f->nlogs++] = l;
	}
}

size_t sv_follower_take(struct sv_follower *f, void (*fn)(const struct sv_logline *, void *),
                        void *arg, uint64_t *skipped)
{
	sv_lock(&f->mu);
	*skipped = f->skipped;
	f->skipped = 0;
	size_t used = f->ring.used;
	char *copy = used ? ring_copy(&f->ring) : NULL;
	if (!used || copy) {
		f->ring.head = f->ring.used = f->ring.nrec = 0;
		f->armed = 0;
	}
	sv_unlock(&f->mu);
	if (!copy)
		return 0;
	size_t n = replay(copy, used, 0, "", fn, arg);
	free(copy);
	return n;
}

void sv_follower_free(struct sv_follower *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->nlogs; i++) {
		struct sv_joblog *l = f->logs[i];
		sv_lock(&l->mu);
		for (size_t k = 0; k < l->nfol; k++) {
			if (l->fol[k] == f) {
				l->fol[k] = l->fol[--l->nfol];
				break;
			}
		}
		sv_unlock(&l->mu);
		sv_joblog_unref(l);
	}
	free(f->logs);
	pthread_mutex_destroy(&f->mu);
	free(f->ring.buf);
	free(f);
}
