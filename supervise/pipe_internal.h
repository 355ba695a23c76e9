/*
 * pipe_internal.h - the structs shared by pipe.c, wire.c and loss.c
 * (pipeline.h is the interface for the rest of supervise/).
 *
 * Threads and locks:
 * - struct sv_pipes and every sv_pipe, sv_source and sv_feeder are built
 *   by the main green thread before any of their green threads starts;
 *   the fields that change afterwards are marked atomic, or named below.
 * - ends_mu (in struct sv_pipes) guards the descriptors of every node's
 *   struct sv_ends: a job duplicates them for a spawn while the graph or
 *   the job itself may close them.  Never held across a park.
 * - a feeder's mu orders each write(2) into a consumer's pipe with its
 *   byte count and ring, against the loss accounting (loss.c).  Nested
 *   inside ends_mu when both are taken.
 */
#ifndef GRUN_SV_PIPE_INTERNAL_H
#define GRUN_SV_PIPE_INTERNAL_H
#include <pthread.h>
#include <stdint.h>
#include "rt.h"
#include "supervise/pipeline.h"

#define READ_SIZE (64u << 10)
#define LINE_MAX_BUF (16u << 20)   /* a longer line is cut */
#define SPLICE_SIZE (1u << 20)
#define PIPE_SIZE (1 << 20)
#define LOST_GUESS (64u << 10)     /* a consumer's read buffer: what it may not have processed */
#define RING (PIPE_SIZE + READ_SIZE)

/* A batch of whole lines (or a chunk), passed by pointer. */
struct sv_rec {
	size_t len;
	uint64_t lines;
	int refs;          /* atomic (broadcast) */
	char data[];
};

/* One channel.  q, feeders and sources never change after the start. */
struct sv_pipe {
	const struct sv_chan *cfg;
	struct sv_graph *g;
	struct rt_chan *q;             /* of struct sv_rec * */
	int producers_left;            /* atomic */
	struct sv_feeder **feeders;
	int nfeeders;
	struct sv_source **sources;
	int nsources;
	uint64_t bytes, lines;         /* atomic: into the channel */
	int live_feeders;              /* atomic: feeders whose consumer has not ended for good */
	int direct;                    /* 1:1 chunk: one pipe from producer to consumer */
};

/* A producer endpoint: reads fd and sends records. */
struct sv_source {
	struct sv_pipe *p;
	int fd;
	int own_fd;        /* 0 for grun's stdin: read in a blocking region, not closed */
};

/* A consumer endpoint: receives records and writes fd. */
struct sv_feeder {
	struct sv_pipe *p;
	struct sv_node *node;      /* NULL for grun's stdout */
	struct rt_chan *q;         /* p->q, or its own in broadcast mode */
	struct rt_chan *done;      /* closed when the consumer ended for good */
	int fd;
	int own_fd;                /* 0 for grun's stdout */
	uint64_t written, lines;   /* atomic: into the pipe */
	uint64_t accounted;        /* bytes already attributed to earlier runs (job's green thread) */
	/* line channels: the last RING bytes written, so that after a crash
	 * grun can tell whether the consumer stopped in the middle of a line */
	pthread_mutex_t mu;
	char *ring;
};

/* The held channel ends of one job node, -1 where none; under ends_mu. */
struct sv_ends {
	int in_fd;                 /* read end of the consumer pipe */
	int out_fd, err_fd;        /* write ends of the producer pipes */
	struct sv_feeder *feeder;  /* writes the consumer pipe */
	struct sv_source *src_out, *src_err; /* read the producer pipes */
};

struct sv_pipes {
	struct sv_pipe **v;            /* one per channel of the first config */
	int n;
	pthread_mutex_t ends_mu;
	struct rt_wg stdout_done;      /* the feeder of chan:stdout, until it has written all */
	uint64_t lost_lines;           /* atomic: estimated, counted by loss.c */
};

/* pipe.c */
struct sv_rec *sv_rec_new(const char *data, size_t n, int add_newline);
void sv_rec_unref(struct sv_rec *r);
uint64_t sv_count_lines(const char *p, size_t n);
void sv_close_and_drain(struct rt_chan *q);
int sv_pipe_run(struct sv_graph *g, struct sv_pipe *p);
/* loss.c: with ends_mu held; returns the lines stranded in the pipe of a
 * consumer that ended for good and writes the log line into msg. */
uint64_t sv_loss_stranded_locked(struct sv_node *n, char *msg, size_t len);
void sv_loss_add(struct sv_graph *g, uint64_t lines);
#endif
