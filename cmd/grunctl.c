/*
 * grunctl.c - query and steer a running grun through its control socket:
 * grunctl [-f FILE | -s SOCKET] [--json] COMMAND [ARG...].
 *
 * A plain blocking client: it sends one request line, reads the reply
 * lines, and prints them as tables and text (or as they are, with
 * --json).  grunctl(1) documents the commands, the exit statuses and the
 * protocol, which any other client may speak.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "supervise/ctlpath.h"
#include "supervise/json.h"

enum {
	EXIT_OK = 0,
	EXIT_FAILED = 1,    /* grun refused or the command failed */
	EXIT_USAGE = 2,
	EXIT_UNREACHABLE = 3, /* no grun at the socket, or the connection was lost */
	EXIT_TIMEOUT = 124, /* wait --timeout passed first (as timeout(1)) */
};

static const char usage_text[] =
	"usage: grunctl [-f FILE | -s SOCKET] [--json] COMMAND [ARG...] [--json]\n"
	"Query and steer the grun running FILE (see grunctl(1)).\n"
	"\n"
	"  status [JOB...]              state, pid, uptime, restarts, last exit\n"
	"  tree                         the supervision tree\n"
	"  start JOB...                 start held, ended or backing-off jobs\n"
	"  stop JOB...                  stop jobs and keep them stopped\n"
	"  restart JOB...               restart jobs through their supervisor\n"
	"  signal SIG JOB...            send a signal to jobs' process groups\n"
	"  logs [-f] [-n N] [--time] [JOB...]  recent output lines, then follow\n"
	"  wait [--ready|--exited] [--timeout D] JOB...  until jobs are ready or ended\n"
	"  reload                       read FILE again (as SIGHUP) and say what changed\n"
	"  stop-all [--no-wait]         stop every job, as SIGTERM, and wait for the end\n"
	"  events [--snapshot]          a stream of state changes (after the current states)\n"
	"  ping                         grun's version, pid and file\n"
	"\n"
	"  -f, --file FILE     the grun running FILE (default: the only one running)\n"
	"  -s, --socket PATH   the control socket at PATH\n"
	"  -j, --json          print the protocol's JSON lines as they come\n"
	"  -h, --help          print this help and exit\n"
	"\n"
	"Exit status: 0 done, 1 refused or failed, 2 usage, 3 no grun reachable,\n"
	"124 wait timed out.\n";

static int json_out;
static const char *prog = "grunctl";

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- finding and reaching grun ---------------------------------------------- */

/* The one socket in the default directory, or an exit status. */
static int only_socket(char *out, size_t len)
{
	char dir[PATH_MAX];
	if (sv_ctl_dir(dir, sizeof dir) < 0)
		return say("no control directory: %s", strerror(errno)), EXIT_UNREACHABLE;
	DIR *d = opendir(dir);
	if (!d)
		return say("no grun is running (%s: %s)", dir, strerror(errno)), EXIT_UNREACHABLE;
	int found = 0;
	struct dirent *e;
	char first[PATH_MAX] = "";
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n < 6 || strcmp(e->d_name + n - 5, ".sock") != 0)
			continue;
		char path[2 * PATH_MAX];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		if (strlen(path) >= sizeof sa.sun_path)
			continue;
		strcpy(sa.sun_path, path);
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int alive = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
		if (fd >= 0)
			close(fd);
		if (!alive)
			continue; /* a stale socket of a grun that was killed */
		if (found++ == 0)
			snprintf(first, sizeof first, "%s", path);
		else {
			if (found == 2)
				say("several gruns are running; pick one with -f FILE or -s SOCKET:\n  %s", first);
			fprintf(stderr, "  %s\n", path);
		}
	}
	closedir(d);
	if (found == 0)
		return say("no grun is running (no live socket in %s)", dir), EXIT_UNREACHABLE;
	if (found > 1)
		return EXIT_USAGE;
	snprintf(out, len, "%s", first);
	return EXIT_OK;
}

static int dial(const char *path, int *fd_out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof sa.sun_path)
		return say("%s: path too long for a socket", path), EXIT_USAGE;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return say("socket: %s", strerror(errno)), EXIT_UNREACHABLE;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int err = errno;
		close(fd);
		if (err == ENOENT || err == ECONNREFUSED)
			return say("no grun is listening on %s", path), EXIT_UNREACHABLE;
		return say("%s: %s", path, strerror(err)), EXIT_UNREACHABLE;
	}
	*fd_out = fd;
	return EXIT_OK;
}

