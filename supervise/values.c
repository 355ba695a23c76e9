/*
 * values.c - parsing the values of grun.ini(5), and naming them back:
 * durations, booleans, signal and strategy names, word lists, sh-like
 * command splitting and ${VAR} expansion.  Pure functions of their
 * input; no I/O.
 */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "supervise/config.h"
#include "supervise/xalloc.h"

/* The array holds n + 1 pointers (the NULL at the end) and doubles when
 * n + 1 reaches a power of two: a list of 100,000 names costs 17
 * reallocations, not 100,000. */
void sv_strv_push(struct sv_strv *sv, char *s)
{
	size_t used = (size_t)sv->n + 1;
	if (!sv->v || (used & (used - 1)) == 0)
		sv->v = sv_xreallocarray(sv->v, used * 2, sizeof *sv->v, "a string list");
	sv->v[sv->n++] = s;
	sv->v[sv->n] = NULL;
}

void sv_strv_free(struct sv_strv *sv)
{
	for (int i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}

/* "250ms", "10s", "1.5s", "2m", "1h", "0". */
int sv_parse_duration(const char *s, int64_t *ns, const char **why)
{
	static const struct { const char *unit; int64_t ns; } units[] = {
		{ "ms", 1000000LL }, { "s", 1000000000LL },
		{ "m", 60000000000LL }, { "h", 3600000000000LL },
	};
	char *end;
	if (!isdigit((unsigned char)*s)) {
		*why = "expected a duration such as 250ms, 10s, 2m or 1h";
		return -1;
	}
	double v = strtod(s, &end);
	if (*end == '\0' && v == 0) {
		*ns = 0;
		return 0;
	}
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcmp(end, units[i].unit) == 0) {
			double t = v * (double)units[i].ns;
			if (t > 1e18) {
				*why = "duration too long";
				return -1;
			}
			*ns = (int64_t)t;
			return 0;
		}
	}
	*why = *end ? "unknown unit in duration (use ms, s, m or h)"
	            : "a duration needs a unit (ms, s, m or h)";
	return -1;
}

const char *sv_duration_str(int64_t ns, char *buf, size_t len)
{
	if (ns % 1000000000LL == 0)
		snprintf(buf, len, "%llds", (long long)(ns / 1000000000LL));
	else if (ns % 1000000LL == 0)
		snprintf(buf, len, "%lldms", (long long)(ns / 1000000LL));
	else if (ns >= 10000000LL)
		snprintf(buf, len, "%lldms", (long long)((ns + 500000) / 1000000LL));
	else
		snprintf(buf, len, "%.1fms", (double)ns / 1e6);
	return buf;
}

int sv_parse_bool(const char *s, int *b, const char **why)
{
	static const char *yes[] = { "yes", "true", "on", "1" };
	static const char *no[] = { "no", "false", "off", "0" };
	for (int i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return *b = 1, 0;
		if (strcasecmp(s, no[i]) == 0)
			return *b = 0, 0;
	}
	*why = "expected yes or no";
	return -1;
}

static const struct { const char *name; int sig; } signals[] = {
	{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT }, { "KILL", SIGKILL },
	{ "USR1", SIGUSR1 }, { "USR2", SIGUSR2 }, { "TERM", SIGTERM },
	{ "ALRM", SIGALRM }, { "CONT", SIGCONT }, { "STOP", SIGSTOP },
	{ "WINCH", SIGWINCH }, { "PWR", SIGPWR }, { "PIPE", SIGPIPE }, { "ABRT", SIGABRT },
	{ "SEGV", SIGSEGV }, { "BUS", SIGBUS }, { "FPE", SIGFPE }, { "ILL", SIGILL }, { "TRAP", SIGTRAP },
	{ "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ }, { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU }, { "TSTP", SIGTSTP },
};

/* "TERM", "SIGTERM", "15". */
int sv_parse_signal(const char *s, int *sig, const char **why)
{
	const char *n = strncasecmp(s, "SIG", 3) == 0 ? s + 3 : s;
	for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) {
		if (strcasecmp(n, signals[i].name) == 0)
			return *sig = signals[i].sig, 0;
	}
	char *end;
	long v = strtol(s, &end, 10);
	if (*s && !*end && v > 0 && v < NSIG)
		return *sig = (int)v, 0;
	*why = "unknown signal (use a name such as TERM, INT, HUP, QUIT, KILL, USR1 or a number)";
	return -1;
}

/* "65536", "512K", "10M", "1G". */
int sv_parse_size(const char *s, int64_t *bytes, const char **why)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	int shift = 0;
	if (*end == 'K' || *end == 'k')
		shift = 10, end++;
	else if (*end == 'M' || *end == 'm')
		shift = 20, end++;
	else if (*end == 'G' || *end == 'g')
		shift = 30, end++;
	if (end == s || *end || errno || v < 0 || v > (1LL << 40) >> shift) {
		*why = "expected a size in bytes, with an optional K, M or G (at most 1T)";
		return -1;
	}
	*bytes = v << shift;
	return 0;
}

int sv_parse_priority(const char *s, int *prio, const char **why)
{
	static const char *names[] = { "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug" };
	for (int i = 0; i < 8; i++) {
		if (strcmp(s, names[i]) == 0)
			return *prio = i, 0;
	}
	if (strcmp(s, "error") == 0)
		return *prio = 3, 0;
	if (strcmp(s, "warn") == 0)
		return *prio = 4, 0;
	if (s[0] >= '0' && s[0] <= '7' && !s[1])
		return *prio = s[0] - '0', 0;
	*why = "expected a syslog priority: emerg, alert, crit, err, warning, notice, info, debug or 0 to 7";
	return -1;
}

