/*
 * config.c - reading grun.ini(5) with inih into a struct sv_config.
 *
 * Two passes.  The first lets inih split the file into sections and
 * key = value pairs.  inih reads through our reader, which reads each
 * physical line whole (up to SV_LINE_MAX bytes; a NUL byte in it is an
 * error), counts lines (Debian's inih passes no line numbers) and sees
 * the section headers itself, so an empty section still exists.
 * Debian builds inih with a 200-byte line buffer and no realloc: a longer
 * line is handed to inih cut to fit, so inih still classifies it, and
 * on_pair takes the value from the whole line by inih's own rules
 * (long_value()).  The pairs are only stored.  The second pass interprets
 * each section's pairs, which needs them all: ${VAR} in cmd may come from
 * an env key written below it.  check.c then checks the graph as a whole.
 * Every problem is reported, with its line, before the load fails.
 *
 * Size: about 580 lines: the line reader that lifts inih's line limit
 * and the section pass share the loader's state and belong together.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include "supervise/config.h"
#include "supervise/config_internal.h"
#include "supervise/xalloc.h"

void *sv_grow(void *p, int n, size_t size, const char *what)
{
	if (n > 0 && (n & (n - 1)) != 0)
		return p;
	return sv_xreallocarray(p, n ? (size_t)n * 2 : 1, size, what);
}

static void add_message(struct sv_loader *ld, int line, const char *kind, const char *fmt,
                        va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int head = snprintf(NULL, 0, "%s:%d: %s", ld->path, line, kind);
	int body = vsnprintf(NULL, 0, fmt, ap);
	size_t n = (size_t)(head > 0 ? head : 0) + (size_t)(body > 0 ? body : 0) + 1;
	char *text = sv_xmalloc(n, "a config error message");
	snprintf(text, n, "%s:%d: %s", ld->path, line, kind);
	vsnprintf(text + strlen(text), n - strlen(text), fmt, ap2);
	va_end(ap2);
	ld->messages = sv_grow(ld->messages, ld->nerrors, sizeof *ld->messages, "config error messages");
	ld->messages[ld->nerrors] = (struct sv_message){ .line = line, .seq = ld->nerrors, .text = text };
	ld->nerrors++;
}

void sv_load_error(struct sv_loader *ld, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	add_message(ld, line, "", fmt, ap);
	va_end(ap);
	ld->nfatal++;
}

void sv_load_warning(struct sv_loader *ld, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	add_message(ld, line, "warning: ", fmt, ap);
	va_end(ap);
}

static int by_line(const void *a, const void *b)
{
	const struct sv_message *x = a, *y = b;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Prints every problem, in line order. */
static void flush_messages(struct sv_loader *ld)
{
	/* by line, then in the order found (qsort is not stable) */
	if (ld->nerrors > 1)
		qsort(ld->messages, (size_t)ld->nerrors, sizeof *ld->messages, by_line);
	for (int i = 0; i < ld->nerrors; i++) {
		fprintf(ld->errs, "%s\n", ld->messages[i].text);
		free(ld->messages[i].text);
	}
	free(ld->messages);
	ld->messages = NULL;
}

/* ---- pass 1: sections and raw pairs ----------------------------------- */

static struct sv_section *section_add(struct sv_loader *ld, const char *name, int line)
{
	ld->sections = sv_grow(ld->sections, ld->nsections, sizeof *ld->sections, "config sections");
	struct sv_section *s = &ld->sections[ld->nsections++];
	memset(s, 0, sizeof *s);
	snprintf(s->header, sizeof s->header, "%s", name);
	s->line = line;
	return s;
}

/* inih reports only its first syntax error: a line that was neither
 * blank, a comment nor a header and that inih did not pass on to
 * on_pair is one. */
static void check_unparsed(struct sv_loader *ld)
{
	if (ld->unparsed) {
		sv_load_error(ld, ld->unparsed, "syntax error (expected [section], key = value, or a comment)");
		if (!ld->first_syntax)
			ld->first_syntax = ld->unparsed;
		ld->unparsed = 0;
	}
}

