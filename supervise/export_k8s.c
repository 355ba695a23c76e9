/*
 * export_k8s.c - grun export kubernetes: the plan of export.c as
 * Kubernetes objects, one JSON file each (kubectl apply -f DIR reads
 * them).
 *
 *   a permanent job              a Deployment (replicas: instances)
 *   a transient/temporary job    a Job (completions and parallelism:
 *                                instances; backoffLimit: the
 *                                supervisor's intensity, 0 if temporary)
 *   ready = tcp:HOST:PORT        a tcpSocket readinessProbe, and a
 *                                Service on PORT that dependents wait for
 *   ready = file:PATH            an exec readinessProbe (test -e PATH)
 *   needs                        an initContainer per needed Service,
 *                                waiting until it accepts connections
 *   stop_timeout                 terminationGracePeriodSeconds
 *   env, dir, user, group        env, workingDir, securityContext
 *   a group under grun           a ConfigMap holding the sub-file and a
 *                                Deployment (or Job) running grun on it
 *
 * Each object carries the annotation grun.dev/generated-by, which is how
 * a later export knows the file is its own.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* asprintf */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervise/config.h"
#include "supervise/export_internal.h"
#include "supervise/json.h"
#include "supervise/xalloc.h"

/* The image that waits for a needed Service in an initContainer. */
#define WAIT_IMAGE "busybox:1.36"

/* A DNS-1123 label from s: lowercase letters, digits and '-', at most 63. */
static void k8s_name(char *out, size_t len, const char *app, const char *s)
{
	size_t k = 0;
	char full[256];
	snprintf(full, sizeof full, "%s-%s", app, s);
	for (const char *p = full; *p && k + 1 < len && k < 63; p++) {
		char c = *p;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			c = '-';
		out[k++] = c;
	}
	while (k && out[k - 1] == '-')
		k--;
	out[k] = '\0';
}

static void metadata(struct export *x, struct jbuf *b, const char *name, const char *component)
{
	jb_key(b, "metadata");
	jb_obj(b);
	jb_kstr(b, "name", name);
	if (x->o.ns)
		jb_kstr(b, "namespace", x->o.ns);
	jb_key(b, "labels");
	jb_obj(b);
	jb_kstr(b, "app.kubernetes.io/name", x->o.app);
	jb_kstr(b, "app.kubernetes.io/component", component);
	jb_end_obj(b);
	jb_key(b, "annotations");
	jb_obj(b);
	char from[PATH_MAX + 32];
	snprintf(from, sizeof from, "grun export kubernetes from %s", x->o.file);
	jb_kstr(b, "grun.dev/generated-by", from);
	jb_end_obj(b);
	jb_end_obj(b);
}

static void selector_labels(struct export *x, struct jbuf *b, const char *component)
{
	jb_obj(b);
	jb_kstr(b, "app.kubernetes.io/name", x->o.app);
	jb_kstr(b, "app.kubernetes.io/component", component);
	jb_end_obj(b);
}

static const char *image_of(struct export *x, const struct sv_job *j)
{
	return j->k8s_image ? j->k8s_image : x->o.image;
}

static void add(struct export *x, const char *name, const char *kind, struct jbuf *b)
{
	char *file;
	jb_line(b);
	if (b->failed || asprintf(&file, "%s.%s.json", name, kind) < 0)
		sv_fatal("out of memory");
	ex_add_file(x, file, b->p);
	*b = (struct jbuf){ 0 };
}

/* The port of a job's tcp readiness, or NULL. */
static const char *tcp_port(const struct sv_job *j)
{
	return j->ready == SV_READY_TCP ? j->ready_port : NULL;
}

/* initContainers waiting for the Services of what the group of job i
 * needs outside it. */
