/*
 * keys.c - what each key of grun.ini(5) means: one table per section
 * kind, one small function per key.  A key function gets the value with
 * ${VAR} already expanded and returns 0, or -1 with a message in *why;
 * the caller prefixes FILE:LINE.
 *
 * Size: over the ~500 lines of the other files because it is one small
 * function per key (median 6 lines) in one table per section kind, as
 * tmux's cmd_entry tables are; the tables are the design.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "supervise/config_internal.h"
#include "supervise/xalloc.h"

struct keyctx {
	struct sv_loader *ld;
	struct sv_config *cfg;
	struct sv_job *job;
	struct sv_sup *sup;
	struct sv_chan *chan;
	struct sv_defaults *defaults;
	int line;
	char whybuf[256];
};

struct keydef {
	const char *key;
	int (*fn)(struct keyctx *k, const char *v, const char **why);
};

/* ---- shared value kinds ---------------------------------------------- */


static int parse_int(const char *v, int lo, int hi, int *out, const char **why)
{
	char *end;
	long n = strtol(v, &end, 10);
	if (!*v || *end || n < lo || n > hi) {
		*why = "expected a whole number in range";
		return -1;
	}
	*out = (int)n;
	return 0;
}

static int parse_restart(const char *v, enum sv_restart *r, const char **why)
{
	if (strcmp(v, "permanent") == 0 || strcmp(v, "always") == 0)
		return *r = SV_PERMANENT, 0;
	if (strcmp(v, "transient") == 0 || strcmp(v, "on-failure") == 0)
		return *r = SV_TRANSIENT, 0;
	if (strcmp(v, "temporary") == 0 || strcmp(v, "no") == 0)
		return *r = SV_TEMPORARY, 0;
	*why = "expected permanent, transient or temporary";
	return -1;
}

static int parse_strategy(const char *v, enum sv_strategy *s, const char **why)
{
	if (strcmp(v, "one_for_one") == 0)
		return *s = SV_ONE_FOR_ONE, 0;
	if (strcmp(v, "one_for_all") == 0)
		return *s = SV_ONE_FOR_ALL, 0;
	if (strcmp(v, "rest_for_one") == 0)
		return *s = SV_REST_FOR_ONE, 0;
	*why = "expected one_for_one, one_for_all or rest_for_one";
	return -1;
}

/* "0", "5s" (fixed), "100ms..30s" */
static int parse_backoff(const char *v, int64_t *min, int64_t *max, const char **why)
{
	const char *dots = strstr(v, "..");
	if (!dots) {
		if (sv_parse_duration(v, min, why) < 0)
			return -1;
		*max = *min;
		return 0;
	}
	char a[64];
	snprintf(a, sizeof a, "%.*s", (int)(dots - v), v);
	if (sv_parse_duration(a, min, why) < 0 || sv_parse_duration(dots + 2, max, why) < 0)
		return -1;
	if (*min > *max) {
		*why = "backoff MIN..MAX with MIN greater than MAX";
		return -1;
	}
	if (*min == 0 && *max > 0) {
		*why = "backoff MIN..MAX needs MIN above 0 (it doubles from MIN); write backoff = 0 to restart at once";
		return -1;
	}
	return 0;
}

/* HOST:PORT with a port from 1 to 65535 (HOST may be [v6]); malloc'd parts. */
static int parse_hostport(const char *v, size_t len, char **host, char **port)
{
	const char *end = v + len, *colon = NULL;
	for (const char *p = v; p < end; p++)
		if (*p == ':')
			colon = p;
	if (!colon || colon == v || colon + 1 == end || colon + 6 < end)
		return -1;
	int portn = 0;
	for (const char *p = colon + 1; p < end; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		portn = portn * 10 + (*p - '0');
	}
	if (portn < 1 || portn > 65535)
		return -1;
	size_t hl = (size_t)(colon - v);
	if (v[0] == '[' && hl > 2 && v[hl - 1] == ']')
		v++, hl -= 2; /* [::1] */
	*host = sv_xstrndup(v, hl, "a probe host");
	*port = sv_xstrndup(colon + 1, (size_t)(end - colon - 1), "a probe port");
	return 0;
}

/* tcp:HOST:PORT, http://HOST:PORT/PATH (port 80 if left out), exec:COMMAND;
 * key names the key in messages ("expected ready = tcp:HOST:PORT"). */
static int parse_check(struct keyctx *k, const char *key, const char *v, struct sv_check_spec *c,
                       const char **why)
{
	const char *form = NULL;
	memset(c, 0, sizeof *c);
	if (strncmp(v, "tcp:", 4) == 0) {
		c->kind = SV_CHECK_TCP;
		if (parse_hostport(v + 4, strlen(v + 4), &c->host, &c->port) == 0)
			return 0;
		form = "tcp:HOST:PORT";
	} else if (strncmp(v, "http://", 7) == 0) {
		const char *hp = v + 7, *slash = strchr(hp, '/');
		size_t hl = slash ? (size_t)(slash - hp) : strlen(hp);
		int bad = hl == 0 || strpbrk(v, " \t\r\n") != NULL;
		if (!bad && (parse_hostport(hp, hl, &c->host, &c->port) < 0)) {
			/* no port: 80, unless what follows a colon is not one */
			const char *colon = memchr(hp, ':', hl);
			bad = (colon && hp[0] != '[') || (hp[0] == '[' && hp[hl - 1] != ']');
			if (!bad) {
				size_t off = hp[0] == '[';
				c->host = sv_xstrndup(hp + off, hl - 2 * off, "a probe host");
				c->port = sv_xstrdup("80", "a probe port");
			}
		}
		if (!bad) {
			c->kind = SV_CHECK_HTTP;
			c->path = sv_xstrdup(slash ? slash : "/", "a probe path");
			return 0;
		}
		form = "http://HOST:PORT/PATH";
	} else if (strncmp(v, "exec:", 5) == 0) {
		const char *cmd = v + 5;
		while (*cmd == ' ' || *cmd == '\t')
			cmd++;
		if (*cmd) {
			c->kind = SV_CHECK_EXEC;
			c->cmd = sv_xstrdup(cmd, "a probe command");
			return 0;
		}
		form = "exec:COMMAND";
	}
	c->kind = SV_CHECK_NONE;
	if (form)
		snprintf(k->whybuf, sizeof k->whybuf, "expected %s = %s", key, form);
	else
		snprintf(k->whybuf, sizeof k->whybuf,
		         "expected %s = tcp:HOST:PORT, http://HOST:PORT/PATH or exec:COMMAND", key);
	*why = k->whybuf;
	return -1;
}

