/*
 * 06-fd.c - waiting for file descriptors: rt_fd_wait on pipes (readable,
 * deadline, writable, full pipe drained by another G), rt_read/rt_write
 * moving 10 MB between two green threads, rt_fd_wait_any on several
 * pipes, 1,000 pipes waited on at once, and closes racing the poller.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rt.h"
#include "tap.h"
#include "rt_test.h"


static int nb_pipe(int fds[2])
{
	return pipe2(fds, O_NONBLOCK | O_CLOEXEC);
}

/* ---- readable after a write ---------------------------------------------- */

struct delayed_writer {
	int fd;
	int64_t delay;
	_Atomic int done;
};

static void delayed_write(void *p)
{
	struct delayed_writer *w = p;
	rt_sleep(w->delay);
	if (write(w->fd, "x", 1) != 1)
		diag("write: %s", strerror(errno));
	atomic_store(&w->done, 1);
}

static void test_readable(void)
{
	int fds[2];
	if (nb_pipe(fds) != 0) {
		ok(0, "pipe2: %s", strerror(errno));
		return;
	}
	/* Poll with a past deadline: nothing to read. */
	errno = 0;
	int r = rt_fd_wait(fds[0], RT_READ, 0);
	ok(r == -1 && errno == ETIMEDOUT, "empty pipe, deadline 0: -1 ETIMEDOUT");

	struct delayed_writer w = { .fd = fds[1], .delay = 50 * MS };
	int64_t t0 = rt_now();
	rt_go(delayed_write, &w);
	r = rt_fd_wait(fds[0], RT_READ, rt_now() + 5000 * MS);
	int64_t el = rt_now() - t0;
	ok(r == RT_READ && wait_int(&w.done, 1, 2000 * MS),
	   "rt_fd_wait(RT_READ) returns RT_READ once the writer G wrote (%d)", r);
	ok(el >= 45 * MS && el < 5000 * MS, "  after the writer's 50 ms sleep (%lld ms)",
	   (long long)(el / MS));
	char c;
	ok(read(fds[0], &c, 1) == 1 && c == 'x', "the byte is there");

	/* Deadline passed while a byte is ready: poll semantics, RT_READ. */
	if (write(fds[1], "y", 1) == 1) {
		r = rt_fd_wait(fds[0], RT_READ, 0);
		ok(r == RT_READ, "ready pipe, deadline 0: RT_READ without parking (%d)", r);
		ok(read(fds[0], &c, 1) == 1, "drained");
	}

	/* Deadline: an empty pipe, now + 50 ms. */
	errno = 0;
	t0 = rt_now();
	r = rt_fd_wait(fds[0], RT_READ, rt_now() + 50 * MS);
	el = rt_now() - t0;
	ok(r == -1 && errno == ETIMEDOUT, "empty pipe, deadline now+50ms: -1 ETIMEDOUT (%d, %s)", r,
	   strerror(errno));
	ok(el >= 50 * MS && el < 2000 * MS, "  after %lld ms (>= 50)", (long long)(el / MS));

	/* The same fd can be waited on again after a timeout. */
	w.delay = 10 * MS;
	atomic_store(&w.done, 0);
	rt_go(delayed_write, &w);
	r = rt_fd_wait(fds[0], RT_READ, rt_now() + 5000 * MS);
	ok(r == RT_READ, "waiting on the same fd again after a timeout works (%d)", r);
	wait_int(&w.done, 1, 2000 * MS);
	ok(read(fds[0], &c, 1) == 1, "drained");

	/* Writer closes: EOF counts as readable. */
	rt_close(fds[1]);
	r = rt_fd_wait(fds[0], RT_READ, rt_now() + 2000 * MS);
	ok(r == RT_READ && read(fds[0], &c, 1) == 0, "write end closed: RT_READ, then read() returns 0");
	rt_close(fds[0]);
}

/* ---- writable ------------------------------------------------------------- */

struct drainer {
	int fd;
	int64_t delay;
	long drained;
	_Atomic int done;
};

static void drain(void *p)
{
	struct drainer *d = p;
	char buf[4096];
	rt_sleep(d->delay);
	ssize_t n;
	while ((n = read(d->fd, buf, sizeof buf)) > 0)
		d->drained += n;
	atomic_store(&d->done, 1);
}

