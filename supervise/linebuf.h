/*
 * linebuf.h - the inner loop of a job's output pump (pump.c): every
 * complete line of one read, each after the same head ("[<N>]STAMP name
 * | "), copied into an output buffer in one pass.  Plain functions on
 * caller-owned memory: no state, no locks, no allocation; any thread.
 */
#ifndef GRUN_SV_LINEBUF_H
#define GRUN_SV_LINEBUF_H
#include <stddef.h>

/* Bytes past what it writes that sv_lines_head() may scribble on in out,
 * and that it may read past hl in head (it copies in fixed-size blocks). */
#define SV_LINES_SLACK 96

struct sv_lines {
	size_t in;   /* bytes of input consumed: whole lines, newlines included */
	size_t out;  /* bytes written to out */
	int full;    /* it stopped for lack of room, a complete line being left */
};

/* sv_lines_head() copies the complete lines of in[0..n) to out[0..cap)
 * as head[0..hl) followed by the line and its newline, until no complete
 * line is left or the next one would not fit (with SV_LINES_SLACK bytes
 * to spare).  head must be readable for max(hl, SV_LINES_SLACK) bytes. */
struct sv_lines sv_lines_head(const char *in, size_t n, const char *head, size_t hl, char *out,
                              size_t cap);
#endif