static void waits(struct export *x, struct jbuf *b, int root)
{
	const struct sv_config *cfg = x->cfg;
	int any = 0;
	for (int i = 0; i < cfg->njobs; i++) {
		const struct sv_job *j = &cfg->jobs[i];
		if (!j->selected || ex_find(x, i) != root)
			continue;
		for (int k = 0; k < j->needs.n; k++) {
			int d = j->need_idx[k];
			const struct sv_job *dj = &cfg->jobs[d];
			if (ex_find(x, d) == root)
				continue;
			if (!tcp_port(dj)) {
				ex_warn(x, j->needs_line ? j->needs_line : j->line,
				        "job %s: needs %s, which has no ready = tcp: port: Kubernetes cannot wait for it; "
				        "exported without waiting", j->name, dj->name);
				continue;
			}
			char svc[64], cname[64];
			k8s_name(svc, sizeof svc, x->o.app, dj->name);
			k8s_name(cname, sizeof cname, "wait", dj->name);
			if (!any++) {
				jb_key(b, "initContainers");
				jb_arr(b);
			}
			jb_obj(b);
			jb_kstr(b, "name", cname);
			jb_kstr(b, "image", WAIT_IMAGE);
			jb_key(b, "command");
			jb_arr(b);
			jb_str(b, "sh");
			jb_str(b, "-c");
			char cmd[256];
			snprintf(cmd, sizeof cmd, "until nc -z %s %s; do sleep 1; done", svc, dj->ready_port);
			jb_str(b, cmd);
			jb_end_arr(b);
			jb_end_obj(b);
		}
	}
	if (any)
		jb_end_arr(b);
}

/* An exec action running argv (NULL-terminated). */
static void exec_action(struct jbuf *b, const char *const *argv)
{
	jb_key(b, "exec");
	jb_obj(b);
	jb_key(b, "command");
	jb_arr(b);
	for (; *argv; argv++)
		jb_str(b, *argv);
	jb_end_arr(b);
	jb_end_obj(b);
}

/* The action of a check (tcp:, http://, exec:) in a probe object. */
static void check_action(struct jbuf *b, enum sv_check_kind kind, const char *host, const char *port,
                         const char *path, const char *cmd)
{
	char *end;
	long p = port ? strtol(port, &end, 10) : 0;
	int numeric = port && *end == '\0';
	if (kind == SV_CHECK_EXEC) {
		exec_action(b, (const char *const[]){ "/bin/sh", "-c", cmd, NULL });
		return;
	}
	jb_key(b, kind == SV_CHECK_HTTP ? "httpGet" : "tcpSocket");
	jb_obj(b);
	/* the Pod's own address unless the job names another host */
	if (host && strcmp(host, "localhost") != 0 && strcmp(host, "127.0.0.1") != 0 && strcmp(host, "::1") != 0)
		jb_kstr(b, "host", host);
	if (kind == SV_CHECK_HTTP)
		jb_kstr(b, "path", path && *path ? path : "/");
	if (numeric)
		jb_kint(b, "port", p);
	else
		jb_kstr(b, "port", port ? port : "80");
	jb_end_obj(b);
}

/* health = : a livenessProbe with its interval, timeout and failures. */
static void liveness(struct jbuf *b, const struct sv_job *j)
{
	const struct sv_check_spec *h = &j->health;
	if (h->kind == SV_CHECK_NONE)
		return;
	jb_key(b, "livenessProbe");
	jb_obj(b);
	check_action(b, h->kind, h->host, h->port, h->path, h->cmd);
	jb_kint(b, "periodSeconds", j->health_interval >= 1000000000 ? j->health_interval / 1000000000 : 1);
	jb_kint(b, "timeoutSeconds", j->health_timeout >= 1000000000 ? j->health_timeout / 1000000000 : 1);
	jb_kint(b, "failureThreshold", j->health_failures);
	jb_end_obj(b);
}

