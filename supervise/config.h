/*
 * config.h - the job graph as read from an INI file (grun.ini(5)).
 *
 * sv_config_load() reads a file into a struct sv_config, checks every
 * value and every reference, and reports each problem as
 * "FILE:LINE: message" on a stream; the result is either a complete,
 * consistent graph or nothing.  The structs below are plain data: built
 * once by the loader, read-only afterwards, shared by every green thread
 * without locks.  Nothing here knows about processes or the runtime.
 */
#ifndef GRUN_SV_CONFIG_H
#define GRUN_SV_CONFIG_H
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include "supervise/timestamp.h"

#define SV_NAME_MAX 64

struct sv_section;
/* health = defaults (grun.ini(5)) */
#define SV_HEALTH_INTERVAL (10 * 1000000000LL)
#define SV_HEALTH_TIMEOUT (5 * 1000000000LL)
#define SV_HEALTH_FAILURES 3

enum sv_restart {
	SV_PERMANENT,  /* always restarted */
	SV_TRANSIENT,  /* restarted after an abnormal exit only */
	SV_TEMPORARY,  /* never restarted (the default) */
};

enum sv_strategy {
	SV_ONE_FOR_ONE,  /* restart the child that ended */
	SV_ONE_FOR_ALL,  /* stop all children, restart all */
	SV_REST_FOR_ONE, /* stop the children started after it, restart it and them */
};

enum sv_ready {
	SV_READY_STARTED,  /* ready once exec'd */
	SV_READY_EXITED,   /* ready once exited with status 0 */
	SV_READY_NOTIFY,   /* READY=1 on its NOTIFY_SOCKET */
	SV_READY_FD,       /* a newline on fd ready_fd */
	SV_READY_TCP,      /* a connection to ready_host:ready_port succeeds */
	SV_READY_FILE,     /* ready_path exists */
	SV_READY_DELAY,    /* ready_delay after exec */
	SV_READY_HTTP,     /* a GET of http://ready_host:ready_port/ready_path answers 2xx or 3xx */
	SV_READY_EXEC,     /* the command ready_cmd exits with status 0 */
	SV_READY_LOG,      /* a line of the job's output matches the ERE ready_regex */
};

/* A liveness check (health = ), or the probe of ready = tcp:, http://, exec:. */
enum sv_check_kind { SV_CHECK_NONE, SV_CHECK_TCP, SV_CHECK_HTTP, SV_CHECK_EXEC };
struct sv_check_spec {
	enum sv_check_kind kind;
	char *host, *port;        /* tcp:, http:// */
	char *path;               /* http://: the request target ("/" at least) */
	char *cmd;                /* exec: run by /bin/sh -c */
};

enum sv_exit_policy {
	SV_EXIT_AUTO,            /* grun ends when nothing can run any more */
	SV_EXIT_ANY_SIGNIFICANT, /* ... or when one significant job ended for good */
	SV_EXIT_ALL_SIGNIFICANT, /* ... or when every significant job ended for good */
};

/* Where a standard stream of a job goes (or, for stdin, comes from). */
enum sv_io {
	SV_IO_NULL,    /* /dev/null */
	SV_IO_LOG,     /* lines prefixed with the job's name on grun's stdout/stderr */
	SV_IO_INHERIT, /* grun's own descriptor, as is */
	SV_IO_FILE,    /* io_path: appended (stdout/stderr) or read (stdin) */
	SV_IO_STDOUT,  /* stderr only: wherever stdout goes */
	SV_IO_CHAN,    /* a channel: records to (stdout/stderr) or from (stdin) it */
};

/* How grun writes its log and job lines on its stdout and stderr. */
enum sv_log_format {
	SV_LOG_AUTO = -1,  /* journal on a stream JOURNAL_STREAM names, else text */
	SV_LOG_TEXT = 0,   /* "name | line", padded, colored on a terminal */
	SV_LOG_JOURNAL,    /* "<N>name | line": syslog priorities for journald, no colors or padding */
	SV_LOG_NATIVE,     /* job lines as journald entries (GRUN_JOB=, GRUN_PID=...), the rest as journal */
};

struct sv_iospec {
	enum sv_io kind;
	char *path;     /* SV_IO_FILE */
	int chan;       /* SV_IO_CHAN: index into sv_config.chans */
};

enum sv_framing {
	SV_FRAME_LINE,  /* records are whole lines (batches of them), never split */
	SV_FRAME_CHUNK, /* records are raw bytes */
};

enum sv_chanmode {
	SV_SHARE,       /* each record to exactly one consumer */
	SV_BROADCAST,   /* every record to every consumer */
};

/* A channel between jobs ([chan:NAME], or just named in a stdin/stdout/
 * stderr = chan:NAME).  "stdin" and "stdout" are grun's own: the first
 * has grun's standard input as a producer, the second grun's standard
 * output as a consumer. */