/* ---- [grun] ------------------------------------------------------------ */

static int g_procs(struct keyctx *k, const char *v, const char **why)
{
	if (strcmp(v, "auto") == 0)
		return k->cfg->procs = 0, 0;
	return parse_int(v, 1, 1024, &k->cfg->procs, why);
}

static int g_jobs(struct keyctx *k, const char *v, const char **why)
{
	if (strcmp(v, "unlimited") == 0)
		return k->cfg->max_running = 0, 0;
	return parse_int(v, 1, 1000000, &k->cfg->max_running, why);
}

static int g_exit(struct keyctx *k, const char *v, const char **why)
{
	if (strcmp(v, "auto") == 0)
		return k->cfg->exit_policy = SV_EXIT_AUTO, 0;
	if (strcmp(v, "any_significant") == 0)
		return k->cfg->exit_policy = SV_EXIT_ANY_SIGNIFICANT, 0;
	if (strcmp(v, "all_significant") == 0)
		return k->cfg->exit_policy = SV_EXIT_ALL_SIGNIFICANT, 0;
	*why = "expected auto, any_significant or all_significant";
	return -1;
}

static int g_color(struct keyctx *k, const char *v, const char **why)
{
	if (strcmp(v, "auto") == 0)
		return k->cfg->color = -1, 0;
	return sv_parse_bool(v, &k->cfg->color, why);
}

static int g_restart(struct keyctx *k, const char *v, const char **why)
{
	return parse_restart(v, &k->defaults->restart, why);
}

static int g_ready(struct keyctx *k, const char *v, const char **why)
{
	if (strcmp(v, "started") == 0)
		return k->defaults->ready = SV_READY_STARTED, 0;
	if (strcmp(v, "exited") == 0)
		return k->defaults->ready = SV_READY_EXITED, 0;
	*why = "expected started or exited (the other kinds are set per job)";
	return -1;
}

static int g_exit_status(struct keyctx *k, const char *v, const char **why)
{
	if (strcmp(v, "summary") == 0)
		return k->cfg->exit_status_job = 0, 0;
	if (strcmp(v, "job") == 0)
		return k->cfg->exit_status_job = 1, 0;
	*why = "expected summary or job";
	return -1;
}

static int g_fail_fast(struct keyctx *k, const char *v, const char **why)
{
	return sv_parse_bool(v, &k->cfg->fail_fast, why);
}

static int parse_id(const char *v, unsigned long *id);

static int g_control(struct keyctx *k, const char *v, const char **why)
{
	free(k->cfg->control);
	k->cfg->control = NULL;
	k->cfg->control_off = strcmp(v, "off") == 0;
	if (k->cfg->control_off || strcmp(v, "auto") == 0)
		return 0;
	if (v[0] != '/') {
		*why = "expected off, auto or an absolute path for the socket";
		return -1;
	}
	if (strlen(v) > 107) {
		*why = "longer than the 107 bytes a socket address holds";
		return -1;
	}
	k->cfg->control = sv_xstrdup(v, "a socket path");
	return 0;
}

static int g_control_group(struct keyctx *k, const char *v, const char **why)
{
	struct group *gr = getgrnam(v);
	unsigned long id = 0;
	int numeric = gr ? 0 : parse_id(v, &id);
	if (numeric < 0 || (!gr && !numeric)) {
		*why = numeric < 0 ? "a gid is a number from 0 to 4294967294" : "no such group";
		return -1;
	}
	k->cfg->control_group = numeric ? (gid_t)id : gr->gr_gid;
	return 0;
}

static int g_stop_timeout(struct keyctx *k, const char *v, const char **why)
{
	return sv_parse_duration(v, &k->defaults->stop_timeout, why);
}

static int g_stop_signal(struct keyctx *k, const char *v, const char **why)
{
	return sv_parse_signal(v, &k->defaults->stop_signal, why);
}

static int g_backoff(struct keyctx *k, const char *v, const char **why)
{
	return parse_backoff(v, &k->defaults->backoff_min, &k->defaults->backoff_max, why);
}

static int g_timestamps(struct keyctx *k, const char *v, const char **why)
{
	return sv_ts_parse(v, &k->cfg->timestamps, why);
}

