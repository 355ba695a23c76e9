/*
 * mailbox.h - an unbounded, many-writer, one-reader message queue: the
 * mailbox of an Erlang process.  Sending never parks, so two green
 * threads that send to each other can never deadlock on full buffers;
 * the reader parks on a one-slot wake channel, which it can also put in
 * an rt_select() with other channels.
 *
 * Invariants: queue and count are under mu, which is held only for a
 * few instructions and never across a park; a token in wake means
 * "look at the queue"; only the owner receives.
 */
#ifndef GRUN_SV_MAILBOX_H
#define GRUN_SV_MAILBOX_H
#include <pthread.h>
#include <stdint.h>
#include "rt.h"

enum sv_msg_type {
	/* parent -> child (job or supervisor) */
	MSG_START = 1,   /* start (or restart) */
	MSG_STOP,        /* stop; answer with MSG_EXITED */
	MSG_QUIT,        /* end the green thread (after MSG_EXITED) */
	/* the graph -> a supervisor (reload) */
	MSG_ADD_CHILD,   /* ptr: a new node, its green thread running, to start last */
	MSG_REMOVE_CHILD,/* ptr: a child node to stop and forget (it gets QUIT);
	                    ptr2: its replacement, started in its place, or NULL */
	/* the graph -> every supervisor (stopping everything, shutdown.c) */
	MSG_SHUTDOWN,    /* restart nothing from now on; end when every child has */
	MSG_STOP_CHILD,  /* ptr: a job child to stop now (its dependents are down) */
	/* child -> parent */
	MSG_ACK,         /* the START was taken: spawned, or waiting for needs or a slot */
	MSG_STARTED,     /* a job's process exists (a = pid) */
	MSG_READY,       /* a job became ready */
	MSG_EXITED,      /* ended: outcome, status, text */
	/* job helpers -> job */
	MSG_PROC_EXIT,   /* the reaper saw the process end (status) */
	MSG_PROC_READY,  /* the readiness probe succeeded */
	MSG_PROC_WATCHDOG, /* WATCHDOG=1 (a = 0) or WATCHDOG=trigger (a = 1) on its NOTIFY_SOCKET */
	MSG_PROC_EXTEND, /* EXTEND_TIMEOUT_USEC: a = milliseconds more to be ready or to stop */
	MSG_PROC_MAINPID, /* MAINPID=: a = the pid that becomes the run's process when the first exits */
	MSG_PROC_UNHEALTHY, /* health_failures checks failed in a row (text: the last) */
	/* anyone -> the graph */
	MSG_FINAL,       /* a job ended for good (outcome) */
	MSG_SIGNAL,      /* grun got a signal (a = signo) */
	MSG_TREE_EXITED, /* the root supervisor ended (outcome, text) */
	MSG_STDOUT_GONE, /* the reader of grun's stdout went away */
	MSG_RETIRED,     /* ptr: a node a reload removed has ended its green thread */
	/* a control connection -> a supervisor or the graph (control.h) */
	MSG_CTL,         /* a: enum sv_ctl_op; text: the job instance; ptr2: the call */
	/* the watchdog -> the graph (service.h) */
	MSG_PING,        /* answered by counting it in g->beats */
};

/* How a job or supervisor run ended (MSG_EXITED, MSG_FINAL). */
enum sv_outcome {
	OUT_OK = 1,      /* exited normally (status 0), or a supervisor whose children all ended */
	OUT_FAILED,      /* exited abnormally, could not start, not ready in time, or gave up */
	OUT_STOPPED,     /* stopped on request */
	OUT_SKIPPED,     /* never started: something it needs failed */
};

struct sv_msg {
	struct sv_msg *next;
	enum sv_msg_type type;
	int child;          /* index of the sender among its parent's children */
	uint64_t gen;       /* run generation (helpers of an older run are ignored) */
	int a;              /* pid, signal, ... */
	int status;         /* wait status */
	enum sv_outcome outcome;
	void *ptr;
	void *ptr2;         /* MSG_REMOVE_CHILD: the node replacing ptr, or NULL */
	char text[200];     /* a string; in a received message (sv_mbox_get,
	                       sv_mbox_take) only its length + 1 bytes exist: never
	                       copy one whole or write past its string */
};

struct sv_mailbox {
	pthread_mutex_t mu;
	struct sv_msg *head, *tail;
	struct rt_chan *wake;   /* elem 0, cap 1 */
};

int sv_mbox_init(struct sv_mailbox *mb);
void sv_mbox_destroy(struct sv_mailbox *mb);
/* sv_mbox_post() queues a copy of *m, allocated up to the end of
 * m->text's string.  Never parks; any thread. */
void sv_mbox_post(struct sv_mailbox *mb, const struct sv_msg *m);
/* sv_mbox_take() takes the oldest message without parking; NULL if none. */
struct sv_msg *sv_mbox_take(struct sv_mailbox *mb);
/* sv_mbox_get() parks until a message arrives or the deadline passes
 * (NULL).  The caller frees the message.  G only, owner only. */
struct sv_msg *sv_mbox_get(struct sv_mailbox *mb, int64_t deadline);
#endif