/* Reads the next physical line into ld->buf without its newline.
 * Returns 0, or -1 at the end of the file.  A NUL byte, or more than
 * SV_LINE_MAX bytes, is reported; after a line that long the rest of
 * the file is not read (it may be /dev/zero). */
static int next_line(struct sv_loader *ld)
{
	size_t n = 0;
	int c, nul = 0;
	if (ld->stop)
		return -1;
	while ((c = getc_unlocked(ld->file)) != EOF && c != '\n') {
		if (n == SV_LINE_MAX) {
			ld->line++;
			sv_load_error(ld, ld->line, "line longer than %d bytes (the rest of the file "
			              "was not read)", SV_LINE_MAX);
			ld->stop = 1;
			return -1;
		}
		if (c == '\0' && !nul)
			nul = (int)n + 1;
		ld->buf[n++] = (char)c;
	}
	if (c == EOF && ferror(ld->file))
		ld->read_errno = errno;
	if (c == EOF && n == 0)
		return -1;
	ld->buf[n] = '\0';
	ld->len = n;
	ld->line++;
	if (nul) {
		sv_load_error(ld, ld->line, "NUL byte in the line (at byte %d)", nul);
		ld->buf[0] = '\0';
		ld->len = 0;
	}
	return 0;
}

/* Notes what the reader sees itself: continuation lines, lines inih
 * should pass on, section headers. */
static void classify(struct sv_loader *ld)
{
	const char *p = ld->buf;
	ld->continuation = ld->len > 0 && (p[0] == ' ' || p[0] == '\t');
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
}

static char *read_line(char *str, int num, void *stream)
{
	struct sv_loader *ld = stream;
	check_unparsed(ld);
	if (next_line(ld) < 0)
		return NULL;
	classify(ld);
	/* inih gets the line and its newline; a longer line cut to fit:
	 * on_pair takes its value from ld->buf */
	size_t room = (size_t)num - 2;
	size_t n = ld->len <= room ? ld->len : room;
	ld->long_line = ld->len > room ? ld->line : 0;
	memcpy(str, ld->buf, n);
	str[n] = '\n';
	str[n + 1] = '\0';
	return str;
}

/* inih's rules (r55, as Debian builds it: inline comments start with a
 * ';' after a blank, not on continuation lines). */
static char *skip_blanks(char *s)
{
	while (*s && isspace((unsigned char)*s))
		s++;
	return s;
}

static void strip_blanks_end(char *s)
{
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
}

static char *find_chars_or_comment(char *s, const char *chars)
{
	int was_space = 0;
	while (*s && (!chars || !strchr(chars, *s)) && !(was_space && *s == ';')) {
		was_space = isspace((unsigned char)*s);
		s++;
	}
	return s;
}

/* The value inih would have passed for the whole line in ld->buf, which
 * it saw cut: it found the line to be a key = value pair or, when
 * continuation, a continuation line. */
static const char *long_value(struct sv_loader *ld, int continuation)
{
	char *start = ld->buf;
	if (ld->line == 1 && strncmp(start, "\xEF\xBB\xBF", 3) == 0)
		start += 3;
	start = skip_blanks(start);
	char *eq = find_chars_or_comment(start, "=:");
	if (!continuation && (*eq == '=' || *eq == ':')) {
		start = eq + 1;
		*find_chars_or_comment(start, NULL) = '\0';
		start = skip_blanks(start);
	}
	strip_blanks_end(start);
	return start;
}

static void append_value(struct sv_loader *ld, struct sv_pair *p, const char *value)
{
	if (p->too_long)
		return;
	size_t add = strlen(value);
	size_t sep = p->len > 0 ? 1 : 0;
	if (p->len + sep + add > SV_LINE_MAX) {
		sv_load_error(ld, ld->line, "%s = ...: the value and its continuation lines are "
		              "longer than %d bytes", p->key, SV_LINE_MAX);
		p->too_long = 1;
		return;
	}
	p->value = sv_xreallocarray(p->value, p->len + sep + add + 1, 1, "a config value");
	if (sep)
		p->value[p->len] = ' ';
	memcpy(p->value + p->len + sep, value, add + 1);
	p->len += sep + add;
}