static int g_log_format(struct keyctx *k, const char *v, const char **why)
{
	if (strcmp(v, "auto") == 0)
		return k->cfg->log_format = SV_LOG_AUTO, 0;
	if (strcmp(v, "text") == 0)
		return k->cfg->log_format = SV_LOG_TEXT, 0;
	if (strcmp(v, "journal") == 0)
		return k->cfg->log_format = SV_LOG_JOURNAL, 0;
	if (strcmp(v, "native") == 0)
		return k->cfg->log_format = SV_LOG_NATIVE, 0;
	*why = "expected auto, text, journal or native";
	return -1;
}

/* log_max_size: at least 4 KiB, so rotation is not a loop */
static int parse_log_max_size(const char *v, int64_t *size, const char **why)
{
	if (sv_parse_size(v, size, why) < 0)
		return -1;
	if (*size < 4096) {
		*why = "log_max_size must be at least 4K";
		return -1;
	}
	return 0;
}

static int parse_overflow(const char *v, int *drop, const char **why)
{
	if (strcmp(v, "block") == 0)
		return *drop = 0, 0;
	if (strcmp(v, "drop") == 0)
		return *drop = 1, 0;
	*why = "expected block or drop";
	return -1;
}

static int g_log_max_size(struct keyctx *k, const char *v, const char **why)
{
	return parse_log_max_size(v, &k->defaults->log_max_size, why);
}

static int g_log_keep(struct keyctx *k, const char *v, const char **why)
{
	return parse_int(v, 0, 100000, &k->defaults->log_keep, why);
}

static int g_log_overflow(struct keyctx *k, const char *v, const char **why)
{
	return parse_overflow(v, &k->defaults->log_drop, why);
}

static int g_stderr_priority(struct keyctx *k, const char *v, const char **why)
{
	return sv_parse_priority(v, &k->defaults->stderr_priority, why);
}

static int s_strategy(struct keyctx *k, const char *v, const char **why)
{
	return parse_strategy(v, &k->sup->strategy, why);
}

static int s_intensity(struct keyctx *k, const char *v, const char **why)
{
	return parse_int(v, 0, 1000000, &k->sup->intensity, why);
}

static int s_period(struct keyctx *k, const char *v, const char **why)
{
	if (sv_parse_duration(v, &k->sup->period, why) < 0)
		return -1;
	if (k->sup->period <= 0) {
		*why = "period must be above 0";
		return -1;
	}
	return 0;
}

static int s_shutdown(struct keyctx *k, const char *v, const char **why)
{
	if (strcmp(v, "parallel") == 0)
		return k->sup->shutdown = SV_SHUTDOWN_PARALLEL, 0;
	if (strcmp(v, "sequential") == 0)
		return k->sup->shutdown = SV_SHUTDOWN_SEQUENTIAL, 0;
	*why = "expected parallel or sequential";
	return -1;
}

static int s_parent(struct keyctx *k, const char *v, const char **why)
{
	k->sup->parent_name = sv_xstrdup(v, "a parent name");
	k->sup->parent_line = k->line;
	return 0;
}

static const struct keydef grun_keys[] = {
	{ "procs", g_procs }, { "jobs", g_jobs }, { "exit", g_exit }, { "color", g_color },
	{ "restart", g_restart }, { "ready", g_ready }, { "stop_timeout", g_stop_timeout },
	{ "exit_status", g_exit_status }, { "fail_fast", g_fail_fast },
	{ "control", g_control }, { "control_group", g_control_group },
	{ "stop_signal", g_stop_signal }, { "backoff", g_backoff },
	{ "strategy", s_strategy }, { "intensity", s_intensity }, { "period", s_period },
	{ "shutdown", s_shutdown },
	{ "timestamps", g_timestamps }, { "log_format", g_log_format },
	{ "log_max_size", g_log_max_size }, { "log_keep", g_log_keep },
	{ "log_overflow", g_log_overflow }, { "stderr_priority", g_stderr_priority },
	{ NULL, NULL },
};

static int c_capacity(struct keyctx *k, const char *v, const char **why)
{
	return parse_int(v, 1, 1000000, &k->chan->capacity, why);
}

static int c_framing(struct keyctx *k, const char *v, const char **why)
{
	if (strcmp(v, "line") == 0)
		return k->chan->framing = SV_FRAME_LINE, 0;
	if (strcmp(v, "chunk") == 0)
		return k->chan->framing = SV_FRAME_CHUNK, 0;
	*why = "expected line or chunk";
	return -1;
}

static int c_mode(struct keyctx *k, const char *v, const char **why)
{
	if (strcmp(v, "share") == 0)
		return k->chan->mode = SV_SHARE, 0;
	if (strcmp(v, "broadcast") == 0)
		return k->chan->mode = SV_BROADCAST, 0;
	*why = "expected share or broadcast";
	return -1;
}

static const struct keydef chan_keys[] = {
	{ "capacity", c_capacity }, { "framing", c_framing }, { "mode", c_mode },
	{ NULL, NULL },
};

static const struct keydef sup_keys[] = {
	{ "strategy", s_strategy }, { "intensity", s_intensity }, { "period", s_period },
	{ "parent", s_parent }, { "shutdown", s_shutdown },
	{ NULL, NULL },
};

/* ---- [job:NAME] ------------------------------------------------------- */

static int j_cmd(struct keyctx *k, const char *v, const char **why)
{
	if (!*v) {
		*why = "cmd is empty";
		return -1;
	}
	k->job->cmd = sv_xstrdup(v, "a cmd");
	k->job->cmd_line = k->line;
	return 0;
}

static int j_shell(struct keyctx *k, const char *v, const char **why)
{
	return sv_parse_bool(v, &k->job->shell, why);
}

