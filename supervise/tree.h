/*
 * tree.h - the running supervision tree: nodes (job instances and
 * supervisors) and the graph that owns them.
 *
 * Each node is one green thread with a mailbox (mailbox.h).  A node talks
 * to its parent supervisor only by messages: the parent sends START and
 * STOP, the node answers ACK, STARTED, READY and EXITED (HACKING.md has
 * the protocol).  job.c runs job nodes, sup.c supervisor nodes; tree.c
 * builds, starts, walks and frees the tree; graph.c runs grun's main
 * green thread.
 *
 * Ownership: a node's config pointers, name, instance and color are set
 * before its green thread starts and never change.  parent, index and a
 * supervisor's children array change only on reload, under
 * graph->tree_mu.  Fields marked "own" are touched only by the node's
 * green thread; "atomic" ones may be read by anyone.  Nodes are never
 * freed while the graph runs (removed ones are kept until the end).
 * Every other piece of running state belongs to one module and is
 * reached through an opaque pointer: latches (latch.h), pipe ends
 * (pipeline.h), the reaper's table (reaper.h).
 */
#ifndef GRUN_SV_TREE_H
#define GRUN_SV_TREE_H
#include <pthread.h>
#include "supervise/config.h"
#include "supervise/mailbox.h"
#include "supervise/output.h"
#include "supervise/status.h"

struct sv_graph;
struct sv_latch;
struct sv_ends;
struct sv_joblog;
struct sv_board;
struct sv_control;
struct sv_service;

#define SV_NODE_NAME_MAX (SV_NAME_MAX + 16)

struct sv_node {
	int is_sup;
	struct sv_mailbox mbox;
	struct sv_node *parent;        /* NULL for the root; under tree_mu */
	int index;                     /* among parent->children; under tree_mu */
	struct sv_graph *g;

	/* jobs */
	const struct sv_job *job;      /* NULL once retired (see reload.c) */
	struct sv_config *cfg;         /* the config job lives in */
	struct sv_latch *latch;        /* the job's, shared by its instances */
	int inst;                      /* 1-based */
	int color;
	uint64_t gen;                  /* own: run count */
	int ever_ready;                /* own */
	int pid;                       /* atomic: running process group, 0 if none */
	struct sv_ends *ends;          /* pipeline.c: held channel pipe ends, NULL if none */
	int removed;                   /* atomic: a reload removed it */
	int ran;                       /* atomic: a process of it was started at least once */
	int held;                      /* atomic: kept stopped (autostart = no, grunctl stop) */
	struct sv_joblog *log;         /* its recent output (joblog.h): one reference */
	struct sv_status_kept st;      /* under the board's lock; status.c only (status.h) */
	/* job.c (own); read by graph.c's summary once every node has ended */
	int runs;                      /* processes started */
	int64_t run_ns;                /* how long they ran, summed */
	int last_status;               /* wait status of the last exit (runs > 0) */

	/* supervisors */
	const struct sv_sup *sup;
	struct sv_node **children;     /* start order; grows on reload, under tree_mu;
	                                  NULL where a retired node was freed */
	int nchildren;
	/* "web", "web#2"; supervisors: their name.  At most SV_NODE_NAME_MAX
	 * bytes with the NUL, allocated with the node at its length (thousands
	 * of job nodes). */
	char name[];
};

/* Everything grun runs for one config file.  Built by graph.c before any
 * node starts; the fields below the line change while it runs. */
struct sv_graph {
	struct sv_config *first_cfg;   /* the one grun started with (the caller's) */
	struct sv_mailbox mbox;        /* the main green thread's */
	struct sv_node *root;
	char **select;                 /* JOB... of the command line, for reloads */
	int nselect;
	struct rt_chan *slots;         /* -j N: elem 0, cap N; NULL: unlimited */
	enum sv_exit_policy exit_policy; /* of the first config: reloads keep it */
	struct sv_latches *latches;    /* latch.c */
	struct sv_pipes *pipes;        /* pipeline.c */
	struct sv_reaper *reaper;      /* reaper.c */
	struct rt_wg nodes;            /* node green threads still running */
	struct rt_wg watchers;         /* the signal, ready-watch and reaper threads */
	struct rt_wg helpers;          /* probes and pipe helpers still running */
	struct rt_chan *quit;          /* closed at teardown: ends the watchers */
	int stdout_gone;               /* atomic: the reader of grun's stdout went away */
	int stdout_wake[2];            /* the stdout watch's wake-up pipe, -1 if none */
	struct sv_board *board;        /* every node's status and the event watches (status.h) */
	struct sv_control *control;    /* the control socket (control.h), NULL if none */
	struct sv_service *service;    /* watchdog and STATUS= for systemd (service.h), or NULL */
	uint64_t beats;                /* atomic: MSG_PINGs the main green thread answered */
	/* ---- */
	pthread_mutex_t tree_mu;       /* every node's parent, index, children */
	struct sv_config *cfg;         /* the newest: main green thread only */
	struct sv_config **old_cfgs;   /* replaced by reloads, still used by running nodes */
	int nold;                      /* main green thread only */
	int ncolors;                   /* colors handed out to jobs; main green thread only */
};