static void test_writable(void)
{
	int fds[2];
	if (nb_pipe(fds) != 0) {
		ok(0, "pipe2: %s", strerror(errno));
		return;
	}
	int64_t t0 = rt_now();
	int r = rt_fd_wait(fds[1], RT_WRITE, rt_now() + 2000 * MS);
	int64_t el = rt_now() - t0;
	ok(r == RT_WRITE && el < 100 * MS, "RT_WRITE on a pipe with room: RT_WRITE at once (%lld us)",
	   (long long)(el / US));
	r = rt_fd_wait(fds[1], RT_READ | RT_WRITE, rt_now() + 2000 * MS);
	ok(r == RT_WRITE, "RT_READ|RT_WRITE on an empty pipe's write end: RT_WRITE only (%d)", r);

	/* Fill it. */
	char buf[4096];
	memset(buf, 'f', sizeof buf);
	long filled = 0;
	for (;;) {
		ssize_t n = write(fds[1], buf, sizeof buf);
		if (n > 0) {
			filled += n;
			continue;
		}
		if (n < 0 && errno == EAGAIN)
			break;
		diag("filling: %s", strerror(errno));
		break;
	}
	for (;;) { /* the last bytes of the last page */
		ssize_t n = write(fds[1], buf, 1);
		if (n != 1)
			break;
		filled++;
	}
	ok(filled > 0, "pipe full after %ld bytes", filled);
	errno = 0;
	t0 = rt_now();
	r = rt_fd_wait(fds[1], RT_WRITE, rt_now() + 30 * MS);
	el = rt_now() - t0;
	ok(r == -1 && errno == ETIMEDOUT && el >= 30 * MS, "full pipe: RT_WRITE times out (%d, %lld ms)", r,
	   (long long)(el / MS));

	struct drainer d = { .fd = fds[0], .delay = 30 * MS };
	t0 = rt_now();
	rt_go(drain, &d);
	r = rt_fd_wait(fds[1], RT_WRITE, rt_now() + 5000 * MS);
	el = rt_now() - t0;
	ok(r == RT_WRITE, "full pipe becomes writable once a reader G drains it (%d)", r);
	ok(el >= 25 * MS && el < 5000 * MS, "  after the reader's 30 ms sleep (%lld ms)",
	   (long long)(el / MS));
	wait_int(&d.done, 1, 2000 * MS);
	is_int(d.drained, filled, "the reader drained every byte written");
	rt_close(fds[0]);
	rt_close(fds[1]);
}

/* ---- 10 MB through a pipe ---------------------------------------------------- */

#define BULK (10L << 20)

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

struct bulk {
	int fd;
	uint64_t sum;
	long bytes;
	int err;
	_Atomic int done;
};

static void bulk_writer(void *p)
{
	struct bulk *b = p;
	static unsigned char buf[200000];
	uint64_t x = 88172645463325252ULL, h = 0xcbf29ce484222325ULL;
	long left = BULK;
	size_t sizes[] = { 1, 4095, 65536, 200000, 777, 12345 };
	int k = 0;
	while (left > 0) {
		size_t n = sizes[k++ % 6];
		if ((long)n > left)
			n = (size_t)left;
		for (size_t i = 0; i < n; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			buf[i] = (unsigned char)x;
		}
		ssize_t w = rt_write(b->fd, buf, n, rt_now() + 20000 * MS);
		if (w != (ssize_t)n) {
			b->err = errno ? errno : EIO;
			break;
		}
		h = fnv(h, buf, n);
		b->bytes += (long)n;
		left -= (long)n;
	}
	b->sum = h;
	rt_close(b->fd);
	atomic_store(&b->done, 1);
}

static void bulk_reader(void *p)
{
	struct bulk *b = p;
	static unsigned char buf[7919];
	uint64_t h = 0xcbf29ce484222325ULL;
	for (;;) {
		ssize_t n = rt_read(b->fd, buf, sizeof buf, rt_now() + 20000 * MS);
		if (n < 0) {
			b->err = errno;
			break;
		}
		if (n == 0)
			break;
		h = fnv(h, buf, (size_t)n);
		b->bytes += n;
	}
	b->sum = h;
	rt_close(b->fd);
	atomic_store(&b->done, 1);
}