/* ---- lines ------------------------------------------------------------------- */

struct reader {
	int fd;
	char *buf;
	size_t have, cap, line_len;
};

/* The next line (without its newline, NUL-terminated) or NULL at EOF. */
static char *next_line(struct reader *r)
{
	if (r->line_len) {
		memmove(r->buf, r->buf + r->line_len, r->have - r->line_len);
		r->have -= r->line_len;
		r->line_len = 0;
	}
	for (;;) {
		char *nl = r->have ? memchr(r->buf, '\n', r->have) : NULL;
		if (nl) {
			*nl = '\0';
			r->line_len = (size_t)(nl - r->buf) + 1;
			return r->buf;
		}
		if (r->have + 4096 > r->cap) {
			r->cap = r->cap ? r->cap * 2 : 65536;
			if (!(r->buf = realloc(r->buf, r->cap))) {
				say("out of memory");
				exit(EXIT_FAILED);
			}
		}
		ssize_t n = read(r->fd, r->buf + r->have, r->cap - r->have - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL;
		r->have += (size_t)n;
	}
}

/* Sends the request; -1 if grun closed the connection first (its
 * reply, a refusal, may be waiting to be read). */
static int send_request(int fd, struct jbuf *b)
{
	jb_line(b);
	if (b->failed)
		return say("out of memory"), EXIT_FAILED;
	for (size_t off = 0; off < b->len;) {
		ssize_t n = write(fd, b->p + off, b->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
			return -1;
		if (n <= 0)
			return say("sending the request: %s", strerror(errno)), EXIT_UNREACHABLE;
		off += (size_t)n;
	}
	return EXIT_OK;
}

/* Reads and parses one reply line; NULL (after saying why) at EOF. */
static struct jv *read_reply(struct reader *r)
{
	char *line = next_line(r);
	if (!line) {
		say("grun closed the connection");
		return NULL;
	}
	if (json_out)
		puts(line), fflush(stdout);
	const char *why;
	struct jv *v = json_parse(line, strlen(line), &why);
	if (!v)
		say("unreadable reply (%s): %.200s", why, line);
	return v;
}

/* The header said ok?  Otherwise prints the error (and its details). */
static int header_ok(const struct jv *v)
{
	if (json_bool(v, "ok", 0))
		return 1;
	if (!json_out) {
		say("%s", json_str(v, "error", "failed"));
		const struct jv *errs = json_get(v, "errors");
		for (size_t i = 0; errs && errs->type == J_ARR && i < errs->n; i++)
			if (errs->kids[i].type == J_STR)
				fprintf(stderr, "  %s\n", errs->kids[i].str);
	}
	return 0;
}

/* ---- formatting ------------------------------------------------------------ */

static void fmt_duration(long long ms, char *buf, size_t len)
{
	long long s = ms / 1000;
	if (ms < 0)
		snprintf(buf, len, "-");
	else if (s < 60)
		snprintf(buf, len, "%llds", s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lldh%02lldm", s / 3600, s / 60 % 60);
	else
		snprintf(buf, len, "%lldd%02lldh", s / 86400, s / 3600 % 24);
}

static void fmt_exit(const struct jv *o, char *buf, size_t len)
{
	const struct jv *e = json_get(o, "last_exit");
	if (!e || e->type != J_OBJ)
		snprintf(buf, len, "-");
	else if (json_get(e, "code"))
		snprintf(buf, len, "status %lld", json_int(e, "code", 0));
	else if (json_get(e, "signal"))
		snprintf(buf, len, "signal %s", json_str(e, "signal", "?"));
	else
		snprintf(buf, len, "%s", json_str(e, "text", "-"));
}

enum { COLS = 9 };

static void print_status(const struct jv *jobs)
{
	static const char *head[COLS] = { "NAME", "STATE", "PID", "UPTIME", "RESTARTS",
	                                  "READY", "LAST EXIT", "SUPERVISOR", "NOTE" };
	size_t n = jobs && jobs->type == J_ARR ? jobs->n : 0;
	char (*cell)[COLS][160] = calloc(n + 1, sizeof *cell);
	int width[COLS];
	if (!cell)
		return say("out of memory");
	for (int c = 0; c < COLS; c++) {
		snprintf(cell[0][c], sizeof cell[0][c], "%s", head[c]);
		width[c] = (int)strlen(head[c]);
	}
	for (size_t i = 0; i < n; i++) {
		const struct jv *o = &jobs->kids[i];
		char (*row)[160] = cell[i + 1];
		long long pid = json_int(o, "pid", 0);
		snprintf(row[0], 160, "%s", json_str(o, "name", "?"));
		snprintf(row[1], 160, "%s", json_str(o, "state", "?"));
		if (pid)
			snprintf(row[2], 160, "%lld", pid);
		else
			snprintf(row[2], 160, "-");
		fmt_duration(json_get(o, "uptime_ms") && json_get(o, "uptime_ms")->type == J_NUM
		                 ? json_int(o, "uptime_ms", -1) : -1, row[3], 160);
		snprintf(row[4], 160, "%lld", json_int(o, "restarts", 0));
		snprintf(row[5], 160, "%s", json_bool(o, "ready", 0) ? "yes" : "no");
		fmt_exit(o, row[6], 160);
		snprintf(row[7], 160, "%s", json_str(o, "supervisor", ""));
		const struct jv *in = json_get(o, "restart_in_ms");
		if (in && in->type == J_NUM) {
			char d[32];
			fmt_duration(json_int(o, "restart_in_ms", 0), d, sizeof d);
			snprintf(row[8], 160, "restart in %s", d);
		} else {
			const char *note = json_str(o, "note", "");
			snprintf(row[8], 160, "%s", note[0] ? note : json_str(o, "notify_status", ""));
		}
		for (int c = 0; c < COLS; c++)
			if ((int)strlen(row[c]) > width[c])
				width[c] = (int)strlen(row[c]);
	}
	for (size_t i = 0; i <= n; i++) {
		char line[COLS * 170];
		size_t len = 0;
		for (int c = 0; c < COLS && len < sizeof line; c++) {
			if (c == COLS - 1)
				len += (size_t)snprintf(line + len, sizeof line - len, "%s", cell[i][c]);
			else
				len += (size_t)snprintf(line + len, sizeof line - len, "%-*s  ", width[c], cell[i][c]);
		}
		if (len > sizeof line - 1)
			len = sizeof line - 1;
		while (len && line[len - 1] == ' ')
			len--; /* no blanks at the end of a line without a note */
		printf("%.*s\n", (int)len, line);
	}
	free(cell);
}

static void print_tree(const struct jv *tree)
{
	for (size_t i = 0; tree && tree->type == J_ARR && i < tree->n; i++) {
		const struct jv *o = &tree->kids[i];
		int depth = (int)json_int(o, "depth", 0);
		int sup = strcmp(json_str(o, "kind", ""), "supervisor") == 0;
		const char *name = json_str(o, "name", "?");
		printf("%*s", 2 * depth, "");
		if (sup) {
			printf("%s%s (%s, intensity %lld per %llds): %s", depth ? "supervisor " : "",
			       depth ? name : "root", json_str(o, "strategy", "?"), json_int(o, "intensity", 0),
			       json_int(o, "period_ms", 0) / 1000, json_str(o, "state", "?"));
		} else {
			long long pid = json_int(o, "pid", 0);
			printf("%s: %s", name, json_str(o, "state", "?"));
			if (pid)
				printf(" (pid %lld)", pid);
		}
		const char *note = json_str(o, "note", "");
		if (note[0])
			printf(" - %s", note);
		printf("\n");
	}
}

static void print_results(const struct jv *res)
{
	for (size_t i = 0; res && res->type == J_ARR && i < res->n; i++) {
		const struct jv *o = &res->kids[i];
		if (json_bool(o, "ok", 0))
			printf("%s: %s\n", json_str(o, "job", "?"), json_str(o, "text", ""));
		else
			say("%s: %s", json_str(o, "job", "?"), json_str(o, "text", "failed"));
	}
}

static void print_event(const struct jv *o)
{
	printf("%s %s %s", json_str(o, "time", "?"), json_str(o, "name", "?"), json_str(o, "state", "?"));
	long long pid = json_int(o, "pid", 0);
	if (pid)
		printf(" pid %lld", pid);
	const struct jv *e = json_get(o, "last_exit");
	const char *st = json_str(o, "state", "");
	int ended = !strcmp(st, "backoff") || !strcmp(st, "stopped") || !strcmp(st, "exited") ||
	            !strcmp(st, "failed");
	if (e && e->type == J_OBJ && ended)
		printf(" (%s)", json_str(e, "text", ""));
	const char *note = json_str(o, "note", "");
	if (note[0])
		printf(" - %s", note);
	printf("\n");
}

/* ---- commands ----------------------------------------------------------------- */

struct call {
	int fd;
	struct reader r;
	struct jbuf req;
};

static void request_start(struct call *c, const char *cmd)
{
	jb_obj(&c->req);
	jb_kint(&c->req, "v", 1);
	jb_kstr(&c->req, "cmd", cmd);
}

static void request_jobs(struct call *c, char **names, int n)
{
	jb_key(&c->req, "jobs");
	jb_arr(&c->req);
	for (int i = 0; i < n; i++)
		jb_str(&c->req, names[i]);
	jb_end_arr(&c->req);
}

/* Sends the request and reads the header line. */
static int exchange(struct call *c, struct jv **header)
{
	jb_end_obj(&c->req);
	int rc = send_request(c->fd, &c->req);
	if (rc > 0)
		return rc;
	*header = read_reply(&c->r);
	return *header ? EXIT_OK : EXIT_UNREACHABLE;
}

/* Reads item lines until {"type":"end"} (1) or EOF (0); fn prints each. */
static int stream(struct call *c, void (*fn)(const struct jv *, void *), void *arg)
{
	for (;;) {
		char *line = next_line(&c->r);
		if (!line)
			return 0;
		if (json_out) {
			puts(line);
			fflush(stdout);
		}
		const char *why;
		struct jv *v = json_parse(line, strlen(line), &why);
		if (!v)
			continue;
		const char *type = json_str(v, "type", "");
		int end = strcmp(type, "end") == 0;
		if (!json_out) {
			if (strcmp(type, "skipped") == 0)
				say("(%lld %s skipped: this client read too slowly)", json_int(v, "count", 0),
				    json_str(v, "what", "lines"));
			else if (!end)
				fn(v, arg);
			fflush(stdout);
		}
		json_free(v);
		if (end)
			return 1;
	}
}

static void log_line(const struct jv *o, void *arg)
{
	int with_time = *(int *)arg;
	if (with_time)
		printf("%s ", json_str(o, "time", "?"));
	printf("%s | %s\n", json_str(o, "job", "?"), json_str(o, "line", ""));
}

static void event_line(const struct jv *o, void *arg)
{
	(void)arg;
	print_event(o);
}

/* Parses "10", "1.5s", "500ms", "2m", "1h" into milliseconds; -1 if bad. */
static long long parse_ms(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || v < 0)
		return -1;
	double mult = 1000;
	if (strcmp(end, "ms") == 0)
		mult = 1;
	else if (strcmp(end, "s") == 0 || !*end)
		mult = 1000;
	else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
		mult = 60000;
	else if (strcmp(end, "h") == 0)
		mult = 3600000;
	else
		return -1;
	return (long long)(v * mult);
}

static int cmd_simple(struct call *c, const char *cmd, int argc, char **argv)
{
	struct jv *h;
	request_start(c, cmd);
	if (strcmp(cmd, "status") == 0 && argc)
		request_jobs(c, argv, argc);
	int rc = exchange(c, &h);
	if (rc)
		return rc;
	int ok = header_ok(h);
	if (ok && !json_out) {
		if (strcmp(cmd, "status") == 0)
			print_status(json_get(h, "jobs"));
		else if (strcmp(cmd, "tree") == 0)
			print_tree(json_get(h, "tree"));
		else if (strcmp(cmd, "ping") == 0 || strcmp(cmd, "hello") == 0)
			printf("grun %s, pid %lld, %s%s\n", json_str(h, "grun", "?"), json_int(h, "pid", 0),
			       json_str(h, "config", "?"), json_bool(h, "readonly", 0) ? " (read-only access)" : "");
		else if (strcmp(cmd, "reload") == 0)
			printf("%s", json_str(h, "text", ""));
	}
	json_free(h);
	return ok ? EXIT_OK : EXIT_FAILED;
}

static int cmd_jobs(struct call *c, const char *cmd, int argc, char **argv)
{
	int first = 0;
	struct jv *h;
	request_start(c, cmd);
	if (strcmp(cmd, "signal") == 0) {
		if (argc < 2)
			return say("usage: grunctl signal SIG JOB..."), EXIT_USAGE;
		jb_kstr(&c->req, "signal", argv[0]);
		first = 1;
	} else if (argc < 1) {
		return say("usage: grunctl %s JOB...", cmd), EXIT_USAGE;
	}
	request_jobs(c, argv + first, argc - first);
	int rc = exchange(c, &h);
	if (rc)
		return rc;
	int ok = json_bool(h, "ok", 0);
	if (!json_out) {
		const struct jv *res = json_get(h, "results");
		if (res)
			print_results(res);
		else
			header_ok(h);
	}
	json_free(h);
	return ok ? EXIT_OK : EXIT_FAILED;
}

static int cmd_logs(struct call *c, int argc, char **argv)
{
	int follow = 0, with_time = 0, opt;
	long long lines = 10;
	static const struct option o[] = { { "follow", no_argument, NULL, 'f' },
		                           { "lines", required_argument, NULL, 'n' },
		                           { "time", no_argument, NULL, 't' },
		                           { NULL, 0, NULL, 0 } };
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+fn:t", o, NULL)) != -1) {
		if (opt == 'f')
			follow = 1;
		else if (opt == 't')
			with_time = 1;
		else if (opt == 'n') {
			char *end;
			lines = strcmp(optarg, "all") == 0 ? -1 : strtoll(optarg, &end, 10);
			if (lines != -1 && (*end || lines < 0))
				return say("logs -n %s: expected a count or all", optarg), EXIT_USAGE;
		} else
			return say("usage: grunctl logs [-f] [-n N|all] [--time] [JOB...]"), EXIT_USAGE;
	}
	struct jv *h;
	request_start(c, "logs");
	jb_kint(&c->req, "lines", lines);
	jb_kbool(&c->req, "follow", follow);
	if (argc > optind)
		request_jobs(c, argv + optind, argc - optind);
	int rc = exchange(c, &h);
	if (rc)
		return rc;
	int ok = header_ok(h);
	json_free(h);
	if (!ok)
		return EXIT_FAILED;
	int ended = stream(c, log_line, &with_time);
	return ended || follow ? EXIT_OK : EXIT_UNREACHABLE;
}

static int cmd_wait(struct call *c, int argc, char **argv)
{
	const char *until = "ready";
	long long timeout = -1;
	int opt;
	static const struct option o[] = { { "ready", no_argument, NULL, 'r' },
		                           { "exited", no_argument, NULL, 'e' },
		                           { "timeout", required_argument, NULL, 't' },
		                           { NULL, 0, NULL, 0 } };
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+ret:", o, NULL)) != -1) {
		if (opt == 'r')
			until = "ready";
		else if (opt == 'e')
			until = "exited";
		else if (opt == 't' && (timeout = parse_ms(optarg)) < 0)
			return say("wait --timeout %s: expected a duration such as 30s", optarg), EXIT_USAGE;
		else if (opt != 't')
			return say("usage: grunctl wait [--ready|--exited] [--timeout D] JOB..."), EXIT_USAGE;
	}
	if (optind >= argc)
		return say("usage: grunctl wait [--ready|--exited] [--timeout D] JOB..."), EXIT_USAGE;
	struct jv *h;
	request_start(c, "wait");
	jb_kstr(&c->req, "until", until);
	if (timeout >= 0)
		jb_kint(&c->req, "timeout_ms", timeout);
	request_jobs(c, argv + optind, argc - optind);
	int rc = exchange(c, &h);
	if (rc)
		return rc;
	int ok = header_ok(h), timed_out = json_bool(h, "timeout", 0);
	json_free(h);
	return ok ? EXIT_OK : timed_out ? EXIT_TIMEOUT : EXIT_FAILED;
}

