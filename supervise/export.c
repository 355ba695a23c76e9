/*
 * export.c - see export.h.
 *
 * The plan: every selected job starts as its own unit; jobs that must
 * stay together under grun are merged (union-find) into one embedded
 * unit: the jobs below a supervisor whose strategy systemd cannot express
 * (one_for_all, rest_for_one; with --granularity supervisor, every
 * supervisor), jobs joined by channels, and a job whose readiness kind
 * systemd lacks.  A single job with nothing of that becomes a native
 * .service.  Units and sub-files are made in memory first, so that
 * --strict or a refusal to overwrite writes nothing.
 *
 * The engines' own files: export_systemd.c and export_k8s.c.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* asprintf, open_memstream */
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "supervise/config.h"
#include "supervise/config_internal.h"
#include "supervise/export.h"
#include "supervise/xalloc.h"

#include "supervise/export_internal.h"

/* ---- diagnostics ------------------------------------------------------------- */

void ex_warn(struct export *x, int line, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s:%d: %s", x->o.file, line, x->o.strict ? "error: " : "warning: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	x->warnings++;
}

/* ---- groups -------------------------------------------------------------------- */

int ex_find(struct export *x, int j)
{
	while (x->parent[j] != j)
		j = x->parent[j] = x->parent[x->parent[j]];
	return j;
}

static void join(struct export *x, int a, int b, const char *why)
{
	a = ex_find(x, a);
	b = ex_find(x, b);
	if (a != b) {
		if (b < a) {
			int t = a;
			a = b;
			b = t;
		}
		x->parent[b] = a;
		if (x->sup_of[a] < 0)
			x->sup_of[a] = x->sup_of[b];
		if (!x->why[a])
			x->why[a] = x->why[b];
	}
	if (why && !x->why[a])
		x->why[a] = sv_xstrdup(why, "an export");
}

int ex_embedded(struct export *x, int j)
{
	return x->why[ex_find(x, j)] != NULL;
}

/* The outermost supervisor above job j that systemd cannot express, or -1. */
static int embedding_sup(struct export *x, const struct sv_job *j)
{
	int found = -1;
	for (int s = j->sup; s > 0; s = x->cfg->sups[s].parent)
		if (x->o.by_sup || x->cfg->sups[s].strategy != SV_ONE_FOR_ONE)
			found = s;
	return found;
}

int ex_uses_chan(const struct sv_job *j, int c)
{
	return (j->in.kind == SV_IO_CHAN && j->in.chan == c) || (j->out.kind == SV_IO_CHAN && j->out.chan == c) ||
	       (j->err.kind == SV_IO_CHAN && j->err.chan == c);
}