static void test_bulk(void)
{
	int fds[2];
	if (nb_pipe(fds) != 0) {
		ok(0, "pipe2: %s", strerror(errno));
		return;
	}
	struct bulk w = { .fd = fds[1] }, r = { .fd = fds[0] };
	int64_t t0 = rt_now();
	rt_go(bulk_reader, &r);
	rt_go(bulk_writer, &w);
	_Atomic int *dw = &w.done, *dr = &r.done;
	int fin = wait_int(dw, 1, 30000 * MS) && wait_int(dr, 1, 30000 * MS);
	ok(fin && w.err == 0 && r.err == 0, "rt_write/rt_read moved 10 MB between two Gs (%lld ms; "
	   "errors %d/%d)", (long long)((rt_now() - t0) / MS), w.err, r.err);
	ok(w.bytes == BULK && r.bytes == BULK, "byte counts %ld written, %ld read", w.bytes, r.bytes);
	ok(w.sum == r.sum, "checksums match (%016llx)", (unsigned long long)r.sum);

	/* rt_read with a deadline on an empty pipe. */
	int e[2];
	if (nb_pipe(e) == 0) {
		char c;
		errno = 0;
		int64_t t1 = rt_now();
		ssize_t n = rt_read(e[0], &c, 1, rt_now() + 20 * MS);
		ok(n == -1 && errno == ETIMEDOUT && rt_now() - t1 >= 20 * MS,
		   "rt_read on an empty pipe with a 20 ms deadline: ETIMEDOUT");
		rt_close(e[0]);
		rt_close(e[1]);
	}
}

/* ---- 1,000 pipes ------------------------------------------------------------------ */

#define NPIPES 1000

static int pfd[NPIPES][2];
static int presult[NPIPES];
static unsigned char pbyte[NPIPES];
static _Atomic int pdone, pwaiting;

static void pipe_waiter(void *p)
{
	long i = (long)(intptr_t)p;
	atomic_fetch_add(&pwaiting, 1);
	int r = rt_fd_wait(pfd[i][0], RT_READ, rt_now() + 20000 * MS);
	presult[i] = r;
	if (r == RT_READ && read(pfd[i][0], &pbyte[i], 1) != 1)
		presult[i] = -2;
	atomic_fetch_add(&pdone, 1);
}

static void pipe_writer(void *unused)
{
	/* Reverse order, with yields, so wake-ups come in no particular order. */
	for (int i = NPIPES - 1; i >= 0; i--) {
		unsigned char b = (unsigned char)(i * 7);
		if (write(pfd[i][1], &b, 1) != 1)
			diag("write pipe %d: %s", i, strerror(errno));
		if (i % 50 == 0)
			rt_yield();
	}
}

static void test_many_pipes(void)
{
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < 2 * NPIPES + 64 && rl.rlim_max >= 2 * NPIPES + 64) {
		rl.rlim_cur = 2 * NPIPES + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < 2 * NPIPES + 64) {
		printf("ok %d # SKIP RLIMIT_NOFILE %ld is too low for %d pipes\n", ++tap_n,
		       (long)rl.rlim_cur, NPIPES);
		printf("ok %d # SKIP\nok %d # SKIP\n", tap_n + 1, tap_n + 2);
		tap_n += 2;
		fflush(stdout);
		return;
	}
	int made = 0;
	for (int i = 0; i < NPIPES; i++, made++)
		if (nb_pipe(pfd[i]) != 0) {
			diag("pipe %d: %s", i, strerror(errno));
			break;
		}
	is_int(made, NPIPES, "made %d pipes", NPIPES);
	for (long i = 0; i < made; i++)
		rt_go(pipe_waiter, (void *)(intptr_t)i);
	/* Let them all park first, then write. */
	wait_int(&pwaiting, made, 5000 * MS);
	rt_sleep(20 * MS);
	int early = atomic_load(&pdone);
	int64_t t0 = rt_now();
	rt_go(pipe_writer, NULL);
	int fin = wait_int(&pdone, made, 20000 * MS);
	ok(fin && early == 0, "%d Gs waiting on %d pipes all woke (%lld ms; %d woke before the writes)",
	   made, made, (long long)((rt_now() - t0) / MS), early);
	int bad = 0;
	for (int i = 0; i < made; i++)
		if (presult[i] != RT_READ || pbyte[i] != (unsigned char)(i * 7))
			bad++;
	is_int(bad, 0, "each got RT_READ and its own byte");
	for (int i = 0; i < made; i++) {
		rt_close(pfd[i][0]);
		rt_close(pfd[i][1]);
	}
}

/* ---- several fds at once ------------------------------------------------------- */