/* inih took what follows a blank and ';' for a comment: in a cmd that is
 * most likely a shell's command separator, so the file's reader is told. */
static void warn_cut_cmd(struct sv_loader *ld, const char *name)
{
	if (strcmp(name, "cmd") != 0)
		return;
	char *eq = strpbrk(ld->buf, "=:");
	char *semi = eq ? find_chars_or_comment(eq + 1, NULL) : NULL;
	if (semi && *semi == ';')
		sv_load_warning(ld, ld->line, "cmd: the text from ' ;' on is a comment, not part of the command "
		                "(write the ';' right after a word, or put the command in a script)");
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
	int continuation = ld->continuation && s->npairs > 0 &&
	                   strcmp(s->pairs[s->npairs - 1].key, name) == 0;
	if (ld->long_line == ld->line)
		value = long_value(ld, continuation);
	if (continuation) {
		append_value(ld, &s->pairs[s->npairs - 1], value);
		return 1;
	}
	warn_cut_cmd(ld, name);
	s->pairs = sv_grow(s->pairs, s->npairs, sizeof *s->pairs, "config pairs");
	struct sv_pair *p = &s->pairs[s->npairs++];
	memset(p, 0, sizeof *p);
	snprintf(p->key, sizeof p->key, "%s", name);
	p->value = sv_xstrdup(value, "a config value");
	p->len = strlen(value);
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
	free(ld->buf);
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
	cfg->control_group = (gid_t)-1;
	cfg->timestamps = SV_TS_AUTO;
	cfg->log_format = SV_LOG_AUTO;
	d->log_max_size = 10LL << 20;
	d->log_keep = 10;
	d->stderr_priority = 6; /* info, as systemd gives both streams of a unit */
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
			cfg->jobs = sv_grow(cfg->jobs, cfg->njobs, sizeof *cfg->jobs, "jobs");
			s->index = cfg->njobs++;
			struct sv_job *j = &cfg->jobs[s->index];
			memset(j, 0, sizeof *j);
			snprintf(j->name, sizeof j->name, "%s", name);
			j->line = s->line;
			sv_names_add(cfg, 'j', s->index);
		} else {
			int dup = sv_find_sup(cfg, name);
			if (dup >= 0) {
				sv_load_error(ld, s->line, "duplicate supervisor \"%s\" (first at line %d)", name, cfg->sups[dup].line);
				continue;
			}
			cfg->sups = sv_grow(cfg->sups, cfg->nsups, sizeof *cfg->sups, "supervisors");
			s->index = cfg->nsups++;
			struct sv_sup *sp = &cfg->sups[s->index];
			memset(sp, 0, sizeof *sp);
			snprintf(sp->name, sizeof sp->name, "%s", name);
			sp->line = s->line;
			sv_names_add(cfg, 's', s->index);
		}
	}
}

int sv_find_sup(const struct sv_config *cfg, const char *name)
{
	return sv_names_find(cfg, 's', name);
}

int sv_config_find_chan(const struct sv_config *cfg, const char *name)
{
	return sv_names_find(cfg, 'c', name);
}

int sv_chan_get(struct sv_config *cfg, const char *name, int line)
{
	int i = sv_config_find_chan(cfg, name);
	if (i >= 0)
		return i;
	cfg->chans = sv_grow(cfg->chans, cfg->nchans, sizeof *cfg->chans, "channels");
	struct sv_chan *c = &cfg->chans[cfg->nchans];
	memset(c, 0, sizeof *c);
	snprintf(c->name, sizeof c->name, "%s", name);
	c->line = line;
	c->capacity = 16;
	sv_names_add(cfg, 'c', cfg->nchans);
	return cfg->nchans++;
}

int sv_config_find_job(const struct sv_config *cfg, const char *name)
{
	return sv_names_find(cfg, 'j', name);
}

static int by_key(const void *a, const void *b)
{
	const struct sv_pair *const *x = a, *const *y = b;
	int c = strcmp((*x)->key, (*y)->key);
	return c ? c : (*x)->line - (*y)->line;
}

