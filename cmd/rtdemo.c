/*
 * rtdemo.c - a small tour of grun's runtime (runtime/rt.h) on its own,
 * without supervise/: an example of the API to read, built by make.
 *
 * It starts three child processes, one green thread each; each reader
 * turns its child's output into lines on one channel; a printer green
 * thread prints them with the child's name, while a ticker counts time
 * in a select with a deadline.  Everything waits through the runtime:
 * pipes through libev, children through the runtime's reaper.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rt.h"

struct line {
	const char *who;
	char text[200];
};

struct child {
	const char *name;
	char *const *argv;
	int out[2];         /* pipe: child's stdout -> reader */
};

static struct rt_chan *lines;
static struct rt_wg readers;

static int child_exec(void *arg)
{
	struct child *c = arg;
	if (dup2(c->out[1], 1) < 0)
		return errno;
	execvp(c->argv[0], c->argv);
	return errno;
}

/* Run one child, send its output lines, wait for its exit. */
static void reader(void *arg)
{
	struct child *c = arg;
	struct line l = { .who = c->name };
	char buf[4096];
	size_t have = 0;
	if (pipe2(c->out, O_CLOEXEC) < 0) {
		perror("rtdemo: pipe");
		exit(1);
	}
	pid_t pid = rt_proc_start(child_exec, c);
	close(c->out[1]);
	if (pid < 0) {
		fprintf(stderr, "rtdemo: %s: %s\n", c->argv[0], strerror(errno));
		exit(1);
	}
	rt_fd_nonblock(c->out[0]);
	for (;;) {
		ssize_t n = rt_read(c->out[0], buf + have, sizeof buf - have, RT_NEVER);
		if (n <= 0)
			break;
		have += (size_t)n;
		char *nl;
		while ((nl = memchr(buf, '\n', have))) {
			size_t len = (size_t)(nl - buf);
			snprintf(l.text, sizeof l.text, "%.*s", (int)len, buf);
			rt_chan_send(lines, &l);
			memmove(buf, nl + 1, have - len - 1);
			have -= len + 1;
		}
	}
	rt_close(c->out[0]);
	int status;
	rt_proc_wait(pid, &status, RT_NEVER);
	snprintf(l.text, sizeof l.text, "[exited with status %d]",
			WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	rt_chan_send(lines, &l);
	rt_wg_done(&readers);
}

static void closer(void *arg)
{
	(void)arg;
	rt_wg_wait(&readers);
	rt_chan_close(lines);
}

static void demo(void *arg)
{
	static char *uname_argv[] = { "uname", "-sr", NULL };
	static char *seq_argv[] = { "sh", "-c", "for i in 1 2 3; do echo tick $i; sleep 0.1; done", NULL };
	static char *date_argv[] = { "date", "-u", NULL };
	static struct child kids[] = {
		{ "uname", uname_argv, { -1, -1 } },
		{ "ticker", seq_argv, { -1, -1 } },
		{ "date", date_argv, { -1, -1 } },
	};
	(void)arg;
	lines = rt_chan_make(sizeof(struct line), 4);
	rt_wg_add(&readers, 3);
	for (int i = 0; i < 3; i++)
		rt_go_named(kids[i].name, reader, &kids[i]);
	rt_go(closer, NULL);

	struct line l;
	struct rt_case cs[] = { { .chan = lines, .op = RT_RECV, .elem = &l } };
	int64_t start = rt_now(), tick = start + 100000000;
	for (;;) {
		int r = rt_select(cs, 1, tick);
		if (r < 0) {
			printf("%-8s %.1f s\n", "(timer)", (double)(rt_now() - start) / 1e9);
			tick += 100000000;
			continue;
		}
		if (!cs[0].ok)
			break;
		printf("%-8s %s\n", l.who, l.text);
	}
	rt_chan_free(lines);
	printf("rtdemo: %d Ps, all children reaped\n", rt_procs());
}

int main(void)
{
	struct rt_config cfg;
	rt_config_default(&cfg);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (rt_run(&cfg, demo, NULL) != 0) {
		perror("rtdemo: rt_run");
		return 1;
	}
	return 0;
}