static int cmd_stop_all(struct call *c, int argc, char **argv)
{
	int wait = !(argc > 0 && strcmp(argv[0], "--no-wait") == 0);
	if (argc > (wait ? 0 : 1))
		return say("usage: grunctl stop-all [--no-wait]"), EXIT_USAGE;
	struct jv *h;
	request_start(c, "stop-all");
	jb_kbool(&c->req, "wait", wait);
	int rc = exchange(c, &h);
	if (rc)
		return rc;
	int ok = header_ok(h);
	if (ok && !json_out)
		printf("%s\n", json_str(h, "text", ""));
	json_free(h);
	if (!ok)
		return EXIT_FAILED;
	if (!wait)
		return EXIT_OK;
	fflush(stdout);
	stream(c, event_line, NULL);
	if (!json_out)
		printf("every job has ended\n");
	return EXIT_OK;
}

static int cmd_events(struct call *c, int argc, char **argv)
{
	int snapshot = argc == 1 && strcmp(argv[0], "--snapshot") == 0;
	if (argc > snapshot)
		return say("usage: grunctl events [--snapshot]"), EXIT_USAGE;
	struct jv *h;
	request_start(c, "events");
	jb_kbool(&c->req, "snapshot", snapshot);
	int rc = exchange(c, &h);
	if (rc)
		return rc;
	int ok = header_ok(h);
	json_free(h);
	if (!ok)
		return EXIT_FAILED;
	stream(c, event_line, NULL);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = NULL, *sock = getenv("GRUNCTL_SOCKET");
	int opt;
	signal(SIGPIPE, SIG_IGN);
	while ((opt = getopt_long(argc, argv, "+f:s:jh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f': file = optarg; sock = NULL; break;
		case 's': sock = optarg; file = NULL; break;
		case 'j': json_out = 1; break;
		case 'h': fputs(usage_text, stdout); return EXIT_OK;
		default: fputs(usage_text, stderr); return EXIT_USAGE;
		}
	}
	/* --json may also follow the command (grunctl status --json) */
	int k = optind;
	for (int i = optind; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-j") == 0)
			json_out = 1;
		else
			argv[k++] = argv[i];
	}
	argc = k;
	argv[argc] = NULL;
	if (optind >= argc) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[optind++];
	int cargc = argc - optind + 1;
	char **cargv = argv + optind - 1; /* cargv[0] is the command, for getopt */
	static const char *known[] = { "status", "tree", "start", "stop", "restart", "signal", "logs",
		                       "wait", "reload", "stop-all", "events", "ping" };
	int ok = 0;
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		ok |= strcmp(cmd, known[i]) == 0;
	if (!ok) {
		say("unknown command: %s", cmd);
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	char path[PATH_MAX];
	int rc = EXIT_OK;
	if (sock)
		snprintf(path, sizeof path, "%s", sock);
	else if (file && sv_ctl_default_path(file, path, sizeof path) < 0)
		return say("%s: %s", file, strerror(errno)), EXIT_USAGE;
	else if (!file && (rc = only_socket(path, sizeof path)))
		return rc;
	struct call c = { 0 };
	if ((rc = dial(path, &c.fd)))
		return rc;
	c.r.fd = c.fd;
	if (strcmp(cmd, "logs") == 0)
		rc = cmd_logs(&c, cargc, cargv);
	else if (strcmp(cmd, "wait") == 0)
		rc = cmd_wait(&c, cargc, cargv);
	else if (strcmp(cmd, "stop-all") == 0)
		rc = cmd_stop_all(&c, cargc - 1, cargv + 1);
	else if (strcmp(cmd, "events") == 0)
		rc = cmd_events(&c, cargc - 1, cargv + 1);
	else if (!strcmp(cmd, "start") || !strcmp(cmd, "stop") || !strcmp(cmd, "restart") ||
	         !strcmp(cmd, "signal"))
		rc = cmd_jobs(&c, cmd, cargc - 1, cargv + 1);
	else if (!strcmp(cmd, "reload") || !strcmp(cmd, "tree") || !strcmp(cmd, "ping")) {
		if (cargc > 1)
			return say("usage: grunctl %s", cmd), EXIT_USAGE;
		rc = cmd_simple(&c, strcmp(cmd, "ping") == 0 ? "hello" : cmd, 0, NULL);
	} else
		rc = cmd_simple(&c, cmd, cargc - 1, cargv + 1);
	close(c.fd);
	free(c.r.buf);
	jb_free(&c.req);
	return rc;
}
