/*
 * grun.c - the command line: grun [options] FILE [JOB...].
 *
 * Parses options, loads and checks the file (exit 2 on any error, with
 * nothing started), and hands the graph to the runtime.  grun(1) is the
 * reference for every option and exit status.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt.h"
#include "supervise/config.h"
#include "supervise/export.h"
#include "supervise/graph.h"

#define EXIT_USAGE SV_EXIT_USAGE

static const char usage_text[] =
	"usage: grun [options] FILE [JOB...]\n"
	"       grun export systemd FILE [-o DIR|-] [-a APP] [--only JOB,...] [--strict]\n"
	"Run the supervised job graph described in FILE (see grun.ini(5)).\n"
	"\n"
	"  -c, --check          check FILE and exit (0 if it is valid)\n"
	"  -g, --graph[=FORMAT] print the dependency and supervision graph as\n"
	"                       text (default) or dot, start nothing\n"
	"  -j, --jobs N         run at most N jobs at once\n"
	"  -P, --procs N        use N processors for grun's green threads\n"
	"  -F, --fail-fast      stop every job at the first failure\n"
	"  -k, --keep-going     run what does not depend on a failure (the default)\n"
	"  -q, --quiet          log only errors\n"
	"  -v, --verbose        log every state change\n"
	"      --color WHEN     color job names: auto, always or never\n"
	"      --control PATH   the control socket for grunctl(1), or off\n"
	"      --timestamps[=FORMAT]  stamp every log line: iso (the default FORMAT),\n"
	"                       utc, tai64n or off\n"
	"      --log-format FORMAT  text, journal (syslog <N> priorities), native\n"
	"                       (journald entries with GRUN_JOB=) or auto\n"
	"  -V, --version        print the version and exit\n"
	"  -h, --help           print this help and exit\n"
	"\n"
	"Exit status: 0 all jobs succeeded (or only services were stopped), 1 a job\n"
	"failed or a supervisor gave up, 2 usage or configuration error, 71 out of\n"
	"memory, 128+N stopped by signal N before the work was done.\n";

struct main_args {
	struct sv_config *cfg;
	struct sv_run_opts opts;
	int code;
};

/* Interrupted by signal sig before the work was done: leave by that
 * signal, as a shell command does (the cooperative exit make and bash
 * use), so a caller's `&&` does not go on and systemd sees a service
 * stopped by its stop signal as a clean stop.  LeakSanitizer runs only
 * at exit(), so sanitizer builds exit with 128 + sig instead. */