static void test_wait_any(void)
{
	int a[2], b[2];
	if (nb_pipe(a) != 0 || nb_pipe(b) != 0) {
		ok(0, "pipe2: %s", strerror(errno));
		return;
	}
	struct rt_pollfd pf[3] = { { a[0], RT_READ, 0 }, { -1, RT_READ, 0 }, { b[0], RT_READ, 0 } };
	struct delayed_writer w = { .fd = b[1], .delay = 50 * MS };
	int64_t t0 = rt_now();
	rt_go(delayed_write, &w);
	int r = rt_fd_wait_any(pf, 3, rt_now() + 5000 * MS);
	int64_t el = rt_now() - t0;
	ok(r == 1 && pf[0].revents == 0 && pf[1].revents == 0 && pf[2].revents == RT_READ &&
	   el >= 45 * MS,
	   "rt_fd_wait_any: parks until the second pipe is written (%d; %d %d %d; %lld ms)", r,
	   pf[0].revents, pf[1].revents, pf[2].revents, (long long)(el / MS));
	wait_int(&w.done, 1, 2000 * MS);

	if (write(a[1], "z", 1) != 1)
		diag("write: %s", strerror(errno));
	r = rt_fd_wait_any(pf, 3, 0);
	ok(r == 2 && pf[0].revents == RT_READ && pf[2].revents == RT_READ,
	   "both pipes ready: 2, each marked (%d)", r);
	char c;
	ok(read(a[0], &c, 1) == 1 && read(b[0], &c, 1) == 1, "drained");

	errno = 0;
	t0 = rt_now();
	r = rt_fd_wait_any(pf, 3, rt_now() + 50 * MS);
	el = rt_now() - t0;
	ok(r == -1 && errno == ETIMEDOUT && el >= 50 * MS && el < 2000 * MS,
	   "nothing ready: -1 ETIMEDOUT after the deadline (%lld ms)", (long long)(el / MS));

	struct rt_pollfd mixed[2] = { { a[0], RT_READ, 0 }, { b[1], RT_WRITE, 0 } };
	r = rt_fd_wait_any(mixed, 2, rt_now() + 2000 * MS);
	ok(r == 1 && mixed[1].revents == RT_WRITE && mixed[0].revents == 0,
	   "a read and a write wait: the pipe with room is writable (%d)", r);

	rt_close(a[1]);
	r = rt_fd_wait_any(pf, 3, rt_now() + 2000 * MS);
	ok(r == 1 && pf[0].revents == RT_READ && read(a[0], &c, 1) == 0,
	   "a closed write end counts as readable (EOF)");

	struct rt_pollfd none[2] = { { -1, RT_READ, 0 }, { b[0], 0, 0 } };
	errno = 0;
	r = rt_fd_wait_any(none, 2, RT_NEVER);
	int e = errno;
	errno = 0;
	int r2 = rt_fd_wait_any(pf, RT_FD_WAIT_MAX + 1, RT_NEVER);
	ok(r == -1 && e == EINVAL && r2 == -1 && errno == EINVAL,
	   "no fd to wait on, or too many: -1 EINVAL");
	rt_close(a[0]);
	rt_close(b[0]);
	rt_close(b[1]);
}

/* rt_fd_wait_any_fresh registers without asking poll(2) first: a pipe
 * that is ready already is seen at registration, one that is not is
 * waited for. */
static void test_wait_any_fresh(void)
{
	int a[2], b[2];
	if (nb_pipe(a) != 0 || nb_pipe(b) != 0) {
		ok(0, "pipe2: %s", strerror(errno));
		ok(0, "skipped");
		return;
	}
	if (write(a[1], "x", 1) != 1)
		abort();
	struct rt_pollfd pf[2] = { { a[0], RT_READ, 0 }, { b[0], RT_READ, 0 } };
	int64_t t0 = rt_now();
	int r = rt_fd_wait_any_fresh(pf, 2, rt_now() + 2000 * MS);
	ok(r == 1 && pf[0].revents == RT_READ && pf[1].revents == 0 && rt_now() - t0 < 1000 * MS,
	   "rt_fd_wait_any_fresh: a pipe written before the wait is ready at once (%d; %d %d)", r,
	   pf[0].revents, pf[1].revents);
	char c;
	if (read(a[0], &c, 1) != 1)
		abort();
	struct delayed_writer w = { .fd = b[1], .delay = 50 * MS };
	t0 = rt_now();
	rt_go(delayed_write, &w);
	r = rt_fd_wait_any_fresh(pf, 2, rt_now() + 5000 * MS);
	int64_t el = rt_now() - t0;
	ok(r == 1 && pf[1].revents == RT_READ && pf[0].revents == 0 && el >= 45 * MS,
	   "rt_fd_wait_any_fresh: parks until the empty pipe is written (%d; %lld ms)", r,
	   (long long)(el / MS));
	wait_int(&w.done, 1, 2000 * MS);
	rt_close(a[0]);
	rt_close(b[0]);
	close(a[1]);
	close(b[1]);
}