static void probe(struct export *x, struct jbuf *b, const struct sv_job *j)
{
	char d[32];
	if (j->ready == SV_READY_HTTP || j->ready == SV_READY_EXEC) {
		jb_key(b, "readinessProbe");
		jb_obj(b);
		check_action(b, j->ready == SV_READY_HTTP ? SV_CHECK_HTTP : SV_CHECK_EXEC, j->ready_host, j->ready_port,
		             j->ready_path, j->ready_cmd);
		jb_kint(b, "periodSeconds", 1);
		jb_end_obj(b);
	} else if (j->ready == SV_READY_LOG) {
		ex_warn(x, j->ready_line ? j->ready_line : j->line, "job %s: ready = log: no Kubernetes probe reads "
		        "a container's output; the container counts as ready once it runs", j->name);
	} else if (j->ready == SV_READY_TCP || j->ready == SV_READY_FILE || j->ready == SV_READY_DELAY) {
		jb_key(b, "readinessProbe");
		jb_obj(b);
		if (j->ready == SV_READY_TCP)
			check_action(b, SV_CHECK_TCP, j->ready_host, j->ready_port, NULL, NULL);
		else if (j->ready == SV_READY_FILE)
			exec_action(b, (const char *const[]){ "test", "-e", j->ready_path, NULL });
		else
			exec_action(b, (const char *const[]){ "true", NULL });
		if (j->ready == SV_READY_DELAY)
			jb_kint(b, "initialDelaySeconds", (j->ready_delay + 999999999) / 1000000000);
		else
			jb_kint(b, "periodSeconds", 1);
		jb_end_obj(b);
	} else if (j->ready == SV_READY_NOTIFY || j->ready == SV_READY_FD) {
		snprintf(d, sizeof d, j->ready == SV_READY_NOTIFY ? "notify" : "fd:%d", j->ready_fd);
		ex_warn(x, j->ready_line ? j->ready_line : j->line, "job %s: ready = %s: no Kubernetes probe; "
		        "the container counts as ready once it runs", j->name, d);
	}
}

static void container(struct export *x, struct jbuf *b, const struct sv_job *j)
{
	jb_obj(b);
	char name[64];
	k8s_name(name, sizeof name, "job", j->name);
	jb_kstr(b, "name", name + 4);
	jb_kstr(b, "image", image_of(x, j));
	jb_key(b, "command");
	jb_arr(b);
	for (int a = 0; a < j->argv.n; a++)
		jb_str(b, j->argv.v[a]);
	jb_end_arr(b);
	jb_key(b, "env");
	jb_arr(b);
	jb_obj(b);
	jb_kstr(b, "name", "GRUN_JOB");
	jb_kstr(b, "value", j->name);
	jb_end_obj(b);
	for (int e = 0; e < j->env.n; e++) {
		const char *eq = strchr(j->env.v[e], '=');
		if (!eq)
			continue;
		jb_obj(b);
		jb_key(b, "name");
		jb_strn(b, j->env.v[e], (size_t)(eq - j->env.v[e]));
		jb_kstr(b, "value", eq + 1);
		jb_end_obj(b);
	}
	jb_end_arr(b);
	if (j->dir)
		jb_kstr(b, "workingDir", j->dir);
	if (j->has_user || j->uid != (uid_t)-1 || j->gid != (gid_t)-1) {
		jb_key(b, "securityContext");
		jb_obj(b);
		if (j->has_user || j->uid != (uid_t)-1)
			jb_kint(b, "runAsUser", j->uid);
		if (j->gid != (gid_t)-1)
			jb_kint(b, "runAsGroup", j->gid);
		jb_end_obj(b);
	}
	probe(x, b, j);
	liveness(b, j);
	jb_end_obj(b);
}

