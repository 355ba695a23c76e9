/*
 * xalloc.c - the allocation wrappers of xalloc.h.  Owns no state.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervise/xalloc.h"

static _Noreturn void out_of_memory(size_t n, const char *what)
{
	/* No stdio buffer to grow: one write, then leave without atexit
	 * handlers that could allocate. */
	char msg[256];
	int len = snprintf(msg, sizeof msg, "grun: out of memory allocating %zu bytes for %s\n", n,
	                   what);
	if (len > 0)
		(void)!write(STDERR_FILENO, msg, (size_t)len < sizeof msg ? (size_t)len : sizeof msg - 1);
	_exit(SV_EXIT_NOMEM);
}

void *sv_xmalloc(size_t n, const char *what)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		out_of_memory(n, what);
	return p;
}

void *sv_xcalloc(size_t nmemb, size_t size, const char *what)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (!p)
		out_of_memory(nmemb * size, what);
	return p;
}

void *sv_xreallocarray(void *p, size_t nmemb, size_t size, const char *what)
{
	if (size && nmemb > SIZE_MAX / size)
		out_of_memory(SIZE_MAX, what);
	size_t n = nmemb * size;
	void *q = realloc(p, n ? n : 1);
	if (!q)
		out_of_memory(n, what);
	return q;
}

char *sv_xstrdup(const char *s, const char *what)
{
	return sv_xstrndup(s, strlen(s), what);
}

char *sv_xstrndup(const char *s, size_t n, const char *what)
{
	char *p = sv_xmalloc(n + 1, what);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void sv_fatal(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(msg, sizeof msg - 1, fmt, ap);
	va_end(ap);
	if (len < 0)
		len = 0;
	if ((size_t)len > sizeof msg - 2)
		len = (int)sizeof msg - 2;
	msg[len++] = '\n';
	(void)!write(STDERR_FILENO, "grun: internal error: ", 22);
	(void)!write(STDERR_FILENO, msg, (size_t)len);
	abort();
}