/* Reports keys given twice in one section and marks them, so that only
 * the first is applied (and nothing it allocated leaks).  Sorted, so a
 * section of 100,000 keys costs no more than sorting them. */
static void check_duplicate_keys(struct sv_loader *ld, struct sv_section *s)
{
	if (s->npairs < 2)
		return;
	struct sv_pair **v = sv_xreallocarray(NULL, (size_t)s->npairs, sizeof *v, "config pairs");
	for (int i = 0; i < s->npairs; i++)
		v[i] = &s->pairs[i];
	qsort(v, (size_t)s->npairs, sizeof *v, by_key);
	for (int i = 1, first = 0; i < s->npairs; i++) {
		if (strcmp(v[i]->key, v[first]->key) != 0) {
			first = i;
			continue;
		}
		if (strcmp(v[i]->key, "env") == 0)
			continue; /* env may be repeated */
		v[i]->duplicate = 1;
		sv_load_error(ld, v[i]->line, "duplicate key %s (first at line %d)", v[i]->key, v[first]->line);
	}
	free(v);
}

static struct sv_config *load_stream(FILE *in, const char *path, FILE *errs, int keep_raw);

static struct sv_config *load_file(const char *path, FILE *errs, int keep_raw)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(errs, "%s: %s\n", path, strerror(errno));
		return NULL;
	}
	struct sv_config *cfg = load_stream(f, path, errs, keep_raw);
	fclose(f);
	return cfg;
}

struct sv_config *sv_config_load(const char *path, FILE *errs)
{
	return load_file(path, errs, 0);
}

struct sv_config *sv_config_load_raw(const char *path, FILE *errs)
{
	return load_file(path, errs, 1);
}

struct sv_config *sv_config_load_stream(FILE *in, const char *path, FILE *errs)
{
	return load_stream(in, path, errs, 0);
}

static struct sv_config *load_stream(FILE *in, const char *path, FILE *errs, int keep_raw)
{
	struct sv_loader ld = { .path = path, .errs = errs, .file = in };
	ld.buf = sv_xmalloc(SV_LINE_MAX + 1, "the config line buffer");
	int rc = ini_parse_stream(read_line, &ld, on_pair, &ld);
	check_unparsed(&ld);
	if (ld.read_errno)
		sv_load_error(&ld, ld.line + 1, "cannot read: %s", strerror(ld.read_errno));
	else if (rc > 0 && rc != ld.first_syntax)
		sv_load_error(&ld, rc, "syntax error (expected [section], key = value, or a comment)");
	else if (rc < 0)
		sv_load_error(&ld, 0, "cannot parse (out of memory)");

	struct sv_config *cfg = sv_xcalloc(1, sizeof *cfg, "the config");
	cfg->path = sv_xstrdup(path, "the config path");
	cfg->sups = sv_grow(NULL, 0, sizeof *cfg->sups, "supervisors");
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
	if (!ld.nfatal)
		sv_check_files(&ld, cfg);
	if (keep_raw) {
		cfg->raw = ld.sections;
		cfg->nraw = ld.nsections;
		ld.sections = NULL;
		ld.nsections = 0;
	}
	loader_free(&ld);
	flush_messages(&ld);
	if (ld.nfatal) {
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
		free(j->log_dir);
		free(j->exec_path);
		free(j->k8s_image);
		free(j->env_base);
		sv_strv_free(&j->env);
		sv_strv_free(&j->needs);
		free(j->need_idx);
		free(j->ready_host);
		free(j->ready_port);
		free(j->ready_path);
		free(j->ready_cmd);
		free(j->ready_regex);
		free(j->health.host);
		free(j->health.port);
		free(j->health.path);
		free(j->health.cmd);
		sv_strv_free(&j->sockets);
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
	free(cfg->control);
	for (int i = 0; i < cfg->nraw; i++) {
		for (int j = 0; j < cfg->raw[i].npairs; j++)
			free(cfg->raw[i].pairs[j].value);
		free(cfg->raw[i].pairs);
	}
	free(cfg->raw);
	sv_names_free(cfg);
	free(cfg);
}
