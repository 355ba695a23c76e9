/*
 * config.c - reading grun.ini(5) with inih into a struct sv_config.
 *
 * Two passes.  The first lets inih split the file into sections and
 * key = value pairs; a line-counting reader gives each pair its line
 * number (Debian's inih passes none) and sees the section headers
 * itself, so an empty section still exists.  The pairs are only stored.
 * The second pass interprets each section's pairs, which needs them all:
 * ${VAR} in cmd may come from an env key written below it.  check.c then
 * checks the graph as a whole.  Every problem is reported, with its line,
 * before the load fails.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <grp.h>
#include <pwd.h>

#include <ini.h>

#include "supervise/config.h"
#include "supervise/config_internal.h"

void sv_load_error(struct sv_loader *ld, int line, const char *fmt, ...)
{
	va_list ap, ap2;
	va_start(ap, fmt);
	va_copy(ap2, ap);
	int head = snprintf(NULL, 0, "%s:%d: ", ld->path, line);
	int body = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	size_t n = (size_t)(head > 0 ? head : 0) + (size_t)(body > 0 ? body : 0) + 1;
	char *text = malloc(n);
	struct sv_message *m = realloc(ld->messages, (size_t)(ld->nerrors + 1) * sizeof *m);
	if (!text || !m)
		abort();
	snprintf(text, n, "%s:%d: ", ld->path, line);
	vsnprintf(text + strlen(text), n - strlen(text), fmt, ap2);
	va_end(ap2);
	ld->messages = m;
	ld->messages[ld->nerrors++] = (struct sv_message){ .line = line, .text = text };
}

/* Prints every problem, in line order. */
static void flush_messages(struct sv_loader *ld)
{
	int *idx = malloc((size_t)ld->nerrors * sizeof *idx + 1);
	if (!idx)
		abort();
	for (int i = 0; i < ld->nerrors; i++)
		idx[i] = i;
	/* insertion sort: stable (one line's problems keep the order they
	 * were found in), and a file has few of them */
	for (int i = 1; i < ld->nerrors; i++) {
		int v = idx[i], k = i;
		while (k > 0 && ld->messages[idx[k - 1]].line > ld->messages[v].line) {
			idx[k] = idx[k - 1];
			k--;
		}
		idx[k] = v;
	}
	for (int i = 0; i < ld->nerrors; i++) {
		fprintf(ld->errs, "%s\n", ld->messages[idx[i]].text);
		free(ld->messages[idx[i]].text);
	}
	free(idx);
	free(ld->messages);
	ld->messages = NULL;
}

/* ---- pass 1: sections and raw pairs ----------------------------------- */

static struct sv_section *section_add(struct sv_loader *ld, const char *name, int line)
{
	struct sv_section *s = realloc(ld->sections, (size_t)(ld->nsections + 1) * sizeof *s);
	if (!s)
		abort();
	ld->sections = s;
	s = &ld->sections[ld->nsections++];
	memset(s, 0, sizeof *s);
	snprintf(s->header, sizeof s->header, "%s", name);
	s->line = line;
	return s;
}

/* The reader sees every physical line: count it, note section headers
 * and continuation lines, and refuse lines longer than inih's buffer. */
static void check_unparsed(struct sv_loader *ld)
{
	if (ld->unparsed) {
		sv_load_error(ld, ld->unparsed, "syntax error (expected [section], key = value, or a comment)");
		if (!ld->first_syntax)
			ld->first_syntax = ld->unparsed;
		ld->unparsed = 0;
	}
}

