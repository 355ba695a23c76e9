/*
 * pipeline.h - channels between jobs: a producer's stdout (or stderr)
 * becomes records on a bounded channel, consumers read them on stdin.
 *
 * Every producer and consumer endpoint has a pipe that grun holds for the
 * whole run, across restarts: a producer's pipe is read by a source green
 * thread and its write end is given to each run of the job; a consumer's
 * pipe is written by a feeder green thread and its read end is given to
 * each run, so bytes already in it go to the replacement of a consumer
 * that crashed.  When every producer of a channel has ended for good,
 * grun closes its copies of their write ends; the sources see EOF, the
 * channel closes once drained, the feeders close their write ends, and
 * the consumers see EOF.
 *
 * A chunk channel with one producer and one consumer is one pipe from
 * the producer to the consumer (or grun's stdin or stdout itself), held
 * by grun like the others: no copy and no green thread.  splice(2) is
 * used where grun must move chunks between two of its own descriptors.
 *
 * The module is three files: pipe.c (the data plane: records, sources,
 * feeders, the broadcast distributor, the splicer), wire.c (the held
 * pipe ends of each node and setting the channels up and down), loss.c
 * (what a consumer that ended abnormally may have lost).  pipe_internal.h
 * holds their shared structs.
 */
#ifndef GRUN_SV_PIPELINE_H
#define GRUN_SV_PIPELINE_H
#include "supervise/tree.h"

/* sv_pipes_start() makes the held pipes of every job node of the tree
 * and starts the sources, feeders and splicers of every channel of
 * g->cfg, with grun's stdin and stdout where named.  Each of them counts
 * in g->helpers.  G only. */
int sv_pipes_start(struct sv_graph *g);
/* sv_pipes_dup_ends() duplicates node n's held channel ends for a spawn
 * (fds[0..2]: stdin, stdout, stderr; -1 where none): the held ends may be
 * closed by another green thread meanwhile.  0, or -1 with why set. */
int sv_pipes_dup_ends(struct sv_node *n, int fds[3], char *why, size_t len);
/* sv_pipes_node_done() is called when a job node has ended for good:
 * its producer write ends and consumer read end are closed; what was
 * still unread in its pipe is reported as lost. */
void sv_pipes_node_done(struct sv_node *n);
/* sv_pipes_consumer_exited() estimates what a consumer that exited
 * abnormally had read but perhaps not processed, logs it and adds it to
 * the count of possibly lost lines. */
void sv_pipes_consumer_exited(struct sv_node *n);
/* sv_pipes_close_ends() closes grun's copies of every producer's write
 * end (all jobs have ended): the channels drain and close by themselves,
 * and chan:stdout gets everything.  sv_pipes_force() then ends whatever
 * is left (closes every channel and every consumer's pipe). */
void sv_pipes_close_ends(struct sv_graph *g);
void sv_pipes_force(struct sv_graph *g);
/* sv_pipes_stdout_wait() waits until everything bound for chan:stdout
 * has been written (or the deadline): 0, or -1 at the deadline. */
int sv_pipes_stdout_wait(struct sv_graph *g, int64_t deadline);
/* sv_pipes_lost() is the number of lines possibly lost so far. */
uint64_t sv_pipes_lost(struct sv_graph *g);
/* sv_pipes_free() frees the channels once none of their green threads
 * runs any more; sv_pipes_node_free() a node's ends (tree.c). */
void sv_pipes_free(struct sv_graph *g);
void sv_pipes_node_free(struct sv_node *n);
#endif
