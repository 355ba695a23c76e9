/*
 * xalloc.h - supervise/'s allocation policy, in one place.
 *
 * grun cannot supervise without memory, and a half-built tree or a lost
 * message is worse than stopping: every allocation in supervise/ goes
 * through these wrappers, which print
 *
 *     grun: out of memory allocating N bytes for WHAT
 *
 * and exit with SV_EXIT_NOMEM (grun(1) EXIT STATUS).  Where a failure can
 * be survived (a spawn that can be retried with backoff), the caller uses
 * plain malloc and handles NULL itself, with a comment saying why.
 *
 * sv_fatal() is the same exit for a broken invariant: it names what broke
 * instead of a bare abort(), and aborts (for a core dump) rather than
 * exiting.  Any thread; async-signal-unsafe.
 */
#ifndef GRUN_SV_XALLOC_H
#define GRUN_SV_XALLOC_H
#include <stddef.h>

/* grun's exit status when it runs out of memory (sysexits' EX_OSERR). */
#define SV_EXIT_NOMEM 71

void *sv_xmalloc(size_t n, const char *what);
void *sv_xcalloc(size_t nmemb, size_t size, const char *what);
/* Grows p to nmemb * size bytes (overflow checked); p may be NULL. */
void *sv_xreallocarray(void *p, size_t nmemb, size_t size, const char *what);
char *sv_xstrdup(const char *s, const char *what);
char *sv_xstrndup(const char *s, size_t n, const char *what);

/* Prints "grun: internal error: WHAT" (printf-style) and aborts. */
_Noreturn void sv_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#endif