static void plan(struct export *x)
{
	struct sv_config *cfg = x->cfg;
	int n = cfg->njobs;
	x->parent = sv_xcalloc((size_t)n + 1, sizeof *x->parent, "an export");
	x->sup_of = sv_xcalloc((size_t)n + 1, sizeof *x->sup_of, "an export");
	x->why = sv_xcalloc((size_t)n + 1, sizeof *x->why, "an export");
	for (int i = 0; i < n; i++) {
		x->parent[i] = i;
		x->sup_of[i] = -1;
	}
	/* supervisors systemd cannot express: the jobs below go together */
	int *first_of_sup = sv_xcalloc((size_t)cfg->nsups + 1, sizeof *first_of_sup, "an export");
	for (int s = 0; s < cfg->nsups; s++)
		first_of_sup[s] = -1;
	for (int i = 0; i < n; i++) {
		const struct sv_job *j = &cfg->jobs[i];
		int s = j->selected ? embedding_sup(x, j) : -1;
		if (s < 0)
			continue;
		char why[200];
		snprintf(why, sizeof why, "supervisor %s: strategy = %s", cfg->sups[s].name,
		         sv_strategy_name(cfg->sups[s].strategy));
		if (x->sup_of[ex_find(x, i)] < 0)
			x->sup_of[ex_find(x, i)] = s;
		join(x, i, i, why);
		if (first_of_sup[s] < 0)
			first_of_sup[s] = i;
		else
			join(x, first_of_sup[s], i, NULL);
	}
	free(first_of_sup);
	/* channels: every job on a channel goes with the others on it */
	for (int c = 0; c < cfg->nchans; c++) {
		int first = -1;
		for (int i = 0; i < n; i++) {
			if (!cfg->jobs[i].selected || !ex_uses_chan(&cfg->jobs[i], c))
				continue;
			char why[200];
			snprintf(why, sizeof why, "chan:%s joins jobs", cfg->chans[c].name);
			if (first < 0)
				join(x, i, i, why);
			else
				join(x, first, i, why);
			if (first < 0)
				first = i;
		}
	}
	/* readiness systemd has no Type= for (Kubernetes has probes, or nothing
	 * grun could add: a warning there) */
	for (int i = 0; i < n && !x->k8s; i++) {
		const struct sv_job *j = &cfg->jobs[i];
		char why[300], d[32];
		if (!j->selected)
			continue;
		if (j->ready == SV_READY_FD)
			snprintf(why, sizeof why, "job %s: ready = fd:%d", j->name, j->ready_fd);
		else if (j->ready == SV_READY_TCP)
			snprintf(why, sizeof why, "job %s: ready = tcp:%s:%s", j->name, j->ready_host, j->ready_port);
		else if (j->ready == SV_READY_FILE)
			snprintf(why, sizeof why, "job %s: ready = file:%s", j->name, j->ready_path);
		else if (j->ready == SV_READY_DELAY)
			snprintf(why, sizeof why, "job %s: ready = delay:%s", j->name,
			         sv_duration_str(j->ready_delay, d, sizeof d));
		else if (j->ready == SV_READY_HTTP)
			snprintf(why, sizeof why, "job %s: ready = http://%s:%s%s", j->name, j->ready_host, j->ready_port,
			         j->ready_path);
		else if (j->ready == SV_READY_EXEC)
			snprintf(why, sizeof why, "job %s: ready = exec:%.200s", j->name, j->ready_cmd);
		else if (j->ready == SV_READY_LOG)
			snprintf(why, sizeof why, "job %s: ready = log:%.200s", j->name, j->ready_regex);
		else if (j->health.kind == SV_CHECK_TCP)
			snprintf(why, sizeof why, "job %s: health = tcp:%s:%s", j->name, j->health.host, j->health.port);
		else if (j->health.kind == SV_CHECK_HTTP)
			snprintf(why, sizeof why, "job %s: health = http://%s:%s%s", j->name, j->health.host,
			         j->health.port, j->health.path);
		else if (j->health.kind == SV_CHECK_EXEC)
			snprintf(why, sizeof why, "job %s: health = exec:%.200s", j->name, j->health.cmd);
		else
			continue;
		join(x, i, i, why);
	}
	/* grun's own socket-activated sockets are not the jobs' units' */
	for (int i = 0; i < n; i++) {
		const struct sv_job *j = &cfg->jobs[i];
		if (j->selected && j->sockets.n)
			ex_warn(x, j->sockets_line ? j->sockets_line : j->line, "job %s: sockets = : grun's own "
			        "socket-activated sockets are not exported; give the unit its own (%s)", j->name,
			        x->k8s ? "a Service and a containerPort" : ".socket units and Sockets=");
	}
}

/* ---- files ---------------------------------------------------------------------------------- */

void ex_add_file(struct export *x, char *name, char *text)
{
	for (int i = 0; i < x->nfiles; i++) {
		if (strcmp(x->files[i].name, name) == 0) {
			free(name);
			free(text);
			return; /* an embedded unit: made once */
		}
	}
	x->files = sv_xreallocarray(x->files, (size_t)x->nfiles + 1, sizeof *x->files, "an export");
	x->files[x->nfiles++] = (struct outfile){ name, text };
}

/* ---- a sub-file: the sections a group under grun needs --------------------------------------------- */

static int in_group(struct export *x, int root, const char *job)
{
	int k = sv_config_find_job(x->cfg, job);
	return k >= 0 && x->cfg->jobs[k].selected && ex_find(x, k) == root;
}

