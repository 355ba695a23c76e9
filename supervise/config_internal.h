/*
 * config_internal.h - the loader's state, shared by config.c (reading),
 * keys.c (interpreting each key), names.c (the name index) and check.c
 * (checking the graph).
 */
#ifndef GRUN_SV_CONFIG_INTERNAL_H
#define GRUN_SV_CONFIG_INTERNAL_H
#include <signal.h>
#include "supervise/config.h"

/* Limits of grun.ini(5) SYNTAX: a physical line, and a value with its
 * continuation lines, have at most SV_LINE_MAX bytes. */
#define SV_LINE_MAX 65536
/* An env_file is read up to this many bytes (grun.ini(5) env_file). */
#define SV_ENV_FILE_MAX (1024 * 1024)

/* One key = value as written (continuation lines joined by a blank). */
struct sv_pair {
	char key[64];
	char *value;
	size_t len;            /* strlen(value) */
	int line;
	int duplicate;         /* the key was given before in its section: not applied */
	int too_long;          /* reported; continuations no longer appended */
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
	enum sv_ready ready;      /* [grun] ready: started or exited */
	int64_t stop_timeout;
	int64_t backoff_min, backoff_max;
	int stop_signal;
	int64_t log_max_size;
	int log_keep;
	int log_drop;
	int stderr_priority;
};

/* One problem found, printed once the whole file has been read. */
struct sv_message {
	int line;
	int seq;               /* order found: one line's problems keep it */
	char *text;            /* "FILE:LINE: message" */
};

struct sv_loader {
	const char *path;
	FILE *errs;
	FILE *file;
	int line;              /* physical line the reader is on */
	char *buf;             /* that line, without its newline (SV_LINE_MAX + 1 bytes) */
	size_t len;            /* its length */
	int long_line;         /* line number when buf did not fit inih's buffer (0: none) */
	int stop;              /* a line was too long: the rest of the file is not read */
	int read_errno;        /* the file could not be read (0: it could) */
	int continuation;      /* that line starts with a blank */
	int unparsed;          /* line the reader saw that inih has not passed on yet (0: none) */
	int first_syntax;      /* first syntax error reported (0: none) */
	int nerrors;           /* messages, warnings included */
	int nfatal;            /* messages that are errors */
	struct sv_message *messages; /* reported in line order at the end */
	struct sv_section *sections;
	int nsections;
};

void sv_load_error(struct sv_loader *ld, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* sv_load_warning(): "FILE:LINE: warning: ...", printed in line order with
 * the errors, but the file still loads. */
void sv_load_warning(struct sv_loader *ld, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int sv_find_sup(const struct sv_config *cfg, const char *name);

/* sv_config_load_stream() is sv_config_load() on an open file, which it
 * does not close; path names it in messages.  (The fuzzer feeds it.) */
struct sv_config *sv_config_load_stream(FILE *in, const char *path, FILE *errs);

/* names.c: kind is 'j' (job), 's' (supervisor) or 'c' (channel). */
int sv_names_find(const struct sv_config *cfg, char kind, const char *name);
/* Adds the name of cfg's job/sup/chan number index (not there yet). */
void sv_names_add(struct sv_config *cfg, char kind, int index);
void sv_names_free(struct sv_config *cfg);

/* sv_grow() makes room for element n (0-based) of an array grown one at a
 * time, doubling at powers of two. */
void *sv_grow(void *p, int n, size_t size, const char *what);
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
/* check.c: the graph as a whole; then, if the file has no error, the
 * warnings about programs and directories that are not there. */
void sv_check_graph(struct sv_loader *ld, struct sv_config *cfg);
void sv_check_files(struct sv_loader *ld, struct sv_config *cfg);
#endif