static int j_dir(struct keyctx *k, const char *v, const char **why)
{
	k->job->dir = sv_xstrdup(v, "a dir");
	k->job->dir_line = k->line;
	return 0;
}

static int env_add(struct sv_job *j, const char *name_value, const char **why)
{
	const char *eq = strchr(name_value, '=');
	if (!eq || eq == name_value) {
		*why = "expected NAME=VALUE";
		return -1;
	}
	for (const char *p = name_value; p < eq; p++) {
		if (!(*p == '_' || isalnum((unsigned char)*p)) || (p == name_value && isdigit((unsigned char)*p))) {
			*why = "bad variable name (letters, digits and _)";
			return -1;
		}
	}
	size_t n = (size_t)(eq - name_value) + 1;
	for (int i = 0; i < j->env.n; i++) {
		if (strncmp(j->env.v[i], name_value, n) == 0) {
			free(j->env.v[i]);
			j->env.v[i] = sv_xstrdup(name_value, "an env value");
			return 0;
		}
	}
	sv_strv_push(&j->env, sv_xstrdup(name_value, "an env value"));
	return 0;
}

/* env = NAME=VALUE [NAME=VALUE...]: words as in cmd, so values may be quoted. */
static int j_env(struct keyctx *k, const char *v, const char **why)
{
	struct sv_strv words = { 0 };
	int rc = sv_split_argv(v, &words, why);
	if (rc < 0)
		*why = "unbalanced quote";
	for (int i = 0; rc == 0 && i < words.n; i++)
		rc = env_add(k->job, words.v[i], why);
	sv_strv_free(&words);
	return rc;
}

/* Reads at most SV_ENV_FILE_MAX bytes of path into a NUL-terminated
 * buffer.  Non-blocking, so a FIFO nobody writes is empty rather than a
 * hang, and /dev/zero is "too long" rather than a loop for ever. */