int sv_job_success(const struct sv_job *j, int st)
{
	if (WIFEXITED(st)) {
		int code = WEXITSTATUS(st);
		return (j->success_status[code / 64] >> (code % 64)) & 1;
	}
	if (WIFSIGNALED(st)) {
		int sig = WTERMSIG(st);
		return sig == j->stop_signal || (sig < 64 && ((j->success_signals >> sig) & 1));
	}
	return 0;
}

const char *sv_strategy_name(enum sv_strategy s)
{
	return s == SV_ONE_FOR_ALL ? "one_for_all" : s == SV_REST_FOR_ONE ? "rest_for_one" : "one_for_one";
}

const char *sv_signal_name(int sig)
{
	for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) {
		if (signals[i].sig == sig)
			return signals[i].name;
	}
	static __thread char buf[16];
	snprintf(buf, sizeof buf, "%d", sig);
	return buf;
}

/* A growable byte buffer for the splitters. */
struct sbuf {
	char *p;
	size_t n, cap;
};

static void sbuf_put(struct sbuf *b, char c)
{
	if (b->n + 2 > b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->p = sv_xreallocarray(b->p, b->cap, 1, "a value");
	}
	b->p[b->n++] = c;
	b->p[b->n] = '\0';
}

static void sbuf_puts(struct sbuf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sbuf_put(b, s[i]);
}

/* The string, at its own size: the buffer grows by doubling from 64
 * bytes, and a config keeps its words (every job's argv) for as long as
 * it runs. */
static char *sbuf_take(struct sbuf *b)
{
	char *p = b->p ? b->p : sv_xstrdup("", "a value");
	if (b->p && b->n + 1 < b->cap) {
		char *q = realloc(p, b->n + 1);
		if (q)
			p = q;
	}
	b->p = NULL;
	b->n = b->cap = 0;
	return p;
}

/* Words separated by blanks; '...' is literal, "..." allows \" \\ \$ \`,
 * a backslash outside quotes escapes the next character. */
int sv_split_argv(const char *s, struct sv_strv *out, const char **why)
{
	struct sbuf w = { 0 };
	int inword = 0;
	for (const char *p = s;; p++) {
		if (*p == '\0' || isspace((unsigned char)*p)) {
			if (inword)
				sv_strv_push(out, sbuf_take(&w));
			inword = 0;
			if (*p == '\0')
				break;
			continue;
		}
		inword = 1;
		if (*p == '\'') {
			const char *q = strchr(p + 1, '\'');
			if (!q)
				goto unbalanced;
			sbuf_puts(&w, p + 1, (size_t)(q - p - 1));
			p = q;
		} else if (*p == '"') {
			for (p++; *p != '"'; p++) {
				if (*p == '\0')
					goto unbalanced;
				if (*p == '\\' && p[1] && strchr("\"\\$`", p[1]))
					p++;
				sbuf_put(&w, *p);
			}
		} else if (*p == '\\' && p[1]) {
			sbuf_put(&w, *++p);
		} else {
			sbuf_put(&w, *p);
		}
	}
	return 0;
unbalanced:
	free(w.p);
	*why = "unbalanced quote in cmd";
	return -1;
}

int sv_split_list(const char *s, struct sv_strv *out)
{
	const char *p = s;
	while (*p) {
		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		const char *start = p;
		while (*p && *p != ',' && !isspace((unsigned char)*p))
			p++;
		if (p > start)
			sv_strv_push(out, sv_xstrndup(start, (size_t)(p - start), "a list item"));
	}
	return 0;
}

static int var_char(char c, int first)
{
	return c == '_' || isalpha((unsigned char)c) || (!first && isdigit((unsigned char)c));
}

char *sv_expand(const char *s, const char *(*lookup)(const char *name, void *ctx),
                void *ctx, char *errbuf, size_t errlen)
{
	struct sbuf b = { 0 };
	for (const char *p = s; *p; p++) {
		if (p[0] != '$' || (p[1] != '$' && p[1] != '{')) {
			sbuf_put(&b, *p);
			continue;
		}
		if (p[1] == '$') {
			sbuf_put(&b, '$');
			p++;
			continue;
		}
		const char *name = p + 2, *q = name;
		while (var_char(*q, q == name))
			q++;
		const char *close = strchr(q, '}');
		int has_default = q[0] == ':' && q[1] == '-';
		if (q == name || !close || (*q != '}' && !has_default)) {
			snprintf(errbuf, errlen, "bad variable reference (write ${NAME}, ${NAME:-default} or $$ for a $)");
			free(b.p);
			return NULL;
		}
		char var[256];
		snprintf(var, sizeof var, "%.*s", (int)(q - name), name);
		const char *val = lookup ? lookup(var, ctx) : NULL;
		if (!val)
			val = getenv(var);
		if (val && (*val || !has_default)) {
			sbuf_puts(&b, val, strlen(val));
		} else if (has_default) {
			sbuf_puts(&b, q + 2, (size_t)(close - q - 2));
		} else {
			snprintf(errbuf, errlen, "${%s} is not set (give a default with ${%s:-value})", var, var);
			free(b.p);
			return NULL;
		}
		p = close;
	}
	return sbuf_take(&b);
}
