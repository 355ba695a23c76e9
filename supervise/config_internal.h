/*
 * config_internal.h - the loader's state, shared by config.c (reading),
 * keys.c (interpreting each key) and check.c (checking the graph).
 */
#ifndef GRUN_SV_CONFIG_INTERNAL_H
#define GRUN_SV_CONFIG_INTERNAL_H
#include <signal.h>
#include "supervise/config.h"

/* One key = value as written (continuation lines joined by a blank). */
struct sv_pair {
	char key[64];
	char *value;
	int line;
};

/* One [header] and its pairs, in file order. */
struct sv_section {
	char header[128];
	int line;
	int kind;              /* 'g' [grun], 'j' [job:], 's' [supervisor:], 'c' [chan:], 0 unknown */
	int index;             /* into cfg->jobs or cfg->sups; -1 if not created */
	struct sv_pair *pairs;
	int npairs;
};

/* Job settings [grun] may change for every job. */
struct sv_defaults {
	enum sv_restart restart;
	int64_t stop_timeout;
	int64_t backoff_min, backoff_max;
	int stop_signal;
};

/* One problem found, printed once the whole file has been read. */
struct sv_message {
	int line;
	char *text;            /* "FILE:LINE: message" */
};

struct sv_loader {
	const char *path;
	FILE *errs;
	FILE *file;
	int line;              /* physical line the reader is on */
	int continuation;      /* that line starts with a blank */
	int unparsed;          /* line the reader saw that inih has not passed on yet (0: none) */
	int first_syntax;      /* first syntax error reported (0: none) */
	int nerrors;
	struct sv_message *messages; /* reported in line order at the end */
	struct sv_section *sections;
	int nsections;
};

void sv_load_error(struct sv_loader *ld, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int sv_find_sup(const struct sv_config *cfg, const char *name);
/* sv_valid_name(): letters, digits, '_', '-' and '.', 1 to SV_NAME_MAX - 1 of them. */
int sv_valid_name(const char *s);
void sv_read_grun(struct sv_loader *ld, struct sv_section *s, struct sv_config *cfg,
                  struct sv_defaults *d);
void sv_read_job(struct sv_loader *ld, struct sv_section *s, struct sv_config *cfg,
                 struct sv_job *j, const struct sv_defaults *d);
void sv_read_sup(struct sv_loader *ld, struct sv_section *s, struct sv_config *cfg,
                 struct sv_sup *sp);
void sv_read_chan(struct sv_loader *ld, struct sv_section *s, struct sv_config *cfg,
                  struct sv_chan *c);
/* sv_chan_get() finds or adds the channel called name (first used at line). */
int sv_chan_get(struct sv_config *cfg, const char *name, int line);
void sv_check_graph(struct sv_loader *ld, struct sv_config *cfg);
#endif