struct sv_chan {
	char name[SV_NAME_MAX];
	int line;                 /* [chan:NAME], or where it is first used */
	int declared;             /* has a [chan:NAME] section */
	int capacity;             /* records buffered in grun */
	enum sv_framing framing;
	enum sv_chanmode mode;
	int producers, consumers; /* endpoints (instances, grun's stdin/stdout), after checking */
};

/* A string list (needs, argv, environment). */
struct sv_strv {
	char **v;       /* NULL-terminated */
	int n;
};

struct sv_job {
	char name[SV_NAME_MAX];
	int line;                 /* of its [job:NAME] header */
	char *cmd;                /* as written, after ${} expansion */
	struct sv_strv argv;      /* cmd split (or /bin/sh -c cmd) */
	int shell;
	char *dir;                /* NULL: grun's */
	/* argv[0] as found along the job's PATH when the config was loaded
	 * (check.c); NULL when argv[0] has a '/' or was not found then.  A
	 * spawn tries it first and searches PATH again only if it is no
	 * longer runnable (spawn.c find_exec).  Read-only once loaded. */
	char *exec_path;
	/* The environment every run of the job shares (spawn.c env_base):
	 * pointers into grun's environ and env.v, NULL-terminated; built on
	 * the first spawn and published once with a compare-and-swap, NULL
	 * until then.  Any thread; freed (the array) with the config. */
	char **env_base;
	struct sv_strv env;       /* NAME=VALUE set or overriding grun's environment */
	uid_t uid;                /* (uid_t)-1: unchanged */
	gid_t gid;                /* (gid_t)-1: unchanged (never with has_user) */
	gid_t user_gid;           /* the user's group in the password database, or (gid_t)-1 */
	int has_user;
	int umask;                /* -1: grun's */
	enum sv_restart restart;
	int instances;            /* >= 1 */
	struct sv_strv needs;     /* job names */
	int *need_idx;            /* indexes into sv_config.jobs, after checking */
	enum sv_ready ready;
	int ready_fd;
	char *ready_host, *ready_port;
	char *ready_path;         /* file: the path; http://: the request target */
	char *ready_cmd;          /* exec: */
	char *ready_regex;        /* log: a POSIX ERE */
	int64_t ready_delay;      /* ns */
	int64_t ready_timeout;    /* ns; 0: none */
	int stop_signal;
	/* success = : exit statuses (bit N of success_status[N / 64]) and
	 * signals (bit N of success_signals) that are a normal end, besides
	 * the stop_signal; without the key, status 0 only */
	uint64_t success_status[4];
	uint64_t success_signals;
	int64_t stop_timeout;     /* ns */
	int64_t watchdog;         /* ns: WATCHDOG=1 expected this often; 0: none */
	char *k8s_image;          /* export.kubernetes.image: grun export's hint, unused by grun */
	int64_t backoff_min, backoff_max; /* ns; both 0: restart at once */
	struct sv_check_spec health; /* liveness once ready (kind NONE: none) */
	int64_t health_interval;  /* ns */
	int64_t health_timeout;   /* ns */
	int health_failures;      /* consecutive failures that make the run failed */
	struct sv_strv sockets;   /* names of grun's LISTEN_FDNAMES passed as fds 3, 4, ... */
	struct sv_iospec in, out, err;
	int sup;                  /* index into sv_config.sups */
	int significant;
	int autostart;            /* 0: held stopped until grunctl starts it */
	int feeds_stdout;         /* writes grun's stdout, directly or through channels (check.c) */
	uint64_t hash;            /* of every setting: unchanged jobs survive a reload */
	int selected;             /* to run in this invocation (JOB... on the command line) */
	/* lines of the keys the graph checks refer to (0: not written) */
	int cmd_line, needs_line, ready_line, ready_timeout_line, significant_line;
	int dir_line, user_line, health_line, sockets_line;
	/* logging (output.c, logfile.c) */
	char *log_dir;            /* log = DIR: its log-mode lines go to DIR/current, rotated; NULL: none */
	int64_t log_max_size;     /* bytes of DIR/current before it is rotated */
	int log_keep;             /* rotated files kept in DIR */
	int log_drop;             /* log_overflow = drop: lines dropped and counted rather than waited for */
	int stderr_priority;      /* syslog priority of its stderr lines under journald (0..7) */
	int log_line;             /* of its log key (0: none) */
};

/* Stopping everything: children in parallel (within what needs asks
 * for), or one at a time in reverse start order as OTP does. */
enum sv_shutdown_order { SV_SHUTDOWN_PARALLEL = 0, SV_SHUTDOWN_SEQUENTIAL };

