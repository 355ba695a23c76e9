/*
 * 02-spawn.c - spawning green threads: 100,000 joined with a wait group,
 * unique ids, names, nested spawns, the live count going back to 1, and a
 * wait group reused at once.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt.h"
#include "tap.h"
#include "rt_test.h"

#define MANY 100000
#define TREE_FANOUT 4
#define TREE_DEPTH 5   /* levels below the root */

static _Atomic long counter;
static uint64_t ids[MANY];
static struct rt_wg many_wg = RT_WG_INIT;
static int64_t spawned_by_test;    /* rt_go calls that succeeded, main G only */
static _Atomic long spawned_nested; /* successful spawns inside the tree */

static void inc(void *p)
{
	long i = (long)(intptr_t)p;
	ids[i] = rt_self();
	atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
	rt_wg_done(&many_wg);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* ---- names -------------------------------------------------------------- */

static const char worker_name[] = "worker-7";

struct name_res {
	const char *got;
	int same_ptr;
	uint64_t id;
	struct rt_wg *wg;
};

static void named(void *p)
{
	struct name_res *r = p;
	r->got = rt_self_name();
	r->same_ptr = r->got == worker_name;
	r->id = rt_self();
	rt_wg_done(r->wg);
}

/* ---- nested spawns: a tree; each node waits for its children ------------ */

struct node {
	int depth;
	long result;          /* nodes in this subtree, written by the node */
	struct rt_wg *parent_wg;
};

static void tree_node(void *p)
{
	struct node *n = p;
	long total = 1;
	if (n->depth < TREE_DEPTH) {
		struct node kids[TREE_FANOUT];
		struct rt_wg wg = RT_WG_INIT;
		for (int i = 0; i < TREE_FANOUT; i++) {
			kids[i] = (struct node){ n->depth + 1, 0, &wg };
			rt_wg_add(&wg, 1);
			if (rt_go(tree_node, &kids[i]) != 0) {
				rt_wg_done(&wg);
				continue;
			}
			atomic_fetch_add(&spawned_nested, 1);
		}
		rt_wg_wait(&wg);
		for (int i = 0; i < TREE_FANOUT; i++)
			total += kids[i].result;
	}
	n->result = total;
	rt_wg_done(n->parent_wg);
}

/* A wait group on the stack, reused at once: the rt_wg_done() that woke
 * the waiter (or that it did not have to wait for) must not touch the
 * group afterwards, or it would clobber the next round's waiter list and
 * lock (a lost wake-up; TSan reported the writes). */
static void done_once(void *wg)
{
	rt_wg_done(wg);
}

static void test_wg_reuse(void)
{
	int rounds = 20000, done = 0;
	for (int i = 0; i < rounds; i++) {
		struct rt_wg wg = RT_WG_INIT;
		rt_wg_add(&wg, 2);
		if (rt_go(done_once, &wg) != 0 || rt_go(done_once, &wg) != 0)
			break;
		if (i % 2)
			rt_yield(); /* sometimes the count is zero before the wait */
		rt_wg_wait(&wg);
		done++;
	}
	is_int(done, rounds, "a wait group reused right after each wait: every round ended");
}

static void main_fn(void *unused)
{
	uint64_t main_id = rt_self();
	ok(main_id >= 1, "main G has an id >= 1 (%llu)", (unsigned long long)main_id);

	/* 100,000 Gs and a wait group. */
	int fails = 0;
	int64_t t0 = rt_now();
	for (long i = 0; i < MANY; i++) {
		rt_wg_add(&many_wg, 1);
		if (rt_go(inc, (void *)(intptr_t)i) != 0) {
			rt_wg_done(&many_wg);
			if (!fails++)
				diag("rt_go failed at %ld: %s", i, rt_limit_message());
			continue;
		}
		spawned_by_test++;
	}
	is_int(fails, 0, "%d rt_go calls succeeded", MANY);
	rt_wg_wait(&many_wg);
	diag("spawned and joined %d Gs in %lld ms", MANY, (long long)((rt_now() - t0) / 1000000));
	is_int(atomic_load(&counter), MANY, "counter is %d after the wait group", MANY);

	qsort(ids, MANY, sizeof ids[0], cmp_u64);
	int dup = 0, zero = 0, is_main = 0;
	for (long i = 0; i < MANY; i++) {
		zero += ids[i] == 0;
		is_main += ids[i] == main_id;
		if (i && ids[i] == ids[i - 1])
			dup++;
	}
	ok(zero == 0 && dup == 0 && is_main == 0,
	   "rt_self ids unique and non-zero (%d zero, %d duplicate, %d equal to main)",
	   zero, dup, is_main);

	/* Names. */
	struct rt_wg wg = RT_WG_INIT;
	struct name_res nr = { .wg = &wg }, anon = { .wg = &wg };
	rt_wg_add(&wg, 2);
	int r1 = rt_go_named(worker_name, named, &nr);
	int r2 = rt_go(named, &anon);
	if (r1 != 0)
		rt_wg_done(&wg);
	else
		spawned_by_test++;
	if (r2 != 0)
		rt_wg_done(&wg);
	else
		spawned_by_test++;
	ok(r1 == 0 && r2 == 0, "rt_go_named and rt_go succeeded");
	rt_wg_wait(&wg);
	ok(nr.got && strcmp(nr.got, "worker-7") == 0 && nr.same_ptr,
	   "rt_self_name() in a named G is its name (%s)", nr.got ? nr.got : "(null)");
	ok(anon.got == NULL, "rt_self_name() in an unnamed G is NULL");
	ok(!bsearch(&nr.id, ids, MANY, sizeof ids[0], cmp_u64) &&
	   !bsearch(&anon.id, ids, MANY, sizeof ids[0], cmp_u64) && nr.id != anon.id &&
	   nr.id != main_id && anon.id != main_id && nr.id && anon.id,
	   "later Gs get ids never used before (%llu, %llu)", (unsigned long long)nr.id,
	   (unsigned long long)anon.id);

	/* Nested spawns. */
	struct rt_wg twg = RT_WG_INIT;
	struct node root = { 0, 0, &twg };
	long want = 0, level = 1;
	for (int d = 0; d <= TREE_DEPTH; d++, level *= TREE_FANOUT)
		want += level;
	rt_wg_add(&twg, 1);
	if (rt_go(tree_node, &root) != 0)
		rt_wg_done(&twg);
	else
		spawned_by_test++;
	rt_wg_wait(&twg);
	is_int(root.result, want, "nested spawns: a tree of %ld Gs all ran", want);
	spawned_by_test += atomic_load(&spawned_nested);

	/* live goes back to 1: a G decrements it just before it exits, so
	 * allow a short, bounded wait. */
	struct rt_stats st;
	int64_t deadline = rt_now() + 2000000000LL;
	for (;;) {
		rt_stats_get(&st);
		if (st.live == 1 || rt_now() > deadline)
			break;
		rt_sleep(1000000);
	}
	is_int((long long)st.live, 1, "rt_stats live is 1 (the main G) after the joins");
	is_int((long long)st.spawned, spawned_by_test + 1,
	       "rt_stats spawned counts every G (%lld + main)", (long long)spawned_by_test);
	ok(st.stacks_mapped >= 1 && st.stacks_mapped <= st.spawned,
	   "stacks_mapped %llu is between 1 and spawned (stacks are reused)",
	   (unsigned long long)st.stacks_mapped);
	test_wg_reuse();
}

int main(void)
{
	tap_watchdog(60);
	tap_plan(15);
	ok(rt_self() == 0 && rt_self_name() == NULL, "outside a G: rt_self() 0, rt_self_name() NULL");
	struct rt_config cfg;
	rt_config_default(&cfg);
	cfg.procs = 2;
	is_int(rt_run(&cfg, main_fn, NULL), 0, "rt_run returned 0");
	return tap_done();
}
