/*
 * export_systemd.c - grun export systemd: the units of export.c's plan
 * (export.h says what maps to what; grun(1) EXPORT is the reference):
 * a .service per job or template, a Type=notify unit running grun for
 * each group under grun, and APP.target.  systemd's quoting is here too.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* asprintf, open_memstream */
#endif
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervise/config.h"
#include "supervise/export_internal.h"
#include "supervise/xalloc.h"

/* ---- systemd's quoting ----------------------------------------------------------- */

/* s as one double-quoted word: \ and " escaped, newlines and tabs as C
 * escapes, and the characters systemd expands on that line doubled. */
static void quote(FILE *f, const char *s, const char *doubled)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (*s == '\t')
			fputs("\\t", f);
		else if (strchr(doubled, *s))
			fprintf(f, "%c%c", *s, *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

/* A word of an Exec line ($ and % expanded there), and an Environment=
 * assignment (% only). */
static void q_exec(FILE *f, const char *s)
{
	quote(f, s, "$%");
}

static void q_env(FILE *f, const char *s)
{
	quote(f, s, "%");
}

/* A path on a line of its own (WorkingDirectory=, append:): % doubled. */
static void q_path(FILE *f, const char *s)
{
	for (; *s; s++)
		fputs(*s == '%' ? "%%" : (char[]){ *s, 0 }, f);
}

static void ms(FILE *f, const char *key, int64_t ns)
{
	fprintf(f, "%s=%lldms\n", key, (long long)(ns / 1000000));
}

/* ---- unit names ----------------------------------------------------------------- */

static char *unit_of_job(struct export *x, int i, int inst)
{
	const struct sv_job *j = &x->cfg->jobs[i];
	char *name;
	int r = ex_find(x, i);
	if (ex_embedded(x, i)) {
		const char *base = x->sup_of[r] >= 0 ? x->cfg->sups[x->sup_of[r]].name : x->cfg->jobs[r].name;
		if (asprintf(&name, "%s-%s.service", x->o.app, base) < 0)
			sv_fatal("out of memory");
	} else if (j->instances > 1) {
		if (inst > 0 ? asprintf(&name, "%s-%s@%d.service", x->o.app, j->name, inst) < 0
		             : asprintf(&name, "%s-%s@.service", x->o.app, j->name) < 0)
			sv_fatal("out of memory");
	} else if (asprintf(&name, "%s-%s.service", x->o.app, j->name) < 0) {
		sv_fatal("out of memory");
	}
	return name;
}

/* The units a unit's Requires= already named (each once). */
struct named {
	char **v;
	int n;
};

static int named_once(struct named *nm, const char *u)
{
	for (int i = 0; i < nm->n; i++)
		if (strcmp(nm->v[i], u) == 0)
			return 0;
	nm->v = sv_xreallocarray(nm->v, (size_t)nm->n + 1, sizeof *nm->v, "an export");
	nm->v[nm->n++] = sv_xstrdup(u, "an export");
	return 1;
}

static void named_free(struct named *nm)
{
	for (int i = 0; i < nm->n; i++)
		free(nm->v[i]);
	free(nm->v);
}

/* Requires= and After= on what job i needs, outside its own unit. */
static void needs(struct export *x, FILE *f, int i, struct named *nm)
{
	const struct sv_job *j = &x->cfg->jobs[i];
	for (int k = 0; k < j->needs.n; k++) {
		int d = j->need_idx[k];
		if (ex_embedded(x, i) && ex_find(x, d) == ex_find(x, i))
			continue;
		const struct sv_job *dj = &x->cfg->jobs[d];
		int n = ex_embedded(x, d) ? 1 : dj->instances;
		for (int inst = 1; inst <= n; inst++) {
			char *u = unit_of_job(x, d, ex_embedded(x, d) || dj->instances == 1 ? 0 : inst);
			if (named_once(nm, u))
				fprintf(f, "Requires=%s\nAfter=%s\n", u, u);
			free(u);
		}
	}
}

static void header(struct export *x, FILE *f)
{
	fprintf(f, "%s %s from %s; edit that file and export again.\n", HEADER, x->o.format, x->o.file);
}

/* ---- a native unit for one job ------------------------------------------------------ */

static const char *restart_of(enum sv_restart r)
{
	return r == SV_PERMANENT ? "always" : r == SV_TRANSIENT ? "on-failure" : "no";
}

static void io(struct export *x, FILE *f, const struct sv_job *j, const struct sv_iospec *s, const char *key)
{
	if (s->kind == SV_IO_NULL)
		fprintf(f, "%s=null\n", key);
	else if (s->kind == SV_IO_FILE && strcmp(key, "StandardInput") == 0) {
		fprintf(f, "%s=file:", key);
		q_path(f, s->path);
		fputc('\n', f);
	} else if (s->kind == SV_IO_FILE) {
		fprintf(f, "%s=append:", key);
		q_path(f, s->path);
		fputc('\n', f);
	} else if (s->kind == SV_IO_INHERIT) {
		ex_warn(x, j->line, "job %s: %s = inherit: a service has no terminal to inherit; %s goes to the journal",
		     j->name, strcmp(key, "StandardInput") == 0 ? "stdin" : strcmp(key, "StandardOutput") == 0 ? "stdout" : "stderr",
		     strcmp(key, "StandardInput") == 0 ? "its input is /dev/null and its output" : "it");
	} else if (s->kind == SV_IO_STDOUT) {
		fprintf(f, "%s=inherit\n", key); /* StandardError=inherit: where stdout goes */
	}
}

static void success(FILE *f, const struct sv_job *j)
{
	int any = 0;
	for (int st = 1; st < 256; st++) {
		if (j->success_status[st / 64] >> (st % 64) & 1) {
			fprintf(f, "%s%d", any++ ? " " : "SuccessExitStatus=", st);
		}
	}
	for (int sig = 1; sig < 64; sig++)
		if (j->success_signals >> sig & 1)
			fprintf(f, "%sSIG%s", any++ ? " " : "SuccessExitStatus=", sv_signal_name(sig));
	if (any)
		fputc('\n', f);
}

void ex_native(struct export *x, int i)
{
	const struct sv_job *j = &x->cfg->jobs[i];
	const struct sv_sup *sup = &x->cfg->sups[j->sup];
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		sv_fatal("out of memory");
	header(x, f);
	fprintf(f, "[Unit]\nDescription=%s: job %s%s (%s:%d)\n", x->o.app, j->name,
	        j->instances > 1 ? ", instance %i" : "", x->o.file, j->line);
	fprintf(f, "PartOf=%s.target\n", x->o.app);
	struct named nm = { 0 };
	needs(x, f, i, &nm);
	named_free(&nm);
	if (j->restart != SV_TEMPORARY) {
		ms(f, "StartLimitIntervalSec", sup->period);
		fprintf(f, "StartLimitBurst=%d\n", sup->intensity + 1);
	}
	fprintf(f, "\n[Service]\n");
	if (j->ready == SV_READY_NOTIFY)
		fprintf(f, "Type=notify\nNotifyAccess=all\n");
	else if (j->ready == SV_READY_EXITED)
		fprintf(f, "Type=oneshot\nRemainAfterExit=yes\n");
	else
		fprintf(f, "Type=exec\n");
	fprintf(f, "ExecStart=");
	for (int a = 0; a < j->argv.n; a++) {
		if (a)
			fputc(' ', f);
		/* a program named without a '/' is found along systemd's own
		 * PATH, unless the job sets its own PATH: then where grun found it */
		int own_path = 0;
		for (int e = 0; e < j->env.n; e++)
			own_path |= strncmp(j->env.v[e], "PATH=", 5) == 0;
		q_exec(f, a == 0 && own_path && j->exec_path ? j->exec_path : j->argv.v[a]);
	}
	fputc('\n', f);
	if (j->ready != SV_READY_EXITED)
		fprintf(f, "Restart=%s\n", restart_of(j->restart));
	else if (j->restart == SV_TRANSIENT)
		fprintf(f, "Restart=on-failure\n");
	if (j->restart != SV_TEMPORARY) {
		ms(f, "RestartSec", j->backoff_min);
		if (j->backoff_max > j->backoff_min && x->o.systemd_version >= 254) {
			/* systemd 254: the delay grows from RestartSec= to
			 * RestartMaxDelaySec= over RestartSteps= restarts */
			int steps = 0;
			for (int64_t d = j->backoff_min; d < j->backoff_max && steps < 30; d *= 2)
				steps++;
			fprintf(f, "RestartSteps=%d\n", steps);
			ms(f, "RestartMaxDelaySec", j->backoff_max);
		} else if (j->backoff_max > j->backoff_min && !x->said_backoff++)
			ex_warn(x, j->line, "job %s (and any other): backoff: systemd 252 restarts after a fixed "
			     "RestartSec= (the minimum); it has no exponential backoff (RestartSteps= needs systemd 254)",
			     j->name);
	}
	if (j->ready == SV_READY_NOTIFY || j->ready == SV_READY_EXITED) {
		if (j->ready_timeout)
			ms(f, "TimeoutStartSec", j->ready_timeout);
		else
			fprintf(f, "TimeoutStartSec=infinity\n");
	}
	if (j->watchdog)
		ms(f, "WatchdogSec", j->watchdog);
	fprintf(f, "KillMode=mixed\nKillSignal=SIG%s\n", sv_signal_name(j->stop_signal));
	ms(f, "TimeoutStopSec", j->stop_timeout);
	success(f, j);
	if (j->dir) {
		fprintf(f, "WorkingDirectory=");
		q_path(f, j->dir);
		fputc('\n', f);
	}
	if (j->has_user || j->uid != (uid_t)-1)
		fprintf(f, "User=%u\n", (unsigned)j->uid);
	if (j->gid != (gid_t)-1)
		fprintf(f, "Group=%u\n", (unsigned)j->gid);
	if (j->umask >= 0)
		fprintf(f, "UMask=%04o\n", (unsigned)j->umask);
	char grunjob[SV_NAME_MAX + 16];
	snprintf(grunjob, sizeof grunjob, "GRUN_JOB=%s", j->name);
	fprintf(f, "Environment=");
	q_env(f, grunjob);
	fprintf(f, " \"GRUN_INSTANCE=%s\"\n", j->instances > 1 ? "%i" : "1");
	for (int e = 0; e < j->env.n; e++) {
		fprintf(f, "Environment=");
		q_env(f, j->env.v[e]);
		fputc('\n', f);
	}
	io(x, f, j, &j->in, "StandardInput");
	io(x, f, j, &j->out, "StandardOutput");
	io(x, f, j, &j->err, "StandardError");
	if (j->autostart)
		fprintf(f, "\n[Install]\nWantedBy=%s.target\n", x->o.app);
	fclose(f);
	ex_add_file(x, unit_of_job(x, i, 0), text);
}

/* ---- an embedded unit: grun on a sub-file ---------------------------------------------------- */

void ex_embed(struct export *x, int root)
{
	struct sv_config *cfg = x->cfg;
	int stop = 0, restart = 0, line = cfg->jobs[root].line;
	char names[1024] = "";
	size_t nl = 0;
	for (int i = 0; i < cfg->njobs; i++) {
		if (!cfg->jobs[i].selected || ex_find(x, i) != root)
			continue;
		int64_t t = cfg->jobs[i].stop_timeout / 1000000;
		if (t > stop)
			stop = (int)t;
		restart |= cfg->jobs[i].restart != SV_TEMPORARY;
		if (nl < sizeof names - 80)
			nl += (size_t)snprintf(names + nl, sizeof names - nl, "%s%s", nl ? ", " : "", cfg->jobs[i].name);
	}
	int in = sv_config_find_chan(cfg, "stdin"), out = sv_config_find_chan(cfg, "stdout");
	for (int i = 0; i < cfg->njobs; i++) {
		const struct sv_job *j = &cfg->jobs[i];
		if (j->selected && ex_find(x, i) == root && ((in >= 0 && ex_uses_chan(j, in)) || (out >= 0 && ex_uses_chan(j, out))))
			ex_warn(x, j->line, "job %s: chan:stdin and chan:stdout are grun's own standard input and output: "
			     "under systemd, /dev/null and the journal", j->name);
	}
	char *unit = unit_of_job(x, root, 0);
	char *sub;
	if (asprintf(&sub, "%.*s.ini", (int)(strlen(unit) - strlen(".service")), unit) < 0)
		sv_fatal("out of memory");
	ex_warn(x, x->sup_of[root] >= 0 ? cfg->sups[x->sup_of[root]].line : line,
	     "%s: no systemd equivalent; %s exported through grun (%s runs grun on %s)", x->why[root], names, unit, sub);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		sv_fatal("out of memory");
	header(x, f);
	fprintf(f, "[Unit]\nDescription=%s: %s, run by grun (%s)\nPartOf=%s.target\n", x->o.app, names, x->why[root],
	        x->o.app);
	struct named nm = { 0 };
	for (int i = 0; i < cfg->njobs; i++)
		if (cfg->jobs[i].selected && ex_find(x, i) == root)
			needs(x, f, i, &nm);
	named_free(&nm);
	fprintf(f, "\n[Service]\nType=notify\nNotifyAccess=main\nExecStart=");
	q_exec(f, x->grun);
	fputc(' ', f);
	char path[PATH_MAX + 256];
	snprintf(path, sizeof path, "%s/%s", x->outdir, sub);
	q_exec(f, path);
	fprintf(f, "\nExecReload=/bin/kill -HUP $MAINPID\nRestart=%s\nKillMode=mixed\nTimeoutStartSec=infinity\n",
	        restart ? "on-failure" : "no");
	fprintf(f, "TimeoutStopSec=%dms\n", stop + 5000);
	fprintf(f, "\n[Install]\nWantedBy=%s.target\n", x->o.app);
	fclose(f);
	ex_add_file(x, sub, ex_subfile(x, root));
	ex_add_file(x, unit, text);
}

/* ---- the target ------------------------------------------------------------------------------- */

void ex_target(struct export *x)
{
	char *text = NULL, *name;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f || asprintf(&name, "%s.target", x->o.app) < 0)
		sv_fatal("out of memory");
	header(x, f);
	fprintf(f, "[Unit]\nDescription=%s: every job of %s\n", x->o.app, x->o.file);
	for (int i = 0; i < x->cfg->njobs; i++) {
		const struct sv_job *j = &x->cfg->jobs[i];
		if (!j->selected || !j->autostart || (ex_embedded(x, i) && ex_find(x, i) != i))
			continue;
		int n = ex_embedded(x, i) ? 1 : j->instances;
		for (int inst = 1; inst <= n; inst++) {
			char *u = unit_of_job(x, i, ex_embedded(x, i) || j->instances == 1 ? 0 : inst);
			fprintf(f, "Wants=%s\n", u);
			free(u);
		}
	}
	fprintf(f, "\n[Install]\nWantedBy=multi-user.target\n");
	fclose(f);
	ex_add_file(x, name, text);
}

