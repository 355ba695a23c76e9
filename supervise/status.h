/*
 * status.h - what every node is doing, as the control socket shows it
 * (grunctl status, tree, wait, events).
 *
 * Each node carries its status (struct sv_status_kept, the compact form
 * of struct sv_status).  Its job or supervisor green
 * thread, and its parent supervisor, write it between sv_status_lock()
 * and sv_status_unlock(); anyone reads a copy with sv_status_get().  An
 * unlock that changed the state (or was asked to) publishes an event to
 * every watch: a bounded ring per watcher, so a watcher that does not
 * keep up loses events (counted), never slows the writer down.
 *
 * Invariants: every struct sv_status and every watch ring is guarded by
 * the board's one mutex, held for a few instructions, never across a
 * park (lock.h); events carry a copy of the node's name and status, so
 * they outlive the node.  The board lives as long as the graph.
 */
#ifndef GRUN_SV_STATUS_H
#define GRUN_SV_STATUS_H
#include <pthread.h>
#include <stdint.h>

struct sv_node;
struct rt_chan;

enum sv_state {
	ST_NEW = 0,    /* not started yet */
	ST_WAITING,    /* told to start: waiting for what it needs or a -j slot */
	ST_STARTING,   /* its process runs, not ready yet */
	ST_RUNNING,    /* ready (a supervisor: supervising) */
	ST_STOPPING,   /* stop signal sent, not yet exited */
	ST_BACKOFF,    /* ended; its supervisor restarts it at restart_at */
	ST_STOPPED,    /* not running, held: autostart = no or stopped by grunctl */
	ST_EXITED,     /* ended for good, normally */
	ST_FAILED,     /* ended for good, abnormally (a supervisor: gave up) */
	ST_SKIPPED,    /* ended for good without running: something it needs failed */
};

struct sv_status {
	enum sv_state state;
	int pid;               /* its process group, 0 if none */
	int ready;             /* became ready in its current or last run */
	int restarts;          /* restarts its supervisor made (not grunctl's) */
	int64_t since;         /* rt_now() when it entered state */
	int64_t started;       /* rt_now() of its current or last process start, 0: never */
	int64_t ready_after;   /* how long its last run took to become ready (ns), -1: not ready */
	int64_t restart_at;    /* ST_BACKOFF: rt_now() of the restart */
	int have_exit;         /* a process of it has exited */
	int exit_status;       /* the wait status of that exit */
	char exit_text[160];   /* "exited with status 1" */
	char note[160];        /* why it is in this state, "" if nothing to say */
	char notify_status[160]; /* the job's last STATUS= on its NOTIFY_SOCKET, "" if none */
};

/* What a node keeps (struct sv_node's st): the fields of struct
 * sv_status, with each text a string of its own, NULL while it is ""
 * (most nodes, most of the time: a running job has no note, no exit
 * yet, no STATUS=), instead of three 160-byte arrays in every node.
 * Only status.c reads or writes it, under the board's mutex:
 * sv_status_lock() hands out a whole struct sv_status made from it, and
 * sv_status_unlock() keeps what was written; sv_status_free() gives the
 * texts back with the node.  A field added to struct sv_status goes
 * here too, and into status.c's SCALARS or TEXTS list. */
struct sv_status_kept {
	enum sv_state state;
	int pid;
	int ready;
	int restarts;
	int64_t since;
	int64_t started;
	int64_t ready_after;
	int64_t restart_at;
	int have_exit;
	int exit_status;
	char *exit_text;       /* NULL: "" */
	char *note;            /* NULL: "" */
	char *notify_status;   /* NULL: "" */
};

/* One state change, as a watcher receives it. */
struct sv_event {
	uint64_t seq;          /* 1, 2, ... over the whole board */
	int64_t wall_ns;       /* CLOCK_REALTIME when it happened */
	int is_sup;
	char name[80];
	struct sv_status st;
};

struct sv_board;
struct sv_watch;

struct sv_board *sv_board_new(void);
void sv_board_free(struct sv_board *b);

/* sv_status_lock() returns n's status to change, with the board locked
 * (a copy held by the board until sv_status_unlock(), which keeps it in
 * n); sv_status_unlock() stamps `since` if the state changed and
 * publishes an event if it did or if publish is set.  Never parks; any G. */
struct sv_status *sv_status_lock(struct sv_node *n);
void sv_status_unlock(struct sv_node *n, int publish);
/* sv_status_set() is the common case: a new state and note (NULL: "")
 * published. */
void sv_status_set(struct sv_node *n, enum sv_state s, const char *note);
/* sv_status_get() copies n's status. */
void sv_status_get(struct sv_node *n, struct sv_status *out);
/* sv_status_free() frees the texts of a node's status (the node is
 * being freed: nobody else can reach it). */
void sv_status_free(struct sv_status_kept *st);
/* sv_state_name() is the word grunctl shows ("running"). */
const char *sv_state_name(enum sv_state s);
/* Has it ended for good (exited, failed, skipped)? */
int sv_state_final(enum sv_state s);

/* sv_watch_new() starts receiving events (up to cap unread ones) and
 * makes wake_fd (an eventfd, the caller's) readable whenever one arrives
 * while none was unread; NULL on allocation failure.  sv_watch_take()
 * takes the oldest unread event without parking: 1, or 0 if none (the
 * next one will make wake_fd readable again); *dropped gets the number
 * of events lost to a full ring since the last call.  Any G. */
struct sv_watch *sv_watch_new(struct sv_board *b, unsigned cap, int wake_fd);
int sv_watch_take(struct sv_watch *w, struct sv_event *ev, uint64_t *dropped);
void sv_watch_free(struct sv_watch *w);
/* sv_wake_fd() makes eventfd fd readable (an eventfd write); never parks. */
void sv_wake_fd(int fd);
#endif