/* ---- closing a waited-on fd while a poller is in epoll_wait ---------------- */

/*
 * Readers hit EOF and close (rt_close) while another M polls, and the
 * numbers are reused at once.  With libev watching the fds itself, a
 * stopped fd stayed in its epoll set and its lazy EPOLL_CTL_DEL could hit
 * a reused number, after which libev rebuilt its whole set under a new
 * epoll fd.  The runtime's epoll instances (libev's, and fdwait.c's that
 * it nests) must be the ones from the start (compared with kcmp, through
 * dups), and every read must end at its EOF.
 */

static int eventpoll_fds(int *out, int max)
{
	char path[64], link[64];
	int n = 0;
	for (int fd = 0; fd < 1024 && n < max; fd++) {
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		ssize_t len = readlink(path, link, sizeof link - 1);
		if (len > 0) {
			link[len] = 0;
			if (strcmp(link, "anon_inode:[eventpoll]") == 0)
				out[n++] = fd;
		}
	}
	return n;
}

static int same_file(int a, int b)
{
	return (int)syscall(SYS_kcmp, getpid(), getpid(), 0 /* KCMP_FILE */, a, b);
}

struct eof_reader {
	int fd;
	struct rt_wg *wg;
};

static void read_to_eof_and_close(void *p)
{
	struct eof_reader *r = p;
	char buf[64];
	for (;;) {
		ssize_t n = rt_read(r->fd, buf, sizeof buf, rt_now() + 5000 * MS);
		if (n <= 0)
			break;
	}
	rt_close(r->fd);
	int fds[2]; /* take the lowest free number, as the next job's pipe would */
	if (pipe2(fds, O_CLOEXEC) == 0) {
		close(fds[0]);
		close(fds[1]);
	}
	rt_wg_done(r->wg);
}

static void test_close_while_polling(void)
{
	int ep[4], orig[4];
	int nep = eventpoll_fds(ep, 4);
	if (nep < 1 || nep > 2) {
		ok(1, "# SKIP close while polling: found %d epoll fds, not the runtime's 1 or 2", nep);
		return;
	}
	for (int k = 0; k < nep; k++) {
		orig[k] = dup(ep[k]);
		if (orig[k] < 0 || same_file(orig[k], ep[k]) != 0) {
			ok(1, "# SKIP close while polling: kcmp(2) unavailable (%s)", strerror(errno));
			for (int j = 0; j <= k; j++)
				if (orig[j] >= 0)
					close(orig[j]);
			return;
		}
	}
	int rounds = 300;
	for (int i = 0; i < rounds; i++) {
		struct rt_wg wg = RT_WG_INIT;
		struct eof_reader r[4];
		int w[4];
		rt_wg_add(&wg, 4);
		for (int k = 0; k < 4; k++) {
			int fds[2];
			if (nb_pipe(fds) != 0)
				abort();
			r[k] = (struct eof_reader){ fds[0], &wg };
			w[k] = fds[1];
			rt_go(read_to_eof_and_close, &r[k]);
		}
		rt_yield();
		for (int k = 0; k < 4; k++) {
			if (write(w[k], "x", 1) != 1)
				abort();
			close(w[k]); /* hangs up the reader's end */
		}
		rt_wg_wait(&wg);
	}
	int now[8];
	int n = eventpoll_fds(now, 8);
	int kept = 0;
	for (int k = 0; k < nep; k++)
		for (int j = 0; j < n; j++)
			if (now[j] != orig[k] && same_file(orig[k], now[j]) == 0) {
				kept++;
				break;
			}
	ok(kept == nep && n == 2 * nep, "%d rounds of 4 readers closing at EOF while another M polls: "
	   "the runtime's %d epoll sets were never rebuilt", rounds, nep);
	for (int k = 0; k < nep; k++)
		close(orig[k]);
}

/* ---- several Gs on one fd; files epoll cannot watch ------------------------ */

struct shared_waiter {
	int fd;
	int events;
	_Atomic int got;          /* read by the main G while the waiter may wake */
	struct rt_wg *wg;
};