struct sv_sup {
	char name[SV_NAME_MAX];   /* "" for the root */
	int line;
	enum sv_strategy strategy;
	int intensity;            /* restarts allowed ... */
	int64_t period;           /* ... within this sliding window (ns) */
	int parent;               /* index into sv_config.sups; -1 for the root (index 0) */
	char *parent_name;        /* as written, until checked */
	int parent_line;
	enum sv_shutdown_order shutdown; /* how its children are stopped with everything */
};

struct sv_config {
	char *path;
	int nodes;                /* job nodes running from it (graph's main green thread) */
	int procs;                /* 0: the runtime's default */
	int max_running;          /* -j: 0 unlimited */
	enum sv_exit_policy exit_policy;
	int exit_status_job;      /* [grun] exit_status = job: a significant job's own status */
	int fail_fast;            /* [grun] fail_fast = yes (or -F): stop everything at the first failure */
	int color;                /* -1 auto, 0 never, 1 always */
	char *control;            /* [grun] control: a socket path, NULL for the default */
	int control_off;          /* [grun] control = off */
	gid_t control_group;      /* [grun] control_group, (gid_t)-1 if none */
	struct sv_section *raw;   /* the sections as written (config_internal.h), kept only by
	                             sv_config_load_raw(); NULL otherwise */
	int nraw;
	enum sv_ts timestamps;    /* [grun] timestamps */
	enum sv_log_format log_format; /* [grun] log_format */
	struct sv_job *jobs;      /* in file order, which is start order */
	int njobs;
	struct sv_sup *sups;      /* sups[0] is the root; the rest in file order */
	int nsups;
	struct sv_chan *chans;    /* in order of first appearance */
	int nchans;
	struct sv_names *names;   /* name -> index of jobs, sups and chans (names.c) */
};

/* sv_config_find_chan() is the index of the channel called name, or -1. */
int sv_config_find_chan(const struct sv_config *cfg, const char *name);

/* sv_config_load() reads path.  Returns the config, or NULL after writing
 * every problem found to errs (one "FILE:LINE: message" line each) or
 * when the file cannot be opened.  A file without errors may still get
 * "FILE:LINE: warning: message" lines (a dir or a program that is not
 * there), and loads.  environ supplies ${VAR}. */
struct sv_config *sv_config_load(const char *path, FILE *errs);
/* sv_config_load_raw() is sv_config_load() keeping the file's sections as
 * written in cfg->raw (grun export writes sub-files from them). */
struct sv_config *sv_config_load_raw(const char *path, FILE *errs);

/* sv_config_select() marks the named jobs and everything they need as
 * selected (all jobs when n == 0).  Unknown names are reported to errs
 * and make it return -1. */
int sv_config_select(struct sv_config *cfg, char **names, int n, FILE *errs);

/* sv_config_find_job() is the index of the job called name, or -1. */
int sv_config_find_job(const struct sv_config *cfg, const char *name);

void sv_config_free(struct sv_config *cfg);

/* sv_graph_print() writes the dependency and supervision graph of the
 * selected jobs as text or as Graphviz dot. */
void sv_graph_print(const struct sv_config *cfg, FILE *out, int dot);

/* Value parsers shared with the tests (values.c).  Each returns 0, or -1
 * with a message (a static string) in *why. */
int sv_parse_duration(const char *s, int64_t *ns, const char **why);
int sv_parse_bool(const char *s, int *b, const char **why);
int sv_parse_signal(const char *s, int *sig, const char **why);
/* sv_parse_size() reads bytes with an optional K, M or G (powers of 1024). */
int sv_parse_size(const char *s, int64_t *bytes, const char **why);
/* sv_parse_priority() reads a syslog priority: a name (err, warning,
 * info...) or 0 to 7. */
int sv_parse_priority(const char *s, int *prio, const char **why);
const char *sv_signal_name(int sig);
/* sv_job_success() says whether wait status st is a normal end of j. */
int sv_job_success(const struct sv_job *j, int st);
/* sv_strategy_name() is the name grun.ini(5) gives s ("one_for_all"). */
const char *sv_strategy_name(enum sv_strategy s);
/* sv_split_argv() splits s into words with sh-like quoting ('...',
 * "...", backslash); *why on unbalanced quotes. */
int sv_split_argv(const char *s, struct sv_strv *out, const char **why);
/* sv_split_list() splits "a, b c" at commas and blanks. */
int sv_split_list(const char *s, struct sv_strv *out);
/* sv_expand() expands ${VAR} and ${VAR:-default} (and $$ to $) using
 * lookup(name, ctx), then the process environment.  Returns a malloc'd
 * string, or NULL with a message in errbuf. */
char *sv_expand(const char *s, const char *(*lookup)(const char *name, void *ctx),
                void *ctx, char *errbuf, size_t errlen);
void sv_strv_push(struct sv_strv *sv, char *s);
void sv_strv_free(struct sv_strv *sv);
const char *sv_duration_str(int64_t ns, char *buf, size_t len);
#endif
