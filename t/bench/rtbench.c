/*
 * rtbench - the grun side of the runtime benchmarks (t/bench/run).
 *
 *   rtbench <name> <n>
 *
 * runs one workload once on grun's runtime (runtime/rt.h) and prints a
 * single line "<value> <unit>" on stdout (unit ns, us, ms or B); errors go to
 * stderr with exit status 1.  The workloads are the ones of
 * t/bench/go/gobench.go, written the same way; keep the two in step.
 *
 *   yield             two green threads each calling rt_yield() n/2 times,
 *                     1 P; ns per yield (total / n)
 *   chan_roundtrip    unbuffered round trip to an echo green thread, 1 P;
 *                     ns per round trip (n round trips)
 *   chan_buffered_1p  one producer, one consumer, cap 1024, 1 P;
 *   chan_buffered_2p  the same with 2 Ps; ns per element (n elements)
 *   spawn             rt_go() of a function that calls rt_wg_done(), in
 *                     batches of 1000, 1 P; ns per green thread
 *   skynet            tree of n leaf green threads (n a power of 10), 10
 *                     children each, sums through channels,
 *                     rt_default_procs() Ps; ms
 *   mem_parked        n green threads parked in rt_chan_recv(), 1 P;
 *                     resident bytes per green thread (VmRSS delta / n)
 *   fairness_select   four producers each keep a cap-16 channel full while
 *                     one consumer runs rt_select() over the four, n ms,
 *                     1 P; the longest time any producer went without
 *                     completing a send, us
 *   fairness_sleep    a ping-pong pair on an unbuffered channel runs while
 *                     a third green thread sleeps 100 ms at a time, n ms,
 *                     1 P; the worst lateness of a sleep, us
 *   fairness_compute  the same with two green threads computing without
 *                     any runtime call instead of the pair; us
 *
 * Environment: RTBENCH_STACK sets rt_config.stack_size (bytes, 0 or unset:
 * the runtime's default); RTBENCH_STATS=1 prints rt_stats on stderr.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt.h"

struct bench {
	const char *name;
	int64_t n;
	double value;       /* result */
	const char *unit;
	int failed;
	char err[256];
};

static void fail(struct bench *b, const char *fmt, const char *what)
{
	/* the first failure wins; green threads on several Ps may fail */
	if (!__atomic_exchange_n(&b->failed, 1, __ATOMIC_ACQ_REL))
		snprintf(b->err, sizeof b->err, fmt, what);
}

static int go_or_fail(struct bench *b, void (*fn)(void *), void *arg)
{
	if (rt_go(fn, arg) == 0)
		return 0;
	fail(b, "rt_go failed: %s", rt_limit_message());
	return -1;
}

/* ---- yield ------------------------------------------------------- */

struct yield_arg {
	int64_t half;
	struct rt_wg *wg;
};

static void yielder(void *p)
{
	struct yield_arg *a = p;
	int64_t i;

	for (i = 0; i < a->half; i++)
		rt_yield();
	rt_wg_done(a->wg);
}

static void bench_yield(struct bench *b)
{
	struct rt_wg wg = RT_WG_INIT;
	struct yield_arg a = { b->n / 2, &wg };
	int64_t start;
	int j;

	rt_wg_add(&wg, 2);
	start = rt_now();
	for (j = 0; j < 2; j++)
		if (go_or_fail(b, yielder, &a) < 0)
			rt_wg_done(&wg);
	rt_wg_wait(&wg);
	b->value = (double)(rt_now() - start) / (double)(2 * a.half);
	b->unit = "ns";
}

/* ---- chan_roundtrip ------------------------------------------------- */

struct echo_arg {
	struct rt_chan *ch;
	struct rt_wg *wg;
};

static void echo(void *p)
{
	struct echo_arg *a = p;
	int64_t v;

	while (rt_chan_recv(a->ch, &v) == 1)
		if (rt_chan_send(a->ch, &v) < 0)
			break;
	rt_wg_done(a->wg);
}