/* Is supervisor s (or one above it) the group's embedded supervisor? */
static int sup_in_group(struct export *x, int root, int s)
{
	for (; s > 0; s = x->cfg->sups[s].parent)
		if (s == x->sup_of[root])
			return 1;
	return 0;
}

static int sup_index(struct export *x, const char *name)
{
	for (int s = 1; s < x->cfg->nsups; s++)
		if (strcmp(x->cfg->sups[s].name, name) == 0)
			return s;
	return -1;
}

static void pair(FILE *f, const struct sv_pair *p)
{
	fprintf(f, "%s = %s\n", p->key, p->value);
}

/* The sub-file of group root: the file's own sections of the group's
 * jobs, their supervisors and channels, and [grun], as written. */
char *ex_subfile(struct export *x, int root)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		sv_fatal("out of memory");
	fprintf(f, "%s %s from %s; edit that file and export again.\n", HEADER, x->o.format, x->o.file);
	for (int i = 0; i < x->cfg->nraw; i++) {
		const struct sv_section *s = &x->cfg->raw[i];
		const char *name = strchr(s->header, ':') ? strchr(s->header, ':') + 1 : "";
		int keep = s->kind == 'g' || (s->kind == 'j' && in_group(x, root, name)) ||
		           (s->kind == 's' && sup_index(x, name) > 0 && sup_in_group(x, root, sup_index(x, name)));
		if (s->kind == 'c') {
			int c = sv_config_find_chan(x->cfg, name);
			for (int k = 0; k < x->cfg->njobs && !keep; k++)
				keep = c >= 0 && x->cfg->jobs[k].selected && ex_find(x, k) == root && ex_uses_chan(&x->cfg->jobs[k], c);
		}
		if (!keep)
			continue;
		fprintf(f, "\n[%s]\n", s->header);
		for (int p = 0; p < s->npairs; p++) {
			const struct sv_pair *pr = &s->pairs[p];
			if (pr->duplicate)
				continue;
			if (s->kind == 'g' && (strcmp(pr->key, "control") == 0 || strcmp(pr->key, "control_group") == 0))
				continue; /* the sub-grun's socket is named after the sub-file */
			if (s->kind == 's' && strcmp(pr->key, "parent") == 0 &&
			    !sup_in_group(x, root, sup_index(x, pr->value)))
				continue;
			if (s->kind == 'j' && strcmp(pr->key, "supervisor") == 0 &&
			    !sup_in_group(x, root, sup_index(x, pr->value)))
				continue;
			if (s->kind == 'j' && strcmp(pr->key, "needs") == 0) {
				/* needs outside the group are the unit's Requires= */
				struct sv_strv v = { 0 };
				sv_split_list(pr->value, &v);
				int any = 0;
				for (int k = 0; k < v.n; k++)
					if (in_group(x, root, v.v[k]))
						fprintf(f, "%s%s", any++ ? ", " : "needs = ", v.v[k]);
				if (any)
					fputc('\n', f);
				sv_strv_free(&v);
				continue;
			}
			pair(f, pr);
		}
	}
	fclose(f);
	return text;
}

/* ---- what has no equivalent at all ------------------------------------------- */

void ex_unexportable(struct export *x)
{
	const struct sv_config *cfg = x->cfg;
	if (cfg->exit_policy != SV_EXIT_AUTO)
		ex_warn(x, cfg->sups[0].line, "exit = %s: units end on their own; nothing stops the others when a "
		     "significant job ends", cfg->exit_policy == SV_EXIT_ANY_SIGNIFICANT ? "any_significant" : "all_significant");
	if (cfg->fail_fast)
		ex_warn(x, cfg->sups[0].line, "fail_fast = yes: no systemd equivalent; a failed unit stops nothing else");
	if (cfg->max_running)
		ex_warn(x, cfg->sups[0].line, "jobs = %d: systemd starts units without a limit on how many run at once",
		     cfg->max_running);
	for (int i = 0; i < cfg->njobs; i++) {
		const struct sv_job *j = &cfg->jobs[i];
		if (j->selected && !ex_embedded(x, i) && j->significant)
			ex_warn(x, j->significant_line, "job %s: significant: no systemd equivalent", j->name);
	}
}