/* What Kubernetes does its own way: each a warning. */
static void lossy(struct export *x, const struct sv_job *j)
{
	if (j->stop_signal != 15)
		ex_warn(x, j->line, "job %s: stop_signal: Kubernetes stops a container with SIGTERM "
		        "(the image's STOPSIGNAL decides otherwise)", j->name);
	if (j->umask >= 0)
		ex_warn(x, j->line, "job %s: umask: no Kubernetes equivalent", j->name);
	if (j->out.kind == SV_IO_FILE || j->err.kind == SV_IO_FILE || j->out.kind == SV_IO_NULL ||
	    j->err.kind == SV_IO_NULL)
		ex_warn(x, j->line, "job %s: stdout/stderr to a file or null: a container's output is its log", j->name);
	if (j->watchdog)
		ex_warn(x, j->line, "job %s: watchdog: no Kubernetes equivalent (a livenessProbe checks from outside)",
		        j->name);
	if (j->restart != SV_TEMPORARY && j->backoff_max > j->backoff_min && !x->said_backoff++)
		ex_warn(x, j->line, "job %s (and any other): backoff: Kubernetes restarts with its own back-off "
		        "(10 s, doubling to 5 min)", j->name);
}

/* A Deployment (permanent) or a Job running one container spec. */
static void workload(struct export *x, int root, const char *name, const struct sv_job *j, int permanent,
                     int replicas, int backoff, int restart_on_failure, const char *configmap, int autostart)
{
	struct jbuf b = { 0 };
	jb_obj(&b);
	jb_kstr(&b, "apiVersion", permanent ? "apps/v1" : "batch/v1");
	jb_kstr(&b, "kind", permanent ? "Deployment" : "Job");
	metadata(x, &b, name, name);
	jb_key(&b, "spec");
	jb_obj(&b);
	if (permanent) {
		jb_kint(&b, "replicas", autostart ? replicas : 0);
		jb_key(&b, "selector");
		jb_obj(&b);
		jb_key(&b, "matchLabels");
		selector_labels(x, &b, name);
		jb_end_obj(&b);
	} else {
		jb_kint(&b, "completions", replicas);
		jb_kint(&b, "parallelism", replicas);
		jb_kint(&b, "backoffLimit", backoff);
		if (!autostart)
			jb_kbool(&b, "suspend", 1);
	}
	jb_key(&b, "template");
	jb_obj(&b);
	jb_key(&b, "metadata");
	jb_obj(&b);
	jb_key(&b, "labels");
	selector_labels(x, &b, name);
	jb_end_obj(&b);
	jb_key(&b, "spec");
	jb_obj(&b);
	if (!permanent)
		jb_kstr(&b, "restartPolicy", restart_on_failure ? "OnFailure" : "Never");
	jb_kint(&b, "terminationGracePeriodSeconds", (j->stop_timeout + 999999999) / 1000000000);
	waits(x, &b, root);
	jb_key(&b, "containers");
	jb_arr(&b);
	if (configmap) {
		jb_obj(&b);
		jb_kstr(&b, "name", "grun");
		jb_kstr(&b, "image", image_of(x, j));
		jb_key(&b, "command");
		jb_arr(&b);
		jb_str(&b, "grun");
		char path[PATH_MAX];
		snprintf(path, sizeof path, "/etc/grun/%s.ini", configmap);
		jb_str(&b, path);
		jb_end_arr(&b);
		jb_key(&b, "volumeMounts");
		jb_arr(&b);
		jb_obj(&b);
		jb_kstr(&b, "name", "grun-file");
		jb_kstr(&b, "mountPath", "/etc/grun");
		jb_end_obj(&b);
		jb_end_arr(&b);
		jb_end_obj(&b);
	} else {
		container(x, &b, j);
	}
	jb_end_arr(&b);
	if (configmap) {
		jb_key(&b, "volumes");
		jb_arr(&b);
		jb_obj(&b);
		jb_kstr(&b, "name", "grun-file");
		jb_key(&b, "configMap");
		jb_obj(&b);
		jb_kstr(&b, "name", configmap);
		jb_end_obj(&b);
		jb_end_obj(&b);
		jb_end_arr(&b);
	}
	jb_end_obj(&b); /* pod spec */
	jb_end_obj(&b); /* template */
	jb_end_obj(&b); /* spec */
	jb_end_obj(&b);
	add(x, name, permanent ? "deployment" : "job", &b);
}