static void bench_roundtrip(struct bench *b)
{
	struct rt_wg wg = RT_WG_INIT;
	struct echo_arg a;
	int64_t i, v, start, elapsed;

	a.ch = rt_chan_make(sizeof(int64_t), 0);
	a.wg = &wg;
	if (!a.ch) {
		fail(b, "rt_chan_make: %s", strerror(errno));
		return;
	}
	rt_wg_add(&wg, 1);
	if (go_or_fail(b, echo, &a) < 0)
		return;
	start = rt_now();
	for (i = 0; i < b->n; i++) {
		if (rt_chan_send(a.ch, &i) < 0 || rt_chan_recv(a.ch, &v) != 1) {
			fail(b, "%s", "send or receive failed");
			break;
		}
		if (v != i) {
			fail(b, "%s", "echo returned a different value");
			break;
		}
	}
	elapsed = rt_now() - start;
	rt_chan_close(a.ch);
	rt_wg_wait(&wg);
	rt_chan_free(a.ch);
	b->value = (double)elapsed / (double)b->n;
	b->unit = "ns";
}

/* ---- chan_buffered_1p / chan_buffered_2p -------------------------- */

struct pc_arg {
	struct rt_chan *ch;
	struct rt_wg *wg;
	int64_t n;
	int64_t sum;
	int failed;
};

static void producer(void *p)
{
	struct pc_arg *a = p;
	int64_t i;

	for (i = 0; i < a->n; i++)
		if (rt_chan_send(a->ch, &i) < 0) {
			a->failed = 1;
			break;
		}
	rt_wg_done(a->wg);
}

static void consumer(void *p)
{
	struct pc_arg *a = p;
	int64_t i, v, s = 0;

	for (i = 0; i < a->n; i++) {
		if (rt_chan_recv(a->ch, &v) != 1) {
			a->failed = 1;
			break;
		}
		s += v;
	}
	a->sum = s;
	rt_wg_done(a->wg);
}

static void bench_buffered(struct bench *b)
{
	struct rt_wg wg = RT_WG_INIT;
	struct pc_arg a;
	int64_t start, elapsed;

	memset(&a, 0, sizeof a);
	a.ch = rt_chan_make(sizeof(int64_t), 1024);
	a.wg = &wg;
	a.n = b->n;
	if (!a.ch) {
		fail(b, "rt_chan_make: %s", strerror(errno));
		return;
	}
	rt_wg_add(&wg, 2);
	start = rt_now();
	if (go_or_fail(b, producer, &a) < 0) {
		rt_chan_free(a.ch);
		return;
	}
	if (go_or_fail(b, consumer, &a) < 0) {
		rt_chan_close(a.ch);        /* the producer gets EPIPE and ends */
		rt_wg_done(&wg);
	}
	rt_wg_wait(&wg);
	elapsed = rt_now() - start;
	rt_chan_free(a.ch);
	if (a.failed)
		fail(b, "%s", "send or receive failed");
	else if (a.sum != b->n * (b->n - 1) / 2)
		fail(b, "%s", "wrong sum");
	b->value = (double)elapsed / (double)b->n;
	b->unit = "ns";
}

/* ---- spawn ------------------------------------------------------------ */

static void spawned(void *p)
{
	rt_wg_done(p);
}

static void bench_spawn(struct bench *b)
{
	struct rt_wg wg = RT_WG_INIT;
	int64_t done = 0, start, elapsed, i, batch;

	start = rt_now();
	while (done < b->n && !b->failed) {
		batch = b->n - done < 1000 ? b->n - done : 1000;
		rt_wg_add(&wg, batch);
		for (i = 0; i < batch; i++)
			if (go_or_fail(b, spawned, &wg) < 0) {
				rt_wg_add(&wg, -(batch - i));
				break;
			}
		rt_wg_wait(&wg);
		done += batch;
	}
	elapsed = rt_now() - start;
	b->value = (double)elapsed / (double)b->n;
	b->unit = "ns";
}

/* ---- skynet ------------------------------------------------------------- */

struct sky_arg {
	struct rt_chan *c;   /* where to send the sum */
	int64_t num, size;
	struct bench *b;
};

/*
 * Each node copies its argument first: the parent's array of arguments
 * lives on the parent's stack, which stays valid until the parent has
 * received from every child, and so until every child has started.
 * Channels are not freed: a child may still be inside rt_chan_send()
 * when its parent has received the value, so no node knows when its
 * channel is unused; they go with the process.
 */