/* ---- writing -------------------------------------------------------------------------------- */

/* Was path written by grun export (or is it absent)? */
static int ours(const char *path)
{
	char first[4096] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT;
	ssize_t n = read(fd, first, sizeof first - 1);
	close(fd);
	first[n > 0 ? n : 0] = '\0';
	return strncmp(first, HEADER, strlen(HEADER)) == 0 || strstr(first, "\"grun.dev/generated-by\"");
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct outfile *)a)->name, ((const struct outfile *)b)->name);
}

static int write_all(struct export *x)
{
	if (x->nfiles > 1)
		qsort(x->files, (size_t)x->nfiles, sizeof *x->files, by_name);
	if (strcmp(x->o.out, "-") == 0) {
		for (int i = 0; i < x->nfiles; i++)
			printf("%s# ---- %s ----\n%s", i ? "\n" : "", x->files[i].name, x->files[i].text);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	if (mkdir(x->o.out, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "grun: export: %s: %s\n", x->o.out, strerror(errno));
		return 1;
	}
	int rc = 0;
	for (int i = 0; i < x->nfiles; i++) {
		char path[PATH_MAX + 256];
		snprintf(path, sizeof path, "%s/%s", x->o.out, x->files[i].name);
		if (!ours(path)) {
			fprintf(stderr, "grun: export: %s exists and was not written by grun export: not overwritten\n", path);
			rc = 1;
		}
	}
	for (int i = 0; i < x->nfiles && rc == 0; i++) {
		char path[PATH_MAX + 256];
		snprintf(path, sizeof path, "%s/%s", x->o.out, x->files[i].name);
		FILE *f = fopen(path, "w");
		if (!f || fputs(x->files[i].text, f) < 0 || fclose(f) != 0) {
			fprintf(stderr, "grun: export: %s: %s\n", path, strerror(errno));
			rc = 1;
		}
	}
	return rc;
}

/* ---- the command --------------------------------------------------------------------------- */

static const char usage[] =
	"usage: grun export systemd FILE [-o DIR|-] [-a APP] [--only JOB,...] [--strict]\n"
	"                   [--granularity job|supervisor] [--grun PATH] [--prefix DIR]\n"
	"                   [--systemd-version N]\n"
	"       grun export kubernetes FILE --image IMG [-n NAMESPACE] [-o DIR|-] [-a APP]\n"
	"                   [--only JOB,...] [--strict] [--granularity job|supervisor]\n";

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },   { "app", required_argument, NULL, 'a' },
		{ "only", required_argument, NULL, 'O' },     { "strict", no_argument, NULL, 's' },
		{ "granularity", required_argument, NULL, 'g' }, { "grun", required_argument, NULL, 'G' },
		{ "prefix", required_argument, NULL, 'P' },
		{ "image", required_argument, NULL, 'I' }, { "namespace", required_argument, NULL, 'n' },
		{ "systemd-version", required_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;
	optind = 1;
	o->out = "-";
	while ((opt = getopt_long(argc, argv, "o:a:n:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'o': o->out = optarg; break;
		case 'a': o->app = optarg; break;
		case 'O': o->only = optarg; break;
		case 's': o->strict = 1; break;
		case 'G': o->grun = optarg; break;
		case 'I': o->image = optarg; break;
		case 'V': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 200 || v > 999) {
				fprintf(stderr, "grun: export --systemd-version %s: expected a version such as 252\n", optarg);
				return -1;
			}
			o->systemd_version = (int)v;
			break;
		}
		case 'n': o->ns = optarg; break;
		case 'P':
			if (optarg[0] != '/') {
				fprintf(stderr, "grun: export --prefix %s: expected an absolute directory\n", optarg);
				return -1;
			}
			o->prefix = optarg;
			break;
		case 'g':
			if (strcmp(optarg, "job") != 0 && strcmp(optarg, "supervisor") != 0) {
				fprintf(stderr, "grun: export --granularity %s: expected job or supervisor\n", optarg);
				return -1;
			}
			o->by_sup = optarg[0] == 's';
			break;
		default: fputs(usage, stderr); return -1;
		}
	}
	if (argc - optind != 2) {
		fputs(usage, stderr);
		return -1;
	}
	o->format = argv[optind];
	o->file = argv[optind + 1];
	if (strcmp(o->format, "systemd") != 0 && strcmp(o->format, "kubernetes") != 0) {
		fprintf(stderr, "grun: export %s: unknown format (systemd or kubernetes)\n", o->format);
		return -1;
	}
	return 0;
}