/* A Service called name on j's ready port, for the Pods of component. */
static void service(struct export *x, const char *name, const char *component, const struct sv_job *j)
{
	struct jbuf b = { 0 };
	char *end;
	long port = strtol(j->ready_port, &end, 10);
	if (*end) {
		ex_warn(x, j->ready_line, "job %s: ready = tcp: with a named port: no Service made", j->name);
		return;
	}
	jb_obj(&b);
	jb_kstr(&b, "apiVersion", "v1");
	jb_kstr(&b, "kind", "Service");
	metadata(x, &b, name, name);
	jb_key(&b, "spec");
	jb_obj(&b);
	jb_key(&b, "selector");
	selector_labels(x, &b, component);
	jb_key(&b, "ports");
	jb_arr(&b);
	jb_obj(&b);
	jb_kint(&b, "port", port);
	jb_kint(&b, "targetPort", port);
	jb_end_obj(&b);
	jb_end_arr(&b);
	jb_end_obj(&b);
	jb_end_obj(&b);
	add(x, name, "service", &b);
}

static void configmap(struct export *x, const char *name, int root)
{
	struct jbuf b = { 0 };
	char *text = ex_subfile(x, root);
	jb_obj(&b);
	jb_kstr(&b, "apiVersion", "v1");
	jb_kstr(&b, "kind", "ConfigMap");
	metadata(x, &b, name, name);
	jb_key(&b, "data");
	jb_obj(&b);
	char key[128];
	snprintf(key, sizeof key, "%s.ini", name);
	jb_kstr(&b, key, text);
	jb_end_obj(&b);
	jb_end_obj(&b);
	free(text);
	add(x, name, "configmap", &b);
}

void ex_kubernetes(struct export *x)
{
	const struct sv_config *cfg = x->cfg;
	for (int i = 0; i < cfg->njobs; i++) {
		const struct sv_job *j = &cfg->jobs[i];
		if (!j->selected || ex_find(x, i) != i || !image_of(x, j))
			continue;
		const struct sv_sup *sup = &cfg->sups[j->sup];
		char name[64];
		if (ex_embedded(x, i)) {
			int s = x->sup_of[i];
			k8s_name(name, sizeof name, x->o.app, s >= 0 ? cfg->sups[s].name : j->name);
			int permanent = 0, restartable = 0;
			for (int k = 0; k < cfg->njobs; k++) {
				if (cfg->jobs[k].selected && ex_find(x, k) == i) {
					permanent |= cfg->jobs[k].restart == SV_PERMANENT;
					restartable |= cfg->jobs[k].restart != SV_TEMPORARY;
				}
			}
			ex_warn(x, s >= 0 ? cfg->sups[s].line : j->line, "%s: no Kubernetes equivalent; exported as one "
			        "Pod running grun on a sub-file (ConfigMap %s)", x->why[i], name);
			configmap(x, name, i);
			workload(x, i, name, j, permanent, 1, restartable ? sup->intensity : 0, restartable, name, 1);
			for (int k = 0; k < cfg->njobs; k++) {
				char svc[64];
				k8s_name(svc, sizeof svc, x->o.app, cfg->jobs[k].name);
				if (cfg->jobs[k].selected && ex_find(x, k) == i && tcp_port(&cfg->jobs[k]))
					service(x, svc, name, &cfg->jobs[k]);
			}
			continue;
		}
		k8s_name(name, sizeof name, x->o.app, j->name);
		lossy(x, j);
		int permanent = j->restart == SV_PERMANENT;
		workload(x, i, name, j, permanent, j->instances, j->restart == SV_TRANSIENT ? sup->intensity : 0,
		         j->restart == SV_TRANSIENT, NULL, j->autostart);
		if (tcp_port(j))
			service(x, name, name, j);
	}
}
