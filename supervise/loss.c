/*
 * loss.c - what a consumer that ended abnormally may have lost
 * (pipeline.h), and the count of possibly lost lines in the summary.
 *
 * A feeder counts every byte it writes into a consumer's pipe (written)
 * and, on line channels, keeps the last RING bytes.  written minus what
 * is still in the pipe (FIONREAD) is exactly what the consumer has read.
 * After a crash, the lines among its last reads (up to a read buffer's
 * worth) may not have been processed; after an end for good, what is
 * left in the pipe is never read.  Both are logged and counted.
 *
 * Called by the consumer job's own green thread (consumer_exited) and by
 * whoever ends a node for good (stranded, under ends_mu).
 */
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "supervise/lock.h"
#include "supervise/pipe_internal.h"

/* How long a consumer's replacement waits for the rest of a line its
 * crashed predecessor had begun to read. */
#define PARTIAL_LINE_WAIT (1000 * 1000000LL)

void sv_loss_add(struct sv_graph *g, uint64_t lines)
{
	if (lines)
		__atomic_fetch_add(&g->pipes->lost_lines, lines, __ATOMIC_RELAXED);
}

uint64_t sv_pipes_lost(struct sv_graph *g)
{
	return g->pipes ? __atomic_load_n(&g->pipes->lost_lines, __ATOMIC_RELAXED) : 0;
}

/* The newlines among bytes [from, to) of everything written (in the ring). */
static uint64_t ring_lines(const struct sv_feeder *f, uint64_t from, uint64_t to)
{
	uint64_t k = 0;
	for (uint64_t o = from; o < to; o++)
		k += f->ring[o % RING] == '\n';
	return k;
}

uint64_t sv_loss_stranded_locked(struct sv_node *n, char *msg, size_t len)
{
	struct sv_feeder *f = n->ends->feeder;
	int left = 0;
	ioctl(n->ends->in_fd, FIONREAD, &left);
	if (left <= 0)
		return 0;
	sv_lock(&f->mu);
	uint64_t written = __atomic_load_n(&f->written, __ATOMIC_RELAXED);
	uint64_t lines = __atomic_load_n(&f->lines, __ATOMIC_RELAXED);
	uint64_t est = written ? ((uint64_t)left * lines + written - 1) / written : 0;
	if (f->ring && (uint64_t)left <= RING && (uint64_t)left <= written)
		est = ring_lines(f, written - (uint64_t)left, written); /* exactly: the last ones written */
	sv_unlock(&f->mu);
	snprintf(msg, len, "%s: ended for good with %d bytes (about %llu lines) of chan:%s unread in its pipe: lost",
	         n->name, left, (unsigned long long)est, f->p->cfg->name);
	return est;
}

/* Reads and drops exactly n bytes from the head of the consumer's pipe,
 * waiting for them until the deadline.  The read end is blocking (it is
 * the job's stdin), so only what FIONREAD says is there is read.
 * Returns the bytes dropped. */
static size_t drop_bytes(int fd, size_t n, int64_t until)
{
	char buf[4096];
	size_t dropped = 0;
	int waited = 0;
	while (dropped < n) {
		int avail = 0;
		if (ioctl(fd, FIONREAD, &avail) < 0 || avail <= 0) {
			if (waited || rt_fd_wait(fd, RT_READ, until) < 0)
				break; /* readable with nothing in it: EOF; or the deadline */
			waited = 1;
			continue;
		}
		waited = 0;
		size_t chunk = n - dropped < sizeof buf ? n - dropped : sizeof buf;
		if (chunk > (size_t)avail)
			chunk = (size_t)avail;
		ssize_t r = read(fd, buf, chunk);
		if (r > 0)
			dropped += (size_t)r;
		else if (!(r < 0 && errno == EINTR))
			break;
	}
	return dropped;
}

/* After a crash, the consumer's pipe may start in the middle of a line
 * (the dead process read its first part): read that rest away, up to
 * its newline, so that the replacement starts on a whole line.  The ring
 * says where that newline is, so the pipe is read in whole pieces, never
 * past the line's end; if the feeder has not written the newline yet,
 * what it wrote is dropped and the rest awaited (up to a second).
 * Returns the bytes dropped. */
static size_t drop_partial_line(struct sv_node *n, struct sv_feeder *f, uint64_t consumed,
                                uint64_t written)
{
	if (!f->ring || consumed == 0 || written - consumed + 1 > RING ||
	    f->ring[(consumed - 1) % RING] == '\n')
		return 0; /* at a line boundary (or too far back to know) */
	int64_t until = rt_now() + PARTIAL_LINE_WAIT;
	uint64_t at = consumed;
	for (;;) {
		sv_lock(&f->mu);
		uint64_t w = __atomic_load_n(&f->written, __ATOMIC_RELAXED);
		uint64_t end = at;
		while (end < w && end - consumed < RING && f->ring[end % RING] != '\n')
			end++;
		int found = end < w && f->ring[end % RING] == '\n';
		sv_unlock(&f->mu);
		size_t want = (size_t)(end + found - at);
		size_t got = drop_bytes(n->ends->in_fd, want, until);
		at += got;
		if (found || got < want || end - consumed >= RING)
			return (size_t)(at - consumed);
		/* the newline is not written yet: wait for the feeder */
		if (rt_now() >= until || rt_fd_wait(n->ends->in_fd, RT_READ, until) < 0)
			return (size_t)(at - consumed);
	}
}

/* Lines among the last bytes a crashed consumer read. */
static uint64_t lines_read_last(struct sv_feeder *f, uint64_t bytes, uint64_t consumed,
                                uint64_t written, uint64_t lines)
{
	if (f->ring && bytes <= consumed && written - (consumed - bytes) <= RING)
		return ring_lines(f, consumed - bytes, consumed); /* exactly */
	return written ? (bytes * lines + written - 1) / written : 0;
}

void sv_pipes_consumer_exited(struct sv_node *n)
{
	struct sv_feeder *f = n->ends ? n->ends->feeder : NULL;
	if (!f || n->ends->in_fd < 0)
		return;
	int in_pipe = 0;
	sv_lock(&f->mu);
	ioctl(n->ends->in_fd, FIONREAD, &in_pipe);
	uint64_t written = __atomic_load_n(&f->written, __ATOMIC_RELAXED);
	uint64_t lines = __atomic_load_n(&f->lines, __ATOMIC_RELAXED);
	sv_unlock(&f->mu);
	uint64_t consumed = written > (uint64_t)in_pipe ? written - (uint64_t)in_pipe : 0;
	size_t dropped = drop_partial_line(n, f, consumed, written);
	consumed += dropped;
	if (consumed <= f->accounted)
		return;
	uint64_t read = consumed - f->accounted;
	f->accounted = consumed;
	uint64_t bytes = read < LOST_GUESS ? read : LOST_GUESS;
	if (bytes < dropped)
		bytes = dropped;
	uint64_t est = lines_read_last(f, bytes, consumed, written, lines);
	if (dropped && est == 0)
		est = 1;
	if (f->p->cfg->framing == SV_FRAME_CHUNK)
		sv_err("%s: ended abnormally; up to %llu bytes it had read from chan:%s may be lost",
		       n->name, (unsigned long long)bytes, f->p->cfg->name);
	else
		sv_err("%s: ended abnormally; up to %llu lines (%llu bytes) it had read from chan:%s may be lost",
		       n->name, (unsigned long long)est, (unsigned long long)bytes, f->p->cfg->name);
	sv_loss_add(n->g, est);
}