static void skynet(void *p)
{
	struct sky_arg self = *(struct sky_arg *)p;
	struct sky_arg kids[10];
	struct rt_chan *rc;
	int64_t sum = 0, v, sub;
	int i, started = 0;

	if (self.size == 1) {
		sum = self.num;
		goto out;
	}
	rc = rt_chan_make(sizeof(int64_t), 0);
	if (!rc) {
		fail(self.b, "rt_chan_make: %s", strerror(errno));
		goto out;
	}
	sub = self.size / 10;
	for (i = 0; i < 10; i++) {
		kids[i].c = rc;
		kids[i].num = self.num + i * sub;
		kids[i].size = sub;
		kids[i].b = self.b;
		if (go_or_fail(self.b, skynet, &kids[i]) < 0)
			break;
		started++;
	}
	for (i = 0; i < started; i++) {
		if (rt_chan_recv(rc, &v) != 1) {
			fail(self.b, "%s", "receive failed");
			break;
		}
		sum += v;
	}
out:
	if (rt_chan_send(self.c, &sum) < 0)
		fail(self.b, "%s", "send failed");
}

static void bench_skynet(struct bench *b)
{
	struct sky_arg root;
	struct rt_chan *c;
	int64_t m, sum = 0, start, elapsed;

	for (m = b->n; m > 1; m /= 10)
		if (m % 10) {
			fail(b, "%s", "n is not a power of 10");
			return;
		}
	c = rt_chan_make(sizeof(int64_t), 0);
	if (!c) {
		fail(b, "rt_chan_make: %s", strerror(errno));
		return;
	}
	root.c = c;
	root.num = 0;
	root.size = b->n;
	root.b = b;
	start = rt_now();
	if (go_or_fail(b, skynet, &root) < 0)
		return;
	if (rt_chan_recv(c, &sum) != 1)
		fail(b, "%s", "receive failed");
	elapsed = rt_now() - start;
	if (sum != b->n * (b->n - 1) / 2) {
		char msg[96];

		snprintf(msg, sizeof msg, "sum %lld, want %lld", (long long)sum,
		         (long long)(b->n * (b->n - 1) / 2));
		fail(b, "%s", msg);
	}
	b->value = (double)elapsed / 1e6;
	b->unit = "ms";
}

/* ---- mem_parked ------------------------------------------------------ */

/* Resident set size in bytes from /proc/self/statm (field 2, in pages). */
static long long rss_bytes(void)
{
	long long size = 0, resident = -1;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return -1;
	if (fscanf(f, "%lld %lld", &size, &resident) != 2)
		resident = -1;
	fclose(f);
	return resident < 0 ? -1 : resident * sysconf(_SC_PAGESIZE);
}

struct park_arg {
	struct rt_chan *ch;
	struct rt_wg parked, exited;
};

static void parker(void *p)
{
	struct park_arg *a = p;

	rt_wg_done(&a->parked);
	rt_chan_recv(a->ch, NULL);      /* returns 0 when the channel closes */
	rt_wg_done(&a->exited);
}

static void bench_mem_parked(struct bench *b)
{
	struct park_arg a;
	long long before, after;
	int64_t i;

	memset(&a, 0, sizeof a);
	a.ch = rt_chan_make(sizeof(int64_t), 0);
	if (!a.ch) {
		fail(b, "rt_chan_make: %s", strerror(errno));
		return;
	}
	before = rss_bytes();
	rt_wg_add(&a.parked, b->n);
	rt_wg_add(&a.exited, b->n);
	for (i = 0; i < b->n; i++)
		if (go_or_fail(b, parker, &a) < 0) {
			rt_wg_add(&a.parked, -(b->n - i));
			rt_wg_add(&a.exited, -(b->n - i));
			break;
		}
	rt_wg_wait(&a.parked);
	for (i = 0; i < 10; i++)        /* let the last ones reach their receive */
		rt_yield();
	after = rss_bytes();
	rt_chan_close(a.ch);
	rt_wg_wait(&a.exited);
	rt_chan_free(a.ch);
	if (before < 0 || after < 0)
		fail(b, "%s", "cannot read /proc/self/statm");
	b->value = (double)(after - before) / (double)b->n;
	b->unit = "B";
}

/* ---- fairness_* --------------------------------------------------------- */

#define FAIR_PRODUCERS 4
#define FAIR_SLEEP_NS (100 * 1000000LL)

struct fair {
	struct bench *b;
	int64_t until;                  /* the load runs until then */
	struct rt_chan *ch[FAIR_PRODUCERS];
	int64_t worst;                  /* the figure, ns */
	_Atomic int stop;
	struct rt_wg wg;
};