/* Ends the calling thread's process by sig, its default action. */
static void raise_default(int sig)
{
	signal(sig, SIG_DFL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
}

static void exit_by_signal(int sig)
{
#ifndef RT_SANITIZE_ADDRESS
	fflush(NULL);
	if (sig == SIGQUIT)
		exit(128 + sig); /* its default action would dump core */
	raise_default(sig);
#endif
	exit(128 + sig);
}

static void grun_main(void *arg)
{
	struct main_args *a = arg;
	a->code = sv_graph_run(a->cfg, &a->opts);
	if (a->code == SV_EXIT_KILLED) {
		/* every job killed: nothing to tear down; leave by SIGINT */
		raise_default(SIGINT);
		_exit(SV_EXIT_KILLED);
	}
	if (sv_output_stuck())
		_exit(a->code); /* a writer is blocked for good on a reader that never reads */
}

static int parse_count(const char *opt, const char *s, long max, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (!*s || *end || v < 1 || v > max) {
		fprintf(stderr, "grun: %s %s: expected a number from 1 to %ld\n", opt, s, max);
		return -1;
	}
	*out = (int)v;
	return 0;
}

/* Selects JOB...; unknown names are reported as "grun: FILE: ...". */
static int select_jobs(struct sv_config *cfg, char **names, int n)
{
	char *errs = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&errs, &len);
	int rc = sv_config_select(cfg, names, n, f ? f : stderr);
	if (f) {
		fclose(f);
		for (char *line = strtok(errs, "\n"); line; line = strtok(NULL, "\n"))
			fprintf(stderr, "grun: %s\n", line);
		free(errs);
	}
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "check", no_argument, NULL, 'c' },
		{ "graph", optional_argument, NULL, 'g' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "procs", required_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "color", required_argument, NULL, 'C' },
		{ "control", required_argument, NULL, 'S' },
		{ "fail-fast", no_argument, NULL, 'F' },
		{ "keep-going", no_argument, NULL, 'k' },
		{ "timestamps", optional_argument, NULL, 'T' },
		{ "log-format", required_argument, NULL, 'L' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	if (argc > 1 && strcmp(argv[1], "export") == 0)
		return sv_export_main(argc - 1, argv + 1);
	int check = 0, graph = -1, procs = 0, opt;
	struct main_args a = { .opts = { .color = -1, .verbosity = SV_NORMAL, .fail_fast = -1,
	                                    .timestamps = SV_TS_AUTO, .log_format = SV_LOG_AUTO } };
	while ((opt = getopt_long(argc, argv, "+cgj:P:qvVhFk", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': check = 1; break;
		case 'g':
			if (!optarg || strcmp(optarg, "text") == 0)
				graph = 0;
			else if (strcmp(optarg, "dot") == 0)
				graph = 1;
			else {
				fprintf(stderr, "grun: --graph=%s: expected text or dot\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'j':
			if (parse_count("-j", optarg, 1000000, &a.opts.max_running) < 0)
				return EXIT_USAGE;
			break;
		case 'P':
			if (parse_count("-P", optarg, 1024, &procs) < 0)
				return EXIT_USAGE;
			break;
		case 'F': a.opts.fail_fast = 1; break;
		case 'k': a.opts.fail_fast = 0; break;
		case 'q': a.opts.verbosity = SV_QUIET; break;
		case 'v': a.opts.verbosity = SV_VERBOSE; break;
		case 'C':
			if (strcmp(optarg, "auto") == 0)
				a.opts.color = -1;
			else if (strcmp(optarg, "always") == 0)
				a.opts.color = 1;
			else if (strcmp(optarg, "never") == 0)
				a.opts.color = 0;
			else {
				fprintf(stderr, "grun: --color %s: expected auto, always or never\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'S':
			if (strcmp(optarg, "off") != 0 && optarg[0] != '/') {
				fprintf(stderr, "grun: --control %s: expected off or an absolute path\n", optarg);
				return EXIT_USAGE;
			}
			a.opts.control = optarg;
			break;
		case 'T': {
			const char *why;
			if (!optarg)
				a.opts.timestamps = SV_TS_ISO;
			else if (sv_ts_parse(optarg, &a.opts.timestamps, &why) < 0) {
				fprintf(stderr, "grun: --timestamps=%s: %s\n", optarg, why);
				return EXIT_USAGE;
			}
			break;
		}
		case 'L':
			if (strcmp(optarg, "auto") == 0)
				a.opts.log_format = SV_LOG_AUTO;
			else if (strcmp(optarg, "text") == 0)
				a.opts.log_format = SV_LOG_TEXT;
			else if (strcmp(optarg, "journal") == 0)
				a.opts.log_format = SV_LOG_JOURNAL;
			else if (strcmp(optarg, "native") == 0)
				a.opts.log_format = SV_LOG_NATIVE;
			else {
				fprintf(stderr, "grun: --log-format %s: expected auto, text, journal or native\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'V': printf("grun %s\n", PACKAGE_VERSION); return 0;
		case 'h': fputs(usage_text, stdout); return 0;
		default: fputs(usage_text, stderr); return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	const char *path = argv[optind++];
	a.cfg = sv_config_load(path, stderr);
	if (!a.cfg)
		return EXIT_USAGE;
	if (select_jobs(a.cfg, argv + optind, argc - optind) < 0) {
		sv_config_free(a.cfg);
		return EXIT_USAGE;
	}
	a.opts.select = argv + optind;
	a.opts.nselect = argc - optind;
	if (check || graph >= 0) {
		if (graph >= 0)
			sv_graph_print(a.cfg, stdout, graph);
		sv_config_free(a.cfg);
		return 0;
	}
	sv_graph_prepare();
	struct rt_config rc;
	rt_config_default(&rc);
	rc.procs = procs ? procs : a.cfg->procs;
	sv_graph_signals(&rc.signals);
	if (rt_run(&rc, grun_main, &a) < 0) {
		fprintf(stderr, "grun: cannot start the runtime: %s\n", strerror(errno));
		sv_config_free(a.cfg);
		return 1;
	}
	sv_config_free(a.cfg);
	if (a.code > 128 && a.code < 128 + NSIG)
		exit_by_signal(a.code - 128);
	return a.code;
}