/* job.c */
void sv_job_main(void *node);
/* sup.c */
void sv_sup_main(void *node);

/* graph.c: the reader of grun's stdout went away (EPIPE, or the pipe's
 * error seen by the stdout watch).  Sets stdout_gone and tells the main
 * green thread once.  Never parks; any green thread. */
void sv_graph_stdout_gone(struct sv_graph *g);
int sv_graph_stdout_is_gone(struct sv_graph *g);
/* stdout.c: is n a job writing grun's stdout whose reader went away? */
int sv_stdout_writer_orphaned(const struct sv_node *n);

/* ---- tree.c ---- */
/* sv_tree_build() makes the node of supervisor 0 of g->cfg and everything
 * selected below it, in file order; the nodes are not started. */
struct sv_node *sv_tree_build(struct sv_graph *g);
/* sv_tree_job_nodes() makes the nodes of every instance of job j under
 * sup (NULL-terminated array, caller frees it), with a new latch; their
 * green threads are not started. */
struct sv_node **sv_tree_job_nodes(struct sv_graph *g, struct sv_node *sup, struct sv_config *cfg,
                                   const struct sv_job *j, int color);
/* sv_tree_start() starts the green thread of n and of every node below;
 * before the tree runs (no lock taken). */
int sv_tree_start(struct sv_node *n);
/* sv_tree_each_job() calls fn for every job node below n, in start order,
 * with tree_mu held (fn must not park). */
void sv_tree_each_job(struct sv_graph *g, struct sv_node *n, void (*fn)(struct sv_node *, void *),
                      void *arg);
/* sv_tree_jobs() is a snapshot of the job nodes below n, in start order
 * (caller frees the array; *count gets their number): for walks whose
 * work may park, which must not hold tree_mu. */
struct sv_node **sv_tree_jobs(struct sv_graph *g, struct sv_node *n, size_t *count);
/* sv_tree_sups() is a snapshot of every supervisor node (root first);
 * sv_tree_children() of sup's children, in start order, removed ones
 * left out.  The caller frees the array. */
struct sv_node **sv_tree_sups(struct sv_graph *g, size_t *count);
struct sv_node **sv_tree_children(struct sv_graph *g, struct sv_node *sup, size_t *count);
/* sv_tree_find_sup() is the running node of the supervisor called name. */
struct sv_node *sv_tree_find_sup(struct sv_graph *g, const char *name);
/* sv_tree_quit() sends QUIT to every node; sv_tree_free() frees them
 * once their green threads have ended. */
void sv_tree_quit(struct sv_graph *g);
void sv_tree_free(struct sv_node *n);
/* sv_tree_retire() frees job node n, removed by a reload, whose green
 * thread has ended: its place among its supervisor's children becomes
 * NULL (tree_mu).  Main green thread only. */
void sv_tree_retire(struct sv_graph *g, struct sv_node *n);
/* sv_post() sends a message of type t from node n to its parent (or the
 * graph for the root); sv_final() tells the graph a job ended for good
 * (status: its last wait status, 0 if it was not running). */
void sv_post(struct sv_node *n, enum sv_msg_type t, enum sv_outcome out, int a, int status,
             const char *text);
void sv_final(struct sv_node *n, enum sv_outcome out, int status, const char *text);
/* sv_tree_to_parent() posts m to node n's supervisor (read under
 * tree_mu: a reload may move a node).  Any green thread. */
void sv_tree_to_parent(struct sv_node *n, const struct sv_msg *m);
#endif
