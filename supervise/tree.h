/*
 * tree.h - the running supervision tree: nodes (job instances and
 * supervisors), the latches that order `needs`, and the graph that owns
 * them all.
 *
 * Each node is one green thread with a mailbox (mailbox.h).  A node talks
 * to its parent supervisor only by messages: the parent sends START and
 * STOP, the node answers ACK, STARTED, READY and EXITED.  job.c runs job
 * nodes, sup.c supervisor nodes, graph.c builds the tree and runs grun's
 * main green thread, which receives signals and the final messages.
 *
 * Ownership: a node's config pointers, name, parent and index are set
 * before its green thread starts and never change.  Fields marked "own"
 * are touched only by the node's green thread; fields marked "atomic" may
 * be read by anyone.  Nodes are never freed while the graph runs.
 */
#ifndef GRUN_SV_TREE_H
#define GRUN_SV_TREE_H
#include <pthread.h>
#include "supervise/config.h"
#include "supervise/mailbox.h"
#include "supervise/output.h"

struct sv_graph;

/* A job's readiness as its dependents see it: settled once, for good.
 * Invariant: outcome goes 0 -> LATCH_OK or LATCH_FAILED once, under
 * graph->mu, and settled is closed at that moment. */
enum { LATCH_OPEN = 0, LATCH_OK = 1, LATCH_FAILED = 2 };
struct sv_latch {
	char name[SV_NAME_MAX];    /* the job's */
	int instances;             /* ready instances needed */
	struct rt_chan *settled;   /* elem 0: closed when settled */
	int outcome;               /* atomic */
	int ready_instances;       /* under graph->mu */
	char why[160];             /* LATCH_FAILED: what happened, under graph->mu */
};

struct sv_node {
	int is_sup;
	char name[SV_NAME_MAX + 16];   /* "web", "web#2"; supervisors: their name */
	struct sv_mailbox mbox;
	struct sv_node *parent;        /* NULL for the root */
	int index;                     /* among parent->children */
	struct sv_graph *g;

	/* jobs */
	const struct sv_job *job;
	struct sv_latch *latch;        /* the job's, shared by its instances */
	int inst;                      /* 1-based */
	int color;
	uint64_t gen;                  /* own: run count */
	int ever_ready;                /* own */
	int pid;                       /* atomic: running process group, 0 if none */
	/* channels (pipeline.c): held pipe ends, -1 if none; closed when done */
	int chan_in_fd;                /* read end of the consumer pipe */
	int chan_out_fd, chan_err_fd;  /* write ends of the producer pipes */
	struct sv_feeder *feeder;      /* writes the consumer pipe */
	struct sv_source *src_out, *src_err; /* read the producer pipes */
	int removed;                   /* a reload removed it (written by the graph only) */

	/* supervisors */
	const struct sv_sup *sup;
	struct sv_node **children;     /* start order; grows on reload, under g->mu */
	int nchildren;
};

struct sv_graph {
	struct sv_config *cfg;
	struct sv_mailbox mbox;        /* the main green thread's */
	struct sv_node *root;
	struct sv_latch **latches;     /* by job name; a reload replaces changed jobs' (under mu) */
	int nlatches;
	struct sv_latch **old_latches; /* replaced ones, freed at teardown (under mu) */
	int nold_latches;
	struct sv_config **old_cfgs;   /* configs replaced by reloads: unchanged jobs still use them */
	int nold;
	char **select;                 /* JOB... of the command line, for reloads */
	int nselect;
	struct rt_chan *slots;         /* -j N: elem 0, cap N; NULL: unlimited */
	pthread_mutex_t mu;
	struct rt_wg nodes;            /* node green threads still running */
	struct rt_wg stdout_done;      /* the feeder of chan:stdout, until it has written all */
	int helpers;                   /* atomic: probes and pipe helpers still running */
	struct sv_reaper *reaper;      /* reaper.c: which job run each pid belongs to */
	int quitting;                  /* atomic: the signal thread should end */
	struct rt_chan *quit;          /* closed at teardown: ends the ready watch */
	struct rt_wg watchers;         /* the signal and ready-watch threads */
	enum sv_exit_policy exit_policy; /* of the first config: reloads keep it */
	struct sv_pipe **pipes;        /* one per channel of the first config */
	int npipes;
	uint64_t lost_lines;           /* atomic: estimated, read by consumers that crashed */
	int name_width;
	int ncolors;                   /* colors handed out to jobs */
	enum sv_verbosity verbosity;
};

/* job.c */
void sv_job_main(void *node);
/* sup.c */
void sv_sup_main(void *node);
/* graph.c */
void sv_latch_ready(struct sv_graph *g, struct sv_node *n);
void sv_latch_fail(struct sv_graph *g, struct sv_node *n, const char *why);
/* sv_latch_find() is the current latch of the job called name (NULL if
 * there is none). */
struct sv_latch *sv_latch_find(struct sv_graph *g, const char *name);
/* sv_post() sends a message of type t from node n to its parent (or the
 * graph for the root). */
void sv_post(struct sv_node *n, enum sv_msg_type t, enum sv_outcome out, int a, int status,
             const char *text);
void sv_final(struct sv_node *n, enum sv_outcome out, const char *text);
#endif