static char *read_env_file(struct keyctx *k, const char *path, size_t *len, const char **why)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		fd = -1;
		errno = EISDIR;
	}
	if (fd < 0) {
		snprintf(k->whybuf, sizeof k->whybuf, "env_file %s: %s", path, strerror(errno));
		*why = k->whybuf;
		return NULL;
	}
	char *buf = sv_xmalloc(SV_ENV_FILE_MAX + 2, "an env_file");
	size_t n = 0;
	ssize_t r = 0;
	while (n <= SV_ENV_FILE_MAX &&
	       ((r = read(fd, buf + n, SV_ENV_FILE_MAX + 1 - n)) > 0 || (r < 0 && errno == EINTR)))
		n += r > 0 ? (size_t)r : 0;
	int err = errno;
	close(fd);
	if (r < 0 || n > SV_ENV_FILE_MAX) {
		if (r < 0)
			snprintf(k->whybuf, sizeof k->whybuf, "env_file %s: %s", path, strerror(err));
		else
			snprintf(k->whybuf, sizeof k->whybuf, "env_file %s: longer than %d bytes", path,
			         SV_ENV_FILE_MAX);
		*why = k->whybuf;
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

static int j_env_file(struct keyctx *k, const char *v, const char **why)
{
	size_t len;
	char *buf = read_env_file(k, v, &len, why);
	if (!buf)
		return -1;
	int n = 0, rc = 0;
	for (char *line = buf; rc == 0 && line < buf + len;) {
		n++;
		char *nl = memchr(line, '\n', (size_t)(buf + len - line));
		char *next = nl ? nl + 1 : buf + len;
		if (nl)
			*nl = '\0';
		if (strlen(line) != (size_t)((nl ? nl : buf + len) - line)) {
			*why = "NUL byte in the line";
			rc = -1;
			break;
		}
		line[strcspn(line, "\r")] = '\0';
		char *p = line;
		line = next;
		while (isspace((unsigned char)*p))
			p++;
		if (!*p || *p == '#')
			continue;
		if (strncmp(p, "export ", 7) == 0)
			p += 7;
		rc = env_add(k->job, p, why);
	}
	if (rc) {
		snprintf(k->whybuf, sizeof k->whybuf, "env_file %s line %d: %s", v, n, *why);
		*why = k->whybuf;
	}
	free(buf);
	return rc;
}

/* A numeric user or group id: 0 to 4294967294.  (uid_t)-1 and (gid_t)-1
 * mean "leave unchanged" to setresuid(2) and setresgid(2), so they can
 * never be a job's id.  Returns 1 for an id, 0 for something that is not
 * a number, -1 for a number out of that range. */
#define SV_ID_MAX 4294967294UL
static int parse_id(const char *v, unsigned long *id)
{
	const char *p = v;
	if (*p == '-' || *p == '+')
		p++;
	if (!isdigit((unsigned char)*p))
		return 0;
	for (const char *q = p; *q; q++) {
		if (!isdigit((unsigned char)*q))
			return 0;
	}
	if (*v == '-' || *v == '+' || strlen(p) > 10)
		return -1;
	unsigned long long n = strtoull(p, NULL, 10);
	if (n > SV_ID_MAX || (uid_t)n == (uid_t)-1 || (gid_t)n == (gid_t)-1)
		return -1;
	*id = (unsigned long)n;
	return 1;
}

static int j_user(struct keyctx *k, const char *v, const char **why)
{
	struct passwd *pw = getpwnam(v);
	unsigned long id = 0;
	int numeric = pw ? 0 : parse_id(v, &id);
	if (numeric < 0) {
		*why = "a uid is a number from 0 to 4294967294";
		return -1;
	}
	if (!pw && !numeric) {
		*why = "no such user";
		return -1;
	}
	if (geteuid() != 0) {
		*why = "user = needs grun to run as root";
		return -1;
	}
	if (!pw)
		pw = getpwuid((uid_t)id);
	k->job->has_user = 1;
	k->job->user_line = k->line;
	k->job->uid = numeric ? (uid_t)id : pw->pw_uid;
	if (pw)
		k->job->user_gid = pw->pw_gid;
	return 0;
}

static int j_group(struct keyctx *k, const char *v, const char **why)
{
	struct group *gr = getgrnam(v);
	unsigned long id = 0;
	int numeric = gr ? 0 : parse_id(v, &id);
	if (numeric < 0) {
		*why = "a gid is a number from 0 to 4294967294";
		return -1;
	}
	if (!gr && !numeric) {
		*why = "no such group";
		return -1;
	}
	if (geteuid() != 0) {
		*why = "group = needs grun to run as root";
		return -1;
	}
	k->job->gid = numeric ? (gid_t)id : gr->gr_gid;
	return 0;
}

static int j_umask(struct keyctx *k, const char *v, const char **why)
{
	char *end;
	long m = strtol(v, &end, 8);
	if (!*v || *end || m < 0 || m > 0777) {
		*why = "expected an octal mask such as 022";
		return -1;
	}
	k->job->umask = (int)m;
	return 0;
}

static int j_restart(struct keyctx *k, const char *v, const char **why)
{
	return parse_restart(v, &k->job->restart, why);
}

static int j_instances(struct keyctx *k, const char *v, const char **why)
{
	return parse_int(v, 1, 100000, &k->job->instances, why);
}

static int j_needs(struct keyctx *k, const char *v, const char **why)
{
	k->job->needs_line = k->line;
	return sv_split_list(v, &k->job->needs);
}

static int j_ready(struct keyctx *k, const char *v, const char **why)
{
	struct sv_job *j = k->job;
	j->ready_line = k->line;
	if (strcmp(v, "started") == 0)
		return j->ready = SV_READY_STARTED, 0;
	if (strcmp(v, "exited") == 0)
		return j->ready = SV_READY_EXITED, 0;
	if (strcmp(v, "notify") == 0)
		return j->ready = SV_READY_NOTIFY, 0;
	if (strncmp(v, "fd:", 3) == 0) {
		j->ready = SV_READY_FD;
		if (parse_int(v + 3, 3, 1023, &j->ready_fd, why) < 0) {
			*why = "ready = fd:N needs N from 3 to 1023 (0, 1 and 2 are the standard streams)";
			return -1;
		}
		return 0;
	}
	if (strncmp(v, "tcp:", 4) == 0 || strncmp(v, "http://", 7) == 0 || strncmp(v, "exec:", 5) == 0) {
		struct sv_check_spec c = { 0 };
		if (parse_check(k, "ready", v, &c, why) < 0)
			return -1;
		static const enum sv_ready kinds[] = { [SV_CHECK_TCP] = SV_READY_TCP,
		                                       [SV_CHECK_HTTP] = SV_READY_HTTP,
		                                       [SV_CHECK_EXEC] = SV_READY_EXEC };
		j->ready = kinds[c.kind];
		j->ready_host = c.host;
		j->ready_port = c.port;
		j->ready_path = c.path;
		j->ready_cmd = c.cmd;
		return 0;
	}
	if (strncmp(v, "log:", 4) == 0) {
		regex_t re;
		int rc = v[4] ? regcomp(&re, v + 4, REG_EXTENDED | REG_NOSUB) : REG_BADPAT;
		if (rc != 0) {
			if (v[4])
				regerror(rc, &re, k->whybuf, sizeof k->whybuf);
			else
				snprintf(k->whybuf, sizeof k->whybuf, "expected ready = log:REGEX");
			*why = k->whybuf;
			return -1;
		}
		regfree(&re);
		j->ready = SV_READY_LOG;
		j->ready_regex = sv_xstrdup(v + 4, "a ready regex");
		return 0;
	}
	if (strncmp(v, "file:", 5) == 0) {
		if (!v[5]) {
			*why = "expected ready = file:PATH";
			return -1;
		}
		j->ready = SV_READY_FILE;
		j->ready_path = sv_xstrdup(v + 5, "a ready path");
		return 0;
	}
	if (strncmp(v, "delay:", 6) == 0) {
		j->ready = SV_READY_DELAY;
		return sv_parse_duration(v + 6, &j->ready_delay, why);
	}
	*why = "expected started, exited, notify, fd:N, tcp:HOST:PORT, http://HOST:PORT/PATH, exec:COMMAND, "
	       "log:REGEX, file:PATH or delay:DURATION";
	return -1;
}

static int j_ready_timeout(struct keyctx *k, const char *v, const char **why)
{
	k->job->ready_timeout_line = k->line;
	return sv_parse_duration(v, &k->job->ready_timeout, why);
}

static int j_health(struct keyctx *k, const char *v, const char **why)
{
	k->job->health_line = k->line;
	return parse_check(k, "health", v, &k->job->health, why);
}

static int j_health_interval(struct keyctx *k, const char *v, const char **why)
{
	if (sv_parse_duration(v, &k->job->health_interval, why) < 0)
		return -1;
	if (k->job->health_interval < 10 * 1000000LL) {
		*why = "health_interval is 10ms at least";
		return -1;
	}
	return 0;
}

static int j_health_timeout(struct keyctx *k, const char *v, const char **why)
{
	if (sv_parse_duration(v, &k->job->health_timeout, why) < 0)
		return -1;
	if (k->job->health_timeout <= 0) {
		*why = "health_timeout must be above 0";
		return -1;
	}
	return 0;
}

static int j_health_failures(struct keyctx *k, const char *v, const char **why)
{
	return parse_int(v, 1, 1000000, &k->job->health_failures, why);
}

/* As systemd's FileDescriptorName=: printable ASCII, no ':' (the list
 * separator), no blanks (ours), at most 255 characters. */
static int valid_socket_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 255)
		return 0;
	for (; *s; s++)
		if (*s <= ' ' || *s > '~' || *s == ':')
			return 0;
	return 1;
}