static char *app_of(const char *file)
{
	const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	char *app = sv_xstrdup(base, "an export");
	size_t n = strlen(app);
	if (n > 4 && strcmp(app + n - 4, ".ini") == 0)
		app[n - 4] = '\0';
	for (char *p = app; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		      *p == '_' || *p == '.'))
			*p = '_';
	return app;
}

static int select_only(struct sv_config *cfg, const char *only)
{
	struct sv_strv v = { 0 };
	sv_split_list(only, &v);
	int rc = sv_config_select(cfg, v.v, v.n, stderr);
	sv_strv_free(&v);
	return rc;
}

/* Kubernetes needs an image for every job: 1 (said) if one has none. */
static int missing_image(struct export *x)
{
	int missing = 0;
	for (int i = 0; i < x->cfg->njobs; i++) {
		const struct sv_job *j = &x->cfg->jobs[i];
		if (j->selected && !j->k8s_image && !x->o.image) {
			fprintf(stderr, "%s:%d: job %s: no image: give --image IMG, or export.kubernetes.image = IMG "
			        "in its section\n", x->o.file, j->line, j->name);
			missing = 1;
		}
	}
	return missing;
}

int sv_export_main(int argc, char **argv)
{
	struct export x = { 0 };
	if (parse(argc, argv, &x.o) < 0)
		return 2;
	x.cfg = sv_config_load_raw(x.o.file, stderr);
	if (!x.cfg)
		return 2;
	if (x.o.only && select_only(x.cfg, x.o.only) < 0) {
		sv_config_free(x.cfg);
		return 2;
	}
	char *app = x.o.app ? NULL : app_of(x.o.file);
	if (!x.o.app)
		x.o.app = app;
	/* where the units will find the sub-files: --prefix, else the output
	 * directory (made now if need be), else /etc/grun */
	if (x.o.prefix)
		snprintf(x.outdir, sizeof x.outdir, "%s", x.o.prefix);
	else if (strcmp(x.o.out, "-") == 0 || ((mkdir(x.o.out, 0755) == 0 || errno == EEXIST) && !realpath(x.o.out, x.outdir)))
		snprintf(x.outdir, sizeof x.outdir, "/etc/grun");
	if (x.o.grun)
		snprintf(x.grun, sizeof x.grun, "%s", x.o.grun);
	else if (!realpath("/proc/self/exe", x.grun))
		snprintf(x.grun, sizeof x.grun, "/usr/bin/grun");
	x.k8s = strcmp(x.o.format, "kubernetes") == 0;
	plan(&x);
	int rc = x.k8s && missing_image(&x) ? 2 : 0;
	for (int i = 0; i < x.cfg->njobs && !x.k8s; i++) {
		if (!x.cfg->jobs[i].selected)
			continue;
		if (!ex_embedded(&x, i))
			ex_native(&x, i);
		else if (ex_find(&x, i) == i)
			ex_embed(&x, i);
	}
	if (x.k8s && rc == 0)
		ex_kubernetes(&x);
	else if (!x.k8s)
		ex_target(&x);
	if (rc == 0)
		ex_unexportable(&x);
	rc = rc ? rc : x.o.strict && x.warnings ? 2 : write_all(&x);
	for (int i = 0; i < x.nfiles; i++) {
		free(x.files[i].name);
		free(x.files[i].text);
	}
	for (int i = 0; i < x.cfg->njobs; i++)
		free(x.why[i]);
	free(x.files);
	free(x.parent);
	free(x.sup_of);
	free(x.why);
	free(app);
	sv_config_free(x.cfg);
	return rc;
}