static char *read_line(char *str, int num, void *stream)
{
	struct sv_loader *ld = stream;
	/* inih reports only its first syntax error: a line that was neither
	 * blank, a comment nor a header and that inih did not pass on to
	 * on_pair is one */
	check_unparsed(ld);
	if (!fgets(str, num, ld->file))
		return NULL;
	ld->line++;
	size_t len = strlen(str);
	if (len == (size_t)num - 1 && str[len - 1] != '\n' && !feof(ld->file)) {
		sv_load_error(ld, ld->line, "line longer than %d characters "
		              "(continue a long value on indented lines)", num - 2);
		int c;
		while ((c = fgetc(ld->file)) != EOF && c != '\n')
			;
		str[0] = '\n', str[1] = '\0';
		return str;
	}
	ld->continuation = len > 0 && (str[0] == ' ' || str[0] == '\t');
	const char *p = str;
	if (ld->line == 1 && strncmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3; /* a UTF-8 BOM, which inih skips too */
	while (isspace((unsigned char)*p))
		p++;
	if (*p && !strchr(";#[", *p))
		ld->unparsed = ld->line;
	else if (*p == '[' && !strchr(p, ']'))
		ld->unparsed = ld->line;
	if (*p == '[' && !ld->continuation) {
		const char *end = strchr(p, ']');
		if (end) {
			char name[sizeof ld->sections[0].header];
			snprintf(name, sizeof name, "%.*s", (int)(end - p - 1), p + 1);
			/* inih strips blanks around the name */
			char *a = name, *z = name + strlen(name);
			while (isspace((unsigned char)*a))
				a++;
			while (z > a && isspace((unsigned char)z[-1]))
				*--z = '\0';
			section_add(ld, a, ld->line);
		}
	}
	return str;
}

static int on_pair(void *user, const char *section, const char *name, const char *value)
{
	struct sv_loader *ld = user;
	ld->unparsed = 0;
	/* inih cuts section names to 49 characters (a longer name is still
	 * the section the reader saw last) and keeps blanks inside the
	 * brackets, which the reader strips */
	while (isspace((unsigned char)*section))
		section++;
	size_t sl = strlen(section);
	while (sl > 0 && isspace((unsigned char)section[sl - 1]))
		sl--;
	if (ld->nsections == 0 || sl == 0 ||
	    strncmp(ld->sections[ld->nsections - 1].header, section, sl) != 0) {
		sv_load_error(ld, ld->line, "%s = ... outside of any section", name);
		return 1;
	}
	struct sv_section *s = &ld->sections[ld->nsections - 1];
	if (ld->continuation && s->npairs > 0 && strcmp(s->pairs[s->npairs - 1].key, name) == 0) {
		struct sv_pair *p = &s->pairs[s->npairs - 1];
		size_t n = strlen(p->value) + strlen(value) + 2;
		char *v = malloc(n);
		if (!v)
			abort();
		snprintf(v, n, "%s%s%s", p->value, *p->value ? " " : "", value);
		free(p->value);
		p->value = v;
		return 1;
	}
	struct sv_pair *pairs = realloc(s->pairs, (size_t)(s->npairs + 1) * sizeof *pairs);
	if (!pairs)
		abort();
	s->pairs = pairs;
	struct sv_pair *p = &s->pairs[s->npairs++];
	snprintf(p->key, sizeof p->key, "%s", name);
	p->value = strdup(value);
	p->line = ld->line;
	return 1;
}

static void loader_free(struct sv_loader *ld)
{
	for (int i = 0; i < ld->nsections; i++) {
		for (int j = 0; j < ld->sections[i].npairs; j++)
			free(ld->sections[i].pairs[j].value);
		free(ld->sections[i].pairs);
	}
	free(ld->sections);
}

/* ---- pass 2: interpreting sections -------------------------------------- */

int sv_valid_name(const char *s)
{
	if (!*s || strlen(s) >= SV_NAME_MAX)
		return 0;
	for (; *s; s++) {
		if (!isalnum((unsigned char)*s) && !strchr("_-.", *s))
			return 0;
	}
	return 1;
}

static void config_defaults(struct sv_config *cfg, struct sv_defaults *d)
{
	cfg->color = -1;
	d->restart = SV_TEMPORARY;
	d->stop_timeout = 10000000000LL;
	d->backoff_min = 100000000LL;
	d->backoff_max = 30000000000LL;
	d->stop_signal = SIGTERM;
}

static void root_sup(struct sv_config *cfg)
{
	struct sv_sup *root = &cfg->sups[0];
	memset(root, 0, sizeof *root);
	root->strategy = SV_ONE_FOR_ONE;
	root->intensity = 5;
	root->period = 30000000000LL;
	root->parent = -1;
}

static int section_kind(const char *header, const char **name)
{
	if (strcmp(header, "grun") == 0)
		return *name = "", 'g';
	if (strncmp(header, "job:", 4) == 0)
		return *name = header + 4, 'j';
	if (strncmp(header, "supervisor:", 11) == 0)
		return *name = header + 11, 's';
	if (strncmp(header, "chan:", 5) == 0)
		return *name = header + 5, 'c';
	return 0;
}

/* Creates every job and supervisor so that references can be checked in
 * any order, and reports bad or duplicate section names. */
static void declare_sections(struct sv_loader *ld, struct sv_config *cfg)
{
	int grun_line = 0;
	for (int i = 0; i < ld->nsections; i++) {
		struct sv_section *s = &ld->sections[i];
		const char *name;
		int kind = section_kind(s->header, &name);
		s->kind = kind;
		s->index = -1;
		if (!kind) {
			sv_load_error(ld, s->line, "unknown section [%s] (expected [grun], [job:NAME], [supervisor:NAME] or [chan:NAME])", s->header);
			continue;
		}
		if (kind == 'g') {
			if (grun_line)
				sv_load_error(ld, s->line, "duplicate section [grun] (first at line %d)", grun_line);
			grun_line = s->line;
			continue;
		}
		if (!sv_valid_name(name)) {
			sv_load_error(ld, s->line, "bad name \"%s\" (letters, digits, '_', '-' and '.', at most %d)",
			              name, SV_NAME_MAX - 1);
			continue;
		}
		if (kind == 'c') {
			int dup = sv_config_find_chan(cfg, name);
			if (dup >= 0) {
				sv_load_error(ld, s->line, "duplicate channel \"%s\" (first at line %d)", name, cfg->chans[dup].line);
				continue;
			}
			s->index = sv_chan_get(cfg, name, s->line);
			cfg->chans[s->index].declared = 1;
			continue;
		}
		if (kind == 'j') {
			int dup = sv_config_find_job(cfg, name);
			if (dup >= 0) {
				sv_load_error(ld, s->line, "duplicate job \"%s\" (first at line %d)", name, cfg->jobs[dup].line);
				continue;
			}
			cfg->jobs = realloc(cfg->jobs, (size_t)(cfg->njobs + 1) * sizeof *cfg->jobs);
			if (!cfg->jobs)
				abort();
			s->index = cfg->njobs++;
			struct sv_job *j = &cfg->jobs[s->index];
			memset(j, 0, sizeof *j);
			snprintf(j->name, sizeof j->name, "%s", name);
			j->line = s->line;
		} else {
			int dup = sv_find_sup(cfg, name);
			if (dup >= 0) {
				sv_load_error(ld, s->line, "duplicate supervisor \"%s\" (first at line %d)", name, cfg->sups[dup].line);
				continue;
			}
			cfg->sups = realloc(cfg->sups, (size_t)(cfg->nsups + 1) * sizeof *cfg->sups);
			if (!cfg->sups)
				abort();
			s->index = cfg->nsups++;
			struct sv_sup *sp = &cfg->sups[s->index];
			memset(sp, 0, sizeof *sp);
			snprintf(sp->name, sizeof sp->name, "%s", name);
			sp->line = s->line;
		}
	}
}

int sv_find_sup(const struct sv_config *cfg, const char *name)
{
	for (int i = 1; i < cfg->nsups; i++) {
		if (strcmp(cfg->sups[i].name, name) == 0)
			return i;
	}
	return -1;
}

int sv_config_find_chan(const struct sv_config *cfg, const char *name)
{
	for (int i = 0; i < cfg->nchans; i++) {
		if (strcmp(cfg->chans[i].name, name) == 0)
			return i;
	}
	return -1;
}

int sv_chan_get(struct sv_config *cfg, const char *name, int line)
{
	int i = sv_config_find_chan(cfg, name);
	if (i >= 0)
		return i;
	cfg->chans = realloc(cfg->chans, (size_t)(cfg->nchans + 1) * sizeof *cfg->chans);
	if (!cfg->chans)
		abort();
	struct sv_chan *c = &cfg->chans[cfg->nchans];
	memset(c, 0, sizeof *c);
	snprintf(c->name, sizeof c->name, "%s", name);
	c->line = line;
	c->capacity = 16;
	return cfg->nchans++;
}

int sv_config_find_job(const struct sv_config *cfg, const char *name)
{
	for (int i = 0; i < cfg->njobs; i++) {
		if (strcmp(cfg->jobs[i].name, name) == 0)
			return i;
	}
	return -1;
}

/* Reports keys given twice in one section. */
static void check_duplicate_keys(struct sv_loader *ld, struct sv_section *s)
{
	for (int i = 0; i < s->npairs; i++) {
		if (strcmp(s->pairs[i].key, "env") == 0)
			continue; /* env may be repeated */
		for (int j = 0; j < i; j++) {
			if (strcmp(s->pairs[i].key, s->pairs[j].key) == 0) {
				sv_load_error(ld, s->pairs[i].line, "duplicate key %s (first at line %d)",
				              s->pairs[i].key, s->pairs[j].line);
				break;
			}
		}
	}
}

struct sv_config *sv_config_load(const char *path, FILE *errs)
{
	struct sv_loader ld = { .path = path, .errs = errs };
	ld.file = fopen(path, "r");
	if (!ld.file) {
		fprintf(errs, "%s: %s\n", path, strerror(errno));
		return NULL;
	}
	int rc = ini_parse_stream(read_line, &ld, on_pair, &ld);
	fclose(ld.file);
	check_unparsed(&ld);
	if (rc > 0 && rc != ld.first_syntax)
		sv_load_error(&ld, rc, "syntax error (expected [section], key = value, or a comment)");
	else if (rc < 0)
		sv_load_error(&ld, 0, "cannot parse (out of memory)");

	struct sv_config *cfg = calloc(1, sizeof *cfg);
	cfg->path = strdup(path);
	cfg->sups = calloc(1, sizeof *cfg->sups);
	cfg->nsups = 1;
	root_sup(cfg);
	struct sv_defaults defaults = { 0 };
	config_defaults(cfg, &defaults);
	declare_sections(&ld, cfg);

	/* [grun] first: it sets the defaults of every job. */
	for (int i = 0; i < ld.nsections; i++) {
		check_duplicate_keys(&ld, &ld.sections[i]);
		if (ld.sections[i].kind == 'g')
			sv_read_grun(&ld, &ld.sections[i], cfg, &defaults);
	}
	for (int i = 0; i < ld.nsections; i++) {
		struct sv_section *s = &ld.sections[i];
		if (s->index < 0)
			continue;
		if (s->kind == 'j')
			sv_read_job(&ld, s, cfg, &cfg->jobs[s->index], &defaults);
		else if (s->kind == 's')
			sv_read_sup(&ld, s, cfg, &cfg->sups[s->index]);
		else if (s->kind == 'c')
			sv_read_chan(&ld, s, cfg, &cfg->chans[s->index]);
	}
	sv_check_graph(&ld, cfg);
	loader_free(&ld);
	flush_messages(&ld);
	if (ld.nerrors) {
		sv_config_free(cfg);
		return NULL;
	}
	sv_config_select(cfg, NULL, 0, errs);
	return cfg;
}

void sv_config_free(struct sv_config *cfg)
{
	if (!cfg)
		return;
	for (int i = 0; i < cfg->njobs; i++) {
		struct sv_job *j = &cfg->jobs[i];
		free(j->cmd);
		sv_strv_free(&j->argv);
		free(j->dir);
		sv_strv_free(&j->env);
		sv_strv_free(&j->needs);
		free(j->need_idx);
		free(j->ready_host);
		free(j->ready_port);
		free(j->ready_path);
		free(j->in.path);
		free(j->out.path);
		free(j->err.path);
	}
	for (int i = 0; i < cfg->nsups; i++)
		free(cfg->sups[i].parent_name);
	free(cfg->jobs);
	free(cfg->sups);
	free(cfg->chans);
	free(cfg->path);
	free(cfg);
}