static int j_sockets(struct keyctx *k, const char *v, const char **why)
{
	struct sv_job *j = k->job;
	j->sockets_line = k->line;
	sv_strv_free(&j->sockets);
	sv_split_list(v, &j->sockets);
	if (j->sockets.n == 0) {
		*why = "expected the names of one or more of grun's sockets (LISTEN_FDNAMES)";
		return -1;
	}
	for (int i = 0; i < j->sockets.n; i++) {
		if (!valid_socket_name(j->sockets.v[i])) {
			*why = "a socket name is up to 255 printable characters without ':' or blanks";
			return -1;
		}
		for (int m = 0; m < i; m++)
			if (strcmp(j->sockets.v[m], j->sockets.v[i]) == 0) {
				*why = "a socket is named twice";
				return -1;
			}
	}
	if (j->sockets.n > 256) {
		*why = "at most 256 sockets";
		return -1;
	}
	return 0;
}

static int j_stop_signal(struct keyctx *k, const char *v, const char **why)
{
	return sv_parse_signal(v, &k->job->stop_signal, why);
}

/* "0 3 SIGTERM", "0, 1, HUP": exit statuses and signals. */
static int j_success(struct keyctx *k, const char *v, const char **why)
{
	struct sv_job *j = k->job;
	struct sv_strv words = { 0 };
	int rc = sv_split_list(v, &words);
	memset(j->success_status, 0, sizeof j->success_status);
	j->success_signals = 0;
	for (int i = 0; rc == 0 && i < words.n; i++) {
		const char *w = words.v[i];
		char *end;
		long code = strtol(w, &end, 10);
		int sig;
		if (*w >= '0' && *w <= '9' && !*end) {
			if (code > 255) {
				*why = "an exit status is 0 to 255";
				rc = -1;
			} else {
				j->success_status[code / 64] |= 1ULL << (code % 64);
			}
		} else if (sv_parse_signal(w, &sig, why) == 0 && sig < 64) {
			j->success_signals |= 1ULL << sig;
		} else {
			*why = "expected exit statuses (0 to 255) and signal names, such as 0 3 SIGTERM";
			rc = -1;
		}
	}
	if (rc == 0 && words.n == 0) {
		*why = "expected at least one exit status or signal";
		rc = -1;
	}
	sv_strv_free(&words);
	return rc;
}

static int j_stop_timeout(struct keyctx *k, const char *v, const char **why)
{
	return sv_parse_duration(v, &k->job->stop_timeout, why);
}

static int j_backoff(struct keyctx *k, const char *v, const char **why)
{
	return parse_backoff(v, &k->job->backoff_min, &k->job->backoff_max, why);
}

static int parse_io(struct keyctx *k, const char *v, int stream, struct sv_iospec *io,
                    const char **why)
{
	if (strcmp(v, "null") == 0)
		return io->kind = SV_IO_NULL, 0;
	if (strcmp(v, "inherit") == 0)
		return io->kind = SV_IO_INHERIT, 0;
	if (stream != 0 && strcmp(v, "log") == 0)
		return io->kind = SV_IO_LOG, 0;
	if (stream == 2 && strcmp(v, "stdout") == 0)
		return io->kind = SV_IO_STDOUT, 0;
	if (strncmp(v, "file:", 5) == 0 && v[5]) {
		io->kind = SV_IO_FILE;
		io->path = sv_xstrdup(v + 5, "a file path");
		return 0;
	}
	if (strncmp(v, "chan:", 5) == 0) {
		const char *name = v + 5;
		if (!sv_valid_name(name)) {
			*why = "bad channel name (letters, digits, '_', '-' and '.')";
			return -1;
		}
		if (stream == 0 && strcmp(name, "stdout") == 0) {
			*why = "chan:stdout is grun's standard output: jobs write it (stdout = chan:stdout), never read it";
			return -1;
		}
		if (stream != 0 && strcmp(name, "stdin") == 0) {
			*why = "chan:stdin is grun's standard input: jobs read it (stdin = chan:stdin), never write it";
			return -1;
		}
		io->kind = SV_IO_CHAN;
		io->chan = sv_chan_get(k->cfg, name, k->line);
		return 0;
	}
	*why = stream == 0 ? "expected null, inherit, file:PATH or chan:NAME"
	     : stream == 1 ? "expected log, null, inherit, file:PATH or chan:NAME"
	                   : "expected log, stdout, null, inherit, file:PATH or chan:NAME";
	return -1;
}

static int j_stdin(struct keyctx *k, const char *v, const char **why)
{
	return parse_io(k, v, 0, &k->job->in, why);
}

static int j_stdout(struct keyctx *k, const char *v, const char **why)
{
	return parse_io(k, v, 1, &k->job->out, why);
}

