/*
 * pipeline.h - channels between jobs: a producer's stdout (or stderr)
 * becomes records on a bounded channel, consumers read them on stdin.
 *
 * Every producer and consumer endpoint has a pipe that grun holds for the
 * whole run, across restarts: a producer's pipe is read by a pump green
 * thread and its write end is given to each run of the job; a consumer's
 * pipe is written by a feeder green thread and its read end is given to
 * each run, so bytes already in it go to the replacement of a consumer
 * that crashed.  When every producer of a channel has ended for good,
 * grun closes its copies of their write ends; the pumps see EOF, the
 * channel closes once drained, the feeders close their write ends, and
 * the consumers see EOF.
 *
 * A chunk channel with one producer and one consumer is one pipe from
 * the producer to the consumer (or grun's stdin or stdout itself), held
 * by grun like the others: no copy and no green thread.  splice(2) is
 * used where grun must move chunks between two of its own descriptors.
 */
#ifndef GRUN_SV_PIPELINE_H
#define GRUN_SV_PIPELINE_H
#include "supervise/tree.h"

/* sv_pipes_open() makes the held pipes of a job node (before it runs);
 * the pipes of 1:1 chunk channels are made by sv_pipes_start(). */
int sv_pipes_open(struct sv_node *n, const struct sv_config *cfg);
/* sv_pipes_start() starts the pumps, feeders and splicers of every
 * channel of g->cfg, with grun's stdin and stdout where named.  G only. */
int sv_pipes_start(struct sv_graph *g, struct sv_node *root);
/* sv_pipes_node_done() is called when a job node has ended for good:
 * its producer write ends and consumer read end are closed. */
void sv_pipes_node_done(struct sv_node *n);
/* sv_pipes_consumer_exited() estimates what a consumer that exited
 * abnormally had read but perhaps not processed, logs it and adds it to
 * the graph's count of possibly lost lines. */
void sv_pipes_consumer_exited(struct sv_node *n);
/* sv_pipes_close_ends() closes grun's copies of every producer's write
 * end (all jobs have ended): the channels drain and close by themselves,
 * and chan:stdout gets everything.  sv_pipes_force() then ends whatever
 * is left (closes every channel and every consumer's pipe). */
void sv_pipes_close_ends(struct sv_graph *g, struct sv_node *root);
void sv_pipes_force(struct sv_graph *g, struct sv_node *root);
/* sv_pipes_free() frees the channels once none of their green threads
 * runs any more. */
void sv_pipes_free(struct sv_graph *g);
#endif