static void wait_shared(void *p)
{
	struct shared_waiter *w = p;
	atomic_store(&w->got, rt_fd_wait(w->fd, w->events, rt_now() + 5000 * MS));
	rt_wg_done(w->wg);
}

static void test_shared_and_files(void)
{
	/* a socket pair: three readers of one end and one writer-waiter of
	 * it, whose buffer is full; the peer writes, then reads */
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
		ok(0, "socketpair: %s", strerror(errno));
		ok(0, "skipped");
		ok(0, "skipped");
		ok(0, "skipped");
		return;
	}
	char buf[4096];
	memset(buf, 's', sizeof buf);
	while (write(sv[0], buf, sizeof buf) > 0)
		;
	struct rt_wg wg = RT_WG_INIT;
	struct shared_waiter w[4];
	rt_wg_add(&wg, 4);
	for (int k = 0; k < 4; k++) {
		w[k] = (struct shared_waiter){ sv[0], k < 3 ? RT_READ : RT_WRITE, -2, &wg };
		rt_go(wait_shared, &w[k]);
	}
	rt_sleep(20 * MS); /* all four parked on sv[0] */
	ok(w[0].got == -2 && w[1].got == -2 && w[2].got == -2 && w[3].got == -2,
	   "four Gs wait on one socket, none woken before it is ready (%d %d %d %d)", w[0].got,
	   w[1].got, w[2].got, w[3].got);
	if (write(sv[1], "x", 1) != 1)
		abort();
	while (read(sv[1], buf, sizeof buf) > 0) /* room for the writer */
		;
	rt_wg_wait(&wg);
	ok(w[0].got == RT_READ && w[1].got == RT_READ && w[2].got == RT_READ,
	   "three Gs waiting to read one socket all woke readable (%d %d %d)", w[0].got, w[1].got,
	   w[2].got);
	ok(w[3].got == RT_WRITE, "a fourth waiting to write on it woke writable (%d)", w[3].got);
	rt_close(sv[0]);
	close(sv[1]);

	/* a regular file is always ready, as poll(2) says */
	char path[] = "/tmp/rt-06-fd-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0) {
		ok(0, "mkstemp: %s", strerror(errno));
		return;
	}
	unlink(path);
	int64_t t0 = rt_now();
	int r = rt_fd_wait(fd, RT_READ | RT_WRITE, rt_now() + 2000 * MS);
	ok(r == (RT_READ | RT_WRITE) && rt_now() - t0 < 100 * MS,
	   "rt_fd_wait on a regular file: ready at once (%d)", r);
	rt_close(fd);
}

/* ---- a waited number closed with plain close(2) and reused ------------------ */

static void test_plain_close_reuse(void)
{
	int a[2], b[2];
	if (nb_pipe(a) != 0) {
		ok(0, "pipe2: %s", strerror(errno));
		ok(0, "skipped");
		return;
	}
	int num = a[0];
	int r = rt_fd_wait(num, RT_READ, rt_now() + 20 * MS);
	ok(r < 0 && errno == ETIMEDOUT, "a wait on an empty pipe times out");
	close(a[0]); /* plain close, not rt_close: the runtime is not told */
	close(a[1]);
	if (nb_pipe(b) != 0 || b[0] != num) {
		ok(1, "# SKIP the fd number was not reused (%d, not %d)", b[0], num);
		if (b[0] >= 0) {
			close(b[0]);
			close(b[1]);
		}
		return;
	}
	if (write(b[1], "y", 1) != 1)
		abort();
	int64_t t0 = rt_now();
	r = rt_fd_wait(num, RT_READ, rt_now() + 2000 * MS);
	ok(r == RT_READ && rt_now() - t0 < 1000 * MS,
	   "the number reused by a new pipe after a plain close: its wait sees the new file (%d)", r);
	rt_close(b[0]);
	close(b[1]);
}

static void main_fn(void *unused)
{
	test_readable();
	test_wait_any();
	test_wait_any_fresh();
	test_writable();
	test_bulk();
	test_many_pipes();
	test_close_while_polling();
	test_shared_and_files();
	test_plain_close_reuse();
}

int main(void)
{
	tap_watchdog(60);
	tap_plan(42);
	struct rt_config cfg;
	rt_config_default(&cfg);
	cfg.procs = 2;
	is_int(rt_run(&cfg, main_fn, NULL), 0, "rt_run returned 0");
	return tap_done();
}