static int j_stderr(struct keyctx *k, const char *v, const char **why)
{
	return parse_io(k, v, 2, &k->job->err, why);
}

static int j_supervisor(struct keyctx *k, const char *v, const char **why)
{
	int s = sv_find_sup(k->cfg, v);
	if (s < 0) {
		*why = "no such supervisor (define it with [supervisor:NAME])";
		return -1;
	}
	k->job->sup = s;
	return 0;
}

static int j_significant(struct keyctx *k, const char *v, const char **why)
{
	k->job->significant_line = k->line;
	return sv_parse_bool(v, &k->job->significant, why);
}

static int j_watchdog(struct keyctx *k, const char *v, const char **why)
{
	if (sv_parse_duration(v, &k->job->watchdog, why) < 0)
		return -1;
	if (k->job->watchdog > 0 && k->job->watchdog < 1000000) {
		*why = "a watchdog interval is at least 1ms";
		return -1;
	}
	return 0;
}

static int j_k8s_image(struct keyctx *k, const char *v, const char **why)
{
	if (!*v || strpbrk(v, " \t")) {
		*why = "expected an image reference such as registry.example/app:1.2";
		return -1;
	}
	free(k->job->k8s_image);
	k->job->k8s_image = sv_xstrdup(v, "an image");
	return 0;
}

static int j_autostart(struct keyctx *k, const char *v, const char **why)
{
	return sv_parse_bool(v, &k->job->autostart, why);
}

static int j_log(struct keyctx *k, const char *v, const char **why)
{
	if (!*v) {
		*why = "expected a directory";
		return -1;
	}
	free(k->job->log_dir);
	k->job->log_dir = sv_xstrdup(v, "a log directory");
	k->job->log_line = k->line;
	return 0;
}

static int j_log_max_size(struct keyctx *k, const char *v, const char **why)
{
	return parse_log_max_size(v, &k->job->log_max_size, why);
}

static int j_log_keep(struct keyctx *k, const char *v, const char **why)
{
	return parse_int(v, 0, 100000, &k->job->log_keep, why);
}

static int j_log_overflow(struct keyctx *k, const char *v, const char **why)
{
	return parse_overflow(v, &k->job->log_drop, why);
}

static int j_stderr_priority(struct keyctx *k, const char *v, const char **why)
{
	return sv_parse_priority(v, &k->job->stderr_priority, why);
}

static const struct keydef job_keys[] = {
	{ "cmd", j_cmd }, { "shell", j_shell }, { "dir", j_dir },
	{ "env", j_env }, { "env_file", j_env_file },
	{ "user", j_user }, { "group", j_group }, { "umask", j_umask },
	{ "restart", j_restart }, { "instances", j_instances }, { "needs", j_needs },
	{ "ready", j_ready }, { "ready_timeout", j_ready_timeout },
	{ "health", j_health }, { "health_interval", j_health_interval },
	{ "health_timeout", j_health_timeout }, { "health_failures", j_health_failures },
	{ "sockets", j_sockets },
	{ "stop_signal", j_stop_signal }, { "stop_timeout", j_stop_timeout }, { "success", j_success },
	{ "backoff", j_backoff }, { "stdin", j_stdin }, { "stdout", j_stdout },
	{ "stderr", j_stderr }, { "supervisor", j_supervisor },
	{ "significant", j_significant }, { "autostart", j_autostart }, { "watchdog", j_watchdog },
	{ "export.kubernetes.image", j_k8s_image },
	{ "log", j_log }, { "log_max_size", j_log_max_size }, { "log_keep", j_log_keep },
	{ "log_overflow", j_log_overflow }, { "stderr_priority", j_stderr_priority },
	{ NULL, NULL },
};

/* ---- applying a table to a section ------------------------------------------ */

static const char *job_env_lookup(const char *name, void *ctx)
{
	struct sv_job *j = ctx;
	size_t n = strlen(name);
	for (int i = 0; i < j->env.n; i++) {
		if (strncmp(j->env.v[i], name, n) == 0 && j->env.v[i][n] == '=')
			return j->env.v[i] + n + 1;
	}
	return NULL;
}

static const struct keydef *find_key(const struct keydef *table, const char *key)
{
	for (; table->key; table++) {
		if (strcmp(table->key, key) == 0)
			return table;
	}
	return NULL;
}

/* pass: 0 every key, 1 env keys only, 2 all but env keys. */
static void apply(struct keyctx *k, struct sv_section *s, const struct keydef *table,
                  const char *what, int pass)
{
	for (int i = 0; i < s->npairs; i++) {
		struct sv_pair *p = &s->pairs[i];
		if (p->duplicate)
			continue; /* reported; only the first is applied */
		int is_env = strcmp(p->key, "env") == 0 || strcmp(p->key, "env_file") == 0;
		if ((pass == 1 && !is_env) || (pass == 2 && is_env))
			continue;
		const struct keydef *kd = find_key(table, p->key);
		if (!kd) {
			sv_load_error(k->ld, p->line, "unknown key %s in %s", p->key, what);
			continue;
		}
		char err[256];
		char *v = sv_expand(p->value, k->job ? job_env_lookup : NULL, k->job, err, sizeof err);
		if (!v) {
			sv_load_error(k->ld, p->line, "%s: %s", p->key, err);
			continue;
		}
		const char *why = NULL;
		k->line = p->line;
		if (kd->fn(k, v, &why) < 0)
			sv_load_error(k->ld, p->line, "%s = %s: %s", p->key, p->value, why);
		free(v);
	}
}

