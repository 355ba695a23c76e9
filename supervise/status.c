/*
 * status.c - see status.h.
 *
 * Owns struct sv_board (one per graph, made before any node starts, freed
 * after every node and every control connection has ended) and the
 * watches.  Writers are job and supervisor green threads; readers are
 * the control connections (control.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rt.h"
#include "supervise/lock.h"
#include "supervise/status.h"
#include "supervise/tree.h"
#include "supervise/xalloc.h"

/* A watcher's ring of events.  Every field is under the board's mu. */
struct sv_watch {
	struct sv_board *board;
	struct sv_watch *next;
	struct sv_event *ring;
	unsigned cap, head, count;
	uint64_t dropped;
	int wake_fd;
	int armed;             /* wake_fd was written and the ring not yet drained */
};

struct sv_board {
	pthread_mutex_t mu;
	uint64_t seq;
	struct sv_watch *watches;
	enum sv_state before;  /* the state of the node being changed, at lock */
	struct sv_status work; /* the status of the node being changed, between
	                          sv_status_lock and unlock (one at a time: mu) */
};

static const char *const names[] = {
	[ST_NEW] = "new",          [ST_WAITING] = "waiting", [ST_STARTING] = "starting",
	[ST_RUNNING] = "running",  [ST_STOPPING] = "stopping", [ST_BACKOFF] = "backoff",
	[ST_STOPPED] = "stopped",  [ST_EXITED] = "exited",   [ST_FAILED] = "failed",
	[ST_SKIPPED] = "skipped",
};

const char *sv_state_name(enum sv_state s)
{
	return s <= ST_SKIPPED ? names[s] : "?";
}

int sv_state_final(enum sv_state s)
{
	return s == ST_EXITED || s == ST_FAILED || s == ST_SKIPPED;
}

struct sv_board *sv_board_new(void)
{
	struct sv_board *b = sv_xcalloc(1, sizeof *b, "the status board");
	pthread_mutex_init(&b->mu, NULL);
	return b;
}

void sv_board_free(struct sv_board *b)
{
	if (!b)
		return;
	pthread_mutex_destroy(&b->mu);
	free(b);
}

void sv_wake_fd(int fd)
{
	uint64_t one = 1;
	(void)!write(fd, &one, sizeof one);
}

/* k's texts, "" for NULL, into s. */
static void text_out(char *s, size_t cap, const char *k)
{
	snprintf(s, cap, "%s", k ? k : "");
}

/* s kept in *k: NULL for "", else a string of its own (reused when
 * unchanged). */
static void text_keep(char **k, const char *s)
{
	if (*k && strcmp(*k, s) == 0)
		return;
	free(*k);
	*k = s[0] ? sv_xstrdup(s, "a status text") : NULL;
}

/* The fields struct sv_status and struct sv_status_kept share as they
 * are (the texts differ: arrays there, strings of their own here). */
#define SCALARS(X) X(state) X(pid) X(ready) X(restarts) X(since) X(started) \
	X(ready_after) X(restart_at) X(have_exit) X(exit_status)
#define TEXTS(X) X(exit_text) X(note) X(notify_status)

/* The whole status of k (board locked). */
static void expand(const struct sv_status_kept *k, struct sv_status *st)
{
#define COPY_OUT(f) st->f = k->f;
#define TEXT_OUT(f) text_out(st->f, sizeof st->f, k->f);
	SCALARS(COPY_OUT)
	TEXTS(TEXT_OUT)
#undef COPY_OUT
#undef TEXT_OUT
}

/* st kept in k (board locked). */
static void keep(const struct sv_status *st, struct sv_status_kept *k)
{
#define COPY_IN(f) k->f = st->f;
#define TEXT_IN(f) text_keep(&k->f, st->f);
	SCALARS(COPY_IN)
	TEXTS(TEXT_IN)
#undef COPY_IN
#undef TEXT_IN
}

void sv_status_free(struct sv_status_kept *st)
{
	free(st->exit_text);
	free(st->note);
	free(st->notify_status);
	st->exit_text = st->note = st->notify_status = NULL;
}

/* Copies the event (n's status, b->work) into every watch ring (board
 * locked). */
static void publish(struct sv_board *b, struct sv_node *n)
{
	if (!b->watches)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t seq = ++b->seq;
	for (struct sv_watch *w = b->watches; w; w = w->next) {
		if (w->count == w->cap) {
			w->dropped++;
			continue;
		}
		struct sv_event *ev = &w->ring[(w->head + w->count++) % w->cap];
		ev->seq = seq;
		ev->wall_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
		ev->is_sup = n->is_sup;
		snprintf(ev->name, sizeof ev->name, "%s", n->name);
		ev->st = b->work;
		if (!w->armed) {
			w->armed = 1;
			sv_wake_fd(w->wake_fd);
		}
	}
}

struct sv_status *sv_status_lock(struct sv_node *n)
{
	struct sv_board *b = n->g->board;
	sv_lock(&b->mu);
	b->before = n->st.state;
	expand(&n->st, &b->work);
	return &b->work;
}

void sv_status_unlock(struct sv_node *n, int publish_anyway)
{
	struct sv_board *b = n->g->board;
	int changed = b->work.state != b->before;
	if (changed)
		b->work.since = rt_now();
	keep(&b->work, &n->st);
	if (changed || publish_anyway)
		publish(b, n);
	sv_unlock(&b->mu);
}

void sv_status_set(struct sv_node *n, enum sv_state s, const char *note)
{
	struct sv_status *st = sv_status_lock(n);
	st->state = s;
	snprintf(st->note, sizeof st->note, "%s", note ? note : "");
	sv_status_unlock(n, 1);
}

void sv_status_get(struct sv_node *n, struct sv_status *out)
{
	struct sv_board *b = n->g->board;
	sv_lock(&b->mu);
	expand(&n->st, out);
	sv_unlock(&b->mu);
}

struct sv_watch *sv_watch_new(struct sv_board *b, unsigned cap, int wake_fd)
{
	struct sv_watch *w = calloc(1, sizeof *w);
	if (!w || !(w->ring = calloc(cap, sizeof *w->ring))) {
		free(w);
		return NULL;
	}
	w->board = b;
	w->cap = cap;
	w->wake_fd = wake_fd;
	sv_lock(&b->mu);
	w->next = b->watches;
	b->watches = w;
	sv_unlock(&b->mu);
	return w;
}

int sv_watch_take(struct sv_watch *w, struct sv_event *ev, uint64_t *dropped)
{
	struct sv_board *b = w->board;
	int got = 0;
	sv_lock(&b->mu);
	*dropped = w->dropped;
	w->dropped = 0;
	if (w->count) {
		*ev = w->ring[w->head];
		w->head = (w->head + 1) % w->cap;
		w->count--;
		got = 1;
	} else {
		w->armed = 0;
	}
	sv_unlock(&b->mu);
	return got;
}

void sv_watch_free(struct sv_watch *w)
{
	if (!w)
		return;
	struct sv_board *b = w->board;
	sv_lock(&b->mu);
	for (struct sv_watch **pp = &b->watches; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	sv_unlock(&b->mu);
	free(w->ring);
	free(w);
}