static void fair_worst(struct fair *f, int64_t v)
{
	int64_t w = __atomic_load_n(&f->worst, __ATOMIC_RELAXED);
	while (v > w && !__atomic_compare_exchange_n(&f->worst, &w, v, 0,
			__ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

struct fair_producer {
	struct fair *f;
	int i;
};

/* Sends until its channel closes; the longest gap between two sends. */
static void fair_producer(void *p)
{
	struct fair_producer *a = p;
	int64_t v = 0, last = rt_now(), gap = 0, now;

	while (rt_chan_send(a->f->ch[a->i], &v) == 0) {
		now = rt_now();
		if (now - last > gap)
			gap = now - last;
		last = now;
		v++;
	}
	fair_worst(a->f, gap);
	rt_wg_done(&a->f->wg);
}

static void fair_select_consumer(void *p)
{
	struct fair *f = p;
	struct rt_case cs[FAIR_PRODUCERS];
	int64_t v;
	int i;

	for (i = 0; i < FAIR_PRODUCERS; i++)
		cs[i] = (struct rt_case){ f->ch[i], RT_RECV, &v, 0 };
	while (rt_now() < f->until)
		if (rt_select(cs, FAIR_PRODUCERS, RT_NEVER) < 0) {
			fail(f->b, "%s", "select failed");
			break;
		}
	for (i = 0; i < FAIR_PRODUCERS; i++)
		rt_chan_close(f->ch[i]);
	rt_wg_done(&f->wg);
}

static void bench_fair_select(struct bench *b)
{
	static struct fair f;
	static struct fair_producer pa[FAIR_PRODUCERS];
	int i;

	memset(&f, 0, sizeof f);
	f.b = b;
	f.until = rt_now() + b->n * 1000000;
	for (i = 0; i < FAIR_PRODUCERS; i++)
		if (!(f.ch[i] = rt_chan_make(sizeof(int64_t), 16))) {
			fail(b, "rt_chan_make: %s", strerror(errno));
			return;
		}
	rt_wg_add(&f.wg, FAIR_PRODUCERS + 1);
	for (i = 0; i < FAIR_PRODUCERS; i++) {
		pa[i] = (struct fair_producer){ &f, i };
		if (go_or_fail(b, fair_producer, &pa[i]) < 0)
			rt_wg_done(&f.wg);
	}
	if (go_or_fail(b, fair_select_consumer, &f) < 0)
		rt_wg_done(&f.wg);
	rt_wg_wait(&f.wg);
	for (i = 0; i < FAIR_PRODUCERS; i++)
		rt_chan_free(f.ch[i]);
	b->value = (double)f.worst / 1e3;
	b->unit = "us";
}

/* One side of the ping-pong: receives and sends back until stopped. */
static void fair_pong(void *p)
{
	struct fair *f = p;
	int64_t v;

	while (rt_chan_recv(f->ch[0], &v) == 1)
		if (rt_chan_send(f->ch[1], &v) < 0)
			break;
	rt_wg_done(&f->wg);
}

static void fair_ping(void *p)
{
	struct fair *f = p;
	int64_t v = 0;

	while (!atomic_load_explicit(&f->stop, memory_order_relaxed))
		if (rt_chan_send(f->ch[0], &v) < 0 || rt_chan_recv(f->ch[1], &v) != 1) {
			fail(f->b, "%s", "ping-pong failed");
			break;
		}
	rt_chan_close(f->ch[0]);
	rt_wg_done(&f->wg);
}

/* Computes without a single runtime call until stopped. */
static void fair_compute(void *p)
{
	struct fair *f = p;
	volatile uint64_t x = 1;

	while (!atomic_load_explicit(&f->stop, memory_order_relaxed))
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
	rt_wg_done(&f->wg);
}

/* Sleeps 100 ms at a time until f->until; the worst lateness. */
static void fair_sleeper(struct fair *f)
{
	while (rt_now() < f->until) {
		int64_t t = rt_now();
		rt_sleep(FAIR_SLEEP_NS);
		fair_worst(f, rt_now() - t - FAIR_SLEEP_NS);
	}
	atomic_store(&f->stop, 1);
}

/* nload green threads run load(f) while one sleeps; each counts weight
 * in f->wg. */
static void bench_fair_load(struct bench *b, void (*load)(void *), int nload, int weight)
{
	static struct fair f;
	int i;

	memset(&f, 0, sizeof f);
	f.b = b;
	f.until = rt_now() + b->n * 1000000;
	for (i = 0; i < 2; i++)
		if (!(f.ch[i] = rt_chan_make(sizeof(int64_t), 0))) {
			fail(b, "rt_chan_make: %s", strerror(errno));
			return;
		}
	rt_wg_add(&f.wg, nload * weight);
	for (i = 0; i < nload; i++)
		if (go_or_fail(b, load, &f) < 0)
			rt_wg_add(&f.wg, -weight);
	fair_sleeper(&f);
	rt_wg_wait(&f.wg);
	for (i = 0; i < 2; i++)
		rt_chan_free(f.ch[i]);
	b->value = (double)f.worst / 1e3;
	b->unit = "us";
}

static void fair_pingpong(void *p)
{
	struct fair *f = p;

	if (go_or_fail(f->b, fair_pong, f) < 0) {
		rt_chan_close(f->ch[0]);
		rt_wg_done(&f->wg);
		return;
	}
	fair_ping(f);
}

static void bench_fair_sleep(struct bench *b)
{
	/* fair_pingpong starts the pong and becomes the ping: two counts */
	bench_fair_load(b, fair_pingpong, 1, 2);
}

static void bench_fair_compute(struct bench *b)
{
	bench_fair_load(b, fair_compute, 2, 1);
}

/* ---- main ------------------------------------------------------------- */

static const struct {
	const char *name;
	void (*fn)(struct bench *);
	int procs;                      /* 0: rt_default_procs() */
} benches[] = {
	{ "yield", bench_yield, 1 },
	{ "chan_roundtrip", bench_roundtrip, 1 },
	{ "chan_buffered_1p", bench_buffered, 1 },
	{ "chan_buffered_2p", bench_buffered, 2 },
	{ "spawn", bench_spawn, 1 },
	{ "skynet", bench_skynet, 0 },
	{ "mem_parked", bench_mem_parked, 1 },
	{ "fairness_select", bench_fair_select, 1 },
	{ "fairness_sleep", bench_fair_sleep, 1 },
	{ "fairness_compute", bench_fair_compute, 1 },
};

static void (*bench_fn)(struct bench *);

static void bench_main(void *p)
{
	const char *env = getenv("RTBENCH_STATS");

	bench_fn(p);
	if (env && *env == '1') {
		struct rt_stats st;

		rt_stats_get(&st);
		fprintf(stderr, "rtbench: spawned=%llu live=%llu stacks_mapped=%llu "
		        "stacks_guarded=%llu stacks_trimmed=%llu ms=%llu\n",
		        (unsigned long long)st.spawned,
		        (unsigned long long)st.live,
		        (unsigned long long)st.stacks_mapped,
		        (unsigned long long)st.stacks_guarded,
		        (unsigned long long)st.stacks_trimmed,
		        (unsigned long long)st.ms);
	}
}

int main(int argc, char **argv)
{
	struct rt_config cfg;
	struct bench b;
	const char *env;
	double nf;
	char *end;
	size_t i;

	if (argc != 3) {
		fprintf(stderr, "usage: rtbench <name> <n>\n");
		return 2;
	}
	memset(&b, 0, sizeof b);
	b.name = argv[1];
	nf = strtod(argv[2], &end);         /* accepts 1e6 */
	if (*end || nf < 1 || nf > 1e15 || nf != (double)(int64_t)nf) {
		fprintf(stderr, "rtbench: bad count '%s'\n", argv[2]);
		return 2;
	}
	b.n = (int64_t)nf;
	for (i = 0; i < sizeof benches / sizeof benches[0]; i++)
		if (!strcmp(benches[i].name, b.name))
			break;
	if (i == sizeof benches / sizeof benches[0]) {
		fprintf(stderr, "rtbench: unknown benchmark '%s'\n", b.name);
		return 2;
	}
	bench_fn = benches[i].fn;

	rt_config_default(&cfg);
	cfg.procs = benches[i].procs ? benches[i].procs : rt_default_procs();
	env = getenv("RTBENCH_STACK");
	if (env && *env)
		cfg.stack_size = (size_t)strtoull(env, NULL, 0);

	if (rt_run(&cfg, bench_main, &b) < 0) {
		fprintf(stderr, "rtbench: rt_run: %s\n", strerror(errno));
		return 1;
	}
	if (b.failed) {
		fprintf(stderr, "rtbench: %s: %s\n", b.name, b.err);
		return 1;
	}
	if (!strcmp(b.unit, "B"))
		printf("%.0f %s\n", b.value, b.unit);
	else
		printf("%.1f %s\n", b.value, b.unit);
	return 0;
}