void sv_read_grun(struct sv_loader *ld, struct sv_section *s, struct sv_config *cfg,
                  struct sv_defaults *d)
{
	struct keyctx k = { .ld = ld, .cfg = cfg, .sup = &cfg->sups[0], .defaults = d };
	cfg->sups[0].line = s->line;
	apply(&k, s, grun_keys, "[grun]", 0);
}

void sv_read_sup(struct sv_loader *ld, struct sv_section *s, struct sv_config *cfg,
                 struct sv_sup *sp)
{
	struct sv_sup *root = &cfg->sups[0];
	sp->strategy = SV_ONE_FOR_ONE;
	sp->intensity = root->intensity;
	sp->period = root->period;
	sp->parent = 0;
	struct keyctx k = { .ld = ld, .cfg = cfg, .sup = sp };
	apply(&k, s, sup_keys, "[supervisor:]", 0);
}

void sv_read_chan(struct sv_loader *ld, struct sv_section *s, struct sv_config *cfg,
                  struct sv_chan *c)
{
	struct keyctx k = { .ld = ld, .cfg = cfg, .chan = c };
	apply(&k, s, chan_keys, "[chan:]", 0);
}

static int has_key(const struct sv_section *s, const char *key)
{
	for (int i = 0; i < s->npairs; i++)
		if (strcmp(s->pairs[i].key, key) == 0)
			return 1;
	return 0;
}

void sv_read_job(struct sv_loader *ld, struct sv_section *s, struct sv_config *cfg,
                 struct sv_job *j, const struct sv_defaults *d)
{
	j->uid = (uid_t)-1;
	j->gid = (gid_t)-1;
	j->user_gid = (gid_t)-1;
	j->umask = -1;
	j->restart = d->restart;
	/* [grun] ready = exited is for one-shot jobs: a permanent one keeps
	 * started (it is restarted whenever it exits) */
	j->ready = d->ready == SV_READY_EXITED && d->restart == SV_PERMANENT ? SV_READY_STARTED : d->ready;
	j->instances = 1;
	j->autostart = 1;
	j->stop_signal = d->stop_signal;
	j->success_status[0] = 1; /* status 0 */
	j->stop_timeout = d->stop_timeout;
	j->health_interval = SV_HEALTH_INTERVAL;
	j->health_timeout = SV_HEALTH_TIMEOUT;
	j->health_failures = SV_HEALTH_FAILURES;
	j->backoff_min = d->backoff_min;
	j->backoff_max = d->backoff_max;
	j->log_max_size = d->log_max_size;
	j->log_keep = d->log_keep;
	j->log_drop = d->log_drop;
	j->stderr_priority = d->stderr_priority;
	j->out.kind = SV_IO_LOG;
	j->err.kind = SV_IO_LOG;
	j->sup = 0;
	struct keyctx k = { .ld = ld, .cfg = cfg, .job = j };
	apply(&k, s, job_keys, "[job:]", 1);
	apply(&k, s, job_keys, "[job:]", 2);
	if (j->restart == SV_PERMANENT && j->ready == SV_READY_EXITED && d->ready == SV_READY_EXITED &&
	    !has_key(s, "ready"))
		j->ready = SV_READY_STARTED; /* the file's default, not meant for a permanent job */
	/* the user's group unless group = says otherwise; a uid with no
	 * passwd entry has no group to take: group = must say it, rather
	 * than the job keeping grun's (root's) group (grun.ini(5) user) */
	if (j->log_dir && j->out.kind != SV_IO_LOG && j->err.kind != SV_IO_LOG)
		sv_load_warning(ld, j->log_line, "log = %s: neither stdout nor stderr is log: nothing is written there",
		                j->log_dir);
	if (j->has_user && j->gid == (gid_t)-1)
		j->gid = j->user_gid;
	if (j->has_user && j->gid == (gid_t)-1)
		sv_load_error(ld, j->user_line, "user = %u has no entry in the password database to take a "
		              "group from: set group = as well", (unsigned)j->uid);

	/* fingerprint of the settings, for reload */
	uint64_t h = 1469598103934665603ULL;
	for (int i = 0; i < s->npairs; i++) {
		for (const char *p = s->pairs[i].key; *p; p++)
			h = (h ^ (unsigned char)*p) * 1099511628211ULL;
		h = (h ^ '=') * 1099511628211ULL;
		for (const char *p = s->pairs[i].value; *p; p++)
			h = (h ^ (unsigned char)*p) * 1099511628211ULL;
		h = (h ^ '\n') * 1099511628211ULL;
	}
	j->hash = h;

	if (!j->cmd) {
		/* a cmd key that was bad has been reported already */
		int written = 0;
		for (int i = 0; i < s->npairs; i++)
			written |= strcmp(s->pairs[i].key, "cmd") == 0;
		if (!written)
			sv_load_error(ld, j->line, "job %s has no cmd", j->name);
		return;
	}
	const char *why;
	if (j->shell) {
		sv_strv_push(&j->argv, sv_xstrdup("/bin/sh", "argv"));
		sv_strv_push(&j->argv, sv_xstrdup("-c", "argv"));
		sv_strv_push(&j->argv, sv_xstrdup(j->cmd, "argv"));
	} else if (sv_split_argv(j->cmd, &j->argv, &why) < 0) {
		sv_load_error(ld, j->cmd_line, "cmd = %s: %s", j->cmd, why);
	} else if (j->argv.n == 0) {
		sv_load_error(ld, j->cmd_line, "cmd = %s: no command in it", j->cmd);
	}
}
